//! The state graph: deduplicated states and the action-labelled edges between them.

use crate::context::Context;
use crate::exchange::Exchange;
use crate::fingerprint::Fingerprint;
use crate::world::CheckpointId;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Index of a state in the graph; the initial state is 0.
pub(crate) type StateId = usize;

/// An edge: running `action` in one state led to `to`.
pub(crate) struct Edge {
    pub action: usize,
    pub to: StateId,
    pub exchange: Option<Arc<Recorded>>,
}

/// What a step sent: its last exchange and those before it (one pointer per edge).
pub(crate) struct Recorded {
    pub last: Exchange,
    pub earlier: Vec<Exchange>,
}

/// One distinct state.
pub(crate) struct Node {
    pub fingerprint: Fingerprint,
    /// Depth along the path that discovered it.
    pub depth: u32,
    /// The state and action that discovered it (`None` for the initial state).
    pub parent: Option<(StateId, usize)>,
    /// The context on the discovering path.
    pub ctx: Context,
    /// How often each action ran on the discovering path.
    pub calls: Vec<u32>,
    /// Bit `i` set: invariant `i` is broken in this state.
    pub broken: Vec<u64>,
    pub checkpoint: Option<CheckpointId>,
    /// The worker whose world holds `checkpoint` (0 when one world explores).
    pub holder: u16,
    /// Unexplored (state, action) pairs of this state still in the frontier.
    pub pending: u32,
    pub out: Vec<Edge>,
}

/// Deduplicated states, indexed by fingerprint.
#[derive(Default)]
pub(crate) struct StateGraph {
    pub nodes: Vec<Node>,
    index: HashMap<Fingerprint, StateId, BuildHasherDefault<FingerprintHasher>>,
    edge_count: usize,
}

/// A fingerprint is already a uniform 128-bit hash: the index uses its low 64 bits as they are
/// instead of hashing it again.
#[derive(Default)]
pub(crate) struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `Fingerprint`'s `Hash` changes; stay correct, if slower.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

impl StateGraph {
    /// The state with this fingerprint, if already known.
    pub fn find(&self, fingerprint: Fingerprint) -> Option<StateId> {
        self.index.get(&fingerprint).copied()
    }

    /// Adds a new state and returns its id.
    pub fn add(&mut self, node: Node) -> StateId {
        let id = self.nodes.len();
        self.index.insert(node.fingerprint, id);
        self.nodes.push(node);
        id
    }

    /// Records that `action` in `from` leads to `to`.
    pub fn add_edge(
        &mut self,
        from: StateId,
        action: usize,
        to: StateId,
        exchange: Option<Exchange>,
        earlier: Vec<Exchange>,
    ) {
        self.nodes[from].out.push(Edge {
            action,
            to,
            exchange: exchange.map(|last| Arc::new(Recorded { last, earlier })),
        });
        self.edge_count += 1;
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// The edge taken from `from` by `action`.
    pub fn edge(&self, from: StateId, action: usize) -> Option<&Edge> {
        self.nodes[from].out.iter().find(|e| e.action == action)
    }

    /// The discovering path to `state` from its nearest ancestor (itself included) for which
    /// `start_here` holds, or from the initial state: that ancestor and the actions from it.
    pub fn path_to(
        &self,
        state: StateId,
        start_here: impl Fn(StateId, &Node) -> bool,
    ) -> (StateId, Vec<usize>) {
        let mut actions = Vec::new();
        let mut cursor = state;
        while !start_here(cursor, &self.nodes[cursor]) {
            let Some((parent, action)) = self.nodes[cursor].parent else {
                break;
            };
            actions.push(action);
            cursor = parent;
        }
        actions.reverse();
        (cursor, actions)
    }

    /// Breadth-first tree from the initial state over every known edge: for each state, the
    /// (previous state, action) of one of its shortest paths.
    pub fn shortest_tree(&self) -> ShortestTree {
        let mut prev = vec![None; self.nodes.len()];
        let mut dist = vec![u32::MAX; self.nodes.len()];
        let mut queue = VecDeque::new();
        if !self.nodes.is_empty() {
            dist[0] = 0;
            queue.push_back(0);
        }
        while let Some(s) = queue.pop_front() {
            for edge in &self.nodes[s].out {
                if dist[edge.to] == u32::MAX {
                    dist[edge.to] = dist[s] + 1;
                    prev[edge.to] = Some((s, edge.action));
                    queue.push_back(edge.to);
                }
            }
        }
        ShortestTree { prev, dist }
    }
}

/// Shortest paths from the initial state, see [`StateGraph::shortest_tree`].
pub(crate) struct ShortestTree {
    prev: Vec<Option<(StateId, usize)>>,
    dist: Vec<u32>,
}

impl ShortestTree {
    /// Length of the shortest path to `state`.
    pub fn distance(&self, state: StateId) -> u32 {
        self.dist[state]
    }

    /// The (state, action) steps of a shortest path from the initial state to `state`.
    pub fn path(&self, mut state: StateId) -> Vec<(StateId, usize)> {
        let mut steps = Vec::new();
        while let Some((from, action)) = self.prev[state] {
            steps.push((from, action));
            state = from;
        }
        steps.reverse();
        steps
    }
}
