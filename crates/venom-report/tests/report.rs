//! End-to-end tests of the report artefacts, on a report built by hand.

use quick_junit::{NonSuccessKind, TestCaseStatus};
use serde_json::json;
use std::path::Path;
use venom_engine::{ActionCoverage, EdgeView, GraphView, StateSnapshot, StateView};
use venom_engine::{
    Context, Exchange, Exploration, Observation, PathStep, RequestRecord, ResponseRecord, Severity,
    StopReason, Strategy, Violation, WorkerFigures,
};
use venom_report::{
    exit_code, format_path, read_json, render_console, render_dot, render_html, render_markdown,
    replay_hint, write_dot, write_json, write_junit, InvariantInfo, ReportError, RunReport, Target,
    EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS, REPORT_FORMAT,
};

const BASE: &str = "http://127.0.0.1:8080";

fn exchange(method: &str, path: &str, status: Option<u16>) -> Exchange {
    Exchange {
        request: RequestRecord {
            method: method.to_string(),
            url: format!("{BASE}{path}"),
            headers: vec![("content-type".into(), "application/json".into())],
            body: (method == "POST").then(|| json!({"qty": 2})),
        },
        response: status.map(|status| ResponseRecord {
            status,
            headers: vec![("x-request-id".into(), "abc".into())],
            body: json!({"id": 7, "status": "ok"}),
            ttfb_ms: 1.5,
            elapsed_ms: 2.25,
            truncated: false,
        }),
        error: status
            .is_none()
            .then(|| "no response within 5s".to_string()),
        together: None,
    }
}

fn step(action: &str, method: &str, path: &str, status: Option<u16>) -> PathStep {
    PathStep {
        action: action.to_string(),
        exchange: Some(exchange(method, path, status)),
        earlier: Vec::new(),
    }
}

fn snapshot(fingerprint: &str) -> StateSnapshot {
    let mut context = Context::new();
    context.set("order_id", 7);
    let mut observation = Observation::new();
    observation.insert("orders", json!(1));
    StateSnapshot {
        fingerprint: fingerprint.to_string(),
        context,
        observation,
    }
}

fn violation(
    invariant: &str,
    severity: Severity,
    message: &str,
    path: Vec<PathStep>,
    occurrences: u64,
) -> Violation {
    Violation {
        invariant: invariant.to_string(),
        severity,
        message: message.to_string(),
        action: path.last().map(|s| s.action.clone()),
        path,
        state: snapshot("00ff00ff00ff00ff"),
        evidence: Some(exchange("GET", "/orders/7", Some(200))),
        occurrences,
        proved_shortest: true,
        one_minimal: false,
        shrunk_from: None,
    }
}

/// Two violations of `no_double_refund` (critical), one of `stock_never_negative` (medium),
/// and `total_matches_items` (high) held.
fn sample() -> RunReport {
    let violations = vec![
        violation(
            "no_double_refund",
            Severity::Critical,
            "order 7 refunded twice",
            vec![
                step("create_order", "POST", "/orders", Some(201)),
                step("pay_order", "POST", "/orders/7/pay", Some(200)),
                step("refund_order", "POST", "/orders/7/refund", Some(200)),
                step("refund_order", "POST", "/orders/7/refund", Some(200)),
            ],
            3,
        ),
        violation(
            "no_double_refund",
            Severity::Critical,
            "order 7 refunded after cancel",
            vec![
                step("create_order", "POST", "/orders", Some(201)),
                step("cancel_order", "DELETE", "/orders/7", None),
                step("refund_order", "POST", "/orders/7/refund", Some(200)),
            ],
            1,
        ),
        violation(
            "stock_never_negative",
            Severity::Medium,
            "stock of item 3 is -1",
            vec![step("reserve_stock", "POST", "/stock/3/reserve", Some(409))],
            2,
        ),
    ];
    RunReport {
        format: REPORT_FORMAT,
        tool_version: "0.1.0".to_string(),
        target: Target::Demo {
            rollback: "sqlite".to_string(),
            scenario: None,
        },
        invariants: vec![
            InvariantInfo {
                name: "no_double_refund".into(),
                severity: Severity::Critical,
            },
            InvariantInfo {
                name: "total_matches_items".into(),
                severity: Severity::High,
            },
            InvariantInfo {
                name: "stock_never_negative".into(),
                severity: Severity::Medium,
            },
        ],
        exploration: Exploration {
            strategy: Strategy::Bfs,
            mechanism: "sqlite snapshots".to_string(),
            stop: StopReason::Exhausted,
            steps: 250,
            states: 42,
            transitions: 97,
            max_depth: 6,
            coverage: 0.8,
            actions: vec![
                ActionCoverage {
                    action: "create_order".into(),
                    runs: 120,
                    never_run: None,
                },
                ActionCoverage {
                    action: "pay_order".into(),
                    runs: 70,
                    never_run: None,
                },
                ActionCoverage {
                    action: "refund_order".into(),
                    runs: 40,
                    never_run: None,
                },
                ActionCoverage {
                    action: "cancel_order".into(),
                    runs: 20,
                    never_run: None,
                },
                ActionCoverage {
                    action: "archive_order".into(),
                    runs: 0,
                    never_run: Some("requires action `cancel_order`, which never ran".into()),
                },
            ],
            violations,
            warnings: vec!["possible loop: pay_order repeats without changing state".into()],
            duration_secs: 2.5,
            shard: None,
            workers: Vec::new(),
            graph: None,
            limits: None,
        },
    }
}

