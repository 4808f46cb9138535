//! A `[server]` never tests the wrong process: a port another process holds is refused, and
//! `${VENOM_PORT}` lets venom choose a free one for the server and `base_url` alike.

mod common;

use common::*;
use std::time::Duration;
use venom_testkit::{ok_reply, RawServer};

/// A scenario whose `[server]` is Python's file server on `port` (a literal or
/// `${VENOM_PORT}`), with one read-only action.
fn scenario(port: &str) -> String {
    format!(
        "base_url = \"http://127.0.0.1:{port}\"\n\
         [server]\ncommand = \"exec python3 -m http.server $VENOM_PORT --bind 127.0.0.1\"\n\
         env = {{ VENOM_PORT = \"{port}\" }}\n\
         [reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"index\"\nmethod = \"GET\"\npath = \"/\"\nexpect = [200]\n"
    )
}

#[test]
fn a_port_another_process_holds_is_refused_not_tested() {
    // The "old build" already answers on the port: venom must not explore it.
    let old = RawServer::start(|_, _| ok_reply("the old build"));
    let port = old.url.rsplit(':').next().expect("port").to_string();
    let dir = tempdir();
    let file = write(&dir, "held.toml", &scenario(&port));
    let run = venom(["explore", file.to_str().unwrap()], Duration::from_secs(60));
    run.expect_code(EXIT_SETUP);
    assert!(
        run.stderr
            .contains(&format!("port {port} of http://127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("already held by another process"),
        "{}",
        run.stderr
    );
}

#[test]
fn venom_port_gives_the_server_and_base_url_one_free_port() {
    let dir = tempdir();
    let file = write(&dir, "free.toml", &scenario("${VENOM_PORT}"));
    let json = dir.path().join("report.json");
    let run = venom(
        [
            "explore",
            file.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    run.expect_code(EXIT_OK);
    let report = read_report(&json);
    assert_eq!(report["exploration"]["actions"][0]["runs"], 1, "{report}");
    assert!(
        !run.stdout.contains("VENOM_PORT") && !run.stderr.contains("VENOM_PORT"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn venom_port_without_a_server_is_invalid_input_at_its_position() {
    let dir = tempdir();
    let file = write(
        &dir,
        "no-server.toml",
        "base_url = \"http://127.0.0.1:${VENOM_PORT}\"\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n",
    );
    let run = venom(["check", file.to_str().unwrap()], Duration::from_secs(30));
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr.contains("no-server.toml:1:12") && run.stderr.contains("needs a [server]"),
        "{}",
        run.stderr
    );
}
