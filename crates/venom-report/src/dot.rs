//! The state graph for Graphviz (`dot -Tsvg`): states laid out by depth, transitions labelled by
//! action, the violations' shortest paths in red.

use crate::error::ReportError;
use crate::fs::write_report;
use crate::graph_paths::PathMarks;
use crate::report::RunReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The longest state label drawn, in characters (longer ones end with `…`).
const MAX_LABEL: usize = 80;

/// Writes [`render_dot`] of `report` to `path`, atomically. Errors name the file; a report
/// without a state graph (merged, or written by an older venom) is an error too.
pub fn write_dot(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    let text = render_dot(report).ok_or_else(|| ReportError::NoGraph {
        path: path.to_path_buf(),
    })?;
    write_report(path, text.as_bytes())
}

/// The report's state graph in the DOT language (`None` without one): one node per state,
/// `s<id>`, labelled with its id, depth and label, states of equal depth on one rank; one edge
/// per transition labelled with its action. The transitions of every violation's shortest path
/// are red, and so are the states where a path ends, which name their violations (numbered as
/// in the JSON report). States left out of the view are summed up in a note.
pub fn render_dot(report: &RunReport) -> Option<String> {
    let graph = report.exploration.graph.as_ref()?;
    let marks = PathMarks::follow(graph, &report.exploration.violations);
    let mut out = String::from(
        "digraph venom {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  \
         edge [fontname=\"monospace\", fontsize=9];\n",
    );
    let mut by_depth: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (id, state) in graph.states.iter().enumerate() {
        by_depth.entry(state.depth).or_default().push(id);
        let mut label = format!("#{id} (depth {})", state.depth);
        if !state.label.is_empty() {
            let _ = write!(label, "\n{}", shortened(&state.label));
        }
        let style = match marks.ends.get(&id) {
            Some(numbers) => {
                let list: Vec<String> = numbers.iter().map(usize::to_string).collect();
                let _ = write!(label, "\nviolations: {}", list.join(", "));
                ", color=red, fontcolor=red, penwidth=2"
            }
            None => "",
        };
        let _ = writeln!(out, "  s{id} [label={}{style}];", quoted(&label));
    }
    for ids in by_depth.values() {
        let nodes: Vec<String> = ids.iter().map(|id| format!("s{id}")).collect();
        let _ = writeln!(out, "  {{ rank=same; {}; }}", nodes.join("; "));
    }
    for edge in &graph.edges {
        let on_path = marks
            .edges
            .contains_key(&(edge.from as usize, edge.action.clone()));
        let style = if on_path {
            ", color=red, fontcolor=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  s{} -> s{} [label={}{style}];",
            edge.from,
            edge.to,
            quoted(&edge.action)
        );
    }
    if graph.omitted_states > 0 {
        let _ = writeln!(
            out,
            "  omitted [shape=note, label={}];",
            quoted(&format!("{} more states not drawn", graph.omitted_states))
        );
    }
    out.push_str("}\n");
    Some(out)
}

/// `label` cut to [`MAX_LABEL`] characters (the report is redacted before it is drawn).
fn shortened(label: &str) -> String {
    match label.char_indices().nth(MAX_LABEL) {
        Some((cut, _)) => format!("{}…", &label[..cut]),
        None => label.to_string(),
    }
}

/// `text` as a DOT string: double-quoted, `"` and `\` escaped, line breaks as `\n`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_cut_at_a_character() {
        assert_eq!(shortened("short"), "short");
        let long = "é".repeat(MAX_LABEL + 5);
        assert_eq!(shortened(&long), format!("{}…", "é".repeat(MAX_LABEL)));
    }

    #[test]
    fn dot_strings_escape_quotes_backslashes_and_line_breaks() {
        assert_eq!(quoted("a \"b\" \\ c\nd\r"), "\"a \\\"b\\\" \\\\ c\\nd\"");
    }
}
