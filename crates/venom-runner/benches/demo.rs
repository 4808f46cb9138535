//! Steps per second of a full exploration of the demo API, for each rollback mechanism.
//!
//! `cargo bench -p venom-http --bench demo` starts the demo API in-process, explores it with the
//! bundled scenario (BFS to exhaustion) several times per mechanism and prints the median, min and
//! max of steps/s and states/s, side by side in one run.

mod common;

use std::path::Path;
use std::time::Instant;
use venom_demo::{DemoServer, DEMO_SCENARIO};
use venom_engine::Context;
use venom_runner::{HttpWorld, Processes};
use venom_scenario::{RollbackSpec, Scenario, SqliteSpec};

const RUNS: usize = 7;

fn main() {
    println!("demo exploration, BFS to exhaustion, {RUNS} runs per mechanism (release build)");
    println!(
        "{:<18} {:>6} {:>6} {:>9} | {:>22} | {:>10}",
        "mechanism", "steps", "states", "violations", "steps/s med (min-max)", "ms median"
    );
    for mode in ["sqlite", "reset"] {
        let mut rates = Vec::new();
        let mut millis = Vec::new();
        let mut figures = (0, 0, 0);
        for _ in 0..RUNS {
            let folder = tempfile::tempdir().expect("temporary folder");
            let server = DemoServer::start(&folder.path().join("demo.db")).expect("demo API");
            let scenario = demo_scenario(&server, mode);
            let world = HttpWorld::connect(&scenario, &Processes::default()).expect("demo world");
            let mut explorer = common::explorer(&scenario, world);
            let started = Instant::now();
            let result = explorer.run(Context::new()).expect("exploration");
            let elapsed = started.elapsed().as_secs_f64();
            figures = (result.steps, result.states, result.violations.len());
            rates.push(result.steps as f64 / elapsed);
            millis.push(elapsed * 1000.0);
            server.shutdown();
        }
        let (steps, states, violations) = figures;
        println!(
            "{:<18} {:>6} {:>6} {:>9} | {:>8.0} ({:.0}-{:.0}) | {:>10.0}",
            mode,
            steps,
            states,
            violations,
            median(&mut rates),
            rates[0],
            rates[rates.len() - 1],
            median(&mut millis)
        );
    }
}

/// The demo scenario pointed at `server`, rolled back with `mode`.
fn demo_scenario(server: &DemoServer, mode: &str) -> Scenario {
    let mut scenario =
        venom_scenario::parse(DEMO_SCENARIO, Path::new("examples/demo.toml")).expect("scenario");
    scenario.base_url = server.base_url();
    let sqlite = SqliteSpec {
        path: server.db_path.clone(),
        observe_tables: vec!["orders".into(), "refunds".into(), "idempotency".into()],
        observe_queries: vec![],
    };
    scenario.rollback = match mode {
        "sqlite" => RollbackSpec::Sqlite(sqlite),
        _ => RollbackSpec::Reset {
            observe: Some(sqlite),
        },
    };
    scenario
}

/// Sorts `values` and returns the median.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
