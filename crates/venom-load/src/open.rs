//! The open model: flow iterations start at their scheduled times whatever the responses do.
//!
//! Every iteration has an intended start time from the [`Schedule`]; its first request's
//! latency counts from that time. When `--max-in-flight` iterations are running, the next one
//! waits for a slot and starts late — its wait is part of its latency, which is what corrects
//! for coordinated omission: a stalled server shows up as the long latencies of everything that
//! should have been sent during the stall, not as one slow request.

use crate::flow::Executor;
use crate::run::Stop;
use crate::schedule::Schedule;
use crate::summary::{OpenStats, StopReason};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// An iteration that starts later than this after its intended time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// Starts iterations on `schedule` from `start` until `end`, the iteration budget or a stop
/// request, with at most `max_in_flight` running; returns once no more will start, with the
/// iterations still running.
pub(crate) async fn schedule(
    executor: &Arc<Executor>,
    schedule: &Schedule,
    max_in_flight: usize,
    iterations: Option<u64>,
    (start, end): (Instant, Instant),
    stop: &Stop,
) -> (OpenStats, JoinSet<()>) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let shards = executor.recorder().shards() as u64;
    let mut running = JoinSet::new();
    let mut stats = OpenStats::default();
    let mut max_lag = Duration::ZERO;
    let mut k: u64 = 0;
    loop {
        while running.try_join_next().is_some() {}
        if iterations.is_some_and(|n| k >= n) {
            stop.request(StopReason::Iterations);
            break;
        }
        let Some(intended) = schedule.arrival(k).and_then(|at| start.checked_add(at)) else {
            stop.request(StopReason::Duration);
            break;
        };
        if intended >= end {
            stop.request(StopReason::Duration);
            break;
        }
        if intended > Instant::now() {
            tokio::select! {
                biased;
                () = stop.wait() => break,
                () = tokio::time::sleep_until(intended) => {}
            }
        }
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::select! {
                biased;
                () = stop.wait() => break,
                () = tokio::time::sleep_until(end) => {
                    stop.request(StopReason::Duration);
                    break;
                }
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            },
        };
        let lag = Instant::now().saturating_duration_since(intended);
        max_lag = max_lag.max(lag);
        stats.started += 1;
        stats.late += u64::from(lag > LATE_AFTER);
        let executor = Arc::clone(executor);
        let shard = (k % shards) as usize;
        running.spawn(async move {
            let mut connection = executor.transport().checkout();
            executor
                .iteration(shard, Some(intended.into_std()), &mut connection)
                .await;
            executor.transport().checkin(connection);
            drop(permit);
        });
        k += 1;
    }
    let stopped_at = Instant::now().min(end);
    let scheduled = schedule.arrivals_before(stopped_at.saturating_duration_since(start));
    stats.scheduled = iterations
        .map_or(scheduled, |n| scheduled.min(n))
        .max(stats.started);
    stats.dropped = stats.scheduled - stats.started;
    stats.max_lag_ms = max_lag.as_secs_f64() * 1000.0;
    (stats, running)
}
