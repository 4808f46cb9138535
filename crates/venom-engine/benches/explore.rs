//! Throughput benchmark of the exploration loop on a large in-memory model.
//!
//! # What it measures
//!
//! The model is three counters `a`, `b`, `c`, each modulo `n` (50 unless `--n` says otherwise),
//! so the reachable state space is exactly n³ distinct states: 125,000 by default, 10,077,696
//! with `--n 216`. Four actions are always enabled: `inc_a`,
//! `inc_b`, `inc_c` (add one, wrapping) and `reset_c` (set `c` to 0, a self-loop when it is
//! already 0), so exhausting the space takes 4 × 125,000 = 500,000 steps. The world reports
//! the three counters as a small observation (that is what tells the states apart: the
//! context stays empty), and keeps its checkpoints in a `Vec` indexed by id, so checkpoint,
//! rollback and release are O(1) and random access is cheap. Two invariants always hold; a
//! third (`not_all_max`) breaks only in the single state `a = b = c = n - 1`, so the
//! violation-reporting path runs without flooding the output.
//!
//! The same exploration runs to exhaustion with breadth-first, depth-first and random
//! (seeded) strategies, `--repeats` times each (5 unless told). For each strategy the
//! table shows the (deterministic) numbers of states, transitions and steps, the median,
//! minimum and maximum wall time of one run, the resulting states/s and steps/s, how many
//! steps had to roll the world back to another state first, and the largest number of live
//! checkpoints (a proxy for the frontier's memory).
//!
//! Side by side, `stateright-bfs` and `stateright-dfs` check the very same model (three
//! counters modulo n, the same four actions, the same three properties) with stateright's
//! checker on one thread: its unique states/s and memory on the same machine in the same run.
//! Stateright keeps a fingerprint table and a queue, venom keeps the whole graph (for shortest
//! paths whatever the strategy) and drives a live world with checkpoints.
//!
//! Heap: a counting global allocator gives the peak of live heap bytes during each batch, and
//! that peak divided by the states is the `B/state` column (it holds everything: the graph, the
//! frontier, the world's checkpoints, the result). The `world B/` column is the part of it that
//! the model's world's own checkpoint store held when the most checkpoints were live (its
//! arrays' capacity, per state): the rest is venom's.
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
//! cargo bench -p venom-engine --bench explore            # venom and stateright, n = 50
//! cargo bench -p venom-engine --bench explore -- bfs     # only the named strategies
//! cargo bench -p venom-engine --bench explore -- bfs dfs stateright-bfs stateright-dfs --n 216 --repeats 1
//! ```
//!
//! It is a plain `main` (`harness = false`), no external benchmark framework.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;
use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Exploration, Explorer, ExplorerConfig,
    Invariant, Observation, ObservationSink, Outcome, Severity, StopReason, Strategy, Verdict,
    World, WorldError,
};
use venom_testkit::bench_args::{option, words};

/// Actions of the model.
const ACTIONS: usize = 4;
/// Seed of the random strategy.
const SEED: u64 = 0x5EED;

/// The system allocator, counting live bytes and their peak while [`COUNTING`] is set.
///
/// Counting costs two locked atomic operations per allocation and one per free, which slows
/// whichever subject allocates more per step. So the timed runs count nothing, and one more run
/// per row, untimed, counts: a relaxed load of the flag is all the timed runs pay.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Signed: a counted run may free what was allocated before counting began.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is to the system allocator.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes as isize, Ordering::Relaxed) + bytes as isize;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with the allocator counting; returns its result and the peak of the heap bytes
/// that were live at once during it, above what was live when it began.
fn counting_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let result = f();
    COUNTING.store(false, Ordering::SeqCst);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    (result, peak.max(0) as usize)
}

