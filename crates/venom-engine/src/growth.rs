//! Growth of the arrays that hold an item per state (the graph's, the depth-first stack's): by
//! a quarter rather than doubling. They are the bulk of an exploration's memory, and a doubled
//! array would hold up to twice the memory its items need.

/// Makes room for `more` items in `items`, growing by a quarter rather than doubling (a large
/// array grows in place, without a copy, on most allocators).
pub(crate) fn reserve<T>(items: &mut Vec<T>, more: usize) {
    if items.capacity() - items.len() < more {
        items.reserve_exact(more.max(items.len() / 4).max(1024));
    }
}

/// Appends `item`, growing `items` as [`reserve`] does.
pub(crate) fn push<T>(items: &mut Vec<T>, item: T) {
    reserve(items, 1);
    items.push(item);
}
