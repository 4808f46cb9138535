//! Invariants: rules that must hold after every step.

use crate::context::Context;
use crate::exchange::Exchange;
use crate::severity::Severity;
use crate::world::WorldError;
use std::fmt;

/// What an invariant sees after a step.
#[derive(Debug, Clone, Copy)]
pub struct StepView<'a> {
    /// The context after the step.
    pub ctx: &'a Context,
    /// The action that just ran (`None` in the initial state).
    pub action: Option<&'a str>,
    /// Its request/response, when captured (of an action sending several, the last).
    pub exchange: Option<&'a Exchange>,
    /// The requests the action sent before its last one, in order.
    pub earlier: &'a [Exchange],
}

/// The result of checking an invariant.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The rule holds (or does not apply here).
    Holds,
    /// The rule is broken.
    Broken {
        /// Why, in words.
        message: String,
        /// The request the check itself made, if any.
        evidence: Option<Box<Exchange>>,
    },
}

impl Verdict {
    /// A broken verdict without evidence.
    pub fn broken(message: impl Into<String>) -> Self {
        Verdict::Broken {
            message: message.into(),
            evidence: None,
        }
    }
}

/// When an invariant is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// After every step, and in the initial state (the default).
    #[default]
    AfterStep,
    /// In the state an action starts from, just before it runs; [`StepView::action`] is the
    /// action about to run and [`StepView::exchange`] is `None`.
    BeforeAction,
}

/// The check of an invariant; it may query the world (an HTTP call, an SQL query).
pub type CheckFn<W> = dyn Fn(&mut W, &StepView<'_>) -> Result<Verdict, WorldError> + Send + Sync;

/// A rule that must always hold (refunded ≤ paid, no 5xx, API agrees with the database).
pub struct Invariant<W> {
    /// Unique name.
    pub name: String,
    /// How bad a violation is.
    pub severity: Severity,
    /// When it is checked.
    pub timing: Timing,
    check: Box<CheckFn<W>>,
}

impl<W> Invariant<W> {
    /// Creates an invariant checked after every step.
    pub fn new(
        name: impl Into<String>,
        severity: Severity,
        check: impl Fn(&mut W, &StepView<'_>) -> Result<Verdict, WorldError> + Send + Sync + 'static,
    ) -> Self {
        Invariant {
            name: name.into(),
            severity,
            timing: Timing::AfterStep,
            check: Box::new(check),
        }
    }

    /// Checks it before every action instead ([`Timing::BeforeAction`]).
    pub fn before_each_action(mut self) -> Self {
        self.timing = Timing::BeforeAction;
        self
    }

    /// Checks the invariant.
    pub fn check(&self, world: &mut W, view: &StepView<'_>) -> Result<Verdict, WorldError> {
        (self.check)(world, view)
    }
}

impl<W> fmt::Debug for Invariant<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invariant")
            .field("name", &self.name)
            .field("severity", &self.severity)
            .field("timing", &self.timing)
            .finish()
    }
}
