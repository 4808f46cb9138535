//! `--shard I/N` and `venom merge`: the parts of a split demo run, merged, equal the run
//! unsplit; one report merges into itself; reports of different runs are refused.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(240);

/// `venom demo ARGS --json DIR/NAME.json`: the report's path.
fn demo(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let json = dir.join(format!("{name}.json"));
    let mut all = vec!["demo", "--json", json.to_str().unwrap()];
    all.extend_from_slice(args);
    venom(all, LIMIT).expect_code(EXIT_VIOLATIONS);
    json
}

/// What a merge must reproduce: the bugs with their paths, the states, transitions, coverage
/// and which actions ran.
fn essentials(report: &Value) -> (Value, Value, Value, Vec<(String, bool)>) {
    let exploration = &report["exploration"];
    let ran = exploration["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_string(),
                a["runs"].as_u64() > Some(0),
            )
        })
        .collect();
    (
        exploration["states"].clone(),
        exploration["transitions"].clone(),
        exploration["coverage"].clone(),
        ran,
    )
}

#[test]
fn the_merged_parts_of_a_split_run_equal_the_run_unsplit() {
    let dir = tempdir();
    for rollback in ["sqlite", "reset"] {
        let whole = read_report(&demo(
            dir.path(),
            &format!("whole-{rollback}"),
            &["--rollback", rollback],
        ));
        let parts: Vec<PathBuf> = (0..2)
            .map(|i| {
                let shard = format!("{i}/2");
                demo(
                    dir.path(),
                    &format!("part{i}-{rollback}"),
                    &["--rollback", rollback, "--shard", &shard],
                )
            })
            .collect();
        let part0 = read_report(&parts[0]);
        assert_ne!(
            found_bugs(&part0),
            found_bugs(&whole),
            "a part alone finds less"
        );
        // A part alone proves no path shortest; the merge of all parts does, as the whole run.
        let proved = |report: &Value| {
            report["exploration"]["violations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["proved_shortest"].as_bool().unwrap())
                .collect::<Vec<_>>()
        };
        assert!(proved(&part0).iter().all(|p| !p), "{:?}", proved(&part0));
        let merged = dir.path().join(format!("merged-{rollback}.json"));
        let run = venom(
            [
                "merge",
                parts[0].to_str().unwrap(),
                parts[1].to_str().unwrap(),
                "-o",
                merged.to_str().unwrap(),
            ],
            LIMIT,
        );
        run.expect_code(EXIT_VIOLATIONS);
        let merged = read_report(&merged);
        assert_eq!(found_bugs(&merged), found_bugs(&whole), "{rollback}");
        assert_eq!(found_bugs(&merged), common::demo::planted_bugs());
        assert_eq!(essentials(&merged), essentials(&whole), "{rollback}");
        assert_eq!(proved(&merged), proved(&whole), "{rollback}");
        assert!(proved(&merged).iter().all(|p| *p));
        assert!(merged["exploration"].get("shard").is_none());
    }
}

#[test]
fn one_report_merges_into_itself_and_other_runs_are_refused() {
    let dir = tempdir();
    let single = demo(dir.path(), "single", &["--shard", "0/1"]);
    let out = dir.path().join("out.json");
    venom(
        [
            "merge",
            single.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        LIMIT,
    )
    .expect_code(EXIT_VIOLATIONS);
    assert_eq!(read_report(&out), read_report(&single));

    let orders = demo(dir.path(), "orders", &["--shard", "0/2"]);
    let notes = demo(
        dir.path(),
        "notes",
        &["--scenario", "notes", "--shard", "0/2"],
    );
    let refused = venom(
        [
            "merge",
            orders.to_str().unwrap(),
            notes.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        LIMIT,
    );
    refused.expect_code(EXIT_INVALID_INPUT);
    assert!(
        refused.stderr.contains("report 2 is of another run"),
        "{}",
        refused.stderr
    );

    let twice = venom(
        [
            "merge",
            orders.to_str().unwrap(),
            orders.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        LIMIT,
    );
    twice.expect_code(EXIT_INVALID_INPUT);
    assert!(
        twice.stderr.contains("part 0/2 is given twice"),
        "{}",
        twice.stderr
    );

    // The notes demo's initial state enables one action: part 1 of 2 has nothing, and says so.
    let empty = dir.path().join("empty.json");
    let run = venom(
        [
            "demo",
            "--scenario",
            "notes",
            "--shard",
            "1/2",
            "--json",
            empty.to_str().unwrap(),
        ],
        LIMIT,
    );
    run.expect_code(EXIT_OK);
    assert!(
        run.stdout.contains("part 1/2 has no path to explore"),
        "{}",
        run.stdout
    );

    let bad = venom(["demo", "--shard", "2/2"], LIMIT);
    bad.expect_code(EXIT_INVALID_INPUT);
    assert!(bad.stderr.contains("I < N"), "{}", bad.stderr);
}
