//! End-to-end tests of `venom load`, run as a subprocess against the demo API (started in-process
//! with [`DemoServer`]): the exit status follows the thresholds and the baseline, the reports
//! are written (also after Ctrl-C), and bad input or an unreachable API get their own statuses.
//!
//! The measuring itself (percentiles against injected delays, exact error counts, the open
//! model's stalls) is tested in `venom-load`'s own tests; these check the command around it.

mod common;

use common::{
    read_report, tempdir, toml_string, venom, write, Run, Running, EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use venom_demo::{DemoServer, DEMO_SCENARIO};

/// A run that takes longer than this is hung; it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The demo API (its database in `dir`) and a copy of `examples/demo.toml` pointing at it, with
/// `extra` appended (e.g. more thresholds).
fn demo_target(dir: &TempDir, extra: &str) -> (DemoServer, PathBuf) {
    let server = DemoServer::start(&dir.path().join("api.db")).expect("cannot start the demo");
    let mut text = String::new();
    let mut replaced = 0;
    for line in DEMO_SCENARIO.lines() {
        if line.starts_with("base_url = ") {
            text.push_str(&format!("base_url = {}\n", toml_string(&server.base_url())));
            replaced += 1;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert_eq!(replaced, 1, "examples/demo.toml has one base_url line");
    text.push_str(extra);
    let scenario = write(dir, "demo.toml", &text);
    (server, scenario)
}

/// `venom load SCENARIO ARGS`.
fn load(scenario: &std::path::Path, args: &[&str]) -> Run {
    let mut all = vec!["load", scenario.to_str().unwrap()];
    all.extend_from_slice(args);
    venom(all, RUN_TIMEOUT)
}

/// The `thresholds` array of a JSON summary, as (key, status, measured) triples.
fn thresholds(summary: &Value) -> Vec<(String, String, Option<f64>)> {
    summary["thresholds"]
        .as_array()
        .expect("thresholds in the JSON summary")
        .iter()
        .map(|t| {
            (
                t["key"].as_str().expect("key").to_string(),
                t["status"].as_str().expect("status").to_string(),
                t["measured"].as_f64(),
            )
        })
        .collect()
}

#[test]
fn a_smoke_run_that_holds_its_thresholds_exits_zero_and_writes_every_report() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let (json, html, baseline) = (
        dir.path().join("summary.json"),
        dir.path().join("report.html"),
        dir.path().join("baseline.json"),
    );
    let run = load(
        &scenario,
        &[
            "--mode",
            "smoke",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--save-baseline",
            baseline.to_str().unwrap(),
        ],
    );
    run.expect_code(EXIT_OK);
    assert!(run.stdout.contains("result: PASS"), "{}", run.stdout);
    // Every threshold is named with its measured value.
    assert!(
        run.stdout.lines().any(|l| l.contains("PASS")
            && l.contains("create_order.p95 < 300ms")
            && l.contains("measured")),
        "{}",
        run.stdout
    );

    let summary = read_report(&json);
    // The smoke preset: 5 iterations of the demo's flows, none failing.
    assert_eq!(summary["stop"], "iterations");
    let iterations: u64 = summary["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| f["iterations"].as_u64().expect("iterations"))
        .sum();
    assert_eq!(iterations, 5);
    assert_eq!(summary["overall"]["errors"], 0);
    let found = thresholds(&summary);
    assert_eq!(found.len(), 5, "{found:?}");
    for (key, status, measured) in &found {
        if key == "drift" {
            // Five quick iterations fit in one interval: no drift to measure yet.
            assert_eq!(status, "no_data");
        } else {
            assert_eq!(status, "pass", "{key}");
            assert!(measured.is_some(), "{key} has a measured value");
        }
    }
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert!(page.contains("<svg"), "the HTML report has plots");
    let saved = read_report(&baseline);
    assert_eq!(saved["overall"]["count"], summary["overall"]["count"]);
}

#[test]
fn a_failed_threshold_exits_one_and_names_its_measured_value() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "\"http.count\" = \"> 1000000\"\n");
    let json = dir.path().join("summary.json");
    let run = load(
        &scenario,
        &["--mode", "smoke", "--json", json.to_str().unwrap()],
    );
    run.expect_code(EXIT_VIOLATIONS);
    assert!(run.stdout.contains("result: FAIL"), "{}", run.stdout);
    let summary = read_report(&json);
    let count = summary["overall"]["count"].as_f64().expect("count");
    let failed: Vec<_> = thresholds(&summary)
        .into_iter()
        .filter(|(_, status, _)| status == "fail")
        .collect();
    assert_eq!(
        failed,
        [("http.count".to_string(), "fail".to_string(), Some(count))]
    );
    assert!(
        run.stdout.contains("FAIL  http.count > 1000000"),
        "{}",
        run.stdout
    );
}

/// Multiplies every latency figure (`p50`, `max`, …) of a summary by `factor`.
fn scale_latencies(value: &mut Value, factor: f64) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let is_latency = ["min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max"]
                    .contains(&key.as_str());
                match field.as_f64() {
                    Some(x) if is_latency => *field = serde_json::json!(x * factor),
                    _ => scale_latencies(field, factor),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scale_latencies(v, factor)),
        _ => {}
    }
}