fn with_violations(severities: &[Severity], stop: StopReason) -> RunReport {
    let mut report = sample();
    report.exploration.stop = stop;
    report.exploration.violations = severities
        .iter()
        .map(|&sev| {
            violation(
                "inv",
                sev,
                "broken",
                vec![step("a", "GET", "/", Some(200))],
                1,
            )
        })
        .collect();
    report
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_write_then_read_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let report = sample();
    write_json(&report, &path).unwrap();
    let back = read_json(&path).unwrap();
    assert_eq!(back, report);

    // Overwriting leaves no temporary files behind.
    write_json(&back, &path).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["results.json".to_string()]);
}

#[test]
fn read_json_on_malformed_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(
        &path,
        "{\n  \"tool_version\": \"0.1.0\",\n  \"target\": oops\n}\n",
    )
    .unwrap();
    let err = read_json(&path).unwrap_err();
    match &err {
        ReportError::Json {
            path: p,
            line,
            column,
            message,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*line, 3);
            assert!(*column > 0, "column {column}");
            assert!(!message.contains("at line"), "{message}");
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
    let text = err.to_string();
    let prefix = format!("{}:3:", path.display());
    assert!(text.starts_with(&prefix), "{text}");
}

#[test]
fn read_json_on_missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let err = read_json(&path).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.json"), "{err}");
}

// ---------------------------------------------------------------- JUnit

