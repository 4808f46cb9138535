//! Capacity search: the highest open-model rate that still meets every threshold.
//!
//! Short stages at one constant rate each: the rate doubles from the start rate until a stage
//! breaks a threshold (or halves until one meets them all, when the first breaks one), then
//! bisects between the highest rate that held and the lowest that broke until they are within
//! the tolerance of each other. Bounded in stages, in rate and so in time. The suggested quota
//! is a fraction of the highest rate that held.

use crate::plan::LoadPlan;
use crate::run::{run, Control, LoadError};
use crate::summary::{LoadSummary, StopReason};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use venom_scenario::Scenario;

/// The `kind` of a capacity report file.
pub const CAPACITY_KIND: &str = "venom-load-capacity";

/// The bounds and knobs of a search.
#[derive(Debug, Clone, Copy)]
pub struct CapacityOptions {
    /// The first stage's rate, iterations per second.
    pub start_rate: f64,
    /// No stage runs above this rate.
    pub max_rate: f64,
    /// No stage runs below this rate (the search gives up there).
    pub min_rate: f64,
    /// Length of each stage.
    pub stage: Duration,
    /// The most stages run.
    pub max_stages: usize,
    /// The search ends when the lowest failing rate is within this fraction above the highest
    /// passing one (0.1 = 10 %).
    pub tolerance: f64,
    /// The suggested quota, as a fraction of the highest passing rate.
    pub quota_fraction: f64,
}

impl Default for CapacityOptions {
    fn default() -> Self {
        CapacityOptions {
            start_rate: 10.0,
            max_rate: 100_000.0,
            min_rate: 0.1,
            stage: Duration::from_secs(5),
            max_stages: 16,
            tolerance: 0.1,
            quota_fraction: 0.7,
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Always [`CAPACITY_KIND`].
    pub kind: String,
    /// The scenario file.
    pub scenario: String,
    /// Every stage, in the order run.
    pub stages: Vec<CapacityStage>,
    /// The highest rate whose stage met every threshold, iterations per second.
    pub highest_pass: Option<f64>,
    /// The lowest rate whose stage broke a threshold.
    pub first_fail: Option<f64>,
    /// The thresholds that stage broke (`create_order.p95 < 300ms: 812.40 ms`).
    pub broken_by: Vec<String>,
    /// `quota_fraction` × `highest_pass`.
    pub suggested_quota: Option<f64>,
    /// The fraction used for the suggested quota.
    pub quota_fraction: f64,
    /// Why the search ended.
    pub stop: String,
    /// Wall time of the search, seconds.
    pub elapsed_s: f64,
}

/// One stage: the offered rate and what it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStage {
    /// The offered rate, iterations per second.
    pub rate: f64,
    /// Requests answered per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// Failed requests / requests.
    pub error_rate: f64,
    /// Whether every threshold held.
    pub passed: bool,
    /// The thresholds it broke.
    pub broken: Vec<String>,
}

/// The search, as stages go: the rates that held and broke so far.
#[derive(Debug, Default)]
pub(crate) struct Search {
    pass: Option<f64>,
    fail: Option<f64>,
}

/// What to do after a stage.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// Run a stage at this rate.
    Rate(f64),
    /// Stop, for this reason.
    Done(String),
}

impl Search {
    /// Records a stage at `rate` and says what comes next.
    pub(crate) fn next(&mut self, rate: f64, passed: bool, options: &CapacityOptions) -> Next {
        if passed {
            self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
        }
        match (self.pass, self.fail) {
            (Some(pass), Some(fail)) if fail <= pass * (1.0 + options.tolerance) => Next::Done(
                format!(
                    "the knee is found: {pass:.1}/s held and {fail:.1}/s broke a threshold (within {:.0} %)",
                    options.tolerance * 100.0
                ),
            ),
            (Some(pass), Some(fail)) => Next::Rate((pass + fail) / 2.0),
            (Some(pass), None) if pass >= options.max_rate => Next::Done(format!(
                "the highest rate allowed ({:.1}/s) held: the capacity is above it",
                options.max_rate
            )),
            (Some(pass), None) => Next::Rate((pass * 2.0).min(options.max_rate)),
            (None, Some(fail)) if fail <= options.min_rate => Next::Done(format!(
                "even {:.1}/s broke a threshold",
                options.min_rate
            )),
            (None, Some(fail)) => Next::Rate((fail / 2.0).max(options.min_rate)),
            (None, None) => Next::Rate(rate),
        }
    }
}

