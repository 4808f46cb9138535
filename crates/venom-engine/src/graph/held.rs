//! The checkpoints of the states still to explore, with the count of each state's pairs still
//! queued: when the last is taken, the checkpoint is handed back to be released.
//!
//! Three layouts keep the same rules; they rest on states being numbered in the order they are
//! found, and a checkpoint being given to a state when it is found.
//! - A hash map serves strategies that take pairs in any order.
//! - Breadth-first search releases checkpoints in about the order it took them, so it keeps
//!   them in a window of consecutive states, from the oldest still held to the newest: found by
//!   subtraction, with no hashing, and its front moves on as the oldest are released.
//! - Depth-first search releases them in the reverse order, often holding one for every state
//!   on a long path at once, so it keeps them in a stack sorted by state: 16 bytes a checkpoint
//!   instead of the 30 to 60 of a map's bucket, and the state looked up is the top one, checked
//!   first.

use super::IdMap;
use crate::growth::reserve;
use crate::world::CheckpointId;
use std::collections::VecDeque;

/// A checkpoint and the count of its state's pairs still queued.
#[derive(Clone, Copy)]
struct Held {
    checkpoint: CheckpointId,
    /// The worker whose world holds it.
    holder: u16,
    pending: u32,
}

/// A checkpoint of the stack layout: one world holds them all (depth-first search explores
/// with one worker).
#[derive(Clone, Copy)]
struct Stacked {
    state: u32,
    pending: u32,
    checkpoint: CheckpointId,
}

/// The checkpoints held, by state.
pub(super) struct HeldCheckpoints(Layout);

/// The order in which the checkpoints of an exploration are mostly released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReleaseOrder {
    /// Any order.
    Any,
    /// About the order they were taken in (breadth-first).
    FirstIn,
    /// The reverse order (depth-first).
    LastIn,
}

/// The three layouts of [`HeldCheckpoints`].
enum Layout {
    /// Any order of release.
    Map(IdMap<u32, Held>),
    /// Consecutive states from `first`; `None` for a state that holds none.
    Window {
        first: u32,
        slots: VecDeque<Option<Held>>,
    },
    /// Sorted by state; released mostly from the top.
    Stack(Vec<Stacked>),
}

impl HeldCheckpoints {
    /// An empty store, laid out for checkpoints released in `order`.
    pub fn new(order: ReleaseOrder) -> Self {
        HeldCheckpoints(match order {
            ReleaseOrder::Any => Layout::Map(IdMap::default()),
            ReleaseOrder::FirstIn => Layout::Window {
                first: 0,
                slots: VecDeque::new(),
            },
            ReleaseOrder::LastIn => Layout::Stack(Vec::new()),
        })
    }

    /// The slot of `state` in a window starting at `first`, if the window reaches it.
    fn slot(first: u32, slots: &VecDeque<Option<Held>>, state: u32) -> Option<usize> {
        let offset = state.checked_sub(first)? as usize;
        (offset < slots.len()).then_some(offset)
    }

    /// Where `state` sits in the stack (the top is checked first).
    fn position(stack: &[Stacked], state: u32) -> Result<usize, usize> {
        match stack.last() {
            Some(top) if top.state == state => Ok(stack.len() - 1),
            Some(top) if top.state < state => Err(stack.len()),
            _ => stack.binary_search_by_key(&state, |held| held.state),
        }
    }

    /// The checkpoint of `state` and the worker holding it.
    pub fn get(&self, state: u32) -> Option<(CheckpointId, u16)> {
        match &self.0 {
            Layout::Map(map) => map.get(&state).map(|h| (h.checkpoint, h.holder)),
            Layout::Window { first, slots } => {
                let held = slots[Self::slot(*first, slots, state)?]?;
                Some((held.checkpoint, held.holder))
            }
            Layout::Stack(stack) => {
                let i = Self::position(stack, state).ok()?;
                Some((stack[i].checkpoint, 0))
            }
        }
    }

    /// Gives `state` a checkpoint held by worker `holder`, with no pair counted yet.
    pub fn insert(&mut self, state: u32, checkpoint: CheckpointId, holder: u16) {
        let held = Held {
            checkpoint,
            holder,
            pending: 0,
        };
        match &mut self.0 {
            Layout::Map(map) => {
                map.insert(state, held);
            }
            Layout::Window { first, slots } => {
                if slots.is_empty() {
                    *first = state;
                }
                while state < *first {
                    slots.push_front(None);
                    *first -= 1;
                }
                let offset = (state - *first) as usize;
                if offset >= slots.len() {
                    slots.resize(offset + 1, None);
                }
                slots[offset] = Some(held);
            }
            Layout::Stack(stack) => {
                debug_assert_eq!(holder, 0, "the stack layout serves one world");
                let held = Stacked {
                    state,
                    pending: 0,
                    checkpoint,
                };
                match Self::position(stack, state) {
                    Ok(i) => stack[i] = held,
                    Err(i) => {
                        reserve(stack, 1);
                        stack.insert(i, held);
                    }
                }
            }
        }
    }

