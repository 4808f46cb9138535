//! Re-running a reported path against the system to see whether the violation still happens.

use crate::action::Action;
use crate::context::Context;
use crate::exploration::PathStep;
use crate::invariant::{Invariant, StepView, Verdict};
use crate::world::{World, WorldError};

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOutcome {
    /// The invariant is broken again after the last step.
    pub reproduced: bool,
    /// The invariant's message when broken.
    pub message: Option<String>,
    /// The steps as they ran this time.
    pub steps: Vec<PathStep>,
}

/// Resets the world, runs the actions named in `path` in order and checks `invariant` after the last
/// step. Unknown names are errors.
pub fn replay<W: World>(
    world: &mut W,
    actions: &[Action<W>],
    invariant: &Invariant<W>,
    path: &[String],
    initial: Context,
) -> Result<ReplayOutcome, WorldError> {
    let resolved =
        path.iter()
            .map(|name| {
                actions.iter().find(|a| &a.name == name).ok_or_else(|| {
                    WorldError::new(format!("the path names unknown action `{name}`"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
    world.reset()?;
    let mut ctx = initial;
    let mut steps = Vec::new();
    for action in resolved {
        let outcome = action.run(world, &mut ctx)?;
        steps.push(PathStep {
            action: action.name.clone(),
            exchange: outcome.exchange,
            earlier: outcome.earlier,
        });
    }
    let message = broken_after(world, invariant, &ctx, &steps)?;
    Ok(ReplayOutcome {
        reproduced: message.is_some(),
        message,
        steps,
    })
}

/// The message of `invariant` when it is broken after the last of `steps` (with `ctx`, the
/// context they left), `None` when it holds.
pub(crate) fn broken_after<W: World>(
    world: &mut W,
    invariant: &Invariant<W>,
    ctx: &Context,
    steps: &[PathStep],
) -> Result<Option<String>, WorldError> {
    let last = steps.last();
    let view = StepView {
        ctx,
        action: last.map(|s| s.action.as_str()),
        exchange: last.and_then(|s| s.exchange.as_ref()),
        earlier: last.map_or(&[], |s| s.earlier.as_slice()),
    };
    Ok(match invariant.check(world, &view)? {
        Verdict::Holds => None,
        Verdict::Broken { message, .. } => Some(message),
    })
}
