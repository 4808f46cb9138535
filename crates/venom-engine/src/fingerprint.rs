//! State fingerprints: a 128-bit hash of the selected context keys and the observations.

use crate::context::Context;
use crate::observation::Observation;
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

/// Identity of a state. Two states with equal fingerprints are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u128);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Fingerprints `ctx` (only `keys` when given, else every key) together with `observation`.
pub fn fingerprint(
    ctx: &Context,
    keys: Option<&[String]>,
    observation: &Observation,
) -> Fingerprint {
    let mut h = Canonical::new();
    h.add_context(ctx, keys);
    h.add_observation(observation);
    h.finish()
}

/// The values a world observes, fed one by one in name order straight into a state's
/// fingerprint (see [`crate::World::observe_into`]): they hash exactly as the same values in an
/// [`Observation`] would, without building one.
pub struct ObservationSink<'a> {
    canonical: &'a mut Canonical,
    fed: bool,
}

impl ObservationSink<'_> {
    /// Feeds the value observed under `name` (names in order, each once, as an
    /// [`Observation`] iterates them).
    pub fn value(&mut self, name: &str, value: &Value) {
        self.fed = true;
        hash_entry(self.canonical, name, Some(value));
    }

    /// Feeds an integer observed under `name`: the same as [`ObservationSink::value`] with the
    /// JSON number `n`, without building it.
    pub fn integer(&mut self, name: &str, n: i64) {
        self.fed = true;
        key(self.canonical, name);
        hash_i64(self.canonical, n);
    }
}

/// A fingerprint being built: the context's bytes first, then the observation's.
///
/// Bytes are gathered in blocks before they reach xxh3: a state is mostly a few dozen bytes in
/// many tiny pieces, hashed here in one call. The digest is the xxh3-128 of all the bytes, the
/// same as a stream of them would give.
pub(crate) struct Canonical {
    block: [u8; Canonical::BLOCK],
    len: usize,
    /// Created only when the bytes outgrow one block.
    stream: Option<Box<Xxh3>>,
}

impl Canonical {
    const BLOCK: usize = 256;

    /// Adds the bytes of `ctx` (only `keys` when given, else every key), then the separator
    /// before the observation. (In place: the block is too large to move around cheaply.)
    pub fn add_context(&mut self, ctx: &Context, keys: Option<&[String]>) {
        match keys {
            Some(keys) => {
                for key in keys {
                    hash_entry(self, key, ctx.get(key));
                }
            }
            None => {
                for (key, value) in ctx.as_map() {
                    hash_entry(self, key, Some(value));
                }
            }
        }
        self.update(&[0xFE]);
    }

    /// Adds the entries of `observation`.
    pub fn add_observation(&mut self, observation: &Observation) {
        for (key, value) in observation {
            hash_entry(self, key, Some(value));
        }
    }

    /// Lets `feed` add a world's observation through a sink; whether it fed anything.
    pub fn feed<E>(
        &mut self,
        feed: impl FnOnce(&mut ObservationSink<'_>) -> Result<bool, E>,
    ) -> Result<(bool, bool), E> {
        let mut sink = ObservationSink {
            canonical: self,
            fed: false,
        };
        let offered = feed(&mut sink)?;
        Ok((offered, sink.fed))
    }

    /// The fingerprint of every byte added.
    pub fn finish(&mut self) -> Fingerprint {
        Fingerprint(self.digest128())
    }

    /// No bytes yet.
    pub fn new() -> Self {
        Canonical {
            block: [0; Self::BLOCK],
            len: 0,
            stream: None,
        }
    }

    /// Appends `bytes`; the common case (they fit the block) is inlined at every call.
    #[inline(always)]
    fn update(&mut self, bytes: &[u8]) {
        if let Some(room) = self.block.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            self.spill(bytes);
        }
    }

    /// Appends `bytes` that do not fit the block: the block goes to the stream first.
    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        let stream = self.stream.get_or_insert_with(|| Box::new(Xxh3::new()));
        stream.update(&self.block[..self.len]);
        self.len = 0;
        if bytes.len() > Self::BLOCK {
            stream.update(bytes);
        } else {
            self.block[..bytes.len()].copy_from_slice(bytes);
            self.len = bytes.len();
        }
    }

    fn digest128(&mut self) -> u128 {
        match &mut self.stream {
            None => xxh3_128(&self.block[..self.len]),
            Some(stream) => {
                stream.update(&self.block[..self.len]);
                stream.digest128()
            }
        }
    }
}

/// The bytes of a JSON integer that fits an `i64` (one home for the sink and for values).
fn hash_i64(h: &mut Canonical, n: i64) {
    h.update(&tagged(3, n.to_le_bytes()));
}

/// The bytes of an entry's name.
fn key(h: &mut Canonical, key: &str) {
    h.update(key.as_bytes());
    h.update(&[0]);
}

fn hash_entry(h: &mut Canonical, name: &str, value: Option<&Value>) {
    key(h, name);
    match value {
        Some(v) => hash_value(h, v),
        None => h.update(&[0xFF]),
    }
}

