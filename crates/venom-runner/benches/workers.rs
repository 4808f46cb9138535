//! Steps per second of a breadth-first exploration of the demo API with 1, 2, 4 and 8 workers,
//! each driving its own `venom-demo` server (started by the scenario's `[server]` on its own
//! `${VENOM_PORT}`, with its own copy of the SQLite file from `$VENOM_SQLITE_PATH`).
//!
//! Every request waits `--latency` milliseconds in the server (5 unless told), as a real API
//! does: the point of workers is to overlap that waiting. The scenario is the bundled demo with
//! a larger space (`max_depth` 9 and `max_calls` 5 for the partial refunds and payments, or
//! `--max-depth` and `--max-calls`), so a run takes over a hundred steps. Each round runs every worker count once, in turn, and the
//! table shows the medians over the rounds: steps/s, its ratio to one worker's median (the
//! target is at least 0.8 × N), the steps replayed to reach a state a worker held no checkpoint
//! of, the states restored from a checkpoint another worker lent (SQLite snapshots are lent, so
//! the replays are gone), and the CPU venom itself spent per step (user + system time of this
//! process, which holds the explorer and its workers; the servers are other processes).
//!
//! ```text
//! cargo bench -p venom-runner --bench workers                      # 1 2 4 8 workers, 3 rounds
//! cargo bench -p venom-runner --bench workers -- --rounds 5 --latency 10 --max-depth 12 1 4
//! cargo bench -p venom-runner --bench workers -- --orders 2       # wider levels: 1,336 steps
//! ```
//!
//! The first run builds the `venom-demo` binary (release) into the bench's target folder.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use venom_demo::{DemoServer, DEMO_SCENARIO};
use venom_engine::{Context, Exploration, StopReason};
use venom_runner::{HttpWorld, Processes, WorkerCopies};
use venom_scenario::Scenario;
use venom_testkit::bench_args::{option, words};

/// One run's figures.
struct Sample {
    steps: u64,
    states: usize,
    violations: usize,
    secs: f64,
    cpu_secs: f64,
    replayed: u64,
    borrowed: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = option(&args, "rounds").map_or(3, |v| v.parse().expect("--rounds N"));
    let latency: u64 = option(&args, "latency").map_or(5, |v| v.parse().expect("--latency MS"));
    let space = Space {
        max_depth: option(&args, "max-depth").map_or(9, |v| v.parse().expect("--max-depth N")),
        max_calls: option(&args, "max-calls").map_or(5, |v| v.parse().expect("--max-calls N")),
        orders: option(&args, "orders").map_or(1, |v| v.parse().expect("--orders N")),
    };
    assert!((1..=30).contains(&space.max_depth) && (1..=30).contains(&space.max_calls));
    assert!((1..=5).contains(&space.orders), "--orders must be 1..=5");
    assert!((1..=50).contains(&rounds), "--rounds must be 1..=50");
    assert!(latency <= 1000, "--latency must be at most 1000 ms");
    let valued = [
        "--rounds",
        "--latency",
        "--max-depth",
        "--max-calls",
        "--orders",
    ];
    let mut counts: Vec<usize> = words(&args, &valued)
        .iter()
        .map(|a| a.parse().expect("worker counts are numbers"))
        .collect();
    if counts.is_empty() {
        counts = vec![1, 2, 4, 8];
    }
    assert!(
        counts.iter().all(|n| (1..=64).contains(n)),
        "1..=64 workers"
    );

    let folder = tempfile::tempdir().expect("temporary folder");
    let db = folder.path().join("demo.db");
    // The demo creates its tables in a new file; the workers copy that file.
    DemoServer::start(&db).expect("demo API").shutdown();
    let demo = demo_binary();
    let text = scenario_text(&demo, &db, latency, space);
    let scenario =
        venom_scenario::parse(&text, &folder.path().join("demo.toml")).expect("bench scenario");

    println!(
        "demo exploration with workers: BFS over the whole space up to max_depth, {latency} ms per request, {rounds} \
         rounds, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut samples: Vec<Vec<Sample>> = counts.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, &workers) in counts.iter().enumerate() {
            samples[i].push(run(&scenario, workers));
        }
    }
    let one = counts
        .iter()
        .position(|&n| n == 1)
        .map(|i| median(samples[i].iter().map(|s| s.steps as f64 / s.secs)));
    println!(
        "{:>7} {:>6} {:>6} {:>10} | {:>24} | {:>9} | {:>12} | {:>12} | {:>16}",
        "workers",
        "steps",
        "states",
        "violations",
        "steps/s med (min-max)",
        "vs 1",
        "replayed med",
        "borrowed med",
        "venom CPU ms/step"
    );
    for (i, &workers) in counts.iter().enumerate() {
        let runs = &samples[i];
        let rates: Vec<f64> = runs.iter().map(|s| s.steps as f64 / s.secs).collect();
        let rate = median(rates.iter().copied());
        let (min, max) = rates
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let first = &runs[0];
        println!(
            "{:>7} {:>6} {:>6} {:>10} | {:>24} | {:>9} | {:>12.0} | {:>12.0} | {:>16.3}",
            workers,
            first.steps,
            first.states,
            first.violations,
            format!("{rate:.1} ({min:.1}-{max:.1})"),
            one.map_or("-".into(), |one| format!(
                "{:.2}x ({:.2}·N)",
                rate / one,
                rate / one / workers as f64
            )),
            median(runs.iter().map(|s| s.replayed as f64)),
            median(runs.iter().map(|s| s.borrowed as f64)),
            median(runs.iter().map(|s| s.cpu_secs * 1e3 / s.steps as f64)),
        );
    }
}

