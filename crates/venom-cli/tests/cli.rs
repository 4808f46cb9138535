//! End-to-end tests of the `venom` binary, run as a subprocess: the demo and its five planted
//! bugs, replay, strategies, the JUnit report, `--fail-on`, invalid input, setup failures, a
//! scenario whose `[server]` is the separate `venom-demo` binary, and Ctrl-C.
//!
//! The tests that need the separate `venom-demo` binary build it with
//! [`common::demo::demo_binary`]. Tests that only need an API to talk to start the demo
//! in-process with [`DemoServer`].

mod common;

use common::demo::{assert_planted_bugs, demo_binary, planted_bugs, severity_of_planted};
use common::{
    found_bugs, read_report, tempdir, toml_string, violations, write, Run, Running,
    EXIT_INTERRUPTED, EXIT_INVALID_INPUT, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use venom_demo::{DemoServer, DEMO_SCENARIO};

/// A run that takes longer than this is hung; it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `venom ARGS` to completion (at most [`RUN_TIMEOUT`]).
fn venom<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    common::venom(args, RUN_TIMEOUT)
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Whether a process other than this one has `marker` in its command line (Linux `/proc`).
fn process_with(marker: &str) -> Option<String> {
    let own = std::process::id().to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == own || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmdline.contains(marker) {
                return Some(format!("pid {name}: {cmdline}"));
            }
        }
    }
    None
}

