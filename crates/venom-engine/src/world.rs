//! The system under test, seen through its state: checkpoints, rollback, reset and observations.

use crate::fingerprint::ObservationSink;
use crate::observation::Observation;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Opaque handle of a checkpoint taken by a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckpointId(pub u64);

/// A checkpoint that one copy of the system lends to the other copies of it (the worlds of
/// parallel workers): any of them can restore it with [`World::restore_lent`] instead of
/// replaying the path to its state. What it holds is the world's own business (a database
/// image, say); the engine only keeps it while the state it saves has pairs left to run.
#[derive(Clone)]
pub struct LentCheckpoint(Arc<dyn Any + Send + Sync>);

impl LentCheckpoint {
    /// Lends `saved`, what a world needs to restore the state elsewhere.
    pub fn new<T: Any + Send + Sync>(saved: T) -> LentCheckpoint {
        LentCheckpoint(Arc::new(saved))
    }

    /// What was lent, when it is a `T` (a world restores only what its own kind lent).
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}

impl fmt::Debug for LentCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LentCheckpoint")
    }
}

/// What a world's checkpoints can do, which decides the strategies it can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointMode {
    /// Any checkpoint can be restored at any time (e.g. database snapshots): every strategy works.
    RandomAccess,
    /// Checkpoints form a stack (e.g. SQL savepoints): only an ancestor of the current state can be
    /// restored, and restoring it discards the checkpoints taken after it. Depth-first only.
    StackOnly,
    /// The world cannot checkpoint; the explorer restores a state by [`World::reset`] followed by
    /// replaying the actions that led to it. Universal but slower.
    ResetReplay,
}

impl CheckpointMode {
    /// The weaker of two modes, for stores checkpointed together: reset + replay when either
    /// cannot checkpoint, else stack-only when either is, else random access.
    pub fn weakest(self, other: CheckpointMode) -> CheckpointMode {
        use CheckpointMode::*;
        match (self, other) {
            (ResetReplay, _) | (_, ResetReplay) => ResetReplay,
            (StackOnly, _) | (_, StackOnly) => StackOnly,
            _ => RandomAccess,
        }
    }
}

/// The rollback mechanisms venom has, by the name messages and reports give them, and what
/// their checkpoints can do. The one home of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Reset the system, then replay the path (no checkpoints).
    ResetReplay,
    /// Copies of the SQLite database file.
    SqliteSnapshots,
    /// Copies of the PostgreSQL tables that changed.
    PostgresSnapshots,
    /// Savepoints held by venom's PostgreSQL transaction proxy.
    PostgresProxy,
    /// Dumps of the Redis keys.
    RedisSnapshots,
}

impl Mechanism {
    /// The name used in messages and reports (`"sqlite snapshots"`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ResetReplay => "reset + replay",
            Mechanism::SqliteSnapshots => "sqlite snapshots",
            Mechanism::PostgresSnapshots => "postgres snapshots",
            Mechanism::PostgresProxy => "postgres transaction proxy",
            Mechanism::RedisSnapshots => "redis snapshots",
        }
    }

    /// What its checkpoints can do: savepoints form a stack, snapshots are random access.
    pub fn checkpoint_mode(self) -> CheckpointMode {
        match self {
            Mechanism::ResetReplay => CheckpointMode::ResetReplay,
            Mechanism::PostgresProxy => CheckpointMode::StackOnly,
            Mechanism::SqliteSnapshots
            | Mechanism::PostgresSnapshots
            | Mechanism::RedisSnapshots => CheckpointMode::RandomAccess,
        }
    }

    /// The names of `mechanisms` joined as messages show them (`a + b`).
    pub fn join(mechanisms: &[Mechanism]) -> String {
        let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
        names.join(" + ")
    }
}

