//! The job market of a parallel exploration: the pairs offered so far, grouped by state, and who
//! takes which.

use crate::graph::{StateGraph, StateId};
use crate::world::CheckpointMode;
use std::collections::{HashMap, VecDeque};

/// A pair handed to a worker.
pub(super) struct Taken {
    /// Its position in the order one breadth-first explorer runs the pairs.
    pub index: usize,
    pub state: StateId,
    pub action: usize,
    /// Whether more pairs of its state are queued for the same worker.
    pub more: bool,
}

/// The pairs of one state still to take, as (position, action).
struct Group {
    state: StateId,
    pairs: VecDeque<(usize, usize)>,
}

/// The pairs offered and not yet taken, grouped by state, and the queues of groups per worker.
pub(super) struct Market {
    /// The groups with pairs left, by id (a group taken empty is removed).
    groups: HashMap<u64, Group>,
    next_group: u64,
    /// The position the next pair offered gets.
    offered: usize,
    /// For each worker, the groups of the states its world holds a checkpoint of, and those it
    /// took.
    own: Vec<VecDeque<u64>>,
    /// The groups of states no worker holds a checkpoint of.
    anyone: VecDeque<u64>,
    /// Set when no pair will be handed out any more (the run ends).
    pub closed: bool,
}

impl Market {
    /// An empty market for `workers` workers.
    pub fn new(workers: usize) -> Market {
        Market {
            groups: HashMap::new(),
            next_group: 0,
            offered: 0,
            own: vec![VecDeque::new(); workers],
            anyone: VecDeque::new(),
            closed: false,
        }
    }

    /// How many pairs were offered so far.
    pub fn offered(&self) -> usize {
        self.offered
    }

    /// Offers `pairs`, in order, after those offered before: a state's pairs go to the worker
    /// whose world holds its checkpoint, or to anyone.
    pub fn offer(
        &mut self,
        graph: &StateGraph,
        pairs: impl IntoIterator<Item = (StateId, usize)>,
        mode: CheckpointMode,
    ) {
        let mut current: Option<u64> = None;
        for (state, action) in pairs {
            let index = self.offered;
            self.offered += 1;
            if let Some(group) = current.and_then(|id| self.groups.get_mut(&id)) {
                if group.state == state {
                    group.pairs.push_back((index, action));
                    continue;
                }
            }
            let holder = match (mode, graph.checkpoint(state)) {
                (CheckpointMode::RandomAccess, Some((_, holder))) if state != 0 => Some(holder),
                _ => None,
            };
            let id = self.add_group(state, VecDeque::from([(index, action)]));
            match holder {
                Some(holder) => self.own[usize::from(holder)].push_back(id),
                None => self.anyone.push_back(id),
            }
            current = Some(id);
        }
    }

    fn add_group(&mut self, state: StateId, pairs: VecDeque<(usize, usize)>) -> u64 {
        let id = self.next_group;
        self.next_group += 1;
        self.groups.insert(id, Group { state, pairs });
        id
    }

    /// The pairs of group `id` left (0 for a group taken empty).
    fn left(&self, id: u64) -> usize {
        self.groups.get(&id).map_or(0, |g| g.pairs.len())
    }

    /// The next pair for `worker`: of the states it has queued (those it holds a checkpoint
    /// of, and those it took) first; else it takes a whole group nobody holds, else the last
    /// untouched group of the worker with the most pairs queued, else the back half of the
    /// largest group left: a worker that has to restore a state it holds no checkpoint of then
    /// runs several of its pairs from there.
    pub fn take(&mut self, worker: usize) -> Option<Taken> {
        loop {
            if let Some(&id) = self.own[worker].front() {
                let Some(group) = self.groups.get_mut(&id) else {
                    self.own[worker].pop_front();
                    continue;
                };
                match group.pairs.pop_front() {
                    Some((index, action)) => {
                        let state = group.state;
                        let more = !group.pairs.is_empty();
                        if !more {
                            self.groups.remove(&id);
                            self.own[worker].pop_front();
                        }
                        return Some(Taken {
                            index,
                            state,
                            action,
                            more,
                        });
                    }
                    None => {
                        self.groups.remove(&id);
                        self.own[worker].pop_front();
                        continue;
                    }
                }
            }
            let id = self
                .anyone
                .pop_front()
                .or_else(|| self.steal_group(worker))
                .or_else(|| self.split_largest())?;
            self.own[worker].push_back(id);
        }
    }

