//! `venom init --openapi` and `venom explore --openapi` on the demo API's own document, and
//! `init` + `check` on the public documents in `crates/venom-openapi/tests/documents/`.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(240);

/// The planted bugs the generic checks see on the demo API, with their shortest paths: the
/// 500 of a cancel after a refund, and the refund's answer whose `refunded` is a string.
const SEEN_WITHOUT_BUSINESS_RULES: &[Planted] = &[
    (
        "no_server_errors",
        "critical",
        &["create_order", "pay_order", "refund_order", "cancel_order"],
    ),
    (
        "response_schema",
        "high",
        &["create_order", "pay_order", "refund_order"],
    ),
];

#[test]
fn the_demo_document_gives_a_scenario_that_check_accepts_and_that_finds_the_planted_bugs() {
    let dir = tempdir();
    let db = dir.path().join("demo.db");
    let server = venom_demo::DemoServer::start(&db).unwrap();
    let spec_url = format!("{}/openapi.json", server.base_url());
    let scenario = dir.path().join("demo.toml");
    let scenario_arg = scenario.to_str().unwrap();
    let init = venom(["init", "--openapi", &spec_url, "-o", scenario_arg], LIMIT);
    init.expect_code(EXIT_OK);
    assert!(init.stderr.contains("wrote"), "{}", init.stderr);
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(text.contains("TODO rollback"), "{text}");
    // The reset was found by its name; `check` accepts the file unchanged.
    assert!(
        text.contains("request = { method = \"POST\", path = \"/admin/reset\" }"),
        "{text}"
    );
    let check = venom(["check", scenario_arg], LIMIT);
    check.expect_code(EXIT_OK);
    assert!(check.stdout.contains("response_schema"), "{}", check.stdout);

    // Only the rollback TODO is filled in: the demo's SQLite file, snapshotted.
    let filled = text.replace(
        "# [rollback]\n# mode = \"sqlite\"\n# sqlite_path = \"api.db\"",
        &format!(
            "[rollback]\nmode = \"sqlite\"\nsqlite_path = {}",
            toml_string(db.to_str().unwrap())
        ),
    );
    assert_ne!(
        filled, text,
        "the rollback TODO is where the test fills it in"
    );
    std::fs::write(&scenario, filled).unwrap();
    let report = dir.path().join("report.json");
    venom(
        ["explore", scenario_arg, "--json", report.to_str().unwrap()],
        LIMIT,
    )
    .expect_code(EXIT_VIOLATIONS);
    let report = read_report(&report);
    assert_eq!(
        found_bugs(&report),
        bug_set(SEEN_WITHOUT_BUSINESS_RULES),
        "{:#?}",
        violations(&report)
    );
    let schema = violations(&report)
        .iter()
        .find(|v| v["invariant"] == "response_schema")
        .unwrap();
    let message = schema["message"].as_str().unwrap();
    assert!(message.contains("at `/refunded`"), "{message}");
    assert!(message.contains("\"integer\""), "{message}");

    // With negative inputs too: the demo refuses every one with a 4xx, so the findings stay.
    let negative = dir.path().join("negative.toml");
    venom(
        [
            "init",
            "--negative",
            "--openapi",
            &spec_url,
            "-o",
            negative.to_str().unwrap(),
        ],
        LIMIT,
    )
    .expect_code(EXIT_OK);
    let negative_text = std::fs::read_to_string(&negative).unwrap();
    assert!(
        negative_text.contains("name = \"create_order_invalid_body\""),
        "{negative_text}"
    );
    assert!(
        negative_text.contains("path = \"/orders/not-a-number/pay\""),
        "{negative_text}"
    );
    venom(["check", negative.to_str().unwrap()], LIMIT).expect_code(EXIT_OK);
    let negative_report = dir.path().join("negative.json");
    venom(
        [
            "explore",
            negative.to_str().unwrap(),
            "--json",
            negative_report.to_str().unwrap(),
        ],
        LIMIT,
    )
    .expect_code(EXIT_VIOLATIONS);
    assert_eq!(
        found_bugs(&read_report(&negative_report)),
        bug_set(SEEN_WITHOUT_BUSINESS_RULES)
    );

    // Re-running init on the same document: nothing changed, the file is left alone.
    let again = venom(["init", "--openapi", &spec_url, "-o", scenario_arg], LIMIT);
    again.expect_code(EXIT_OK);
    assert!(again.stderr.contains("unchanged"), "{}", again.stderr);
}

