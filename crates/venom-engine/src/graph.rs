//! The state graph: deduplicated states and the action-labelled edges between them.
//!
//! # Layout
//!
//! The graph is kept compact so that millions of states fit in little memory. What every state
//! needs sits in three flat arrays (its fingerprint, 16 bytes; the state and action that
//! discovered it, 8; its depth, 4), its outgoing edges in one flat table of `u32` (one slot
//! per action), and the fingerprint index holds only state indexes (4 bytes a slot; the
//! fingerprint is read from the array). Everything else lives off the hot structure and costs
//! only where it exists: contexts are stored once per distinct value along a path (a state
//! whose context equals its parent's shares it, and a run whose context never changes keeps
//! no per-state index at all), the invariants a state breaks and the checkpoints (with the
//! count of their pairs still queued) of states still to explore sit in small maps, what a
//! step sent is kept per edge that sent something, and the per-action call counts are kept
//! only when a precondition or `max_calls` reads them.

use crate::context::Context;
use crate::exchange::Exchange;
use crate::fingerprint::Fingerprint;
use crate::step::{has_bit, set_bit};
use crate::world::CheckpointId;
use hashbrown::HashTable;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

mod held;
use crate::growth::{push, reserve};
use held::HeldCheckpoints;
pub(crate) use held::ReleaseOrder;

/// Index of a state in the graph; the initial state is 0.
pub(crate) type StateId = usize;

/// An edge slot that no step has filled yet.
const NO_EDGE: u32 = u32::MAX;
/// The parent of the initial state.
const NO_PARENT: u32 = u32::MAX;

/// What a step sent: its last exchange and those before it.
pub(crate) struct Recorded {
    pub last: Exchange,
    pub earlier: Vec<Exchange>,
}

/// A map keyed by small integer ids (state, action): one multiplication instead of SipHash.
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// Hashes the integer ids of [`IdMap`] keys (Fibonacci hashing of their bits).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = self.0.rotate_left(32) ^ u64::from(value);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than `u32`s; stay correct, if slower.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

/// A new state as the explorer hands it over.
pub(crate) struct NewState {
    pub fingerprint: Fingerprint,
    /// The state and action that discovered it (`None` for the initial state).
    pub parent: Option<(StateId, usize)>,
    /// The context on the discovering path.
    pub ctx: Context,
    /// Bit `i` set: invariant `i` is broken in this state.
    pub broken: Vec<u64>,
}

/// Deduplicated states, indexed by fingerprint.
pub(crate) struct StateGraph {
    actions: usize,
    fingerprints: Vec<Fingerprint>,
    /// The state and action that discovered each state (`NO_PARENT` for the initial state).
    links: Vec<(u32, u32)>,
    /// Depth along the discovering path.
    depths: Vec<u32>,
    /// `actions` slots per state: the state each action led to, or [`NO_EDGE`].
    edges: Vec<u32>,
    /// State ids, hashed by their fingerprint.
    index: HashTable<u32>,
    edge_count: usize,
    /// Distinct contexts; `context_of[state]` indexes it, and is empty while there is only one.
    contexts: Vec<Context>,
    context_of: Vec<u32>,
    /// Per state, how often each action ran on the discovering path (`actions` counts per
    /// state), kept only when something reads them.
    calls: Option<Vec<u32>>,
    /// The invariants broken in a state, for the states that break any.
    broken: IdMap<u32, Vec<u64>>,
    /// Live checkpoints, by state.
    checkpoints: HeldCheckpoints,
    /// What each step that sent something sent, by (state, action).
    recorded: IdMap<(u32, u32), Box<Recorded>>,
}

/// The low 64 bits of a fingerprint: already a uniform hash, used as it is.
fn hash_of(fingerprint: Fingerprint) -> u64 {
    fingerprint.0 as u64
}

fn id32(state: StateId) -> u32 {
    u32::try_from(state).expect("state ids fit in 32 bits: the graph refuses more states")
}

impl StateGraph {
    /// The most states a graph holds (ids are 32-bit, one value is reserved).
    pub const MAX_STATES: usize = (u32::MAX - 1) as usize;

    /// An empty graph over `actions` actions; `track_calls`: keep per-action call counts.
    pub fn new(actions: usize, track_calls: bool) -> StateGraph {
        Self::with_layout(actions, track_calls, ReleaseOrder::Any)
    }

