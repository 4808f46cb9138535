//! What an exploration produced: violations with their shortest paths, coverage and figures.

use crate::context::Context;
use crate::exchange::Exchange;
use crate::observation::Observation;
use crate::severity::Severity;
use crate::strategy::Strategy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why the exploration stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum StopReason {
    /// Every reachable (state, action) pair was explored.
    Exhausted,
    /// Everything within `max_depth` was explored; states at that depth had actions left.
    DepthLimit,
    /// `max_steps` was reached.
    MaxSteps,
    /// The coverage target was reached.
    CoverageTarget,
    /// The time limit was reached.
    TimeLimit,
    /// The user interrupted the run (Ctrl-C).
    Interrupted,
    /// An invariant at or above the `fail_fast` severity broke (its name).
    FailFast(String),
    /// The world failed (API unreachable, database gone); the message says how.
    Aborted(String),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Exhausted => f.write_str("state space exhausted"),
            StopReason::DepthLimit => {
                f.write_str("depth limit reached (all states within it explored)")
            }
            StopReason::MaxSteps => f.write_str("step limit reached"),
            StopReason::CoverageTarget => f.write_str("coverage target reached"),
            StopReason::TimeLimit => f.write_str("time limit reached"),
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::FailFast(invariant) => {
                write!(f, "fail fast: `{invariant}` broken")
            }
            StopReason::Aborted(why) => write!(f, "aborted: {why}"),
        }
    }
}

/// One step of a reproduction path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathStep {
    /// The action's name.
    pub action: String,
    /// Its request and response, when captured (of an action sending several, the last).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exchange: Option<Exchange>,
    /// The requests the action sent before its last one, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub earlier: Vec<Exchange>,
}

/// The state in which an invariant was found broken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// The state's fingerprint (hex).
    pub fingerprint: String,
    /// The context in that state.
    pub context: Context,
    /// The world's observations in that state.
    pub observation: Observation,
}

/// A broken invariant with the shortest known sequence of actions that breaks it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: String,
    /// Its severity.
    pub severity: Severity,
    /// What the check said.
    pub message: String,
    /// The last action of the path, which turned the invariant from holding to broken
    /// (`None` when it is broken in the initial state).
    pub action: Option<String>,
    /// Shortest path from the initial state over the states explored.
    pub path: Vec<PathStep>,
    /// Whether no shorter sequence of actions breaks it: the exploration was breadth-first and
    /// explored everything (up to its depth limit). Otherwise the path is the shortest found.
    #[serde(default)]
    pub proved_shortest: bool,
    /// Whether replays showed that no single step of the path can be dropped (the invariant no
    /// longer breaks, or a precondition fails, without it).
    #[serde(default)]
    pub one_minimal: bool,
    /// The length of the path first found, when replays shrank it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shrunk_from: Option<usize>,
    /// The state reached.
    pub state: StateSnapshot,
    /// The invariant's own check request, when it made one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evidence: Option<Exchange>,
    /// How many transitions broke this invariant with this last action.
    pub occurrences: u64,
}

impl Violation {
    /// The path's action names.
    pub fn action_names(&self) -> Vec<&str> {
        self.path.iter().map(|s| s.action.as_str()).collect()
    }
}

/// How often one action ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionCoverage {
    /// The action.
    pub action: String,
    /// Number of executions (replays not counted).
    pub runs: u64,
    /// Why it never ran, when it did not: the precondition no explored state met, or that the
    /// run stopped before its turn.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub never_run: Option<String>,
}

/// The result of an exploration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exploration {
    /// Strategy used.
    pub strategy: Strategy,
    /// Rollback mechanism used.
    pub mechanism: String,
    /// Why it stopped.
    pub stop: StopReason,
    /// Actions executed (excluding replays to restore states).
    pub steps: u64,
    /// Distinct states found.
    pub states: usize,
    /// Distinct transitions found.
    pub transitions: usize,
    /// Deepest state reached.
    pub max_depth: u32,
    /// Fraction of actions that ran at least once.
    pub coverage: f64,
    /// Per-action run counts.
    pub actions: Vec<ActionCoverage>,
    /// Violations, most severe first, then shortest path first.
    pub violations: Vec<Violation>,
    /// Warnings (possible loops, non-deterministic resets).
    pub warnings: Vec<String>,
    /// Wall-clock duration in seconds.
    pub duration_secs: f64,
    /// For a sharded run (`--shard I/N`): which part it explored, and its states and
    /// transitions by fingerprint, so that the parts can be merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardGraph>,
    /// What each worker did, when several explored (`--workers N`); empty with one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerFigures>,
    /// The state graph as found (its first [`GraphView::MAX_STATES`] states), for pictures
    /// of it; absent from reports written before it existed, and from merged ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphView>,
    /// The limits and seed the run had; absent from reports written before they were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<RunLimits>,
}

