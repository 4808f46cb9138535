//! Checkpoints of the keyspace of one Redis database, kept in venom's memory as `DUMP` payloads
//! and restored with `RESTORE`, while the API keeps its own connections open.
//!
//! A checkpoint lists every key with `SCAN` and reads each key's serialized value (`DUMP`) and
//! remaining time to live (`PTTL`), pipelined. A rollback empties the database (`FLUSHDB`) and
//! recreates every key with `RESTORE key ttl payload REPLACE`, pipelined, so each key gets back
//! the time to live it had left when the checkpoint was taken. A checkpoint holds no reference
//! to the database it came from, so it restores into a copy of it as well: parallel workers
//! lend theirs ([`StateAdapter::lend`]), and [`RedisCopy`] gives each worker's server a
//! database of its own.

mod copy;
mod observe;

use crate::{redact_url, Observer, StateAdapter};
pub use copy::RedisCopy;
use redis::{Connection, RedisError, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use venom_engine::{
    CheckpointId, CheckpointMode, LentCheckpoint, Mechanism, Observation, WorldError,
};

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one reply may take (a pipeline of [`BATCH`] commands included).
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys per `SCAN` step, and keys per pipeline.
const BATCH: usize = 1000;

/// Checkpoints of the keyspace of the Redis database selected by a URL (`redis://host:port/db`),
/// restored in any order ([`CheckpointMode::RandomAccess`]); it also observes the keys matching
/// some patterns.
pub struct RedisSnapshots {
    /// The URL, password hidden, for messages.
    url: String,
    conn: Connection,
    patterns: Vec<String>,
    snapshots: HashMap<CheckpointId, Keyspace>,
    next_id: u64,
}

/// Every key of a database as a checkpoint saved it, shared with the workers it is lent to.
type Keyspace = Arc<Vec<Entry>>;

/// One key as a checkpoint saved it.
struct Entry {
    key: Vec<u8>,
    payload: Vec<u8>,
    /// Milliseconds left to live, `None` for a key that does not expire.
    ttl_ms: Option<u64>,
}

impl fmt::Debug for RedisSnapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSnapshots")
            .field("url", &self.url)
            .field("patterns", &self.patterns)
            .field("snapshots", &self.snapshots.len())
            .finish()
    }
}

impl RedisSnapshots {
    /// Connects to the database at `url` (`redis://[:password@]host:port/db`) and checks that it
    /// answers. `observe_patterns` are `SCAN MATCH` glob patterns (`session:*`): each becomes the
    /// observation `redis:<pattern>` → `{keys, hash}`, a content hash of the matching keys.
    pub fn open(url: &str, observe_patterns: Vec<String>) -> Result<RedisSnapshots, WorldError> {
        let mut snapshots = RedisSnapshots {
            url: redact_url(url),
            conn: connect(url)?,
            patterns: observe_patterns,
            snapshots: HashMap::new(),
            next_id: 1,
        };
        redis::cmd("PING")
            .query::<()>(&mut snapshots.conn)
            .map_err(|e| snapshots.failure("the server does not answer PING", &e))?;
        snapshots.observe()?;
        Ok(snapshots)
    }

    /// How many checkpoints are currently held (taken and not released).
    pub fn checkpoint_count(&self) -> usize {
        self.snapshots.len()
    }

    fn error(&self, what: impl fmt::Display) -> WorldError {
        WorldError::new(format!("redis database {}: {what}", self.url))
    }

    fn failure(&self, what: &str, e: &RedisError) -> WorldError {
        if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
            return self.error(format_args!(
                "{what}: the connection to Redis was lost (did the server stop or restart?): {e}"
            ));
        }
        self.error(format_args!("{what}: {e}"))
    }
}

impl StateAdapter for RedisSnapshots {
    fn mechanism(&self) -> String {
        Mechanism::RedisSnapshots.name().to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        Mechanism::RedisSnapshots.checkpoint_mode()
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let entries = dump(&mut self.conn).map_err(|e| self.failure("checkpoint failed", &e))?;
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        self.snapshots.insert(id, Arc::new(entries));
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let Some(entries) = self.snapshots.get(&id).cloned() else {
            return Err(self.error(format_args!(
                "unknown checkpoint {} (never taken, or released)",
                id.0
            )));
        };
        load(&mut self.conn, &entries)
            .map_err(|e| self.failure(&format!("rollback to checkpoint {} failed", id.0), &e))
    }

    fn release(&mut self, id: CheckpointId) {
        self.snapshots.remove(&id);
    }

    /// The keys and dumped values the snapshots hold.
    fn checkpoint_bytes(&self) -> Option<u64> {
        let bytes = self
            .snapshots
            .values()
            .flat_map(|entries| entries.iter())
            .map(|entry| (entry.key.len() + entry.payload.len()) as u64)
            .sum();
        Some(bytes)
    }

