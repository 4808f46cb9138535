//! venom-load: the scenario's actions as load. Flows (ordered lists of actions, each virtual
//! user with its own context, extraction included) run in a closed model (N users back to back)
//! or an open model (iterations started at a constant or ramping rate, latency counted from the
//! intended start so that stalls are not hidden by coordinated omission), bounded by a duration,
//! an iteration count and a hard deadline.
//!
//! Every request lands in HDR histograms per action and overall (latency, service time, time to
//! first byte), in run totals and per-interval windows; the scenario's thresholds are evaluated
//! at the end (or abort the run early), a saved run can serve as a baseline, and the results
//! are rendered for the console, as JSON and as a static HTML page with SVG plots.
#![warn(missing_docs)]

mod baseline;
mod capacity;
mod capacity_html;
mod closed;
mod console;
mod fd_limit;
mod files;
mod flow;
mod html;
mod merge;
mod metrics;
mod open;
mod plan;
mod progress;
mod quota;
mod refusals;
mod run;
mod schedule;
mod segment;
mod serialized;
mod stream;
mod summary;
mod threshold;
mod transport;

pub use baseline::{compare, read_baseline, ERROR_RATE_FLOOR, LATENCY_FLOOR_MS, MAX_SUMMARY_BYTES};
pub use capacity::{find_capacity, CapacityOptions, CapacityReport, CapacityStage, CAPACITY_KIND};
pub use capacity_html::render_capacity_html;
pub use console::render_console;
pub use files::{write_capacity_html, write_html, write_json, FileError};
pub use flow::Flow;
pub use html::render_html;
pub use merge::{merge, MergeError};
pub use open::LATE_AFTER;
pub use plan::{
    format_duration, parse_duration, parse_percent, parse_stages, InvalidValue, LoadPlan, Mode,
    Model, PlanError, PlanOptions, Stage, DEFAULT_MAX_IN_FLIGHT,
};
pub use progress::{Live, Progress};
pub use quota::{check_quotas, QuotaOptions, QuotaReport, QuotaResult, QUOTA_KIND};
pub use run::{run, Control, LoadError};
pub use segment::Segment;
pub use serialized::HistogramError;
pub use summary::{
    ActionStats, BaselineReport, Comparison, FlowPlan, FlowStats, Histograms, IntervalStats,
    InvariantCheck, LoadSummary, OpenStats, Percentiles, PlanSummary, SerializedHistogram, Stats,
    StopReason, StreamStats, ThresholdResult, ThresholdStatus, WindowStats, SUMMARY_KIND,
};
pub use threshold::ABORT_MIN_SAMPLES;