/// A failure of the world itself (network down, database gone), which ends the run.
///
/// It says what failed in its message and keeps the error that caused it as its
/// [`source`](std::error::Error::source), so a printer can show the whole chain.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct WorldError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl WorldError {
    /// An error that says `message` and has no underlying cause.
    pub fn new(message: impl fmt::Display) -> Self {
        WorldError {
            message: message.to_string(),
            source: None,
        }
    }

    /// An error that says `message` (what failed) and keeps `source` (why).
    pub fn caused(
        message: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        WorldError {
            message: message.to_string(),
            source: Some(source.into()),
        }
    }

    /// The message followed by every cause, on one line (see [`one_line`]).
    pub fn chain(&self) -> String {
        one_line(self)
    }
}

/// `err` and every cause in its [`source`](std::error::Error::source) chain, joined with `: `,
/// for reports that keep one line per failure (a console printer shows them one per line).
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(err) = cause {
        text.push_str(": ");
        text.push_str(&err.to_string());
        cause = err.source();
    }
    text
}

/// The system under test as the explorer drives it.
///
/// Actions and invariants receive `&mut W` and talk to the system; the world itself only knows how to
/// save and restore its state.
pub trait World {
    /// Human-readable name of the rollback mechanism, used in messages (`"sqlite snapshots"`).
    fn mechanism(&self) -> String;

    /// What the checkpoints of this world can do.
    fn checkpoint_mode(&self) -> CheckpointMode;

    /// Saves the current state. Not called in [`CheckpointMode::ResetReplay`].
    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError>;

    /// Restores a state saved by [`World::checkpoint`].
    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError>;

    /// Frees a checkpoint that will not be restored again.
    fn release(&mut self, _id: CheckpointId) {}

    /// The memory the checkpoints held now take, when the world knows it (`None`: unknown,
    /// and not capped).
    fn checkpoint_bytes(&self) -> Option<u64> {
        None
    }

    /// Lends checkpoint `id` to the other copies of the system, for [`World::restore_lent`];
    /// `None` (the default) when its checkpoints can only be restored by this copy. Parallel
    /// workers then reach a state another worker saved by restoring it instead of replaying
    /// the path to it.
    fn lend(&mut self, _id: CheckpointId) -> Option<LentCheckpoint> {
        None
    }

    /// Restores, in this copy of the system, a checkpoint that another copy lent with
    /// [`World::lend`]: afterwards this copy is in the state that copy saved.
    fn restore_lent(&mut self, _lent: &LentCheckpoint) -> Result<(), WorldError> {
        Err(WorldError::new(format!(
            "the {} world cannot restore a checkpoint of another copy of the system",
            self.mechanism()
        )))
    }

    /// Restores the initial state of the system.
    fn reset(&mut self) -> Result<(), WorldError> {
        Err(WorldError::new(format!(
            "the {} world has no way to reset the system",
            self.mechanism()
        )))
    }

    /// Observes the system state that is not in the context (database content hashes, counters…).
    fn observe(&mut self) -> Result<Observation, WorldError> {
        Ok(Observation::new())
    }

    /// Feeds what [`World::observe`] returns, value by value in name order, straight into the
    /// state's fingerprint, without building an [`Observation`]: a faster path for in-memory
    /// worlds, which the explorer takes at every step (it still calls `observe` where a report
    /// shows the state). Returns `Ok(false)`, the default, to say the world does not offer it.
    ///
    /// The values fed must be those `observe` returns: the explorer checks that both give the
    /// initial state the same fingerprint, and refuses to start otherwise.
    fn observe_into(&mut self, _sink: &mut ObservationSink<'_>) -> Result<bool, WorldError> {
        Ok(false)
    }

    /// Advice for the run's report, each piece once (e.g. a setting of the system that makes
    /// every step slow): the explorer adds it to the warnings when the run ends.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weakest_mode_wins() {
        use CheckpointMode::*;
        assert_eq!(RandomAccess.weakest(RandomAccess), RandomAccess);
        assert_eq!(RandomAccess.weakest(StackOnly), StackOnly);
        assert_eq!(StackOnly.weakest(RandomAccess), StackOnly);
        assert_eq!(ResetReplay.weakest(StackOnly), ResetReplay);
    }
}
