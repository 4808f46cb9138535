//! The bundled demo API from end-to-end tests: its five planted bugs with their minimal paths,
//! as listed in examples/demo.toml, checked in `venom`'s JSON report, and the separate
//! `venom-demo` binary.
//!
//! The `venom-demo` binary belongs to another package, so Cargo neither builds it for these tests
//! nor passes its path (`CARGO_BIN_EXE_*` only names the package's own binaries):
//! [`demo_binary`] runs `cargo build -p venom-demo --bin venom-demo` once per test process (a
//! no-op when it is up to date) into the same target and profile folders as `venom`.

use super::{assert_found_exactly, bug_set, Planted, VENOM};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// (invariant, severity, shortest path) of every planted bug, as listed in examples/demo.toml.
pub const PLANTED: [Planted; 5] = [
    (
        "refund_within_amount",
        "critical",
        &["create_order", "pay", "refund_partial", "refund_partial"],
    ),
    (
        "no_server_errors",
        "critical",
        &["create_order", "pay", "refund_partial", "cancel"],
    ),
    (
        "list_total_matches_items",
        "high",
        &["create_order", "delete_order"],
    ),
    (
        "one_order_per_idempotency_key",
        "high",
        &[
            "create_order_idempotent",
            "create_order_idempotent",
            "create_order_idempotent",
        ],
    ),
    (
        "paid_within_amount",
        "high",
        &["create_order", "pay", "pay"],
    ),
];

/// (invariant, shortest path) of every planted bug.
pub fn planted_bugs() -> BTreeSet<(String, Vec<String>)> {
    bug_set(&PLANTED)
}

pub fn severity_of_planted(invariant: &str) -> &'static str {
    let (_, severity, _) = PLANTED
        .iter()
        .find(|(name, _, _)| *name == invariant)
        .unwrap_or_else(|| panic!("{invariant} is not a planted bug"));
    severity
}

/// The report lists exactly the planted bugs ([`assert_found_exactly`]).
pub fn assert_planted_bugs(report: &Value) {
    assert_found_exactly(report, &PLANTED);
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
