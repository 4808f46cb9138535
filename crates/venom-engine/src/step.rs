//! One step of an exploration, before it is recorded: the invariants checked before the action,
//! the action, the observation, the fingerprint and the invariants checked after it. The
//! sequential explorer and the parallel workers both run steps through [`execute`]; recording
//! them in the graph is the explorer's job.

use crate::action::Action;
use crate::config::ExplorerConfig;
use crate::context::Context;
use crate::exchange::Exchange;
use crate::fingerprint::{fingerprint, Canonical, Fingerprint};
use crate::graph::{Recorded, StateId};
use crate::invariant::{Invariant, StepView, Timing, Verdict};
use crate::observation::Observation;
use crate::world::{World, WorldError};

/// What the explorer's actions and invariants are, for a step (shared by every worker).
pub(crate) struct Model<'a, W> {
    pub actions: &'a [Action<W>],
    pub invariants: &'a [Invariant<W>],
    /// Context keys that identify a state; `None` means every key.
    pub state_keys: Option<&'a [String]>,
}

impl<'a, W> Model<'a, W> {
    /// The model of these actions and invariants under `config`'s state keys.
    pub fn of(
        actions: &'a [Action<W>],
        invariants: &'a [Invariant<W>],
        config: &'a ExplorerConfig,
    ) -> Self {
        Model {
            actions,
            invariants,
            state_keys: config.state_keys.as_deref(),
        }
    }
}

// Not derived: a derive would ask `W: Clone`, and only the references are copied.
impl<W> Clone for Model<'_, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W> Copy for Model<'_, W> {}

/// An invariant found broken, by index, with what its check said.
pub(crate) struct Broken {
    pub invariant: usize,
    pub message: String,
    pub evidence: Option<Box<Exchange>>,
}

/// What running one action from one state produced.
pub(crate) struct StepResult {
    /// The state the step started from.
    pub state: StateId,
    /// The action run.
    pub action: usize,
    /// Invariants checked before the action that are broken in `state` and were not known to
    /// be, with the observation of `state` that shows it (taken only when there is one).
    pub before: Vec<Broken>,
    /// The observation of `state` for `before`.
    pub before_observation: Observation,
    /// What the action sent, boxed (a step result moves several times, and an in-memory
    /// model sends nothing): its last exchange and those before it.
    pub sent: Option<Box<Recorded>>,
    /// What the action asked to tell the user.
    pub warnings: Vec<String>,
    /// The context after the action.
    pub ctx: Context,
    /// The world's observation after the action (empty when the world fed its fingerprint
    /// through [`World::observe_into`] and no invariant broke: nothing will show it).
    pub observation: Observation,
    /// The fingerprint of the state reached.
    pub fingerprint: Fingerprint,
    /// Bit `i` set: invariant `i` is broken in the state reached.
    pub broken: Vec<u64>,
    /// Invariants broken in the state reached that held in `state`.
    pub new_hits: Vec<Broken>,
}

