//! `venom load --check`: the scenario's invariants checked against the API under load, every
//! `--check-every` while the load runs and once after it: correctness under load, not only
//! speed.
//!
//! The checked invariants are those that mean something outside an exploration step: every
//! user invariant except those reading the step's answer (`last` without a `check` of their own;
//! the built-ins all do). They see the scenario's `[context]` as their context, so a `when` on a
//! key some action extracts skips them. Their calls go through a world of their own that
//! neither starts the `[server]` nor resets anything; SQL invariants read the SQLite file (a
//! PostgreSQL database is not opened: snapshot triggers would change the system under load, so
//! those are left out and said so).

use crate::failure::Failure;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use venom_engine::{Context, Invariant, StepView, Verdict};
use venom_load::InvariantCheck;
use venom_runner::{HttpWorld, Processes};
use venom_scenario::{RollbackSpec, Scenario};

/// The invariants checked under load, with the world they are checked in.
pub struct LoadChecker {
    world: HttpWorld,
    invariants: Vec<Invariant<HttpWorld>>,
    ctx: Context,
    started: Instant,
    /// What was left out, and why (said once).
    pub left_out: Vec<String>,
}

impl LoadChecker {
    /// Connects to the API of `scenario` (its port already chosen, its server already started)
    /// without starting or resetting anything.
    pub fn connect(scenario: &Scenario, processes: &Processes) -> Result<LoadChecker, Failure> {
        let mut checked = scenario.clone();
        checked.server = None;
        checked.reset = None;
        checked.redis = None;
        let mut left_out = Vec::new();
        // The database is opened only for the SQL invariants, and only an SQLite file.
        let sqlite = match &scenario.rollback {
            RollbackSpec::Sqlite(spec)
            | RollbackSpec::Reset {
                observe: Some(spec),
            } => Some(spec.clone()),
            _ => None,
        };
        checked.rollback = RollbackSpec::Reset {
            observe: sqlite.filter(|_| scenario.invariants.iter().any(|i| i.reads_the_database())),
        };
        checked.invariants.retain(|spec| {
            let why = if spec.reads_the_step() {
                Some("it reads the answer of an exploration step (`last` without a `check`)")
            } else if spec.reads_the_database() && !checked.rollback.has_database() {
                Some("its SQL reads PostgreSQL, which --check does not open under load")
            } else {
                None
            };
            if let Some(why) = why {
                left_out.push(format!("invariant `{}` not checked: {why}", spec.name));
            }
            why.is_none()
        });
        let ctx = venom_runner::initial_context(&checked).map_err(Failure::setup)?;
        let world = HttpWorld::connect(&checked, processes).map_err(Failure::setup)?;
        let builtins: Vec<&str> = checked.active_builtins().iter().map(|b| b.name()).collect();
        let invariants = venom_runner::invariants(&checked)
            .into_iter()
            .filter(|i| !builtins.contains(&i.name.as_str()))
            .collect();
        Ok(LoadChecker {
            world,
            invariants,
            ctx,
            started: Instant::now(),
            left_out,
        })
    }

    /// Whether there is anything to check.
    pub fn is_empty(&self) -> bool {
        self.invariants.is_empty()
    }

    /// Checks every invariant now.
    pub fn check(&mut self) -> Result<Vec<InvariantCheck>, Failure> {
        let view = StepView {
            ctx: &self.ctx,
            action: None,
            exchange: None,
            earlier: &[],
        };
        let at_s = self.started.elapsed().as_secs_f64();
        self.invariants
            .iter()
            .map(|invariant| {
                let verdict = invariant.check(&mut self.world, &view).map_err(|e| {
                    Failure::setup_because(format!("checking `{}`", invariant.name), e)
                })?;
                Ok(InvariantCheck {
                    at_s,
                    invariant: invariant.name.clone(),
                    broken: match verdict {
                        Verdict::Holds => None,
                        Verdict::Broken { message, .. } => Some(message),
                    },
                })
            })
            .collect()
    }

    /// Checks every `every` until `done` is set, then returns what was found.
    pub fn check_until(
        &mut self,
        every: Duration,
        done: &AtomicBool,
    ) -> Result<Vec<InvariantCheck>, Failure> {
        let mut found = Vec::new();
        let mut next = Instant::now() + every;
        while !done.load(Ordering::SeqCst) {
            if Instant::now() >= next {
                found.extend(self.check()?);
                next += every;
            }
            std::thread::sleep(Duration::from_millis(20).min(every));
        }
        Ok(found)
    }
}

impl Drop for LoadChecker {
    fn drop(&mut self) {
        crate::secrets::learn(self.world.issued_credentials());
    }
}
