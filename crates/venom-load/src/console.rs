//! The console report: plan, per-action table, errors, thresholds and baseline verdicts.

use crate::open::LATE_AFTER;
use crate::summary::{LoadSummary, Percentiles, Stats, ThresholdStatus};
use std::fmt::Write as _;

/// Renders `summary` for the terminal; `outputs` lists the report files written.
pub fn render_console(summary: &LoadSummary, outputs: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "venom load {}: {}",
        summary.scenario, summary.plan.description
    );
    let _ = writeln!(
        out,
        "ran {:.1}s ({}); {} requests, {} errors ({:.2} %), {:.1} req/s",
        summary.elapsed_s,
        summary.stop,
        summary.overall.count,
        summary.overall.errors,
        summary.overall.error_rate * 100.0,
        summary.overall.rps
    );
    for flow in &summary.flows {
        let _ = writeln!(
            out,
            "flow {}: {} iterations, {} failed",
            flow.name, flow.iterations, flow.failed
        );
    }
    out.push('\n');
    let open = summary.plan.is_open();
    let heading = if open {
        "latency in ms, from the intended send time (open model)"
    } else {
        "latency in ms"
    };
    let _ = writeln!(out, "{heading}");
    table(&mut out, summary, |s| s.latency_ms.as_ref(), true);
    if open {
        let _ = writeln!(out, "\nservice time in ms, from the actual send");
        table(&mut out, summary, |s| s.service_ms.as_ref(), false);
    }

    let errors: Vec<String> = summary
        .actions
        .iter()
        .filter(|a| a.stats.errors > 0)
        .map(|a| format!("{} {}", a.name, kinds(&a.stats)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nerrors: {}", errors.join("; "));
    }
    for failure in &summary.failures {
        let _ = writeln!(out, "  e.g. {failure}");
    }
    if let Some(o) = &summary.open {
        let _ = writeln!(
            out,
            "\nschedule: {} iterations intended, {} started, {} late (> {} ms), {} dropped, max lag {:.1} ms",
            o.scheduled,
            o.started,
            o.late,
            LATE_AFTER.as_millis(),
            o.dropped,
            o.max_lag_ms
        );
    }
    if !summary.thresholds.is_empty() {
        let _ = writeln!(out, "\nthresholds:");
        let width = summary
            .thresholds
            .iter()
            .map(|t| t.key.len() + t.condition.len() + 1)
            .max()
            .unwrap_or(0);
        for t in &summary.thresholds {
            let verdict = match t.status {
                ThresholdStatus::Pass => "PASS",
                ThresholdStatus::Fail => "FAIL",
                ThresholdStatus::NoData => "----",
            };
            let _ = writeln!(
                out,
                "  {verdict}  {:width$}  measured {}",
                format!("{} {}", t.key, t.condition),
                t.shown
            );
        }
    }
    if !summary.overall.statuses.is_empty() {
        let _ = writeln!(out, "\nstatuses (count, per second):");
    }
    let scopes = std::iter::once(("all", &summary.overall))
        .chain(summary.actions.iter().map(|a| (a.name.as_str(), &a.stats)));
    for (name, stats) in scopes.filter(|(_, s)| !s.statuses.is_empty()) {
        let codes: Vec<String> = stats
            .statuses
            .iter()
            .filter_map(|(code, n)| {
                let rate = stats.status_rate(code.parse().ok()?);
                Some(format!("{code} ×{n} ({rate:.1}/s)"))
            })
            .collect();
        let _ = writeln!(out, "  {name}: {}", codes.join(", "));
    }
    let streamed: Vec<(&str, &crate::summary::StreamStats)> = summary
        .actions
        .iter()
        .filter_map(|a| Some((a.name.as_str(), a.stats.stream.as_ref()?)))
        .collect();
    if !streamed.is_empty() {
        let _ = writeln!(out, "\nstreams:");
        for (name, s) in streamed {
            let ms = |p: Option<&crate::summary::Percentiles>,
                      f: fn(&crate::summary::Percentiles) -> f64| {
                p.map_or_else(|| "-".to_string(), |p| format!("{:.2}", f(p)))
            };
            let gaps = s.gap_ms.as_ref();
            let _ = writeln!(
                out,
                "  {name}: {} response(s), {} chunks, {:.1} chunks/s; gap ms p50 {} p95 {} p99 {} max {}; stream p95 {} ms",
                s.responses,
                s.chunks,
                s.chunks_per_s,
                ms(gaps, |p| p.p50),
                ms(gaps, |p| p.p95),
                ms(gaps, |p| p.p99),
                ms(gaps, |p| p.max),
                ms(s.duration_ms.as_ref(), |p| p.p95),
            );
        }
    }
    if !summary.checks.is_empty() {
        let _ = writeln!(out, "\ninvariants checked under load:");
        for c in &summary.checks {
            let _ = match &c.broken {
                None => writeln!(out, "  holds   {:>7.1} s  {}", c.at_s, c.invariant),
                Some(why) => writeln!(out, "  BROKEN  {:>7.1} s  {}: {why}", c.at_s, c.invariant),
            };
        }
    }
    if let Some(b) = &summary.baseline {
        let _ = writeln!(
            out,
            "\nbaseline {} (tolerance {:.1} %): {} of {} metrics regressed",
            b.file,
            b.tolerance * 100.0,
            b.regressions(),
            b.comparisons.len()
        );
        for c in b.comparisons.iter().filter(|c| c.regressed) {
            let (then, now) = if c.metric.ends_with("error_rate") {
                (
                    format!("{:.2} %", c.baseline * 100.0),
                    format!("{:.2} %", c.current * 100.0),
                )
            } else if c.metric.ends_with("rps") {
                (
                    format!("{:.1}/s", c.baseline),
                    format!("{:.1}/s", c.current),
                )
            } else {
                (
                    format!("{:.2} ms", c.baseline),
                    format!("{:.2} ms", c.current),
                )
            };
            let _ = writeln!(
                out,
                "  REGRESSION  {}: {then} -> {now} ({:+.1} %)",
                c.metric,
                c.change * 100.0
            );
        }
    }
    if !outputs.is_empty() {
        out.push('\n');
    }
    for file in outputs {
        let _ = writeln!(out, "wrote {file}");
    }
    let failed = summary.failed_thresholds().count();
    let regressed = summary.baseline.as_ref().map_or(0, |b| b.regressions());
    let broken = summary.checks.iter().filter(|c| c.broken.is_some()).count();
    let verdict = if failed == 0 && regressed == 0 && broken == 0 {
        "PASS".to_string()
    } else {
        let mut why = Vec::new();
        if failed > 0 {
            why.push(format!("{failed} threshold(s) failed"));
        }
        if regressed > 0 {
            why.push(format!("{regressed} baseline metric(s) regressed"));
        }
        if broken > 0 {
            why.push(format!("{broken} invariant check(s) broke"));
        }
        format!("FAIL ({})", why.join(", "))
    };
    let _ = writeln!(out, "\nresult: {verdict}");
    out
}

