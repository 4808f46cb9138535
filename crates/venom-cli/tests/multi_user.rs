//! End-to-end tests of what a multi-user API needs, run as a subprocess against the demo API:
//! the notes scenario (`[context]`, `[roles]`, a multi-request action, named checks,
//! `[[observe]]`, SQL on SQLite) finds the cross-user bug with its minimal path and shows no
//! credential; `--base-url`, `--no-server`, `--fail-fast`, and `venom replay` finding the
//! scenario relative to its report or from `--scenario`.

mod common;

use common::{read_report, tempdir, violations, write, Run, Running, EXIT_SETUP, EXIT_VIOLATIONS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use venom_demo::{DemoServer, DEMO_SCENARIO, NOTES_SCENARIO};

/// A run that takes longer than this is hung; it is killed and the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The users' password, given through the environment: it must appear in no output.
const PASSWORD: &str = "s3cret-notes-pass-42";

/// Runs `venom ARGS` with the notes password in the environment.
fn venom<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Running::spawn(args, &[("NOTES_PASSWORD", PASSWORD)]).finish(RUN_TIMEOUT)
}

/// (invariant, path) of every violation of `report`.
fn found(report: &Value) -> Vec<(String, Vec<String>)> {
    violations(report)
        .iter()
        .map(|v| {
            let path = v["path"].as_array().unwrap();
            let names = path
                .iter()
                .map(|s| s["action"].as_str().unwrap().to_string());
            (
                v["invariant"].as_str().unwrap().to_string(),
                names.collect(),
            )
        })
        .collect()
}

/// The cross-user bug of the demo, as the notes scenario reports it.
fn cross_user_bug() -> Vec<(String, Vec<String>)> {
    vec![(
        "notes_stay_private".to_string(),
        vec![
            "alice_writes_note".to_string(),
            "bob_edits_note".to_string(),
        ],
    )]
}

/// Fails when `text` (named `what`) holds a session token or the password.
fn assert_no_credential(what: &str, text: &str) {
    assert!(
        !text.contains("tok_"),
        "{what} shows a session token:\n{text}"
    );
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password:\n{text}"
    );
}

#[test]
fn the_notes_demo_finds_the_cross_user_bug_with_its_minimal_path_and_shows_no_credential() {
    for rollback in ["sqlite", "reset"] {
        let dir = tempdir();
        let json = dir.path().join("report.json");
        let junit = dir.path().join("junit.xml");
        let run = venom([
            "demo",
            "--scenario",
            "notes",
            "--rollback",
            rollback,
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ]);
        run.expect_code(EXIT_VIOLATIONS);
        let report = read_report(&json);
        assert_eq!(found(&report), cross_user_bug(), "rollback {rollback}");
        assert_eq!(report["exploration"]["stop"]["reason"], "exhausted");
        let violation = &violations(&report)[0];
        assert_eq!(violation["severity"], "critical");
        assert_eq!(violation["proved_shortest"], true);
        assert_eq!(
            violation["message"],
            "alice's note 1 now reads `bob was here`"
        );
        // The two requests of the multi-request action are kept in its one step.
        let first = &violation["path"][0];
        assert_eq!(first["earlier"][0]["request"]["method"], "POST");
        assert_eq!(first["earlier"][0]["response"]["status"], 201);
        assert_eq!(first["exchange"]["request"]["method"], "GET");
        // Bob's request carried his credential, redacted.
        let bobs = &violation["path"][1]["exchange"]["request"]["headers"];
        let authorization = bobs
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "authorization")
            .expect("bob's request is authenticated");
        assert_eq!(authorization[1], "<redacted>");
        // The state is told apart by what each user's list shows (no SQL).
        let observation = &violation["state"]["observation"];
        assert_eq!(
            observation["http:alice_notes"]["kept"],
            serde_json::json!(["bob was here"])
        );
        assert_eq!(observation["http:bob_notes"]["kept"], serde_json::json!([]));
        // The other rules hold: SQL on SQLite, the check before every action.
        let coverage = report["exploration"]["actions"].as_array().unwrap();
        assert!(coverage.iter().all(|a| a["runs"].as_u64() > Some(0)));
        assert_no_credential("stdout", &run.stdout);
        assert_no_credential("stderr", &run.stderr);
        assert_no_credential("the JSON report", &std::fs::read_to_string(&json).unwrap());
        assert_no_credential(
            "the JUnit report",
            &std::fs::read_to_string(&junit).unwrap(),
        );

        // The replay logs the users in again and reproduces it.
        let replay = venom(["replay", json.to_str().unwrap()]);
        replay.expect_code(EXIT_VIOLATIONS);
        assert!(
            replay.stdout.contains("reproduced: alice's note 1"),
            "{}",
            replay.stdout
        );
        assert_no_credential("the replay", &replay.stdout);
    }
}

