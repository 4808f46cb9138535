//! `venom` with a PostgreSQL rollback: what it refuses before starting anything, and how
//! `check` names the mechanisms.

use std::process::{Command, Output};

const VENOM: &str = env!("CARGO_BIN_EXE_venom");

/// A scenario whose PostgreSQL rollback uses the transaction proxy; nothing listens at the URL,
/// so any attempt to connect would fail with status 3.
const PROXY_SCENARIO: &str = r#"
base_url = "http://127.0.0.1:9"

[rollback]
mode = "postgres"
postgres_url = "postgres://venom@127.0.0.1:9/app"
mechanism = "proxy"
proxy_listen = "127.0.0.1:6543"

[redis]
url = "redis://127.0.0.1:9/0"

[[actions]]
name = "ping"
method = "GET"
path = "/"
"#;

fn venom(args: &[&str], scenario: &str) -> (Output, String) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, scenario).expect("write scenario");
    let output = Command::new(VENOM)
        .args(args)
        .arg(&path)
        .output()
        .expect("run venom");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

#[test]
fn the_proxy_with_a_random_access_strategy_is_refused_up_front_naming_snapshots() {
    let (output, text) = venom(&["explore", "--strategy", "bfs"], PROXY_SCENARIO);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("strategy `bfs` needs random-access checkpoints"),
        "{text}"
    );
    assert!(text.contains("mechanism = \"snapshot\""), "{text}");
    assert!(text.contains("--strategy dfs"), "{text}");
}

#[test]
fn check_names_the_postgres_and_redis_mechanisms() {
    let (output, text) = venom(&["check"], PROXY_SCENARIO);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("rollback postgres transaction proxy + redis snapshots"),
        "{text}"
    );
    let snapshot = PROXY_SCENARIO.replace(
        "mechanism = \"proxy\"\nproxy_listen = \"127.0.0.1:6543\"\n",
        "",
    );
    let (output, text) = venom(&["check"], &snapshot);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("rollback postgres snapshots + redis snapshots"),
        "{text}"
    );
}
