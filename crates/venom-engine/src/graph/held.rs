//! The checkpoints of the states still to explore, with the count of each state's pairs still
//! queued: when the last is taken, the checkpoint is handed back to be released.
//!
//! Two layouts keep the same rules. A hash map serves strategies that take pairs in any order.
//! Depth-first search releases checkpoints in the reverse order it took them, often holding
//! one for every state on a long path at once, so it keeps them in a stack sorted by state
//! (states are numbered in the order they are found, and a checkpoint is given to a state when
//! it is found): 16 bytes a checkpoint instead of the 30 to 60 of a map's bucket, and the
//! state looked up is the top one, checked first.

use super::IdMap;
use crate::growth::reserve;
use crate::world::CheckpointId;

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

/// The two layouts of [`HeldCheckpoints`].
enum Layout {
    /// Any order of release.
    Map(IdMap<u32, Held>),
    /// Sorted by state; released mostly from the top.
    Stack(Vec<Stacked>),
}

impl HeldCheckpoints {
    /// An empty store: a stack when checkpoints are released last-taken first (`lifo`).
    pub fn new(lifo: bool) -> Self {
        HeldCheckpoints(match lifo {
            true => Layout::Stack(Vec::new()),
            false => Layout::Map(IdMap::default()),
        })
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
            Layout::Stack(stack) => {
                let i = Self::position(stack, state).ok()?;
                Some((stack[i].checkpoint, 0))
            }
        }
    }

    /// Gives `state` a checkpoint held by worker `holder`, with no pair counted yet.
    pub fn insert(&mut self, state: u32, checkpoint: CheckpointId, holder: u16) {
        match &mut self.0 {
            Layout::Map(map) => {
                let held = Held {
                    checkpoint,
                    holder,
                    pending: 0,
                };
                map.insert(state, held);
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
            Layout::Stack(stack) => stack.drain(..).map(|h| (h.checkpoint, 0)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HeldCheckpoints;
    use crate::world::CheckpointId;

    /// Both layouts answer alike, whatever order states are looked up and released in.
    #[test]
    fn both_layouts_keep_the_same_checkpoints() {
        for lifo in [false, true] {
            let mut held = HeldCheckpoints::new(lifo);
            for state in [0u32, 3, 4, 9] {
                held.insert(state, CheckpointId(u64::from(state) + 100), 0);
                *held.pending_mut(state).unwrap() = state + 1;
            }
            assert_eq!(held.get(4), Some((CheckpointId(104), 0)), "lifo {lifo}");
            assert_eq!(held.get(5), None, "lifo {lifo}");
            assert_eq!(held.get(10), None, "lifo {lifo}");
            assert_eq!(held.remove(3), Some((CheckpointId(103), 0)), "lifo {lifo}");
            assert_eq!(held.get(3), None, "lifo {lifo}");
            assert_eq!(held.pending_mut(9).copied(), Some(10), "lifo {lifo}");
            assert_eq!(held.pending_mut(3), None, "lifo {lifo}");
            assert_eq!(held.get(0), Some((CheckpointId(100), 0)), "lifo {lifo}");
            held.insert(12, CheckpointId(112), 0);
            assert_eq!(held.remove(12), Some((CheckpointId(112), 0)), "lifo {lifo}");
            let mut left = held.drain();
            left.sort_by_key(|(c, _)| c.0);
            let left: Vec<u64> = left.iter().map(|(c, _)| c.0).collect();
            assert_eq!(left, [100, 104, 109], "lifo {lifo}");
            assert_eq!(held.get(0), None, "lifo {lifo}");
        }
    }
}
