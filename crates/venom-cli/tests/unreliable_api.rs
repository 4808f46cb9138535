//! A whole `venom explore` run against an API that misbehaves: an exchange that breaks is a
//! finding and the run goes on; an API that dies ends the run with exit 3, reports written.

mod common;

use common::*;
use std::time::Duration;
use venom_testkit::{ok_reply, RawServer, Reply};

#[test]
fn a_broken_exchange_is_a_finding_and_the_run_goes_on() {
    let server = RawServer::start(|_, path| match path {
        "/garbage" => Reply::SendThenClose(b"HTTP/1.1 abc\r\n\r\n".to_vec()),
        _ => ok_reply("{}"),
    });
    let dir = tempdir();
    let text = format!(
        "base_url = {}\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"garbage\"\nmethod = \"GET\"\npath = \"/garbage\"\n\
         [[actions]]\nname = \"fine\"\nmethod = \"GET\"\npath = \"/fine\"\n",
        toml_string(&server.url)
    );
    let scenario = write(&dir, "garbage.toml", &text);
    let json = dir.path().join("report.json");
    let run = venom(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--max-depth",
            "2",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    let found = violations(&report);
    let broken = found
        .iter()
        .find(|v| v["invariant"] == "no_server_errors")
        .unwrap_or_else(|| panic!("no no_server_errors violation: {found:?}"));
    assert_eq!(broken["path"][0]["action"], "garbage", "{broken}");
    assert_eq!(broken["path"].as_array().map(Vec::len), Some(1), "{broken}");
    let message = broken["message"].as_str().unwrap_or_default();
    assert!(message.contains("got no response: "), "{message}");
    // The run went on past the broken step: `fine` ran after `garbage` too.
    let actions = &report["exploration"]["actions"];
    assert_eq!(actions[1]["action"], "fine", "{report}");
    assert_eq!(actions[1]["runs"], 1, "{report}");
    assert_eq!(
        report["exploration"]["stop"]["reason"], "exhausted",
        "{report}"
    );
}

#[test]
fn an_api_whose_server_dies_mid_run_ends_the_run_with_exit_3_and_the_report() {
    let dir = tempdir();
    let port = venom_testkit::free_port();
    // A server that answers 6 requests (the readiness probe, the reachability probe, then
    // steps) and exits.
    let server = format!(
        "import http.server\n\
         class H(http.server.BaseHTTPRequestHandler):\n    \
             def do_GET(self):\n        \
                 self.send_response(200); self.send_header('content-length', '2'); \
                 self.end_headers(); self.wfile.write(b'{{}}')\n    \
             def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         for _ in range(6): s.handle_request()\n"
    );
    write(&dir, "server.py", &server);
    let text = format!(
        "base_url = \"http://127.0.0.1:{port}\"\n\
         [server]\ncommand = \"python3 server.py\"\nready_url = \"http://127.0.0.1:{port}/\"\n\
         [reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/a\"\n\
         set = {{ n = \"{{{{ has(ctx.n) ? ctx.n + 1 : 1 }}}}\" }}\n"
    );
    let scenario = write(&dir, "dies.toml", &text);
    let json = dir.path().join("report.json");
    let run = venom(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--max-steps",
            "50",
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stdout.contains(
            "aborted: action `a`: the API stopped answering: its [server] process exited"
        ),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let report = read_report(&json);
    assert_eq!(
        report["exploration"]["stop"]["reason"], "aborted",
        "{report}"
    );
    assert!(
        report["exploration"]["steps"].as_u64().unwrap_or(0) >= 1,
        "{report}"
    );
}

#[test]
fn ctrl_c_cancels_a_stalled_request_at_once_and_writes_the_report() {
    let server = RawServer::start(|_, path| match path {
        "/stall" => Reply::Stall,
        _ => ok_reply("{}"),
    });
    let dir = tempdir();
    let text = format!(
        "base_url = {}\n[defaults]\ntimeout = 120\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"stall\"\nmethod = \"GET\"\npath = \"/stall\"\n",
        toml_string(&server.url)
    );
    let scenario = write(&dir, "stall.toml", &text);
    let json = dir.path().join("report.json");
    let running = Running::spawn(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    // Setup takes well under a second; then the one step waits for an answer that never comes.
    std::thread::sleep(Duration::from_secs(2));
    running.interrupt();
    let interrupted = std::time::Instant::now();
    let run = running.finish(Duration::from_secs(60));
    run.expect_code(EXIT_INTERRUPTED);
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "the stalled request was waited out: {:?}",
        interrupted.elapsed()
    );
    let report = read_report(&json);
    assert_eq!(
        report["exploration"]["stop"]["reason"], "interrupted",
        "{report}"
    );
}