/// Fails the test if a process with `marker` in its command line is still there after a grace
/// period (a killed process may take a moment to disappear).
fn assert_no_process_with(marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(found) = process_with(marker) {
        assert!(
            Instant::now() < deadline,
            "a process is still running: {found}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// The demo's planted bugs

/// `venom demo --json F ARGS`: the run and the parsed report.
fn demo(dir: &TempDir, args: &[&str]) -> (Run, Value, PathBuf) {
    let json = dir.path().join("report.json");
    let mut all: Vec<&str> = vec!["demo", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    let run = venom(all);
    let report = read_report(&json);
    (run, report, json)
}

// ---------------------------------------------------------------------------------------------
// a, b: the demo finds the five planted bugs with their minimal paths

#[test]
fn demo_with_sqlite_rollback_finds_the_five_planted_bugs_with_minimal_paths() {
    let dir = tempdir();
    let (run, report, _) = demo(&dir, &[]);
    run.expect_code(EXIT_VIOLATIONS);
    assert_eq!(report["target"]["kind"], "demo");
    assert_eq!(report["target"]["rollback"], "sqlite");
    assert_eq!(report["exploration"]["strategy"], "bfs");
    assert_eq!(report["exploration"]["stop"]["reason"], "depth_limit");
    assert_planted_bugs(&report);
    assert!(
        run.stdout.contains("5 violations (5 at or above high)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_checkpoint_memory_cap_falls_back_to_replay_and_finds_the_same_bugs() {
    let dir = tempdir();
    // A cap of 0: only the initial state keeps its snapshot, every other one is replayed.
    let (run, report, _) = demo(&dir, &["--max-checkpoint-mb", "0"]);
    run.expect_code(EXIT_VIOLATIONS);
    assert_eq!(report["exploration"]["stop"]["reason"], "depth_limit");
    assert_planted_bugs(&report);
    let warnings = report["exploration"]["warnings"].to_string();
    assert!(
        warnings.contains("the checkpoints reached the memory cap of 0 MiB"),
        "{warnings}"
    );
}

#[test]
fn demo_with_reset_rollback_finds_the_five_planted_bugs_with_minimal_paths() {
    let dir = tempdir();
    let (run, report, _) = demo(&dir, &["--rollback", "reset"]);
    assert_eq!(report["target"]["rollback"], "reset");
    assert_eq!(report["exploration"]["stop"]["reason"], "depth_limit");
    assert_planted_bugs(&report);
    run.expect_code(EXIT_VIOLATIONS);
}

// ---------------------------------------------------------------------------------------------
// c: replay

#[test]
fn replay_reproduces_every_violation_of_a_demo_report() {
    let dir = tempdir();
    let (run, report, json) = demo(&dir, &[]);
    run.expect_code(EXIT_VIOLATIONS);
    let json = json.to_str().unwrap();

    let all = venom(["replay", json]);
    all.expect_code(EXIT_VIOLATIONS);
    assert_eq!(reproduced(&all.stdout), 5, "{}", all.stdout);
    assert!(
        !all.stdout.contains("no longer reproduces"),
        "{}",
        all.stdout
    );
    for (number, violation) in violations(&report).iter().enumerate() {
        let names: Vec<&str> = violation["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["action"].as_str().unwrap())
            .collect();
        let header = format!(
            "violation {} [{}] {}: {}",
            number + 1,
            violation["severity"].as_str().unwrap().to_uppercase(),
            violation["invariant"].as_str().unwrap(),
            names.join(" -> ")
        );
        assert!(
            all.stdout.contains(&header),
            "missing `{header}` in\n{}",
            all.stdout
        );
    }

    let third = venom(["replay", json, "--violation", "3"]);
    third.expect_code(EXIT_VIOLATIONS);
    let lines: Vec<&str> = third.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", third.stdout);
    let invariant = violations(&report)[2]["invariant"].as_str().unwrap();
    assert!(
        lines[0].starts_with("violation 3 ") && lines[0].contains(invariant),
        "{}",
        third.stdout
    );
    assert!(lines[1].starts_with("  reproduced: "), "{}", third.stdout);

    let ninth = venom(["replay", json, "--violation", "9"]);
    ninth.expect_code(EXIT_INVALID_INPUT);
    assert!(
        ninth
            .stderr
            .contains("--violation 9: the report has 5 violation(s)"),
        "{}",
        ninth.stderr
    );
    assert!(ninth.stdout.is_empty(), "{}", ninth.stdout);
}

/// How many replayed violations `venom replay` printed as reproduced.
fn reproduced(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|line| line.starts_with("  reproduced: "))
        .count()
}

// ---------------------------------------------------------------------------------------------
// d: other strategies

#[test]
fn every_strategy_finds_the_same_minimal_paths_on_the_demo() {
    // The demo's state space is small: every strategy exhausts it, and the shortest paths are
    // computed over the whole state graph, so they do not depend on the order of exploration.
    let strategies: [(&str, &[&str]); 6] = [
        ("dfs", &["--strategy", "dfs"]),
        ("random", &["--strategy", "random", "--seed", "7"]),
        ("coverage", &["--strategy", "coverage"]),
        ("weighted", &["--strategy", "weighted", "--seed", "7"]),
        ("mcts", &["--strategy", "mcts", "--seed", "7"]),
        (
            "mcts",
            &[
                "--strategy",
                "mcts",
                "--seed",
                "8",
                "--mcts-exploration",
                "0.5",
            ],
        ),
    ];
    for (name, args) in strategies {
        let dir = tempdir();
        let (run, report, _) = demo(&dir, args);
        run.expect_code(EXIT_VIOLATIONS);
        assert_eq!(report["exploration"]["strategy"], name);
        assert_eq!(
            report["exploration"]["stop"]["reason"], "depth_limit",
            "{name}"
        );
        assert_eq!(found_bugs(&report), planted_bugs(), "strategy {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// e: JUnit

/// (name, failure type) of every `<testcase>` of a JUnit file; the type is `None` for a success.
fn junit_cases(xml: &str) -> Vec<(String, Option<String>)> {
    fn attribute(tag: &str, name: &str) -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_string())
    }
    xml.split("<testcase ")
        .skip(1)
        .map(|case| {
            let case = case.split("</testcase>").next().unwrap();
            let open_tag = case.split('>').next().unwrap();
            let name = attribute(open_tag, "name").expect("a test case has a name");
            let failure = case
                .find("<failure")
                .map(|at| attribute(&case[at..], "type").expect("a failure has a type"));
            (name, failure)
        })
        .collect()
}

/// `--markdown` writes the summary: one table row per planted bug with its minimal path, as
/// the JSON report numbers them, and the replay command of each.
#[test]
fn markdown_summary_lists_the_planted_bugs_with_their_paths_and_replay_commands() {
    let dir = tempdir();
    let markdown = dir.path().join("summary.md");
    let (run, report, json) = demo(&dir, &["--markdown", markdown.to_str().unwrap()]);
    run.expect_code(EXIT_VIOLATIONS);
    let text = std::fs::read_to_string(&markdown).expect("the summary was written");
    assert!(text.starts_with("### venom: 5 violations"), "{text}");
    let violations = report["exploration"]["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 5);
    for (i, violation) in violations.iter().enumerate() {
        let invariant = violation["invariant"].as_str().unwrap().replace('_', "\\_");
        let path: Vec<String> = violation["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|step| step["action"].as_str().unwrap().replace('_', "\\_"))
            .collect();
        let row = format!(
            "| {} | {} | {invariant} |",
            i + 1,
            severity_of_planted(violation["invariant"].as_str().unwrap()).to_uppercase()
        );
        let line = text
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("no row {row}:\n{text}"));
        assert!(
            line.contains(&format!("{} ({})", path.join(" → "), path.len())),
            "{line}"
        );
        let replay = format!("venom replay {} --violation {}", json.display(), i + 1);
        assert!(text.contains(&replay), "{replay}:\n{text}");
    }
    assert!(
        text.contains("#### Coverage: 100% (7/7 actions run)"),
        "{text}"
    );
}

/// The JSON report holds the state graph (every state with its depth and label, every
/// transition), and `--dot` draws it: one node per state, one edge per transition, each planted
/// bug's path in red up to its red end state, which names its number.
#[test]
fn the_report_holds_the_graph_and_dot_draws_it_with_the_paths_in_red() {
    let dir = tempdir();
    let dot = dir.path().join("graph.dot");
    let (run, report, _) = demo(&dir, &["--dot", dot.to_str().unwrap()]);
    run.expect_code(EXIT_VIOLATIONS);
    let exploration = &report["exploration"];
    let graph = &exploration["graph"];
    let states = graph["states"].as_array().expect("states");
    let edges = graph["edges"].as_array().expect("edges");
    assert_eq!(states.len() as u64, exploration["states"].as_u64().unwrap());
    assert_eq!(
        edges.len() as u64,
        exploration["transitions"].as_u64().unwrap()
    );
    assert_eq!(graph["omitted_states"], 0);
    assert_eq!(states[0]["depth"], 0);
    assert!(
        states
            .iter()
            .any(|s| s["label"] == "order_id=1 order_status=paid"),
        "labels name the state keys: {states:?}"
    );

    let text = std::fs::read_to_string(&dot).expect("the DOT file was written");
    assert_eq!(
        text.lines().filter(|l| l.contains(" [label=\"#")).count(),
        states.len()
    );
    assert_eq!(
        text.lines().filter(|l| l.contains(" -> ")).count(),
        edges.len()
    );
    for (number, violation) in exploration["violations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        // Follow the path through the graph, as a reader of the picture would.
        let mut at = 0u64;
        for step in violation["path"].as_array().unwrap() {
            let action = step["action"].as_str().unwrap();
            let edge = edges
                .iter()
                .find(|e| e["from"] == at && e["action"] == action)
                .unwrap_or_else(|| panic!("no {action} from state {at}"));
            let to = edge["to"].as_u64().unwrap();
            let line = format!("  s{at} -> s{to} [label=\"{action}\", color=red");
            assert!(text.contains(&line), "{line}:\n{text}");
            at = to;
        }
        let end = text
            .lines()
            .find(|l| l.starts_with(&format!("  s{at} [label=")))
            .expect("the end state");
        assert!(end.contains("color=red"), "{end}");
        let named = end
            .split("violations: ")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the end state names its violations");
        assert!(
            named.split(", ").any(|n| n == (number + 1).to_string()),
            "violation {} in {end}",
            number + 1
        );
    }
}

/// `--html` writes a page a real browser (headless chromium) opens with no console message, that
/// draws something (the screenshot is not blank), and whose DOM holds the five planted bugs,
/// each with its path's actions in order and its replay command, and the graph with one box per
/// state and the paths' transitions in red.
#[test]
fn the_html_report_opens_in_a_browser_with_the_planted_bugs_and_their_paths() {
    let dir = tempdir();
    let html = dir.path().join("report.html");
    let (run, report, json) = demo(&dir, &["--html", html.to_str().unwrap()]);
    run.expect_code(EXIT_VIOLATIONS);
    let page = std::fs::read_to_string(&html).expect("the page was written");
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(external), "self-contained: {external}");
    }
    let rendered = venom_testkit::browser::render(&html, 1400, 1600);
    assert!(rendered.console.is_empty(), "{:?}", rendered.console);
    assert!(
        rendered.inked() > 0.05,
        "blank? {:.3} inked",
        rendered.inked()
    );
    let dom = &rendered.dom;
    let violations = report["exploration"]["violations"].as_array().unwrap();
    assert_eq!(dom.matches("<article class=\"violation ").count(), 5);
    for (i, violation) in violations.iter().enumerate() {
        let number = i + 1;
        let start = dom
            .find(&format!(
                "id=\"v{number}\" data-invariant=\"{}\"",
                violation["invariant"].as_str().unwrap()
            ))
            .unwrap_or_else(|| panic!("violation {number} in the DOM"));
        let article = &dom[start..start + dom[start..].find("</article>").unwrap()];
        let mut at = 0;
        for step in violation["path"].as_array().unwrap() {
            let action = format!(
                "<b class=\"action\">{}</b>",
                step["action"].as_str().unwrap()
            );
            at += article[at..]
                .find(&action)
                .unwrap_or_else(|| panic!("{action} in order in {article}"));
        }
        let replay = format!("venom replay {} --violation {number}", json.display());
        assert!(article.contains(&replay), "{replay} in {article}");
    }
    let states = report["exploration"]["states"].as_u64().unwrap() as usize;
    assert_eq!(dom.matches("<g class=\"state").count(), states);
    assert!(
        dom.matches("class=\"edge on-path").count() >= 4,
        "the paths are drawn"
    );
}

#[test]
fn junit_has_a_test_case_per_invariant_and_fails_the_violated_ones() {
    let dir = tempdir();
    let junit = dir.path().join("venom.xml");
    let (run, report, json) = demo(&dir, &["--junit", junit.to_str().unwrap()]);
    run.expect_code(EXIT_VIOLATIONS);
    let xml = std::fs::read_to_string(&junit).expect("the JUnit file was written");

    let cases = junit_cases(&xml);
    let names: BTreeSet<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
    let invariants: BTreeSet<&str> = report["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(cases.len(), invariants.len(), "{xml}");
    assert_eq!(names, invariants);
    // The demo's four invariants, plus the built-in ones; `expected_status` holds.
    assert!(names.contains("expected_status"), "{names:?}");

    let failed: BTreeSet<(String, String)> = cases
        .iter()
        .filter_map(|(name, failure)| Some((name.clone(), failure.clone()?)))
        .collect();
    let expected: BTreeSet<(String, String)> = planted_bugs()
        .into_iter()
        .map(|(invariant, _)| {
            let severity = severity_of_planted(&invariant).to_string();
            (invariant, severity)
        })
        .collect();
    assert_eq!(failed, expected);
    assert!(xml.contains(r#"failures="5""#), "{xml}");
    assert!(
        xml.contains(&format!("venom replay {}", json.display())),
        "the failures say how to replay them: {xml}"
    );
}

// ---------------------------------------------------------------------------------------------
// f: --fail-on and step limits

#[test]
fn fail_on_critical_fails_when_critical_violations_are_found() {
    let dir = tempdir();
    let (run, report, _) = demo(&dir, &["--fail-on", "critical"]);
    run.expect_code(EXIT_VIOLATIONS);
    assert!(violations(&report)
        .iter()
        .any(|v| v["severity"] == "critical"));
    assert!(
        run.stdout.contains("5 violations (2 at or above critical)"),
        "{}",
        run.stdout
    );
}

#[test]
fn fail_on_ignores_violations_below_the_level() {
    // Breadth-first, the 10 first steps reach depth 2 at most: `create_order -> delete_order`
    // (high) is found, the critical bugs need 4 steps.
    let dir = tempdir();
    let (run, report, _) = demo(&dir, &["--max-steps", "10", "--fail-on", "critical"]);
    run.expect_code(EXIT_OK);
    assert_eq!(report["exploration"]["stop"]["reason"], "max_steps");
    assert_eq!(report["exploration"]["steps"], 10);
    let found = violations(&report);
    assert!(!found.is_empty(), "a high violation is found in 10 steps");
    assert!(found.iter().all(|v| v["severity"] == "high"), "{found:#?}");

    // The same run fails at the default level, high.
    let (run, report_high, _) = demo(&tempdir(), &["--max-steps", "10"]);
    run.expect_code(EXIT_VIOLATIONS);
    assert_eq!(found_bugs(&report_high), found_bugs(&report));
}

#[test]
fn a_run_without_violations_exits_zero() {
    let dir = tempdir();
    let (run, report, _) = demo(&dir, &["--max-steps", "1"]);
    run.expect_code(EXIT_OK);
    assert_eq!(report["exploration"]["stop"]["reason"], "max_steps");
    assert_eq!(report["exploration"]["steps"], 1);
    assert!(violations(&report).is_empty());
    assert!(run.stdout.contains("no violations"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// g: invalid input

#[test]
fn an_unknown_key_is_reported_with_file_line_and_column() {
    let dir = tempdir();
    let scenario = write(
        &dir,
        "typo.toml",
        "base_url = \"http://127.0.0.1:9\"\n\
         \n\
         [[actions]]\n\
         method = \"GET\"\n\
         \x20 nmae = \"list\"\n\
         path = \"/\"\n",
    );
    let expected = format!("{}:5:3: unknown field `nmae`", scenario.display());
    for command in ["check", "explore"] {
        let run = venom([command, scenario.to_str().unwrap()]);
        run.expect_code(EXIT_INVALID_INPUT);
        assert!(
            run.stderr.contains(&expected),
            "venom {command}: expected `{expected}` in\n{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "venom {command}: {}", run.stdout);
    }
}

#[test]
fn a_toml_syntax_error_is_reported_with_file_line_and_column() {
    let dir = tempdir();
    // Line 4 has an unterminated string: the closing quote is missing at column 10.
    let scenario = write(
        &dir,
        "syntax.toml",
        "base_url = \"http://127.0.0.1:9\"\n\
         \n\
         [[actions]]\n\
         name = \"x\n\
         method = \"GET\"\n",
    );
    let expected = format!("{}:4:10: ", scenario.display());
    for command in ["check", "explore"] {
        let run = venom([command, scenario.to_str().unwrap()]);
        run.expect_code(EXIT_INVALID_INPUT);
        assert!(
            run.stderr.contains(&expected),
            "venom {command}: expected `{expected}` in\n{}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_scenario_file_is_named() {
    let dir = tempdir();
    let missing = dir.path().join("missing.toml");
    for command in ["check", "explore"] {
        let run = venom([command, missing.to_str().unwrap()]);
        run.expect_code(EXIT_INVALID_INPUT);
        assert!(
            run.stderr.contains(missing.to_str().unwrap()),
            "venom {command}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_malformed_report_is_reported_with_file_line_and_column() {
    let dir = tempdir();
    let report = write(
        &dir,
        "bad.json",
        "{\"tool_version\": \"0.1.0\",\n  \"target\": x}\n",
    );
    let run = venom(["replay", report.to_str().unwrap()]);
    run.expect_code(EXIT_INVALID_INPUT);
    let expected = format!("{}:2:13: ", report.display());
    assert!(run.stderr.contains(&expected), "{}", run.stderr);

    let missing = dir.path().join("missing.json");
    let run = venom(["replay", missing.to_str().unwrap()]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains(missing.to_str().unwrap()),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_flags_are_invalid_input() {
    let run = venom(["demo", "--coverage-target", "2"]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(run.stderr.contains("--coverage-target 2"), "{}", run.stderr);

    let run = venom(["demo", "--strategy", "sideways"]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(run.stderr.contains("sideways"), "{}", run.stderr);
}

// ---------------------------------------------------------------------------------------------
// h: setup failures

/// A minimal scenario against `base_url` with one read-only action and a no-op reset, plus
/// `extra` TOML.
fn minimal_scenario(base_url: &str, extra: &str) -> String {
    format!(
        "base_url = {}\n{extra}\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"health\"\nmethod = \"GET\"\npath = \"/health\"\n",
        toml_string(base_url)
    )
}

#[test]
fn reset_and_replay_without_a_reset_is_invalid_input() {
    let dir = tempdir();
    let scenario = write(
        &dir,
        "no-reset.toml",
        "base_url = \"http://127.0.0.1:9\"\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n",
    );
    let run = venom(["explore", scenario.to_str().unwrap()]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains("needs a [reset] request or command"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_refuses_reset_and_replay_without_a_reset_as_explore_would() {
    let dir = tempdir();
    let file = write(
        &dir,
        "no-reset.toml",
        "base_url = \"http://127.0.0.1:9\"\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n",
    );
    let run = venom(["check", file.to_str().unwrap()]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains("needs a [reset] request or command"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_api_is_a_setup_failure() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    let scenario = write(&dir, "down.toml", &minimal_scenario(&url, ""));
    let run = venom(["explore", scenario.to_str().unwrap()]);
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stderr
            .contains(&format!("cannot reach the API at base_url {url}")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_that_never_gets_ready_is_a_setup_failure_and_is_stopped() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    // A duration no other process uses, to find this one in /proc afterwards.
    let marker = format!("29.{}{}", std::process::id(), free_port());
    let server = format!(
        "[server]\ncommand = \"sleep {marker}\"\nready_url = \"/health\"\nready_timeout = 0.5\n"
    );
    let scenario = write(&dir, "slow.toml", &minimal_scenario(&url, &server));
    let run = venom(["explore", scenario.to_str().unwrap()]);
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stderr
            .contains(&format!("the server `sleep {marker}` was not ready")),
        "{}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    assert_no_process_with(&format!("sleep {marker}"));
}

#[test]
fn a_server_that_exits_at_once_is_a_setup_failure() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    let server =
        "[server]\ncommand = \"echo cannot bind the port >&2; exit 7\"\nready_timeout = 30\n";
    let scenario = write(&dir, "crash.toml", &minimal_scenario(&url, server));
    let run = venom(["explore", scenario.to_str().unwrap()]);
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stderr
            .contains("exited (exit status: 7) before it was ready"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("cannot bind the port"),
        "the server's output is shown: {}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "the exit is noticed without waiting for ready_timeout: {:?}",
        run.elapsed
    );
}

// ---------------------------------------------------------------------------------------------
// i: examples/demo.toml against the separate venom-demo binary, started by venom

/// examples/demo.toml pointed at a `venom-demo` process that venom starts on a free port, with
/// its database in `dir` (where the scenario's `sqlite_path = "demo.db"` also points); the
/// server command runs `before` first.
fn demo_scenario_with_server(dir: &TempDir, before: &str) -> (PathBuf, u16, PathBuf) {
    let port = free_port();
    let db = dir.path().join("demo.db");
    let mut text = String::new();
    let mut replaced = 0;
    for line in DEMO_SCENARIO.lines() {
        if line.starts_with("base_url = ") {
            text.push_str(&format!("base_url = \"http://127.0.0.1:{port}\"\n"));
            replaced += 1;
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert_eq!(replaced, 1, "examples/demo.toml has one base_url line");
    assert!(
        DEMO_SCENARIO.contains("sqlite_path = \"demo.db\""),
        "the database is next to the scenario"
    );
    let command = format!(
        "{before}exec '{}' --listen 127.0.0.1:{port} --db '{}'",
        demo_binary().display(),
        db.display()
    );
    text.push_str(&format!(
        "\n[server]\ncommand = {}\nready_url = \"/health\"\nready_timeout = 30.0\n",
        toml_string(&command)
    ));
    (write(dir, "demo.toml", &text), port, db)
}

fn assert_server_gone(port: u16, db: &Path) {
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the demo server still listens on port {port}"
    );
    assert_no_process_with(db.to_str().unwrap());
}

#[test]
fn explore_starts_the_venom_demo_binary_finds_the_planted_bugs_and_stops_it() {
    let dir = tempdir();
    let (scenario, port, db) = demo_scenario_with_server(&dir, "");
    let json = dir.path().join("report.json");
    let run = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    assert_eq!(report["target"]["kind"], "scenario");
    assert_eq!(report["exploration"]["mechanism"], "sqlite snapshots");
    assert_eq!(report["exploration"]["stop"]["reason"], "depth_limit");
    assert_planted_bugs(&report);
    assert_server_gone(port, &db);

    // Replaying the report starts the server again, reproduces every bug and stops it.
    let replay = venom(["replay", json.to_str().unwrap()]);
    replay.expect_code(EXIT_VIOLATIONS);
    assert_eq!(reproduced(&replay.stdout), 5, "{}", replay.stdout);
    assert!(
        !replay.stdout.contains("no longer reproduces"),
        "{}",
        replay.stdout
    );
    assert_server_gone(port, &db);
}

// ---------------------------------------------------------------------------------------------
// j: Ctrl-C

/// The demo API (in this process) and a scenario in `dir` whose one action creates an order
/// with a new id at every call: the state space never ends.
fn endless_demo(dir: &TempDir) -> (DemoServer, PathBuf) {
    let server = DemoServer::start(&dir.path().join("api.db")).expect("cannot start the demo");
    let scenario = write(
        dir,
        "endless.toml",
        &format!(
            "base_url = {}\n\
             [reset]\n\
             request = {{ method = \"POST\", path = \"/admin/reset\" }}\n\
             [[actions]]\n\
             name = \"create_order\"\n\
             method = \"POST\"\n\
             path = \"/orders\"\n\
             body = {{ amount = 100 }}\n\
             expect = [201]\n\
             extract = {{ order_id = \"$.id\" }}\n",
            toml_string(&server.base_url())
        ),
    );
    (server, scenario)
}

#[test]
fn ctrl_c_stops_an_endless_exploration_and_still_writes_the_report() {
    let dir = tempdir();
    let (_server, scenario) = endless_demo(&dir);
    let json = dir.path().join("report.json");
    let running = Running::spawn(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--time-limit",
            "60",
            "--progress-every",
            "10",
        ],
        &[],
    );
    // Once the exploration is under way (a progress line), and about 1.5 s in: Ctrl-C.
    running.wait_for_stderr_line("step ", Duration::from_secs(60));
    thread::sleep(Duration::from_millis(1500).saturating_sub(running.start.elapsed()));
    running.interrupt();
    let interrupted = Instant::now();
    let run = running.finish(Duration::from_secs(10));
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "stopped {:?} after Ctrl-C",
        interrupted.elapsed()
    );
    assert!(
        run.stderr.contains("stopping after the current step"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("stopped: interrupted"),
        "{}",
        run.stdout
    );

    let report = read_report(&json);
    assert_eq!(report["exploration"]["stop"]["reason"], "interrupted");
    let steps = report["exploration"]["steps"].as_u64().expect("steps");
    assert!(steps > 0, "steps = {steps}");
    assert!(violations(&report).is_empty());
}

#[test]
fn ctrl_c_during_replay_stops_the_server_it_started() {
    // The server needs a moment to start, so Ctrl-C arrives while venom waits for it.
    let dir = tempdir();
    let (scenario, port, db) = demo_scenario_with_server(&dir, "sleep 1; ");
    let json = dir.path().join("report.json");
    let run = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    assert_server_gone(port, &db);

    let running = Running::spawn(["replay", json.to_str().unwrap()], &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_with(db.to_str().unwrap()).is_none() {
        assert!(Instant::now() < deadline, "venom did not start the server");
        thread::sleep(Duration::from_millis(20));
    }
    running.interrupt();
    let run = running.finish(Duration::from_secs(30));
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        run.stdout
            .contains("interrupted: violation 1 and later ones not replayed"),
        "{}",
        run.stdout
    );
    assert_eq!(reproduced(&run.stdout), 0, "{}", run.stdout);
    assert_server_gone(port, &db);
}

#[test]
fn ctrl_c_while_waiting_for_the_server_stops_at_once_and_stops_the_server() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    let marker = format!("31.{}{}", std::process::id(), free_port());
    let server = format!(
        "[server]\ncommand = \"sleep {marker}\"\nready_url = \"/health\"\nready_timeout = 60\n"
    );
    let scenario = write(&dir, "never-ready.toml", &minimal_scenario(&url, &server));
    let running = Running::spawn(["explore", scenario.to_str().unwrap()], &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while process_with(&format!("sleep {marker}")).is_none() {
        assert!(Instant::now() < deadline, "venom did not start the server");
        thread::sleep(Duration::from_millis(20));
    }
    running.interrupt();
    let interrupted = Instant::now();
    let run = running.finish(Duration::from_secs(30));
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "took {:?} after Ctrl-C (the ready timeout is 60 s)",
        interrupted.elapsed()
    );
    assert!(
        run.stderr
            .contains("interrupted while waiting for the server"),
        "{}",
        run.stderr
    );
    assert_no_process_with(&format!("sleep {marker}"));
}

/// Flags for an endless depth-first exploration that prints progress every 5 steps.
const ENDLESS_DFS: &[&str] = &[
    "--strategy",
    "dfs",
    "--time-limit",
    "120",
    "--max-steps",
    "1000000",
    "--progress-every",
    "5",
];

/// The demo scenario started by venom as its `[server]` (see [`demo_scenario_with_server`]),
/// with only `create_order` and no call limit: an endless exploration. The scenario, the
/// server's port and its database file.
fn endless_demo_with_server(dir: &TempDir, before: &str) -> (PathBuf, u16, PathBuf) {
    let (demo, port, db) = demo_scenario_with_server(dir, before);
    let text = std::fs::read_to_string(&demo).expect("scenario");
    let endless = text
        .replace("max_calls = 1\n", "")
        .replace("requires = { expr = \"!has(ctx.order_id)\" }\n", "");
    (write(dir, "endless-demo.toml", &endless), port, db)
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_kills_the_server() {
    let dir = tempdir();
    // The server ignores SIGHUP, so only venom's kill can stop it once venom is gone (an orphaned
    // process group with a stopped member gets SIGHUP from the kernel).
    let (scenario, port, db) = endless_demo_with_server(&dir, "trap '' HUP; ");
    let running = Running::spawn(
        [&["explore", scenario.to_str().unwrap()][..], ENDLESS_DFS].concat(),
        &[],
    );
    running.wait_for_stderr_line("step ", Duration::from_secs(60));
    // Freeze the API: the step under way now hangs until the 10 s request timeout, so the first
    // Ctrl-C ("stop after the current step") cannot end the run quickly.
    let found = process_with(db.to_str().unwrap()).expect("the demo server runs");
    let pid: libc::pid_t = found["pid ".len()..found.find(':').expect("pid N: cmdline")]
        .parse()
        .expect("pid");
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    running.interrupt();
    thread::sleep(Duration::from_millis(500));
    let second = Instant::now();
    running.interrupt();
    let run = running.finish(Duration::from_secs(30));
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "the second Ctrl-C took {:?}",
        second.elapsed()
    );
    // Killed with its process group: give the kernel a moment to tear it down.
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_with(db.to_str().unwrap()).is_some() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_server_gone(port, &db);
}

#[test]
fn sigterm_and_sighup_stop_like_ctrl_c_write_the_report_stop_the_server_and_say_which() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let dir = tempdir();
        let (scenario, port, db) = endless_demo_with_server(&dir, "");
        let json = dir.path().join("report.json");
        let running = Running::spawn(
            [
                &["explore", scenario.to_str().unwrap()][..],
                ENDLESS_DFS,
                &["--json", json.to_str().unwrap()],
            ]
            .concat(),
            &[],
        );
        running.wait_for_stderr_line("step ", Duration::from_secs(60));
        running.signal(signal);
        let run = running.finish(Duration::from_secs(30));
        run.expect_code(code);
        let report = read_report(&json);
        assert_eq!(report["exploration"]["stop"]["reason"], "interrupted");
        assert!(report["exploration"]["steps"].as_u64().expect("steps") > 0);
        assert_server_gone(port, &db);
    }
}

#[test]
fn a_setup_failure_prints_each_fact_once_with_its_cause_chain() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    let scenario = write(&dir, "down.toml", &minimal_scenario(&url, ""));
    let run = venom(["explore", scenario.to_str().unwrap()]);
    run.expect_code(EXIT_SETUP);
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.is_empty()).collect();
    let (first, causes) = lines.split_first().expect("an error line");
    assert!(
        first.starts_with(&format!("error: cannot reach the API at base_url {url} ")),
        "{}",
        run.stderr
    );
    assert!(!causes.is_empty(), "no cause chain: {}", run.stderr);
    assert!(
        causes.iter().all(|l| l.starts_with("caused by: ")),
        "{}",
        run.stderr
    );
    // The refused connection is the root cause, said last.
    assert!(
        causes.last().unwrap().contains("Connection refused"),
        "{}",
        run.stderr
    );
    // Each fact once: the URL, and no line twice.
    assert_eq!(run.stderr.matches(&url).count(), 1, "{}", run.stderr);
    let mut seen = std::collections::HashSet::new();
    assert!(lines.iter().all(|l| seen.insert(*l)), "{}", run.stderr);
}

#[test]
fn a_time_limit_too_long_for_a_duration_is_invalid_input_not_a_crash() {
    let dir = tempdir();
    let url = format!("http://127.0.0.1:{}", free_port());
    let scenario = write(&dir, "t.toml", &minimal_scenario(&url, ""));
    let run = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--time-limit",
        "1e20",
    ]);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr
            .contains("--time-limit 100000000000000000000: expected a positive number"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_run_without_a_terminal_prints_progress_lines_by_default() {
    let dir = tempdir();
    let (_server, scenario) = endless_demo(&dir);
    // Longer than one 10 s period; stderr is a pipe, not a terminal.
    let run = venom(["explore", scenario.to_str().unwrap(), "--time-limit", "11"]);
    run.expect_code(EXIT_OK);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("step "))
        .unwrap_or_else(|| panic!("no progress line: {}", run.stderr));
    assert!(line.contains(" steps/s"), "{line}");
}
