//! Running a plan: the runtime, the shared client, the model's tasks, the collector that drains
//! measurements every tick (intervals, live progress, early abort) and the bounds: no iteration
//! starts after the planned duration, and iterations still running at the hard deadline
//! (duration + request timeout + 1 s) are cancelled.

use crate::flow::Executor;
use crate::metrics::{Recorder, Window};
use crate::plan::{LoadPlan, Model};
use crate::progress::{Live, Progress};
use crate::schedule::Schedule;
use crate::summary::{
    ActionStats, FlowStats, IntervalStats, LoadSummary, OpenStats, PlanSummary, Stats, StopReason,
    WindowStats, SUMMARY_KIND,
};
use crate::threshold::{self, Measured};
use crate::transport::Transport;
use crate::{closed, open};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use venom_http::{HttpClient, SendError, Unreachable};
use venom_scenario::{Scenario, ThresholdSpec};

/// Longest time between two drains of the measurements.
const TICK: Duration = Duration::from_secs(1);
/// Extra time after the planned duration for iterations to finish, beyond the request timeout.
const GRACE: Duration = Duration::from_secs(1);

/// How a run is observed and stopped from outside.
#[derive(Debug, Clone)]
pub struct Control {
    /// Set (by a Ctrl-C handler) to stop starting iterations; the reports are still produced.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Where live progress goes.
    pub progress: Progress,
}

impl Control {
    /// Whether the user interrupted the run.
    pub fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }
}

/// Why a load run could not start or finish measuring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The async runtime could not be created.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client")]
    Client(#[source] SendError),
    /// `base_url` cannot be used for direct connections.
    #[error("invalid base_url `{base_url}`: {reason}")]
    BaseUrl {
        /// The scenario's base URL.
        base_url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answers at `base_url`.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// More concurrent users than the process may open connections.
    #[error(
        "{users} concurrent users need about {needed} file descriptors, but this process may \
         open at most {limit} (ulimit -n); lower --vus / --max-in-flight or raise the hard limit"
    )]
    TooManyUsers {
        /// The users (or requests in flight) asked for.
        users: usize,
        /// The descriptors they need.
        needed: u64,
        /// The most the process may open.
        limit: u64,
    },
    /// The task that collects measurements panicked or was cancelled.
    #[error("the measurement task failed")]
    Collector(#[source] tokio::task::JoinError),
    /// A `[context]` value cannot be rendered (e.g. it reads an unset environment variable).
    #[error("[context] `{key}`: {source}")]
    Context {
        /// The context key.
        key: String,
        /// Why.
        source: venom_scenario::EvalError,
    },
    /// A run that venom plans itself (a capacity search stage, a quota check) is impossible.
    #[error("cannot plan the run")]
    Plan(#[source] crate::plan::PlanError),
}

/// "No new work": set once, with the first reason given; wakes whoever waits for it.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    set: AtomicBool,
    /// Set when some work was still running at the hard deadline and was cancelled.
    cut_off: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    notify: Notify,
}

impl Stop {
    /// Asks every task to stop starting iterations (the first reason is kept).
    pub(crate) fn request(&self, reason: StopReason) {
        let mut kept = self.reason.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.is_none() {
            *kept = Some(reason);
        }
        self.set.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether a stop was requested.
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Returns once a stop is requested.
    pub(crate) async fn wait(&self) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_set() {
            return;
        }
        notified.await;
    }

    /// Records that work still running at the hard deadline was cancelled.
    pub(crate) fn cut_off(&self) {
        self.cut_off.store(true, Ordering::SeqCst);
    }

    /// Whether work was cancelled at the hard deadline.
    fn was_cut_off(&self) -> bool {
        self.cut_off.load(Ordering::SeqCst)
    }