#[test]
fn junit_has_one_testcase_per_invariant_with_failures_for_violated_ones() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("junit.xml");
    let report = sample();
    write_junit(&report, &xml_path, Some(Path::new("results.json"))).unwrap();
    let xml = std::fs::read_to_string(&xml_path).unwrap();

    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 2, "{xml}");

    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    assert_eq!(parsed.test_suites.len(), 1);
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "venom");
    assert_eq!(suite.failures, 2);
    assert_eq!(suite.time, Some(std::time::Duration::from_millis(2500)));
    let names: Vec<&str> = suite.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "no_double_refund",
            "total_matches_items",
            "stock_never_negative"
        ]
    );
    for case in &suite.test_cases {
        assert_eq!(
            case.classname.as_ref().map(|c| c.as_str()),
            Some("demo (rollback sqlite)")
        );
    }

    // The violated invariant with two violations.
    match &suite.test_cases[0].status {
        TestCaseStatus::NonSuccess {
            kind,
            message,
            ty,
            description,
            ..
        } => {
            assert_eq!(*kind, NonSuccessKind::Failure);
            assert_eq!(message.as_ref().unwrap().as_str(), "order 7 refunded twice");
            assert_eq!(ty.as_ref().unwrap().as_str(), "critical");
            let text = description.as_ref().unwrap().as_str();
            for needle in [
                "violation 1: [CRITICAL] order 7 refunded twice",
                "violation 2: [CRITICAL] order 7 refunded after cancel",
                "create_order",
                "pay_order",
                "refund_order",
                "cancel_order",
                "POST http://127.0.0.1:8080/orders/7/refund -> 200",
                "DELETE http://127.0.0.1:8080/orders/7 -> no response",
                "venom replay results.json --violation 1",
                "venom replay results.json --violation 2",
            ] {
                assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
            }
            // Each path is listed in full, numbered.
            for line in format_path(&report.exploration.violations[0].path, "    ") {
                assert!(text.contains(&line), "missing {line:?} in:\n{text}");
            }
            // Violations of other invariants are not listed here.
            assert!(!text.contains("reserve_stock"), "{text}");
            assert!(!text.contains("--violation 3"), "{text}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }

    // The invariant that held.
    assert!(
        matches!(suite.test_cases[1].status, TestCaseStatus::Success { .. }),
        "{:?}",
        suite.test_cases[1].status
    );

    // The medium one: numbered 3 as in the report.
    match &suite.test_cases[2].status {
        TestCaseStatus::NonSuccess {
            message,
            description,
            ..
        } => {
            assert_eq!(message.as_ref().unwrap().as_str(), "stock of item 3 is -1");
            let text = description.as_ref().unwrap().as_str();
            assert!(text.contains("violation 3: [MEDIUM]"), "{text}");
            assert!(text.contains("1. reserve_stock"), "{text}");
            assert!(text.contains("--violation 3"), "{text}");
            assert!(!text.contains("refund_order"), "{text}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn junit_without_json_path_has_no_replay_hint_and_all_success_when_clean() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("junit.xml");

    write_junit(&sample(), &xml_path, None).unwrap();
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(!xml.contains("venom replay"), "{xml}");
    assert!(xml.contains("refund_order"), "{xml}");

    let mut clean = sample();
    clean.exploration.violations.clear();
    write_junit(&clean, &xml_path, None).unwrap();
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.test_cases.len(), 3);
    assert_eq!(suite.failures, 0);
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn junit_marks_a_run_that_did_not_finish_as_errored_and_keeps_its_findings() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("junit.xml");
    for stop in [
        StopReason::Interrupted,
        StopReason::Aborted("API unreachable".into()),
    ] {
        let mut report = sample();
        let violations = report.exploration.violations.len();
        report.exploration.stop = stop.clone();
        write_junit(&report, &xml_path, None).unwrap();
        let xml = std::fs::read_to_string(&xml_path).unwrap();
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let suite = &parsed.test_suites[0];
        assert_eq!(suite.errors, 1, "{stop}: {xml}");
        assert!(xml.contains("the run did not finish"), "{xml}");
        assert!(suite.failures >= 1 && violations >= 1, "{xml}");
    }
    // A run that finished has no such case.
    write_junit(&sample(), &xml_path, None).unwrap();
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    assert!(!xml.contains("did not finish"), "{xml}");
}

#[test]
fn junit_write_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("no-such-dir").join("junit.xml");
    let err = write_junit(&sample(), &xml_path, None).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with(&xml_path.display().to_string()), "{text}");
    assert_eq!(text.matches("junit.xml").count(), 1, "{text}");
}

// ---------------------------------------------------------------- exit codes

#[test]
fn exit_code_for_each_outcome() {
    use Severity::*;
    // A violation at or above --fail-on fails the run, whatever the stop reason.
    assert_eq!(
        exit_code(&with_violations(&[Critical], StopReason::Exhausted), High),
        EXIT_VIOLATIONS
    );
    assert_eq!(
        exit_code(&with_violations(&[Low, High], StopReason::MaxSteps), High),
        EXIT_VIOLATIONS
    );
    // A run that did not finish says so first; its report still holds the violations.
    assert_eq!(
        exit_code(&with_violations(&[High], StopReason::Interrupted), High),
        EXIT_INTERRUPTED
    );
    assert_eq!(
        exit_code(
            &with_violations(&[Critical], StopReason::Aborted("database gone".into())),
            High
        ),
        EXIT_SETUP
    );
    // Below --fail-on: ok, unless the run was cut short.
    assert_eq!(
        exit_code(
            &with_violations(&[Medium, Low], StopReason::Exhausted),
            High
        ),
        EXIT_OK
    );
    assert_eq!(
        exit_code(&with_violations(&[Medium], StopReason::Exhausted), Medium),
        EXIT_VIOLATIONS
    );
    assert_eq!(
        exit_code(&with_violations(&[Low], StopReason::Interrupted), High),
        EXIT_INTERRUPTED
    );
    assert_eq!(
        exit_code(
            &with_violations(&[], StopReason::Aborted("database gone".into())),
            High
        ),
        EXIT_SETUP
    );
    assert_eq!(
        exit_code(&with_violations(&[], StopReason::TimeLimit), Low),
        EXIT_OK
    );
    assert_eq!(EXIT_INTERRUPTED, 130);
    assert_eq!(exit_code(&sample(), Critical), EXIT_VIOLATIONS);
}

// ---------------------------------------------------------------- console

#[test]
fn console_summary_shows_figures_violations_paths_and_verdict() {
    let report = sample();
    let out = render_console(&report, Severity::High, Some(Path::new("out/results.json")));
    let lines: Vec<&str> = out.lines().collect();

    assert_eq!(
        lines[0],
        "venom 0.1.0 | target demo (rollback sqlite) | strategy bfs | rollback sqlite snapshots"
    );
    for needle in [
        "stopped: state space exhausted",
        "steps 250 | states 42 | transitions 97 | max depth 6",
        "coverage 80% (4/5 actions run)",
        "duration 2.50s | 100.0 steps/s",
        "possible loop: pay_order repeats without changing state",
        "1. [CRITICAL] no_double_refund — order 7 refunded twice",
        "2. [CRITICAL] no_double_refund — order 7 refunded after cancel",
        "3. [MEDIUM] stock_never_negative — stock of item 3 is -1",
        "broken by: refund_order",
        "occurrences: 3",
        "evidence: GET http://127.0.0.1:8080/orders/7 -> 200",
        "shortest path (4 steps):",
        "shortest path (1 step):",
        "replay: venom replay out/results.json --violation 1",
        "replay: venom replay out/results.json --violation 3",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }

    // Per-action counts, never-run actions flagged.
    assert!(
        lines.iter().any(|l| l.contains("archive_order")
            && l.ends_with("never run: requires action `cancel_order`, which never ran")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("create_order") && l.trim_end().ends_with("120")),
        "{out}"
    );
    assert_eq!(out.matches("never run").count(), 1, "{out}");

    // Every path line of every violation, in order, as format_path renders it.
    let mut cursor = 0;
    for (i, violation) in report.exploration.violations.iter().enumerate() {
        let header = format!("{}. [", i + 1);
        cursor += lines[cursor..]
            .iter()
            .position(|l| l.starts_with(&header))
            .unwrap_or_else(|| panic!("missing violation {} in:\n{out}", i + 1));
        let path_lines = format_path(&violation.path, "     ");
        let start = cursor
            + lines[cursor..]
                .iter()
                .position(|l| *l == path_lines[0])
                .unwrap_or_else(|| panic!("missing {:?} in:\n{out}", path_lines[0]));
        for (i, expected) in path_lines.iter().enumerate() {
            assert_eq!(lines[start + i], expected.as_str(), "in:\n{out}");
        }
    }
    assert!(
        out.contains("     4. refund_order   POST http://127.0.0.1:8080/orders/7/refund -> 200")
    );

    // The verdict is the last line.
    assert_eq!(*lines.last().unwrap(), "3 violations (2 at or above high)");
    assert!(out.ends_with('\n'));

    // Deterministic.
    assert_eq!(
        out,
        render_console(&report, Severity::High, Some(Path::new("out/results.json")))
    );
}

#[test]
fn console_verdict_follows_fail_on_and_replay_needs_a_json_path() {
    let report = sample();
    let out = render_console(&report, Severity::Low, None);
    assert_eq!(
        out.lines().last().unwrap(),
        "3 violations (3 at or above low)"
    );
    assert!(!out.contains("venom replay"), "{out}");
    assert!(!out.contains("replay:"), "{out}");

    let out = render_console(&report, Severity::Critical, None);
    assert_eq!(
        out.lines().last().unwrap(),
        "3 violations (2 at or above critical)"
    );

    let one = with_violations(&[Severity::Low], StopReason::Exhausted);
    let out = render_console(&one, Severity::High, None);
    assert_eq!(
        out.lines().last().unwrap(),
        "1 violation (0 at or above high)"
    );
}

#[test]
fn console_without_violations_says_so() {
    let mut report = sample();
    report.exploration.violations.clear();
    report.exploration.warnings.clear();
    let out = render_console(&report, Severity::High, Some(Path::new("results.json")));
    assert_eq!(out.lines().last().unwrap(), "no violations");
    assert!(!out.contains("[CRITICAL]"), "{out}");
    assert!(!out.contains("warnings"), "{out}");
    assert!(!out.contains("venom replay"), "{out}");

    report.exploration.stop = StopReason::Aborted("API unreachable".into());
    let out = render_console(&report, Severity::High, None);
    assert!(out.contains("stopped: aborted: API unreachable"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("no violations"), "{last}");
    assert!(last.contains("incomplete"), "{last}");
}

#[test]
fn console_reports_violations_broken_in_the_initial_state() {
    let mut report = sample();
    report.exploration.violations = vec![violation(
        "seed_data_valid",
        Severity::High,
        "2 orders\nwithout items",
        vec![],
        1,
    )];
    let out = render_console(&report, Severity::High, None);
    assert!(
        out.contains("1. [HIGH] seed_data_valid — 2 orders\n   without items\n"),
        "{out}"
    );
    assert!(out.contains("broken in the initial state\n"), "{out}");
    assert!(
        out.contains("(broken in the initial state, no actions)"),
        "{out}"
    );
    assert_eq!(
        out.lines().last().unwrap(),
        "1 violation (1 at or above high)"
    );
}

#[test]
fn replay_hint_is_one_based_and_names_the_report() {
    assert_eq!(
        replay_hint(Path::new("results.json"), 1),
        "venom replay results.json --violation 1"
    );
}

#[test]
fn a_path_not_proved_minimal_is_labelled_shortest_found() {
    let mut report = sample();
    report.exploration.violations[0].proved_shortest = false;
    let out = render_console(&report, Severity::High, None);
    assert!(
        out.contains("shortest found (4 steps; not proved minimal):"),
        "{out}"
    );
    assert!(out.contains("shortest path (1 step):"), "{out}");
    report.exploration.violations[0].one_minimal = true;
    report.exploration.violations[0].shrunk_from = Some(6);
    let out = render_console(&report, Severity::High, None);
    assert!(
        out.contains("shortest found (4 steps, 1-minimal, shrunk by replay from 6):"),
        "{out}"
    );
}

#[test]
fn a_step_of_several_requests_shows_each_and_a_violation_before_an_action_says_so() {
    let mut report = with_violations(&[Severity::High], StopReason::Exhausted);
    let mut first = step("write_note", "GET", "/notes/1", Some(200));
    first.earlier = vec![exchange("POST", "/notes", Some(201))];
    let path = vec![first, step("edit_note", "PUT", "/notes/1", Some(200))];
    let mut before = violation("signed_in", Severity::High, "before `x`: broken", path, 1);
    before.action = None;
    report.exploration.violations = vec![before];
    let out = render_console(&report, Severity::High, None);
    let lines: Vec<&str> = out.lines().collect();
    let post = lines
        .iter()
        .position(|l| {
            l.contains("1. write_note") && l.contains("POST http://127.0.0.1:8080/notes -> 201")
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[post + 1]
            .trim_start()
            .starts_with("GET http://127.0.0.1:8080/notes/1 -> 200"),
        "the later request under the first:\n{out}"
    );
    assert!(
        out.contains("broken in the state its path reaches, before an action"),
        "{out}"
    );
    assert!(!out.contains("broken in the initial state"), "{out}");
}

#[test]
fn console_and_json_show_each_workers_figures() {
    let mut report = sample();
    let out = render_console(&report, Severity::High, None);
    assert!(!out.contains("worker"), "one worker shows none: {out}");
    report.exploration.workers = vec![
        WorkerFigures {
            worker: 0,
            steps: 130,
            replayed: 12,
            borrowed: 7,
            busy_secs: 2.25,
        },
        WorkerFigures {
            worker: 1,
            steps: 120,
            replayed: 30,
            borrowed: 0,
            busy_secs: 2.0,
        },
    ];
    let out = render_console(&report, Severity::High, None);
    assert!(out.contains("workers 2:"), "{out}");
    assert!(
        out.contains("  worker 0: steps 130 | replayed 12 | borrowed 7 | busy 90%"),
        "{out}"
    );
    assert!(
        out.contains("  worker 1: steps 120 | replayed 30 | borrowed 0 | busy 80%"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    write_json(&report, &path).unwrap();
    assert_eq!(
        read_json(&path).unwrap().exploration.workers,
        report.exploration.workers
    );
}

/// Compares `text` with the committed file `tests/golden/NAME`; with `VENOM_BLESS=1` writes
/// the file instead (to review the change in the diff).
fn assert_golden(name: &str, text: &str) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("VENOM_BLESS").is_some() {
        std::fs::write(&golden, text).expect("write the golden file");
    }
    let expected = std::fs::read_to_string(&golden).expect("the golden file");
    assert_eq!(
        text,
        expected,
        "run with VENOM_BLESS=1 to update {}",
        golden.display()
    );
}

/// The Markdown summary of the sample report, as committed in `tests/golden/summary.md`.
#[test]
fn markdown_summary_matches_its_golden_file() {
    let json = Path::new("out/report.json");
    assert_golden(
        "summary.md",
        &render_markdown(&sample(), Severity::High, Some(json)),
    );
}

/// Text from the run cannot break the summary's table nor add markup, and a summary without a
/// JSON report names no replay command.
#[test]
fn markdown_escapes_what_the_run_says_and_needs_a_json_path_for_replay() {
    let mut report = sample();
    report.exploration.violations[0].message = "a | b\n<img src=x> **bold**".into();
    let text = render_markdown(&report, Severity::High, None);
    let row = text
        .lines()
        .find(|l| l.starts_with("| 1 |"))
        .expect("the first violation's row");
    assert!(
        row.contains("a \\| b &lt;img src=x&gt; \\*\\*bold\\*\\*"),
        "{row}"
    );
    assert_eq!(row.matches(" | ").count(), 5, "six cells: {row}");
    assert!(!text.contains("venom replay"), "{text}");
}

/// The sample's graph: the first violation's path (create, pay, refund, refund) and the second's
/// (create, cancel, refund), 6 states, plus a state left out of the view.
fn with_graph() -> RunReport {
    let mut report = sample();
    let state = |depth, label: &str| StateView {
        depth,
        label: label.to_string(),
    };
    let edge = |from, action: &str, to| EdgeView {
        from,
        action: action.to_string(),
        to,
    };
    report.exploration.graph = Some(GraphView {
        states: vec![
            state(0, ""),
            state(1, "order_id=7 status=\"created\""),
            state(2, "order_id=7 status=paid"),
            state(3, "order_id=7 status=refunded"),
            state(4, "order_id=7 status=refunded twice"),
            state(2, "order_id=7 status=cancelled"),
        ],
        edges: vec![
            edge(0, "create_order", 1),
            edge(1, "pay_order", 2),
            edge(2, "refund_order", 3),
            edge(3, "refund_order", 4),
            edge(1, "cancel_order", 5),
            edge(5, "refund_order", 5),
            edge(4, "pay_order", 4),
        ],
        omitted_states: 1,
    });
    report
}

/// The DOT picture of the sample graph, as committed in `tests/golden/graph.dot`.
#[test]
fn dot_graph_matches_its_golden_file() {
    assert_golden("graph.dot", &render_dot(&with_graph()).expect("a graph"));
}

/// The violations' paths are red, edge by edge, and end on red states naming them; the
/// other transitions are not; a report without a graph has no picture.
#[test]
fn dot_marks_the_violation_paths_and_needs_a_graph() {
    let text = render_dot(&with_graph()).expect("a graph");
    let red = |line: &str| line.contains("color=red");
    let edge_line = |from: u32, to: u32, action: &str| -> String {
        let prefix = format!("  s{from} -> s{to} [label=\"{action}\"");
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{prefix}:\n{text}"))
            .to_string()
    };
    for (from, to, action) in [
        (0, 1, "create_order"),
        (1, 2, "pay_order"),
        (2, 3, "refund_order"),
        (3, 4, "refund_order"),
        (1, 5, "cancel_order"),
        (5, 5, "refund_order"),
    ] {
        assert!(red(&edge_line(from, to, action)), "{from} -> {to}:\n{text}");
    }
    assert!(!red(&edge_line(4, 4, "pay_order")), "{text}");
    assert!(text.contains("violations: 1\", color=red"), "{text}");
    assert!(text.contains("violations: 2\", color=red"), "{text}");
    assert!(
        text.contains("status=\\\"created\\\""),
        "quotes escaped:\n{text}"
    );
    assert!(text.contains("1 more states not drawn"), "{text}");

    let dir = tempfile::tempdir().expect("tempdir");
    let err = write_dot(&sample(), &dir.path().join("g.dot")).expect_err("no graph");
    assert!(matches!(err, ReportError::NoGraph { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("g.dot: the report holds no state graph"),
        "{err}"
    );
}

/// A report written before the format was versioned (no `format`, no `graph`) still reads, as
/// version 1; this venom writes version 2.
#[test]
fn reports_of_the_first_format_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.json");
    write_json(&with_graph(), &path).expect("write");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(value["format"], 2);
    assert!(value["exploration"]["graph"]["states"].is_array());
    let object = value.as_object_mut().unwrap();
    object.remove("format");
    value["exploration"]
        .as_object_mut()
        .unwrap()
        .remove("graph");
    std::fs::write(&path, value.to_string()).unwrap();
    let old = read_json(&path).expect("an old report reads");
    assert_eq!(old.format, 1);
    assert_eq!(old.exploration.graph, None);
}

/// What the run said is escaped in the page: a message cannot add markup or script.
#[test]
fn html_escapes_what_the_run_says() {
    let mut report = with_graph();
    report.exploration.violations[0].message = "<script>alert(1)</script> & \"quotes\"".into();
    let page = render_html(&report, Severity::High, Some(Path::new("out/r.json")));
    assert!(!page.contains("<script>alert"), "escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert_eq!(
        page.matches("<script>").count(),
        1,
        "venom's own script only"
    );
    assert!(page.contains("venom replay out/r.json --violation 3"));
}

/// A run of 10,000 states makes a page that draws the initial state and the violations' paths,
/// sums the rest up by depth, stays under 512 KiB and opens in a real browser.
#[test]
fn a_ten_thousand_state_graph_makes_a_small_page_that_opens() {
    let mut report = with_graph();
    let graph = report.exploration.graph.as_mut().expect("a graph");
    for id in 6..10_000u32 {
        graph.states.push(StateView {
            depth: 5 + id / 100,
            label: format!("order_id={id} status=created"),
        });
        graph.edges.push(EdgeView {
            from: id - 1,
            action: "next".into(),
            to: id,
        });
    }
    let page = render_html(&report, Severity::High, None);
    assert!(page.len() < 512 * 1024, "{} bytes", page.len());
    assert_eq!(
        page.matches("<g class=\"state").count(),
        6,
        "the paths' states"
    );
    assert!(page.contains("10001 states found; 6 drawn"), "the summary");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.html");
    std::fs::write(&path, &page).expect("write the page");
    let rendered = venom_testkit::browser::render(&path, 1200, 900);
    assert!(rendered.console.is_empty(), "{:?}", rendered.console);
    assert!(rendered.inked() > 0.02, "blank? {:.3}", rendered.inked());
    assert!(
        rendered.dom.contains("id=\"v1\""),
        "the violations are in the DOM"
    );
}
