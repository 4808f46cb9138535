//! A layered drawing of a state graph: one row per depth, the states of a row ordered to
//! follow their parents (the barycenter heuristic, a few sweeps), positions in pixels.

use std::collections::BTreeMap;
use venom_engine::GraphView;

/// A state box's width and height, and the gaps between boxes and rows, in pixels.
pub(crate) const BOX_WIDTH: f64 = 170.0;
pub(crate) const BOX_HEIGHT: f64 = 46.0;
const GAP: f64 = 64.0;
const ROW_GAP: f64 = 70.0;
const MARGIN: f64 = 20.0;
/// Top-down sweeps of the barycenter ordering.
const SWEEPS: usize = 4;

/// Where each drawn state's box goes (its top-left corner), and the drawing's size.
#[derive(Debug)]
pub(crate) struct Layout {
    pub positions: BTreeMap<usize, (f64, f64)>,
    pub width: f64,
    pub height: f64,
}

/// Lays out the states `drawn` of `graph` (ids) by depth.
pub(crate) fn layered(graph: &GraphView, drawn: &[usize]) -> Layout {
    let mut rows: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &id in drawn {
        rows.entry(graph.states[id].depth).or_default().push(id);
    }
    let drawn_set: std::collections::BTreeSet<usize> = drawn.iter().copied().collect();
    // Parents of each state among the drawn states of the row above.
    let mut parents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for edge in &graph.edges {
        let (from, to) = (edge.from as usize, edge.to as usize);
        if drawn_set.contains(&from)
            && drawn_set.contains(&to)
            && graph.states[to].depth == graph.states[from].depth + 1
        {
            parents.entry(to).or_default().push(from);
        }
    }
    let mut order: BTreeMap<usize, f64> = BTreeMap::new();
    for row in rows.values() {
        for (i, &id) in row.iter().enumerate() {
            order.insert(id, i as f64);
        }
    }
    for _ in 0..SWEEPS {
        for row in rows.values_mut() {
            let key = |id: &usize| -> f64 {
                match parents.get(id) {
                    Some(ps) if !ps.is_empty() => {
                        ps.iter().map(|p| order[p]).sum::<f64>() / ps.len() as f64
                    }
                    _ => order[id],
                }
            };
            row.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
            for (i, &id) in row.iter().enumerate() {
                order.insert(id, i as f64);
            }
        }
    }
    let widest = rows.values().map(Vec::len).max().unwrap_or(1) as f64;
    let width = 2.0 * MARGIN + widest * BOX_WIDTH + (widest - 1.0).max(0.0) * GAP;
    let mut positions = BTreeMap::new();
    for (row_index, row) in rows.values().enumerate() {
        let row_width = row.len() as f64 * BOX_WIDTH + (row.len() as f64 - 1.0).max(0.0) * GAP;
        let left = (width - row_width) / 2.0;
        let y = MARGIN + row_index as f64 * (BOX_HEIGHT + ROW_GAP);
        for (i, &id) in row.iter().enumerate() {
            positions.insert(id, (left + i as f64 * (BOX_WIDTH + GAP), y));
        }
    }
    let height = 2.0 * MARGIN
        + rows.len() as f64 * BOX_HEIGHT
        + (rows.len() as f64 - 1.0).max(0.0) * ROW_GAP;
    Layout {
        positions,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use venom_engine::{EdgeView, StateView};

    fn graph(depths: &[u32], edges: &[(u32, u32)]) -> GraphView {
        GraphView {
            states: depths
                .iter()
                .map(|&depth| StateView {
                    depth,
                    label: String::new(),
                })
                .collect(),
            edges: edges
                .iter()
                .map(|&(from, to)| EdgeView {
                    from,
                    action: "a".into(),
                    to,
                })
                .collect(),
            omitted_states: 0,
        }
    }

    #[test]
    fn rows_follow_depth_and_children_sit_under_their_parents() {
        // 0 -> 1, 0 -> 2; 2 -> 3, 1 -> 4: 4 is ordered under 1, 3 under 2.
        let g = graph(&[0, 1, 1, 2, 2], &[(0, 1), (0, 2), (2, 3), (1, 4)]);
        let layout = layered(&g, &[0, 1, 2, 3, 4]);
        let x = |id: usize| layout.positions[&id].0;
        let y = |id: usize| layout.positions[&id].1;
        assert!(y(0) < y(1) && y(1) == y(2) && y(2) < y(3) && y(3) == y(4));
        assert!(x(1) < x(2), "discovery order kept");
        assert!(x(4) < x(3), "children follow their parents");
        assert!(layout.width >= 2.0 * BOX_WIDTH && layout.height > 3.0 * BOX_HEIGHT);
        // Only the states drawn are placed.
        let some = layered(&g, &[0, 3]);
        assert_eq!(some.positions.len(), 2);
    }
}
