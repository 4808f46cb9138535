//! Where each checkpoint sits in the row log (see [`super::rowlog`]): a tree of *segments*.
//!
//! Every change the API makes to a logged table is a log entry with a position. A checkpoint is
//! a node whose segment is the range of positions written since the state it grew from (its
//! parent: the checkpoint taken or rolled back to last); the entries written since the last
//! checkpoint or rollback are the *tail*. Going from the current state to a checkpoint undoes
//! the tail and the segments from the current node up to the common ancestor, then redoes the
//! segments from there down to the target: work in proportion to what changed on that path,
//! whatever the size of the tables.
//!
//! A node's segment is kept while its subtree holds a live point (a held checkpoint or the
//! current node); the others are dropped, and with them their entries.

use std::collections::{BTreeSet, HashMap};

/// A range of log positions: after `from`, up to and including `to` (`None`: no end, the tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub from: i64,
    pub to: Option<i64>,
}

/// What a rollback must do to the logged tables: undo `undo` (newest first), redo `redo`
/// (oldest first), in `tables` (indices of logged tables), then drop the tail's entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Plan {
    pub undo: Vec<Range>,
    pub redo: Vec<Range>,
    pub tables: BTreeSet<usize>,
    /// The tail to drop once undone: its start, and the tables it wrote.
    pub tail: Option<(i64, BTreeSet<usize>)>,
}

/// A segment no node needs any more: its entries in `tables` can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub range: Range,
    pub tables: BTreeSet<usize>,
}

/// The node of the state at the start of the session.
const ROOT: u64 = 0;

struct Node {
    parent: u64,
    depth: usize,
    /// Its segment (unused for the root).
    range: Range,
    /// The logged tables written in its segment.
    tables: BTreeSet<usize>,
    held: bool,
    /// How many live points (held nodes, the current node) its subtree holds, itself included.
    live: usize,
}

/// The tree of checkpoints over the row log.
pub(crate) struct History {
    nodes: HashMap<u64, Node>,
    /// The node the database equalled last (at a checkpoint or a rollback).
    current: u64,
    /// The log position when it did: later entries are the tail.
    tail_from: i64,
}

impl History {
    /// The history of a session whose log is at position `start`.
    pub(crate) fn new(start: i64) -> History {
        let root = Node {
            parent: ROOT,
            depth: 0,
            range: Range {
                from: start,
                to: Some(start),
            },
            tables: BTreeSet::new(),
            held: false,
            live: 1,
        };
        History {
            nodes: HashMap::from([(ROOT, root)]),
            current: ROOT,
            tail_from: start,
        }
    }

    /// The log position the current state was last reached at: later entries are the tail.
    pub(crate) fn tail_from(&self) -> i64 {
        self.tail_from
    }

    /// Records checkpoint `id` (never 0) taken when the log was at `position`, the tail having
    /// written `tables`; it becomes the current node. Answers the segments no longer needed.
    pub(crate) fn checkpoint(
        &mut self,
        id: u64,
        position: i64,
        tables: BTreeSet<usize>,
    ) -> Vec<Dropped> {
        let parent = self.current;
        let depth = self.nodes.get(&parent).map_or(0, |n| n.depth + 1);
        self.nodes.insert(
            id,
            Node {
                parent,
                depth,
                range: Range {
                    from: self.tail_from,
                    to: Some(position),
                },
                tables,
                held: true,
                live: 0,
            },
        );
        // Held, and current.
        self.add_live(id, 2);
        self.current = id;
        self.tail_from = position;
        self.remove_live(parent, 1)
    }

    /// What rolling back to `target` takes, the tail having written `tail_tables`; `None` for
    /// a checkpoint this history does not hold.
    pub(crate) fn plan(&self, target: u64, tail_tables: BTreeSet<usize>) -> Option<Plan> {
        if !self.nodes.get(&target)?.held {
            return None;
        }
        let mut plan = Plan::default();
        if !tail_tables.is_empty() {
            plan.undo.push(Range {
                from: self.tail_from,
                to: None,
            });
            plan.tables.extend(&tail_tables);
            plan.tail = Some((self.tail_from, tail_tables));
        }
        let (mut up, mut down) = (self.current, target);
        let mut redo = Vec::new();
        while up != down {
            let (a, b) = (&self.nodes[&up], &self.nodes[&down]);
            if a.depth >= b.depth {
                plan.undo.push(a.range);
                plan.tables.extend(&a.tables);
                up = a.parent;
            } else {
                redo.push(b.range);
                plan.tables.extend(&b.tables);
                down = b.parent;
            }
        }
        redo.reverse();
        plan.redo = redo;
        Some(plan)
    }

    /// Records that the database now equals `target` (a [`Self::plan`] carried out): the tail
    /// is gone. Answers the segments no longer needed.
    pub(crate) fn rolled_back(&mut self, target: u64) -> Vec<Dropped> {
        let before = self.current;
        self.add_live(target, 1);
        self.current = target;
        self.remove_live(before, 1)
    }

