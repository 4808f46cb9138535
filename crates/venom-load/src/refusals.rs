//! Refused connections: how long a request that was refused waits before its user goes on (a
//! doubling backoff shared by all users), and whether the API is gone (every request refused
//! for [`GONE_AFTER`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The wait after the first refusal; it doubles with each refusal in a row.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
/// The longest wait after a refusal.
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// How long every request must have been refused, with no answer at all, for the API to be
/// gone.
pub(crate) const GONE_AFTER: Duration = Duration::from_secs(2);

/// The refusals in a row since the last answer, shared by every user of a run.
#[derive(Debug)]
pub(crate) struct Refusals {
    start: Instant,
    /// Refused requests since the last answer.
    streak: AtomicU64,
    /// When the streak began, in ms after `start` plus one (0: no streak).
    since: AtomicU64,
}

impl Refusals {
    pub(crate) fn new() -> Refusals {
        Refusals {
            start: Instant::now(),
            streak: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// Records a refused request; how long its user waits before going on.
    pub(crate) fn refused(&self) -> Duration {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        let streak = self.streak.fetch_add(1, Ordering::Relaxed);
        let doublings = u32::try_from(streak.min(16)).unwrap_or(16);
        (FIRST_PAUSE * 2u32.pow(doublings)).min(MAX_PAUSE)
    }

    /// Records an answer (of any status, or a timeout): the API is there.
    pub(crate) fn answered(&self) {
        if self.streak.load(Ordering::Relaxed) != 0 {
            self.streak.store(0, Ordering::Relaxed);
            self.since.store(0, Ordering::Relaxed);
        }
    }

    /// How long every request has been refused, once that is at least [`GONE_AFTER`].
    pub(crate) fn gone_for(&self) -> Option<Duration> {
        let since = self.since.load(Ordering::Relaxed).checked_sub(1)?;
        let refused_for = self
            .start
            .elapsed()
            .saturating_sub(Duration::from_millis(since));
        (refused_for >= GONE_AFTER).then_some(refused_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_up_to_a_second_and_an_answer_resets_it() {
        let refusals = Refusals::new();
        let pauses: Vec<Duration> = (0..10).map(|_| refusals.refused()).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert_eq!(pauses[9], MAX_PAUSE);
        assert_eq!(
            refusals.gone_for(),
            None,
            "refused for less than GONE_AFTER"
        );
        refusals.answered();
        assert_eq!(refusals.refused(), FIRST_PAUSE);
    }
}
