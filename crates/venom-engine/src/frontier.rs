//! The frontier of unexplored (state, action) pairs, ordered by the strategy.

use crate::graph::StateId;
use crate::mcts::{Findings, Mcts};
use crate::strategy::Strategy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// Unexplored pairs in the order the strategy wants them.
pub(crate) enum Frontier {
    /// Breadth-first queue.
    Fifo(VecDeque<(StateId, usize)>),
    /// Depth-first stack.
    Lifo(Vec<(StateId, usize)>),
    /// Uniform random choice.
    Pool(Vec<(StateId, usize)>, ChaCha8Rng),
    /// One queue of states per action: coverage picks the least-run action, weighted draws one.
    PerAction {
        queues: Vec<VecDeque<StateId>>,
        weighted: bool,
        rng: ChaCha8Rng,
    },
    /// Monte Carlo tree search (UCT), fed what each step found.
    Mcts(Mcts),
}

impl Frontier {
    /// An empty frontier for `strategy` over `actions` actions (`exploration`: the MCTS
    /// constant).
    pub fn new(strategy: Strategy, actions: usize, seed: u64, exploration: f64) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(seed);
        match strategy {
            Strategy::Bfs => Frontier::Fifo(VecDeque::new()),
            Strategy::Dfs => Frontier::Lifo(Vec::new()),
            Strategy::Random => Frontier::Pool(Vec::new(), rng),
            Strategy::Coverage | Strategy::Weighted => Frontier::PerAction {
                queues: vec![VecDeque::new(); actions],
                weighted: strategy == Strategy::Weighted,
                rng,
            },
            Strategy::Mcts => Frontier::Mcts(Mcts::new(exploration, seed)),
        }
    }

    /// What the step of the pair popped last found (only MCTS learns from it).
    pub fn record(&mut self, state: StateId, action: usize, target: StateId, found: Findings) {
        if let Frontier::Mcts(mcts) = self {
            mcts.record(state, action, target, found);
        }
    }

    /// Adds the enabled actions of a newly discovered state (in action order).
    pub fn push_state(&mut self, state: StateId, enabled: &[usize]) {
        match self {
            Frontier::Fifo(q) => q.extend(enabled.iter().map(|&a| (state, a))),
            // Reversed so that the first action is explored first.
            Frontier::Lifo(stack) => stack.extend(enabled.iter().rev().map(|&a| (state, a))),
            Frontier::Pool(pool, _) => pool.extend(enabled.iter().map(|&a| (state, a))),
            Frontier::PerAction { queues, .. } => {
                for &a in enabled {
                    queues[a].push_back(state);
                }
            }
            Frontier::Mcts(mcts) => mcts.push_state(state, enabled),
        }
    }

    /// Takes every queued pair of a breadth-first frontier, in order (the others give none):
    /// the next level, since a level's pairs are all queued before the next level's.
    pub fn take_level(&mut self) -> Vec<(StateId, usize)> {
        match self {
            Frontier::Fifo(q) => q.drain(..).collect(),
            _ => Vec::new(),
        }
    }

    /// Takes the next pair. `runs` is how often each action has run, `weights` their weights.
    pub fn pop(&mut self, runs: &[u64], weights: &[f64]) -> Option<(StateId, usize)> {
        match self {
            Frontier::Fifo(q) => q.pop_front(),
            Frontier::Mcts(mcts) => mcts.pop(),
            Frontier::Lifo(stack) => stack.pop(),
            Frontier::Pool(pool, rng) => {
                if pool.is_empty() {
                    None
                } else {
                    let i = rng.random_range(0..pool.len());
                    Some(pool.swap_remove(i))
                }
            }
            Frontier::PerAction {
                queues,
                weighted: false,
                ..
            } => {
                let action = (0..queues.len())
                    .filter(|&a| !queues[a].is_empty())
                    .min_by_key(|&a| runs[a])?;
                queues[action].pop_front().map(|s| (s, action))
            }
            Frontier::PerAction {
                queues,
                weighted: true,
                rng,
            } => {
                let total: f64 = (0..queues.len())
                    .filter(|&a| !queues[a].is_empty())
                    .map(|a| weights[a])
                    .sum();
                if total <= 0.0 {
                    return None;
                }
                let mut point = rng.random_range(0.0..total);
                let mut chosen = None;
                for (a, queue) in queues.iter().enumerate() {
                    if queue.is_empty() {
                        continue;
                    }
                    chosen = Some(a);
                    if point < weights[a] {
                        break;
                    }
                    point -= weights[a];
                }
                let action = chosen?;
                let queue = &mut queues[action];
                let i = rng.random_range(0..queue.len());
                queue.swap_remove_back(i).map(|s| (s, action))
            }
        }
    }
}