    /// An empty graph as [`StateGraph::new`] makes, laid out for checkpoints released in
    /// `order` (see [`held`]).
    pub fn with_layout(actions: usize, track_calls: bool, order: ReleaseOrder) -> StateGraph {
        StateGraph {
            actions,
            fingerprints: Vec::new(),
            links: Vec::new(),
            depths: Vec::new(),
            edges: Vec::new(),
            index: HashTable::new(),
            edge_count: 0,
            contexts: Vec::new(),
            context_of: Vec::new(),
            calls: track_calls.then(Vec::new),
            broken: IdMap::default(),
            checkpoints: HeldCheckpoints::new(order),
            recorded: IdMap::default(),
        }
    }

    /// Number of states.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// The state with this fingerprint, if already known.
    pub fn find(&self, fingerprint: Fingerprint) -> Option<StateId> {
        self.index
            .find(hash_of(fingerprint), |&id| {
                self.fingerprints[id as usize] == fingerprint
            })
            .map(|&id| id as StateId)
    }

    /// Adds a new state and returns its id; `None` when the graph is full.
    pub fn add(&mut self, state: NewState) -> Option<StateId> {
        if self.len() >= Self::MAX_STATES {
            return None;
        }
        let id = self.len() as u32;
        let (parent, action, depth) = match state.parent {
            Some((parent, action)) => (id32(parent), id32(action), self.depth(parent) + 1),
            None => (NO_PARENT, 0, 0),
        };
        let context = match state.parent {
            Some((parent, _)) if self.ctx(parent) == &state.ctx => self.context_id(parent),
            _ => {
                self.contexts.push(state.ctx);
                (self.contexts.len() - 1) as u32
            }
        };
        if context != 0 && self.context_of.is_empty() {
            // The first state whose context differs: every earlier one had the initial one.
            self.context_of.resize(self.len(), 0);
        }
        if !self.context_of.is_empty() {
            self.context_of.push(context);
        }
        if let Some(calls) = &mut self.calls {
            let start = calls.len();
            match state.parent {
                Some((parent, action)) => {
                    calls.extend_from_within(parent * self.actions..(parent + 1) * self.actions);
                    calls[start + action] += 1;
                }
                None => calls.resize(start + self.actions, 0),
            }
        }
        if state.broken.iter().any(|&word| word != 0) {
            self.broken.insert(id, state.broken);
        }
        let fingerprints = &self.fingerprints;
        self.index
            .insert_unique(hash_of(state.fingerprint), id, |&other| {
                hash_of(fingerprints[other as usize])
            });
        push(&mut self.fingerprints, state.fingerprint);
        push(&mut self.links, (parent, action));
        push(&mut self.depths, depth);
        let edges = self.edges.len();
        reserve(&mut self.edges, self.actions);
        self.edges.resize(edges + self.actions, NO_EDGE);
        Some(id as StateId)
    }

    /// The fingerprint of `state`.
    pub fn fingerprint(&self, state: StateId) -> Fingerprint {
        self.fingerprints[state]
    }

    /// Depth of `state` along the path that discovered it.
    pub fn depth(&self, state: StateId) -> u32 {
        self.depths[state]
    }

    /// The deepest state's depth.
    pub fn max_depth(&self) -> u32 {
        self.depths.iter().copied().max().unwrap_or(0)
    }

    /// The state and action that discovered `state` (`None` for the initial state).
    pub fn parent(&self, state: StateId) -> Option<(StateId, usize)> {
        let (parent, action) = self.links[state];
        (parent != NO_PARENT).then_some((parent as StateId, action as usize))
    }

    /// The context on the path that discovered `state`.
    pub fn ctx(&self, state: StateId) -> &Context {
        &self.contexts[self.context_id(state) as usize]
    }

    fn context_id(&self, state: StateId) -> u32 {
        self.context_of.get(state).copied().unwrap_or(0)
    }

    /// Every state's context, in state order.
    pub fn contexts(&self) -> impl Iterator<Item = &Context> {
        (0..self.len()).map(|s| self.ctx(s))
    }

    /// How often each action ran on the path that discovered `state` (empty when no
    /// precondition reads it: every count then reads as zero).
    pub fn calls(&self, state: StateId) -> &[u32] {
        match &self.calls {
            Some(calls) => &calls[state * self.actions..(state + 1) * self.actions],
            None => &[],
        }
    }

    /// The call counts of a state that `action` would discover from `parent` (empty when
    /// the graph keeps none).
    pub fn child_calls(&self, parent: StateId, action: usize) -> Vec<u32> {
        let mut calls = self.calls(parent).to_vec();
        if let Some(count) = calls.get_mut(action) {
            *count += 1;
        }
        calls
    }

