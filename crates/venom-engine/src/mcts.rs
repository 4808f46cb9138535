//! Monte Carlo tree search over action sequences (UCT): each pick descends from the initial
//! state through explored transitions, choosing the child with the best upper confidence bound,
//! until a state with an untried action; that pair runs next, and its reward (a new state, a
//! first run of the action, a violation) is credited to every state on the way.
//!
//! The explored graph is not a tree (states are deduplicated, actions loop back): a descent
//! never enters a state twice, and when it is stuck, the first state that still has an untried
//! action is taken instead, so that every pair is explored before the search ends.

use crate::graph::StateId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// The UCT exploration constant used unless configured: √2.
pub const DEFAULT_EXPLORATION: f64 = std::f64::consts::SQRT_2;

/// What a step found, for the reward it earns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Findings {
    /// It reached a state never seen before.
    pub new_state: bool,
    /// It was the first run of its action.
    pub new_action: bool,
    /// It broke an invariant that held before it.
    pub violation: bool,
}

impl Findings {
    fn reward(self) -> f64 {
        f64::from(u8::from(self.new_state))
            + f64::from(u8::from(self.new_action))
            + 10.0 * f64::from(u8::from(self.violation))
    }
}

#[derive(Debug, Default)]
struct TreeNode {
    untried: Vec<usize>,
    /// Explored transitions: (action, target state).
    children: Vec<(usize, StateId)>,
    visits: f64,
    value: f64,
}

/// The search state of the `mcts` strategy.
#[derive(Debug)]
pub(crate) struct Mcts {
    nodes: Vec<TreeNode>,
    exploration: f64,
    rng: ChaCha8Rng,
    /// The states the last pick descended through.
    path: Vec<StateId>,
    /// How many untried pairs remain, over all states.
    open: usize,
}

impl Mcts {
    pub fn new(exploration: f64, seed: u64) -> Mcts {
        Mcts {
            nodes: Vec::new(),
            exploration,
            rng: ChaCha8Rng::seed_from_u64(seed),
            path: Vec::new(),
            open: 0,
        }
    }

    fn node(&mut self, state: StateId) -> &mut TreeNode {
        if self.nodes.len() <= state {
            self.nodes.resize_with(state + 1, TreeNode::default);
        }
        &mut self.nodes[state]
    }

    /// A newly discovered state and its enabled actions.
    pub fn push_state(&mut self, state: StateId, enabled: &[usize]) {
        self.open += enabled.len();
        self.node(state).untried.extend_from_slice(enabled);
    }

    /// The next (state, action) pair; `None` once every pair was tried.
    pub fn pop(&mut self) -> Option<(StateId, usize)> {
        if self.open == 0 {
            return None;
        }
        self.path.clear();
        let mut seen = HashSet::new();
        let mut state = 0;
        loop {
            self.path.push(state);
            seen.insert(state);
            let node = self.node(state);
            if !node.untried.is_empty() {
                return Some(self.take_untried(state));
            }
            let Some(next) = self.best_child(state, &seen) else {
                break;
            };
            state = next;
        }
        // Stuck in explored ground: the first state that still has an untried action.
        let state = self.nodes.iter().position(|n| !n.untried.is_empty())?;
        self.path.clear();
        self.path.push(state);
        Some(self.take_untried(state))
    }

    fn take_untried(&mut self, state: StateId) -> (StateId, usize) {
        let untried = &mut self.nodes[state].untried;
        let i = self.rng.random_range(0..untried.len());
        let action = untried.swap_remove(i);
        self.open -= 1;
        (state, action)
    }

    /// The child of `state` with the highest upper confidence bound, among those not on the
    /// descent yet (ties: the first).
    fn best_child(&self, state: StateId, seen: &HashSet<StateId>) -> Option<StateId> {
        let parent_visits = self.nodes[state].visits.max(1.0);
        let mut best: Option<(f64, StateId)> = None;
        for &(_, child) in &self.nodes[state].children {
            if seen.contains(&child) {
                continue;
            }
            let Some(node) = self.nodes.get(child) else {
                continue;
            };
            let score = if node.visits > 0.0 {
                node.value / node.visits
                    + self.exploration * (parent_visits.ln() / node.visits).sqrt()
            } else {
                f64::INFINITY
            };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, child));
            }
        }
        best.map(|(_, child)| child)
    }

    /// The pair the last pick returned ran from `state` with `action` and reached `target`:
    /// the transition joins the tree and its reward is credited along the descent.
    pub fn record(&mut self, state: StateId, action: usize, target: StateId, found: Findings) {
        if target != state && target < self.nodes.len() {
            self.node(state).children.push((action, target));
        }
        let reward = found.reward();
        let path = std::mem::take(&mut self.path);
        for &on_path in path.iter().chain(std::iter::once(&target)) {
            let node = self.node(on_path);
            node.visits += 1.0;
            node.value += reward;
        }
    }
}
