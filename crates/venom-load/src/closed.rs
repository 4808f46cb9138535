//! The closed model: a fixed number of virtual users, each running flow iterations back to back.
//!
//! Users are spread over one thread per core, each with a single-threaded runtime of its own
//! (as `wrk` runs one event loop per thread): a user, its connection and the wake-ups between
//! them stay on one thread, without the work-stealing scheduler's cross-thread hand-offs.

use crate::flow::Executor;
use crate::run::Stop;
use crate::summary::StopReason;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Starts `vus` users that run until `end`, the iteration budget or a stop request; each
/// finishes its current iteration before it ends, unless `hard_end` comes first or an
/// interrupt's grace (1 s) runs out.
pub(crate) fn spawn(
    executor: &Arc<Executor>,
    vus: usize,
    iterations: Option<u64>,
    (end, hard_end): (Instant, Instant),
    stop: &Arc<Stop>,
) -> JoinSet<()> {
    let claimed = Arc::new(AtomicU64::new(0));
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(vus.max(1));
    let mut loops = JoinSet::new();
    for thread in 0..threads {
        let executor = Arc::clone(executor);
        let stop = Arc::clone(stop);
        let claimed = Arc::clone(&claimed);
        loops.spawn_blocking(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    executor
                        .recorder()
                        .note(|| format!("cannot start a load thread: {e}"));
                    return;
                }
            };
            runtime.block_on(async {
                let mut users = JoinSet::new();
                for vu in (thread..vus).step_by(threads) {
                    let user = User {
                        executor: Arc::clone(&executor),
                        stop: Arc::clone(&stop),
                        claimed: Arc::clone(&claimed),
                        shard: vu % executor.recorder().shards(),
                    };
                    users.spawn(user.run(iterations, end));
                }
                if !crate::run::join_all(&mut users, &stop, hard_end).await {
                    stop.cut_off();
                }
            });
            // Dropping the runtime cancels the users still running past `hard_end`.
        });
    }
    loops
}

/// One virtual user.
struct User {
    executor: Arc<Executor>,
    stop: Arc<Stop>,
    /// Iterations started by all users.
    claimed: Arc<AtomicU64>,
    shard: usize,
}

impl User {
    async fn run(self, iterations: Option<u64>, end: Instant) {
        let executor = &self.executor;
        let mut connection = executor.transport().checkout();
        loop {
            if self.stop.is_set() {
                break;
            }
            if Instant::now() >= end {
                self.stop.request(StopReason::Duration);
                break;
            }
            if let Some(max) = iterations {
                if self.claimed.fetch_add(1, Ordering::Relaxed) >= max {
                    self.stop.request(StopReason::Iterations);
                    break;
                }
            }
            if !executor.iteration(self.shard, None, &mut connection).await {
                // A failure may come back without any I/O (a template error): let the other
                // users run.
                tokio::task::yield_now().await;
            }
        }
        executor.transport().checkin(connection);
    }
}
