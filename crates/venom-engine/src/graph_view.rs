//! The [`GraphView`] of a run's state graph: what a picture of it needs, and no more.

use crate::exploration::{EdgeView, GraphView, StateView};
use crate::graph::StateGraph;
use serde_json::Value;

/// The view of `graph`'s first [`GraphView::MAX_STATES`] states, `actions` naming the
/// actions by index, each state labelled by its context's `state_keys` (every key when
/// `None`).
pub(crate) fn view(
    graph: &StateGraph,
    actions: &[&str],
    state_keys: Option<&[String]>,
) -> GraphView {
    let kept = graph.len().min(GraphView::MAX_STATES);
    let states = (0..kept)
        .map(|state| StateView {
            depth: graph.depth(state),
            label: label(graph, state, state_keys),
        })
        .collect();
    let edges = (0..kept)
        .flat_map(|from| {
            graph
                .out(from)
                .filter(|&(_, to)| to < kept)
                .map(move |(action, to)| EdgeView {
                    from: from as u32,
                    action: actions[action].to_string(),
                    to: to as u32,
                })
        })
        .collect();
    GraphView {
        states,
        edges,
        omitted_states: graph.len() - kept,
    }
}

/// `key=value` for the state's keys that its context holds, by key; an object or array value
/// shows as `{…}` or `[…]`. Labels are not shortened here: a cut could keep part of a secret
/// that the report's redaction, which matches whole values, would then miss.
fn label(graph: &StateGraph, state: usize, state_keys: Option<&[String]>) -> String {
    let context = graph.ctx(state).as_map();
    let pairs: Vec<String> = context
        .iter()
        .filter(|(key, _)| state_keys.is_none_or(|keys| keys.iter().any(|k| k == *key)))
        .map(|(key, value)| match value {
            Value::String(text) => format!("{key}={text}"),
            Value::Object(_) => format!("{key}={{…}}"),
            Value::Array(_) => format!("{key}=[…]"),
            other => format!("{key}={other}"),
        })
        .collect();
    pairs.join(" ")
}