/// A kind tag followed by eight bytes, appended in one piece (the same bytes as two pieces).
#[inline(always)]
fn tagged(tag: u8, bytes: [u8; 8]) -> [u8; 9] {
    let mut out = [tag, 0, 0, 0, 0, 0, 0, 0, 0];
    out[1..].copy_from_slice(&bytes);
    out
}

/// Hashes a JSON value canonically: object keys sorted, numbers by value and kind.
fn hash_value(h: &mut Canonical, value: &Value) {
    match value {
        Value::Null => h.update(&[1]),
        Value::Bool(b) => h.update(&[2, *b as u8]),
        Value::Number(n) => {
            // By value and kind, without formatting: 1 and 1.0 stay distinct.
            if let Some(i) = n.as_i64() {
                hash_i64(h, i);
            } else if let Some(u) = n.as_u64() {
                h.update(&tagged(7, u.to_le_bytes()));
            } else {
                let bits = n.as_f64().unwrap_or(f64::NAN).to_bits();
                h.update(&tagged(8, bits.to_le_bytes()));
            }
        }
        Value::String(s) => {
            h.update(&tagged(4, (s.len() as u64).to_le_bytes()));
            h.update(s.as_bytes());
        }
        Value::Array(items) => {
            h.update(&tagged(5, (items.len() as u64).to_le_bytes()));
            items.iter().for_each(|item| hash_value(h, item));
        }
        Value::Object(map) => {
            h.update(&tagged(6, (map.len() as u64).to_le_bytes()));
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in entries {
                hash_entry(h, k, Some(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_digest_like_one_stream_of_the_same_bytes() {
        let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
        for pieces in [1, 3, 255, 256, 257, 700] {
            for total in [0, 5, 255, 256, 257, 600, 2000] {
                let mut canonical = Canonical::new();
                let mut stream = Xxh3::new();
                for chunk in bytes[..total].chunks(pieces) {
                    canonical.update(chunk);
                    stream.update(chunk);
                }
                assert_eq!(
                    canonical.digest128(),
                    stream.digest128(),
                    "{total} bytes in pieces of {pieces}"
                );
            }
        }
    }

    #[test]
    fn only_selected_keys_count() {
        let obs = Observation::new();
        let mut a = Context::new();
        a.set("status", "paid");
        a.set("request_id", "r1");
        let mut b = a.clone();
        b.set("request_id", "r2");
        let keys = vec!["status".to_string()];
        assert_eq!(
            fingerprint(&a, Some(&keys), &obs),
            fingerprint(&b, Some(&keys), &obs)
        );
        assert_ne!(fingerprint(&a, None, &obs), fingerprint(&b, None, &obs));
    }

    #[test]
    fn absent_key_differs_from_null_and_object_key_order_is_irrelevant() {
        let obs = Observation::new();
        let keys = vec!["k".to_string()];
        let empty = Context::new();
        let mut null = Context::new();
        null.set("k", Value::Null);
        assert_ne!(
            fingerprint(&empty, Some(&keys), &obs),
            fingerprint(&null, Some(&keys), &obs)
        );

        let mut x = Context::new();
        x.set("k", json!({"a": 1, "b": [1, 2]}));
        let mut y = Context::new();
        y.set("k", json!({"b": [1, 2], "a": 1}));
        assert_eq!(fingerprint(&x, None, &obs), fingerprint(&y, None, &obs));
    }

    #[test]
    fn a_sink_hashes_its_values_as_the_same_observation() {
        let mut ctx = Context::new();
        ctx.set("order", 7);
        let observation: Observation = [
            ("a", json!(-3)),
            ("b", json!(u32::MAX)),
            ("c", json!({"x": [1, "two"]})),
        ]
        .into_iter()
        .collect();
        let mut fed = Canonical::new();
        fed.add_context(&ctx, None);
        let (offered, anything) = fed
            .feed(|sink| {
                sink.integer("a", -3);
                sink.integer("b", i64::from(u32::MAX));
                sink.value("c", &json!({"x": [1, "two"]}));
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert!(offered && anything);
        assert_eq!(fed.finish(), fingerprint(&ctx, None, &observation));
        // Out of order, the values hash differently.
        let mut swapped = Canonical::new();
        swapped.add_context(&ctx, None);
        swapped
            .feed(|sink| {
                sink.integer("b", i64::from(u32::MAX));
                sink.integer("a", -3);
                sink.value("c", &json!({"x": [1, "two"]}));
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert_ne!(swapped.finish(), fingerprint(&ctx, None, &observation));
    }

    #[test]
    fn observations_count() {
        let ctx = Context::new();
        let mut o1 = Observation::new();
        o1.insert("orders", json!(1));
        let mut o2 = Observation::new();
        o2.insert("orders", json!(2));
        assert_ne!(fingerprint(&ctx, None, &o1), fingerprint(&ctx, None, &o2));
    }
}
