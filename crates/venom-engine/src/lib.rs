//! The venom exploration engine: contexts, actions, invariants, worlds with checkpoints,
//! the state graph and the explorer loop. It contains no network code.
//!
//! Concepts follow VenomQA: an [`Explorer`] (VenomQA's `Agent`) drives a [`World`] through
//! [`Action`]s, checks every [`Invariant`] after each step, deduplicates states by
//! [`fingerprint`](fingerprint::fingerprint) and reports each [`Violation`] with the shortest path
//! that reproduces it.
#![warn(missing_docs)]

pub mod action;
pub mod context;
pub mod exchange;
pub mod explorer;
pub mod fingerprint;
mod frontier;
mod graph;
pub mod invariant;
pub mod outcome;
pub mod replay;
pub mod severity;
pub mod strategy;
pub mod world;

pub use action::{Action, Outcome, Precondition};
pub use context::Context;
pub use exchange::{Exchange, RequestRecord, ResponseRecord};
pub use explorer::{Explorer, ExplorerConfig, StartError};
pub use invariant::{Invariant, StepView, Verdict};
pub use outcome::{Exploration, PathStep, Progress, StopReason, Violation};
pub use replay::{replay, ReplayOutcome};
pub use severity::Severity;
pub use strategy::Strategy;
pub use world::{
    one_line, CheckpointId, CheckpointMode, Mechanism, Observation, World, WorldError,
};