/// The state of the model system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
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
    /// Released slots of `saved`, to reuse.
    free: Vec<u64>,
    live: usize,
    peak_live: usize,
    /// The bytes of `saved` and `free` (their capacity) when the most checkpoints were live.
    bytes_at_peak: usize,
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
        let id = match self.free.pop() {
            Some(id) => {
                self.saved[id as usize] = Some(self.now);
                id
            }
            None => {
                self.saved.push(Some(self.now));
                self.saved.len() as u64 - 1
            }
        };
        self.live += 1;
        if self.live > self.peak_live {
            self.peak_live = self.live;
            self.bytes_at_peak = self.saved.capacity() * std::mem::size_of::<Option<Counters>>()
                + self.free.capacity() * std::mem::size_of::<u64>();
        }
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
                self.free.push(id.0);
            }
        }
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.now = Counters::default();
        Ok(())
    }

    /// The same three values as `observe`, fed to the fingerprint without building them.
    fn observe_into(&mut self, sink: &mut ObservationSink<'_>) -> Result<bool, WorldError> {
        sink.integer("a", i64::from(self.now.a));
        sink.integer("b", i64::from(self.now.b));
        sink.integer("c", i64::from(self.now.c));
        Ok(true)
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut obs = Observation::with_capacity(3);
        obs.insert("a", self.now.a.into());
        obs.insert("b", self.now.b.into());
        obs.insert("c", self.now.c.into());
        Ok(obs)
    }
}

/// The four actions on counters modulo `n`, shared by both checkers.
fn apply(n: u32, state: Counters, action: usize) -> Counters {
    let mut s = state;
    match action {
        0 => s.a = (s.a + 1) % n,
        1 => s.b = (s.b + 1) % n,
        2 => s.c = (s.c + 1) % n,
        _ => s.c = 0,
    }
    s
}

const ACTION_NAMES: [&str; ACTIONS] = ["inc_a", "inc_b", "inc_c", "reset_c"];

fn actions(n: u32) -> Vec<Action<CounterWorld>> {
    (0..ACTIONS)
        .map(|i| {
            Action::new(
                ACTION_NAMES[i],
                move |w: &mut CounterWorld, _: &mut Context| {
                    w.now = apply(n, w.now, i);
                    Ok(Outcome::default())
                },
            )
        })
        .collect()
}

fn holds_if(ok: bool, message: &str) -> Result<Verdict, WorldError> {
    Ok(if ok {
        Verdict::Holds
    } else {
        Verdict::broken(message)
    })
}

fn in_range(n: u32, s: Counters) -> bool {
    s.a < n && s.b < n && s.c < n
}

fn sum_bounded(n: u32, s: Counters) -> bool {
    s.a + s.b + s.c <= 3 * (n - 1)
}

fn not_all_max(n: u32, s: Counters) -> bool {
    !(s.a == n - 1 && s.b == n - 1 && s.c == n - 1)
}

fn invariants(n: u32) -> Vec<Invariant<CounterWorld>> {
    vec![
        Invariant::new(
            "in_range",
            Severity::High,
            move |w: &mut CounterWorld, _| {
                holds_if(in_range(n, w.now), "a counter is out of range")
            },
        ),
        Invariant::new(
            "sum_bounded",
            Severity::Medium,
            move |w: &mut CounterWorld, _| holds_if(sum_bounded(n, w.now), "the sum is too large"),
        ),
        Invariant::new(
            "not_all_max",
            Severity::Low,
            move |w: &mut CounterWorld, _| {
                holds_if(not_all_max(n, w.now), "every counter is at its maximum")
            },
        ),
    ]
}

/// The same model for stateright.
struct CounterModel {
    n: u32,
}

impl stateright::Model for CounterModel {
    type State = Counters;
    type Action = usize;

    fn init_states(&self) -> Vec<Counters> {
        vec![Counters::default()]
    }

    fn actions(&self, _: &Counters, actions: &mut Vec<usize>) {
        actions.extend(0..ACTIONS);
    }

    fn next_state(&self, state: &Counters, action: usize) -> Option<Counters> {
        Some(apply(self.n, *state, action))
    }

    fn properties(&self) -> Vec<stateright::Property<Self>> {
        vec![
            stateright::Property::always("in_range", |m: &Self, s| in_range(m.n, *s)),
            stateright::Property::always("sum_bounded", |m: &Self, s| sum_bounded(m.n, *s)),
            // Broken in one state; the others never are, so the check runs to exhaustion.
            stateright::Property::always("not_all_max", |m: &Self, s| not_all_max(m.n, *s)),
        ]
    }
}

/// What a bench row runs.
#[derive(Clone, Copy)]
enum Subject {
    Venom(Strategy),
    /// stateright's checker, breadth-first (`true`) or depth-first.
    Stateright {
        bfs: bool,
    },
}

impl Subject {
    fn parse(name: &str) -> Subject {
        match name {
            "stateright-bfs" => Subject::Stateright { bfs: true },
            "stateright-dfs" => Subject::Stateright { bfs: false },
            other => Subject::Venom(other.parse().unwrap_or_else(|e| panic!("{e}"))),
        }
    }