#[test]
fn a_baseline_regression_fails_the_run_and_a_matching_baseline_passes() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let saved = dir.path().join("baseline.json");
    load(
        &scenario,
        &[
            "--mode",
            "smoke",
            "--save-baseline",
            saved.to_str().unwrap(),
        ],
    )
    .expect_code(EXIT_OK);

    // Against itself, with a tolerance wide enough for a noisy shared machine: no regression.
    let run = load(
        &scenario,
        &[
            "--mode",
            "smoke",
            "--baseline",
            saved.to_str().unwrap(),
            "--tolerance",
            "1000%",
        ],
    );
    run.expect_code(EXIT_OK);

    // A baseline a hundred times faster than anything this API does: every latency regressed.
    let mut fast = read_report(&saved);
    scale_latencies(&mut fast, 0.01);
    let fast_path = write(&dir, "fast.json", &fast.to_string());
    let json = dir.path().join("summary.json");
    let run = load(
        &scenario,
        &[
            "--mode",
            "smoke",
            "--baseline",
            fast_path.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    run.expect_code(EXIT_VIOLATIONS);
    assert!(run.stdout.contains("REGRESSION"), "{}", run.stdout);
    let summary = read_report(&json);
    let regressed: Vec<&str> = summary["baseline"]["comparisons"]
        .as_array()
        .expect("baseline comparisons")
        .iter()
        .filter(|c| c["regressed"] == true)
        .map(|c| c["metric"].as_str().expect("metric"))
        .collect();
    assert!(regressed.contains(&"http.p95"), "{regressed:?}");
    assert!(regressed.contains(&"create_order.p95"), "{regressed:?}");
}

#[test]
fn ctrl_c_stops_a_soak_and_still_writes_the_summary() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let json = dir.path().join("summary.json");
    let running = Running::spawn(
        [
            "load",
            scenario.to_str().unwrap(),
            "--mode",
            "soak",
            "--vus",
            "2",
            "--duration",
            "60s",
            "--interval",
            "1s",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    // Plain progress lines (stderr is not a terminal) start with the elapsed time.
    running.wait_for_stderr_line("[", Duration::from_secs(30));
    running.interrupt();
    let interrupted = Instant::now();
    let run = running.finish(Duration::from_secs(30));
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "stopped {:?} after Ctrl-C",
        interrupted.elapsed()
    );
    run.expect_code(EXIT_INTERRUPTED);
    let summary = read_report(&json);
    assert_eq!(summary["stop"], "interrupted");
    assert!(
        summary["overall"]["count"].as_u64().expect("count") > 0,
        "what ran before Ctrl-C is reported"
    );
}

#[test]
fn bad_knobs_are_invalid_input_naming_the_flag() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    for (args, expected) in [
        (&["--stages", "10s"][..], "--stages"),
        (&["--duration", "soon"][..], "--duration"),
        (&["--tolerance", "lots"][..], "--tolerance"),
        (&["--flow", "no_such_flow"][..], "no_such_flow"),
    ] {
        let run = load(&scenario, args);
        run.expect_code(EXIT_INVALID_INPUT);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn an_unreachable_api_is_a_setup_failure() {
    let dir = tempdir();
    let (server, scenario) = demo_target(&dir, "");
    // The port stays unused once the demo is gone.
    drop(server);
    let run = load(&scenario, &["--mode", "smoke"]);
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stderr.contains("cannot reach the API"),
        "{}",
        run.stderr
    );
}

/// A scenario for `venom load` against `url` with one flow of one GET, and `extra` TOML.
fn raw_target(dir: &TempDir, url: &str, extra: &str) -> PathBuf {
    let text = format!(
        "base_url = {}\n[[actions]]\nname = \"get\"\nmethod = \"GET\"\npath = \"/x\"\n\
         [load]\nflows = [{{ name = \"f\", actions = [\"get\"] }}]\n{extra}",
        toml_string(url)
    );
    write(dir, "raw.toml", &text)
}

#[test]
fn an_api_killed_mid_run_fails_the_run_with_exit_3_and_refusals_back_off() {
    let mut server = venom_testkit::RawServer::start(|_, _| venom_testkit::ok_reply("{}"));
    let dir = tempdir();
    let scenario = raw_target(&dir, &server.url, "");
    let json = dir.path().join("summary.json");
    let running = Running::spawn(
        [
            "load",
            scenario.to_str().unwrap(),
            "--vus",
            "8",
            "--duration",
            "30s",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    std::thread::sleep(Duration::from_secs(1));
    server.stop();
    let killed = Instant::now();
    let run = running.finish(RUN_TIMEOUT);
    run.expect_code(EXIT_SETUP);
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "the run ends soon after the API died: {:?}",
        killed.elapsed()
    );
    assert!(
        run.stderr.contains("the API stopped answering"),
        "{}",
        run.stderr
    );
    let summary = read_report(&json);
    assert!(
        summary["stop"]["api_gone"].as_u64() >= Some(2000),
        "{}",
        summary["stop"]
    );
    // Refused requests back off (10 ms doubling to 1 s, shared by the users): a few dozen,
    // not the hundreds of thousands a loop without pause sends in 2 s.
    let errors = &summary["overall"]["errors_by_kind"];
    let refused: u64 = errors
        .as_object()
        .expect("errors_by_kind")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    eprintln!("failed requests after the API died: {errors}");
    assert!(
        refused < 2000,
        "{refused} failed requests: {}",
        summary["overall"]
    );
}

#[test]
fn a_run_that_mostly_fails_fails_without_declared_thresholds() {
    let server = venom_testkit::RawServer::start(|_, _| {
        venom_testkit::Reply::Send(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        )
    });
    let dir = tempdir();
    let scenario = raw_target(&dir, &server.url, "");
    let json = dir.path().join("summary.json");
    let run = load(
        &scenario,
        &["--mode", "smoke", "--json", json.to_str().unwrap()],
    );
    run.expect_code(EXIT_VIOLATIONS);
    let found = thresholds(&read_report(&json));
    assert_eq!(
        found,
        [("http.error_rate".to_string(), "fail".to_string(), Some(1.0))],
        "venom's default error-rate threshold applies"
    );
    assert!(run.stdout.contains("< 5% (default)"), "{}", run.stdout);
}

#[test]
fn more_users_than_file_descriptors_are_refused_up_front() {
    let server = venom_testkit::RawServer::start(|_, _| venom_testkit::ok_reply("{}"));
    let dir = tempdir();
    let scenario = raw_target(&dir, &server.url, "");
    // A hard limit of 256 descriptors, set for this one run.
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -n 256 && exec \"$0\" \"$@\"",
            common::VENOM,
            "load",
        ])
        .arg(&scenario)
        .args(["--vus", "1000", "--duration", "1s"])
        .output()
        .expect("run venom");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EXIT_SETUP), "{stderr}");
    assert!(
        stderr.contains("1000 concurrent users need about 1064 file descriptors")
            && stderr.contains("at most 256"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_cancels_stalled_requests_within_a_second() {
    let server = venom_testkit::RawServer::start(|_, path| match path {
        "/x" => venom_testkit::Reply::Stall,
        _ => venom_testkit::ok_reply("{}"),
    });
    let dir = tempdir();
    let scenario = raw_target(&dir, &server.url, "[defaults]\ntimeout = 60\n");
    let json = dir.path().join("summary.json");
    let running = Running::spawn(
        [
            "load",
            scenario.to_str().unwrap(),
            "--vus",
            "2",
            "--duration",
            "60s",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    std::thread::sleep(Duration::from_millis(1500));
    running.interrupt();
    let interrupted = Instant::now();
    let run = running.finish(RUN_TIMEOUT);
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "stalled requests were waited out: {:?}",
        interrupted.elapsed()
    );
    assert_eq!(read_report(&json)["stop"], "interrupted");
}

#[test]
fn find_capacity_runs_bounded_stages_and_writes_its_reports() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let (json, html) = (
        dir.path().join("capacity.json"),
        dir.path().join("capacity.html"),
    );
    let run = load(
        &scenario,
        &[
            "--find-capacity",
            "--flow",
            "create_order",
            "--start-rate",
            "5",
            "--stage-duration",
            "1s",
            "--max-stages",
            "2",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    );
    // Both stages (5/s, 10/s) hold the demo's thresholds: a capacity above them is reported.
    run.expect_code(EXIT_OK);
    let report = read_report(&json);
    assert_eq!(report["kind"], "venom-load-capacity");
    let rates: Vec<f64> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rate"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [5.0, 10.0], "{}", run.stdout);
    assert_eq!(report["highest_pass"], 10.0);
    assert_eq!(report["suggested_quota"], 7.0);
    assert!(
        run.stdout.contains("the most stages allowed (2) ran"),
        "{}",
        run.stdout
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Latency per stage") && page.contains("<svg"));
    // Flags of the search need the search.
    let refused = load(&scenario, &["--max-stages", "3"]);
    refused.expect_code(EXIT_INVALID_INPUT);
}

#[test]
fn check_quota_without_declared_quotas_says_so() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let run = load(&scenario, &["--check-quota"]);
    run.expect_code(EXIT_OK);
    assert!(
        run.stdout.contains("no action declares a quota"),
        "{}",
        run.stdout
    );
}

#[test]
fn two_segments_merge_into_the_counts_of_one_run() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let run_with = |extra: &[&str], json: &std::path::Path| {
        let mut args = vec![
            "--vus",
            "2",
            "--iterations",
            "9",
            "--flow",
            "create_order,list_orders",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        load(&scenario, &args)
    };
    let whole = dir.path().join("whole.json");
    run_with(&[], &whole).expect_code(EXIT_OK);
    let parts: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("part{i}.json")))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let segment = format!("{i}/2");
        run_with(&["--segment", &segment], part).expect_code(EXIT_OK);
        let summary = read_report(part);
        assert_eq!(summary["plan"]["segment"]["index"], i);
    }
    // The iterations are shared 4 + 5, one user each.
    let counts: Vec<u64> = parts
        .iter()
        .map(|p| read_report(p)["overall"]["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [8, 10]);
    let merged = dir.path().join("merged.json");
    let run = venom(
        [
            "load",
            "merge",
            parts[0].to_str().unwrap(),
            parts[1].to_str().unwrap(),
            "-o",
            merged.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    run.expect_code(EXIT_OK);
    let (merged, whole) = (read_report(&merged), read_report(&whole));
    for key in ["count", "errors"] {
        assert_eq!(merged["overall"][key], whole["overall"][key], "{key}");
    }
    assert_eq!(merged["overall"]["statuses"], whole["overall"]["statuses"]);
    assert_eq!(merged["actions"][0]["count"], whole["actions"][0]["count"]);
    assert_eq!(merged["flows"][0]["iterations"], 9);
    assert_eq!(thresholds(&merged).len(), thresholds(&whole).len());
    assert!(merged["plan"]["segment"].is_null());
    assert!(
        run.stdout.contains("PASS") || run.stdout.contains("pass"),
        "{}",
        run.stdout
    );
    // A segment twice is refused.
    let twice = venom(
        [
            "load",
            "merge",
            parts[0].to_str().unwrap(),
            parts[0].to_str().unwrap(),
            "-o",
            dir.path().join("no.json").to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    twice.expect_code(EXIT_INVALID_INPUT);
    assert!(
        twice.stderr.contains("segment 0/2 again"),
        "{}",
        twice.stderr
    );
}

#[test]
fn check_runs_the_invariants_under_load_and_fails_the_run_when_one_breaks() {
    let dir = tempdir();
    let (_server, scenario) = demo_target(&dir, "");
    let json = dir.path().join("checked.json");
    // Orders created and paid: every invariant the demo can check outside a step holds.
    let run = load(
        &scenario,
        &[
            "--flow",
            "create_order,list_orders",
            "--iterations",
            "6",
            "--check",
            "--check-every",
            "200ms",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    run.expect_code(EXIT_OK);
    assert!(
        run.stdout.contains("invariants checked under load:"),
        "{}",
        run.stdout
    );
    // Those reading a step's answer are said to be left out.
    assert!(
        !run.stderr.contains("list_total_matches_items` not checked"),
        "{}",
        run.stderr
    );
    let summary = read_report(&json);
    let checks = summary["checks"].as_array().expect("checks");
    let names: BTreeSet<&str> = checks
        .iter()
        .map(|c| c["invariant"].as_str().unwrap())
        .collect();
    assert!(names.contains("list_total_matches_items"), "{names:?}");
    assert!(checks.iter().all(|c| c["broken"].is_null()), "{checks:#?}");

    // Deleted orders are still counted by the list (the demo's bug 3): the check after the
    // load finds it and the run fails, although every threshold holds.
    let json = dir.path().join("broken.json");
    let run = load(
        &scenario,
        &[
            "--flow",
            "create_order,delete_order",
            "--iterations",
            "3",
            "--check",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    run.expect_code(EXIT_VIOLATIONS);
    assert!(run.stdout.contains("BROKEN"), "{}", run.stdout);
    assert!(
        run.stdout.contains("FAIL (1 invariant check(s) broke)"),
        "{}",
        run.stdout
    );
    let summary = read_report(&json);
    let broken: Vec<&Value> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["broken"].is_null())
        .collect();
    assert_eq!(broken.len(), 1, "{summary:#}");
    assert_eq!(broken[0]["invariant"], "list_total_matches_items");
    assert!(thresholds(&summary)
        .iter()
        .all(|(_, status, _)| status != "fail"));
}
