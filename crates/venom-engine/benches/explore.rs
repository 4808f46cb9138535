//! Throughput benchmark of the exploration loop on a large in-memory model.
//!
//! # What it measures
//!
//! The model is three counters `a`, `b`, `c`, each modulo [`N`] = 50, so the reachable state
//! space is exactly 50³ = 125,000 distinct states. Four actions are always enabled: `inc_a`,
//! `inc_b`, `inc_c` (add one, wrapping) and `reset_c` (set `c` to 0, a self-loop when it is
//! already 0), so exhausting the space takes 4 × 125,000 = 500,000 steps. The world reports
//! the three counters as a small observation (that is what tells the states apart: the
//! context stays empty), and keeps its checkpoints in a `Vec` indexed by id, so checkpoint,
//! rollback and release are O(1) and random access is cheap. Two invariants always hold; a
//! third (`not_all_max`) breaks only in the single state `a = b = c = N - 1`, so the
//! violation-reporting path runs without flooding the output.
//!
//! The same exploration runs to exhaustion with breadth-first, depth-first and random
//! (seeded) strategies and the same step budget, [`REPEATS`] times each. For each strategy the
//! table shows the (deterministic) numbers of states, transitions and steps, the median,
//! minimum and maximum wall time of one run, the resulting states/s and steps/s, how many
//! steps had to roll the world back to another state first, and the largest number of live
//! checkpoints (a proxy for the frontier's memory).
//!
//! Memory: before each strategy's batch the peak resident set (`VmHWM`) is reset by writing
//! `5` to `/proc/self/clear_refs`, and read back from `/proc/self/status` after the batch.
//! These figures are process-wide: they include the bench binary itself and any heap the
//! allocator kept from earlier batches (`VmRSS` at the start of the batch is printed too).
//! If the reset is not permitted, the peaks are cumulative over the whole process.
//!
//! # How to run
//!
//! ```text
//! cargo bench -p venom-engine --bench explore            # every strategy
//! cargo bench -p venom-engine --bench explore -- bfs     # only the named strategies
//! ```
//!
//! It is a plain `main` (`harness = false`), no external benchmark framework.

use std::fs;
use std::hint::black_box;
use std::time::Instant;
use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Exploration, Explorer, ExplorerConfig,
    Invariant, Observation, Outcome, Severity, StopReason, Strategy, Verdict, World, WorldError,
};

/// Modulus of each counter.
const N: u32 = 50;
/// Distinct reachable states.
const STATES: usize = (N * N * N) as usize;
/// Actions of the model.
const ACTIONS: usize = 4;
/// Step budget of every run: more than the 500,000 steps exhaustion needs.
const MAX_STEPS: u64 = 1_000_000;
/// Runs per strategy.
const REPEATS: usize = 5;
/// Seed of the random strategy.
const SEED: u64 = 0x5EED;

/// The state of the model system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    a: u32,
    b: u32,
    c: u32,
}

/// An in-memory world with random-access checkpoints.
#[derive(Default)]
struct CounterWorld {
    now: Counters,
    /// Checkpoint `i` is `saved[i]`; `None` once released.
    saved: Vec<Option<Counters>>,
    live: usize,
    peak_live: usize,
    rollbacks: u64,
}

impl World for CounterWorld {
    fn mechanism(&self) -> String {
        "in-memory counters".to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        CheckpointMode::RandomAccess
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let id = self.saved.len() as u64;
        self.saved.push(Some(self.now));
        self.live += 1;
        self.peak_live = self.peak_live.max(self.live);
        Ok(CheckpointId(id))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        self.rollbacks += 1;
        match self.saved.get(id.0 as usize) {
            Some(Some(state)) => {
                self.now = *state;
                Ok(())
            }
            _ => Err(WorldError::new(format!(
                "rollback to unknown or released checkpoint {}",
                id.0
            ))),
        }
    }

    fn release(&mut self, id: CheckpointId) {
        if let Some(slot) = self.saved.get_mut(id.0 as usize) {
            if slot.take().is_some() {
                self.live -= 1;
            }
        }
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.now = Counters::default();
        Ok(())
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut obs = Observation::new();
        obs.insert("a".into(), self.now.a.into());
        obs.insert("b".into(), self.now.b.into());
        obs.insert("c".into(), self.now.c.into());
        Ok(obs)
    }
}