    fn name(self) -> String {
        match self {
            Subject::Venom(strategy) => strategy.as_str().to_string(),
            Subject::Stateright { bfs: true } => "stateright-bfs".into(),
            Subject::Stateright { bfs: false } => "stateright-dfs".into(),
        }
    }
}

/// Figures of one run.
struct Sample {
    states: usize,
    transitions: usize,
    steps: u64,
    max_depth: u32,
    secs: f64,
    rollbacks: u64,
    peak_live: usize,
    /// The bytes of the world's checkpoint store (its arrays' capacity) when the most
    /// checkpoints were live.
    world_bytes: usize,
}

fn run_venom(strategy: Strategy, n: u32) -> Sample {
    let states = (n * n * n) as usize;
    let config = ExplorerConfig::default()
        .strategy(strategy)
        .max_steps(2 * (states * ACTIONS) as u64)
        .seed(SEED);
    let started = Instant::now();
    let mut explorer =
        Explorer::new(CounterWorld::default(), actions(n), invariants(n)).with_config(config);
    let result = explorer.run(Context::new()).expect("valid setup");
    let result = black_box(result);
    let secs = started.elapsed().as_secs_f64();
    check(strategy, n, &result);
    let world = explorer.world_mut();
    Sample {
        states: result.states,
        transitions: result.transitions,
        steps: result.steps,
        max_depth: result.max_depth,
        secs,
        rollbacks: world.rollbacks,
        peak_live: world.peak_live,
        world_bytes: world.bytes_at_peak,
    }
}

fn run_stateright(bfs: bool, n: u32) -> Sample {
    use stateright::{Checker, Model};
    fn finished<C: Checker<CounterModel>>(checker: C, n: u32, started: Instant) -> Sample {
        let checker = checker.join();
        let secs = started.elapsed().as_secs_f64();
        let states = checker.unique_state_count();
        assert_eq!(states, (n * n * n) as usize, "stateright: states");
        assert!(
            checker.discovery("not_all_max").is_some(),
            "stateright: the planted violation"
        );
        Sample {
            states,
            transitions: checker.state_count(),
            steps: checker.state_count() as u64,
            max_depth: checker.max_depth() as u32,
            secs,
            rollbacks: 0,
            peak_live: 0,
            world_bytes: 0,
        }
    }
    let started = Instant::now();
    let builder = CounterModel { n }.checker().threads(1);
    match bfs {
        true => finished(builder.spawn_bfs(), n, started),
        false => finished(builder.spawn_dfs(), n, started),
    }
}

