//! The bundled demo API (`venom-demo`) on PostgreSQL: each PostgreSQL rollback mechanism must
//! find the demo's five planted bugs with the minimal paths listed in examples/demo.toml —
//! snapshots exploring breadth-first, the transaction proxy depth-first.
//!
//! Every test starts its own throwaway PostgreSQL cluster (`venom-testkit`) and runs the `venom`
//! binary on a copy of the demo scenario whose `[rollback]` is a postgres one and whose
//! `[server]` starts the separate `venom-demo` binary with `--database-url` (the proxy's URL with
//! mechanism "proxy").

mod common;

use common::demo::{assert_planted_bugs, demo_binary};
use common::{read_report, tempdir, toml_string, write, Running, EXIT_SETUP, EXIT_VIOLATIONS};
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;
use tempfile::TempDir;
use venom_demo::DEMO_SCENARIO;
use venom_testkit::{free_port, PgServer};

/// A run that takes longer than this is hung; it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The environment variable holding the database URL, for venom and for the server command.
const URL_ENV: &str = "DEMO_DATABASE_URL";

/// examples/demo.toml for `venom-demo` on PostgreSQL, listening on `port` (a number, or
/// `${VENOM_PORT}`), rolled back with `mechanism` and explored with `strategy`; the server's
/// command starts with `prelude` (shell, may be empty).
///
/// Sequences are not transactional, so after a rollback through the proxy the same order may come
/// back with another id: the state leaves ids out (no `order_id` in `state_from_context`, and
/// `observe_queries` that select no id), as examples/pyorders/scenario.toml does.
fn postgres_scenario(port: &str, mechanism: &str, strategy: &str, prelude: &str) -> String {
    let rollback = format!(
        "[rollback]\n\
         mode = \"postgres\"\n\
         postgres_url_env = \"{URL_ENV}\"\n\
         mechanism = \"{mechanism}\"\n\
         observe_queries = {{ \
         orders = \"SELECT amount, currency, paid, refunded, status, deleted, idempotency_key \
         FROM orders ORDER BY id\", \
         refunds = \"SELECT amount FROM refunds ORDER BY id\", \
         idempotency = \"SELECT key FROM idempotency ORDER BY key\" }}\n\n"
    );
    let mut text = String::new();
    let mut replaced = [0; 4];
    let mut in_rollback = false;
    for line in DEMO_SCENARIO.lines() {
        if in_rollback && !line.starts_with('[') {
            continue;
        }
        in_rollback = false;
        if line.starts_with("base_url = ") {
            text.push_str(&format!("base_url = \"http://127.0.0.1:{port}\"\n"));
            replaced[0] += 1;
        } else if line.starts_with("state_from_context = ") {
            text.push_str("state_from_context = [\"order_status\", \"idempotency_key\"]\n");
            replaced[1] += 1;
        } else if line == "strategy = \"bfs\"" {
            text.push_str(&format!("strategy = \"{strategy}\"\n"));
            replaced[2] += 1;
        } else if line == "[rollback]" {
            text.push_str(&rollback);
            in_rollback = true;
            replaced[3] += 1;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert_eq!(
        replaced, [1; 4],
        "examples/demo.toml has one base_url, state_from_context, strategy and [rollback]"
    );
    // VENOM_PROXY_URL is only set with mechanism "proxy".
    let command = format!(
        "{prelude}exec '{}' --listen 127.0.0.1:{port} --database-url \"${{VENOM_PROXY_URL:-${URL_ENV}}}\"",
        demo_binary().display()
    );
    text.push_str(&format!(
        "\n[server]\ncommand = {}\nready_url = \"/health\"\nready_timeout = 30.0\n",
        toml_string(&command)
    ));
    text
}

/// `venom explore` of the demo on a fresh PostgreSQL cluster, under way.
struct Exploration {
    pg: PgServer,
    /// Holds the scenario and the report.
    _dir: TempDir,
    json: PathBuf,
    running: Running,
}

impl Exploration {
    /// Starts `venom explore SCENARIO --json F ARGS` with the demo rolled back by `mechanism` and
    /// explored with `strategy`.
    fn start(mechanism: &str, strategy: &str, args: &[&str]) -> Exploration {
        let pg = PgServer::start();
        pg.create_database("demo");
        let dir = tempdir();
        let scenario = write(
            &dir,
            "demo.toml",
            &postgres_scenario(&free_port().to_string(), mechanism, strategy, ""),
        );
        let json = dir.path().join("report.json");
        let mut all = vec![
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let running = Running::spawn(all, &[(URL_ENV, &pg.url("demo"))]);
        Exploration {
            pg,
            _dir: dir,
            json,
            running,
        }
    }
}

/// Explores the demo on a fresh PostgreSQL cluster with `mechanism` and `strategy` and checks
/// that exactly the planted bugs are found, each with its minimal path.
fn finds_the_planted_bugs(mechanism: &str, strategy: &str, mechanism_name: &str) {
    let exploration = Exploration::start(mechanism, strategy, &[]);
    let run = exploration.running.finish(RUN_TIMEOUT);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&exploration.json);
    let exploration = &report["exploration"];
    eprintln!(
        "demo on postgres, {mechanism} + {strategy}: {} steps, {} states, {:.1} s",
        exploration["steps"],
        exploration["states"],
        run.elapsed.as_secs_f64(),
    );
    assert_eq!(exploration["mechanism"], mechanism_name);
    assert_eq!(exploration["strategy"], strategy);
    assert_eq!(
        exploration["stop"]["reason"], "depth_limit",
        "the whole graph within max_depth was explored"
    );
    assert_planted_bugs(&report);
}

#[test]
fn snapshots_find_the_five_planted_bugs_breadth_first() {
    finds_the_planted_bugs("snapshot", "bfs", "postgres snapshots");
}

#[test]
fn the_proxy_finds_the_five_planted_bugs_depth_first() {
    finds_the_planted_bugs("proxy", "dfs", "postgres transaction proxy");
}

/// PostgreSQL stops in the middle of an exploration: the run ends with a clear error naming the
/// lost connection, and the violations found before are still in the report.
#[test]
fn losing_postgres_mid_run_still_reports_the_findings_so_far() {
    let Exploration {
        pg,
        _dir,
        json,
        running,
    } = Exploration::start("snapshot", "bfs", &["--progress-every", "1"]);
    // Once a first violation is found (progress lines end with `violations N`): stop PostgreSQL.
    let progress = running.wait_for_stderr("reporting a violation", RUN_TIMEOUT, |line| {
        line.starts_with("step ") && !line.ends_with("violations 0")
    });
    let stopped = Instant::now();
    pg.stop();
    let run = running.finish(RUN_TIMEOUT);
    assert!(
        stopped.elapsed() < Duration::from_secs(60),
        "the run ended {:?} after PostgreSQL stopped",
        stopped.elapsed()
    );
    // The run did not finish: that decides the exit status; the report holds what was found.
    run.expect_code(EXIT_SETUP);
    let report = read_report(&json);
    let stop = &report["exploration"]["stop"];
    assert_eq!(stop["reason"], "aborted", "{stop}");
    let detail = stop["detail"].as_str().expect("the reason it was aborted");
    assert!(detail.contains("PostgreSQL"), "{detail}");
    // Every violation seen before PostgreSQL stopped is in the report (the API's answers
    // without its database may add `no_server_errors` ones).
    let seen: usize = progress
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no violation count in `{progress}`"));
    let found = report["exploration"]["violations"]
        .as_array()
        .expect("violations")
        .len();
    assert!(found >= seen, "{found} violations reported, {seen} seen");
    assert!(run.stdout.contains("aborted"), "{}", run.stdout);
}

/// `--workers 2` with PostgreSQL snapshots: worker 1 explores a database made from the initial
/// one (`CREATE DATABASE … TEMPLATE`), its server told so through the variable of
/// `postgres_url_env`; the planted bugs come out with their minimal paths, as with one worker,
/// and the copy is dropped at the end.
#[test]
fn snapshots_with_two_workers_each_on_its_own_database_find_the_planted_bugs() {
    let pg = PgServer::start();
    pg.create_database("demo");
    let dir = tempdir();
    let log = dir.path().join("servers.log");
    let prelude = format!(
        "echo \"$VENOM_PORT ${URL_ENV}\" >> {}; ",
        shell_quoted(&log)
    );
    let text = postgres_scenario("${VENOM_PORT}", "snapshot", "bfs", &prelude);
    let scenario = write(&dir, "demo.toml", &text);
    let json = dir.path().join("report.json");
    let args = [
        "explore",
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--workers",
        "2",
    ];
    let run = Running::spawn(args, &[(URL_ENV, &pg.url("demo"))]).finish(RUN_TIMEOUT);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    assert_planted_bugs(&report);
    let workers = report["exploration"]["workers"]
        .as_array()
        .expect("workers");
    assert_eq!(workers.len(), 2, "{workers:?}");

    let started = std::fs::read_to_string(&log).expect("the servers' log");
    let servers: Vec<(&str, &str)> = started
        .lines()
        .map(|line| line.split_once(' ').expect("PORT URL"))
        .collect();
    assert_eq!(servers.len(), 2, "{started}");
    assert_ne!(servers[0].0, servers[1].0, "each server on its own port");
    let databases: Vec<&str> = servers
        .iter()
        .map(|(_, url)| url.rsplit('/').next().unwrap().split('?').next().unwrap())
        .collect();
    assert!(databases.contains(&"demo"), "{databases:?}");
    let copy = databases.iter().find(|d| **d != "demo").expect("a copy");
    assert!(copy.starts_with("demo_venom_w1"), "{databases:?}");
    assert!(
        !pg.database_exists(copy),
        "the worker's database {copy} is dropped at the end"
    );
}

/// `path` quoted for `sh`.
fn shell_quoted(path: &std::path::Path) -> String {
    format!("'{}'", path.display())
}
