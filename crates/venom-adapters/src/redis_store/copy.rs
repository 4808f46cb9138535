//! A copy of a Redis database in another database index of the same server, for a parallel
//! worker's server (`--workers`).

use super::{connect, dump, load};
use crate::redact_url;
use redis::Connection;
use venom_engine::WorldError;

/// A copy of a Redis database (every key, with its time to live) in an empty database index of
/// the same server; emptied (`FLUSHDB`) when this value is dropped.
pub struct RedisCopy {
    url: String,
    index: i64,
    conn: Connection,
}

impl std::fmt::Debug for RedisCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCopy")
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

impl RedisCopy {
    /// Copies the database of `url` (`redis://[:password@]host:port/db`) into the lowest
    /// database index of the same server that holds no key, is not the original's and is not
    /// in `taken` (the indices of the other copies). Fails, naming the URL without its
    /// password, when the server has no such index left (`databases` in redis.conf sets how
    /// many there are, 16 by default).
    pub fn create(url: &str, taken: &[i64]) -> Result<RedisCopy, WorldError> {
        let shown = redact_url(url);
        let original = redis::Client::open(url)
            .map_err(|e| WorldError::new(format!("invalid Redis URL {shown}: {e}")))?
            .get_connection_info()
            .redis_settings()
            .db();
        let mut source = connect(url)?;
        let failed = |what: &str, e: redis::RedisError| {
            WorldError::new(format!("cannot copy Redis database {shown}: {what}: {e}"))
        };
        let entries = dump(&mut source).map_err(|e| failed("reading its keys failed", e))?;
        let mut index = 0;
        loop {
            if index == original || taken.contains(&index) {
                index += 1;
                continue;
            }
            match redis::cmd("SELECT").arg(index).query::<()>(&mut source) {
                Ok(()) => {}
                Err(e)
                    if e.kind()
                        == redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError) =>
                {
                    return Err(WorldError::new(format!(
                        "cannot copy Redis database {shown}: no empty database index is left on \
                         its server for another worker (raise `databases` in redis.conf, or use \
                         fewer workers)"
                    )))
                }
                Err(e) => return Err(failed("SELECT failed", e)),
            }
            let keys: u64 = redis::cmd("DBSIZE")
                .query(&mut source)
                .map_err(|e| failed("DBSIZE failed", e))?;
            if keys == 0 {
                break;
            }
            index += 1;
        }
        let copy_url = url_with_index(url, index)?;
        let mut conn = connect(&copy_url)?;
        load(&mut conn, &entries).map_err(|e| failed("writing the copy failed", e))?;
        Ok(RedisCopy {
            url: copy_url,
            index,
            conn,
        })
    }

    /// The URL of the copy (with the original's password: never to be shown).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The copy's database index.
    pub fn index(&self) -> i64 {
        self.index
    }
}

impl Drop for RedisCopy {
    /// Empties the copy's database index; a failure is reported on standard error.
    fn drop(&mut self) {
        if let Err(e) = redis::cmd("FLUSHDB").query::<()>(&mut self.conn) {
            eprintln!(
                "venom: could not empty the Redis copy {}: {e}",
                redact_url(&self.url)
            );
        }
    }
}

/// `url` with database index `index` in its path.
fn url_with_index(url: &str, index: i64) -> Result<String, WorldError> {
    let refused = || {
        WorldError::new(format!(
            "cannot copy Redis database {}: a copy per worker needs a redis:// or rediss:// URL",
            redact_url(url)
        ))
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(refused)?;
    if !matches!(scheme, "redis" | "rediss") {
        return Err(refused());
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Ok(format!("{scheme}://{authority}/{index}{query}"))
}

#[cfg(test)]
mod tests {
    use super::url_with_index;

    #[test]
    fn the_index_replaces_the_path_and_keeps_the_rest() {
        let cases = [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379/3"),
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/3"),
            (
                "redis://:pw@host:1/12?protocol=resp3",
                "redis://:pw@host:1/3?protocol=resp3",
            ),
            ("rediss://host?x=1", "rediss://host/3?x=1"),
        ];
        for (url, expected) in cases {
            assert_eq!(url_with_index(url, 3).unwrap(), expected, "{url}");
        }
        assert!(url_with_index("redis+unix:///tmp/redis.sock", 3).is_err());
    }
}
