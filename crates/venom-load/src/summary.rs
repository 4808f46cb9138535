//! The result of a load run as data: what the console, JSON, HTML reports and baselines show.

use crate::metrics::{ErrorKind, Tally};
use crate::plan::{LoadPlan, Mode, Model};
use crate::segment::Segment;
pub use crate::serialized::SerializedHistogram;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The `kind` of every summary file, checked when a baseline is read.
pub const SUMMARY_KIND: &str = "venom-load-summary";

/// Everything a load run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Always [`SUMMARY_KIND`].
    pub kind: String,
    /// The venom version that ran.
    pub tool_version: String,
    /// The scenario file.
    pub scenario: String,
    /// The plan that ran.
    pub plan: PlanSummary,
    /// Wall-clock time from the first request to the last response, in seconds.
    pub elapsed_s: f64,
    /// Why the run ended.
    pub stop: StopReason,
    /// All requests.
    pub overall: Stats,
    /// Per action, in the scenario's order (actions that ran or belong to a flow).
    pub actions: Vec<ActionStats>,
    /// Per flow.
    pub flows: Vec<FlowStats>,
    /// Open model only: how well the schedule was kept.
    pub open: Option<OpenStats>,
    /// Per-interval statistics, in time order.
    pub intervals: Vec<IntervalStats>,
    /// The first distinct failure messages.
    pub failures: Vec<String>,
    /// Thresholds of the scenario, evaluated at the end.
    pub thresholds: Vec<ThresholdResult>,
    /// Comparison with a baseline run, when one was given.
    pub baseline: Option<BaselineReport>,
    /// The scenario's invariants checked against the API during and after the load
    /// (`venom load --check`), in the order checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<InvariantCheck>,
}

/// One invariant checked against the API under load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvariantCheck {
    /// Seconds since the run started (the check after the run: its end).
    pub at_s: f64,
    /// The invariant.
    pub invariant: String,
    /// Why it is broken; `None` when it holds.
    pub broken: Option<String>,
}

impl LoadSummary {
    /// The statistics of action `name`.
    pub fn action(&self, name: &str) -> Option<&Stats> {
        self.actions
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.stats)
    }

    /// Thresholds that failed.
    pub fn failed_thresholds(&self) -> impl Iterator<Item = &ThresholdResult> {
        self.thresholds
            .iter()
            .filter(|t| t.status == ThresholdStatus::Fail)
    }

    /// Whether every threshold held, no baseline metric regressed and no checked invariant
    /// broke.
    pub fn passed(&self) -> bool {
        self.failed_thresholds().next().is_none()
            && self.baseline.as_ref().is_none_or(|b| b.regressions() == 0)
            && self.checks.iter().all(|c| c.broken.is_none())
    }
}

/// The plan as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// The preset.
    pub mode: Mode,
    /// The model and its parameters.
    pub model: Model,
    /// Time after which no iteration starts, in seconds.
    pub duration_s: f64,
    /// Iteration budget.
    pub iterations: Option<u64>,
    /// Interval length, in seconds.
    pub interval_s: f64,
    /// Flows and their actions.
    pub flows: Vec<FlowPlan>,
    /// One-line description.
    pub description: String,
    /// The part of a split plan this run was (`--segment I/N`); merged summaries have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
}

/// A flow of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowPlan {
    /// Its name.
    pub name: String,
    /// Its actions, in order.
    pub actions: Vec<String>,
    /// Its weight.
    pub weight: f64,
}

impl PlanSummary {
    pub(crate) fn new(plan: &LoadPlan, action_names: &[String]) -> PlanSummary {
        PlanSummary {
            mode: plan.mode,
            model: plan.model.clone(),
            duration_s: plan.duration.as_secs_f64(),
            iterations: plan.iterations,
            interval_s: plan.interval.as_secs_f64(),
            flows: plan
                .flows
                .iter()
                .map(|f| FlowPlan {
                    name: f.name.clone(),
                    actions: f
                        .actions
                        .iter()
                        .filter_map(|&a| action_names.get(a).cloned())
                        .collect(),
                    weight: f.weight,
                })
                .collect(),
            description: plan.describe(),
            segment: plan.segment,
        }
    }

