//! Wall time and stages of a capacity search against a server of known capacity.
//!
//! ```sh
//! cargo bench -p venom-load --bench capacity
//! ```
//!
//! The server is the tests' (`tests/common/limits.rs`): `POST /work` serves at most 4 requests
//! at a time in 20 ms each, a capacity of 200 requests/s. The search starts at 25/s with stages
//! of `VENOM_BENCH_STAGE_SECS` seconds (default 2) and a p95 bound of 60 ms, `VENOM_BENCH_ROUNDS`
//! times (default 3); each round prints its stages, knee and wall time, then the medians.

#[path = "../tests/common/limits.rs"]
mod limits;
#[path = "../tests/common/serve.rs"]
mod serve;

use std::path::Path;
use std::time::Duration;
use venom_load::{find_capacity, CapacityOptions, Control, Progress};
use venom_testkit::bench_args::env_number;

fn main() {
    let rounds = env_number("VENOM_BENCH_ROUNDS", 3).max(1);
    let stage = Duration::from_secs(env_number("VENOM_BENCH_STAGE_SECS", 2).max(1));
    let url = limits::start_server();
    let scenario = venom_scenario::parse(
        &format!(
            "base_url = \"{url}\"\n\
             [[actions]]\nname = \"work\"\nmethod = \"POST\"\npath = \"/work\"\nexpect = [200]\n\
             [load]\nflows = [{{ name = \"work\", actions = [\"work\"] }}]\n\
             [load.thresholds]\n\"http.p95\" = \"< 60ms\"\n"
        ),
        Path::new("capacity-bench.toml"),
    )
    .expect("scenario");
    let options = CapacityOptions {
        start_rate: 25.0,
        stage,
        ..CapacityOptions::default()
    };
    let control = Control {
        interrupt: None,
        progress: Progress::Silent,
    };
    println!(
        "venom-load capacity bench: true capacity {}/s, stages of {}s, {rounds} rounds",
        limits::CAPACITY,
        stage.as_secs()
    );
    let (mut walls, mut stages, mut knees) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let report = find_capacity(&scenario, None, &options, &control).expect("search");
        let knee = report.highest_pass.unwrap_or(0.0);
        println!(
            "round {round}: {} stages, {:.1} s, highest pass {knee:.1}/s, first fail {:.1}/s ({:+.1} % from the true capacity)",
            report.stages.len(),
            report.elapsed_s,
            report.first_fail.unwrap_or(0.0),
            (knee - limits::CAPACITY) / limits::CAPACITY * 100.0
        );
        walls.push(report.elapsed_s);
        stages.push(report.stages.len() as f64);
        knees.push(knee);
    }
    println!(
        "median: {:.1} s wall, {} stages, knee {:.1}/s",
        median(&mut walls),
        median(&mut stages),
        median(&mut knees)
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
