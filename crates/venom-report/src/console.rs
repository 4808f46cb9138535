//! The plain-text console summary printed at the end of a run.

use crate::path::{
    broken_where, format_exchange, format_path, path_heading, replay_hint, severity_tag,
};
use crate::report::RunReport;
use std::fmt::Write as _;
use std::path::Path;
use venom_engine::{Severity, StopReason, Violation};

/// Renders the end-of-run summary as plain text (no colours), one `\n`-terminated line each.
///
/// In order: a header (tool version, target, strategy, rollback mechanism), the stop reason, the
/// exploration figures (steps, states, transitions, max depth), action coverage with per-action
/// run counts (actions that never ran are flagged), duration and steps per second, warnings,
/// then every violation numbered as in the JSON report — `[CRITICAL] invariant — message`, the
/// action that broke it, occurrences, the shortest reproduction path and, when `json_path` is
/// given, the `venom replay` command for it — and a final verdict line such as
/// `3 violations (2 at or above high)` or `no violations`, where the level is `fail_on`.
///
/// The output depends only on the arguments.
pub fn render_console(report: &RunReport, fail_on: Severity, json_path: Option<&Path>) -> String {
    let mut out = String::new();
    let ex = &report.exploration;

    line(
        &mut out,
        format!(
            "venom {} | target {} | strategy {} | rollback {}",
            report.tool_version, report.target, ex.strategy, ex.mechanism
        ),
    );
    line(&mut out, format!("stopped: {}", ex.stop));
    line(
        &mut out,
        format!(
            "steps {} | states {} | transitions {} | max depth {}",
            ex.steps, ex.states, ex.transitions, ex.max_depth
        ),
    );
    render_coverage(&mut out, report);
    line(
        &mut out,
        format!(
            "duration {} | {}",
            format_duration(ex.duration_secs),
            steps_per_sec(ex.steps, ex.duration_secs)
        ),
    );
    render_workers(&mut out, ex);

    if !ex.warnings.is_empty() {
        out.push('\n');
        line(&mut out, format!("warnings ({}):", ex.warnings.len()));
        for warning in &ex.warnings {
            push_indented(&mut out, "  - ", "    ", warning);
        }
    }

    if !ex.violations.is_empty() {
        out.push('\n');
        line(&mut out, format!("violations ({}):", ex.violations.len()));
        let num_width = ex.violations.len().to_string().len();
        for (i, violation) in ex.violations.iter().enumerate() {
            out.push('\n');
            render_violation(&mut out, violation, i + 1, num_width, json_path);
        }
    }

    out.push('\n');
    line(&mut out, verdict(report, fail_on));
    out
}

/// One line per worker of a parallel run: its steps, replays and how busy it was.
fn render_workers(out: &mut String, ex: &venom_engine::Exploration) {
    if ex.workers.is_empty() {
        return;
    }
    line(out, format!("workers {}:", ex.workers.len()));
    for worker in &ex.workers {
        let busy = match ex.duration_secs > 0.0 {
            true => format_percent((worker.busy_secs / ex.duration_secs).min(1.0)),
            false => "-".to_string(),
        };
        line(
            out,
            format!(
                "  worker {}: steps {} | replayed {} | borrowed {} | busy {busy}",
                worker.worker, worker.steps, worker.replayed, worker.borrowed
            ),
        );
    }
}

fn render_coverage(out: &mut String, report: &RunReport) {
    let ex = &report.exploration;
    let ran = ex.actions.iter().filter(|a| a.runs > 0).count();
    line(
        out,
        format!(
            "coverage {} ({ran}/{} actions run)",
            format_percent(ex.coverage),
            ex.actions.len()
        ),
    );
    let name_width = ex
        .actions
        .iter()
        .map(|a| a.action.chars().count())
        .max()
        .unwrap_or(0);
    let runs_width = ex
        .actions
        .iter()
        .map(|a| a.runs.to_string().len())
        .max()
        .unwrap_or(0);
    for action in &ex.actions {
        let mut text = format!(
            "  {:<name_width$}  {:>runs_width$}",
            action.action, action.runs
        );
        if action.runs == 0 {
            text.push_str("  never run");
            if let Some(why) = &action.never_run {
                text.push_str(&format!(": {why}"));
            }
        }
        line(out, text);
    }
}

fn render_violation(
    out: &mut String,
    violation: &Violation,
    number: usize,
    num_width: usize,
    json_path: Option<&Path>,
) {
    let first = format!("{number:>num_width$}. ");
    let indent = " ".repeat(first.len());
    let title = format!(
        "[{}] {} — {}",
        severity_tag(violation.severity),
        violation.invariant,
        violation.message
    );
    push_indented(out, &first, &indent, &title);
    line(out, format!("{indent}{}", broken_where(violation)));
    line(
        out,
        format!("{indent}occurrences: {}", violation.occurrences),
    );
    if let Some(evidence) = &violation.evidence {
        line(
            out,
            format!("{indent}evidence: {}", format_exchange(evidence)),
        );
    }
    line(out, format!("{indent}{}", path_heading(violation)));
    for step in format_path(&violation.path, &format!("{indent}  ")) {
        line(out, step);
    }
    if let Some(json) = json_path {
        line(
            out,
            format!("{indent}replay: {}", replay_hint(json, number)),
        );
    }
}

/// The verdict line: how many violations, how many at or above `fail_on`, and whether the
/// exploration was cut short.
pub(crate) fn verdict(report: &RunReport, fail_on: Severity) -> String {
    let ex = &report.exploration;
    let total = ex.violations.len();
    let mut text = if total == 0 {
        "no violations".to_string()
    } else {
        let failing = ex
            .violations
            .iter()
            .filter(|v| v.severity >= fail_on)
            .count();
        format!(
            "{total} violation{} ({failing} at or above {fail_on})",
            if total == 1 { "" } else { "s" }
        )
    };
    match &ex.stop {
        StopReason::Interrupted | StopReason::Aborted(_) => {
            let _ = write!(text, "; exploration incomplete ({})", ex.stop);
        }
        _ => {}
    }
    text
}

/// `80%` (`n/a` when not finite).
pub(crate) fn format_percent(fraction: f64) -> String {
    if fraction.is_finite() {
        format!("{:.0}%", fraction * 100.0)
    } else {
        "n/a".to_string()
    }
}

/// `2.50s` (`n/a` when not finite or negative).
pub(crate) fn format_duration(secs: f64) -> String {
    if secs.is_finite() && secs >= 0.0 {
        format!("{secs:.2}s")
    } else {
        "n/a".to_string()
    }
}

/// `100.0 steps/s` (`n/a steps/s` without a duration).
pub(crate) fn steps_per_sec(steps: u64, secs: f64) -> String {
    if secs.is_finite() && secs > 0.0 {
        format!("{:.1} steps/s", steps as f64 / secs)
    } else {
        "n/a steps/s".to_string()
    }
}

fn line(out: &mut String, text: impl AsRef<str>) {
    out.push_str(text.as_ref());
    out.push('\n');
}

/// Pushes `text` with `first` before its first line and `rest` before every following line.
fn push_indented(out: &mut String, first: &str, rest: &str, text: &str) {
    let mut lines = text.lines();
    line(out, format!("{first}{}", lines.next().unwrap_or("")));
    for next in lines {
        line(out, format!("{rest}{next}"));
    }
}
