//! Baselines: a saved run's JSON summary, compared metric by metric with a new run.
//!
//! Compared, for all requests (`http`) and every action present in both runs: the latency
//! p50, p95 and p99 and the error rate; and the overall throughput when both runs used the same
//! model (same users or rates). A metric regresses when it is worse than the baseline by more
//! than the tolerance (relative), and by more than a small absolute floor so that noise on tiny
//! values never fails a build: [`LATENCY_FLOOR_MS`] for latencies, [`ERROR_RATE_FLOOR`] for
//! error rates.

use crate::files::FileError;
use crate::summary::{BaselineReport, Comparison, LoadSummary, Stats, SUMMARY_KIND};
use std::path::Path;

/// Latency increases of at most this many milliseconds never count as regressions.
pub const LATENCY_FLOOR_MS: f64 = 1.0;
/// Error-rate increases of at most this fraction (0.1 percentage point) never count.
pub const ERROR_RATE_FLOOR: f64 = 0.001;

/// The largest summary file read (an hour-long soak with per-second intervals and their
/// histograms takes a few MiB).
pub const MAX_SUMMARY_BYTES: u64 = 256 << 20;

/// Reads a summary written by `--json` or `--save-baseline` (at most [`MAX_SUMMARY_BYTES`]).
pub fn read_baseline(path: &Path) -> Result<LoadSummary, FileError> {
    let read_error = |source| FileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::metadata(path).map_err(read_error)?.len();
    if bytes > MAX_SUMMARY_BYTES {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            bytes,
            limit: MAX_SUMMARY_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_error)?;
    let summary: LoadSummary =
        serde_json::from_str(&text).map_err(|source| FileError::NotSummary {
            path: path.to_path_buf(),
            line: source.line(),
            column: source.column(),
            source,
        })?;
    if summary.kind != SUMMARY_KIND {
        return Err(FileError::WrongKind {
            path: path.to_path_buf(),
            kind: summary.kind,
        });
    }
    Ok(summary)
}

/// Compares `current` with `baseline` (read from `file`), allowing `tolerance` (0.1 = 10 %).
pub fn compare(
    current: &LoadSummary,
    baseline: &LoadSummary,
    file: &str,
    tolerance: f64,
) -> BaselineReport {
    let mut comparisons = Vec::new();
    scope(
        "http",
        &current.overall,
        &baseline.overall,
        tolerance,
        &mut comparisons,
    );
    for action in &current.actions {
        if let Some(then) = baseline.action(&action.name) {
            scope(
                &action.name,
                &action.stats,
                then,
                tolerance,
                &mut comparisons,
            );
        }
    }
    if current.plan.model == baseline.plan.model && baseline.overall.rps > 0.0 {
        let (then, now) = (baseline.overall.rps, current.overall.rps);
        comparisons.push(Comparison {
            metric: "http.rps".into(),
            baseline: then,
            current: now,
            change: change(then, now),
            regressed: now < then * (1.0 - tolerance),
        });
    }
    BaselineReport {
        file: file.to_string(),
        tolerance,
        comparisons,
    }
}

fn scope(name: &str, now: &Stats, then: &Stats, tolerance: f64, out: &mut Vec<Comparison>) {
    if let (Some(now_l), Some(then_l)) = (&now.latency_ms, &then.latency_ms) {
        for (stat, n, t) in [
            ("p50", now_l.p50, then_l.p50),
            ("p95", now_l.p95, then_l.p95),
            ("p99", now_l.p99, then_l.p99),
        ] {
            out.push(Comparison {
                metric: format!("{name}.{stat}"),
                baseline: t,
                current: n,
                change: change(t, n),
                regressed: n > t * (1.0 + tolerance) && n - t > LATENCY_FLOOR_MS,
            });
        }
    }
    if now.count > 0 && then.count > 0 {
        let (t, n) = (then.error_rate, now.error_rate);
        out.push(Comparison {
            metric: format!("{name}.error_rate"),
            baseline: t,
            current: n,
            change: change(t, n),
            regressed: n > t * (1.0 + tolerance) && n - t > ERROR_RATE_FLOOR,
        });
    }
}

fn change(then: f64, now: f64) -> f64 {
    if then == 0.0 {
        0.0
    } else {
        (now - then) / then
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_larger_than_any_summary_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.json");
        // Sparse: no disk is used, and reading it would take 256 MiB of memory.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_SUMMARY_BYTES + 1).unwrap();
        match read_baseline(&path) {
            Err(FileError::TooLarge { bytes, .. }) => assert_eq!(bytes, MAX_SUMMARY_BYTES + 1),
            other => panic!("{other:?}"),
        }
    }
}
