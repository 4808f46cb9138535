//! The system under test, seen through its state: checkpoints, rollback, reset and observations.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Opaque handle of a checkpoint taken by a [`World`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckpointId(pub u64);

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

/// A failure of the world itself (network down, database gone), which ends the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WorldError(pub String);

impl WorldError {
    /// Builds an error from anything printable.
    pub fn new(message: impl fmt::Display) -> Self {
        WorldError(message.to_string())
    }
}

/// Named observations of the system (row counts, table hashes, query results) that, together with
/// the selected context keys, identify a state.
pub type Observation = BTreeMap<String, Value>;

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

    /// Restores the initial state of the system.
    fn reset(&mut self) -> Result<(), WorldError> {
        Err(WorldError(format!(
            "the {} world has no way to reset the system",
            self.mechanism()
        )))
    }

    /// Observes the system state that is not in the context (database content hashes, counters…).
    fn observe(&mut self) -> Result<Observation, WorldError> {
        Ok(Observation::new())
    }
}