#[test]
fn fail_fast_stops_at_the_first_violation_at_or_above_its_severity_and_writes_the_report() {
    let dir = tempdir();
    let full = dir.path().join("full.json");
    venom(["demo", "--json", full.to_str().unwrap()]).expect_code(EXIT_VIOLATIONS);
    let fast = dir.path().join("fast.json");
    let run = venom([
        "demo",
        "--fail-fast",
        "critical",
        "--json",
        fast.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    assert!(
        run.stdout.contains("stopped: fail fast: `"),
        "{}",
        run.stdout
    );
    let (full, fast) = (read_report(&full), read_report(&fast));
    assert_eq!(fast["exploration"]["stop"]["reason"], "fail_fast");
    assert!(
        fast["exploration"]["steps"].as_u64() < full["exploration"]["steps"].as_u64(),
        "stopped early"
    );
    let first = &violations(&fast)[0];
    assert_eq!(first["severity"], "critical");
    assert_eq!(fast["exploration"]["stop"]["detail"], first["invariant"]);
}

/// The notes scenario in `dir` (where its `sqlite_path = "notes.db"` points) and the demo API
/// serving that file.
fn notes_in(dir: &TempDir) -> (PathBuf, DemoServer) {
    let server = DemoServer::start(&dir.path().join("notes.db")).expect("demo server");
    (write(dir, "notes.toml", NOTES_SCENARIO), server)
}

#[test]
fn base_url_and_no_server_point_a_scenario_at_an_api_already_running() {
    let dir = tempdir();
    let (scenario, server) = notes_in(&dir);
    let check = venom(["check", scenario.to_str().unwrap()]);
    check.expect_code(common::EXIT_OK);
    assert!(
        check.stdout.contains("4 actions, 5 invariants (+ built-in no_server_errors, expected_status), roles alice, bob, 2 HTTP observations"),
        "{}",
        check.stdout
    );
    // A [server] that cannot start: only --no-server lets the run reach the running API.
    let text = std::fs::read_to_string(&scenario).unwrap();
    let with_server = write(
        &dir,
        "with-server.toml",
        &format!("{text}\n[server]\ncommand = \"exit 7\"\n"),
    );
    let url = server.base_url();
    let refused = venom(["explore", with_server.to_str().unwrap(), "--base-url", &url]);
    refused.expect_code(EXIT_SETUP);
    let json = dir.path().join("out").join("report.json");
    std::fs::create_dir_all(json.parent().unwrap()).unwrap();
    let run = venom([
        "explore",
        with_server.to_str().unwrap(),
        "--no-server",
        "--base-url",
        &url,
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    assert_eq!(found(&report), cross_user_bug());
    // The report names its scenario relative to itself…
    assert_eq!(
        report["target"]["path"],
        Path::new("..").join("with-server.toml").to_str().unwrap()
    );
    // …so replay finds it from any folder; --base-url and --no-server work there too.
    let replay = venom([
        "replay",
        json.to_str().unwrap(),
        "--no-server",
        "--base-url",
        &url,
    ]);
    replay.expect_code(EXIT_VIOLATIONS);
    assert!(replay.stdout.contains("reproduced"), "{}", replay.stdout);
    // --scenario replays with another file (here the one without a [server]).
    let replay = venom([
        "replay",
        json.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--base-url",
        &url,
    ]);
    replay.expect_code(EXIT_VIOLATIONS);
    assert!(replay.stdout.contains("reproduced"), "{}", replay.stdout);
    let invalid = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--base-url",
        "ftp://x",
    ]);
    invalid.expect_code(common::EXIT_INVALID_INPUT);
    assert!(
        invalid.stderr.contains("--base-url ftp://x"),
        "{}",
        invalid.stderr
    );
}

#[test]
fn sql_invariants_and_observed_queries_run_on_the_apis_sqlite_file() {
    let dir = tempdir();
    let server = DemoServer::start(&dir.path().join("demo.db")).expect("demo server");
    let rules = r#"
[[invariants]]
name = "no_refund_yet"
severity = "low"
sql = "SELECT COUNT(*) = 0 FROM refunds"

[[invariants]]
name = "never_refunded_past_the_amount"
offending_rows = "SELECT id, refunded, amount FROM orders WHERE refunded > amount"
message = "order {{ rows[0][0] }} refunded past its amount"
"#;
    let text = DEMO_SCENARIO.replace(
        "observe_tables = [\"orders\", \"refunds\", \"idempotency\"]",
        "observe_tables = [\"orders\", \"refunds\", \"idempotency\"]\nobserve_queries = { refunded = \"SELECT COALESCE(SUM(refunded), 0) FROM orders\" }",
    );
    assert!(
        text.contains("observe_queries"),
        "the demo scenario observes its tables"
    );
    let scenario = write(&dir, "demo.toml", &format!("{text}{rules}"));
    let json = dir.path().join("report.json");
    let run = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--base-url",
        &server.base_url(),
        "--fail-on",
        "critical",
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let by_name = |name: &str| {
        violations(&report)
            .iter()
            .find(|v| v["invariant"] == name)
            .unwrap_or_else(|| panic!("no violation of {name}: {}", run.stdout))
            .clone()
    };
    let none_yet = by_name("no_refund_yet");
    let names: Vec<&str> = none_yet["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"refund_partial"), "{names:?}");
    assert_eq!(names.len(), 3, "create, pay, refund: {names:?}");
    let over = by_name("never_refunded_past_the_amount");
    assert_eq!(over["path"].as_array().unwrap().len(), 4);
    assert_eq!(
        over["message"],
        "order 1 refunded past its amount (`SELECT id, refunded, amount FROM orders WHERE refunded > amount` found 1 offending row: (1, 120, 100))"
    );
    assert_eq!(
        over["state"]["observation"]["query:refunded"],
        serde_json::json!([["120"]])
    );
}

#[test]
fn replay_can_save_the_violating_state_and_leave_the_api_in_it() {
    let dir = tempdir();
    let json = dir.path().join("report.json");
    venom([
        "demo",
        "--scenario",
        "notes",
        "--json",
        json.to_str().unwrap(),
    ])
    .expect_code(EXIT_VIOLATIONS);

    // --save-state writes the database as it is after the path.
    let saved = dir.path().join("state");
    let replay = venom([
        "replay",
        json.to_str().unwrap(),
        "--violation",
        "1",
        "--save-state",
        saved.to_str().unwrap(),
    ]);
    replay.expect_code(EXIT_VIOLATIONS);
    assert!(replay.stdout.contains("state saved: "), "{}", replay.stdout);
    let copy = rusqlite::Connection::open(saved.join("demo.db")).unwrap();
    let text: String = copy
        .query_row("SELECT text FROM notes WHERE id = 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(text, "bob was here", "the note as the violation left it");
    assert_no_credential("the replay", &replay.stdout);

    // --stay keeps the API in that state until Ctrl-C.
    let staying = Running::spawn(
        [
            "replay",
            json.to_str().unwrap(),
            "--violation",
            "1",
            "--stay",
        ],
        &[("NOTES_PASSWORD", PASSWORD)],
    );
    let line = staying.wait_for_stderr("naming the API", RUN_TIMEOUT, |l| {
        l.starts_with("venom replay: the API at http://127.0.0.1:")
    });
    let address = line
        .split_whitespace()
        .nth(5)
        .and_then(|url| url.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no URL in `{line}`"))
        .to_string();
    // Alice, signed in, reads what the violation left: bob's text in her note.
    let login = format!("{{\"name\": \"alice\", \"password\": \"{PASSWORD}\"}}");
    let (status, body) = http(&address, "POST", "/login", Some(&login), None);
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let token = token["token"].as_str().unwrap();
    let (status, note) = http(&address, "GET", "/notes/1", None, Some(token));
    assert_eq!(status, 200, "{note}");
    assert!(note.contains("bob was here"), "{note}");
    staying.interrupt();
    let run = staying.finish(RUN_TIMEOUT);
    run.expect_code(EXIT_VIOLATIONS);
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "the demo API stopped with venom"
    );
    // The orders demo has five violations: which state to keep must be said.
    let orders = dir.path().join("orders.json");
    venom(["demo", "--json", orders.to_str().unwrap()]).expect_code(EXIT_VIOLATIONS);
    let several = venom(["replay", orders.to_str().unwrap(), "--stay"]);
    several.expect_code(common::EXIT_INVALID_INPUT);
    let expected = "expected --violation N (the report has 5)";
    assert!(several.stderr.contains(expected), "{}", several.stderr);
}

/// A one-off HTTP/1.1 exchange with `address`: the status and the body.
fn http(
    address: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n{auth}\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn load_refuses_a_flow_with_an_action_sent_as_a_role_or_made_of_several_requests() {
    let dir = tempdir();
    let (scenario, _server) = notes_in(&dir);
    for action in ["bob_edits_note", "alice_writes_note"] {
        let run = venom(["load", scenario.to_str().unwrap(), "--flow", action]);
        run.expect_code(common::EXIT_INVALID_INPUT);
        let expected = format!("action `{action}` sends several requests or sends one `as` a role");
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
    }
}

#[test]
fn load_runs_against_the_base_url_given_on_the_command_line() {
    let dir = tempdir();
    let server = DemoServer::start(&dir.path().join("demo.db")).expect("demo server");
    let scenario = write(&dir, "demo.toml", DEMO_SCENARIO);
    let json = dir.path().join("load.json");
    let run = venom([
        "load",
        scenario.to_str().unwrap(),
        "--base-url",
        &server.base_url(),
        "--flow",
        "create_order",
        "--iterations",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(common::EXIT_OK);
    assert!(run.stderr.contains(&server.base_url()), "{}", run.stderr);
    let summary = read_report(&json);
    assert_eq!(
        summary["overall"]["statuses"]["201"].as_u64(),
        Some(3),
        "{summary}"
    );
}

#[test]
fn load_iterations_start_from_the_scenarios_context() {
    let dir = tempdir();
    let server = DemoServer::start(&dir.path().join("demo.db")).expect("demo server");
    let text = format!(
        "base_url = \"{}\"\n[context]\namount = 42\n\
         [[actions]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/orders\"\n\
         body = {{ amount = \"{{{{ ctx.amount }}}}\" }}\nexpect = [201]\n",
        server.base_url()
    );
    let scenario = write(&dir, "context.toml", &text);
    let json = dir.path().join("load.json");
    let run = venom([
        "load",
        scenario.to_str().unwrap(),
        "--flow",
        "create",
        "--iterations",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(common::EXIT_OK);
    let summary = read_report(&json);
    assert_eq!(
        summary["overall"]["statuses"]["201"].as_u64(),
        Some(2),
        "{summary}"
    );
}

#[test]
fn an_invariant_compares_the_api_with_its_database_in_one_rule() {
    let dir = tempdir();
    let (_, server) = notes_in(&dir);
    // The same rule, with a query that reads something else than the API answers.
    let wrong = NOTES_SCENARIO.replace(
        "SELECT text FROM notes WHERE id = {{ note.body.id }}",
        "SELECT text || '!' FROM notes WHERE id = {{ note.body.id }}",
    );
    assert_ne!(wrong, NOTES_SCENARIO);
    let scenario = write(&dir, "wrong.toml", &wrong);
    let json = dir.path().join("report.json");
    let run = venom([
        "explore",
        scenario.to_str().unwrap(),
        "--base-url",
        &server.base_url(),
        "--json",
        json.to_str().unwrap(),
    ]);
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let broken: Vec<(String, Vec<String>)> = found(&report)
        .into_iter()
        .filter(|(name, _)| name == "api_agrees_with_the_database")
        .collect();
    assert_eq!(
        broken,
        [(
            "api_agrees_with_the_database".to_string(),
            vec!["alice_writes_note".to_string()]
        )],
        "{}",
        run.stdout
    );
}
