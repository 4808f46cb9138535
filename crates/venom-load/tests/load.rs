//! Load runs against a local axum server with injected, known behaviour:
//!
//! - `GET /delay`: answers after 20 ms ± 5 ms (uniform jitter, deterministic sequence), plus
//!   `?extra=N` milliseconds;
//! - `GET /flaky`: every 100th request (by arrival at the server) answers 500;
//! - `GET /limited`: at most 50 requests per server-clock second, the rest get 429;
//! - `GET /stall`: the 50th request blocks for 1 s, every other one answers at once;
//! - `GET /fail`: always 500;
//! - `POST /items` → 201 `{"id": n}`, `GET /items/{id}` → 200 for created ids, else 404.
//!
//! The server counts what it answered, so error counts are compared with the ground truth.
//! Timing tests hold one lock so that they never compete with each other for the two cores;
//! their tolerances are explained where they are asserted.

#[path = "common/serve.rs"]
mod serve;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use venom_load::{
    Control, LoadPlan, LoadSummary, Mode, PlanOptions, Progress, StopReason, ThresholdStatus,
};

// ---------------------------------------------------------------------------------------------
// The test server

#[derive(Default)]
struct Counters {
    delay: AtomicU64,
    flaky: AtomicU64,
    flaky_500: AtomicU64,
    limited: Mutex<(u64, u64)>,
    limited_429: AtomicU64,
    stall: AtomicU64,
    next_item: AtomicU64,
}

struct TestServer {
    url: String,
    counters: Arc<Counters>,
}

/// splitmix64: a deterministic, well-mixed sequence for the jitter.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn start_server() -> TestServer {
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let state = (Arc::clone(&counters), started);
    let app = Router::new()
        .route("/", get(|| async { "test server" }))
        .route("/delay", get(delay))
        .route("/flaky", get(flaky))
        .route("/limited", get(limited))
        .route("/stall", get(stall))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/items", post(create_item))
        .route("/items/{id}", get(get_item))
        .with_state(state);
    TestServer {
        url: serve::serve(app),
        counters,
    }
}

type Shared = State<(Arc<Counters>, Instant)>;

async fn delay(State((c, _)): Shared, Query(q): Query<HashMap<String, u64>>) -> &'static str {
    let n = c.delay.fetch_add(1, Ordering::Relaxed);
    // Uniform in [15 000, 25 000) µs.
    let jitter_us = mix(n) % 10_000;
    let extra_ms = q.get("extra").copied().unwrap_or(0);
    tokio::time::sleep(Duration::from_micros(15_000 + jitter_us + extra_ms * 1000)).await;
    "ok"
}

