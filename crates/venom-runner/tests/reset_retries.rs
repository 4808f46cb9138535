//! `[reset] retries`: a reset that fails now and then is tried again, with backoff, and a reset
//! that keeps failing says which attempt failed.

mod common;

use std::path::Path;
use venom_engine::World;
use venom_runner::{HttpWorld, Processes};

/// A scenario for the API at `url` whose reset command fails its first `failures` runs (counted
/// in a file in `dir`), with `retries` more tries.
fn scenario(dir: &Path, url: &str, failures: u32, retries: u32) -> venom_scenario::Scenario {
    let count = dir.join("count");
    let command = format!(
        "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'; [ $n -gt {failures} ]",
        c = count.display()
    );
    let text = format!(
        "base_url = \"{url}\"\n\
         [reset]\ncommand = {command:?}\nretries = {retries}\n\
         [[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n"
    );
    venom_scenario::parse(&text, &dir.join("reset.toml")).expect("scenario")
}

/// An API on 127.0.0.1 that answers every request; runs until the test ends.
fn start_api() -> String {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    common::serve(app)
}

#[test]
fn a_reset_that_fails_twice_succeeds_on_its_third_try() {
    let url = start_api();
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario(dir.path(), &url, 2, 2);
    // The initial reset (attempts 1, 2 fail; 3 succeeds), then one more that succeeds at once.
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    world.reset().expect("reset");
    let runs = std::fs::read_to_string(dir.path().join("count")).expect("count");
    assert_eq!(runs.trim(), "4");
}

#[test]
fn a_reset_that_keeps_failing_says_which_attempt_failed() {
    let url = start_api();
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = scenario(dir.path(), &url, 10, 1);
    let err = HttpWorld::connect(&scenario, &Processes::default()).unwrap_err();
    let text = venom_engine::one_line(&err);
    assert!(
        text.starts_with(
            "the initial reset failed: reset attempt 2 of 2 failed: the reset command"
        ),
        "{text}"
    );
}
