//! The venom exploration engine: contexts, actions, invariants, worlds with checkpoints,
//! the state graph and the explorer loop. It contains no network code.
//!
//! Concepts follow VenomQA: an [`Explorer`] (VenomQA's `Agent`) drives a [`World`] through
//! [`Action`]s, checks every [`Invariant`] after each step, deduplicates states by
//! [`fingerprint`] and reports each [`Violation`] with the shortest path that reproduces it.
//! Every item has one path: the crate root.
//!
//! A counter with `inc` and `double` actions and the rule "the value stays below 5", which no
//! path of three steps breaks (the most they reach is 4) and several paths of four do:
//!
//! ```
//! use venom_engine::{
//!     Action, CheckpointId, CheckpointMode, Context, Explorer, ExplorerConfig, Invariant,
//!     Outcome, Severity, Verdict, World, WorldError,
//! };
//!
//! /// The system under test: one number, its snapshots as checkpoints.
//! #[derive(Default)]
//! struct Counter {
//!     value: u32,
//!     saved: Vec<u32>,
//! }
//!
//! impl World for Counter {
//!     fn mechanism(&self) -> String {
//!         "in-memory snapshots".into()
//!     }
//!     fn checkpoint_mode(&self) -> CheckpointMode {
//!         CheckpointMode::RandomAccess
//!     }
//!     fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
//!         self.saved.push(self.value);
//!         Ok(CheckpointId(self.saved.len() as u64 - 1))
//!     }
//!     fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
//!         self.value = self.saved[id.0 as usize];
//!         Ok(())
//!     }
//! }
//!
//! /// An action that applies `f` and records the value in the context (the state's identity).
//! fn step(name: &str, f: fn(u32) -> u32) -> Action<Counter> {
//!     Action::new(name, move |world: &mut Counter, ctx: &mut Context| {
//!         world.value = f(world.value).min(9);
//!         ctx.set("value", world.value);
//!         Ok(Outcome::default())
//!     })
//! }
//!
//! let actions = vec![step("inc", |v| v + 1), step("double", |v| v * 2)];
//! let below_five = Invariant::new("below_five", Severity::High, |world: &mut Counter, _view: &_| {
//!     Ok(if world.value < 5 { Verdict::Holds } else { Verdict::broken("value >= 5") })
//! });
//! let mut explorer = Explorer::new(Counter::default(), actions, vec![below_five])
//!     .with_config(ExplorerConfig::default().max_depth(4));
//! let result = explorer.run(Context::new()).expect("a valid setup");
//!
//! let violation = &result.violations[0];
//! assert_eq!(violation.invariant, "below_five");
//! // Breadth-first: the reported path is a shortest one.
//! let path = violation.action_names();
//! assert_eq!(path.len(), 4);
//! let value = path.iter().fold(0, |v, a| if *a == "inc" { v + 1 } else { v * 2 });
//! assert!(value >= 5, "{path:?}");
//! ```
#![warn(missing_docs)]

mod action;
mod config;
mod context;
mod exchange;
mod exploration;
mod explorer;
mod fingerprint;
mod frontier;
mod graph;
mod graph_view;
mod growth;
mod identity;
mod invariant;
mod mcts;
mod observation;
mod replay;
mod severity;
mod shrink;
mod step;
mod strategy;
mod world;

pub use action::{Action, ActionFn, Outcome, Precondition};
pub use config::{ExplorerConfig, DEFAULT_MAX_CHECKPOINT_BYTES};
pub use context::Context;
pub use exchange::{Exchange, RequestRecord, ResponseRecord, SentTogether};
pub use exploration::{
    ActionCoverage, EdgeView, Exploration, GraphView, PathStep, Progress, RunLimits, Shard,
    ShardGraph, StateSnapshot, StateView, StopReason, Violation, WorkerFigures,
};
pub use explorer::{Explorer, StartError};
pub use fingerprint::{fingerprint, Fingerprint, ObservationSink};
pub use invariant::{CheckFn, Invariant, StepView, Timing, Verdict};
pub use mcts::DEFAULT_EXPLORATION as DEFAULT_MCTS_EXPLORATION;
pub use observation::{Entries as ObservationEntries, Observation, ObservationName};
pub use replay::{replay, ReplayOutcome};
pub use severity::Severity;
pub use strategy::Strategy;
pub use world::{
    one_line, CheckpointId, CheckpointMode, LentCheckpoint, Mechanism, World, WorldError,
};
