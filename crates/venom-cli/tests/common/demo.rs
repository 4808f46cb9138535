//! The bundled demo API from end-to-end tests: its five planted bugs with their minimal paths,
//! as listed in examples/demo.toml, checked in `venom`'s JSON report, and the separate
//! `venom-demo` binary.
//!
//! The `venom-demo` binary belongs to another package, so Cargo neither builds it for these tests
//! nor passes its path (`CARGO_BIN_EXE_*` only names the package's own binaries):
//! [`demo_binary`] runs `cargo build -p venom-demo --bin venom-demo` once per test process (a
//! no-op when it is up to date) into the same target and profile folders as `venom`.

use super::{found_bugs, violations, VENOM};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// (invariant, shortest path) of every planted bug, as listed in examples/demo.toml.
pub fn planted_bugs() -> BTreeSet<(String, Vec<String>)> {
    let bugs: [(&str, &[&str]); 5] = [
        (
            "refund_within_amount",
            &["create_order", "pay", "refund_partial", "refund_partial"],
        ),
        (
            "no_server_errors",
            &["create_order", "pay", "refund_partial", "cancel"],
        ),
        (
            "list_total_matches_items",
            &["create_order", "delete_order"],
        ),
        (
            "one_order_per_idempotency_key",
            &[
                "create_order_idempotent",
                "create_order_idempotent",
                "create_order_idempotent",
            ],
        ),
        ("paid_within_amount", &["create_order", "pay", "pay"]),
    ];
    bugs.iter()
        .map(|(invariant, path)| {
            (
                invariant.to_string(),
                path.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

pub fn severity_of_planted(invariant: &str) -> &'static str {
    match invariant {
        "refund_within_amount" | "no_server_errors" => "critical",
        _ => "high",
    }
}

/// The report lists exactly the planted bugs with their minimal paths, severities, the action
/// that broke each invariant and the captured HTTP exchange of every step.
pub fn assert_planted_bugs(report: &Value) {
    assert_eq!(found_bugs(report), planted_bugs());
    for violation in violations(report) {
        let invariant = violation["invariant"].as_str().unwrap();
        assert_eq!(
            violation["severity"],
            severity_of_planted(invariant),
            "{invariant}"
        );
        let path = violation["path"].as_array().unwrap();
        assert_eq!(
            violation["action"],
            path.last().unwrap()["action"],
            "{invariant}: the breaking action is the path's last step"
        );
        for step in path {
            let exchange = &step["exchange"];
            let status = exchange["response"]["status"].as_u64().unwrap_or_else(|| {
                panic!("{invariant}: step without a captured response status: {step:#}")
            });
            assert!((100..600).contains(&status), "{invariant}: status {status}");
            assert!(
                exchange["request"]["url"].as_str().is_some(),
                "{invariant}: step without a request URL: {step:#}"
            );
        }
        // Every path starts from the initial state, where no order was ever created: a rollback
        // that left the id counter (a SQLite AUTOINCREMENT, a PostgreSQL sequence) where a
        // sibling branch had moved it would hand out a later id.
        let first_id = &path[0]["exchange"]["response"]["body"]["id"];
        assert_eq!(*first_id, 1, "{invariant}: the first order of its path");
        let last_status = &path.last().unwrap()["exchange"]["response"]["status"];
        if invariant == "no_server_errors" {
            assert_eq!(*last_status, 500, "the cancel after a refund answers 500");
        }
    }
}

/// The `venom-demo` binary, built (once per test process) next to `venom`.
pub fn demo_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let profile_dir = Path::new(VENOM).parent().expect("venom is in a folder");
        let target_dir = profile_dir
            .parent()
            .expect("the profile folder has a parent");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(name) => name,
            None => panic!("unexpected binary folder {}", profile_dir.display()),
        };
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--package", "venom-demo", "--bin"])
            .args(["venom-demo", "--profile", profile, "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "cargo build -p venom-demo failed");
        let binary = profile_dir.join(format!("venom-demo{}", std::env::consts::EXE_SUFFIX));
        assert!(binary.is_file(), "{} was not built", binary.display());
        binary
    })
}
