//! A scenario on someone else's machine: `[reset] kind = "restart"` restarts the `[server]`
//! (the separate `venom-demo` binary) to reset it, and an SQLite file the server creates only
//! after it is ready is waited for.

mod common;

use common::demo::demo_binary;
use common::{read_report, tempdir, toml_string, violations, write, EXIT_OK, EXIT_VIOLATIONS};
use std::net::TcpListener;
use std::time::Duration;
use venom_demo::NOTES_SCENARIO;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// `[server]` running `venom-demo` on `port` with its database `db` (after `before`).
fn demo_server(port: u16, db: &str, before: &str) -> String {
    let command = format!(
        "{before}exec '{}' --listen 127.0.0.1:{port} --db {db}",
        demo_binary().display()
    );
    format!(
        "\n[server]\ncommand = {}\nready_url = \"/health\"\nready_timeout = 30.0\n",
        toml_string(&command)
    )
}

#[test]
fn a_restart_reset_restarts_the_server_and_the_roles_log_in_again() {
    let dir = tempdir();
    let port = free_port();
    let text = NOTES_SCENARIO
        .replace(
            "base_url = \"http://127.0.0.1:8080\"",
            &format!("base_url = \"http://127.0.0.1:{port}\""),
        )
        .replace(
            "[reset]\nrequest = { method = \"POST\", path = \"/admin/reset\" }",
            "[reset]\nkind = \"restart\"",
        )
        .replace("mode = \"sqlite\"", "mode = \"reset\"");
    assert!(text.contains("kind = \"restart\"") && text.contains("mode = \"reset\""));
    let scenario = write(
        &dir,
        "notes.toml",
        &format!("{text}{}", demo_server(port, "notes.db", "")),
    );
    let json = dir.path().join("report.json");
    let run = common::venom(
        [
            "explore",
            scenario.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        RUN_TIMEOUT,
    );
    run.expect_code(EXIT_VIOLATIONS);
    let report = read_report(&json);
    assert_eq!(report["exploration"]["mechanism"], "reset + replay");
    let found: Vec<(&str, usize)> = violations(&report)
        .iter()
        .map(|v| {
            (
                v["invariant"].as_str().unwrap(),
                v["path"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(found, [("notes_stay_private", 2)], "{}", run.stdout);
}

#[test]
fn an_sqlite_file_the_server_creates_after_it_is_ready_is_waited_for() {
    let dir = tempdir();
    let port = free_port();
    // The API answers at once; the file venom reads appears a second later.
    let server = demo_server(port, "app.db", "(sleep 1; cp app.db late.db) & ");
    let text = format!(
        "base_url = \"http://127.0.0.1:{port}\"\n\
         [reset]\nrequest = {{ method = \"POST\", path = \"/admin/reset\" }}\n\
         [rollback]\nsqlite_path = \"late.db\"\nobserve_tables = [\"orders\"]\n\
         [[actions]]\nname = \"health\"\nmethod = \"GET\"\npath = \"/health\"\n\
         [[invariants]]\nname = \"no_orders\"\nsql = \"SELECT COUNT(*) = 0 FROM orders\"\n{server}"
    );
    let scenario = write(&dir, "late.toml", &text);
    let run = common::venom(["explore", scenario.to_str().unwrap()], RUN_TIMEOUT);
    run.expect_code(EXIT_OK);
    assert!(dir.path().join("late.db").is_file());
}
