//! The Markdown summary: short enough for a pull-request comment or `$GITHUB_STEP_SUMMARY`.

use crate::console::{format_duration, format_percent, steps_per_sec, verdict};
use crate::error::ReportError;
use crate::fs::write_report;
use crate::path::{format_path, path_heading, replay_hint, severity_tag};
use crate::report::RunReport;
use std::fmt::Write as _;
use std::path::Path;
use venom_engine::Severity;

/// Writes [`render_markdown`] of `report` to `path`, atomically. Errors name the file.
pub fn write_markdown(
    report: &RunReport,
    path: &Path,
    fail_on: Severity,
    json_path: Option<&Path>,
) -> Result<(), ReportError> {
    let text = render_markdown(report, fail_on, json_path);
    write_report(path, text.as_bytes())
}

/// Renders the summary: a heading with the verdict (the level is `fail_on`), the run's settings,
/// stop reason and figures, a table of the violations with their shortest paths (numbered as in
/// the JSON report), each path's requests and — when `json_path` (the JSON report) is given —
/// its `venom replay` command in a collapsed section, the coverage per action (with why an
/// action never ran), and the warnings. Text from the run is escaped, so a message or a
/// response cannot break the table or add markup. The output depends only on the arguments.
pub fn render_markdown(report: &RunReport, fail_on: Severity, json_path: Option<&Path>) -> String {
    let ex = &report.exploration;
    let mut out = String::new();
    let _ = writeln!(out, "### venom: {}\n", cell(&verdict(report, fail_on)));
    let _ = writeln!(
        out,
        "{} · strategy `{}` · rollback {} · stopped: {}  ",
        cell(&report.target.to_string()),
        ex.strategy,
        cell(&ex.mechanism),
        cell(&ex.stop.to_string())
    );
    let _ = writeln!(
        out,
        "{} steps · {} states · {} transitions · max depth {} · {} · {}\n",
        ex.steps,
        ex.states,
        ex.transitions,
        ex.max_depth,
        format_duration(ex.duration_secs),
        steps_per_sec(ex.steps, ex.duration_secs)
    );
    if !ex.violations.is_empty() {
        render_violations(&mut out, report, json_path);
    }
    let ran = ex.actions.iter().filter(|a| a.runs > 0).count();
    let _ = writeln!(
        out,
        "#### Coverage: {} ({ran}/{} actions run)\n",
        format_percent(ex.coverage),
        ex.actions.len()
    );
    out.push_str("| action | runs | |\n|---|--:|---|\n");
    for action in &ex.actions {
        let note = action
            .never_run
            .as_deref()
            .map(|why| format!("never run: {}", cell(why)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {note} |",
            cell(&action.action),
            action.runs
        );
    }
    if !ex.warnings.is_empty() {
        let _ = writeln!(out, "\n#### Warnings\n");
        for warning in &ex.warnings {
            let _ = writeln!(out, "- {}", cell(warning));
        }
    }
    out
}

fn render_violations(out: &mut String, report: &RunReport, json_path: Option<&Path>) {
    let ex = &report.exploration;
    let _ = writeln!(out, "#### Violations\n");
    out.push_str("| # | severity | invariant | message | shortest path | seen |\n");
    out.push_str("|--:|---|---|---|---|--:|\n");
    for (i, violation) in ex.violations.iter().enumerate() {
        let actions: Vec<String> = violation.path.iter().map(|s| cell(&s.action)).collect();
        let path = match actions.len() {
            0 => "(initial state)".to_string(),
            steps => format!("{} ({steps})", actions.join(" → ")),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {path} | {} |",
            i + 1,
            severity_tag(violation.severity),
            cell(&violation.invariant),
            cell(&violation.message),
            violation.occurrences
        );
    }
    let _ = writeln!(out, "\n<details><summary>Reproduction paths</summary>\n");
    for (i, violation) in ex.violations.iter().enumerate() {
        let _ = writeln!(
            out,
            "**{}. {}**, {}\n",
            i + 1,
            cell(&violation.invariant),
            path_heading(violation)
        );
        let lines = format_path(&violation.path, "").join("\n");
        let fence = fence_for(&lines);
        let _ = writeln!(out, "{fence}text\n{lines}\n{fence}\n");
        if let Some(json) = json_path {
            let _ = writeln!(out, "`{}`\n", replay_hint(json, i + 1));
        }
    }
    let _ = writeln!(out, "</details>\n");
}

/// `text` fit for one table cell or line: on one line, `|` escaped, and `<`, `>`, `&`, `` ` ``,
/// `*`, `_`, `[`, `]` and `\` taken literally.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '`' | '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_stay_on_one_line_and_take_markup_literally() {
        assert_eq!(
            cell("a|b\n<script>&`x`*y*_z_[l](u)\\"),
            "a\\|b &lt;script&gt;&amp;\\`x\\`\\*y\\*\\_z\\_\\[l\\](u)\\\\"
        );
    }

    #[test]
    fn fences_outlast_the_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b ` c"), "`````");
    }
}
