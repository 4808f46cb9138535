//! venom-adapters: the mechanisms that save and restore the state of the stores behind an API
//! (its database), so that every branch of an exploration starts from the state it claims to.
//!
//! Each mechanism implements [`StateAdapter`]; the runner (crate `venom-runner`) delegates the
//! world's checkpoints, rollbacks and observations to one, or to several combined by a
//! [`CompositeAdapter`]. Each backend is a cargo feature (all on by default), so a build can
//! leave out the database clients it does not need:
//!
//! | feature    | mechanism              | client crates                           |
//! |------------|------------------------|-----------------------------------------|
//! | `sqlite`   | `SqliteSnapshots`      | rusqlite (bundled SQLite)               |
//! | `postgres` | `PgSnapshots`, `PgProxy` | postgres, postgres-protocol, tokio    |
//! | `redis`    | `RedisSnapshots`       | redis                                   |
#![warn(missing_docs)]

mod composite;
#[cfg(feature = "postgres")]
pub mod postgres;
mod redact;
#[cfg(feature = "redis")]
mod redis_store;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use composite::{CompositeAdapter, SqlObserver, SqlStateAdapter, Store};
#[cfg(feature = "postgres")]
pub use postgres::{DatabaseCopy, PgSnapshots};
pub use redact::redact_url;
#[cfg(feature = "redis")]
pub use redis_store::{RedisCopy, RedisSnapshots};
pub use sql::SqlQuery;
#[cfg(feature = "sqlite")]
pub use sqlite::{copy_sqlite_file, SqliteSnapshots};

use venom_engine::{CheckpointId, CheckpointMode, LentCheckpoint, Observation, WorldError};

/// Observes the state of a store (e.g. content hashes of tables) for the state fingerprint,
/// without changing it.
pub trait Observer: Send {
    /// Observations of the store's state that feed the state fingerprint.
    fn observe(&mut self) -> Result<Observation, WorldError>;

    /// Writes the store's current state into the folder `dir` (a file another person can load:
    /// a database copy, a dump) and returns the files written; none when the store cannot.
    fn save_to(&mut self, _dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, WorldError> {
        Ok(Vec::new())
    }
}

/// Saves and restores the state of a store used by the system under test; it also observes it.
pub trait StateAdapter: Observer {
    /// Human-readable name of the mechanism, used in messages (`"sqlite snapshots"`).
    fn mechanism(&self) -> String;

    /// What the checkpoints of this mechanism can do.
    fn checkpoint_mode(&self) -> CheckpointMode;

    /// Saves the current state of the store.
    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError>;

    /// Restores a state saved by [`StateAdapter::checkpoint`], in place, while the API keeps
    /// its own connections open.
    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError>;

    /// Frees a checkpoint that will not be restored again.
    fn release(&mut self, id: CheckpointId);

    /// Advice for the run's report, each piece once (see `World::take_warnings`).
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }

    /// The memory its checkpoints hold now, when it knows (`None`: unknown).
    fn checkpoint_bytes(&self) -> Option<u64> {
        None
    }

    /// Lends checkpoint `id` to the other copies of the store (parallel workers' copies of the
    /// database), for [`StateAdapter::restore_lent`]; `None` (the default) when only this
    /// adapter can restore it.
    fn lend(&mut self, _id: CheckpointId) -> Option<LentCheckpoint> {
        None
    }

    /// Restores, in place in this copy of the store, a checkpoint another copy lent.
    fn restore_lent(&mut self, _lent: &LentCheckpoint) -> Result<(), WorldError> {
        Err(WorldError::new(format!(
            "{} cannot restore a checkpoint of another copy of the store",
            self.mechanism()
        )))
    }
}