    /// The invariants broken in `state`, as bits (empty when none is).
    pub fn broken(&self, state: StateId) -> &[u64] {
        self.broken.get(&id32(state)).map_or(&[], Vec::as_slice)
    }

    /// Marks invariant `i` broken in `state`; false when it already was.
    pub fn mark_broken(&mut self, state: StateId, i: usize) -> bool {
        let bits = self.broken.entry(id32(state)).or_default();
        let newly = !has_bit(bits, i);
        set_bit(bits, i);
        newly
    }

    /// The checkpoint of `state` and the worker whose world holds it.
    pub fn checkpoint(&self, state: StateId) -> Option<(CheckpointId, u16)> {
        self.checkpoints.get(id32(state))
    }

    /// Gives `state` a checkpoint held by worker `holder`.
    pub fn set_checkpoint(&mut self, state: StateId, checkpoint: CheckpointId, holder: u16) {
        self.checkpoints.insert(id32(state), checkpoint, holder);
    }

    /// Takes every checkpoint away (to release them).
    pub fn take_checkpoints(&mut self) -> Vec<(CheckpointId, u16)> {
        self.checkpoints.drain()
    }

    /// Sets the number of pairs of `state` queued in the frontier (counted for a state with a
    /// checkpoint, the only kind for which it matters: when none is left, it is released).
    pub fn set_pending(&mut self, state: StateId, pairs: usize) {
        if let Some(pending) = self.checkpoints.pending_mut(id32(state)) {
            *pending = pairs as u32;
        }
    }

    /// Counts one pair of `state` taken from the frontier; returns its checkpoint, taken away,
    /// when that was the last.
    pub fn take_pending(&mut self, state: StateId) -> Option<(CheckpointId, u16)> {
        let pending = self.checkpoints.pending_mut(id32(state))?;
        *pending = pending.saturating_sub(1);
        match *pending {
            0 => self.checkpoints.remove(id32(state)),
            _ => None,
        }
    }

    /// Records that `action` in `from` leads to `to`, and what the step sent.
    pub fn add_edge(
        &mut self,
        from: StateId,
        action: usize,
        to: StateId,
        sent: Option<Box<Recorded>>,
    ) {
        self.edges[from * self.actions + action] = id32(to);
        if let Some(sent) = sent {
            self.recorded.insert((id32(from), id32(action)), sent);
        }
        self.edge_count += 1;
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.edge_count
    }

    /// The state `action` led to from `from`, once it ran there.
    fn target(&self, from: StateId, action: usize) -> Option<StateId> {
        let to = self.edges[from * self.actions + action];
        (to != NO_EDGE).then_some(to as StateId)
    }

    /// The edges out of `from`, in action order: (action, state reached).
    pub fn out(&self, from: StateId) -> impl Iterator<Item = (usize, StateId)> + '_ {
        (0..self.actions).filter_map(move |a| self.target(from, a).map(|to| (a, to)))
    }

    /// What the step of `action` from `from` sent, if it sent something.
    pub fn recorded(&self, from: StateId, action: usize) -> Option<&Recorded> {
        self.recorded
            .get(&(id32(from), id32(action)))
            .map(|sent| &**sent)
    }

    /// The discovering path to `state` from its nearest ancestor (itself included) for which
    /// `start_here` holds, or from the initial state: that ancestor and the actions from it.
    pub fn path_to(
        &self,
        state: StateId,
        start_here: impl Fn(StateId) -> bool,
    ) -> (StateId, Vec<usize>) {
        let mut actions = Vec::new();
        let mut cursor = state;
        while !start_here(cursor) {
            let Some((parent, action)) = self.parent(cursor) else {
                break;
            };
            actions.push(action);
            cursor = parent;
        }
        actions.reverse();
        (cursor, actions)
    }

    /// For each state, the (previous state, action) of one of its shortest paths from the
    /// initial state. `discovery_is_shortest`: the states were discovered breadth-first, so the
    /// discovering paths are shortest and are used as they are; otherwise a breadth-first
    /// search over every known edge finds them.
    pub fn shortest_tree(&self, discovery_is_shortest: bool) -> ShortestTree<'_> {
        if discovery_is_shortest {
            return ShortestTree::Discovery(self);
        }
        let mut prev = vec![(NO_PARENT, 0u32); self.len()];
        let mut dist = vec![u32::MAX; self.len()];
        let mut queue = VecDeque::new();
        if self.len() > 0 {
            dist[0] = 0;
            queue.push_back(0);
        }
        while let Some(s) = queue.pop_front() {
            for (action, to) in self.out(s) {
                if dist[to] == u32::MAX {
                    dist[to] = dist[s] + 1;
                    prev[to] = (s as u32, action as u32);
                    queue.push_back(to);
                }
            }
        }
        ShortestTree::Searched { prev, dist }
    }
}