    /// Returns [`INTERRUPT_GRACE`] after the user interrupted the run (never otherwise): the
    /// requests still in flight then are cancelled rather than waited out.
    pub(crate) async fn interrupt_grace_over(&self) {
        self.wait().await;
        if self.reason() == Some(StopReason::Interrupted) {
            tokio::time::sleep(INTERRUPT_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    fn reason(&self) -> Option<StopReason> {
        self.reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `plan` against the API of `scenario` and returns what was measured, with the
/// scenario's thresholds evaluated. The API must already be running (`[server]` is the
/// caller's business).
pub fn run(
    scenario: &Scenario,
    plan: &LoadPlan,
    control: Control,
) -> Result<LoadSummary, LoadError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    runtime.block_on(run_async(scenario, plan, control))
}

async fn run_async(
    scenario: &Scenario,
    plan: &LoadPlan,
    control: Control,
) -> Result<LoadSummary, LoadError> {
    let (concurrency, open) = match &plan.model {
        Model::Closed { vus } => (*vus, false),
        Model::Open { max_in_flight, .. } => (*max_in_flight, true),
    };
    crate::fd_limit::make_room(concurrency).map_err(|(needed, limit)| LoadError::TooManyUsers {
        users: concurrency,
        needed,
        limit,
    })?;
    let client = HttpClient::with_pool(&scenario.base_url, &scenario.defaults, concurrency)
        .map_err(LoadError::Client)?;
    client.probe().await?;

    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let recorder = Arc::new(Recorder::new(
        (2 * workers).min(concurrency),
        scenario.actions.len(),
        plan.flows.len(),
    ));
    let transport = Transport::new(client, scenario)?;
    let initial = scenario
        .initial_context()
        .map_err(|(key, source)| LoadError::Context { key, source })?;
    let executor = Arc::new(Executor::new(
        transport,
        (scenario, initial),
        &plan.flows,
        Arc::clone(&recorder),
    ));
    let stop = Arc::new(Stop::default());
    let thresholds = with_default_error_rate(
        scenario
            .load
            .as_ref()
            .map(|l| l.thresholds.clone())
            .unwrap_or_default(),
    );
    let abort_on_fail = scenario.load.as_ref().is_some_and(|l| l.abort_on_fail);
    let names: Vec<String> = scenario.actions.iter().map(|a| a.name.clone()).collect();

    let start = Instant::now();
    let end = start.checked_add(plan.duration).unwrap_or_else(far_future);
    let hard_end = end
        .checked_add(scenario.defaults.timeout + GRACE)
        .unwrap_or_else(far_future);
    let done = Arc::new(Notify::new());
    let collector = Collector {
        recorder: Arc::clone(&recorder),
        spare: Window::new(names.len(), plan.flows.len()),
        tick: Window::new(names.len(), plan.flows.len()),
        totals: Window::new(names.len(), plan.flows.len()),
        interval: Window::new(names.len(), plan.flows.len()),
        interval_start: Duration::ZERO,
        interval_len: plan.interval,
        tick_len: TICK.min(plan.interval),
        intervals: Vec::new(),
        names: names.clone(),
        open,
    };
    let watch = Watch {
        start,
        planned: plan.duration,
        executor: Arc::clone(&executor),
        stop: Arc::clone(&stop),
        done: Arc::clone(&done),
        control,
        abort: if abort_on_fail {
            thresholds.clone()
        } else {
            Vec::new()
        },
    };
    let collecting = tokio::spawn(watch.run(collector));

    let (open_stats, mut tasks) = match &plan.model {
        Model::Closed { vus } => (
            None,
            closed::spawn(&executor, *vus, plan.iterations, (end, hard_end), &stop),
        ),
        Model::Open {
            stages,
            max_in_flight,
        } => {
            let schedule = Schedule::new(stages);
            let (stats, tasks) = open::schedule(
                &executor,
                &schedule,
                *max_in_flight,
                plan.iterations,
                (start, end),
                &stop,
            )
            .await;
            (Some(stats), tasks)
        }
    };
    let finished = join_all(&mut tasks, &stop, hard_end).await && !stop.was_cut_off();
    if !finished {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let elapsed = start.elapsed();
    done.notify_one();
    let collector = collecting.await.map_err(LoadError::Collector)?;

    let stop_reason = match stop.reason() {
        Some(StopReason::Duration | StopReason::Iterations) | None if !finished => {
            StopReason::Deadline
        }
        Some(reason) => reason,
        None => StopReason::Duration,
    };
    Ok(collector.summary(SummaryParts {
        scenario,
        plan,
        elapsed,
        stop: stop_reason,
        open: open_stats,
        failures: recorder.notes(),
        thresholds: &thresholds,
    }))
}

/// Waits until every task of `tasks` ended: `false` when `hard_end` came first, or when an
/// interrupt's grace ran out (the tasks left are then the caller's to cancel).
pub(crate) async fn join_all(tasks: &mut JoinSet<()>, stop: &Stop, hard_end: Instant) -> bool {
    let all_done = async {
        tokio::select! {
            () = async { while tasks.join_next().await.is_some() {} } => true,
            () = stop.interrupt_grace_over() => false,
        }
    };
    tokio::time::timeout_at(hard_end, all_done)
        .await
        .unwrap_or(false)
}

/// How long requests still in flight may take to end after an interrupt before they are
/// cancelled.
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);

/// The error rate a run must stay below when the scenario declares no `http.error_rate`
/// threshold: a run that mostly failed does not pass silently.
pub const DEFAULT_ERROR_RATE: &str = "< 5%";

/// `thresholds`, plus `http.error_rate < 5%` (marked as venom's default) unless they already
/// bound the error rate of all requests.
fn with_default_error_rate(mut thresholds: Vec<ThresholdSpec>) -> Vec<ThresholdSpec> {
    const KEY: &str = "http.error_rate";
    if thresholds.iter().all(|t| t.key != KEY) {
        if let Ok(mut default) = ThresholdSpec::parse(KEY, DEFAULT_ERROR_RATE) {
            default.condition = format!("{DEFAULT_ERROR_RATE} (default)");
            thresholds.push(default);
        }
    }
    thresholds
}

/// A point in time that is never reached in practice (for durations too long to add).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// The collector's surroundings: clock, live state, stop signals and thresholds to watch.
struct Watch {
    start: Instant,
    planned: Duration,
    executor: Arc<Executor>,
    stop: Arc<Stop>,
    done: Arc<Notify>,
    control: Control,
    /// Thresholds that abort the run once certainly broken (empty without `abort_on_fail`).
    abort: Vec<ThresholdSpec>,
}

impl Watch {
    /// Drains measurements every tick until the load is done, then once more; closes intervals,
    /// shows progress, honours Ctrl-C and aborts on broken thresholds.
    async fn run(self, mut collector: Collector) -> Collector {
        let tick = collector.tick_len;
        let mut ticker = tokio::time::interval_at(self.start + tick, tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Duration::ZERO;
        loop {
            let finished = tokio::select! {
                () = self.done.notified() => true,
                _ = ticker.tick() => false,
            };
            let now = self.start.elapsed();
            let requests = collector.drain();
            let live = self.live(&collector, now, requests, now.saturating_sub(last));
            last = now;
            if finished {
                collector.close_interval(now, true);
                break;
            }
            if self.control.interrupted() {
                self.stop.request(StopReason::Interrupted);
            }
            if let Some(refused_for) = self.executor.refusals().gone_for() {
                self.stop.request(StopReason::ApiGone(
                    u64::try_from(refused_for.as_millis()).unwrap_or(u64::MAX),
                ));
            }
            if !self.abort.is_empty() {
                let (overall, actions) = collector.stats(now);
                let measured = Measured {
                    overall: &overall,
                    actions: &actions,
                    intervals: &collector.intervals,
                };
                if let Some(broken) = threshold::certainly_broken(&self.abort, &measured) {
                    self.stop.request(StopReason::Aborted(broken.to_string()));
                }
            }
            if collector.interval_due(now) {
                if let Some(interval) = collector.close_interval(now, false) {
                    self.control.progress.interval(&live, interval);
                }
            }
            self.control.progress.tick(&live);
        }
        self.control.progress.finish();
        collector
    }

    fn live(&self, collector: &Collector, now: Duration, requests: u64, tick: Duration) -> Live {
        let overall = &collector.totals.overall;
        Live {
            elapsed: now,
            planned: self.planned,
            rate: if tick.is_zero() {
                0.0
            } else {
                requests as f64 / tick.as_secs_f64()
            },
            in_flight: self.executor.in_flight(),
            requests: overall.count,
            errors: overall.error_count(),
            p95_ms: (!overall.latency.is_empty())
                .then(|| overall.latency.value_at_quantile(0.95) as f64 / 1000.0),
        }
    }
}

/// Measurements drained from the recorder: run totals, the current interval, closed intervals.
struct Collector {
    recorder: Arc<Recorder>,
    /// Swapped with each shard's window while draining.
    spare: Window,
    /// What the last drain found.
    tick: Window,
    totals: Window,
    interval: Window,
    interval_start: Duration,
    interval_len: Duration,
    tick_len: Duration,
    intervals: Vec<IntervalStats>,
    names: Vec<String>,
    open: bool,
}

/// What the summary needs besides the measurements.
struct SummaryParts<'a> {
    scenario: &'a Scenario,
    plan: &'a LoadPlan,
    elapsed: Duration,
    stop: StopReason,
    open: Option<OpenStats>,
    failures: Vec<String>,
    thresholds: &'a [ThresholdSpec],
}

impl Collector {
    /// Moves new measurements into the totals and the current interval; returns how many
    /// requests they hold.
    fn drain(&mut self) -> u64 {
        self.tick.reset();
        self.recorder.drain(&mut self.spare, &mut self.tick);
        self.totals.add(&self.tick);
        self.interval.add(&self.tick);
        self.tick.overall.count
    }

    /// Whether the current interval has (about) reached its length at `now`.
    fn interval_due(&self, now: Duration) -> bool {
        now.saturating_sub(self.interval_start) + self.tick_len / 2 >= self.interval_len
    }

    /// Closes the current interval at `now`. The last one (`last`) may be shorter and is kept
    /// only when it has requests; a full one is kept even when empty (a stall shows as zero).
    fn close_interval(&mut self, now: Duration, last: bool) -> Option<&IntervalStats> {
        let length = now.saturating_sub(self.interval_start);
        let full = !last || self.interval_due(now);
        let keep = full || self.interval.overall.count > 0;
        if keep && !length.is_zero() {
            self.intervals.push(IntervalStats {
                start_s: self.interval_start.as_secs_f64(),
                end_s: now.as_secs_f64(),
                full,
                overall: WindowStats::of(&self.interval.overall, length),
                actions: self
                    .names
                    .iter()
                    .zip(&self.interval.actions)
                    .filter(|(_, t)| t.count > 0)
                    .map(|(name, t)| (name.clone(), WindowStats::of(t, length)))
                    .collect(),
            });
        }
        self.interval.reset();
        self.interval_start = now;
        if keep {
            self.intervals.last()
        } else {
            None
        }
    }

    /// Statistics of the totals over `elapsed`: overall, and per action that ran.
    fn stats(&self, elapsed: Duration) -> (Stats, Vec<ActionStats>) {
        let overall = Stats::of(&self.totals.overall, elapsed, self.open);
        let actions = self
            .names
            .iter()
            .zip(&self.totals.actions)
            .filter(|(_, t)| t.count > 0)
            .map(|(name, t)| ActionStats {
                name: name.clone(),
                stats: Stats::of(t, elapsed, self.open),
            })
            .collect();
        (overall, actions)
    }

    fn summary(self, parts: SummaryParts<'_>) -> LoadSummary {
        let (overall, mut actions) = self.stats(parts.elapsed);
        // Actions of the plan's flows are listed even when none of their requests was sent.
        for (index, name) in self.names.iter().enumerate() {
            let in_flow = parts.plan.flows.iter().any(|f| f.actions.contains(&index));
            if in_flow && !actions.iter().any(|a| &a.name == name) {
                actions.push(ActionStats {
                    name: name.clone(),
                    stats: Stats::default(),
                });
            }
        }
        actions.sort_by_key(|a| self.names.iter().position(|n| n == &a.name));
        let thresholds = threshold::evaluate(
            parts.thresholds,
            &Measured {
                overall: &overall,
                actions: &actions,
                intervals: &self.intervals,
            },
        );
        LoadSummary {
            kind: SUMMARY_KIND.into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            scenario: parts.scenario.file.display().to_string(),
            plan: PlanSummary::new(parts.plan, &self.names),
            elapsed_s: parts.elapsed.as_secs_f64(),
            stop: parts.stop,
            overall,
            actions,
            flows: parts
                .plan
                .flows
                .iter()
                .zip(&self.totals.flows)
                .map(|(f, c)| FlowStats {
                    name: f.name.clone(),
                    iterations: c.iterations,
                    failed: c.failed,
                })
                .collect(),
            open: parts.open,
            intervals: self.intervals,
            failures: parts.failures,
            thresholds,
            baseline: None,
            checks: Vec::new(),
        }
    }
}
