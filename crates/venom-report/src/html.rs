//! The HTML report: one self-contained page (inline CSS and SVG, a few lines of script, no
//! network) with the state graph laid out by depth, the violations' shortest paths on it, each
//! step's request and response, coverage, the run's settings and the replay commands.

use crate::console::{format_duration, format_percent, steps_per_sec, verdict};
use crate::error::ReportError;
use crate::fs::write_report;
use crate::graph_paths::PathMarks;
use crate::layout::{layered, Layout, BOX_HEIGHT, BOX_WIDTH};
use crate::path::{format_exchange, path_heading, replay_hint, severity_tag};
use crate::report::RunReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use venom_engine::{Exchange, GraphView, Severity, Violation};

/// The most states drawn; beyond, the page draws the initial state and the violations' paths
/// and sums the rest up by depth.
pub const MAX_DRAWN_STATES: usize = 300;
/// The longest label line drawn in a state's box, in characters.
const LABEL_LINE: usize = 24;

/// Writes [`render_html`] of `report` to `path`, atomically. Errors name the file.
pub fn write_html(
    report: &RunReport,
    path: &Path,
    fail_on: Severity,
    json_path: Option<&Path>,
) -> Result<(), ReportError> {
    let text = render_html(report, fail_on, json_path);
    write_report(path, text.as_bytes())
}