/// Shortest paths from the initial state, see [`StateGraph::shortest_tree`].
pub(crate) enum ShortestTree<'a> {
    /// The discovering paths of a breadth-first exploration.
    Discovery(&'a StateGraph),
    /// A breadth-first search over the edges: previous (state, action) and distance.
    Searched {
        prev: Vec<(u32, u32)>,
        dist: Vec<u32>,
    },
}

impl ShortestTree<'_> {
    /// Length of the shortest path to `state`.
    pub fn distance(&self, state: StateId) -> u32 {
        match self {
            ShortestTree::Discovery(graph) => graph.depth(state),
            ShortestTree::Searched { dist, .. } => dist[state],
        }
    }

    /// The step into `state` on its shortest path.
    fn previous(&self, state: StateId) -> Option<(StateId, usize)> {
        match self {
            ShortestTree::Discovery(graph) => graph.parent(state),
            ShortestTree::Searched { prev, .. } => {
                let (from, action) = prev[state];
                (from != NO_PARENT).then_some((from as StateId, action as usize))
            }
        }
    }

    /// The (state, action) steps of a shortest path from the initial state to `state`.
    pub fn path(&self, mut state: StateId) -> Vec<(StateId, usize)> {
        let mut steps = Vec::new();
        while let Some((from, action)) = self.previous(state) {
            steps.push((from, action));
            state = from;
        }
        steps.reverse();
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::{NewState, StateGraph};
    use crate::context::Context;
    use crate::fingerprint::Fingerprint;
    use crate::world::CheckpointId;

    fn state(fp: u128, parent: Option<(usize, usize)>, ctx: &Context) -> NewState {
        NewState {
            fingerprint: Fingerprint(fp),
            parent,
            ctx: ctx.clone(),
            broken: Vec::new(),
        }
    }

    #[test]
    fn contexts_are_shared_along_paths_and_indexed_once_they_differ() {
        let mut graph = StateGraph::new(2, true);
        let empty = Context::new();
        let mut one = Context::new();
        one.set("order_id", 1);
        assert_eq!(graph.add(state(10, None, &empty)), Some(0));
        assert_eq!(graph.add(state(11, Some((0, 0)), &empty)), Some(1));
        assert!(
            graph.context_of.is_empty(),
            "one context: no per-state index"
        );
        assert_eq!(graph.add(state(12, Some((1, 1)), &one)), Some(2));
        assert_eq!(graph.add(state(13, Some((2, 0)), &one)), Some(3));
        assert_eq!(
            graph.contexts.len(),
            2,
            "state 3 shares its parent's context"
        );
        let contexts: Vec<&Context> = graph.contexts().collect();
        assert_eq!(contexts, [&empty, &empty, &one, &one]);
        assert_eq!(graph.find(Fingerprint(12)), Some(2));
        assert_eq!(graph.find(Fingerprint(99)), None);
        assert_eq!(graph.depth(3), 3);
        assert_eq!(
            graph.calls(3),
            [2, 1],
            "two runs of action 0, one of action 1"
        );
        assert_eq!(graph.path_to(3, |_| false), (0, vec![0, 1, 0]));
    }

    #[test]
    fn a_checkpoint_is_handed_back_when_the_last_pair_of_its_state_is_taken() {
        let mut graph = StateGraph::new(3, false);
        graph.add(state(1, None, &Context::new()));
        graph.set_checkpoint(0, CheckpointId(7), 2);
        graph.set_pending(0, 2);
        assert_eq!(graph.take_pending(0), None);
        assert_eq!(graph.take_pending(0), Some((CheckpointId(7), 2)));
        assert_eq!(graph.checkpoint(0), None);
        assert!(
            graph.calls(0).is_empty(),
            "no counts kept when nothing reads them"
        );
        assert!(graph.mark_broken(0, 70) && !graph.mark_broken(0, 70));
        assert_eq!(graph.broken(0), [0, 1 << 6]);
    }
}
