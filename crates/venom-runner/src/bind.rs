//! Turning the scenario's declarations into the engine's actions and invariants over an
//! [`HttpWorld`].

use crate::sql_check;
use crate::world::{HttpWorld, Sent};
use serde_json::Value;
use std::sync::Arc;
use venom_engine::{
    Action, Context, Exchange, Invariant, Outcome, Precondition, Severity, StepView, Verdict,
    WorldError,
};
use venom_http::{apply_response, last_value};
use venom_scenario::{ActionSpec, Builtin, Condition, InvariantSpec, Scenario, Vars};

/// The scenario's actions as engine actions.
pub fn actions(scenario: &Scenario) -> Vec<Action<HttpWorld>> {
    scenario.actions.iter().map(action).collect()
}

fn action(spec: &ActionSpec) -> Action<HttpWorld> {
    let shared = Arc::new(spec.clone());
    let mut action = Action::new(spec.name.clone(), move |world: &mut HttpWorld, ctx| {
        run_action(&shared, world, ctx)
    })
    .weight(spec.weight);
    if let Some(max) = spec.max_calls {
        action = action.max_calls(max);
    }
    let requires = &spec.requires;
    if !requires.actions.is_empty() {
        action = action.requires(Precondition::ActionsRun(requires.actions.clone()));
    }
    if !requires.keys.is_empty() {
        action = action.requires(Precondition::KeysPresent(requires.keys.clone()));
    }
    if let Some(expr) = requires.expr.clone() {
        // A guard that cannot be evaluated (e.g. it reads a key that is absent) is not satisfied.
        action = action.requires(Precondition::Check(Arc::new(move |ctx: &Context| {
            expr.eval_bool(&Vars::new(ctx)).unwrap_or(false)
        })));
    }
    action
}

/// Sends the action's request; on a 2xx answer, extracts and sets context keys.
fn run_action(
    spec: &ActionSpec,
    world: &mut HttpWorld,
    ctx: &mut Context,
) -> Result<Outcome, WorldError> {
    let sent = world
        .exchange(&spec.request, spec.auth.as_ref(), &Vars::new(ctx))
        .map_err(|e| WorldError::caused(format!("action `{}`", spec.name), e))?;
    let exchange = match sent {
        Sent::Exchanged(exchange) => exchange,
        Sent::NotBuilt(why) => {
            // Skipped on this path, the state unchanged: said once, not an abort.
            return Ok(Outcome {
                exchange: None,
                warnings: vec![format!(
                    "action `{}` skipped where its request cannot be built: {why}",
                    spec.name
                )],
            });
        }
    };
    let mut warnings = Vec::new();
    if let Some(response) = &exchange.response {
        let unmatched = apply_response(spec, ctx, response)
            .map_err(|e| WorldError::caused(format!("action `{}`", spec.name), e))?;
        for (key, extractor) in unmatched {
            if world.first_unmatched_extract(&spec.name, key) {
                warnings.push(format!(
                    "action `{}`: extract `{key}` = `{}` matched nothing in the {} answer \
                     ({}), so `{key}` stays unset and what requires it cannot run",
                    spec.name,
                    extractor.source(),
                    response.status,
                    brief(&response.body)
                ));
            }
        }
    }
    Ok(Outcome {
        exchange: Some(exchange),
        warnings,
    })
}

/// The scenario's invariants as engine invariants, the enabled built-ins first.
pub fn invariants(scenario: &Scenario) -> Vec<Invariant<HttpWorld>> {
    let mut all: Vec<Invariant<HttpWorld>> = scenario
        .active_builtins()
        .into_iter()
        .map(|builtin| builtin_invariant(builtin, scenario))
        .collect();
    all.extend(scenario.invariants.iter().map(invariant));
    all
}

/// The check of `builtin` for `scenario`.
fn builtin_invariant(builtin: Builtin, scenario: &Scenario) -> Invariant<HttpWorld> {
    match builtin {
        Builtin::NoServerErrors => Invariant::new(
            builtin.name(),
            Severity::Critical,
            |_: &mut HttpWorld, view: &StepView<'_>| Ok(no_server_errors(view)),
        ),
        Builtin::ExpectedStatus => {
            let specs: Arc<Vec<ActionSpec>> = Arc::new(scenario.actions.clone());
            let skip_5xx = scenario.builtins.no_server_errors;
            Invariant::new(
                builtin.name(),
                Severity::Medium,
                move |_: &mut HttpWorld, view: &StepView<'_>| {
                    Ok(expected_status(&specs, view, skip_5xx))
                },
            )
        }
    }
}

fn no_server_errors(view: &StepView<'_>) -> Verdict {
    let Some(exchange) = view.exchange else {
        return Verdict::Holds;
    };
    let request = &exchange.request;
    let message = match &exchange.response {
        Some(response) if response.status < 500 => return Verdict::Holds,
        Some(response) => format!(
            "{} {} answered {}: {}",
            request.method,
            request.url,
            response.status,
            brief(&response.body)
        ),
        None => unanswered(exchange),
    };
    Verdict::Broken {
        message,
        evidence: Some(Box::new(exchange.clone())),
    }
}