/// Renders the page. Violations are numbered as in the JSON report; everything the run said
/// is HTML-escaped. The output depends only on the arguments.
pub fn render_html(report: &RunReport, fail_on: Severity, json_path: Option<&Path>) -> String {
    let ex = &report.exploration;
    let title = verdict(report, fail_on);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>venom: {}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let _ = writeln!(
        out,
        "<header><h1>venom: {}</h1><p>{} · strategy <b>{}</b> · rollback <b>{}</b> · stopped: {}</p></header>",
        escape(&title),
        escape(&report.target.to_string()),
        ex.strategy,
        escape(&ex.mechanism),
        escape(&ex.stop.to_string())
    );
    render_run(&mut out, report, json_path);
    render_graph(&mut out, report);
    render_violations(&mut out, &ex.violations, json_path);
    render_coverage(&mut out, report);
    if !ex.warnings.is_empty() {
        out.push_str("<section id=\"warnings\"><h2>Warnings</h2><ul>");
        for warning in &ex.warnings {
            let _ = write!(out, "<li>{}</li>", escape(warning));
        }
        out.push_str("</ul></section>\n");
    }
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

fn render_run(out: &mut String, report: &RunReport, json_path: Option<&Path>) {
    let ex = &report.exploration;
    out.push_str("<section id=\"run\"><h2>Run</h2><table class=\"facts\">");
    let mut row = |name: &str, value: String| {
        let _ = write!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    };
    row("venom", escape(&report.tool_version));
    row("target", escape(&report.target.to_string()));
    row("strategy", ex.strategy.to_string());
    row("rollback", escape(&ex.mechanism));
    if let Some(limits) = &ex.limits {
        row("seed", limits.seed.to_string());
        let mut set = Vec::new();
        if let Some(n) = limits.max_steps {
            set.push(format!("max steps {n}"));
        }
        if let Some(n) = limits.max_depth {
            set.push(format!("max depth {n}"));
        }
        if let Some(c) = limits.coverage_target {
            set.push(format!("coverage target {}", format_percent(c)));
        }
        if let Some(t) = limits.time_limit_secs {
            set.push(format!("time limit {}", format_duration(t)));
        }
        row(
            "limits",
            if set.is_empty() {
                "none".into()
            } else {
                set.join(", ")
            },
        );
    }
    row("stopped", escape(&ex.stop.to_string()));
    row(
        "figures",
        format!(
            "{} steps · {} states · {} transitions · max depth {}",
            ex.steps, ex.states, ex.transitions, ex.max_depth
        ),
    );
    row(
        "time",
        format!(
            "{} · {}",
            format_duration(ex.duration_secs),
            steps_per_sec(ex.steps, ex.duration_secs)
        ),
    );
    if !ex.workers.is_empty() {
        row("workers", ex.workers.len().to_string());
    }
    let replay = match json_path {
        Some(json) if !ex.violations.is_empty() => {
            format!("<code>{}</code>", escape(&replay_hint(json, 1)))
        }
        Some(_) => "no violation to replay".into(),
        None => "write the JSON report (<code>--json FILE</code>) to replay".into(),
    };
    row("replay", replay);
    out.push_str("</table></section>\n");
}

fn render_graph(out: &mut String, report: &RunReport) {
    out.push_str("<section id=\"graph\"><h2>State graph</h2>");
    let Some(graph) = &report.exploration.graph else {
        out.push_str("<p>This report holds no state graph (a merged report, or one written by an older venom).</p></section>\n");
        return;
    };
    let marks = PathMarks::follow(graph, &report.exploration.violations);
    let total = graph.states.len();
    let drawn: Vec<usize> = if total <= MAX_DRAWN_STATES {
        (0..total).collect()
    } else {
        marks.states.keys().copied().collect()
    };
    if drawn.len() < total || graph.omitted_states > 0 {
        let mut by_depth: BTreeMap<u32, usize> = BTreeMap::new();
        for state in &graph.states {
            *by_depth.entry(state.depth).or_default() += 1;
        }
        let _ = write!(
            out,
            "<p class=\"summary\">{} states found; {} drawn (the initial state and the \
             violations' paths). States by depth:</p><table class=\"depths\"><tr><th>depth</th>",
            total + graph.omitted_states,
            drawn.len()
        );
        for depth in by_depth.keys() {
            let _ = write!(out, "<td>{depth}</td>");
        }
        out.push_str("</tr><tr><th>states</th>");
        for count in by_depth.values() {
            let _ = write!(out, "<td>{count}</td>");
        }
        out.push_str("</tr></table>");
        if graph.omitted_states > 0 {
            let _ = write!(
                out,
                "<p class=\"summary\">{} more states were found than the report keeps.</p>",
                graph.omitted_states
            );
        }
    }
    let layout = layered(graph, &drawn);
    draw(out, graph, &layout, &marks);
    out.push_str("<p class=\"legend\">Red: the violations' shortest paths; click a violation's \
                  number below to show its path alone. Hover a state for its full label.</p></section>\n");
}

/// The SVG of the drawn states and the transitions between them.
fn draw(out: &mut String, graph: &GraphView, layout: &Layout, marks: &PathMarks) {
    let _ = write!(
        out,
        "<div class=\"scroll\"><svg id=\"graph-svg\" xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" \
         markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" \
         fill=\"context-stroke\"/></marker></defs>",
        w = layout.width,
        h = layout.height
    );
    // Several self-loops of one state are drawn apart, each one wider than the last.
    let mut loops: BTreeMap<usize, usize> = BTreeMap::new();
    for edge in &graph.edges {
        let (from, to) = (edge.from as usize, edge.to as usize);
        let (Some(&(x1, y1)), Some(&(x2, y2))) =
            (layout.positions.get(&from), layout.positions.get(&to))
        else {
            continue;
        };
        let numbers = marks.edges.get(&(from, edge.action.clone()));
        let class = path_class("edge", numbers);
        let (d, (lx, ly)) = if from == to {
            let nth = loops.entry(from).or_default();
            let reach = 26.0 + 9.0 * *nth as f64;
            let (x, y) = (x1 + BOX_WIDTH, y1 + BOX_HEIGHT / 2.0);
            let label_y = y1 - 4.0 + 11.0 * *nth as f64;
            *nth += 1;
            (
                format!(
                    "M {x:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {x:.1} {:.1}",
                    y - 8.0,
                    x + reach,
                    y - 22.0,
                    x + reach,
                    y + 22.0,
                    y + 8.0
                ),
                (x + reach + 4.0, label_y),
            )
        } else if y2 > y1 {
            let (sx, sy) = (x1 + BOX_WIDTH / 2.0, y1 + BOX_HEIGHT);
            let (tx, ty) = (x2 + BOX_WIDTH / 2.0, y2);
            let mid = (sy + ty) / 2.0;
            (
                format!("M {sx:.1} {sy:.1} C {sx:.1} {mid:.1}, {tx:.1} {mid:.1}, {tx:.1} {ty:.1}"),
                ((sx + tx) / 2.0, mid),
            )
        } else {
            // Back to a state of the same depth or above: around the boxes' left sides.
            let (sx, sy) = (x1, y1 + BOX_HEIGHT / 2.0);
            let (tx, ty) = (x2, y2 + BOX_HEIGHT / 2.0);
            let bend = sx.min(tx) - 40.0;
            (
                format!(
                    "M {sx:.1} {sy:.1} C {bend:.1} {sy:.1}, {bend:.1} {ty:.1}, {tx:.1} {ty:.1}"
                ),
                (bend + 10.0, (sy + ty) / 2.0),
            )
        };
        let _ = write!(
            out,
            "<g class=\"{class}\"><title>{action}</title><path d=\"{d}\" marker-end=\"url(#arrow)\"/>\
             <text x=\"{lx:.1}\" y=\"{ly:.1}\">{action}</text></g>",
            action = escape(&edge.action)
        );
    }
    for (&id, &(x, y)) in &layout.positions {
        let state = &graph.states[id];
        let class = path_class("state", marks.states.get(&id));
        let class = match marks.ends.get(&id) {
            Some(_) => format!("{class} end"),
            None => class,
        };
        let ends = marks
            .ends
            .get(&id)
            .map(|numbers| {
                let list: Vec<String> = numbers.iter().map(usize::to_string).collect();
                format!(" · violations {}", list.join(", "))
            })
            .unwrap_or_default();
        let lines = label_lines(&state.label);
        let _ = write!(
            out,
            "<g class=\"{class}\" id=\"s{id}\"><title>#{id} (depth {}){ends}\n{}</title>\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_WIDTH:.0}\" height=\"{BOX_HEIGHT:.0}\" rx=\"6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"head\">#{id} · depth {}{ends}</text>",
            state.depth,
            escape(&state.label),
            x + 6.0,
            y + 14.0,
            state.depth
        );
        for (i, line) in lines.iter().enumerate() {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 6.0,
                y + 28.0 + 12.0 * i as f64,
                escape(line)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg></div>");
}

/// `base`, plus `on-path` and one `v<N>` per violation when some path runs there.
fn path_class(base: &str, numbers: Option<&Vec<usize>>) -> String {
    match numbers {
        Some(numbers) if !numbers.is_empty() => {
            let mut class = format!("{base} on-path");
            for n in numbers {
                let _ = write!(class, " v{n}");
            }
            class
        }
        _ => base.to_string(),
    }
}

/// A label in at most two lines of [`LABEL_LINE`] characters (the second ends with `…` when
/// cut; the whole label is in the box's tooltip).
fn label_lines(label: &str) -> Vec<String> {
    let chars: Vec<char> = label.chars().collect();
    let first: String = chars.iter().take(LABEL_LINE).collect();
    if chars.len() <= LABEL_LINE {
        return if first.is_empty() {
            vec![]
        } else {
            vec![first]
        };
    }
    let rest = &chars[LABEL_LINE..];
    let second: String = if rest.len() > LABEL_LINE {
        rest.iter()
            .take(LABEL_LINE - 1)
            .chain(std::iter::once(&'…'))
            .collect()
    } else {
        rest.iter().collect()
    };
    vec![first, second]
}

fn render_violations(out: &mut String, violations: &[Violation], json_path: Option<&Path>) {
    out.push_str("<section id=\"violations\"><h2>Violations</h2>");
    if violations.is_empty() {
        out.push_str("<p>None.</p></section>\n");
        return;
    }
    for (index, violation) in violations.iter().enumerate() {
        let number = index + 1;
        let _ = write!(
            out,
            "<article class=\"violation sev-{sev}\" id=\"v{number}\" data-invariant=\"{inv}\">\
             <h3><button type=\"button\" data-violation=\"{number}\">{number}</button> \
             <span class=\"sev\">{tag}</span> {inv} — {msg}</h3>\
             <p>{heading} · seen {occ} time{plural}{action}</p><ol class=\"path\">",
            sev = violation.severity.as_str(),
            inv = escape(&violation.invariant),
            tag = severity_tag(violation.severity),
            msg = escape(&violation.message),
            heading = escape(&path_heading(violation)),
            occ = violation.occurrences,
            plural = if violation.occurrences == 1 { "" } else { "s" },
            action = violation
                .action
                .as_deref()
                .map(|a| format!(" · broken by <b>{}</b>", escape(a)))
                .unwrap_or_default(),
        );
        if violation.path.is_empty() {
            out.push_str("<li>broken in the initial state, before any action</li>");
        }
        for step in &violation.path {
            let exchanges: Vec<&Exchange> =
                step.earlier.iter().chain(step.exchange.as_ref()).collect();
            let summary = exchanges
                .last()
                .map(|e| format!(" — {}", escape(&format_exchange(e))))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<li><details><summary><b class=\"action\">{}</b>{summary}</summary>",
                escape(&step.action)
            );
            for exchange in exchanges {
                let text = serde_json::to_string_pretty(exchange).unwrap_or_default();
                let _ = write!(out, "<pre>{}</pre>", escape(&text));
            }
            out.push_str("</details></li>");
        }
        out.push_str("</ol>");
        if let Some(json) = json_path {
            let _ = write!(
                out,
                "<p class=\"replay\">replay: <code>{}</code></p>",
                escape(&replay_hint(json, number))
            );
        }
        out.push_str("</article>");
    }
    out.push_str("</section>\n");
}

fn render_coverage(out: &mut String, report: &RunReport) {
    let ex = &report.exploration;
    let ran = ex.actions.iter().filter(|a| a.runs > 0).count();
    let _ = write!(
        out,
        "<section id=\"coverage\"><h2>Coverage: {} ({ran}/{} actions run)</h2>\
         <table class=\"coverage\"><tr><th>action</th><th>runs</th><th></th></tr>",
        format_percent(ex.coverage),
        ex.actions.len()
    );
    for action in &ex.actions {
        let note = action
            .never_run
            .as_deref()
            .map(|why| format!("never run: {}", escape(why)))
            .unwrap_or_default();
        let class = if action.runs == 0 {
            " class=\"never\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr{class}><td>{}</td><td>{}</td><td>{note}</td></tr>",
            escape(&action.action),
            action.runs
        );
    }
    out.push_str("</table></section>\n");
}

/// `text` with `&`, `<`, `>`, `"` and `'` as entities (for text and quoted attributes).
fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 16px;color:#1d232a;background:#fff}\
h1{font-size:22px;margin:16px 0 4px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:28px}\
h3{font-size:15px;margin:10px 0 4px}table{border-collapse:collapse}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}\
.facts th{width:110px;color:#57606a;font-weight:600}.depths td{text-align:right}\
.scroll{overflow:auto;border:1px solid #d0d7de;border-radius:6px;max-height:80vh}\
.state rect{fill:#f6f8fa;stroke:#8c959f;stroke-width:1}.state text{font:11px ui-monospace,monospace;fill:#1d232a}.state .head{font-weight:700}\
.state.on-path rect{stroke:#cf222e;stroke-width:1.5}.state.end rect{fill:#ffebe9;stroke-width:2.5}\
.edge path{fill:none;stroke:#8c959f;stroke-width:1.2}.edge text{font:10px ui-monospace,monospace;fill:#57606a;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3px}\
.edge.on-path path{stroke:#cf222e;stroke-width:2.2}.edge.on-path text{fill:#cf222e}\
svg.focusing .on-path:not(.focused) path,svg.focusing .on-path:not(.focused) rect{stroke:#8c959f;stroke-width:1.2}\
svg.focusing .edge.on-path:not(.focused) text{fill:#57606a}\
.violation{border:1px solid #d0d7de;border-left:5px solid #cf222e;border-radius:6px;padding:4px 12px;margin:10px 0}\
.sev-medium{border-left-color:#bf8700}.sev-low{border-left-color:#8c959f}\
.sev{font:700 12px ui-monospace,monospace;color:#cf222e}.violation button{font:700 13px system-ui;min-width:28px;cursor:pointer}\
.path summary{cursor:pointer}.path pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px;font-size:12px}\
.never td{color:#9a6700}.legend,.summary{color:#57606a}code{background:#f6f8fa;padding:1px 4px;border-radius:4px}";

/// Clicking a violation's number shows its path alone on the graph (again: all paths).
const SCRIPT: &str = "\
(function(){var svg=document.getElementById('graph-svg');var shown=null;\
document.querySelectorAll('button[data-violation]').forEach(function(b){b.addEventListener('click',function(){\
if(!svg)return;var n=b.getAttribute('data-violation');\
svg.querySelectorAll('.focused').forEach(function(e){e.classList.remove('focused');});\
if(shown===n){svg.classList.remove('focusing');shown=null;return;}\
svg.querySelectorAll('.v'+n).forEach(function(e){e.classList.add('focused');});\
svg.classList.add('focusing');shown=n;svg.scrollIntoView({block:'nearest'});});});})();";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_labels_fold_into_two_lines() {
        assert_eq!(
            escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#x27;x&#x27;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(label_lines(""), Vec::<String>::new());
        assert_eq!(label_lines("short"), ["short"]);
        let long = "x".repeat(LABEL_LINE * 3);
        let lines = label_lines(&long);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].chars().count(), LABEL_LINE);
        assert!(lines[1].ends_with('…') && lines[1].chars().count() == LABEL_LINE);
        assert_eq!(path_class("edge", None), "edge");
        assert_eq!(path_class("edge", Some(&vec![1, 3])), "edge on-path v1 v3");
    }
}
