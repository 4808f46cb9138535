//! A local axum server of known behaviour, for the capacity search and quota checks (tests and
//! benches):
//!
//! - `POST /work`: at most 4 requests at a time (a semaphore), each served in 20 ms: a capacity
//!   of 200 requests/s, beyond which requests queue and latency grows without bound;
//! - `POST /bucket`: a token bucket of 10 tokens/s (burst 5); an empty bucket answers 429;
//! - `POST /leaky`: a broken limiter that refills at twice its declared rate;
//! - `POST /wrong`: a limiter of the right rate whose excess answers 503 instead of 429.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The capacity of `POST /work`, requests per second.
pub const CAPACITY: f64 = 200.0;
const WORKERS: usize = 4;
const SERVICE: Duration = Duration::from_millis(20);

/// A token bucket: `rate` tokens a second, at most `burst` kept.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: f64, burst: f64) -> Mutex<Bucket> {
        Mutex::new(Bucket {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        })
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Limits {
    work: Semaphore,
    bucket: Mutex<Bucket>,
    leaky: Mutex<Bucket>,
    wrong: Mutex<Bucket>,
}

type Shared = State<Arc<Limits>>;

async fn work(State(limits): Shared) -> StatusCode {
    let _permit = limits.work.acquire().await.expect("semaphore open");
    tokio::time::sleep(SERVICE).await;
    StatusCode::OK
}

fn limited(bucket: &Mutex<Bucket>, refused: StatusCode) -> StatusCode {
    match bucket.lock().expect("bucket").take() {
        true => StatusCode::OK,
        false => refused,
    }
}

/// Starts the server (see `serve.rs`; the including crate declares it as `serve`); returns its
/// base URL.
pub fn start_server() -> String {
    let limits = Arc::new(Limits {
        work: Semaphore::new(WORKERS),
        bucket: Bucket::new(10.0, 5.0),
        leaky: Bucket::new(20.0, 5.0),
        wrong: Bucket::new(10.0, 5.0),
    });
    let app = Router::new()
        .route("/", axum::routing::get(|| async { "test server" }))
        .route("/work", post(work))
        .route(
            "/bucket",
            post(|State(l): Shared| async move {
                limited(&l.bucket, StatusCode::TOO_MANY_REQUESTS)
            }),
        )
        .route(
            "/leaky",
            post(|State(l): Shared| async move {
                limited(&l.leaky, StatusCode::TOO_MANY_REQUESTS)
            }),
        )
        .route(
            "/wrong",
            post(|State(l): Shared| async move {
                limited(&l.wrong, StatusCode::SERVICE_UNAVAILABLE)
            }),
        )
        .with_state(limits);
    crate::serve::serve(app)
}