/// Checks that the run explored the whole model and found exactly the planted violation.
fn check(strategy: Strategy, n: u32, r: &Exploration) {
    let states = (n * n * n) as usize;
    assert_eq!(r.stop, StopReason::Exhausted, "{strategy}: {}", r.stop);
    assert_eq!(r.states, states, "{strategy}: states");
    assert_eq!(r.steps, (states * ACTIONS) as u64, "{strategy}: steps");
    assert_eq!(r.transitions as u64, r.steps, "{strategy}: transitions");
    // `not_all_max` breaks on the three increments into (n-1, n-1, n-1), one group each.
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

/// Row of the table for one subject.
struct Row {
    name: String,
    states: usize,
    transitions: usize,
    steps: u64,
    max_depth: u32,
    /// Wall times in seconds, sorted.
    secs: Vec<f64>,
    rollbacks: u64,
    peak_live: usize,
    world_bytes: usize,
    /// Peak live heap of the batch above what was live before it.
    peak_heap: usize,
    rss_before_kib: Option<u64>,
    hwm_kib: Option<u64>,
}

fn bench(subject: Subject, n: u32, repeats: usize, peak_reset: bool) -> Row {
    if peak_reset {
        reset_peak_rss();
    }
    let rss_before_kib = status_kib("VmRSS");
    let run = || match subject {
        Subject::Venom(strategy) => run_venom(strategy, n),
        Subject::Stateright { bfs } => run_stateright(bfs, n),
    };
    let samples: Vec<Sample> = (0..repeats).map(|_| run()).collect();
    // One more run, untimed, with the allocator counting.
    let (counted, peak_heap) = counting_heap(run);
    let hwm_kib = status_kib("VmHWM");
    let first = &samples[0];
    for s in samples.iter().chain([&counted]) {
        // Every run is deterministic (the random strategy is seeded).
        assert_eq!(s.states, first.states);
        assert_eq!(s.steps, first.steps);
        assert_eq!(s.rollbacks, first.rollbacks);
    }
    let mut secs: Vec<f64> = samples.iter().map(|s| s.secs).collect();
    secs.sort_by(f64::total_cmp);
    Row {
        name: subject.name(),
        states: first.states,
        transitions: first.transitions,
        steps: first.steps,
        max_depth: first.max_depth,
        secs,
        rollbacks: first.rollbacks,
        peak_live: first.peak_live,
        world_bytes: first.world_bytes,
        peak_heap,
        rss_before_kib,
        hwm_kib,
    }
}

fn print_table(rows: &[Row], repeats: usize, peak_reset: bool) {
    println!(
        "{:<14} {:>8} {:>11} {:>8} {:>6} | {:>26} | {:>22} | {:>9} {:>9} | {:>9} {:>7} {:>8} | {:>8} {:>8}",
        "subject",
        "states",
        "transitions",
        "steps",
        "depth",
        "wall ms: median (min-max)",
        "k states/s: med (range)",
        "rollbacks",
        "peak ckpt",
        "heap MiB",
        "B/state",
        "world B/",
        "RSS0 MiB",
        "HWM MiB",
    );
    for row in rows {
        let (min, max) = (row.secs[0], row.secs[row.secs.len() - 1]);
        let median = row.secs[row.secs.len() / 2];
        let rate = |count: f64, secs: f64| count / secs / 1000.0;
        let states = row.states as f64;
        println!(
            "{:<14} {:>8} {:>11} {:>8} {:>6} | {:>26} | {:>22} | {:>9} {:>9} | {:>9.1} {:>7.0} {:>8.0} | {:>8} {:>8}",
            row.name,
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
            row.rollbacks,
            row.peak_live,
            row.peak_heap as f64 / (1 << 20) as f64,
            row.peak_heap as f64 / states,
            row.world_bytes as f64 / states,
            mib(row.rss_before_kib),
            mib(row.hwm_kib),
        );
    }
    println!();
    println!(
        "{repeats} runs per row, {ACTIONS} actions, 3 invariants; rollbacks = steps that first \
         restored another state; peak ckpt = most live checkpoints; stateright's transitions and \
         steps are the states it generated."
    );
    println!(
        "heap = peak of live heap bytes during the batch (counting allocator: graph, frontier, \
         world, result); B/state = that peak / states; world B/ = of those, the bytes per \
         state of the model's world's checkpoint store when the most were live (venom's own \
         share is the rest)."
    );
    if peak_reset {
        println!(
            "RSS0 = VmRSS before the row's batch; HWM = VmHWM after it, reset before it \
             (process-wide, includes heap kept by the allocator from earlier batches)."
        );
    } else {
        println!(
            "RSS0 = VmRSS before the row's batch; HWM = VmHWM after it, cumulative since \
             process start (resetting it via /proc/self/clear_refs was not permitted)."
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u32 = option(&args, "n").map_or(50, |v| v.parse().expect("--n takes a number"));
    assert!((2..=1000).contains(&n), "--n must be 2..=1000");
    let repeats: usize =
        option(&args, "repeats").map_or(5, |v| v.parse().expect("--repeats takes a number"));
    assert!(repeats >= 1, "--repeats must be at least 1");
    // `cargo bench` passes `--bench`; other words select what runs, by name.
    let mut subjects: Vec<Subject> = words(&args, &["--n", "--repeats"])
        .iter()
        .map(|a| Subject::parse(a))
        .collect();
    if subjects.is_empty() {
        subjects = ["bfs", "dfs", "random", "stateright-bfs", "stateright-dfs"]
            .map(Subject::parse)
            .to_vec();
    }
    let states = u64::from(n).pow(3);
    println!(
        "venom-engine explore bench: {n}^3 = {states} states, exhaustive runs, {repeats} repeats"
    );
    let peak_reset = reset_peak_rss();
    let started = Instant::now();
    let rows: Vec<Row> = subjects
        .into_iter()
        .map(|s| bench(s, n, repeats, peak_reset))
        .collect();
    print_table(&rows, repeats, peak_reset);
    println!("Total bench time: {:.1} s", started.elapsed().as_secs_f64());
}