async fn flaky(State((c, _)): Shared) -> StatusCode {
    let n = c.flaky.fetch_add(1, Ordering::Relaxed) + 1;
    if n % 100 == 0 {
        c.flaky_500.fetch_add(1, Ordering::Relaxed);
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// At most 50 per second of the server's clock (fixed windows).
async fn limited(State((c, started)): Shared) -> StatusCode {
    let second = started.elapsed().as_secs();
    let mut window = c.limited.lock().unwrap_or_else(|p| p.into_inner());
    if window.0 != second {
        *window = (second, 0);
    }
    window.1 += 1;
    if window.1 > 50 {
        c.limited_429.fetch_add(1, Ordering::Relaxed);
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::OK
    }
}

async fn stall(State((c, _)): Shared) -> &'static str {
    if c.stall.fetch_add(1, Ordering::Relaxed) + 1 == 50 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    "ok"
}

async fn create_item(State((c, _)): Shared) -> (StatusCode, Json<Value>) {
    let id = c.next_item.fetch_add(1, Ordering::Relaxed) + 1;
    (StatusCode::CREATED, Json(json!({ "id": id })))
}

async fn get_item(State((c, _)): Shared, UrlPath(id): UrlPath<u64>) -> (StatusCode, Json<Value>) {
    if id >= 1 && id <= c.next_item.load(Ordering::Relaxed) {
        (StatusCode::OK, Json(json!({ "id": id })))
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such item" })),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Runs that generate load take turns, so that none skews the latencies another measures.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A scenario on `url` with `actions` (TOML `[[actions]]` text) and a `[load]` table.
fn scenario(url: &str, body: &str) -> venom_scenario::Scenario {
    let text = format!("base_url = \"{url}\"\n[defaults]\ntimeout = 5.0\n{body}");
    venom_scenario::parse(&text, Path::new("load-test.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn action(name: &str, method: &str, path: &str, extra: &str) -> String {
    format!("[[actions]]\nname = \"{name}\"\nmethod = \"{method}\"\npath = \"{path}\"\n{extra}\n")
}

fn run(scenario: &venom_scenario::Scenario, options: PlanOptions) -> LoadSummary {
    let plan = LoadPlan::resolve(scenario, &options).unwrap_or_else(|e| panic!("plan: {e}"));
    venom_load::run(
        scenario,
        &plan,
        Control {
            interrupt: None,
            progress: Progress::Silent,
        },
    )
    .unwrap_or_else(|e| panic!("run: {e}"))
}

fn closed(vus: usize, duration_ms: u64) -> PlanOptions {
    PlanOptions {
        mode: Some(Mode::Burst),
        vus: Some(vus),
        duration: Some(Duration::from_millis(duration_ms)),
        ..PlanOptions::default()
    }
}

fn status(summary: &LoadSummary, key: &str, condition: &str) -> ThresholdStatus {
    summary
        .thresholds
        .iter()
        .find(|t| t.key == key && t.condition == condition)
        .map(|t| t.status)
        .unwrap_or_else(|| panic!("no threshold {key} {condition}"))
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The measured distribution of `/delay` is the injected U[15, 25) ms plus a small overhead.
///
/// Lower bounds are exact: no answer can come before the server's sleep ends, and the HDR
/// histogram (3 significant digits) is within 0.1 % of every value. Upper bounds allow 8 ms on
/// top of the injected value: tokio's timer has a 1 ms resolution and rounds sleeps up, the
/// loopback round trip and HTTP parsing add ~0.1 ms, and on a shared 2-core machine a woken
/// task can wait a few ms for a core. Quantiles of U[15, 25): p50 = 20, p90 = 24, p99 = 24.9.
#[test]
fn percentiles_match_the_injected_delay() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}[load]\nflows = [ {{ name = \"d\", actions = [\"delay\"] }} ]\n\
             [load.thresholds]\n\"delay.p95\" = \"< 100ms\"\n\"delay.p50\" = \"< 10ms\"\n\
             \"delay.min\" = \">= 15ms\"\n\"http.count\" = \"> 100\"\n\"drift\" = \"< 50%\"\n",
            action("delay", "GET", "/delay", "expect = [200]")
        ),
    );
    let summary = run(&s, closed(10, 3000));
    let stats = summary.action("delay").expect("delay stats");
    let served = server.counters.delay.load(Ordering::Relaxed);
    assert_eq!(stats.count, served, "every request sent was served once");
    assert!(
        stats.count > 500,
        "10 users for 3 s at ~21 ms: {}",
        stats.count
    );
    assert_eq!(stats.errors, 0);
    let l = stats.latency_ms.as_ref().expect("latencies");
    eprintln!("delay: {} requests, latency {l:?}", stats.count);
    let floor = 0.999;
    assert!(l.min >= 15.0 * floor, "min {}", l.min);
    assert!((20.0 * floor..=28.0).contains(&l.p50), "p50 {}", l.p50);
    assert!((24.0 * floor..=32.0).contains(&l.p90), "p90 {}", l.p90);
    assert!((24.9 * floor..=33.0).contains(&l.p99), "p99 {}", l.p99);
    // The spread between p50 and p90 is the injected one (4 ms), give or take the overhead.
    assert!(
        (2.0..=8.0).contains(&(l.p90 - l.p50)),
        "p90 - p50 {}",
        l.p90 - l.p50
    );
    let ttfb = stats.ttfb_ms.as_ref().expect("ttfb");
    assert!(
        ttfb.p50 <= l.p50 + 0.1,
        "ttfb {} <= total {}",
        ttfb.p50,
        l.p50
    );
    assert!(
        stats.service_ms.is_none(),
        "closed model: latency is service time"
    );

    use ThresholdStatus::*;
    assert_eq!(status(&summary, "delay.p95", "< 100ms"), Pass);
    assert_eq!(status(&summary, "delay.p50", "< 10ms"), Fail);
    assert_eq!(status(&summary, "delay.min", ">= 15ms"), Pass);
    assert_eq!(status(&summary, "http.count", "> 100"), Pass);
    assert_eq!(status(&summary, "drift", "< 50%"), Pass);
    assert!(!summary.passed());
    assert_eq!(summary.stop, StopReason::Duration);
    assert!(summary.intervals.iter().filter(|i| i.full).count() >= 2);
    let shown = summary
        .thresholds
        .iter()
        .find(|t| t.key == "delay.p50")
        .map(|t| t.shown.clone());
    assert!(shown.is_some_and(|s| s.ends_with(" ms")));
}

/// Every 100th request fails: 1000 iterations give exactly 10 errors, as the server counted.
#[test]
fn error_rate_is_counted_exactly() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}[load]\nflows = [ {{ name = \"f\", actions = [\"flaky\"] }} ]\n\
             [load.thresholds]\n\"http.error_rate\" = \"< 1%\"\n\"flaky.error_rate\" = \"<= 1%\"\n",
            action("flaky", "GET", "/flaky", "")
        ),
    );
    let summary = run(
        &s,
        PlanOptions {
            vus: Some(4),
            iterations: Some(1000),
            duration: Some(Duration::from_secs(60)),
            ..PlanOptions::default()
        },
    );
    assert_eq!(summary.stop, StopReason::Iterations);
    assert_eq!(server.counters.flaky.load(Ordering::Relaxed), 1000);
    assert_eq!(server.counters.flaky_500.load(Ordering::Relaxed), 10);
    let o = &summary.overall;
    assert_eq!(o.count, 1000);
    assert_eq!(o.errors, 10);
    assert_eq!(o.error_rate, 0.01);
    assert_eq!(o.errors_by_kind.get("5xx"), Some(&10));
    assert_eq!(o.statuses.get("200"), Some(&990));
    assert_eq!(o.statuses.get("500"), Some(&10));
    assert_eq!(summary.flows[0].iterations, 1000);
    assert_eq!(summary.flows[0].failed, 10);
    // 1 % is not below 1 %, but it is at most 1 %.
    assert_eq!(
        status(&summary, "http.error_rate", "< 1%"),
        ThresholdStatus::Fail
    );
    assert_eq!(
        status(&summary, "flaky.error_rate", "<= 1%"),
        ThresholdStatus::Pass
    );
    assert!(
        summary.failures[0].contains("answered 500"),
        "{:?}",
        summary.failures
    );
}

/// 429s from a rate-limited endpoint are errors of kind 4xx, counted exactly as the server sent
/// them. 200 iterations/s for 2 s against 50/s allowed: 400 requests, 100 to 150 of them allowed
/// (the run spans two or three of the server's one-second windows).
#[test]
fn rate_limited_answers_are_counted() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}[load]\nflows = [ {{ name = \"l\", actions = [\"limited\"] }} ]\n",
            action("limited", "GET", "/limited", "")
        ),
    );
    let summary = run(
        &s,
        PlanOptions {
            rate: Some(200.0),
            duration: Some(Duration::from_secs(2)),
            ..PlanOptions::default()
        },
    );
    let o = &summary.overall;
    let open = summary.open.as_ref().expect("open model stats");
    assert_eq!(open.scheduled, 400);
    assert_eq!(open.dropped, 0);
    assert_eq!(o.count, 400);
    let rejected = server.counters.limited_429.load(Ordering::Relaxed);
    assert_eq!(o.statuses.get("429"), Some(&rejected));
    assert_eq!(o.errors_by_kind.get("4xx"), Some(&rejected));
    assert_eq!(o.errors, rejected);
    assert!((250..=300).contains(&rejected), "429s: {rejected}");
    assert_eq!(o.statuses.get("200").copied().unwrap_or(0) + rejected, 400);
}

/// With one request in flight at most, a 1 s stall delays the ~100 arrivals scheduled during
/// it. Latency from the intended send time shows them (p99 near 1 s); the service time, counted
/// from the actual send, sees a single slow request and hides the stall (p99 stays small).
#[test]
fn open_model_reports_a_stall() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}[load]\nflows = [ {{ name = \"s\", actions = [\"stall\"] }} ]\n",
            action("stall", "GET", "/stall", "expect = [200]")
        ),
    );
    let summary = run(
        &s,
        PlanOptions {
            rate: Some(100.0),
            duration: Some(Duration::from_secs(3)),
            max_in_flight: Some(1),
            ..PlanOptions::default()
        },
    );
    let stats = summary.action("stall").expect("stall stats");
    let latency = stats.latency_ms.as_ref().expect("latency");
    let service = stats.service_ms.as_ref().expect("service time");
    eprintln!(
        "stall: latency {latency:?}\nservice {service:?}\n{:?}",
        summary.open
    );
    assert_eq!(stats.errors, 0);
    assert!(stats.count >= 290, "{}", stats.count);
    // ~100 of ~300 samples wait 0..1000 ms: p99 is ~970 ms, p90 ~700 ms. The bounds leave
    // 150-200 ms for a slow machine (a later catch-up only adds waiting).
    assert!(latency.max >= 999.0, "latency max {}", latency.max);
    assert!(latency.p99 >= 800.0, "latency p99 {}", latency.p99);
    assert!(latency.p90 >= 500.0, "latency p90 {}", latency.p90);
    // One slow request of ~300: the service time's p99 (3rd largest) is a normal answer;
    // 200 ms is far above a loopback answer even on a busy machine.
    assert!(service.max >= 999.0, "service max {}", service.max);
    assert!(service.p99 < 200.0, "service p99 {}", service.p99);
    let open = summary.open.as_ref().expect("open stats");
    assert!(open.late >= 50, "late {}", open.late);
    assert!(open.max_lag_ms >= 900.0, "max lag {}", open.max_lag_ms);
}

/// A flow carries each iteration's own context: the id extracted from `POST /items` is the
/// one read back by the next action.
#[test]
fn flows_extract_into_per_iteration_context() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}{}[load]\nflows = [ {{ name = \"item\", actions = [\"create\", \"read\"] }} ]\n",
            action(
                "create",
                "POST",
                "/items",
                "expect = [201]\nextract = { id = \"$.id\" }"
            ),
            action("read", "GET", "/items/{{ctx.id}}", "expect = [200]")
        ),
    );
    let summary = run(
        &s,
        PlanOptions {
            vus: Some(4),
            iterations: Some(40),
            ..PlanOptions::default()
        },
    );
    assert_eq!(summary.flows[0].iterations, 40);
    assert_eq!(summary.flows[0].failed, 0, "{:?}", summary.failures);
    assert_eq!(summary.action("create").map(|a| a.count), Some(40));
    let read = summary.action("read").expect("read stats");
    assert_eq!(read.statuses.get("200"), Some(&40));
    assert_eq!(server.counters.next_item.load(Ordering::Relaxed), 40);
}

/// A failed action stops its iteration: the next action is never sent.
#[test]
fn a_failed_action_ends_the_iteration() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}{}[load]\nflows = [ {{ name = \"broken\", actions = [\"fail\", \"create\"] }} ]\n",
            action("fail", "GET", "/fail", ""),
            action("create", "POST", "/items", "")
        ),
    );
    let summary = run(
        &s,
        PlanOptions {
            iterations: Some(7),
            ..PlanOptions::default()
        },
    );
    assert_eq!(summary.flows[0].failed, 7);
    assert_eq!(summary.action("create").map(|a| a.count), Some(0));
    assert_eq!(server.counters.next_item.load(Ordering::Relaxed), 0);
    assert_eq!(summary.overall.errors_by_kind.get("5xx"), Some(&7));
}

