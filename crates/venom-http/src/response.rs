//! Reading responses into records, and the `last` value expressions see.

use serde_json::{json, Map, Value};
use std::time::Instant;
use venom_engine::ResponseRecord;

/// Reads `response`, keeping at most `max_body` bytes of its body (the rest is not read, and
/// the connection is dropped); `started` is when the request was sent. Time to first byte is
/// taken when this is called (the headers have arrived), the total once the body is read.
pub(crate) async fn read_response(
    mut response: reqwest::Response,
    started: Instant,
    max_body: usize,
) -> Result<ResponseRecord, reqwest::Error> {
    let ttfb_ms = millis(started);
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let mut kept = CappedBody::new(max_body);
    while let Some(chunk) = response.chunk().await? {
        if !kept.push(&chunk) {
            break;
        }
    }
    let truncated = kept.truncated();
    Ok(ResponseRecord {
        status,
        headers,
        body: kept.into_value(),
        ttfb_ms,
        elapsed_ms: millis(started),
        truncated,
    })
}

/// A response's headers as (name, value) text pairs, in the order received.
pub(crate) fn header_pairs(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The beginning of a response body, at most a given number of bytes of it.
#[derive(Debug)]
pub struct CappedBody {
    bytes: Vec<u8>,
    max: usize,
    truncated: bool,
}

impl CappedBody {
    /// An empty body that keeps at most `max` bytes.
    pub fn new(max: usize) -> CappedBody {
        CappedBody {
            bytes: Vec::new(),
            max,
            truncated: false,
        }
    }

    /// Keeps what fits of `chunk`; `false` once the body is longer than the cap (stop reading).
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.max - self.bytes.len();
        if chunk.len() > room {
            self.bytes.extend_from_slice(&chunk[..room]);
            self.truncated = true;
            return false;
        }
        self.bytes.extend_from_slice(chunk);
        true
    }

    /// Whether the body was longer than the cap.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The body as [`body_value`] reads it; the beginning of a longer body is no JSON
    /// document, so it is kept as text.
    pub fn into_value(self) -> Value {
        if self.truncated {
            Value::String(String::from_utf8_lossy(&self.bytes).into_owned())
        } else {
            body_value(&self.bytes)
        }
    }
}

fn millis(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// A body as JSON: parsed when it is JSON, the text as a string otherwise, `null` when empty.
pub fn body_value(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The value expressions see as `last`: `{status, body, headers, elapsed_ms}`, header names in
/// lower case (a repeated header keeps its last value).
pub fn last_value(response: &ResponseRecord) -> Value {
    let headers: Map<String, Value> = response
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::String(value.clone())))
        .collect();
    json!({
        "status": response.status,
        "body": response.body,
        "headers": headers,
        "elapsed_ms": response.elapsed_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_become_json_text_or_null() {
        assert_eq!(body_value(b""), Value::Null);
        assert_eq!(body_value(b" \n"), Value::Null);
        assert_eq!(body_value(br#"{"id": 3}"#), json!({"id": 3}));
        assert_eq!(body_value(b"not json"), json!("not json"));
    }

    #[test]
    fn last_exposes_status_body_and_lowercase_headers() {
        let response = ResponseRecord {
            status: 201,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({"id": 1}),
            ttfb_ms: 1.0,
            elapsed_ms: 2.5,
            truncated: false,
        };
        let last = last_value(&response);
        assert_eq!(last["status"], 201);
        assert_eq!(last["body"]["id"], 1);
        assert_eq!(last["headers"]["content-type"], "application/json");
        assert_eq!(last["elapsed_ms"], 2.5);
    }
}
