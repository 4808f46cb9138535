//! Evaluating the scenario's thresholds against measured statistics, at the end of a run and,
//! with `abort_on_fail`, while it runs.

use crate::summary::{
    ActionStats, IntervalStats, Percentiles, Stats, ThresholdResult, ThresholdStatus,
};
use venom_scenario::{Dimension, Scope, Stat, ThresholdSpec};

/// Fewest samples behind a non-monotonic statistic (percentiles, mean, error rate) before a
/// failing threshold may abort the run early.
pub const ABORT_MIN_SAMPLES: u64 = 100;

/// The statistics a threshold reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured<'a> {
    /// All requests.
    pub overall: &'a Stats,
    /// Per action.
    pub actions: &'a [ActionStats],
    /// Per interval (for drift).
    pub intervals: &'a [IntervalStats],
}

impl Measured<'_> {
    fn stats(&self, scope: &Scope) -> Option<&Stats> {
        match scope {
            Scope::Http => Some(self.overall),
            Scope::Action(name) => self
                .actions
                .iter()
                .find(|a| &a.name == name)
                .map(|a| &a.stats),
        }
    }

    /// The threshold's metric in its unit (ms, fraction, plain); `None` without data.
    fn value(&self, spec: &ThresholdSpec) -> Option<f64> {
        let stat = spec.metric.stat;
        if stat == Stat::Drift {
            return drift(self.intervals, &spec.metric.scope);
        }
        let stats = self.stats(&spec.metric.scope);
        match stat {
            Stat::Count => Some(stats.map_or(0.0, |s| s.count as f64)),
            Stat::Rps => Some(stats.map_or(0.0, |s| s.rps)),
            Stat::ErrorRate => stats.filter(|s| s.count > 0).map(|s| s.error_rate),
            Stat::StatusCount(code) => Some(stats.map_or(0.0, |s| s.status_count(code) as f64)),
            Stat::StatusRate(code) => Some(stats.map_or(0.0, |s| s.status_rate(code))),
            Stat::TtfbP95 => stats.and_then(|s| s.ttfb_ms.as_ref()).map(|p| p.p95),
            Stat::TtfbP99 => stats.and_then(|s| s.ttfb_ms.as_ref()).map(|p| p.p99),
            Stat::GapP50 | Stat::GapP95 | Stat::GapP99 | Stat::GapMax => {
                let gaps = stats.and_then(|s| s.stream.as_ref()?.gap_ms.as_ref())?;
                Some(match stat {
                    Stat::GapP50 => gaps.p50,
                    Stat::GapP95 => gaps.p95,
                    Stat::GapP99 => gaps.p99,
                    _ => gaps.max,
                })
            }
            Stat::StreamP95 => stats
                .and_then(|s| s.stream.as_ref()?.duration_ms.as_ref())
                .map(|p| p.p95),
            Stat::ChunksPerS => stats
                .and_then(|s| s.stream.as_ref())
                .map(|s| s.chunks_per_s),
            _ => stats
                .and_then(|s| s.latency_ms.as_ref())
                .and_then(|p| latency(p, stat)),
        }
    }
}

fn latency(p: &Percentiles, stat: Stat) -> Option<f64> {
    Some(match stat {
        Stat::Min => p.min,
        Stat::Mean => p.mean,
        Stat::P50 => p.p50,
        Stat::P90 => p.p90,
        Stat::P95 => p.p95,
        Stat::P99 => p.p99,
        Stat::P999 => p.p99_9,
        Stat::Max => p.max,
        _ => return None,
    })
}

/// Relative change of the median latency of `scope` from its first to its last full interval
/// with requests; `None` with fewer than two such intervals or a zero first median.
fn drift(intervals: &[IntervalStats], scope: &Scope) -> Option<f64> {
    let medians: Vec<f64> = intervals
        .iter()
        .filter(|i| i.full)
        .filter_map(|i| match scope {
            Scope::Http => i.overall.latency_ms.as_ref(),
            Scope::Action(name) => i.actions.get(name).and_then(|w| w.latency_ms.as_ref()),
        })
        .map(|p| p.p50)
        .collect();
    match medians.as_slice() {
        [first, .., last] if *first > 0.0 => Some((last - first) / first),
        _ => None,
    }
}