    /// The keyspace the checkpoint saved: it restores into any database.
    fn lend(&mut self, id: CheckpointId) -> Option<LentCheckpoint> {
        self.snapshots.get(&id).cloned().map(LentCheckpoint::new)
    }

    fn restore_lent(&mut self, lent: &LentCheckpoint) -> Result<(), WorldError> {
        let Some(entries) = lent.get::<Keyspace>() else {
            return Err(self.error("a checkpoint lent by another kind of store cannot be restored"));
        };
        load(&mut self.conn, entries)
            .map_err(|e| self.failure("restoring a lent checkpoint failed", &e))
    }
}

impl Observer for RedisSnapshots {
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut observation = Observation::new();
        for pattern in &self.patterns {
            let value = observe::pattern(&mut self.conn, pattern).map_err(|e| {
                self.failure(&format!("cannot observe the keys matching {pattern:?}"), &e)
            })?;
            observation.insert(format!("redis:{pattern}"), value);
        }
        Ok(observation)
    }

    /// Every key with its `DUMP` payload (hex) and its time to live, as `dir/redis.json`: what
    /// `RESTORE key ttl payload` loads back.
    fn save_to(&mut self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, WorldError> {
        let entries =
            dump(&mut self.conn).map_err(|e| self.failure("cannot dump the keyspace", &e))?;
        let keys: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let dump: String = e.payload.iter().map(|b| format!("{b:02x}")).collect();
                serde_json::json!({
                    "key": String::from_utf8_lossy(&e.key),
                    "ttl_ms": e.ttl_ms,
                    "dump_hex": dump,
                })
            })
            .collect();
        let target = dir.join("redis.json");
        let text = serde_json::to_string_pretty(&serde_json::json!({ "keys": keys }))
            .map_err(|e| WorldError::caused("cannot encode the Redis dump", e))?;
        std::fs::write(&target, text)
            .map_err(|e| WorldError::caused(format!("cannot write {}", target.display()), e))?;
        Ok(vec![target])
    }
}

/// Every key of the selected database with its `DUMP` payload and time to live.
fn dump(conn: &mut Connection) -> Result<Vec<Entry>, RedisError> {
    let keys = scan(conn, "*")?;
    let mut entries = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("DUMP").arg(key).cmd("PTTL").arg(key);
        }
        let replies: Vec<Value> = pipe.query(conn)?;
        for (key, pair) in chunk.iter().zip(replies.chunks(2)) {
            // A key that expired or was deleted since the scan has no payload (or TTL -2).
            let (Value::BulkString(payload), Value::Int(ttl)) = (&pair[0], &pair[1]) else {
                continue;
            };
            let ttl_ms = match *ttl {
                -1 => None,
                ttl if ttl < 0 => continue,
                // `RESTORE` reads a TTL of 0 as "no expiry": a key about to expire keeps 1 ms.
                ttl => Some(ttl.max(1) as u64),
            };
            entries.push(Entry {
                key: key.clone(),
                payload: payload.clone(),
                ttl_ms,
            });
        }
    }
    Ok(entries)
}

/// Empties the selected database and recreates every key of `entries`.
fn load(conn: &mut Connection, entries: &[Entry]) -> Result<(), RedisError> {
    redis::cmd("FLUSHDB").query::<()>(conn)?;
    for chunk in entries.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for entry in chunk {
            pipe.cmd("RESTORE")
                .arg(&entry.key)
                .arg(entry.ttl_ms.unwrap_or(0))
                .arg(&entry.payload)
                .arg("REPLACE")
                .ignore();
        }
        pipe.query::<()>(conn)?;
    }
    Ok(())
}

/// Connects to the database at `url`, with timeouts.
fn connect(url: &str) -> Result<Connection, WorldError> {
    let shown = redact_url(url);
    let client = redis::Client::open(url)
        .map_err(|e| WorldError::new(format!("invalid Redis URL {shown}: {e}")))?;
    client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .and_then(|conn| {
            conn.set_read_timeout(Some(IO_TIMEOUT))?;
            conn.set_write_timeout(Some(IO_TIMEOUT))?;
            Ok(conn)
        })
        .map_err(|e| {
            WorldError::new(format!(
                "cannot connect to Redis at {shown}: {e} (is the server running and reachable?)"
            ))
        })
}

/// Every key matching `pattern`, sorted, each once (`SCAN` may return a key twice).
fn scan(conn: &mut Connection, pattern: &str) -> Result<Vec<Vec<u8>>, RedisError> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(BATCH)
            .query(conn)?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    keys.sort_unstable();
    keys.dedup();
    Ok(keys)
}
