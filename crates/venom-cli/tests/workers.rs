//! `--workers N`: several copies of the system explored at once report what one worker
//! reports — the same violations with the same minimal paths, states and transitions — each
//! copy with a database of its own; systems venom cannot copy are refused up front.

mod common;

use common::demo::{assert_planted_bugs, demo_binary};
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use venom_demo::{DemoServer, DEMO_SCENARIO};

const LIMIT: Duration = Duration::from_secs(240);

/// What must not depend on the number of workers: each violation's invariant, breaking
/// action, path, occurrences and state, the states, transitions, steps and runs per action.
fn essence(report: &Value) -> Value {
    let exploration = &report["exploration"];
    let violations: Vec<Value> = violations(report)
        .iter()
        .map(|v| {
            let path: Vec<&Value> = v["path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| &s["action"])
                .collect();
            serde_json::json!([
                v["invariant"],
                v["action"],
                path,
                v["occurrences"],
                v["proved_shortest"],
                v["state"]["fingerprint"],
            ])
        })
        .collect();
    serde_json::json!({
        "violations": violations,
        "stop": exploration["stop"],
        "states": exploration["states"],
        "transitions": exploration["transitions"],
        "steps": exploration["steps"],
        "actions": exploration["actions"],
    })
}

/// The per-worker figures add up to the run's steps, one entry per worker.
fn assert_worker_figures(report: &Value, workers: usize) {
    let figures = report["exploration"]["workers"]
        .as_array()
        .unwrap_or_else(|| panic!("no per-worker figures: {:#}", report["exploration"]));
    assert_eq!(figures.len(), workers);
    let steps: u64 = figures.iter().map(|w| w["steps"].as_u64().unwrap()).sum();
    assert_eq!(steps, report["exploration"]["steps"].as_u64().unwrap());
    let busy = figures
        .iter()
        .filter(|w| w["steps"].as_u64() > Some(0))
        .count();
    assert!(busy >= 2, "only {busy} worker(s) ran steps: {figures:?}");
}

/// SQLite snapshots are lent between the workers' copies of the database: a worker reaches a
/// state another one saved by restoring that snapshot into its own file, never by replaying.
fn assert_lent_not_replayed(report: &Value, name: &str) {
    let figures = report["exploration"]["workers"].as_array().unwrap();
    let sum = |key: &str| -> u64 { figures.iter().map(|w| w[key].as_u64().unwrap()).sum() };
    assert_eq!(sum("replayed"), 0, "{name}: {figures:?}");
    assert!(sum("borrowed") > 0, "{name}: {figures:?}");
}

/// `venom demo ARGS --json DIR/NAME.json`: the report.
fn demo(dir: &Path, name: &str, args: &[&str]) -> Value {
    let json = dir.join(format!("{name}.json"));
    let mut all = vec!["demo", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = venom(all, LIMIT);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let workers = args
        .windows(2)
        .find(|w| w[0] == "--workers")
        .map_or(1, |w| w[1].parse().unwrap());
    if workers > 1 {
        assert!(
            run.stdout.contains(&format!("workers {workers}:")),
            "{}",
            run.stdout
        );
    }
    report
}

#[test]
fn the_demo_with_two_and_four_workers_reports_what_one_worker_reports() {
    let dir = tempdir();
    for scenario in ["orders", "notes"] {
        for rollback in ["sqlite", "reset"] {
            let args = ["--scenario", scenario, "--rollback", rollback];
            let one = demo(dir.path(), &format!("{scenario}-{rollback}-1"), &args);
            if scenario == "orders" {
                assert_planted_bugs(&one);
            } else {
                assert!(!violations(&one).is_empty());
            }
            for workers in ["2", "4"] {
                let mut with = args.to_vec();
                with.extend(["--workers", workers]);
                let name = format!("{scenario}-{rollback}-{workers}");
                let many = demo(dir.path(), &name, &with);
                assert_eq!(essence(&many), essence(&one), "{name}");
                assert_worker_figures(&many, workers.parse().unwrap());
                if rollback == "sqlite" {
                    assert_lent_not_replayed(&many, &name);
                }
            }
        }
    }
}

/// examples/demo.toml for the `venom-demo` binary started by a `[server]` on `${VENOM_PORT}`
/// with the SQLite file `$VENOM_SQLITE_PATH`, each start logged (port and file) to `log`.
fn server_scenario(db: &Path, log: &Path) -> String {
    let command = format!(
        "echo \"$VENOM_PORT $VENOM_SQLITE_PATH\" >> '{}'; exec '{}' --listen \
         127.0.0.1:$VENOM_PORT --db \"$VENOM_SQLITE_PATH\"",
        log.display(),
        demo_binary().display()
    );
    demo_with_server(db, &command)
}

/// examples/demo.toml on `${VENOM_PORT}` with the SQLite file `db`, its `[server]` `command`.
fn demo_with_server(db: &Path, command: &str) -> String {
    let text = DEMO_SCENARIO
        .replace(
            "base_url = \"http://127.0.0.1:8080\"",
            "base_url = \"http://127.0.0.1:${VENOM_PORT}\"",
        )
        .replace(
            "sqlite_path = \"demo.db\"",
            &format!("sqlite_path = {}", toml_string(&db.display().to_string())),
        );
    assert!(text.contains("${VENOM_PORT}") && !text.contains("\"demo.db\""));
    format!(
        "{text}\n[server]\ncommand = {}\nready_url = \"/health\"\n",
        toml_string(command)
    )
}

/// The initial database of the demo: created by its server, which then stops.
fn demo_database(dir: &Path) -> PathBuf {
    let db = dir.join("demo.db");
    drop(DemoServer::start(&db).expect("start the demo once"));
    assert!(db.is_file());
    db
}

#[test]
fn each_workers_server_gets_a_port_and_a_copy_of_the_sqlite_file_of_its_own() {
    let dir = tempdir();
    let db = demo_database(dir.path());
    let log = dir.path().join("servers.log");
    let scenario = write(&dir, "demo.toml", &server_scenario(&db, &log));
    let report =
        |name: &str, workers: &str| explore_with_workers(dir.path(), &scenario, name, workers);
    let one = report("one", "1");
    assert_planted_bugs(&one);
    std::fs::remove_file(&log).unwrap();
    let three = report("three", "3");
    assert_planted_bugs(&three);
    assert_eq!(essence(&three), essence(&one));
    assert_worker_figures(&three, 3);

    assert_servers_of_their_own(&log, &db, 3);
}

/// The JSON report of `venom explore SCENARIO --workers WORKERS` (written as `dir/NAME.json`),
/// which finds violations.
fn explore_with_workers(dir: &Path, scenario: &Path, name: &str, workers: &str) -> Value {
    let json = dir.join(format!("{name}.json"));
    let args = [
        "explore",
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--workers",
        workers,
    ];
    venom(args, LIMIT).expect_code(EXIT_VIOLATIONS);
    read_report(&json)
}

/// `log` holds `count` server starts, each on a port and a file of its own, the first worker's
/// on the original file `db`, the copies deleted since.
fn assert_servers_of_their_own(log: &Path, db: &Path, count: usize) {
    let started = std::fs::read_to_string(log).unwrap();
    let servers: Vec<(&str, &str)> = started
        .lines()
        .map(|line| line.split_once(' ').expect("PORT FILE"))
        .collect();
    assert_eq!(servers.len(), count, "{started}");
    let mut ports: Vec<&str> = servers.iter().map(|s| s.0).collect();
    let mut files: Vec<&str> = servers.iter().map(|s| s.1).collect();
    ports.sort();
    ports.dedup();
    files.sort();
    files.dedup();
    assert_eq!(
        ports.len(),
        count,
        "each server on a port of its own: {started}"
    );
    assert_eq!(
        files.len(),
        count,
        "each server on a file of its own: {started}"
    );
    assert!(
        files.contains(&db.to_str().unwrap()),
        "worker 0 uses the original: {started}"
    );
    for file in files.iter().filter(|f| **f != db.to_str().unwrap()) {
        assert!(
            !Path::new(file).exists(),
            "the copy {file} is deleted at the end"
        );
    }
}

/// `text` with every loopback port written `PORT` (each worker's server has its own).
fn without_ports(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push_str("PORT");
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn replay_with_workers_prints_what_one_worker_prints_each_on_a_server_of_its_own() {
    let dir = tempdir();
    let db = demo_database(dir.path());
    let log = dir.path().join("servers.log");
    let scenario = write(&dir, "demo.toml", &server_scenario(&db, &log));
    let json = dir.path().join("report.json");
    let json = json.to_str().unwrap();
    venom(
        ["explore", scenario.to_str().unwrap(), "--json", json],
        LIMIT,
    )
    .expect_code(EXIT_VIOLATIONS);
    let replay = |workers: &str| {
        std::fs::remove_file(&log).unwrap();
        let run = venom(["replay", json, "--workers", workers], LIMIT);
        run.expect_code(EXIT_VIOLATIONS);
        without_ports(&run.stdout)
    };
    let one = replay("1");
    assert_eq!(
        one.matches("  reproduced: ").count(),
        5,
        "the five planted bugs reproduce: {one}"
    );
    let three = replay("3");
    assert_eq!(three, one, "the same results in the report's order");
    assert_servers_of_their_own(&log, &db, 3);
    // More workers than violations start one server per violation.
    let many = replay("8");
    assert_eq!(many, one);
    assert_servers_of_their_own(&log, &db, 5);
}

#[test]
fn demo_replay_with_workers_runs_a_demo_api_per_worker() {
    let dir = tempdir();
    let json = dir.path().join("demo.json");
    let json = json.to_str().unwrap();
    venom(["demo", "--json", json], LIMIT).expect_code(EXIT_VIOLATIONS);
    let one = venom(["replay", json], LIMIT);
    one.expect_code(EXIT_VIOLATIONS);
    let two = venom(["replay", json, "--workers", "2"], LIMIT);
    two.expect_code(EXIT_VIOLATIONS);
    assert_eq!(without_ports(&two.stdout), without_ports(&one.stdout));
    assert_eq!(
        one.stdout.matches("  reproduced: ").count(),
        5,
        "{}",
        one.stdout
    );
    let refused = venom(["replay", json, "--workers", "2", "--stay"], LIMIT);
    refused.expect_code(EXIT_INVALID_INPUT);
    assert!(
        refused.stderr.contains("--violation N"),
        "{}",
        refused.stderr
    );
}

/// `text` with reset + replay and no database: its `[rollback]` table left out.
fn reset_only(text: &str) -> String {
    let mut out = String::new();
    let mut in_rollback = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_rollback = line == "[rollback]";
        }
        if !in_rollback {
            out.push_str(line);
            out.push('\n');
        }
    }
    let observed = out.lines().any(|l| l.starts_with("observe_tables"));
    assert!(!observed && out.contains("[reset]"), "{out}");
    out
}

/// `venom explore SCENARIO ARGS` fails with invalid input, saying `expected`.
fn refused(dir: &tempfile::TempDir, text: &str, args: &[&str], expected: &str) {
    let scenario = write(dir, "refused.toml", text);
    let mut all = vec!["explore", scenario.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = venom(all, LIMIT);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in {}",
        run.stderr
    );
}

#[test]
fn systems_that_cannot_be_copied_are_refused_before_anything_starts() {
    let dir = tempdir();
    let db = demo_database(dir.path());
    let log = dir.path().join("never.log");
    let good = server_scenario(&db, &log);
    let two = ["--workers", "2"];
    refused(&dir, DEMO_SCENARIO, &two, "has no [server]");
    refused(
        &dir,
        &good.replace(
            "base_url = \"http://127.0.0.1:${VENOM_PORT}\"",
            "base_url = \"http://127.0.0.1:8080\"",
        ),
        &two,
        "names a fixed port",
    );
    // Every worker's server would use the original file.
    let shared = format!(
        "exec '{}' --listen 127.0.0.1:$VENOM_PORT --db '{}'",
        demo_binary().display(),
        db.display()
    );
    refused(
        &dir,
        &demo_with_server(&db, &shared),
        &two,
        "must take its database from $VENOM_SQLITE_PATH",
    );
    refused(
        &dir,
        &reset_only(&good),
        &two,
        "reset + replay and venom knows no database",
    );
    refused(
        &dir,
        &good,
        &["--workers", "2", "--strategy", "dfs"],
        "several workers explore breadth-first only",
    );
    refused(&dir, &good, &["--workers", "0"], "--workers");
    assert!(!log.exists(), "no server started");
}

/// An API whose only state is a Redis counter (tests/fixtures/redis_counter.py), reset + replay,
/// its `[server]` told its Redis database by `$VENOM_REDIS_URL`; each start logged to `log`.
fn redis_counter_scenario(redis_url: &str, log: &Path) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redis_counter.py");
    let command = format!(
        "exec python3 '{}' \"$VENOM_PORT\" \"$VENOM_REDIS_URL\" '{}'",
        script.display(),
        log.display()
    );
    format!(
        r#"base_url = "http://127.0.0.1:${{VENOM_PORT}}"

[server]
command = {command}
ready_url = "/health"

[explore]
strategy = "bfs"
max_depth = 4

[reset]
request = {{ method = "POST", path = "/reset" }}

[redis]
url = {url}
observe_patterns = ["visits"]

[[actions]]
name = "visit"
method = "POST"
path = "/visit"

[[actions]]
name = "visit_twice"
method = "POST"
path = "/visit_twice"

[[invariants]]
name = "at_most_five_visits"
severity = "high"
check = {{ method = "GET", path = "/visits" }}
expr = "last.body.visits <= 5"
message = "{{{{last.body.visits}}}} visits"
"#,
        command = toml_string(&command),
        url = toml_string(redis_url),
    )
}