/// A per-action table of one latency distribution, with an `all` row.
fn table(
    out: &mut String,
    summary: &LoadSummary,
    pick: impl Fn(&Stats) -> Option<&Percentiles>,
    counts: bool,
) {
    let width = summary
        .actions
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut header = format!("  {:width$}", "action");
    if counts {
        header.push_str(&format!("{:>9}{:>8}{:>9}", "count", "errors", "rps"));
    }
    for col in ["min", "p50", "p90", "p95", "p99", "p99.9", "max"] {
        header.push_str(&format!("{col:>9}"));
    }
    if counts {
        header.push_str(&format!("{:>10}{:>10}", "ttfb p50", "ttfb p95"));
    }
    let _ = writeln!(out, "{header}");
    let rows = summary
        .actions
        .iter()
        .map(|a| (a.name.as_str(), &a.stats))
        .chain([("all", &summary.overall)]);
    for (name, stats) in rows {
        let mut line = format!("  {name:width$}");
        if counts {
            line.push_str(&format!(
                "{:>9}{:>8}{:>9.1}",
                stats.count, stats.errors, stats.rps
            ));
        }
        match pick(stats) {
            Some(p) => {
                for v in [p.min, p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max] {
                    line.push_str(&format!("{v:>9.2}"));
                }
            }
            None => line.push_str(&format!("{:>63}", "no latency recorded")),
        }
        if counts {
            match &stats.ttfb_ms {
                Some(t) => line.push_str(&format!("{:>10.2}{:>10.2}", t.p50, t.p95)),
                None => line.push_str(&format!("{:>10}{:>10}", "-", "-")),
            }
        }
        let _ = writeln!(out, "{line}");
    }
}

/// `5xx 12, timeout 1`.
fn kinds(stats: &Stats) -> String {
    stats
        .errors_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
