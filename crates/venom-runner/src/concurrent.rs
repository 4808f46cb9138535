//! Concurrent steps as engine actions: several requests sent at the same moment.

use crate::bind::{extract_from, preconditions};
use crate::world::HttpWorld;
use std::sync::Arc;
use venom_engine::{Action, Context, Outcome, WorldError};
use venom_http::apply_set;
use venom_scenario::{ActionSpec, ConcurrentSpec, Vars};

/// The engine action of `spec`: enabled where every member is (each member's preconditions;
/// at most as many times per path as its members' smallest `max_calls`).
pub(crate) fn action(spec: &ConcurrentSpec, actions: &[ActionSpec]) -> Action<HttpWorld> {
    let members: Arc<Vec<ActionSpec>> =
        Arc::new(spec.members.iter().map(|&m| actions[m].clone()).collect());
    let name = spec.name.clone();
    let mut distinct = spec.members.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let limit = distinct.iter().filter_map(|&m| actions[m].max_calls).min();
    let weight = distinct.iter().map(|&m| actions[m].weight).sum::<f64>() / distinct.len() as f64;
    let mut action = Action::new(spec.name.clone(), move |world: &mut HttpWorld, ctx| {
        run(&name, &members, world, ctx)
    })
    .weight(weight);
    if let Some(max) = limit {
        action = action.max_calls(max);
    }
    for &member in &distinct {
        for precondition in preconditions(&actions[member].requires) {
            action = action.requires(precondition);
        }
    }
    action
}

/// Sends the members' requests at once, then applies each answer (its `extract`, then its
/// `set` when 2xx) to the context in the members' order: the last member's values win.
fn run(
    name: &str,
    members: &[ActionSpec],
    world: &mut HttpWorld,
    ctx: &mut Context,
) -> Result<Outcome, WorldError> {
    let requests: Vec<_> = members
        .iter()
        .map(|m| {
            let step = &m.steps[0];
            (&step.request, step.role.as_deref(), m.auth.as_ref())
        })
        .collect();
    let mut exchanges = match world.exchange_together(&requests, &Vars::new(ctx))? {
        Ok(exchanges) => exchanges,
        Err(why) => {
            return Ok(Outcome {
                warnings: vec![format!(
                    "concurrent step `{name}` skipped where its requests cannot be built: {why}"
                )],
                ..Outcome::default()
            })
        }
    };
    let mut warnings = Vec::new();
    for (member, exchange) in members.iter().zip(&exchanges) {
        let Some(response) = &exchange.response else {
            continue;
        };
        extract_from(
            member,
            &member.steps[0],
            response,
            (world, ctx),
            &mut warnings,
        );
        apply_set(&member.set, ctx, response)
            .map_err(|e| WorldError::caused(format!("concurrent step `{name}`"), e))?;
    }
    let last = exchanges.pop();
    Ok(Outcome {
        exchange: last,
        earlier: exchanges,
        warnings,
    })
}
