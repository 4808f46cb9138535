//! No secret in any output: tokens extracted into the context, passwords in bodies, keys in
//! query strings and header values read from the environment are redacted in the console, the
//! JSON and JUnit reports and replay's output, and replay still reproduces the violation.

mod common;

use common::*;
use std::time::Duration;
use venom_testkit::{RawServer, Reply};

/// Every secret of the run contains this marker; no output may.
const MARK: &str = "SECRET";

/// An answer with status `status` and JSON `body`.
fn answer(status: u16, body: &str) -> Reply {
    Reply::Send(
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[test]
fn secrets_never_reach_the_console_the_reports_or_replay() {
    let server = RawServer::start(|_, path| match path {
        "/login" => answer(200, r#"{"token": "tok-SECRET-1111"}"#),
        p if p.starts_with("/orders") => answer(500, r#"{"error": "boom"}"#),
        _ => answer(200, "{}"),
    });
    let dir = tempdir();
    let text = format!(
        "base_url = {url}\n\
         [reset]\ncommand = \"true\"\n\
         [redact]\nfields = [\"pin\"]\n\
         [[actions]]\nname = \"login\"\nmethod = \"POST\"\npath = \"/login\"\n\
         body = {{ user = \"bob\", password = \"pw-SECRET-2222\", pin = \"pin-SECRET-5555\" }}\n\
         extract = {{ token = \"$.token\" }}\nmax_calls = 1\n\
         [[actions]]\nname = \"orders\"\nmethod = \"GET\"\n\
         path = \"/orders?api_key={{{{ env.TEST_QUERY_KEY }}}}&page=1\"\n\
         headers = {{ Authorization = \"Bearer {{{{ ctx.token }}}}\", X-Tenant = \"{{{{ env.TEST_TENANT }}}}\" }}\n\
         requires = {{ keys = [\"token\"] }}\nmax_calls = 1\n\
         [[invariants]]\nname = \"not_logged_in\"\nexpr = \"!has(ctx.token)\"\n\
         message = \"logged in with {{{{ ctx.token }}}}\"\n",
        url = toml_string(&server.url)
    );
    let scenario = write(&dir, "secrets.toml", &text);
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let markdown = dir.path().join("summary.md");
    let dot = dir.path().join("graph.dot");
    let html = dir.path().join("report.html");
    let env = [
        ("TEST_QUERY_KEY", "qkey-SECRET-4444"),
        ("TEST_TENANT", "tenant-SECRET-3333"),
    ];
    let run = Running::spawn(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--markdown",
            markdown.to_str().unwrap(),
            "--dot",
            dot.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &env,
    )
    .finish(Duration::from_secs(60));
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let found = violations(&report);
    assert!(
        found.iter().any(|v| v["invariant"] == "no_server_errors"),
        "the 500 of `orders` is found: {found:?}"
    );
    assert!(
        found.iter().any(|v| v["invariant"] == "not_logged_in"),
        "{found:?}"
    );
    // The redacted report still shows that the headers and fields were there.
    let written = std::fs::read_to_string(&json).expect("report");
    assert!(written.contains("<redacted>"), "{written}");
    assert!(
        written.contains("page=1"),
        "non-secret parameters stay: {written}"
    );

    let replay =
        Running::spawn(["replay", json.to_str().unwrap()], &env).finish(Duration::from_secs(60));
    replay.expect_code(EXIT_VIOLATIONS);
    assert!(
        replay
            .stdout
            .contains("reproduced: logged in with <redacted>"),
        "{}",
        replay.stdout
    );

    let outputs = [
        ("explore stdout", run.stdout.clone()),
        ("explore stderr", run.stderr.clone()),
        ("JSON report", written),
        (
            "JUnit report",
            std::fs::read_to_string(&junit).expect("junit"),
        ),
        (
            "Markdown summary",
            std::fs::read_to_string(&markdown).expect("markdown"),
        ),
        ("DOT graph", std::fs::read_to_string(&dot).expect("dot")),
        ("HTML report", std::fs::read_to_string(&html).expect("html")),
        ("replay stdout", replay.stdout.clone()),
        ("replay stderr", replay.stderr.clone()),
    ];
    for (name, text) in outputs {
        assert!(!text.contains(MARK), "a secret in the {name}:\n{text}");
    }
}

#[test]
fn load_outputs_hold_no_secret_either() {
    let server = RawServer::start(|_, _| answer(500, r#"{"error": "boom"}"#));
    let dir = tempdir();
    let text = format!(
        "base_url = {url}\n\
         [[actions]]\nname = \"orders\"\nmethod = \"GET\"\n\
         path = \"/orders?api_key={{{{ env.TEST_QUERY_KEY }}}}\"\n\
         headers = {{ Authorization = \"Bearer {{{{ env.TEST_TOKEN }}}}\" }}\n\
         [load]\nflows = [{{ name = \"f\", actions = [\"orders\"] }}]\n",
        url = toml_string(&server.url)
    );
    let scenario = write(&dir, "load.toml", &text);
    let (json, html) = (dir.path().join("s.json"), dir.path().join("s.html"));
    let run = Running::spawn(
        [
            "load",
            scenario.to_str().unwrap(),
            "--mode",
            "smoke",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
        &[
            ("TEST_QUERY_KEY", "qkey-SECRET-4444"),
            ("TEST_TOKEN", "tok-SECRET-1111"),
        ],
    )
    .finish(Duration::from_secs(60));
    run.expect_code(EXIT_VIOLATIONS);
    for (name, text) in [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        (
            "JSON summary",
            std::fs::read_to_string(&json).expect("json"),
        ),
        ("HTML report", std::fs::read_to_string(&html).expect("html")),
    ] {
        assert!(!text.contains(MARK), "a secret in the {name}:\n{text}");
    }
}