/// Evaluates every threshold.
pub(crate) fn evaluate(specs: &[ThresholdSpec], measured: &Measured<'_>) -> Vec<ThresholdResult> {
    specs.iter().map(|spec| result(spec, measured)).collect()
}

fn result(spec: &ThresholdSpec, measured: &Measured<'_>) -> ThresholdResult {
    let value = measured.value(spec);
    ThresholdResult {
        key: spec.key.clone(),
        condition: spec.condition.clone(),
        measured: value,
        shown: value.map_or_else(|| "no data".into(), |v| show(spec.metric.stat, v)),
        status: match value {
            None => ThresholdStatus::NoData,
            Some(v) if spec.holds(v) => ThresholdStatus::Pass,
            Some(_) => ThresholdStatus::Fail,
        },
    }
}

/// A value of `stat` for people.
pub(crate) fn show(stat: Stat, value: f64) -> String {
    match (stat, stat.dimension()) {
        (Stat::Drift, _) => format!("{:+.2} %", value * 100.0),
        (_, Dimension::Time) => format!("{value:.2} ms"),
        (_, Dimension::Ratio) => format!("{:.2} %", value * 100.0),
        (Stat::Rps | Stat::StatusRate(_) | Stat::ChunksPerS, _) => format!("{value:.1}/s"),
        _ => format!("{value}"),
    }
}

