//! `venom load merge`: the summaries of a run's segments (`--segment I/N` on N machines) joined
//! into the summary of the whole run. Counts add up; percentiles come from the segments'
//! histograms added together, never from averaged percentiles; the thresholds are evaluated
//! again on the result.

use crate::segment::Segment;
use crate::serialized::{HistogramError, SerializedHistogram};
use crate::summary::{
    ActionStats, FlowStats, Histograms, IntervalStats, LoadSummary, OpenStats, Percentiles, Stats,
    StopReason, StreamStats, WindowStats, SUMMARY_KIND,
};
use crate::threshold::{self, Measured};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use venom_scenario::ThresholdSpec;

/// Why summaries cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no summaries to merge")]
    Empty,
    /// A file is no run summary.
    #[error("summary {index}: its kind is `{kind}`, expected `{SUMMARY_KIND}`")]
    Kind {
        /// Its place among the inputs (from 1).
        index: usize,
        /// The kind it declares.
        kind: String,
    },
    /// The summaries come from different scenarios.
    #[error("summary {index} ran scenario `{found}`, the first ran `{expected}`: expected segments of one run")]
    Scenario {
        /// Its place among the inputs (from 1).
        index: usize,
        /// The first summary's scenario.
        expected: String,
        /// This one's.
        found: String,
    },
    /// The summaries are not the distinct segments of one split.
    #[error("{0}")]
    Segments(String),
    /// A summary has requests but no histograms (written before histograms were kept).
    #[error("summary {index} has no histograms: rerun it with this venom version")]
    NoHistograms {
        /// Its place among the inputs (from 1).
        index: usize,
    },
    /// A histogram cannot be read.
    #[error("summary {index}")]
    Histogram {
        /// Its place among the inputs (from 1).
        index: usize,
        /// Why.
        #[source]
        source: HistogramError,
    },
    /// A threshold kept in a summary no longer parses.
    #[error("threshold `{key}`: {message}")]
    Threshold {
        /// Its key.
        key: String,
        /// Why.
        message: String,
    },
}

/// Merges the summaries of the segments of one run. A single summary comes back as it is.
pub fn merge(summaries: &[LoadSummary]) -> Result<LoadSummary, MergeError> {
    let first = summaries.first().ok_or(MergeError::Empty)?;
    check(summaries)?;
    if summaries.len() == 1 {
        return Ok(first.clone());
    }
    let elapsed_s = summaries.iter().map(|s| s.elapsed_s).fold(0.0, f64::max);
    let all_stats: Vec<&Stats> = summaries.iter().map(|s| &s.overall).collect();
    let overall = merged_stats(&all_stats, elapsed_s)?;
    let mut names: Vec<&str> = Vec::new();
    for summary in summaries {
        for action in &summary.actions {
            if !names.contains(&action.name.as_str()) {
                names.push(&action.name);
            }
        }
    }
    let actions = names
        .iter()
        .map(|name| {
            let parts: Vec<&Stats> = summaries.iter().filter_map(|s| s.action(name)).collect();
            Ok(ActionStats {
                name: name.to_string(),
                stats: merged_stats(&parts, elapsed_s)?,
            })
        })
        .collect::<Result<Vec<_>, MergeError>>()?;
    let intervals = merged_intervals(summaries)?;
    let mut plan = first.plan.clone();
    plan.segment = None;
    plan.description = format!(
        "{} segments merged: {}",
        summaries.len(),
        first.plan.description
    );
    let mut merged = LoadSummary {
        kind: SUMMARY_KIND.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: first.scenario.clone(),
        plan,
        elapsed_s,
        stop: merged_stop(summaries),
        overall,
        actions,
        flows: merged_flows(summaries),
        open: merged_open(summaries),
        intervals,
        failures: merged_failures(summaries),
        thresholds: Vec::new(),
        baseline: None,
        checks: summaries.iter().flat_map(|s| s.checks.clone()).collect(),
    };
    let specs = first
        .thresholds
        .iter()
        .map(|t| {
            let condition = t.condition.trim_end_matches(" (default)");
            let mut spec =
                ThresholdSpec::parse(&t.key, condition).map_err(|e| MergeError::Threshold {
                    key: t.key.clone(),
                    message: e.message,
                })?;
            spec.condition = t.condition.clone();
            Ok(spec)
        })
        .collect::<Result<Vec<_>, MergeError>>()?;
    merged.thresholds = threshold::evaluate(
        &specs,
        &Measured {
            overall: &merged.overall,
            actions: &merged.actions,
            intervals: &merged.intervals,
        },
    );
    Ok(merged)
}