    /// Whether latencies count from the intended send time (open model).
    pub fn is_open(&self) -> bool {
        matches!(self.model, Model::Open { .. })
    }
}

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The planned duration (or the last stage) ended.
    Duration,
    /// The iteration budget was used up.
    Iterations,
    /// Ctrl-C.
    Interrupted,
    /// A threshold was certainly broken and `abort_on_fail` is set.
    Aborted(String),
    /// Iterations still running at the hard deadline (duration + grace) were cancelled.
    Deadline,
    /// The API stopped answering: every request was refused for this many milliseconds.
    ApiGone(u64),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Duration => f.write_str("duration reached"),
            StopReason::Iterations => f.write_str("iterations done"),
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::Aborted(t) => write!(f, "aborted: threshold {t} failed"),
            StopReason::Deadline => {
                f.write_str("hard deadline: iterations still running were cancelled")
            }
            StopReason::ApiGone(ms) => write!(
                f,
                "the API stopped answering: every request was refused for {:.1} s",
                *ms as f64 / 1000.0
            ),
        }
    }
}

/// Statistics of a set of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests sent.
    pub count: u64,
    /// Failed requests.
    pub errors: u64,
    /// `errors / count` (0 without requests).
    pub error_rate: f64,
    /// Requests per second over the run.
    pub rps: f64,
    /// Failed requests by kind: `4xx`, `5xx` (other status classes when outside `expect`),
    /// `timeout`, `connect`, `transport`, `build`.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Responses by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Latency: from the intended send time (open model) or the send (closed model) to the end
    /// of the response; timeouts included.
    pub latency_ms: Option<Percentiles>,
    /// Open model only: from the actual send to the end of the response.
    pub service_ms: Option<Percentiles>,
    /// From the actual send to the response headers.
    pub ttfb_ms: Option<Percentiles>,
    /// Streamed responses (event streams, NDJSON, chunked bodies), when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamStats>,
    /// The distributions themselves, so that summaries merge exactly (`venom load merge`).
    #[serde(default, skip_serializing_if = "Histograms::is_empty")]
    pub histograms: Histograms,
}

/// What the streamed responses showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    /// Streamed responses.
    pub responses: u64,
    /// Chunks received (events, lines, body frames).
    pub chunks: u64,
    /// Chunks per second of streaming (all chunks over the streams' total time).
    pub chunks_per_s: f64,
    /// Gaps between consecutive chunks of a stream.
    pub gap_ms: Option<Percentiles>,
    /// From the send to the end of each stream.
    pub duration_ms: Option<Percentiles>,
}

impl StreamStats {
    /// The statistics of `responses` streams of `chunks` chunks in all, with their gaps and
    /// durations (histograms of µs).
    pub(crate) fn of(
        (responses, chunks): (u64, u64),
        gaps: &Histogram<u64>,
        durations: &Histogram<u64>,
    ) -> Option<StreamStats> {
        if responses == 0 {
            return None;
        }
        let seconds = durations.mean() * durations.len() as f64 / 1e6;
        Some(StreamStats {
            responses,
            chunks,
            chunks_per_s: if seconds > 0.0 {
                chunks as f64 / seconds
            } else {
                0.0
            },
            gap_ms: Percentiles::of(gaps),
            duration_ms: Percentiles::of(durations),
        })
    }
}

/// The histograms behind a set of requests' percentiles (µs, HdrHistogram V2 in base64).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// Latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<SerializedHistogram>,
    /// Service time (open model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<SerializedHistogram>,
    /// Time to first byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb: Option<SerializedHistogram>,
    /// Gaps between a stream's chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_gaps: Option<SerializedHistogram>,
    /// Streams' durations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_durations: Option<SerializedHistogram>,
}

impl Histograms {
    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.latency.is_none() && self.service.is_none() && self.ttfb.is_none()
    }
}

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// The distribution of a histogram of microseconds; `None` when it is empty.
    pub(crate) fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Percentiles {
            count: h.len(),
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p99_9: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }
}

impl Stats {
    /// Responses with status `code`.
    pub fn status_count(&self, code: u16) -> u64 {
        self.statuses.get(&code.to_string()).copied().unwrap_or(0)
    }

    /// Responses with status `code` per second over the run (`rps` scaled by their share).
    pub fn status_rate(&self, code: u16) -> f64 {
        match self.count {
            0 => 0.0,
            count => self.rps * self.status_count(code) as f64 / count as f64,
        }
    }

