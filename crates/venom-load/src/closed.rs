//! The closed model: a fixed number of virtual users, each running flow iterations back to back.

use crate::flow::Executor;
use crate::run::Stop;
use crate::summary::StopReason;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Starts `vus` users that run until `end`, the iteration budget or a stop request; each
/// finishes its current iteration before it ends.
pub(crate) fn spawn(
    executor: &Arc<Executor>,
    vus: usize,
    iterations: Option<u64>,
    end: Instant,
    stop: &Arc<Stop>,
) -> JoinSet<()> {
    let claimed = Arc::new(AtomicU64::new(0));
    let mut users = JoinSet::new();
    for vu in 0..vus {
        let executor = Arc::clone(executor);
        let stop = Arc::clone(stop);
        let claimed = Arc::clone(&claimed);
        users.spawn(async move {
            let shard = vu % executor.recorder().shards();
            let mut connection = executor.transport().checkout();
            loop {
                if stop.is_set() {
                    break;
                }
                if Instant::now() >= end {
                    stop.request(StopReason::Duration);
                    break;
                }
                if let Some(max) = iterations {
                    if claimed.fetch_add(1, Ordering::Relaxed) >= max {
                        stop.request(StopReason::Iterations);
                        break;
                    }
                }
                if !executor.iteration(shard, None, &mut connection).await {
                    // A failure may come back without any I/O (a template error): let the
                    // other tasks, the collector among them, run.
                    tokio::task::yield_now().await;
                }
            }
            executor.transport().checkin(connection);
        });
    }
    users
}
