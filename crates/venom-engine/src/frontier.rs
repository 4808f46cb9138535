//! The frontier of unexplored (state, action) pairs, ordered by the strategy.

use crate::graph::StateId;
use crate::growth::{push, reserve};
use crate::mcts::{Findings, Mcts};
use crate::strategy::Strategy;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// A (state, action) pair as the frontier stores it: 8 bytes (the graph's ids are 32-bit).
#[derive(Clone, Copy)]
pub(crate) struct Pair(u32, u32);

impl Pair {
    fn new(state: StateId, action: usize) -> Pair {
        // The graph holds fewer than 2^32 states, and actions are far fewer.
        Pair(state as u32, action as u32)
    }

    fn get(self) -> (StateId, usize) {
        (self.0 as StateId, self.1 as usize)
    }
}

/// The most actions an exploration may have: the depth-first stack keeps actions in 16 bits.
pub(crate) const MAX_ACTIONS: usize = 1 << 16;

/// The depth-first stack: one frame per state with actions left, the actions in one stack
/// beside it (two bytes each, where a pair would take eight). Only the top frame's actions are
/// ever taken, so they are always at the end.
#[derive(Default)]
pub(crate) struct DepthFirst {
    /// The state of each frame, and how many of its actions are left.
    frames: Vec<(u32, u32)>,
    /// The actions left, each frame's reversed so that its first action is taken first.
    actions: Vec<u16>,
}

impl DepthFirst {
    fn push_state(&mut self, state: StateId, enabled: &[usize]) {
        if enabled.is_empty() {
            return;
        }
        // The graph holds fewer than 2^32 states, and the explorer refuses more than
        // MAX_ACTIONS actions: an action fits 16 bits, their count 32.
        push(&mut self.frames, (state as u32, enabled.len() as u32));
        reserve(&mut self.actions, enabled.len());
        self.actions.extend(enabled.iter().rev().map(|&a| a as u16));
    }

    fn pop(&mut self) -> Option<(StateId, usize)> {
        let (state, left) = self.frames.last_mut()?;
        let state = *state as StateId;
        *left -= 1;
        if *left == 0 {
            self.frames.pop();
        }
        let action = self.actions.pop()?;
        Some((state, usize::from(action)))
    }
}

/// Unexplored pairs in the order the strategy wants them.
pub(crate) enum Frontier {
    /// Breadth-first queue.
    Fifo(VecDeque<Pair>),
    /// Depth-first stack.
    Lifo(DepthFirst),
    /// Uniform random choice.
    Pool(Vec<Pair>, ChaCha8Rng),
    /// One queue of states per action: coverage picks the least-run action, weighted draws one.
    PerAction {
        queues: Vec<VecDeque<u32>>,
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
            Strategy::Dfs => Frontier::Lifo(DepthFirst::default()),
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
            Frontier::Fifo(q) => q.extend(enabled.iter().map(|&a| Pair::new(state, a))),
            Frontier::Lifo(stack) => stack.push_state(state, enabled),
            Frontier::Pool(pool, _) => pool.extend(enabled.iter().map(|&a| Pair::new(state, a))),
            Frontier::PerAction { queues, .. } => {
                for &a in enabled {
                    queues[a].push_back(state as u32);
                }
            }
            Frontier::Mcts(mcts) => mcts.push_state(state, enabled),
        }
    }

    /// Takes every queued pair of a breadth-first frontier, in the order one explorer would
    /// pop them (the other frontiers give none).
    pub fn take_queued(&mut self) -> Vec<(StateId, usize)> {
        match self {
            Frontier::Fifo(q) => q.drain(..).map(Pair::get).collect(),
            _ => Vec::new(),
        }
    }

    /// Takes the next pair. `runs` is how often each action has run, `weights` their weights.
    pub fn pop(&mut self, runs: &[u64], weights: &[f64]) -> Option<(StateId, usize)> {
        match self {
            Frontier::Fifo(q) => q.pop_front().map(Pair::get),
            Frontier::Mcts(mcts) => mcts.pop(),
            Frontier::Lifo(stack) => stack.pop(),
            Frontier::Pool(pool, rng) => {
                if pool.is_empty() {
                    None
                } else {
                    let i = rng.random_range(0..pool.len());
                    Some(pool.swap_remove(i).get())
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
                queues[action].pop_front().map(|s| (s as StateId, action))
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
                queue.swap_remove_back(i).map(|s| (s as StateId, action))
            }
        }
    }
}
