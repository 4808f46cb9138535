//! Shared text formatting of exchanges and reproduction paths.

use std::path::Path;
use venom_engine::{Exchange, PathStep, Severity, Violation};

/// `METHOD url -> status` (or `-> no response`; `(body truncated)` when only its beginning
/// was kept); a request of a concurrent step ends with when it went out and ended, counted
/// from the moment the step released its requests together: `[together: sent +14µs, done
/// +21.30ms]`.
pub fn format_exchange(exchange: &Exchange) -> String {
    let line = exchange_line(exchange);
    match &exchange.together {
        Some(t) => format!(
            "{line}   [together: sent +{}µs, done +{:.2}ms]",
            t.sent_us,
            t.done_us as f64 / 1000.0
        ),
        None => line,
    }
}

fn exchange_line(exchange: &Exchange) -> String {
    let req = &exchange.request;
    match &exchange.response {
        Some(resp) if resp.truncated => format!(
            "{} {} -> {} (body truncated)",
            req.method, req.url, resp.status
        ),
        Some(resp) => format!("{} {} -> {}", req.method, req.url, resp.status),
        None => format!("{} {} -> no response", req.method, req.url),
    }
}

/// The heading of a violation's path: `shortest path (3 steps):` when no shorter sequence
/// breaks the invariant (a breadth-first run that explored everything up to its limits);
/// `shortest found (3 steps, 1-minimal[, shrunk from 5]):` when replays showed that no single
/// step can be dropped; else `shortest found (3 steps; not proved minimal):`.
pub fn path_heading(violation: &Violation) -> String {
    let steps = violation.path.len();
    let plural = if steps == 1 { "" } else { "s" };
    let shrunk = violation
        .shrunk_from
        .map(|from| format!(", shrunk by replay from {from}"))
        .unwrap_or_default();
    if violation.proved_shortest {
        format!("shortest path ({steps} step{plural}):")
    } else if violation.one_minimal {
        format!("shortest found ({steps} step{plural}, 1-minimal{shrunk}):")
    } else {
        format!("shortest found ({steps} step{plural}{shrunk}; not proved minimal):")
    }
}

/// The numbered reproduction path, one line per step, each indented by `indent`:
/// `  1. create_order   POST http://…/orders -> 201`. Action names are padded to one width; a
/// step that sent several requests has one line per request, the later ones aligned under the
/// first. An empty path gives a single line saying the invariant is broken in the initial state.
pub fn format_path(path: &[PathStep], indent: &str) -> Vec<String> {
    if path.is_empty() {
        return vec![format!("{indent}(broken in the initial state, no actions)")];
    }
    let width = path
        .iter()
        .map(|s| s.action.chars().count())
        .max()
        .unwrap_or(0);
    let num_width = path.len().to_string().len();
    let mut lines = Vec::new();
    for (i, step) in path.iter().enumerate() {
        let n = i + 1;
        let mut exchanges = step.earlier.iter().chain(&step.exchange);
        let Some(first) = exchanges.next() else {
            lines.push(format!("{indent}{n:>num_width$}. {}", step.action));
            continue;
        };
        lines.push(format!(
            "{indent}{n:>num_width$}. {:<width$}   {}",
            step.action,
            format_exchange(first)
        ));
        let under = " ".repeat(num_width + 2 + width + 3);
        for later in exchanges {
            lines.push(format!("{indent}{under}{}", format_exchange(later)));
        }
    }
    lines
}

/// Where a violation broke its invariant: `broken by: ACTION` (the path's last step), `broken
/// in the initial state`, or, for an invariant checked before each action, in the state the
/// path reaches.
pub(crate) fn broken_where(violation: &venom_engine::Violation) -> String {
    match (&violation.action, violation.path.is_empty()) {
        (Some(action), _) => format!("broken by: {action}"),
        (None, true) => "broken in the initial state".to_string(),
        (None, false) => "broken in the state its path reaches, before an action".to_string(),
    }
}

/// The upper-case tag shown between brackets for a severity: `CRITICAL`.
pub(crate) fn severity_tag(severity: Severity) -> String {
    severity.as_str().to_ascii_uppercase()
}

/// The command that replays violation number `number` (1-based, as numbered in the console
/// summary and in `exploration.violations` order) from the JSON report at `report_path`:
/// `venom replay results.json --violation 1`. The path is shell-quoted when it needs to be.
pub fn replay_hint(report_path: &Path, number: usize) -> String {
    let path = report_path.to_string_lossy();
    format!("venom replay {} --violation {number}", shell_quote(&path))
}

/// `text` unchanged when it is safe as a single POSIX shell word, otherwise single-quoted.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,%".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_hint_quotes_only_when_needed() {
        assert_eq!(
            replay_hint(Path::new("out/results.json"), 2),
            "venom replay out/results.json --violation 2"
        );
        assert_eq!(
            replay_hint(Path::new("my results/it's.json"), 1),
            "venom replay 'my results/it'\\''s.json' --violation 1"
        );
    }
}