fn action(name: &str, f: impl Fn(&mut Counters) + Send + Sync + 'static) -> Action<CounterWorld> {
    Action::new(name, move |w: &mut CounterWorld, _ctx: &mut Context| {
        f(&mut w.now);
        Ok(Outcome::default())
    })
}

fn actions() -> Vec<Action<CounterWorld>> {
    vec![
        action("inc_a", |s| s.a = (s.a + 1) % N),
        action("inc_b", |s| s.b = (s.b + 1) % N),
        action("inc_c", |s| s.c = (s.c + 1) % N),
        action("reset_c", |s| s.c = 0),
    ]
}

fn holds_if(ok: bool, message: &str) -> Result<Verdict, WorldError> {
    Ok(if ok {
        Verdict::Holds
    } else {
        Verdict::broken(message)
    })
}

fn invariants() -> Vec<Invariant<CounterWorld>> {
    vec![
        Invariant::new("in_range", Severity::High, |w: &mut CounterWorld, _| {
            let s = w.now;
            holds_if(s.a < N && s.b < N && s.c < N, "a counter is out of range")
        }),
        Invariant::new(
            "sum_bounded",
            Severity::Medium,
            |w: &mut CounterWorld, _| {
                let s = w.now;
                holds_if(s.a + s.b + s.c <= 3 * (N - 1), "the sum is too large")
            },
        ),
        Invariant::new("not_all_max", Severity::Low, |w: &mut CounterWorld, _| {
            let s = w.now;
            holds_if(
                !(s.a == N - 1 && s.b == N - 1 && s.c == N - 1),
                "every counter is at its maximum",
            )
        }),
    ]
}

/// Figures of one run.
struct Sample {
    result: Exploration,
    secs: f64,
    rollbacks: u64,
    peak_live: usize,
}

fn run_once(strategy: Strategy) -> Sample {
    let config = ExplorerConfig::default()
        .strategy(strategy)
        .max_steps(MAX_STEPS)
        .seed(SEED);
    let started = Instant::now();
    let mut explorer =
        Explorer::new(CounterWorld::default(), actions(), invariants()).with_config(config);
    let result = explorer.run(Context::new()).expect("valid setup");
    let result = black_box(result);
    let secs = started.elapsed().as_secs_f64();
    let world = explorer.world_mut();
    Sample {
        result,
        secs,
        rollbacks: world.rollbacks,
        peak_live: world.peak_live,
    }
}

