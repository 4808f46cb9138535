//! The limits and choices of one exploration.

use crate::severity::Severity;
use crate::strategy::Strategy;
use std::time::Duration;

/// Limits and choices of one exploration, built with methods:
///
/// ```
/// use venom_engine::{ExplorerConfig, Strategy};
///
/// let config = ExplorerConfig::default().strategy(Strategy::Dfs).max_steps(500).seed(7);
/// assert_eq!(config.strategy, Strategy::Dfs);
/// assert_eq!(config.max_steps, Some(500));
/// ```
///
/// How a run is driven from outside (interrupt, progress) is set on the
/// [`Explorer`](crate::Explorer) instead.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExplorerConfig {
    /// Order of exploration (default BFS).
    pub strategy: Strategy,
    /// Stop after this many actions.
    pub max_steps: Option<u64>,
    /// Do not expand states deeper than this.
    pub max_depth: Option<u32>,
    /// Stop once this fraction of actions (0..=1) has run.
    pub coverage_target: Option<f64>,
    /// Stop after this much wall-clock time.
    pub time_limit: Option<Duration>,
    /// Seed of the random and weighted strategies.
    pub seed: u64,
    /// Warn when an action leaves the state unchanged from this many states (default 3).
    pub loop_threshold: u32,
    /// Context keys that identify a state; `None` means every key.
    pub state_keys: Option<Vec<String>>,
    /// The most memory checkpoints may hold (default [`DEFAULT_MAX_CHECKPOINT_BYTES`]), for
    /// worlds that say how much they hold ([`crate::World::checkpoint_bytes`]). Past it, new
    /// states keep no checkpoint and are restored by reset + replay.
    pub max_checkpoint_bytes: Option<u64>,
    /// Stop at the first violation of an invariant this severe or more (`None`: never).
    pub fail_fast: Option<Severity>,
    /// The UCT exploration constant of the `mcts` strategy (default √2): higher tries more
    /// unvisited branches, lower follows the rewarding ones.
    pub mcts_exploration: f64,
    /// Explore only this part of a deterministic split (`None`: everything).
    pub shard: Option<crate::exploration::Shard>,
}

/// The memory checkpoints may hold unless configured otherwise: 1 GiB.
pub const DEFAULT_MAX_CHECKPOINT_BYTES: u64 = 1 << 30;

impl Default for ExplorerConfig {
    fn default() -> Self {
        ExplorerConfig {
            strategy: Strategy::Bfs,
            max_steps: None,
            max_depth: None,
            coverage_target: None,
            time_limit: None,
            seed: 0,
            loop_threshold: 3,
            state_keys: None,
            max_checkpoint_bytes: Some(DEFAULT_MAX_CHECKPOINT_BYTES),
            fail_fast: None,
            mcts_exploration: crate::mcts::DEFAULT_EXPLORATION,
            shard: None,
        }
    }
}

impl ExplorerConfig {
    /// Whether a state at `depth` has its actions explored (`max_depth` allows it).
    pub(crate) fn expands_at(&self, depth: u32) -> bool {
        self.max_depth.is_none_or(|max| depth < max)
    }

    /// Stops at the first violation at or above `severity` (`None`: explore on).
    pub fn fail_fast(mut self, severity: impl Into<Option<Severity>>) -> Self {
        self.fail_fast = severity.into();
        self
    }

    /// Explores only the part `shard` of the split.
    pub fn shard(mut self, shard: Option<crate::exploration::Shard>) -> Self {
        self.shard = shard;
        self
    }

    /// The UCT exploration constant of the `mcts` strategy.
    pub fn mcts_exploration(mut self, constant: f64) -> Self {
        self.mcts_exploration = constant;
        self
    }

    /// Explores in this order.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Stops after `max` actions (`None`: no step limit).
    pub fn max_steps(mut self, max: impl Into<Option<u64>>) -> Self {
        self.max_steps = max.into();
        self
    }

    /// Expands no state deeper than `max` (`None`: no depth limit).
    pub fn max_depth(mut self, max: impl Into<Option<u32>>) -> Self {
        self.max_depth = max.into();
        self
    }

    /// Stops once this fraction of the actions has run (`None`: no target).
    pub fn coverage_target(mut self, fraction: impl Into<Option<f64>>) -> Self {
        self.coverage_target = fraction.into();
        self
    }

    /// Stops after this much wall-clock time (`None`: no time limit).
    pub fn time_limit(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.time_limit = limit.into();
        self
    }

    /// Seeds the random and weighted strategies.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Warns when an action leaves the state unchanged from this many states.
    pub fn loop_threshold(mut self, states: u32) -> Self {
        self.loop_threshold = states;
        self
    }

    /// Caps the memory checkpoints hold (`None`: no cap).
    pub fn max_checkpoint_bytes(mut self, max: impl Into<Option<u64>>) -> Self {
        self.max_checkpoint_bytes = max.into();
        self
    }

    /// Identifies states by these context keys (`None`: every key).
    pub fn state_keys(mut self, keys: impl Into<Option<Vec<String>>>) -> Self {
        self.state_keys = keys.into();
        self
    }
}