    /// The last group, not yet started, of the worker with the most pairs queued after the
    /// group it is on.
    fn steal_group(&mut self, thief: usize) -> Option<u64> {
        let waiting = |market: &Market, w: usize| -> usize {
            let queue = &market.own[w];
            queue.iter().skip(1).map(|&id| market.left(id)).sum()
        };
        let victim = (0..self.own.len())
            .filter(|&w| w != thief && self.own[w].len() > 1)
            .max_by_key(|&w| waiting(self, w))?;
        if waiting(self, victim) == 0 {
            return None;
        }
        self.own[victim].pop_back()
    }

    /// A new group of the back half of the largest group (its last pair when it has one).
    fn split_largest(&mut self) -> Option<u64> {
        let (&largest, group) = self.groups.iter_mut().max_by_key(|(_, g)| g.pairs.len())?;
        let left = group.pairs.len();
        if left == 0 {
            return None;
        }
        let half = group.pairs.split_off(left - left.div_ceil(2));
        let state = group.state;
        if self.left(largest) == 0 {
            self.groups.remove(&largest);
        }
        Some(self.add_group(state, half))
    }
}

#[cfg(test)]
mod tests {
    use super::Market;
    use std::collections::VecDeque;

    /// A market of `groups` (pair positions per state, state `i` for group `i`), queued for
    /// their owners (`None`: nobody holds the state).
    fn market(groups: &[(&[usize], Option<usize>)], workers: usize) -> Market {
        let mut market = Market::new(workers);
        for (state, &(pairs, owner)) in groups.iter().enumerate() {
            let pairs: VecDeque<(usize, usize)> = pairs.iter().map(|&i| (i, 0)).collect();
            let id = market.add_group(state, pairs);
            match owner {
                Some(w) => market.own[w].push_back(id),
                None => market.anyone.push_back(id),
            }
        }
        market
    }

    /// The next `most` pairs `worker` takes (fewer when the market runs out), as (pair, more
    /// of its state).
    fn drain(market: &mut Market, worker: usize, most: usize) -> Vec<(usize, bool)> {
        std::iter::from_fn(|| market.take(worker))
            .take(most)
            .map(|t| (t.index, t.more))
            .collect()
    }

    #[test]
    fn a_worker_runs_its_own_states_then_takes_unheld_states_whole() {
        let mut m = market(&[(&[0, 1], Some(0)), (&[2, 3, 4], None)], 2);
        let taken = drain(&mut m, 0, 10);
        assert_eq!(
            taken,
            [(0, true), (1, false), (2, true), (3, true), (4, false)]
        );
    }

    #[test]
    fn an_idle_worker_steals_a_whole_untouched_state_from_the_busiest() {
        let mut m = market(
            &[
                (&[0, 1], Some(0)),
                (&[2, 3], Some(0)),
                (&[4, 5, 6], Some(0)),
                (&[7], Some(1)),
            ],
            3,
        );
        assert_eq!(
            m.take(0).map(|t| t.index),
            Some(0),
            "worker 0 starts on its first"
        );
        // Worker 2 has nothing: it takes worker 0's last state, all three pairs of it.
        assert_eq!(drain(&mut m, 2, 3), [(4, true), (5, true), (6, false)]);
        assert_eq!(drain(&mut m, 0, 3), [(1, false), (2, true), (3, false)]);
        assert_eq!(drain(&mut m, 1, 10), [(7, false)]);
        assert!(m.take(0).is_none() && m.take(2).is_none());
    }

    #[test]
    fn with_no_untouched_state_left_an_idle_worker_takes_half_of_the_largest() {
        let mut m = market(&[(&[0, 1, 2, 3, 4, 5], Some(0)), (&[6], Some(1))], 2);
        assert_eq!(m.take(0).map(|t| t.index), Some(0));
        assert_eq!(m.take(1).map(|t| t.index), Some(6));
        // Five pairs left in worker 0's state: worker 1 takes the back three.
        assert_eq!(drain(&mut m, 1, 3), [(3, true), (4, true), (5, false)]);
        assert_eq!(drain(&mut m, 0, 10), [(1, true), (2, false)]);
        assert!(m.take(0).is_none() && m.take(1).is_none());
    }

    #[test]
    fn pairs_offered_later_keep_their_order_and_go_to_their_states_holders() {
        let graph = crate::graph::StateGraph::new(2, false);
        let mut m = Market::new(2);
        m.offer(
            &graph,
            [(0, 0), (0, 1)],
            crate::world::CheckpointMode::RandomAccess,
        );
        assert_eq!(drain(&mut m, 1, 10), [(0, true), (1, false)]);
        assert!(m.take(0).is_none(), "nothing left until more is offered");
        m.offer(&graph, [(0, 0)], crate::world::CheckpointMode::RandomAccess);
        assert_eq!(m.offered(), 3);
        assert_eq!(drain(&mut m, 0, 10), [(2, false)]);
    }
}
