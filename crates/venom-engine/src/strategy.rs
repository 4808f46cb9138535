//! Exploration strategies: which unexplored (state, action) pair runs next.

use crate::graph::ReleaseOrder;
use crate::world::CheckpointMode;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The order in which the explorer visits unexplored (state, action) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Breadth-first: shallowest states first; the first violation found has a shortest path.
    Bfs,
    /// Depth-first: the only strategy a stack-only checkpoint mechanism can serve.
    Dfs,
    /// Uniformly random pair among all unexplored ones, seeded and reproducible.
    Random,
    /// Prefer the action that has run the fewest times (never-run actions first).
    Coverage,
    /// Pick actions at random in proportion to their weights.
    Weighted,
    /// Monte Carlo tree search (UCT) over action sequences, rewarded for new states, new
    /// action coverage and violations; seeded and reproducible.
    Mcts,
}

impl Strategy {
    /// All strategies.
    pub const ALL: [Strategy; 6] = [
        Strategy::Bfs,
        Strategy::Dfs,
        Strategy::Random,
        Strategy::Coverage,
        Strategy::Weighted,
        Strategy::Mcts,
    ];

    /// The lowercase name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Bfs => "bfs",
            Strategy::Dfs => "dfs",
            Strategy::Random => "random",
            Strategy::Coverage => "coverage",
            Strategy::Weighted => "weighted",
            Strategy::Mcts => "mcts",
        }
    }

    /// Whether the strategy jumps between arbitrary states (and so needs random-access checkpoints).
    pub fn needs_random_access(self) -> bool {
        !matches!(self, Strategy::Dfs)
    }

    /// Whether this strategy can explore a world whose checkpoints work as `mode`: the one home
    /// of the rule that a stack-only world (the PostgreSQL transaction proxy) serves only DFS.
    pub fn fits(self, mode: CheckpointMode) -> bool {
        mode != CheckpointMode::StackOnly || !self.needs_random_access()
    }

    /// The order in which this strategy mostly releases its checkpoints, which lays out where
    /// the graph keeps them.
    pub(crate) fn release_order(self) -> ReleaseOrder {
        match self {
            Strategy::Bfs => ReleaseOrder::FirstIn,
            Strategy::Dfs => ReleaseOrder::LastIn,
            Strategy::Random | Strategy::Coverage | Strategy::Weighted | Strategy::Mcts => {
                ReleaseOrder::Any
            }
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Strategy::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown strategy `{s}`, expected one of bfs, dfs, random, coverage, weighted, mcts"
                )
            })
    }
}