#[test]
fn each_workers_server_gets_a_redis_database_of_its_own() {
    let redis = venom_testkit::RedisServer::start();
    let url = redis.url().replace("/0", "/1");
    let dir = tempdir();
    let log = dir.path().join("servers.log");
    let scenario = write(&dir, "counter.toml", &redis_counter_scenario(&url, &log));
    let report =
        |name: &str, workers: &str| explore_with_workers(dir.path(), &scenario, name, workers);
    let one = report("one", "1");
    let mut found: Vec<&str> = violations(&one)
        .iter()
        .map(|v| v["invariant"].as_str().unwrap_or_default())
        .collect();
    found.dedup();
    assert_eq!(found, ["at_most_five_visits"], "{one:#}");
    std::fs::remove_file(&log).unwrap();
    let three = report("three", "3");
    // Servers sharing one database would reset and count each other's visits: other states,
    // other paths.
    assert_eq!(essence(&three), essence(&one));
    assert_worker_figures(&three, 3);
    let started = std::fs::read_to_string(&log).unwrap();
    let mut databases: Vec<&str> = started
        .lines()
        .map(|line| line.split_once(' ').expect("PORT DB").1)
        .collect();
    databases.sort();
    // The original is index 1; the fresh server's lowest empty indices are 0 and 2.
    assert_eq!(
        databases,
        ["0", "1", "2"],
        "worker 0 on the original database, the others on empty indices of their own: {started}"
    );

    // A server given the original's URL itself would share it with the other workers.
    let fixed = redis_counter_scenario(&url, &log).replace("$VENOM_REDIS_URL", &url);
    assert!(!fixed.contains("VENOM_REDIS_URL"), "{fixed}");
    refused(
        &dir,
        &fixed,
        &["--workers", "2"],
        "must take its database from $VENOM_REDIS_URL",
    );
}