#[test]
fn explore_openapi_alone_explores_the_generated_scenario_in_memory() {
    let dir = tempdir();
    let server = venom_demo::DemoServer::start(&dir.path().join("demo.db")).unwrap();
    let spec_url = format!("{}/openapi.json", server.base_url());
    let report = dir.path().join("run.json");
    venom(
        [
            "explore",
            "--openapi",
            &spec_url,
            "--json",
            report.to_str().unwrap(),
        ],
        LIMIT,
    )
    .expect_code(EXIT_VIOLATIONS);
    assert_eq!(
        found_bugs(&read_report(&report)),
        bug_set(SEEN_WITHOUT_BUSINESS_RULES)
    );
    // The generated scenario is written beside the report, so the run can be replayed.
    let replay = venom(
        ["replay", report.to_str().unwrap(), "--violation", "2"],
        LIMIT,
    );
    replay.expect_code(EXIT_VIOLATIONS);
}

#[test]
fn a_changed_document_is_told_on_the_next_init() {
    let dir = tempdir();
    let old = r#"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {
        "/a": {"get": {"operationId": "readA", "responses": {"200": {"description": "x"}}}},
        "/b": {"get": {"operationId": "readB", "responses": {"200": {"description": "x"}}}}}}"#;
    let new = old
        .replace(
            "\"readB\", \"responses\": {\"200\"",
            "\"readB\", \"responses\": {\"404\": {\"description\": \"y\"}, \"200\"",
        )
        .replace("\"/a\"", "\"/c\"")
        .replace("readA", "readC");
    let spec = write(&dir, "api.json", old);
    let scenario = dir.path().join("s.toml");
    let args = |spec: &PathBuf| {
        vec![
            "init".to_string(),
            "--openapi".into(),
            spec.display().to_string(),
            "-o".into(),
            scenario.display().to_string(),
        ]
    };
    venom(args(&spec), LIMIT).expect_code(EXIT_OK);
    let written = std::fs::read_to_string(&scenario).unwrap();
    assert!(
        written.contains("spec = \"api.json\""),
        "relative to the scenario: {written}"
    );
    std::fs::write(&spec, new).unwrap();
    let told = venom(args(&spec), LIMIT);
    told.expect_code(EXIT_OK);
    for change in [
        "+ read_c (GET /c)",
        "- read_a (GET /a)",
        "~ read_b: expect was [200] now [200, 404]",
        "--force",
    ] {
        assert!(
            told.stderr.contains(change),
            "{change} missing in:\n{}",
            told.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&scenario).unwrap(),
        written,
        "left alone"
    );
    let mut forced = args(&spec);
    forced.push("--force".into());
    venom(forced, LIMIT).expect_code(EXIT_OK);
    assert!(std::fs::read_to_string(&scenario)
        .unwrap()
        .contains("read_c"));
}

#[test]
fn every_shared_document_gives_a_scenario_that_check_accepts() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../venom-openapi/tests/documents");
    let mut documents: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        })
        .collect();
    documents.sort();
    assert!(documents.len() >= 9, "{documents:?}");
    let dir = tempdir();
    for document in documents {
        let name = document.file_stem().unwrap().to_str().unwrap().to_string();
        let scenario = dir.path().join(format!("{name}.toml"));
        let init = venom(
            [
                "init",
                "--openapi",
                document.to_str().unwrap(),
                "-o",
                scenario.to_str().unwrap(),
            ],
            LIMIT,
        );
        if name == "v3.1-webhook-example" {
            // Only webhooks (requests the API sends): no operation to call, said so.
            init.expect_code(EXIT_INVALID_INPUT);
            assert!(
                init.stderr.contains("no operation under `paths`"),
                "{}",
                init.stderr
            );
            continue;
        }
        init.expect_code(EXIT_OK);
        let check = venom(["check", scenario.to_str().unwrap()], LIMIT);
        check.expect_code(EXIT_OK);
        assert!(check.stdout.contains("OpenAPI"), "{name}: {}", check.stdout);
        // With negative inputs too.
        let negative = dir.path().join(format!("{name}.negative.toml"));
        venom(
            [
                "init",
                "--negative",
                "--openapi",
                document.to_str().unwrap(),
                "-o",
                negative.to_str().unwrap(),
            ],
            LIMIT,
        )
        .expect_code(EXIT_OK);
        venom(["check", negative.to_str().unwrap()], LIMIT).expect_code(EXIT_OK);
    }
}

#[test]
fn a_broken_document_is_refused_with_its_position() {
    let dir = tempdir();
    let spec = write(&dir, "broken.yaml", "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        '20x': {description: no}\n");
    let run = venom(["init", "--openapi", spec.to_str().unwrap()], LIMIT);
    run.expect_code(EXIT_INVALID_INPUT);
    assert!(
        run.stderr
            .contains("broken.yaml:7:9: /paths/~1a/get/responses/20x: response key `20x`"),
        "{}",
        run.stderr
    );
}