    /// Takes the checkpoint of `state` away.
    pub fn remove(&mut self, state: u32) -> Option<(CheckpointId, u16)> {
        match &mut self.0 {
            Layout::Map(map) => map.remove(&state).map(|h| (h.checkpoint, h.holder)),
            Layout::Window { first, slots } => {
                let offset = Self::slot(*first, slots, state)?;
                let held = slots[offset].take()?;
                // The front moves on past the states released.
                while let Some(None) = slots.front() {
                    slots.pop_front();
                    *first += 1;
                }
                Some((held.checkpoint, held.holder))
            }
            Layout::Stack(stack) => {
                let i = Self::position(stack, state).ok()?;
                Some((stack.remove(i).checkpoint, 0))
            }
        }
    }

    /// The count of `state`'s pairs still queued, when it holds a checkpoint.
    pub fn pending_mut(&mut self, state: u32) -> Option<&mut u32> {
        match &mut self.0 {
            Layout::Map(map) => map.get_mut(&state).map(|h| &mut h.pending),
            Layout::Window { first, slots } => {
                let offset = Self::slot(*first, slots, state)?;
                slots[offset].as_mut().map(|h| &mut h.pending)
            }
            Layout::Stack(stack) => {
                let i = Self::position(stack, state).ok()?;
                Some(&mut stack[i].pending)
            }
        }
    }

    /// Takes every checkpoint away.
    pub fn drain(&mut self) -> Vec<(CheckpointId, u16)> {
        match &mut self.0 {
            Layout::Map(map) => map.drain().map(|(_, h)| (h.checkpoint, h.holder)).collect(),
            Layout::Window { slots, .. } => slots
                .drain(..)
                .flatten()
                .map(|h| (h.checkpoint, h.holder))
                .collect(),
            Layout::Stack(stack) => stack.drain(..).map(|h| (h.checkpoint, 0)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HeldCheckpoints, ReleaseOrder};
    use crate::world::CheckpointId;

    /// Both layouts answer alike, whatever order states are looked up and released in.
    #[test]
    fn both_layouts_keep_the_same_checkpoints() {
        for order in [
            ReleaseOrder::Any,
            ReleaseOrder::FirstIn,
            ReleaseOrder::LastIn,
        ] {
            let mut held = HeldCheckpoints::new(order);
            for state in [0u32, 3, 4, 9] {
                held.insert(state, CheckpointId(u64::from(state) + 100), 0);
                *held.pending_mut(state).unwrap() = state + 1;
            }
            assert_eq!(held.get(4), Some((CheckpointId(104), 0)), "{order:?}");
            assert_eq!(held.get(5), None, "{order:?}");
            assert_eq!(held.get(10), None, "{order:?}");
            assert_eq!(held.remove(3), Some((CheckpointId(103), 0)), "{order:?}");
            assert_eq!(held.get(3), None, "{order:?}");
            assert_eq!(held.pending_mut(9).copied(), Some(10), "{order:?}");
            assert_eq!(held.pending_mut(3), None, "{order:?}");
            assert_eq!(held.get(0), Some((CheckpointId(100), 0)), "{order:?}");
            held.insert(12, CheckpointId(112), 0);
            assert_eq!(held.remove(12), Some((CheckpointId(112), 0)), "{order:?}");
            let mut left = held.drain();
            left.sort_by_key(|(c, _)| c.0);
            let left: Vec<u64> = left.iter().map(|(c, _)| c.0).collect();
            assert_eq!(left, [100, 104, 109], "{order:?}");
            assert_eq!(held.get(0), None, "{order:?}");

            // Released in the order taken, then a state older than any held.
            for state in [20u32, 21, 23] {
                held.insert(state, CheckpointId(u64::from(state)), 0);
            }
            assert_eq!(held.remove(20), Some((CheckpointId(20), 0)), "{order:?}");
            assert_eq!(held.remove(21), Some((CheckpointId(21), 0)), "{order:?}");
            assert_eq!(held.get(22), None, "{order:?}");
            held.insert(15, CheckpointId(15), 0);
            assert_eq!(held.get(15), Some((CheckpointId(15), 0)), "{order:?}");
            assert_eq!(held.get(23), Some((CheckpointId(23), 0)), "{order:?}");
            assert_eq!(held.remove(23), Some((CheckpointId(23), 0)), "{order:?}");
            assert_eq!(held.remove(15), Some((CheckpointId(15), 0)), "{order:?}");
            assert!(held.drain().is_empty(), "{order:?}");
        }
    }

    /// The window keeps only the states from the oldest held to the newest.
    #[test]
    fn the_window_moves_on_as_the_oldest_are_released() {
        let mut held = HeldCheckpoints::new(ReleaseOrder::FirstIn);
        for state in 0..1000u32 {
            held.insert(state, CheckpointId(u64::from(state)), 0);
            if state >= 10 {
                held.remove(state - 10);
            }
        }
        match &held.0 {
            super::Layout::Window { first, slots } => {
                assert_eq!((*first, slots.len()), (990, 10));
            }
            _ => panic!("not a window"),
        }
    }
}
