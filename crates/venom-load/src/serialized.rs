//! Histograms as summaries keep them, so that the summaries of a run's segments merge exactly:
//! HdrHistogram's V2 encoding, in base64.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A histogram of microseconds, encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SerializedHistogram(String);

/// A histogram in a summary cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct HistogramError(String);

impl SerializedHistogram {
    /// `histogram` encoded; `None` when it is empty.
    pub(crate) fn of(histogram: &Histogram<u64>) -> Option<SerializedHistogram> {
        if histogram.is_empty() {
            return None;
        }
        let mut bytes = Vec::new();
        // Writing into memory fails only for histograms the encoding cannot hold; such a
        // histogram is left out rather than written wrong.
        V2Serializer::new().serialize(histogram, &mut bytes).ok()?;
        Some(SerializedHistogram(BASE64.encode(bytes)))
    }

    /// The histogram back.
    pub(crate) fn decode(&self) -> Result<Histogram<u64>, HistogramError> {
        let bytes = BASE64
            .decode(&self.0)
            .map_err(|e| HistogramError(format!("not base64: {e}")))?;
        let mut histogram: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| HistogramError(format!("{e:?}")))?;
        histogram.auto(true);
        Ok(histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_come_back_equal() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [1u64, 20, 20, 300, 4_000, 50_000, 6_000_000] {
            h.record(v).unwrap();
        }
        let back = SerializedHistogram::of(&h).unwrap().decode().unwrap();
        assert_eq!(back, h);
        assert!(SerializedHistogram::of(&Histogram::<u64>::new(3).unwrap()).is_none());
        assert!(SerializedHistogram("!!".into()).decode().is_err());
        assert!(SerializedHistogram(BASE64.encode(b"nonsense"))
            .decode()
            .is_err());
    }
}