    /// The statistics of `tally` over `elapsed`; the service time is kept for the open model.
    pub(crate) fn of(tally: &Tally, elapsed: Duration, open: bool) -> Stats {
        let errors = tally.error_count();
        let secs = elapsed.as_secs_f64();
        Stats {
            count: tally.count,
            errors,
            error_rate: ratio(errors, tally.count),
            rps: if secs > 0.0 {
                tally.count as f64 / secs
            } else {
                0.0
            },
            errors_by_kind: ErrorKind::NAMES
                .iter()
                .zip(tally.errors)
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| (name.to_string(), n))
                .collect(),
            statuses: statuses(tally),
            latency_ms: Percentiles::of(&tally.latency),
            service_ms: if open {
                Percentiles::of(&tally.service)
            } else {
                None
            },
            ttfb_ms: Percentiles::of(&tally.ttfb),
            stream: StreamStats::of(
                (tally.streams, tally.chunks),
                &tally.gaps,
                &tally.stream_time,
            ),
            histograms: Histograms {
                latency: SerializedHistogram::of(&tally.latency),
                service: match open {
                    true => SerializedHistogram::of(&tally.service),
                    false => None,
                },
                ttfb: SerializedHistogram::of(&tally.ttfb),
                stream_gaps: SerializedHistogram::of(&tally.gaps),
                stream_durations: SerializedHistogram::of(&tally.stream_time),
            },
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One action's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionStats {
    /// The action.
    pub name: String,
    /// Its requests.
    #[serde(flatten)]
    pub stats: Stats,
}

/// One flow's iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowStats {
    /// The flow.
    pub name: String,
    /// Iterations finished.
    pub iterations: u64,
    /// Iterations stopped by a failed action.
    pub failed: u64,
}

/// How well the open model kept its schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenStats {
    /// Iterations intended before the run stopped.
    pub scheduled: u64,
    /// Iterations started.
    pub started: u64,
    /// Iterations started more than [`crate::LATE_AFTER`] after their intended time (waiting for
    /// `--max-in-flight`, or an overloaded generator).
    pub late: u64,
    /// Intended iterations never started (still waiting when the run ended).
    pub dropped: u64,
    /// Largest delay between an intended and an actual start, in milliseconds.
    pub max_lag_ms: f64,
}

/// Statistics of one interval of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalStats {
    /// Start, seconds from the run's start.
    pub start_s: f64,
    /// End, seconds from the run's start.
    pub end_s: f64,
    /// Whether it lasted the whole interval length (the last one may be shorter).
    pub full: bool,
    /// All requests of the interval.
    pub overall: WindowStats,
    /// Per action that had requests in the interval.
    pub actions: BTreeMap<String, WindowStats>,
}

/// Compact statistics of requests in one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Requests.
    pub count: u64,
    /// Failed requests.
    pub errors: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency distribution.
    pub latency_ms: Option<Percentiles>,
    /// Responses by status code.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub statuses: BTreeMap<String, u64>,
    /// The latency histogram, so that segments' intervals merge exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<SerializedHistogram>,
}

impl WindowStats {
    pub(crate) fn of(tally: &Tally, elapsed: Duration) -> WindowStats {
        let secs = elapsed.as_secs_f64();
        WindowStats {
            count: tally.count,
            errors: tally.error_count(),
            rps: if secs > 0.0 {
                tally.count as f64 / secs
            } else {
                0.0
            },
            latency_ms: Percentiles::of(&tally.latency),
            statuses: statuses(tally),
            latency_histogram: SerializedHistogram::of(&tally.latency),
        }
    }
}

/// A tally's responses by status code.
fn statuses(tally: &Tally) -> BTreeMap<String, u64> {
    tally
        .statuses
        .iter()
        .map(|(s, n)| (s.to_string(), *n))
        .collect()
}

/// A threshold's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStatus {
    /// The condition holds.
    Pass,
    /// The condition is broken.
    Fail,
    /// Nothing was measured (no request of the action, fewer than two full intervals for
    /// drift): reported, never failing.
    NoData,
}

/// A threshold with its measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The key as written.
    pub key: String,
    /// The condition as written.
    pub condition: String,
    /// The measured value in the threshold's unit (ms, fraction, plain), if any.
    pub measured: Option<f64>,
    /// The measured value for people (`23.40 ms`, `1.20 %`).
    pub shown: String,
    /// The verdict.
    pub status: ThresholdStatus,
}

/// A comparison with a baseline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    /// The baseline file.
    pub file: String,
    /// Allowed relative worsening (0.1 = 10 %).
    pub tolerance: f64,
    /// Every compared metric.
    pub comparisons: Vec<Comparison>,
}

impl BaselineReport {
    /// Metrics that regressed beyond the tolerance.
    pub fn regressions(&self) -> usize {
        self.comparisons.iter().filter(|c| c.regressed).count()
    }
}

/// One metric, then and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `create_order.p95`, `http.error_rate`, `http.rps`.
    pub metric: String,
    /// The baseline's value (ms, fraction or requests/s).
    pub baseline: f64,
    /// This run's value.
    pub current: f64,
    /// Relative change, `(current − baseline) / baseline` (0 when the baseline is 0).
    pub change: f64,
    /// Whether it got worse beyond the tolerance.
    pub regressed: bool,
}
