//! Concurrent steps end to end: the demo's planted refund-rest race (bug 8) found by exploring
//! `examples/race.toml` with `concurrent = 2`, not found by the same scenario explored in turn,
//! and replayed concurrently.

mod common;

use common::{
    found_bugs, read_report, tempdir, toml_string, violations, write, EXIT_OK, EXIT_VIOLATIONS,
};
use serde_json::Value;
use std::time::Duration;
use venom_demo::{DemoServer, RACE_SCENARIO};

const LIMIT: Duration = Duration::from_secs(120);

/// The race's path, as examples/race.toml lists it.
const RACE_PATH: [&str; 3] = ["create_order", "pay", "refund_rest*2"];

#[test]
fn the_demo_race_is_found_by_a_concurrent_step_and_replayed_concurrently() {
    let dir = tempdir();
    let json = dir.path().join("race.json");
    let run = common::venom(
        [
            "demo",
            "--scenario",
            "race",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let found = found_bugs(&report);
    let expected = (
        "refund_within_amount".to_string(),
        RACE_PATH.map(String::from).to_vec(),
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        [expected],
        "{}",
        run.stdout
    );
    // The concurrent step sent its two requests together: both went out before either ended,
    // and both were accepted (the second one is the bug).
    let step = &violations(&report)[0]["path"][2];
    let exchanges: Vec<&Value> = step["earlier"]
        .as_array()
        .expect("earlier exchanges")
        .iter()
        .chain(std::iter::once(&step["exchange"]))
        .collect();
    assert_eq!(exchanges.len(), 2, "{step:#}");
    let times = |key: &str| -> Vec<u64> {
        exchanges
            .iter()
            .map(|e| {
                e["together"][key]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{key}: {e:#}"))
            })
            .collect()
    };
    let (sent, done) = (times("sent_us"), times("done_us"));
    assert!(
        sent.iter().max() < done.iter().min(),
        "not in flight together: sent {sent:?}, done {done:?}"
    );
    let indexes: Vec<u64> = exchanges
        .iter()
        .map(|e| e["together"]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1]);
    for e in &exchanges {
        assert_eq!(e["response"]["status"], 201, "{e:#}");
    }
    // The console shows which step was concurrent.
    assert!(run.stdout.contains("[together: sent +"), "{}", run.stdout);

    // Replayed: the step is sent concurrently again, several times, and the count is said.
    let replay = common::venom(["replay", json.to_str().unwrap(), "--repeat", "3"], LIMIT);
    replay.expect_code(EXIT_VIOLATIONS);
    assert!(
        replay
            .stdout
            .contains("refund_within_amount: create_order -> pay -> refund_rest*2"),
        "{}",
        replay.stdout
    );
    let reproduced = replay
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("reproduced "))
        .unwrap_or_else(|| panic!("{}", replay.stdout));
    let count: u32 = reproduced.split(' ').next().unwrap().parse().unwrap();
    assert!(
        reproduced.starts_with(&format!(
            "{count} of 3 times: order 1: refunded 200 > amount 100"
        )) && count >= 1,
        "{}",
        replay.stdout
    );
}

#[test]
fn explored_in_turn_the_same_scenario_finds_no_race() {
    let dir = tempdir();
    let server = DemoServer::start(&dir.path().join("api.db")).expect("cannot start the demo");
    let text = RACE_SCENARIO
        .replace("concurrent = 2\n", "")
        .replace(
            "base_url = \"http://127.0.0.1:8080\"",
            &format!("base_url = {}", toml_string(&server.base_url())),
        )
        .replace(
            "sqlite_path = \"demo.db\"",
            &format!(
                "sqlite_path = {}",
                toml_string(server.db_path.to_str().unwrap())
            ),
        );
    assert!(
        !text.lines().any(|l| l.starts_with("concurrent")),
        "the sequential scenario still sends together"
    );
    let scenario = write(&dir, "sequential.toml", &text);
    let json = dir.path().join("sequential.json");
    let run = common::venom(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    run.expect_code(EXIT_OK);
    let report = read_report(&json);
    assert!(violations(&report).is_empty(), "{}", run.stdout);
    // Every action ran, refund_rest on both paths that allow it (after pay, and after
    // itself, where it answered 409), and no concurrent step exists.
    let runs: Vec<(String, u64)> = report["exploration"]["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["runs"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [("create_order", 1), ("pay", 1), ("refund_rest", 2)];
    let expected: Vec<(String, u64)> = expected.iter().map(|(a, n)| (a.to_string(), *n)).collect();
    assert_eq!(runs, expected, "{}", run.stdout);
}