/// One exploration with `workers` workers; checks that it found what one worker finds.
fn run(scenario: &Scenario, workers: usize) -> Sample {
    let copies = WorkerCopies::prepare(scenario, workers).expect("worker copies");
    let processes = Processes::default();
    let connect = |s: &Scenario| HttpWorld::connect(s, &processes).expect("worker world");
    let world = connect(scenario);
    let others: Vec<HttpWorld> = copies.scenarios().iter().map(connect).collect();
    let mut explorer = common::explorer(scenario, world).with_workers(others);
    let cpu_before = cpu_secs();
    let started = Instant::now();
    let result: Exploration = explorer.run(Context::new()).expect("exploration");
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = cpu_secs() - cpu_before;
    for world in explorer.worlds_mut() {
        world.stop_server();
    }
    assert!(
        matches!(result.stop, StopReason::Exhausted | StopReason::DepthLimit),
        "{workers} workers: stopped by {}",
        result.stop
    );
    assert_eq!(
        result.violations.len(),
        5,
        "{workers} workers: the planted bugs"
    );
    Sample {
        steps: result.steps,
        states: result.states,
        violations: result.violations.len(),
        secs,
        cpu_secs,
        replayed: result.workers.iter().map(|w| w.replayed).sum(),
        borrowed: result.workers.iter().map(|w| w.borrowed).sum(),
    }
}

/// How far the bench's scenario explores.
#[derive(Clone, Copy)]
struct Space {
    max_depth: u32,
    /// `max_calls` of the partial refunds and the payments (2 in the bundled demo).
    max_calls: u32,
    /// How many plain orders a path may create (1 in the bundled demo, where a path works on
    /// one order): more make every level of the breadth-first search wider.
    orders: u32,
}

/// The demo scenario on `${VENOM_PORT}` with a larger `space`, its `[server]` the demo binary
/// with `latency`, its database `db`.
fn scenario_text(demo: &Path, db: &Path, latency: u64, space: Space) -> String {
    let text = DEMO_SCENARIO
        .replace(
            "base_url = \"http://127.0.0.1:8080\"",
            "base_url = \"http://127.0.0.1:${VENOM_PORT}\"",
        )
        .replace("max_depth = 5", &format!("max_depth = {}", space.max_depth))
        .replace("max_calls = 2", &format!("max_calls = {}", space.max_calls))
        .replace(
            "requires = { expr = \"!has(ctx.order_id)\" }\nmax_calls = 1",
            &format!(
                "requires = {{ expr = \"!has(ctx.idempotency_key)\" }}\nmax_calls = {}",
                space.orders
            ),
        )
        .replace(
            "sqlite_path = \"demo.db\"",
            &format!("sqlite_path = '{}'", db.display()),
        );
    let depth = format!("max_depth = {}", space.max_depth);
    assert!(text.contains("${VENOM_PORT}") && text.contains(&depth));
    assert!(space.orders == 1 || text.contains("!has(ctx.idempotency_key)\" }\nmax_calls"));
    format!(
        "{text}\n[server]\ncommand = '''exec '{}' --listen 127.0.0.1:$VENOM_PORT --db \
         \"$VENOM_SQLITE_PATH\" --latency {latency}'''\nready_url = \"/health\"\n",
        demo.display()
    )
}

/// The `venom-demo` binary, built (release) into the target folder this bench runs from.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    // target/<profile>/deps/workers-…
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the bench is in target/<profile>/deps");
    let target_dir = profile_dir
        .parent()
        .expect("the profile folder has a parent");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--package", "venom-demo"])
        .args(["--bin", "venom-demo", "--target-dir"])
        .arg(target_dir)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building venom-demo failed");
    target_dir.join("release").join("venom-demo")
}

/// User + system CPU time of this process so far.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes the struct it is given; a zeroed rusage is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage, for the calling process.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let secs = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (secs(usage.ru_utime) + secs(usage.ru_stime)).as_secs_f64()
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
