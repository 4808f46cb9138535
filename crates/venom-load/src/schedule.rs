//! Arrival times of the open model: a piecewise-linear rate, integrated exactly.
//!
//! With `N(t)` the number of arrivals expected by time `t` (the integral of the rate), arrival
//! `k` (0-based) is intended at the first `t` where `N(t) = k`: at a constant 100/s, arrivals
//! are at 0, 10 ms, 20 ms, … whatever the responses do.

use crate::plan::Stage;
use std::time::Duration;

/// One ramp: from `from` to `to` arrivals per second over `secs` seconds (may be infinite for a
/// constant last stage).
#[derive(Debug, Clone, Copy)]
struct Ramp {
    from: f64,
    to: f64,
    secs: f64,
}

impl Ramp {
    /// Arrivals during the whole ramp.
    fn total(&self) -> f64 {
        if self.secs.is_infinite() {
            return if self.from > 0.0 { f64::INFINITY } else { 0.0 };
        }
        (self.from + self.to) / 2.0 * self.secs
    }

    /// Arrivals during the first `t` seconds of the ramp.
    fn arrivals_by(&self, t: f64) -> f64 {
        let t = t.min(self.secs);
        if self.secs.is_infinite() {
            return self.from * t;
        }
        self.from * t + (self.to - self.from) * t * t / (2.0 * self.secs)
    }

    /// When, from the ramp's start, `n` arrivals (`0 <= n <= total`) are reached.
    fn time_of(&self, n: f64) -> f64 {
        if n <= 0.0 {
            return 0.0;
        }
        if self.secs.is_infinite() || self.from == self.to {
            return n / self.from;
        }
        // Solve from·t + (to − from)·t²/(2·secs) = n with the numerically stable root.
        let slope = (self.to - self.from) / self.secs;
        let disc = (self.from * self.from + 2.0 * slope * n).max(0.0);
        (2.0 * n / (self.from + disc.sqrt())).min(self.secs)
    }
}

/// The intended start times of the open model's iterations.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    ramps: Vec<Ramp>,
}

impl Schedule {
    pub(crate) fn new(stages: &[Stage]) -> Schedule {
        Schedule {
            ramps: stages
                .iter()
                .map(|s| Ramp {
                    from: s.from,
                    to: s.target,
                    secs: if s.duration == Duration::MAX {
                        f64::INFINITY
                    } else {
                        s.duration.as_secs_f64()
                    },
                })
                .collect(),
        }
    }

    /// When arrival `k` (0-based) is intended, from the start; `None` after the last stage.
    pub(crate) fn arrival(&self, k: u64) -> Option<Duration> {
        let mut left = k as f64;
        let mut start = 0.0;
        for ramp in &self.ramps {
            let total = ramp.total();
            // Arrival `k` falls in this ramp when fewer than `total` arrivals precede it here (a
            // ramp ending at rate 0 has its last arrival strictly inside it).
            if left < total {
                let at = start + ramp.time_of(left);
                return Some(Duration::from_secs_f64(at.max(0.0)));
            }
            left -= total;
            start += ramp.secs;
        }
        None
    }

    /// How many arrivals are intended strictly before `t` from the start.
    pub(crate) fn arrivals_before(&self, t: Duration) -> u64 {
        let mut t = t.as_secs_f64();
        let mut n = 0.0;
        for ramp in &self.ramps {
            if t <= 0.0 {
                break;
            }
            n += ramp.arrivals_by(t);
            t -= ramp.secs;
        }
        // Arrival k is before t exactly when k < N(t); round away float noise first.
        let rounded = (n * 1e9).round() / 1e9;
        rounded.ceil().max(0.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(from: f64, target: f64, secs: u64) -> Stage {
        Stage {
            from,
            target,
            duration: Duration::from_secs(secs),
        }
    }

    fn ms(d: Option<Duration>) -> f64 {
        d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s = Schedule::new(&[Stage {
            from: 100.0,
            target: 100.0,
            duration: Duration::MAX,
        }]);
        assert_eq!(ms(s.arrival(0)), 0.0);
        assert!((ms(s.arrival(1)) - 10.0).abs() < 1e-6);
        assert!((ms(s.arrival(250)) - 2500.0).abs() < 1e-6);
        assert_eq!(s.arrivals_before(Duration::from_secs(1)), 100);
        assert_eq!(s.arrivals_before(Duration::from_millis(1001)), 101);
        assert_eq!(s.arrivals_before(Duration::ZERO), 0);
    }

    #[test]
    fn linear_ramp_then_plateau() {
        // 0 → 100/s over 2 s (100 arrivals), then 100/s for 1 s (100 more), then nothing.
        let s = Schedule::new(&[stage(0.0, 100.0, 2), stage(100.0, 100.0, 1)]);
        assert_eq!(s.arrivals_before(Duration::from_secs(2)), 100);
        assert_eq!(s.arrivals_before(Duration::from_secs(3)), 200);
        assert_eq!(s.arrivals_before(Duration::from_secs(9)), 200);
        // N(t) = 25 t² during the ramp: arrival 25 at 1 s, arrival 100 at 2 s.
        assert!((ms(s.arrival(25)) - 1000.0).abs() < 1e-6);
        assert!((ms(s.arrival(100)) - 2000.0).abs() < 1e-6);
        assert!((ms(s.arrival(150)) - 2500.0).abs() < 1e-6);
        assert_eq!(s.arrival(200), None);
        // Arrivals get denser along the ramp and never go backwards.
        let times: Vec<f64> = (0..200).map(|k| ms(s.arrival(k))).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[10] - times[9] > times[90] - times[89]);
    }

    #[test]
    fn ramp_down_to_zero_ends() {
        // 100 → 0/s over 2 s: 100 arrivals, the last strictly inside the ramp.
        let s = Schedule::new(&[stage(100.0, 0.0, 2)]);
        assert_eq!(s.arrivals_before(Duration::from_secs(5)), 100);
        assert!(ms(s.arrival(99)) < 2000.0);
        assert_eq!(s.arrival(100), None);
        // N(1 s) = 100·1 − 50·1²/2 = 75.
        assert_eq!(s.arrivals_before(Duration::from_secs(1)), 75);
    }
}
