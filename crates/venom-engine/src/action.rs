//! Actions: the things that can happen to the system.

use crate::context::Context;
use crate::exchange::Exchange;
use crate::world::WorldError;
use std::fmt;
use std::sync::Arc;

/// What running an action produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The request/response, for reports; `None` for in-memory models. Of an action that sends
    /// several requests, the last one (the one invariants see as the step's).
    pub exchange: Option<Exchange>,
    /// The requests an action sent before its last one, in order (empty for one request).
    pub earlier: Vec<Exchange>,
    /// What the user should be told about this step (e.g. an `extract` that matched nothing);
    /// the exploration's warnings keep each text once.
    pub warnings: Vec<String>,
}

/// A condition that must hold on a path before an action may run there.
#[derive(Clone)]
pub enum Precondition {
    /// Every named action has already run on this path.
    ActionsRun(Vec<String>),
    /// Every named context key is present.
    KeysPresent(Vec<String>),
    /// A predicate over the context (an expression, a closure).
    Check(Arc<dyn Fn(&Context) -> bool + Send + Sync>),
}

impl fmt::Debug for Precondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Precondition::ActionsRun(names) => f.debug_tuple("ActionsRun").field(names).finish(),
            Precondition::KeysPresent(keys) => f.debug_tuple("KeysPresent").field(keys).finish(),
            Precondition::Check(_) => f.write_str("Check(..)"),
        }
    }
}

/// The body of an action: it acts on the world and may read and write the path's context.
pub type ActionFn<W> = dyn Fn(&mut W, &mut Context) -> Result<Outcome, WorldError> + Send + Sync;

/// Something that can happen to the system (create an order, refund, cancel…).
pub struct Action<W> {
    /// Unique name, shown in paths.
    pub name: String,
    /// Conditions that enable the action on a path.
    pub preconditions: Vec<Precondition>,
    /// How many times the action may run on one path.
    pub max_calls: Option<u32>,
    /// Relative weight for the weighted strategy.
    pub weight: f64,
    run: Box<ActionFn<W>>,
}

impl<W> Action<W> {
    /// An action with no preconditions, no call limit and weight 1.
    pub fn new(
        name: impl Into<String>,
        run: impl Fn(&mut W, &mut Context) -> Result<Outcome, WorldError> + Send + Sync + 'static,
    ) -> Self {
        Action {
            name: name.into(),
            preconditions: Vec::new(),
            max_calls: None,
            weight: 1.0,
            run: Box::new(run),
        }
    }

    /// Adds a precondition.
    pub fn requires(mut self, precondition: Precondition) -> Self {
        self.preconditions.push(precondition);
        self
    }

    /// Limits how many times the action runs on one path.
    pub fn max_calls(mut self, max: u32) -> Self {
        self.max_calls = Some(max);
        self
    }

    /// Sets the weight used by the weighted strategy.
    pub fn weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// Runs the action.
    pub fn run(&self, world: &mut W, ctx: &mut Context) -> Result<Outcome, WorldError> {
        (self.run)(world, ctx)
    }
}

impl<W> fmt::Debug for Action<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("preconditions", &self.preconditions)
            .field("max_calls", &self.max_calls)
            .field("weight", &self.weight)
            .finish()
    }
}