/// `abort_on_fail` stops a run once the error rate is broken over enough samples.
#[test]
fn abort_on_fail_stops_early() {
    let _turn = serial();
    let server = start_server();
    let s = scenario(
        &server.url,
        &format!(
            "{}[load]\nabort_on_fail = true\nflows = [ {{ name = \"f\", actions = [\"fail\"] }} ]\n\
             [load.thresholds]\n\"http.error_rate\" = \"< 1%\"\n",
            action("fail", "GET", "/fail", "")
        ),
    );
    let started = Instant::now();
    let summary = run(&s, closed(4, 20_000));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "aborted after {:?}",
        started.elapsed()
    );
    assert_eq!(
        summary.stop,
        StopReason::Aborted("http.error_rate < 1%".into())
    );
    assert!(summary.overall.count >= venom_load::ABORT_MIN_SAMPLES);
    assert_eq!(
        status(&summary, "http.error_rate", "< 1%"),
        ThresholdStatus::Fail
    );
}

/// A saved run compares clean with itself and with a faster run; a run 20 ms slower regresses.
#[test]
fn baseline_detects_regressions_both_ways() {
    let _turn = serial();
    let server = start_server();
    let flow = "[load]\nflows = [ { name = \"d\", actions = [\"delay\"] } ]\n";
    let fast = scenario(
        &server.url,
        &format!("{}{flow}", action("delay", "GET", "/delay", "")),
    );
    let slow = scenario(
        &server.url,
        &format!("{}{flow}", action("delay", "GET", "/delay?extra=20", "")),
    );
    let base = run(&fast, closed(4, 1000));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("baseline.json");
    venom_load::write_json(&base, &file).expect("write baseline");
    let saved = venom_load::read_baseline(&file).expect("read baseline");
    assert_eq!(saved.overall.count, base.overall.count);
    assert_eq!(saved.actions.len(), base.actions.len());
    assert_eq!(saved.plan, base.plan);

    let same = venom_load::compare(&base, &saved, "baseline.json", 0.1);
    assert_eq!(same.regressions(), 0);
    assert!(same.comparisons.iter().any(|c| c.metric == "delay.p95"));

    let slower = run(&slow, closed(4, 1000));
    let report = venom_load::compare(&slower, &saved, "baseline.json", 0.1);
    let regressed: Vec<&str> = report
        .comparisons
        .iter()
        .filter(|c| c.regressed)
        .map(|c| c.metric.as_str())
        .collect();
    // 20 → 40 ms is +100 %, far beyond 10 %; fewer requests per second too (same 4 users).
    for metric in ["http.p50", "delay.p50", "delay.p95", "http.rps"] {
        assert!(regressed.contains(&metric), "{metric} in {regressed:?}");
    }
    let mut judged = slower.clone();
    judged.baseline = Some(report);
    assert!(!judged.passed());
    // The other way round, the slow run as baseline: the fast run is an improvement.
    let better = venom_load::compare(&base, &slower, "slow.json", 0.1);
    assert_eq!(better.regressions(), 0, "{:?}", better.comparisons);

    // Reports: JSON is the baseline format; the HTML page is static, with SVG plots.
    let html = dir.path().join("report.html");
    venom_load::write_html(&judged, &html).expect("write html");
    let page = std::fs::read_to_string(&html).expect("read html");
    assert!(page.contains("<svg") && page.contains("Latency over time"));
    assert!(!page.contains("<script") && !page.contains("http://cdn"));
    assert!(page.contains("REGRESSION"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"kind\": 3}").expect("write");
    assert!(venom_load::read_baseline(&bad)
        .unwrap_err()
        .to_string()
        .contains("not a venom load summary"));
}

/// Nothing listening at `base_url` is a setup failure, before any load.
#[test]
fn unreachable_api_is_a_setup_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let s = scenario(
        &format!("http://127.0.0.1:{port}"),
        &format!(
            "{}[load]\nflows = [ {{ name = \"x\", actions = [\"x\"] }} ]\n",
            action("x", "GET", "/", "")
        ),
    );
    let plan = LoadPlan::resolve(&s, &PlanOptions::default()).expect("plan");
    let err = venom_load::run(
        &s,
        &plan,
        Control {
            interrupt: None,
            progress: Progress::Silent,
        },
    )
    .expect_err("unreachable");
    assert!(err.to_string().contains("cannot reach the API"), "{err}");
}

