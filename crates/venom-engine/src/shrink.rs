//! Shrinking a violation's path by replay: drop one step at a time (the last, which breaks the
//! invariant, stays), replay the rest after a reset with every precondition checked, and keep
//! the shorter path when the same invariant still breaks. What is left is 1-minimal: no single
//! step can be dropped.

use crate::action::{Action, Precondition};
use crate::context::Context;
use crate::exploration::PathStep;
use crate::invariant::Invariant;
use crate::replay::broken_after;
use crate::world::{World, WorldError};

/// The most replays one exploration spends on shrinking.
pub(crate) const SHRINK_BUDGET: u32 = 200;
/// The most time one exploration spends on shrinking.
pub(crate) const SHRINK_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// A path that still breaks the invariant: its steps as replayed and the invariant's message.
pub(crate) struct Shrunk {
    pub steps: Vec<PathStep>,
    pub message: String,
}

/// What shrinking a path found.
pub(crate) enum Shrinking {
    /// No step can be dropped; `Some` holds the shorter path when one or more were.
    OneMinimal(Option<Shrunk>),
    /// The budget ran out first (a shorter path found so far is kept).
    Unfinished(Option<Shrunk>),
}

/// What shrinking needs of the explorer.
pub(crate) struct Shrinker<'a, W> {
    pub world: &'a mut W,
    pub actions: &'a [Action<W>],
    /// For every action, the actions it requires to have run (by index).
    pub required: &'a [Vec<usize>],
    pub initial: &'a Context,
    /// Replays left.
    pub budget: &'a mut u32,
    /// When shrinking stops, replays left or not.
    pub deadline: std::time::Instant,
}

impl<W: World> Shrinker<'_, W> {
    /// Shrinks `path` (action indexes) for `invariant`. A world error (a reset that fails)
    /// ends shrinking.
    pub(crate) fn shrink(
        &mut self,
        invariant: &Invariant<W>,
        path: &[usize],
    ) -> Result<Shrinking, WorldError> {
        let mut best = path.to_vec();
        let mut found: Option<Shrunk> = None;
        'shorter: loop {
            for drop in 0..best.len().saturating_sub(1) {
                if *self.budget == 0 || std::time::Instant::now() >= self.deadline {
                    return Ok(Shrinking::Unfinished(found));
                }
                *self.budget -= 1;
                let mut candidate = best.clone();
                candidate.remove(drop);
                if let Some(shrunk) = self.replay(invariant, &candidate)? {
                    best = candidate;
                    found = Some(shrunk);
                    continue 'shorter;
                }
            }
            return Ok(Shrinking::OneMinimal(found));
        }
    }

    /// Replays `path` after a reset; the steps and message when every precondition held and
    /// the invariant is broken after the last step.
    fn replay(
        &mut self,
        invariant: &Invariant<W>,
        path: &[usize],
    ) -> Result<Option<Shrunk>, WorldError> {
        self.world.reset()?;
        let mut ctx = self.initial.clone();
        let mut calls = vec![0u32; self.actions.len()];
        let mut steps = Vec::with_capacity(path.len());
        for &action in path {
            if !allowed(self.actions, action, &ctx, &calls, &self.required[action]) {
                return Ok(None);
            }
            let outcome = self.actions[action].run(self.world, &mut ctx)?;
            calls[action] += 1;
            steps.push(PathStep {
                action: self.actions[action].name.clone(),
                exchange: outcome.exchange,
                earlier: outcome.earlier,
            });
        }
        let message = broken_after(self.world, invariant, &ctx, &steps)?;
        Ok(message.map(|message| Shrunk { steps, message }))
    }
}

/// Whether action number `index` of `actions` may run given the path's context, the calls of
/// each action so far and the actions it requires (the explorer's rule, in one place).
pub(crate) fn allowed<W>(
    actions: &[Action<W>],
    index: usize,
    ctx: &Context,
    calls: &[u32],
    required: &[usize],
) -> bool {
    let action = &actions[index];
    let calls_of = |i: usize| calls.get(i).copied().unwrap_or(0);
    if action.max_calls.is_some_and(|max| calls_of(index) >= max) {
        return false;
    }
    if !required.iter().all(|&r| calls_of(r) > 0) {
        return false;
    }
    action.preconditions.iter().all(|pre| match pre {
        Precondition::ActionsRun(_) => true,
        Precondition::KeysPresent(keys) => keys.iter().all(|k| ctx.has(k)),
        Precondition::Check(predicate) => predicate(ctx),
    })
}
