//! End-to-end tests on the second demo target, pyorders (`examples/pyorders`): a Python API on
//! PostgreSQL through psycopg 3 (connection pool, explicit transactions, server-side prepared
//! statements) that knows nothing about venom. Each PostgreSQL mechanism must find its four
//! planted bugs with their shortest paths: snapshots exploring breadth-first, the transaction
//! proxy depth-first, with the very same app.
//!
//! Every test starts its own throwaway PostgreSQL cluster (`venom-testkit`) and runs the `venom`
//! binary on a copy of `examples/pyorders/scenario.toml` whose ports, mechanism and strategy are
//! adjusted; venom itself starts the app (`[server]`). They need `python3` with the packages of
//! `examples/pyorders/requirements.txt` (`.ci/run` installs them): without them they fail, saying
//! so, instead of being skipped.

mod common;

use common::{
    assert_found_exactly, toml_string, Planted, Run, Running, EXIT_INVALID_INPUT, EXIT_VIOLATIONS,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;
use venom_testkit::{free_port, PgServer};

/// A run that takes longer than this is hung; it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The app's port in the shipped scenario, replaced in the copies.
const SCENARIO_APP_PORT: &str = "18081";

fn pyorders_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/pyorders")
        .canonicalize()
        .expect("examples/pyorders exists")
}

/// Fails (never skips) when python3 or the app's packages are missing.
fn require_python_packages() {
    let hint = "run `python3 -m pip install -r examples/pyorders/requirements.txt` \
                (.ci/run does it)";
    let output = Command::new("python3")
        .args(["-c", "import psycopg, psycopg_pool"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3, then {hint}"));
    assert!(
        output.status.success(),
        "the pyorders app needs psycopg and psycopg_pool: {hint}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `text` with every occurrence of `from` replaced, failing when there is none (the shipped
/// scenario changed in a way this test does not know).
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "examples/pyorders/scenario.toml no longer contains `{from}`"
    );
    text.replace(from, to)
}

/// A PostgreSQL cluster with an empty `pyorders` database, and a copy of the scenario for it.
struct Target {
    pg: PgServer,
    dir: TempDir,
    scenario: PathBuf,
}

impl Target {
    /// `mechanism` is "snapshot" or "proxy"; `strategy` becomes the scenario's default.
    fn new(mechanism: &str, strategy: &str) -> Target {
        require_python_packages();
        let pg = PgServer::start();
        pg.create_database("pyorders");
        let dir = tempfile::tempdir().expect("temporary folder");
        let app_dir = pyorders_dir();
        let original = std::fs::read_to_string(app_dir.join("scenario.toml"))
            .expect("examples/pyorders/scenario.toml");
        let mut text = replace(&original, SCENARIO_APP_PORT, &free_port().to_string());
        text = replace(
            &text,
            "mechanism = \"proxy\"",
            &format!("mechanism = \"{mechanism}\""),
        );
        text = replace(
            &text,
            "strategy = \"dfs\"",
            &format!("strategy = \"{strategy}\""),
        );
        // The copy lives in a temporary folder: the app stays where it is.
        text = replace(
            &text,
            "[server]\n",
            &format!(
                "[server]\ncwd = {}\n",
                toml_string(&app_dir.to_string_lossy())
            ),
        );
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(&scenario, text).expect("cannot write the scenario copy");
        Target { pg, dir, scenario }
    }

    /// `venom explore SCENARIO --json F ARGS` with the database's URL in the environment.
    fn explore(&self, args: &[&str]) -> (Run, Option<Value>) {
        let json = self.dir.path().join("report.json");
        let mut all = vec![
            "explore",
            self.scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let run = venom(&all, &self.pg.url("pyorders"));
        let report = json.exists().then(|| {
            let text = std::fs::read_to_string(&json).expect("the JSON report");
            serde_json::from_str(&text).expect("the JSON report parses")
        });
        (run, report)
    }
}

/// Runs `venom ARGS` with `PYORDERS_DATABASE_URL=database_url` (at most [`RUN_TIMEOUT`]).
fn venom(args: &[&str], database_url: &str) -> Run {
    Running::spawn(args, &[("PYORDERS_DATABASE_URL", database_url)]).finish(RUN_TIMEOUT)
}

// ---------------------------------------------------------------------------------------------
// The planted bugs

/// (invariant, severity, shortest path) of every planted bug, as listed in the header of
/// examples/pyorders/scenario.toml.
const PLANTED: [Planted; 4] = [
    (
        "no_overbooking",
        "critical",
        &["alice_buys", "alice_cancels", "bob_buys", "alice_rebooks"],
    ),
    (
        "refunds_within_paid",
        "high",
        &[
            "alice_buys",
            "alice_cancels",
            "alice_rebooks",
            "alice_cancels",
        ],
    ),
    (
        "sold_matches_active_orders",
        "high",
        &["alice_buys", "alice_deletes"],
    ),
    (
        "no_server_errors",
        "critical",
        &["alice_buys", "alice_cancels", "alice_deletes"],
    ),
];

/// Explores with `mechanism` and `strategy` and checks the findings; prints the run's figures.
fn finds_the_planted_bugs(mechanism: &str, strategy: &str) {
    let target = Target::new(mechanism, strategy);
    let (run, report) = target.explore(&[]);
    run.expect_code(EXIT_VIOLATIONS);
    let report = report.expect("a JSON report");
    let exploration = &report["exploration"];
    eprintln!(
        "pyorders, {mechanism} + {strategy}: {} steps, {} states, {:.1} s, mechanism `{}`, stop {}",
        exploration["steps"],
        exploration["states"],
        run.elapsed.as_secs_f64(),
        exploration["mechanism"].as_str().unwrap_or("?"),
        exploration["stop"]
    );
    assert_eq!(exploration["strategy"], strategy);
    assert_eq!(
        exploration["stop"]["reason"], "depth_limit",
        "the whole graph within max_depth was explored"
    );
    assert_found_exactly(&report, &PLANTED);
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn snapshots_find_the_four_planted_bugs_breadth_first() {
    finds_the_planted_bugs("snapshot", "bfs");
}

#[test]
fn the_proxy_finds_the_four_planted_bugs_depth_first() {
    finds_the_planted_bugs("proxy", "dfs");
}

/// Savepoints form a stack: the proxy mechanism refuses breadth-first exploration before
/// starting anything, pointing at the snapshot mechanism.
#[test]
fn the_proxy_refuses_breadth_first_exploration_up_front() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let original = std::fs::read_to_string(pyorders_dir().join("scenario.toml"))
        .expect("examples/pyorders/scenario.toml");
    let text = replace(&original, SCENARIO_APP_PORT, &free_port().to_string());
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, text).expect("cannot write the scenario copy");
    // Nothing listens there: venom must refuse before starting the app or connecting (a
    // failed setup would exit 3).
    let unreachable = format!("postgres://venom@127.0.0.1:{}/pyorders", free_port());
    let run = venom(
        &["explore", scenario.to_str().unwrap(), "--strategy", "bfs"],
        &unreachable,
    );
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains("snapshot"),
        "the refusal names the snapshot mechanism:\n{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(10), "refused at once");
}