/// Runs the search against the API of `scenario`, the stages one after the other.
pub fn find_capacity(
    scenario: &Scenario,
    flow: Option<&str>,
    options: &CapacityOptions,
    control: &Control,
) -> Result<CapacityReport, LoadError> {
    let started = std::time::Instant::now();
    let mut search = Search::default();
    let mut stages: Vec<CapacityStage> = Vec::new();
    let mut rate = options.start_rate.clamp(options.min_rate, options.max_rate);
    let stop = loop {
        if stages.len() >= options.max_stages {
            break format!("the most stages allowed ({}) ran", options.max_stages);
        }
        if control.interrupted() {
            break "interrupted".to_string();
        }
        let summary = run_stage(scenario, flow, rate, options.stage, control)?;
        let stage = stage_of(rate, &summary);
        let passed = stage.passed;
        stages.push(stage);
        if summary.stop == StopReason::Interrupted {
            break "interrupted".to_string();
        }
        match search.next(rate, passed, options) {
            Next::Rate(next) => rate = next,
            Next::Done(why) => break why,
        }
    };
    let broken_by = search
        .fail
        .and_then(|fail| stages.iter().find(|s| s.rate == fail))
        .map(|s| s.broken.clone())
        .unwrap_or_default();
    Ok(CapacityReport {
        kind: CAPACITY_KIND.to_string(),
        scenario: scenario.file.display().to_string(),
        stages,
        highest_pass: search.pass,
        first_fail: search.fail,
        broken_by,
        suggested_quota: search.pass.map(|p| p * options.quota_fraction),
        quota_fraction: options.quota_fraction,
        stop,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// One stage: the open model at `rate` for `length`.
fn run_stage(
    scenario: &Scenario,
    flow: Option<&str>,
    rate: f64,
    length: Duration,
    control: &Control,
) -> Result<LoadSummary, LoadError> {
    let plan = LoadPlan::open_stage(scenario, rate, length, flow).map_err(LoadError::Plan)?;
    run(scenario, &plan, control.clone())
}

/// The stage's figures from its run.
fn stage_of(rate: f64, summary: &LoadSummary) -> CapacityStage {
    let latency = summary.overall.latency_ms.as_ref();
    let broken: Vec<String> = summary
        .failed_thresholds()
        .map(|t| format!("{} {}: {}", t.key, t.condition, t.shown))
        .collect();
    CapacityStage {
        rate,
        throughput: summary.overall.rps,
        p50_ms: latency.map(|p| p.p50),
        p95_ms: latency.map(|p| p.p95),
        p99_ms: latency.map(|p| p.p99),
        error_rate: summary.overall.error_rate,
        passed: broken.is_empty() && !matches!(summary.stop, StopReason::ApiGone(_)),
        broken,
    }
}

impl std::fmt::Display for CapacityReport {
    /// The stages, one line each, then what was found.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "capacity search: {} stages in {:.1} s",
            self.stages.len(),
            self.elapsed_s
        )?;
        for (i, s) in self.stages.iter().enumerate() {
            let ms = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1}"));
            let verdict = match s.passed {
                true => "pass".to_string(),
                false => format!("FAIL {}", s.broken.join("; ")),
            };
            writeln!(
                f,
                "  {:>2}. {:>9.1}/s -> {:>9.1}/s answered, p50 {} ms, p95 {} ms, p99 {} ms, errors {:.2} %  {verdict}",
                i + 1,
                s.rate,
                s.throughput,
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.p99_ms),
                s.error_rate * 100.0
            )?;
        }
        match self.highest_pass {
            Some(pass) => writeln!(f, "highest rate meeting every threshold: {pass:.1}/s")?,
            None => writeln!(f, "no stage met every threshold")?,
        }
        if let Some(fail) = self.first_fail {
            writeln!(
                f,
                "first rate breaking one: {fail:.1}/s ({})",
                self.broken_by.join("; ")
            )?;
        }
        if let Some(quota) = self.suggested_quota {
            writeln!(
                f,
                "suggested quota ({:.0} % of it): {quota:.1}/s",
                self.quota_fraction * 100.0
            )?;
        }
        writeln!(f, "stopped: {}", self.stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rates a search runs when every rate up to `capacity` holds.
    fn rates(capacity: f64, options: &CapacityOptions) -> (Vec<f64>, Next) {
        let mut search = Search::default();
        let mut rate = options.start_rate;
        let mut ran = Vec::new();
        loop {
            ran.push(rate);
            match search.next(rate, rate <= capacity, options) {
                Next::Rate(next) => rate = next,
                done => return (ran, done),
            }
        }
    }

    #[test]
    fn doubles_then_bisects_to_the_knee() {
        let options = CapacityOptions::default();
        let (ran, done) = rates(200.0, &options);
        assert_eq!(
            ran,
            [10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 240.0, 200.0, 220.0]
        );
        assert!(matches!(done, Next::Done(why) if why.contains("200.0/s held and 220.0/s broke")));
    }

    #[test]
    fn halves_when_the_first_stage_breaks_and_stops_at_the_bounds() {
        let options = CapacityOptions {
            start_rate: 100.0,
            ..CapacityOptions::default()
        };
        let (ran, _) = rates(30.0, &options);
        assert_eq!(&ran[..3], [100.0, 50.0, 25.0]);
        let (ran, done) = rates(0.0, &options);
        assert_eq!(*ran.last().unwrap(), 0.1);
        assert!(matches!(done, Next::Done(why) if why.contains("even 0.1/s")));
        let capped = CapacityOptions {
            max_rate: 50.0,
            ..CapacityOptions::default()
        };
        let (ran, done) = rates(1e9, &capped);
        assert_eq!(ran, [10.0, 20.0, 40.0, 50.0]);
        assert!(matches!(done, Next::Done(why) if why.contains("above it")));
    }
}
