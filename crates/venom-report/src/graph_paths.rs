//! The violations' shortest paths followed through a run's [`GraphView`]: from the initial
//! state, one transition per step, by action name, as a reader of a picture of the graph would.

use std::collections::BTreeMap;
use venom_engine::{GraphView, Violation};

/// Where the violations' paths run in a graph (violations numbered from 1, as in the report).
#[derive(Debug, Default)]
pub(crate) struct PathMarks {
    /// The transitions (source state, action) on a path, with the violations whose path it is.
    pub edges: BTreeMap<(usize, String), Vec<usize>>,
    /// The states on a path (its end included), with the violations whose path it is.
    pub states: BTreeMap<usize, Vec<usize>>,
    /// The state where each path ends, with the violations that end there. A path that leaves
    /// the view ends nowhere.
    pub ends: BTreeMap<usize, Vec<usize>>,
}

impl PathMarks {
    /// Follows every violation's path through `graph`.
    pub fn follow(graph: &GraphView, violations: &[Violation]) -> PathMarks {
        let mut marks = PathMarks::default();
        // Each (state, action) has one transition: indexed once, not searched per step.
        let next: BTreeMap<(usize, &str), usize> = graph
            .edges
            .iter()
            .map(|e| ((e.from as usize, e.action.as_str()), e.to as usize))
            .collect();
        for (index, violation) in violations.iter().enumerate() {
            let number = index + 1;
            let mut at = Some(0usize);
            marks.states.entry(0).or_default().push(number);
            for step in &violation.path {
                let Some(from) = at else { break };
                at = next.get(&(from, step.action.as_str())).map(|&to| {
                    let key = (from, step.action.clone());
                    marks.edges.entry(key).or_default().push(number);
                    let on = marks.states.entry(to).or_default();
                    if on.last() != Some(&number) {
                        on.push(number);
                    }
                    to
                });
            }
            if let Some(end) = at {
                marks.ends.entry(end).or_default().push(number);
            }
        }
        marks
    }
}
