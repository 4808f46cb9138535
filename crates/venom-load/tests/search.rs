//! Runs that venom plans itself (a capacity search, quota checks) against the server of
//! `common/limits.rs`, whose capacity and limits are known.
//!
//! The tests hold one lock so that their timings never compete for the two cores.

#[path = "common/limits.rs"]
mod limits;
#[path = "common/serve.rs"]
mod serve;

use limits::{start_server, CAPACITY};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use venom_load::{check_quotas, find_capacity, CapacityOptions, Control, Progress, QuotaOptions};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn scenario(text: &str) -> venom_scenario::Scenario {
    venom_scenario::parse(text, Path::new("search.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn control() -> Control {
    Control {
        interrupt: None,
        progress: Progress::Silent,
    }
}

#[test]
fn the_capacity_search_finds_the_knee_of_a_server_of_known_capacity() {
    let _serial = serial();
    let url = start_server();
    let scenario = scenario(&format!(
        "base_url = \"{url}\"\n\
         [[actions]]\nname = \"work\"\nmethod = \"POST\"\npath = \"/work\"\nexpect = [200]\n\
         [load]\nflows = [{{ name = \"work\", actions = [\"work\"] }}]\n\
         [load.thresholds]\n\"http.p95\" = \"< 60ms\"\n"
    ));
    let options = CapacityOptions {
        start_rate: 25.0,
        stage: Duration::from_secs(2),
        max_stages: 12,
        tolerance: 0.1,
        quota_fraction: 0.7,
        ..CapacityOptions::default()
    };
    let report = find_capacity(&scenario, None, &options, &control()).expect("search");
    let shown = report.to_string();
    let pass = report.highest_pass.unwrap_or_else(|| panic!("{shown}"));
    let fail = report.first_fail.unwrap_or_else(|| panic!("{shown}"));
    // The knee within 25 % of the true capacity (the 20 ms sleeps run a little long, and a
    // 2 s stage just over capacity may still keep its p95 under the bound), and bracketed
    // within the search's tolerance.
    assert!(
        (CAPACITY * 0.75..=CAPACITY * 1.25).contains(&pass),
        "highest pass {pass} far from {CAPACITY}:\n{shown}"
    );
    assert!(fail > pass && fail <= pass * 1.1 + 1e-9, "{shown}");
    assert!(report.stop.contains("knee"), "{shown}");
    assert!(report.stages.len() <= 12, "{shown}");
    assert!(
        report
            .broken_by
            .iter()
            .any(|b| b.starts_with("http.p95 < 60ms")),
        "{shown}"
    );
    assert_eq!(report.suggested_quota, Some(pass * 0.7));
    // Doubling from 25/s: the first stages held, one broke, the rest bisect.
    let rates: Vec<f64> = report.stages.iter().map(|s| s.rate).collect();
    assert_eq!(&rates[..3], [25.0, 50.0, 100.0], "{shown}");
    // Every stage kept its offered rate while it held.
    for stage in report.stages.iter().filter(|s| s.passed) {
        assert!(
            (stage.throughput - stage.rate).abs() <= stage.rate * 0.15,
            "{shown}"
        );
    }
    // The page plots the curve.
    let page = venom_load::render_capacity_html(&report);
    assert_eq!(page.matches("<svg").count(), 2);
    assert!(page.contains("offered rate (iterations/s)"));
}

fn quota_scenario(url: &str, path: &str) -> venom_scenario::Scenario {
    scenario(&format!(
        "base_url = \"{url}\"\n\
         [[actions]]\nname = \"hit\"\nmethod = \"POST\"\npath = \"{path}\"\nexpect = [200, 429]\n\
         quota = \"10/s\"\n"
    ))
}

fn check(url: &str, path: &str) -> venom_load::QuotaResult {
    let options = QuotaOptions {
        duration: Duration::from_secs(4),
        overload: 2.0,
    };
    let report = check_quotas(&quota_scenario(url, path), options, &control()).expect("check");
    assert_eq!(report.quotas.len(), 1, "{report}");
    report.quotas[0].clone()
}

#[test]
fn a_token_bucket_passes_its_quota_check_and_broken_limiters_fail_it() {
    let _serial = serial();
    let url = start_server();
    let good = check(&url, "/bucket");
    assert!(good.passed, "{good:#?}");
    assert!((8.0..=12.0).contains(&good.accepted_per_s), "{good:#?}");
    assert!(good.offered_per_s >= 18.0, "{good:#?}");
    assert!(
        good.statuses.get("429").copied().unwrap_or(0) > 0,
        "{good:#?}"
    );

    let leaky = check(&url, "/leaky");
    assert!(!leaky.passed, "{leaky:#?}");
    assert!(leaky.verdict.starts_with("accepted"), "{leaky:#?}");
    assert!(leaky.accepted_per_s > 12.0, "{leaky:#?}");

    let wrong = check(&url, "/wrong");
    assert!(!wrong.passed, "{wrong:#?}");
    assert!(
        wrong.verdict.contains("did not all answer 429") && wrong.verdict.contains("503"),
        "{wrong:#?}"
    );
}
