//! Skew of a concurrent step's requests on loopback: how far apart the server sees N requests
//! that venom sends together (the concurrent steps of exploration).
//!
//! ```sh
//! cargo bench -p venom-http --bench together
//! ```
//!
//! A small axum server (on its own multi-threaded runtime) stamps the arrival of every request;
//! the client sends N copies of one request with [`HttpClient::send_together`] on a
//! current-thread runtime, as an explored world does. The skew of one step is the latest
//! arrival minus the earliest; the bench repeats the step (`VENOM_BENCH_STEPS`, default 300)
//! for N = 2, 4, 8 and prints the p50 and p99 in µs, with the same figures for the send times
//! venom itself records (`sent_us`).

use axum::routing::post;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use venom_engine::Context;
use venom_http::{Credentials, HttpClient, TogetherRequest};
use venom_scenario::{Defaults, RequestSpec, Template, Vars};

fn main() {
    let steps: usize = std::env::var("VENOM_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let stamps = Arc::clone(&arrivals);
    let app = Router::new().route(
        "/hit",
        post(move || {
            let stamps = Arc::clone(&stamps);
            async move {
                stamps.lock().expect("stamps").push(Instant::now());
                "ok"
            }
        }),
    );
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    server.spawn(async move { axum::serve(listener, app).await });

    let client_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let base_url = format!("http://{address}");
    let client = HttpClient::new(&base_url, &Defaults::default()).expect("client");
    let spec = RequestSpec {
        method: "POST".into(),
        path: Template::literal("/hit"),
        body: None,
        headers: Vec::new(),
    };
    let ctx = Context::new();
    println!("venom-http together bench: {steps} steps per row, loopback axum server");
    println!(
        "{:>3} | {:>18} | {:>18} | {:>10}",
        "N", "arrival skew µs p50/p99", "sent_us skew p50/p99", "step ms p50"
    );
    for n in [2usize, 4, 8] {
        let mut arrival_skews = Vec::with_capacity(steps);
        let mut sent_skews = Vec::with_capacity(steps);
        let mut step_times = Vec::with_capacity(steps);
        for _ in 0..steps {
            arrivals.lock().expect("stamps").clear();
            let requests: Vec<TogetherRequest<'_>> = (0..n)
                .map(|_| TogetherRequest {
                    spec: &spec,
                    credentials: Credentials::Auth(None),
                    vars: Vars::new(&ctx),
                })
                .collect();
            let started = Instant::now();
            let exchanges = client_runtime
                .block_on(client.send_together(&requests))
                .expect("sent");
            step_times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(exchanges
                .iter()
                .all(|e| e.response.as_ref().is_some_and(|r| r.status == 200)));
            let sent: Vec<u64> = exchanges
                .iter()
                .map(|e| e.together.as_ref().expect("together").sent_us)
                .collect();
            sent_skews.push((sent.iter().max().unwrap() - sent.iter().min().unwrap()) as f64);
            let stamps = arrivals.lock().expect("stamps").clone();
            assert_eq!(stamps.len(), n);
            let first = stamps.iter().min().unwrap();
            let last = stamps.iter().max().unwrap();
            arrival_skews.push(last.duration_since(*first).as_secs_f64() * 1e6);
        }
        println!(
            "{n:>3} | {:>10.0} / {:>6.0} | {:>10.0} / {:>6.0} | {:>10.3}",
            percentile(&mut arrival_skews, 0.5),
            percentile(&mut arrival_skews, 0.99),
            percentile(&mut sent_skews, 0.5),
            percentile(&mut sent_skews, 0.99),
            percentile(&mut step_times, 0.5),
        );
    }
}

fn percentile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * q).round() as usize;
    values[index]
}