/// The limits and seed of a run, as its report shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLimits {
    /// The seed of the random, weighted and MCTS strategies.
    pub seed: u64,
    /// The step limit, if any.
    pub max_steps: Option<u64>,
    /// The depth limit, if any.
    pub max_depth: Option<u32>,
    /// The coverage target, if any.
    pub coverage_target: Option<f64>,
    /// The time limit in seconds, if any.
    pub time_limit_secs: Option<f64>,
}

/// The state graph of a run, for pictures: states by discovery order (the initial one first),
/// each with its depth and a label, and every transition between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphView {
    /// The states, by id (their index here).
    pub states: Vec<StateView>,
    /// The transitions between them.
    pub edges: Vec<EdgeView>,
    /// States found beyond the first [`GraphView::MAX_STATES`], left out (with their
    /// transitions).
    pub omitted_states: usize,
}

impl GraphView {
    /// The most states a view holds.
    pub const MAX_STATES: usize = 10_000;
}

/// A state of a [`GraphView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateView {
    /// Its distance from the initial state in the graph found (0 for the initial state).
    pub depth: u32,
    /// What tells it apart: its context's state keys (or, without `state_from_context`, every
    /// key) with their values, as `key=value` pairs (objects and arrays as `{…}` and `[…]`).
    pub label: String,
}

/// A transition of a [`GraphView`]: `action` took state `from` to state `to` (ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeView {
    /// The source state.
    pub from: u32,
    /// The action.
    pub action: String,
    /// The target state.
    pub to: u32,
}

/// What one worker of a parallel exploration did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerFigures {
    /// The worker, from 0.
    pub worker: usize,
    /// Actions it executed (replays not counted).
    pub steps: u64,
    /// Actions it replayed to restore states it held no checkpoint of.
    pub replayed: u64,
    /// States it restored from a checkpoint another worker lent (see
    /// [`World::lend`](crate::World::lend)) instead of replaying their paths.
    #[serde(default)]
    pub borrowed: u64,
    /// Seconds it spent restoring states and running steps.
    pub busy_secs: f64,
}

/// One part of a deterministic split of an exploration: the part `index` (0-based) of `count`
/// explores the paths whose first action's index is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, `0..count`.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Shard {
    /// Whether the part explores paths that start with the action of index `action`.
    pub fn starts_with(self, action: usize) -> bool {
        action as u64 % u64::from(self.count) == u64::from(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N` with `0 <= I < N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = s.split_once('/').and_then(|(i, n)| {
            Some((i.trim().parse::<u32>().ok()?, n.trim().parse::<u32>().ok()?))
        });
        match parsed {
            Some((index, count)) if count > 0 && index < count => Ok(Shard { index, count }),
            _ => Err(format!(
                "`{s}`: expected I/N, the part I (from 0) of N parts, with I < N"
            )),
        }
    }
}

/// What a sharded run found, by fingerprint: enough to count the states and transitions of
/// several parts once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardGraph {
    /// The part explored.
    pub shard: Shard,
    /// The fingerprint of every state found.
    pub states: Vec<String>,
    /// Every transition found, as `FROM ACTION TO` (fingerprints and the action's name).
    pub transitions: Vec<String>,
}

/// Live figures, reported every `progress_every` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Steps so far.
    pub step: u64,
    /// The step limit, if any.
    pub max_steps: Option<u64>,
    /// Distinct states so far.
    pub states: usize,
    /// Action coverage so far, 0..=1.
    pub coverage: f64,
    /// Distinct violations so far.
    pub violations: usize,
    /// Steps each worker ran in the current level, when several explore (empty with one).
    pub workers: Vec<u64>,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max_steps {
            Some(max) => write!(f, "step {}/{}", self.step, max)?,
            None => write!(f, "step {}", self.step)?,
        }
        write!(
            f,
            " | states {} | coverage {:.0}% | violations {}",
            self.states,
            self.coverage * 100.0,
            self.violations
        )?;
        if self.workers.len() > 1 {
            let counts: Vec<String> = self.workers.iter().map(u64::to_string).collect();
            write!(f, " | workers {}", counts.join("/"))?;
        }
        Ok(())
    }
}