    /// Lets checkpoint `id` go. Answers the segments no longer needed.
    pub(crate) fn release(&mut self, id: u64) -> Vec<Dropped> {
        match self.nodes.get_mut(&id) {
            Some(node) if id != ROOT && node.held => {
                node.held = false;
                self.remove_live(id, 1)
            }
            _ => Vec::new(),
        }
    }

    fn add_live(&mut self, from: u64, count: usize) {
        let mut at = from;
        loop {
            let node = self.nodes.get_mut(&at).expect("ancestors are kept");
            node.live += count;
            if at == ROOT {
                return;
            }
            at = node.parent;
        }
    }

    /// Takes `count` live points away from `from` and its ancestors, dropping the nodes left
    /// with none (never the root).
    fn remove_live(&mut self, from: u64, count: usize) -> Vec<Dropped> {
        let mut dropped = Vec::new();
        let mut at = from;
        loop {
            let node = self.nodes.get_mut(&at).expect("ancestors are kept");
            node.live -= count;
            let parent = node.parent;
            if node.live == 0 && at != ROOT {
                let node = self.nodes.remove(&at).expect("just seen");
                dropped.push(Dropped {
                    range: node.range,
                    tables: node.tables,
                });
            }
            if at == ROOT {
                return dropped;
            }
            at = parent;
        }
    }

    /// How many nodes (segments) are kept, the root included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(of: &[usize]) -> BTreeSet<usize> {
        of.iter().copied().collect()
    }

    fn range(from: i64, to: i64) -> Range {
        Range { from, to: Some(to) }
    }

    #[test]
    fn a_rollback_undoes_up_to_the_common_ancestor_and_redoes_down_to_the_target() {
        let mut history = History::new(0);
        // root -(0,5]-> 1 -(5,9]-> 2 ; back to 1 ; -(9,12]-> 3
        assert!(history.checkpoint(1, 5, tables(&[0])).is_empty());
        assert!(history.checkpoint(2, 9, tables(&[1])).is_empty());
        let plan = history.plan(1, tables(&[2])).expect("held");
        assert_eq!(
            plan,
            Plan {
                undo: vec![Range { from: 9, to: None }, range(5, 9)],
                redo: vec![],
                tables: tables(&[1, 2]),
                tail: Some((9, tables(&[2]))),
            }
        );
        assert!(history.rolled_back(1).is_empty(), "2 is still held");
        history.checkpoint(3, 12, tables(&[0]));
        // From 3 to 2: undo 3's segment, redo 2's.
        let plan = history.plan(2, BTreeSet::new()).expect("held");
        assert_eq!(plan.undo, [range(9, 12)]);
        assert_eq!(plan.redo, [range(5, 9)]);
        assert_eq!(plan.tail, None);
        assert_eq!(plan.tables, tables(&[0, 1]));
        history.rolled_back(2);
        // Nothing changed since: nothing to do.
        let plan = history.plan(2, BTreeSet::new()).expect("held");
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn a_redo_runs_oldest_segment_first() {
        let mut history = History::new(0);
        history.checkpoint(1, 1, tables(&[0]));
        history.checkpoint(2, 2, tables(&[0]));
        history.checkpoint(3, 3, tables(&[0]));
        history.rolled_back(1);
        let plan = history.plan(3, BTreeSet::new()).expect("held");
        assert_eq!(plan.redo, [range(1, 2), range(2, 3)]);
        assert!(plan.undo.is_empty());
    }

    #[test]
    fn segments_go_once_no_live_point_is_below_them() {
        let mut history = History::new(0);
        history.checkpoint(1, 4, tables(&[0]));
        history.checkpoint(2, 8, tables(&[1]));
        assert_eq!(history.len(), 3);
        // 1 is released but 2 (current, held) is below it: kept.
        assert!(history.release(1).is_empty());
        assert!(history.plan(1, BTreeSet::new()).is_none(), "released");
        history.checkpoint(3, 10, tables(&[0]));
        // 2 released: 3 is below it, current.
        assert!(history.release(2).is_empty());
        // 3 released while current: still the current node, kept.
        assert!(history.release(3).is_empty());
        assert_eq!(history.len(), 4);
        history.checkpoint(4, 11, tables(&[2]));
        assert!(history.release(4).is_empty(), "4 is current");
        assert_eq!(history.len(), 5);
        // A rollback to a new checkpoint elsewhere frees the whole released chain.
        let mut history2 = History::new(0);
        history2.checkpoint(1, 1, tables(&[0]));
        history2.checkpoint(2, 2, tables(&[1]));
        history2.release(2);
        let dropped = history2.rolled_back(1);
        assert_eq!(
            dropped,
            [Dropped {
                range: range(1, 2),
                tables: tables(&[1])
            }]
        );
        let dropped = history2.release(1);
        assert!(dropped.is_empty(), "1 is current");
        // 1 is released, but 5 grows from it: its segment leads there.
        assert!(history2.checkpoint(5, 3, tables(&[])).is_empty());
        assert_eq!(history2.len(), 3, "the root, 1 and 5");
        // Back to the root's state is no checkpoint; releasing 5 while current keeps it.
        assert!(history2.release(5).is_empty());
        assert_eq!(history.release(99), []);
    }
}