/// Fails unless the summaries are run summaries of one scenario, and (when more than one) the
/// distinct segments of one split, each with its histograms.
fn check(summaries: &[LoadSummary]) -> Result<(), MergeError> {
    let first = &summaries[0];
    for (i, s) in summaries.iter().enumerate() {
        let index = i + 1;
        if s.kind != SUMMARY_KIND {
            return Err(MergeError::Kind {
                index,
                kind: s.kind.clone(),
            });
        }
        if s.scenario != first.scenario {
            return Err(MergeError::Scenario {
                index,
                expected: first.scenario.clone(),
                found: s.scenario.clone(),
            });
        }
        if summaries.len() > 1 && s.overall.count > 0 && s.overall.histograms.is_empty() {
            return Err(MergeError::NoHistograms { index });
        }
    }
    if summaries.len() == 1 {
        return Ok(());
    }
    let segments: Vec<Option<Segment>> = summaries.iter().map(|s| s.plan.segment).collect();
    let Some(Some(Segment { count, .. })) = segments.first().copied() else {
        return Err(MergeError::Segments(
            "summary 1 is no segment (`--segment I/N`): expected the segments of one run".into(),
        ));
    };
    // Indexes seen so far: nothing is sized by the count a file claims.
    let mut seen = std::collections::BTreeSet::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Some(s) if s.count == count && s.index >= count => {
                return Err(MergeError::Segments(format!(
                    "summary {} names segment {s}, which does not exist: expected I below N",
                    i + 1
                )))
            }
            Some(s) if s.count == count && seen.insert(s.index) => {}
            Some(s) if s.count == count => {
                return Err(MergeError::Segments(format!(
                    "summary {} is segment {s} again: expected each segment once",
                    i + 1
                )))
            }
            other => {
                let shown =
                    other.map_or_else(|| "no segment".to_string(), |s| format!("segment {s}"));
                return Err(MergeError::Segments(format!(
                    "summary {} is {shown}, the first is a segment of {count}: expected the segments of one run",
                    i + 1
                )));
            }
        }
    }
    if seen.len() < count as usize {
        // The first few missing ones are enough to say which.
        let missing: Vec<String> = (0..count)
            .filter(|i| !seen.contains(i))
            .take(8)
            .map(|i| format!("{i}/{count}"))
            .collect();
        return Err(MergeError::Segments(format!(
            "segment(s) {} missing: expected all {count} segments of the run",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// The histograms of `parts` added together (`None` when none has one).
fn added(
    parts: impl Iterator<Item = Option<(usize, SerializedHistogram)>>,
) -> Result<Option<Histogram<u64>>, MergeError> {
    let mut total: Option<Histogram<u64>> = None;
    for (index, encoded) in parts.flatten() {
        let histogram = encoded
            .decode()
            .map_err(|source| MergeError::Histogram { index, source })?;
        match &mut total {
            None => total = Some(histogram),
            Some(sum) => {
                if sum.add(&histogram).is_err() {
                    for v in histogram.iter_recorded() {
                        sum.saturating_record_n(v.value_iterated_to(), v.count_at_value());
                    }
                }
            }
        }
    }
    Ok(total)
}

/// Percentiles and the re-encoded histogram of `histogram`.
fn distribution(
    histogram: Option<&Histogram<u64>>,
) -> (Option<Percentiles>, Option<SerializedHistogram>) {
    match histogram {
        Some(h) => (Percentiles::of(h), SerializedHistogram::of(h)),
        None => (None, None),
    }
}

/// The statistics of the requests of all `parts` over `elapsed_s` seconds.
fn merged_stats(parts: &[&Stats], elapsed_s: f64) -> Result<Stats, MergeError> {
    let pick = |f: fn(&Histograms) -> &Option<SerializedHistogram>| {
        parts
            .iter()
            .enumerate()
            .map(move |(i, s)| f(&s.histograms).clone().map(|h| (i + 1, h)))
    };
    let latency = added(pick(|h| &h.latency))?;
    let service = added(pick(|h| &h.service))?;
    let ttfb = added(pick(|h| &h.ttfb))?;
    let gaps = added(pick(|h| &h.stream_gaps))?.unwrap_or_else(empty);
    let durations = added(pick(|h| &h.stream_durations))?.unwrap_or_else(empty);
    let streams = parts.iter().filter_map(|s| s.stream.as_ref());
    let (responses, chunks) = streams.fold((0, 0), |(r, c), s| (r + s.responses, c + s.chunks));
    let stream = StreamStats::of((responses, chunks), &gaps, &durations);
    let count: u64 = parts.iter().map(|s| s.count).sum();
    let errors: u64 = parts.iter().map(|s| s.errors).sum();
    let (latency_ms, latency) = distribution(latency.as_ref());
    let (service_ms, service) = distribution(service.as_ref());
    let (ttfb_ms, ttfb) = distribution(ttfb.as_ref());
    Ok(Stats {
        count,
        errors,
        error_rate: if count == 0 {
            0.0
        } else {
            errors as f64 / count as f64
        },
        rps: if elapsed_s > 0.0 {
            count as f64 / elapsed_s
        } else {
            0.0
        },
        errors_by_kind: summed(parts.iter().map(|s| &s.errors_by_kind)),
        statuses: summed(parts.iter().map(|s| &s.statuses)),
        latency_ms,
        service_ms,
        ttfb_ms,
        stream,
        histograms: Histograms {
            latency,
            service,
            ttfb,
            stream_gaps: SerializedHistogram::of(&gaps),
            stream_durations: SerializedHistogram::of(&durations),
        },
    })
}

/// An empty histogram of µs.
fn empty() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits are supported")
}

/// Counts by key, added up.
fn summed<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut total = BTreeMap::new();
    for map in maps {
        for (key, n) in map {
            *total.entry(key.clone()).or_insert(0) += n;
        }
    }
    total
}

/// One window from the same interval of every segment (segments start together, so their
/// intervals cover the same time).
fn merged_window(parts: &[&WindowStats]) -> Result<WindowStats, MergeError> {
    let latency = added(
        parts
            .iter()
            .enumerate()
            .map(|(i, w)| w.latency_histogram.clone().map(|h| (i + 1, h))),
    )?;
    let (latency_ms, latency_histogram) = distribution(latency.as_ref());
    Ok(WindowStats {
        count: parts.iter().map(|w| w.count).sum(),
        errors: parts.iter().map(|w| w.errors).sum(),
        rps: parts.iter().map(|w| w.rps).sum(),
        latency_ms,
        statuses: summed(parts.iter().map(|w| &w.statuses)),
        latency_histogram,
    })
}

/// The intervals, merged by position.
fn merged_intervals(summaries: &[LoadSummary]) -> Result<Vec<IntervalStats>, MergeError> {
    let longest = summaries
        .iter()
        .map(|s| s.intervals.len())
        .max()
        .unwrap_or(0);
    (0..longest)
        .map(|i| {
            let parts: Vec<&IntervalStats> = summaries
                .iter()
                .filter_map(|s| s.intervals.get(i))
                .collect();
            let overall: Vec<&WindowStats> = parts.iter().map(|p| &p.overall).collect();
            let mut names: Vec<&String> = parts.iter().flat_map(|p| p.actions.keys()).collect();
            names.sort();
            names.dedup();
            let actions = names
                .into_iter()
                .map(|name| {
                    let windows: Vec<&WindowStats> =
                        parts.iter().filter_map(|p| p.actions.get(name)).collect();
                    Ok((name.clone(), merged_window(&windows)?))
                })
                .collect::<Result<BTreeMap<_, _>, MergeError>>()?;
            Ok(IntervalStats {
                start_s: parts[0].start_s,
                end_s: parts.iter().map(|p| p.end_s).fold(0.0, f64::max),
                full: parts.len() == summaries.len() && parts.iter().all(|p| p.full),
                overall: merged_window(&overall)?,
                actions,
            })
        })
        .collect()
}

/// Why the whole run ended: an interrupt or a lost API in any segment, else the first's.
fn merged_stop(summaries: &[LoadSummary]) -> StopReason {
    let worst = summaries.iter().map(|s| &s.stop).find(|stop| {
        matches!(
            stop,
            StopReason::Interrupted | StopReason::ApiGone(_) | StopReason::Aborted(_)
        )
    });
    worst.unwrap_or(&summaries[0].stop).clone()
}

fn merged_flows(summaries: &[LoadSummary]) -> Vec<FlowStats> {
    let mut flows: Vec<FlowStats> = Vec::new();
    for flow in summaries.iter().flat_map(|s| &s.flows) {
        match flows.iter_mut().find(|f| f.name == flow.name) {
            Some(total) => {
                total.iterations += flow.iterations;
                total.failed += flow.failed;
            }
            None => flows.push(flow.clone()),
        }
    }
    flows
}

fn merged_open(summaries: &[LoadSummary]) -> Option<OpenStats> {
    let parts: Vec<&OpenStats> = summaries.iter().filter_map(|s| s.open.as_ref()).collect();
    if parts.is_empty() {
        return None;
    }
    Some(OpenStats {
        scheduled: parts.iter().map(|o| o.scheduled).sum(),
        started: parts.iter().map(|o| o.started).sum(),
        late: parts.iter().map(|o| o.late).sum(),
        dropped: parts.iter().map(|o| o.dropped).sum(),
        max_lag_ms: parts.iter().map(|o| o.max_lag_ms).fold(0.0, f64::max),
    })
}

fn merged_failures(summaries: &[LoadSummary]) -> Vec<String> {
    let mut failures: Vec<String> = Vec::new();
    let most = summaries
        .iter()
        .map(|s| s.failures.len())
        .max()
        .unwrap_or(0);
    for failure in summaries.iter().flat_map(|s| &s.failures) {
        if failures.len() < most && !failures.contains(failure) {
            failures.push(failure.clone());
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Sample, Tally};
    use crate::plan::{Mode, Model};
    use crate::summary::PlanSummary;
    use std::time::Duration;

    /// A tally of the latencies `ms` (every 10th answered 500, the others 200).
    fn tally(ms: &[u64]) -> Tally {
        let mut t = Tally::new();
        for (i, &v) in ms.iter().enumerate() {
            let d = Duration::from_micros(v * 1000 + i as u64);
            t.record(&Sample {
                latency: Some(d),
                service: Some(d),
                ttfb: Some(d / 2),
                status: Some(if i % 10 == 9 { 500 } else { 200 }),
                error: None,
                stream: None,
            });
        }
        t
    }

    fn summary(t: &Tally, segment: Option<Segment>, elapsed: f64) -> LoadSummary {
        let stats = Stats::of(t, Duration::from_secs_f64(elapsed), true);
        LoadSummary {
            kind: SUMMARY_KIND.into(),
            tool_version: "test".into(),
            scenario: "s.toml".into(),
            plan: PlanSummary {
                mode: Mode::Burst,
                model: Model::Closed { vus: 1 },
                duration_s: elapsed,
                iterations: None,
                interval_s: 1.0,
                flows: Vec::new(),
                description: "test".into(),
                segment,
            },
            elapsed_s: elapsed,
            stop: StopReason::Duration,
            overall: stats.clone(),
            actions: vec![ActionStats {
                name: "a".into(),
                stats,
            }],
            flows: Vec::new(),
            open: None,
            intervals: Vec::new(),
            failures: Vec::new(),
            thresholds: vec![crate::summary::ThresholdResult {
                key: "a.p99".into(),
                condition: "< 900ms".into(),
                measured: None,
                shown: String::new(),
                status: crate::summary::ThresholdStatus::NoData,
            }],
            baseline: None,
            checks: Vec::new(),
        }
    }

    fn part(index: u32) -> Option<Segment> {
        Some(Segment { index, count: 2 })
    }

    #[test]
    fn two_segments_merge_into_the_statistics_of_the_union_of_their_samples() {
        let a: Vec<u64> = (0..700).map(|i| (i * 37) % 500 + 1).collect();
        let b: Vec<u64> = (0..300).map(|i| (i * 91) % 2000 + 400).collect();
        let union: Vec<u64> = a.iter().chain(&b).copied().collect();
        let mut whole = tally(&a);
        whole.add(&tally(&b));
        let truth = Stats::of(&whole, Duration::from_secs(10), true);
        let merged = merge(&[
            summary(&tally(&a), part(0), 10.0),
            summary(&tally(&b), part(1), 9.0),
        ])
        .expect("merge");
        assert_eq!(merged.overall.count, union.len() as u64);
        assert_eq!(merged.overall.latency_ms, truth.latency_ms);
        assert_eq!(merged.overall.service_ms, truth.service_ms);
        assert_eq!(merged.overall.ttfb_ms, truth.ttfb_ms);
        assert_eq!(merged.overall.statuses, truth.statuses);
        assert_eq!(merged.overall.rps, truth.rps);
        assert_eq!(merged.action("a").unwrap().latency_ms, truth.latency_ms);
        // Not the average of the parts' percentiles: b's tail dominates the p99.
        let p99 = merged.overall.latency_ms.as_ref().unwrap().p99;
        assert!(p99 > 2000.0, "{p99}");
        // The thresholds are judged again, on the merged figures.
        assert_eq!(
            merged.thresholds[0].status,
            crate::summary::ThresholdStatus::Fail
        );
        assert_eq!(merged.plan.segment, None);
        // One summary is the identity.
        let one = summary(&tally(&a), None, 10.0);
        assert_eq!(merge(std::slice::from_ref(&one)).unwrap(), one);
    }

    #[test]
    fn only_the_distinct_segments_of_one_scenario_merge() {
        let t = tally(&[1, 2, 3]);
        let error = |parts: &[LoadSummary]| merge(parts).unwrap_err().to_string();
        assert!(
            error(&[summary(&t, part(0), 1.0), summary(&t, part(0), 1.0)])
                .contains("segment 0/2 again")
        );
        assert!(error(&[summary(&t, None, 1.0), summary(&t, part(1), 1.0)]).contains("no segment"));
        let three = Some(Segment { index: 2, count: 3 });
        assert!(error(&[summary(&t, part(0), 1.0), summary(&t, three, 1.0)])
            .contains("segment 2/3, the first is a segment of 2"));
        let missing = Some(Segment { index: 0, count: 3 });
        let also = Some(Segment { index: 1, count: 3 });
        assert!(error(&[summary(&t, missing, 1.0), summary(&t, also, 1.0)])
            .contains("segment(s) 2/3 missing"));
        // A file may claim anything: no part beyond its count, no count that sizes memory.
        let beyond = Some(Segment { index: 5, count: 2 });
        assert!(
            error(&[summary(&t, part(0), 1.0), summary(&t, beyond, 1.0)])
                .contains("segment 5/2, which does not exist")
        );
        let huge = |index| {
            Some(Segment {
                index,
                count: u32::MAX,
            })
        };
        assert!(
            error(&[summary(&t, huge(0), 1.0), summary(&t, huge(1), 1.0)])
                .contains("segment(s) 2/4294967295, 3/4294967295")
        );
        let mut other = summary(&t, part(1), 1.0);
        other.scenario = "other.toml".into();
        assert!(error(&[summary(&t, part(0), 1.0), other]).contains("ran scenario `other.toml`"));
        let mut bare = summary(&t, part(1), 1.0);
        bare.overall.histograms = Histograms::default();
        assert!(error(&[summary(&t, part(0), 1.0), bare]).contains("no histograms"));
    }
}