fn expected_status(specs: &[ActionSpec], view: &StepView<'_>, skip_5xx: bool) -> Verdict {
    let (Some(name), Some(exchange)) = (view.action, view.exchange) else {
        return Verdict::Holds;
    };
    let Some(response) = &exchange.response else {
        return Verdict::Holds;
    };
    let Some(expect) = specs
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.expect.as_ref())
    else {
        return Verdict::Holds;
    };
    if expect.contains(&response.status) || (skip_5xx && response.status >= 500) {
        return Verdict::Holds;
    }
    let expected: Vec<String> = expect.iter().map(u16::to_string).collect();
    Verdict::Broken {
        message: format!(
            "{name}: {} {} answered {}, expected {}: {}",
            exchange.request.method,
            exchange.request.url,
            response.status,
            expected.join(" or "),
            brief(&response.body)
        ),
        evidence: Some(Box::new(exchange.clone())),
    }
}

fn invariant(spec: &InvariantSpec) -> Invariant<HttpWorld> {
    let shared = Arc::new(spec.clone());
    Invariant::new(
        spec.name.clone(),
        spec.severity,
        move |world: &mut HttpWorld, view: &StepView<'_>| check_invariant(&shared, world, view),
    )
}

/// Evaluates a user invariant: its guard, its own HTTP check (if any), then its expression (or
/// its SQL query).
fn check_invariant(
    spec: &InvariantSpec,
    world: &mut HttpWorld,
    view: &StepView<'_>,
) -> Result<Verdict, WorldError> {
    let step_last = view
        .exchange
        .and_then(|e| e.response.as_ref())
        .map(last_value);
    if let Some(when) = &spec.when {
        let vars = vars(view.ctx, step_last.as_ref());
        match when.eval_bool(&vars) {
            Ok(true) => {}
            Ok(false) => return Ok(Verdict::Holds),
            Err(e) => return Ok(Verdict::broken(format!("cannot evaluate `when`: {e}"))),
        }
    }
    let expr = match &spec.condition {
        Condition::Expr(expr) => expr,
        Condition::Sql(sql) => return check_sql(spec, sql, world, view, step_last.as_ref()),
    };
    let (last, evidence) = match &spec.check {
        Some(check) => {
            let sent = world
                .check_exchange(check, &Vars::new(view.ctx))
                .map_err(|e| WorldError::caused(format!("invariant `{}`", spec.name), e))?;
            let exchange = match sent {
                Sent::Exchanged(exchange) => exchange,
                Sent::NotBuilt(why) => {
                    return Ok(Verdict::broken(format!(
                        "its check cannot be built here: {why}"
                    )))
                }
            };
            if exchange.response.is_none() {
                return Ok(Verdict::Broken {
                    message: format!("check {}", unanswered(&exchange)),
                    evidence: Some(Box::new(exchange)),
                });
            }
            (
                exchange.response.as_ref().map(last_value),
                Some(Box::new(exchange)),
            )
        }
        None => (step_last, view.exchange.cloned().map(Box::new)),
    };
    if last.is_none() && expr.uses_last() {
        // The initial state, or a request without a response (which `no_server_errors` reports).
        return Ok(Verdict::Holds);
    }
    let vars = vars(view.ctx, last.as_ref());
    let message = match expr.eval_bool(&vars) {
        Ok(true) => return Ok(Verdict::Holds),
        Ok(false) => false_message(spec, expr.source(), &vars),
        Err(e) => format!("cannot evaluate the invariant: {e}"),
    };
    Ok(Verdict::Broken { message, evidence })
}

/// Evaluates an invariant written as SQL: its query, run against the PostgreSQL store, must
/// return one row holding `true`. A query that cannot run ends the run (it ran once at setup).
fn check_sql(
    spec: &InvariantSpec,
    sql: &str,
    world: &mut HttpWorld,
    view: &StepView<'_>,
    last: Option<&Value>,
) -> Result<Verdict, WorldError> {
    let rows = world
        .sql(sql)
        .map_err(|e| WorldError::caused(format!("invariant `{}`", spec.name), e))?;
    let message = match sql_check::truth(&rows) {
        Ok(true) => return Ok(Verdict::Holds),
        Ok(false) => false_message(spec, sql, &vars(view.ctx, last)),
        Err(e) => format!("`{sql}` {e}"),
    };
    Ok(Verdict::Broken {
        message,
        evidence: view.exchange.cloned().map(Box::new),
    })
}

/// The message of an invariant whose condition `source` is false: its `message` template, or
/// a plain statement.
fn false_message(spec: &InvariantSpec, source: &str, vars: &Vars<'_>) -> String {
    match &spec.message {
        Some(template) => template
            .render(vars)
            .unwrap_or_else(|e| format!("`{source}` is false ({e})")),
        None => format!("`{source}` is false"),
    }
}

fn vars<'a>(ctx: &'a Context, last: Option<&'a Value>) -> Vars<'a> {
    match last {
        Some(last) => Vars::with_last(ctx, last),
        None => Vars::new(ctx),
    }
}

/// `METHOD URL got no response: why`, for an exchange without a response.
fn unanswered(exchange: &Exchange) -> String {
    let request = &exchange.request;
    match &exchange.error {
        Some(error) => format!(
            "{} {} got no response: {error}",
            request.method, request.url
        ),
        None => format!("{} {} got no response", request.method, request.url),
    }
}

/// A response body shortened for one-line messages.
fn brief(body: &Value) -> String {
    const MAX: usize = 200;
    let text = match body {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= MAX {
        return text;
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut}…")
}