/// The demo scenario's flows run clean against the demo API (smoke: 1 user, 5 iterations).
#[test]
fn demo_flows_smoke() {
    let _turn = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = venom_demo::DemoServer::start(&dir.path().join("demo.db")).expect("demo");
    let mut s = venom_scenario::parse(venom_demo::DEMO_SCENARIO, Path::new("demo.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    s.base_url = server.base_url();
    let summary = run(&s, PlanOptions::default());
    assert_eq!(summary.stop, StopReason::Iterations);
    let iterations: u64 = summary.flows.iter().map(|f| f.iterations).sum();
    assert_eq!(iterations, 5);
    assert_eq!(summary.overall.errors, 0, "{:?}", summary.failures);
    assert!(summary.flows.iter().all(|f| f.failed == 0));
    assert!(summary.action("pay").is_some_and(|p| p.count > 0));
    assert!(
        summary
            .thresholds
            .iter()
            .all(|t| t.status != ThresholdStatus::Fail),
        "{:?}",
        summary.thresholds
    );
}

/// Plans: presets, overrides and refusals.
#[test]
fn plans_resolve_presets_and_overrides() {
    let s = scenario(
        "http://127.0.0.1:1",
        &format!(
            "{}{}[load]\nflows = [ {{ name = \"both\", actions = [\"a\", \"b\"] }} ]\n",
            action("a", "GET", "/a", ""),
            action("b", "GET", "/b", "")
        ),
    );
    let plan = |o: PlanOptions| LoadPlan::resolve(&s, &o);
    let smoke = plan(PlanOptions::default()).expect("smoke");
    assert_eq!(smoke.model, venom_load::Model::Closed { vus: 1 });
    assert_eq!(smoke.iterations, Some(5));
    let burst = plan(PlanOptions {
        mode: Some(Mode::Burst),
        ..PlanOptions::default()
    })
    .expect("burst");
    assert_eq!(burst.model, venom_load::Model::Closed { vus: 50 });
    assert_eq!(burst.duration, Duration::from_secs(20));
    assert_eq!(burst.iterations, None);
    let soak = plan(PlanOptions {
        mode: Some(Mode::Soak),
        vus: Some(3),
        ..PlanOptions::default()
    })
    .expect("soak");
    assert_eq!(soak.duration, Duration::from_secs(600));
    assert_eq!(soak.interval, Duration::from_secs(10));
    assert_eq!(soak.model, venom_load::Model::Closed { vus: 3 });
    // --duration replaces the preset's length, its iteration count included.
    let timed = plan(PlanOptions {
        duration: Some(Duration::from_secs(3)),
        ..PlanOptions::default()
    })
    .expect("timed smoke");
    assert_eq!(
        (timed.duration, timed.iterations),
        (Duration::from_secs(3), None)
    );
    let staged = plan(PlanOptions {
        stages: Some(vec![
            (Duration::from_secs(10), 50.0),
            (Duration::from_secs(30), 200.0),
        ]),
        ..PlanOptions::default()
    })
    .expect("stages");
    assert_eq!(staged.duration, Duration::from_secs(40));
    let flow = plan(PlanOptions {
        flow: Some("b,a".into()),
        ..PlanOptions::default()
    })
    .expect("ad-hoc flow");
    assert_eq!(flow.flows[0].actions, [1, 0]);

    let error = |o: PlanOptions| plan(o).expect_err("refused").to_string();
    assert!(error(PlanOptions {
        vus: Some(2),
        rate: Some(5.0),
        ..PlanOptions::default()
    })
    .contains("--vus is for the closed model"));
    assert!(error(PlanOptions {
        max_in_flight: Some(2),
        ..PlanOptions::default()
    })
    .contains("--max-in-flight is for the open model"));
    assert!(error(PlanOptions {
        flow: Some("a,zz".into()),
        ..PlanOptions::default()
    })
    .contains("unknown flow or action `zz`"));
    assert!(error(PlanOptions {
        vus: Some(0),
        ..PlanOptions::default()
    })
    .contains("--vus 0"));
    let no_flows = scenario("http://127.0.0.1:1", &action("a", "GET", "/a", ""));
    assert!(LoadPlan::resolve(&no_flows, &PlanOptions::default())
        .expect_err("no flows")
        .to_string()
        .contains("no flow to run"));
}

/// An iteration still running one request timeout (plus a grace second) after the duration is
/// cancelled: the run ends at that deadline, not when the long flow would have finished.
#[test]
fn iterations_past_the_deadline_are_cancelled() {
    let _turn = serial();
    let server = start_server();
    // Each request takes ~0.42 s, under the 0.5 s timeout; an iteration of 8 takes ~3.4 s. The
    // deadline is 0.1 s (duration) + 0.5 s (timeout) + 1 s (grace) = 1.6 s.
    let text = format!(
        "base_url = \"{}\"\n[defaults]\ntimeout = 0.5\n{}[load]\nflows = [ {{ name = \"long\", actions = {:?} }} ]\n",
        server.url,
        action("slow", "GET", "/delay?extra=400", ""),
        ["slow"; 8]
    );
    let s =
        venom_scenario::parse(&text, Path::new("deadline.toml")).unwrap_or_else(|e| panic!("{e}"));
    let summary = run(&s, closed(2, 100));
    assert_eq!(summary.stop, StopReason::Deadline);
    assert!(
        (1.5..3.0).contains(&summary.elapsed_s),
        "ended after {} s",
        summary.elapsed_s
    );
    let sent = summary.action("slow").map_or(0, |a| a.count);
    assert!((2..16).contains(&sent), "{sent} requests completed");
    assert_eq!(summary.flows[0].iterations, 0, "no iteration finished");
}
