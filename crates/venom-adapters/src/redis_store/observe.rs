//! Content hashes of the keys matching a pattern.
//!
//! The hash covers each key's name, type and value in a canonical form — set members and hash
//! fields sorted, lists and sorted sets in their own order — so that equal contents hash equally
//! whatever history built them. (A `DUMP` payload would not do: small hashes and sets keep their
//! insertion order, and large ones their table order, which a `RESTORE` may change.) Types without
//! a canonical reading here (streams, module types) are hashed through their `DUMP` payload.

use super::{scan, BATCH};
use redis::{Cmd, Connection, RedisError, Value};
use serde_json::{json, Value as Json};
use xxhash_rust::xxh3::Xxh3;

/// `{keys, hash}` for the keys matching `pattern`: how many there are, and the xxh3-64 hash of
/// their sorted (name, type, canonical value) triples.
pub(super) fn pattern(conn: &mut Connection, pattern: &str) -> Result<Json, RedisError> {
    let keys = scan(conn, pattern)?;
    let mut hasher = Xxh3::new();
    let mut count = 0u64;
    for chunk in keys.chunks(BATCH) {
        let mut types = redis::pipe();
        for key in chunk {
            types.cmd("TYPE").arg(key);
        }
        let types: Vec<String> = types.query(conn)?;
        let mut reads = redis::pipe();
        for (key, kind) in chunk.iter().zip(&types) {
            reads.add_command(read_command(kind, key));
        }
        let values: Vec<Value> = reads.query(conn)?;
        for ((key, kind), value) in chunk.iter().zip(&types).zip(values) {
            // A key that expired or was deleted since the scan.
            if kind == "none" || value == Value::Nil {
                continue;
            }
            feed(&mut hasher, key);
            feed(&mut hasher, kind.as_bytes());
            let mut items = flatten(value);
            match kind.as_str() {
                "set" => items.sort_unstable(),
                "hash" => {
                    let mut pairs: Vec<Vec<u8>> = items
                        .chunks(2)
                        .map(|pair| {
                            let mut joined = Vec::new();
                            for part in pair {
                                joined.extend_from_slice(&(part.len() as u64).to_le_bytes());
                                joined.extend_from_slice(part);
                            }
                            joined
                        })
                        .collect();
                    pairs.sort_unstable();
                    items = pairs;
                }
                _ => {}
            }
            hasher.update(&(items.len() as u64).to_le_bytes());
            for item in &items {
                feed(&mut hasher, item);
            }
            count += 1;
        }
    }
    Ok(json!({ "keys": count, "hash": format!("{:016x}", hasher.digest()) }))
}

/// The command that reads a key of type `kind` whole.
fn read_command(kind: &str, key: &[u8]) -> Cmd {
    let mut cmd = match kind {
        "string" => redis::cmd("GET"),
        "list" => redis::cmd("LRANGE"),
        "set" => redis::cmd("SMEMBERS"),
        "zset" => redis::cmd("ZRANGE"),
        "hash" => redis::cmd("HGETALL"),
        _ => redis::cmd("DUMP"),
    };
    cmd.arg(key);
    match kind {
        "list" => {
            cmd.arg(0).arg(-1);
        }
        "zset" => {
            cmd.arg(0).arg(-1).arg("WITHSCORES");
        }
        _ => {}
    }
    cmd
}

/// A reply as a flat list of byte strings.
fn flatten(value: Value) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    collect(value, &mut out);
    out
}

fn collect(value: Value, out: &mut Vec<Vec<u8>>) {
    match value {
        Value::Nil => {}
        Value::Int(i) => out.push(i.to_string().into_bytes()),
        Value::BulkString(bytes) => out.push(bytes),
        Value::SimpleString(text) => out.push(text.into_bytes()),
        Value::Okay => out.push(b"OK".to_vec()),
        Value::Double(d) => out.push(d.to_string().into_bytes()),
        Value::Boolean(b) => out.push(vec![u8::from(b)]),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                collect(item, out);
            }
        }
        Value::Map(pairs) => {
            for (k, v) in pairs {
                collect(k, out);
                collect(v, out);
            }
        }
        other => out.push(format!("{other:?}").into_bytes()),
    }
}

/// Feeds `bytes` to `hasher`, length-prefixed so that concatenations cannot collide.
fn feed(hasher: &mut Xxh3, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_flatten_to_byte_strings() {
        let reply = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::Int(3),
            Value::Array(vec![Value::SimpleString("x".into())]),
        ]);
        assert_eq!(
            flatten(reply),
            vec![b"a".to_vec(), b"3".to_vec(), b"x".to_vec()]
        );
    }
}