/// Checks that the run explored the whole model and found exactly the planted violation.
fn check(strategy: Strategy, r: &Exploration) {
    assert_eq!(r.stop, StopReason::Exhausted, "{strategy}: {}", r.stop);
    assert_eq!(r.states, STATES, "{strategy}: states");
    assert_eq!(r.steps, (STATES * ACTIONS) as u64, "{strategy}: steps");
    assert_eq!(r.transitions as u64, r.steps, "{strategy}: transitions");
    // `not_all_max` breaks on the three increments into (N-1, N-1, N-1), one group each.
    assert_eq!(r.violations.len(), 3, "{strategy}: violations");
    assert!(
        r.violations.iter().all(|v| v.invariant == "not_all_max"),
        "{strategy}: unexpected violation"
    );
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`), if readable.
fn status_kib(field: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0); false when not permitted.
fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_string(),
        |k| format!("{:.1}", k as f64 / 1024.0),
    )
}

/// Row of the table for one strategy.
struct Row {
    strategy: Strategy,
    states: usize,
    transitions: usize,
    steps: u64,
    max_depth: u32,
    /// Wall times in seconds, sorted.
    secs: Vec<f64>,
    rollbacks: u64,
    peak_live: usize,
    rss_before_kib: Option<u64>,
    hwm_kib: Option<u64>,
}

fn bench(strategy: Strategy, peak_reset: bool) -> Row {
    if peak_reset {
        reset_peak_rss();
    }
    let rss_before_kib = status_kib("VmRSS");
    let samples: Vec<Sample> = (0..REPEATS).map(|_| run_once(strategy)).collect();
    let hwm_kib = status_kib("VmHWM");
    let first = &samples[0];
    for s in &samples {
        check(strategy, &s.result);
        // Every run of a strategy is deterministic (the random one is seeded).
        assert_eq!(s.result.states, first.result.states);
        assert_eq!(s.result.steps, first.result.steps);
        assert_eq!(s.rollbacks, first.rollbacks);
    }
    let mut secs: Vec<f64> = samples.iter().map(|s| s.secs).collect();
    secs.sort_by(f64::total_cmp);
    Row {
        strategy,
        states: first.result.states,
        transitions: first.result.transitions,
        steps: first.result.steps,
        max_depth: first.result.max_depth,
        secs,
        rollbacks: first.rollbacks,
        peak_live: first.peak_live,
        rss_before_kib,
        hwm_kib,
    }
}

fn print_table(rows: &[Row], peak_reset: bool) {
    println!(
        "{:<8} {:>8} {:>11} {:>8} {:>6} | {:>26} | {:>22} | {:>22} | {:>9} {:>9} | {:>9} {:>9}",
        "strategy",
        "states",
        "transitions",
        "steps",
        "depth",
        "wall ms: median (min-max)",
        "k states/s: med (range)",
        "k steps/s: med (range)",
        "rollbacks",
        "peak ckpt",
        "RSS0 MiB",
        "HWM MiB",
    );
    for row in rows {
        let (min, max) = (row.secs[0], row.secs[row.secs.len() - 1]);
        let median = row.secs[row.secs.len() / 2];
        let rate = |count: f64, secs: f64| count / secs / 1000.0;
        let states = row.states as f64;
        let steps = row.steps as f64;
        println!(
            "{:<8} {:>8} {:>11} {:>8} {:>6} | {:>26} | {:>22} | {:>22} | {:>9} {:>9} | {:>9} {:>9}",
            row.strategy.as_str(),
            row.states,
            row.transitions,
            row.steps,
            row.max_depth,
            format!("{:.0} ({:.0}-{:.0})", median * 1e3, min * 1e3, max * 1e3),
            format!(
                "{:.0} ({:.0}-{:.0})",
                rate(states, median),
                rate(states, max),
                rate(states, min)
            ),
            format!(
                "{:.0} ({:.0}-{:.0})",
                rate(steps, median),
                rate(steps, max),
                rate(steps, min)
            ),
            row.rollbacks,
            row.peak_live,
            mib(row.rss_before_kib),
            mib(row.hwm_kib),
        );
    }
    println!();
    println!(
        "{REPEATS} runs per strategy, step budget {MAX_STEPS}, {} actions, 3 invariants; \
         rollbacks = steps that first restored another state; peak ckpt = most live checkpoints.",
        ACTIONS
    );
    if peak_reset {
        println!(
            "RSS0 = VmRSS before the strategy's batch; HWM = VmHWM after it, reset before it \
             (process-wide, includes heap kept by the allocator from earlier batches)."
        );
    } else {
        println!(
            "RSS0 = VmRSS before the strategy's batch; HWM = VmHWM after it, cumulative since \
             process start (resetting it via /proc/self/clear_refs was not permitted)."
        );
    }
    println!(
        "Process VmHWM at the end: {} MiB (process-wide).",
        mib(status_kib("VmHWM"))
    );
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments select strategies by name.
    let mut strategies: Vec<Strategy> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(|a| a.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    if strategies.is_empty() {
        strategies = vec![Strategy::Bfs, Strategy::Dfs, Strategy::Random];
    }
    println!(
        "venom-engine explore bench: {N}^3 = {STATES} states, exhaustive runs, {REPEATS} repeats"
    );
    let peak_reset = reset_peak_rss();
    let started = Instant::now();
    let rows: Vec<Row> = strategies
        .into_iter()
        .map(|s| bench(s, peak_reset))
        .collect();
    print_table(&rows, peak_reset);
    println!("Total bench time: {:.1} s", started.elapsed().as_secs_f64());
}