/// The first threshold that is already certainly broken by the run so far: a count or maximum
/// over its upper bound or a minimum under its lower bound (they can only get worse), or any
/// percentile, mean or error rate failing with at least [`ABORT_MIN_SAMPLES`] samples. Rates and
/// drift are only judged at the end.
pub(crate) fn certainly_broken<'a>(
    specs: &'a [ThresholdSpec],
    measured: &Measured<'_>,
) -> Option<&'a ThresholdSpec> {
    specs.iter().find(|spec| {
        let stat = spec.metric.stat;
        let Some(value) = measured.value(spec) else {
            return false;
        };
        if spec.holds(value) {
            return false;
        }
        let samples = measured
            .stats(&spec.metric.scope)
            .map_or(0, |s| match stat {
                Stat::ErrorRate | Stat::Count => s.count,
                _ => s.latency_ms.as_ref().map_or(0, |p| p.count),
            });
        match stat {
            Stat::Count | Stat::Max | Stat::StatusCount(_) => spec.op.is_upper_bound(),
            Stat::Min => !spec.op.is_upper_bound(),
            Stat::Rps | Stat::Drift | Stat::StatusRate(_) | Stat::ChunksPerS => false,
            _ => samples >= ABORT_MIN_SAMPLES,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::WindowStats;
    use std::collections::BTreeMap;

    fn spec(key: &str, condition: &str) -> ThresholdSpec {
        ThresholdSpec::parse(key, condition).unwrap_or_else(|e| panic!("{e}"))
    }

    fn percentiles(p50: f64, count: u64) -> Percentiles {
        Percentiles {
            count,
            min: p50 / 2.0,
            mean: p50,
            p50,
            p90: p50 * 1.5,
            p95: p50 * 2.0,
            p99: p50 * 3.0,
            p99_9: p50 * 4.0,
            max: p50 * 5.0,
        }
    }

    fn stats(count: u64, errors: u64, p50: f64) -> Stats {
        Stats {
            count,
            errors,
            error_rate: errors as f64 / count as f64,
            rps: count as f64 / 10.0,
            latency_ms: Some(percentiles(p50, count)),
            ..Stats::default()
        }
    }

    fn interval(p50: f64, full: bool) -> IntervalStats {
        IntervalStats {
            start_s: 0.0,
            end_s: 1.0,
            full,
            overall: WindowStats {
                count: 10,
                errors: 0,
                rps: 10.0,
                latency_ms: Some(percentiles(p50, 10)),
                statuses: BTreeMap::new(),
                latency_histogram: None,
            },
            actions: BTreeMap::new(),
        }
    }

    #[test]
    fn thresholds_pass_fail_and_lack_data() {
        let overall = stats(1000, 20, 10.0);
        let actions = [ActionStats {
            name: "pay".into(),
            stats: stats(500, 0, 30.0),
        }];
        let intervals = [
            interval(10.0, true),
            interval(11.0, true),
            interval(50.0, false),
        ];
        let m = Measured {
            overall: &overall,
            actions: &actions,
            intervals: &intervals,
        };
        let results = evaluate(
            &[
                spec("http.p95", "< 25ms"),
                spec("pay.p95", "< 25ms"),
                spec("http.error_rate", "< 1%"),
                spec("http.error_rate", "<= 2%"),
                spec("http.rps", "> 50"),
                spec("pay.count", ">= 500"),
                spec("create.p95", "< 1ms"),
                spec("create.count", "< 1"),
                spec("drift", "< 25%"),
                spec("pay.drift", "< 25%"),
            ],
            &m,
        );
        let statuses: Vec<_> = results.iter().map(|r| r.status).collect();
        use ThresholdStatus::*;
        assert_eq!(
            statuses,
            [Pass, Fail, Fail, Pass, Pass, Pass, NoData, Pass, Pass, NoData]
        );
        assert_eq!(results[1].shown, "60.00 ms");
        assert_eq!(results[2].shown, "2.00 %");
        assert_eq!(results[4].shown, "100.0/s");
        // Drift compares full intervals only: 10 → 11 ms.
        assert_eq!(results[8].shown, "+10.00 %");
        assert!((results[8].measured.unwrap_or(0.0) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn early_abort_needs_certainty() {
        let few = stats(50, 25, 10.0);
        let many = stats(200, 100, 10.0);
        let m = |overall| Measured {
            overall,
            actions: &[],
            intervals: &[],
        };
        let rate = [spec("http.error_rate", "< 1%")];
        assert!(certainly_broken(&rate, &m(&few)).is_none());
        assert!(certainly_broken(&rate, &m(&many)).is_some());
        // A maximum or a count over an upper bound can only get worse.
        let max = [spec("http.max", "< 1ms")];
        assert!(certainly_broken(&max, &m(&few)).is_some());
        let count = [spec("http.count", ">= 1000")];
        assert!(certainly_broken(&count, &m(&many)).is_none());
        let rps = [spec("http.rps", "> 1000")];
        assert!(certainly_broken(&rps, &m(&many)).is_none());
    }

    #[test]
    fn status_counts_and_rates_per_action_and_overall() {
        let mut limited = stats(100, 30, 5.0);
        limited.statuses = BTreeMap::from([("201".to_string(), 70), ("429".to_string(), 30)]);
        let overall = limited.clone();
        let actions = [ActionStats {
            name: "create_order".into(),
            stats: limited,
        }];
        let measured = Measured {
            overall: &overall,
            actions: &actions,
            intervals: &[],
        };
        let specs = [
            spec("create_order.status_429.rate", "> 0"),
            spec("create_order.status_429.count", "<= 29"),
            spec("http.status_201.count", ">= 70"),
            spec("http.status_500.count", "< 1"),
            spec("other.status_429.rate", "> 0"),
        ];
        let results = evaluate(&specs, &measured);
        let got: Vec<(Option<f64>, ThresholdStatus)> =
            results.iter().map(|r| (r.measured, r.status)).collect();
        // 100 requests over 10 s, 30 of them 429: 3 per second.
        assert_eq!(
            got,
            [
                (Some(3.0), ThresholdStatus::Pass),
                (Some(30.0), ThresholdStatus::Fail),
                (Some(70.0), ThresholdStatus::Pass),
                (Some(0.0), ThresholdStatus::Pass),
                (Some(0.0), ThresholdStatus::Fail),
            ]
        );
        assert_eq!(results[0].shown, "3.0/s");
        // A count over its upper bound can only grow: the run may stop early.
        let broken = certainly_broken(&specs, &measured).map(|s| s.key.as_str());
        assert_eq!(broken, Some("create_order.status_429.count"));
    }
}