impl<W: World> Model<'_, W> {
    /// The fingerprint of a state with this context and observation.
    pub fn fingerprint(&self, ctx: &Context, observation: &Observation) -> Fingerprint {
        fingerprint(ctx, self.state_keys, observation)
    }

    /// Observes `world` and fingerprints the state with `ctx`: through
    /// [`World::observe_into`] when the world offers it (no observation is built then), else
    /// through [`World::observe`], whose observation comes back with it.
    pub fn observe_fingerprint(
        &self,
        world: &mut W,
        ctx: &Context,
    ) -> Result<(Fingerprint, Option<Observation>), WorldError> {
        let mut h = Canonical::new();
        h.add_context(ctx, self.state_keys);
        match h.feed(|sink| world.observe_into(sink))? {
            (true, _) => return Ok((h.finish(), None)),
            // A world that fed values and then declined: start again without them.
            (false, true) => {
                h = Canonical::new();
                h.add_context(ctx, self.state_keys);
            }
            (false, false) => {}
        }
        let observation = world.observe()?;
        h.add_observation(&observation);
        Ok((h.finish(), Some(observation)))
    }

    /// Runs `action` in `world`, which is in `state` (with context `ctx`, invariants
    /// `known_broken` broken there).
    pub fn execute(
        &self,
        world: &mut W,
        (state, known_broken): (StateId, &[u64]),
        action: usize,
        mut ctx: Context,
    ) -> Result<StepResult, WorldError> {
        let before = self.check_before(world, known_broken, action, &ctx)?;
        let before_observation = if before.is_empty() {
            Observation::new()
        } else {
            // Observed again only here, where a report will show the state.
            world.observe()?
        };
        let outcome = self.actions[action].run(world, &mut ctx)?;
        let sent = outcome.exchange.map(|last| {
            Box::new(Recorded {
                last,
                earlier: outcome.earlier,
            })
        });
        let (fingerprint, observation) = self.observe_fingerprint(world, &ctx)?;
        let view = StepView {
            ctx: &ctx,
            action: Some(&self.actions[action].name),
            exchange: sent.as_ref().map(|sent| &sent.last),
            earlier: sent.as_ref().map_or(&[], |sent| &sent.earlier),
        };
        let mut new_hits = broken_at(self.invariants, Timing::AfterStep, world, &view)?;
        let mut broken = Vec::new();
        for hit in &new_hits {
            set_bit(&mut broken, hit.invariant);
        }
        new_hits.retain(|hit| !has_bit(known_broken, hit.invariant));
        let observation = match observation {
            Some(observation) => observation,
            // Observed again only here, where a report will show the state.
            None if !new_hits.is_empty() => world.observe()?,
            None => Observation::new(),
        };
        Ok(StepResult {
            state,
            action,
            before,
            before_observation,
            sent,
            warnings: outcome.warnings,
            ctx,
            observation,
            fingerprint,
            broken,
            new_hits,
        })
    }

    /// The invariants checked before each action that are broken where `action` is about to
    /// run and were not known to be.
    fn check_before(
        &self,
        world: &mut W,
        known_broken: &[u64],
        action: usize,
        ctx: &Context,
    ) -> Result<Vec<Broken>, WorldError> {
        if self
            .invariants
            .iter()
            .all(|i| i.timing != Timing::BeforeAction)
        {
            return Ok(Vec::new());
        }
        let name = &self.actions[action].name;
        let view = StepView {
            ctx,
            action: Some(name),
            exchange: None,
            earlier: &[],
        };
        let mut before = broken_at(self.invariants, Timing::BeforeAction, world, &view)?;
        before.retain(|hit| !has_bit(known_broken, hit.invariant));
        for hit in &mut before {
            hit.message = format!("before `{name}`: {}", hit.message);
        }
        Ok(before)
    }
}

/// The invariants checked at `timing` that are broken, in order (empty, without allocating,
/// when every one holds).
pub(crate) fn broken_at<W>(
    invariants: &[Invariant<W>],
    timing: Timing,
    world: &mut W,
    view: &StepView<'_>,
) -> Result<Vec<Broken>, WorldError> {
    let mut broken = Vec::new();
    for (invariant, inv) in invariants.iter().enumerate() {
        if inv.timing != timing {
            continue;
        }
        if let Verdict::Broken { message, evidence } = inv.check(world, view)? {
            broken.push(Broken {
                invariant,
                message,
                evidence,
            });
        }
    }
    Ok(broken)
}

/// Sets bit `i`, growing `bits` as needed (an empty set allocates nothing).
pub(crate) fn set_bit(bits: &mut Vec<u64>, i: usize) {
    if bits.len() <= i / 64 {
        bits.resize(i / 64 + 1, 0);
    }
    bits[i / 64] |= 1 << (i % 64);
}

/// Whether bit `i` is set (bits past the end of `bits` read as clear).
pub(crate) fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64)
        .is_some_and(|word| word & (1 << (i % 64)) != 0)
}
