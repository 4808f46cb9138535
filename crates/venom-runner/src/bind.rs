//! Turning the scenario's declarations into the engine's actions and invariants over an
//! [`HttpWorld`].

use crate::spec_checks;
use crate::world::{HttpWorld, Sent};
use serde_json::Value;
use std::sync::Arc;
use venom_engine::{
    Action, Context, Exchange, Invariant, Outcome, Precondition, ResponseRecord, StepView, Timing,
    Verdict, WorldError,
};
use venom_http::{apply_extracts, apply_set, last_value};
use venom_scenario::{
    ActionSpec, Builtin, CallSpec, Check, Condition, InvariantSpec, Requires, Scenario, StepSpec,
    Template, Vars,
};

/// The scenario's actions as engine actions, then its concurrent steps.
pub fn actions(scenario: &Scenario) -> Vec<Action<HttpWorld>> {
    let concurrent = scenario
        .concurrent
        .iter()
        .map(|c| crate::concurrent::action(c, &scenario.actions));
    scenario
        .actions
        .iter()
        .map(action)
        .chain(concurrent)
        .collect()
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
    for precondition in preconditions(&spec.requires) {
        action = action.requires(precondition);
    }
    action
}

/// The engine's preconditions for `requires`.
pub(crate) fn preconditions(requires: &Requires) -> Vec<Precondition> {
    let mut all = Vec::new();
    if !requires.actions.is_empty() {
        all.push(Precondition::ActionsRun(requires.actions.clone()));
    }
    if !requires.keys.is_empty() {
        all.push(Precondition::KeysPresent(requires.keys.clone()));
    }
    if let Some(expr) = requires.expr.clone() {
        // A guard that cannot be evaluated (e.g. it reads a key that is absent) is not satisfied.
        all.push(Precondition::Check(Arc::new(move |ctx: &Context| {
            expr.eval_bool(&Vars::new(ctx)).unwrap_or(false)
        })));
    }
    all
}

/// Sends the action's requests in order (each as its role, if any), the context flowing
/// from each to the next: a step's `extract` keys are stored from its answer, and the
/// action's `set` after its last step answered 2xx. A step that fails (its status outside its
/// `expect`, or not 2xx without one) or cannot be built ends the action there.
fn run_action(
    spec: &ActionSpec,
    world: &mut HttpWorld,
    ctx: &mut Context,
) -> Result<Outcome, WorldError> {
    let mut exchanges: Vec<Exchange> = Vec::new();
    let mut warnings = Vec::new();
    let mut completed = true;
    for (index, step) in spec.steps.iter().enumerate() {
        world.read_list_before(
            &step.request,
            (step.role.as_deref(), spec.auth.as_ref()),
            &Vars::new(ctx),
        )?;
        let sent = world
            .exchange(
                &step.request,
                step.role.as_deref(),
                spec.auth.as_ref(),
                &Vars::new(ctx),
            )
            .map_err(|e| WorldError::caused(format!("action `{}`", spec.name), e))?;
        let exchange = match sent {
            Sent::Exchanged(exchange) => exchange,
            Sent::NotBuilt(why) if index == 0 => {
                // Skipped on this path, the state unchanged: said once, not an abort.
                return Ok(Outcome {
                    warnings: vec![format!(
                        "action `{}` skipped where its request cannot be built: {why}",
                        spec.name
                    )],
                    ..Outcome::default()
                });
            }
            Sent::NotBuilt(why) => {
                warnings.push(format!(
                    "action `{}` stopped before its step {} where its request cannot be built: {why}",
                    spec.name,
                    index + 1
                ));
                completed = false;
                break;
            }
        };
        let succeeded = match &exchange.response {
            Some(response) => {
                extract_from(spec, step, response, (world, ctx), &mut warnings);
                step.succeeded(response.status)
            }
            None => false,
        };
        exchanges.push(exchange);
        if !succeeded && index + 1 < spec.steps.len() {
            completed = false;
            break;
        }
    }
    if completed {
        if let Some(response) = exchanges.last().and_then(|e| e.response.as_ref()) {
            apply_set(&spec.set, ctx, response)
                .map_err(|e| WorldError::caused(format!("action `{}`", spec.name), e))?;
        }
    }
    let exchange = exchanges.pop();
    Ok(Outcome {
        exchange,
        earlier: exchanges,
        warnings,
    })
}

/// Stores in `ctx` what `step` of `spec` extracts from its `response`; an entry that matched
/// nothing is warned about the first time.
pub(crate) fn extract_from(
    spec: &ActionSpec,
    step: &StepSpec,
    response: &ResponseRecord,
    (world, ctx): (&mut HttpWorld, &mut Context),
    warnings: &mut Vec<String>,
) {
    for entry in apply_extracts(&step.extract, ctx, response) {
        if world.first_unmatched_extract(&spec.name, &entry.key) {
            warnings.push(format!(
                "action `{}`: extract `{}` = `{}` matched nothing in the {} answer ({}), so `{}` \
                 stays unset and what requires it cannot run",
                spec.name,
                entry.key,
                entry.path.source(),
                response.status,
                brief(&response.body),
                entry.key
            ));
        }
    }
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
    let (name, severity) = (builtin.name(), builtin.severity());
    let specs: Arc<Vec<ActionSpec>> = Arc::new(scenario.explored_steps());
    match builtin {
        Builtin::NoServerErrors => {
            Invariant::new(name, severity, |_, view| Ok(no_server_errors(view)))
        }
        Builtin::ExpectedStatus => {
            let skip_5xx = scenario.builtins.no_server_errors;
            Invariant::new(name, severity, move |_, view| {
                Ok(expected_status(&specs, view, skip_5xx))
            })
        }
        Builtin::ResponseSchema => Invariant::new(name, severity, |world, view| {
            Ok(spec_checks::response_schema(world, view))
        }),
        Builtin::UseAfterFree => Invariant::new(name, severity, move |world, view| {
            spec_checks::use_after_free(world, view, &specs)
        }),
        Builtin::CreateThenRead => Invariant::new(name, severity, move |world, view| {
            spec_checks::create_then_read(world, view, &specs)
        }),
        Builtin::FailedCreateLeavesNothing => Invariant::new(name, severity, move |world, view| {
            spec_checks::failed_create_leaves_nothing(world, view, &specs)
        }),
        Builtin::AuthEnforced => Invariant::new(name, severity, |world, view| {
            spec_checks::auth_enforced(world, view)
        }),
    }
}

/// Every exchange of the step, in the order sent (an action with `steps` sends several).
fn step_exchanges<'v>(view: &StepView<'v>) -> impl Iterator<Item = &'v Exchange> {
    view.earlier.iter().chain(view.exchange)
}

fn no_server_errors(view: &StepView<'_>) -> Verdict {
    for exchange in step_exchanges(view) {
        let request = &exchange.request;
        let message = match &exchange.response {
            Some(response) if response.status < 500 => continue,
            Some(response) => format!(
                "{} {} answered {}: {}",
                request.method,
                request.url,
                response.status,
                brief(&response.body)
            ),
            None => unanswered(exchange),
        };
        return Verdict::Broken {
            message,
            evidence: Some(Box::new(exchange.clone())),
        };
    }
    Verdict::Holds
}

/// Each exchange of the step against the `expect` of the action's request that sent it.
fn expected_status(specs: &[ActionSpec], view: &StepView<'_>, skip_5xx: bool) -> Verdict {
    let Some(name) = view.action else {
        return Verdict::Holds;
    };
    let Some(spec) = specs.iter().find(|s| s.name == name) else {
        return Verdict::Holds;
    };
    for (step, exchange) in spec.steps.iter().zip(step_exchanges(view)) {
        let (Some(expect), Some(response)) = (&step.expect, &exchange.response) else {
            continue;
        };
        if expect.contains(&response.status) || (skip_5xx && response.status >= 500) {
            continue;
        }
        let expected: Vec<String> = expect.iter().map(u16::to_string).collect();
        return Verdict::Broken {
            message: format!(
                "{name}: {} {} answered {}, expected {}: {}",
                exchange.request.method,
                exchange.request.url,
                response.status,
                expected.join(" or "),
                brief(&response.body)
            ),
            evidence: Some(Box::new(exchange.clone())),
        };
    }
    Verdict::Holds
}

fn invariant(spec: &InvariantSpec) -> Invariant<HttpWorld> {
    let shared = Arc::new(spec.clone());
    let invariant = Invariant::new(
        spec.name.clone(),
        spec.severity,
        move |world: &mut HttpWorld, view: &StepView<'_>| check_invariant(&shared, world, view),
    );
    match spec.timing {
        Timing::AfterStep => invariant,
        Timing::BeforeAction => invariant.before_each_action(),
    }
}

/// Evaluates a user invariant: its guard, its own HTTP calls (its `check`, or its named
/// `checks`), then its expression (or its SQL query).
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
        Condition::OffendingRows(sql) => return check_offending_rows(spec, sql, world, view),
    };
    let (last, mut evidence) = match &spec.check {
        Some(check) => match call(spec, check, world, &Vars::new(view.ctx))? {
            Ok((value, exchange)) => (Some(value), Some(Box::new(exchange))),
            Err(broken) => return Ok(broken),
        },
        None => (step_last, view.exchange.cloned().map(Box::new)),
    };
    // Each check sees the answers of those before it.
    let mut calls = Vec::with_capacity(spec.checks.len());
    for check in &spec.checks {
        let earlier = Vars::new(view.ctx).with_calls(&calls);
        let answer = match check {
            Check::Http(http) => call(spec, http, world, &earlier)?.map(|(value, exchange)| {
                evidence = Some(Box::new(exchange));
                value
            }),
            Check::Sql { name, query } => query_check(spec, name, query, world, &earlier)?,
        };
        match answer {
            Ok(value) => calls.push((check.name().to_string(), value)),
            Err(broken) => return Ok(broken),
        }
    }
    if last.is_none() && expr.uses_last() {
        // The initial state, or a request without a response (which `no_server_errors` reports).
        return Ok(Verdict::Holds);
    }
    let vars = vars(view.ctx, last.as_ref()).with_calls(&calls);
    let message = match expr.eval_bool(&vars) {
        Ok(true) => return Ok(Verdict::Holds),
        Ok(false) => false_message(spec, expr.source(), &vars),
        Err(e) => format!("cannot evaluate the invariant: {e}"),
    };
    Ok(Verdict::Broken { message, evidence })
}

/// Runs the `sql` check `name` of an invariant, its template rendered with `vars`: its answer
/// as `{rows}` (each row a list of text values, `null` for NULL), or the verdict when it
/// cannot be rendered. A query that fails ends the run, as an invariant's `sql` does.
fn query_check(
    spec: &InvariantSpec,
    name: &str,
    query: &Template,
    world: &mut HttpWorld,
    vars: &Vars<'_>,
) -> Result<Result<Value, Verdict>, WorldError> {
    let sql = match query.render(vars) {
        Ok(sql) => sql,
        Err(e) => {
            return Ok(Err(Verdict::broken(format!(
                "its check `{name}` cannot be built here: {e}"
            ))))
        }
    };
    let rows = world.sql(&sql).map_err(|e| {
        WorldError::caused(format!("invariant `{}`: its check `{name}`", spec.name), e)
    })?;
    Ok(Ok(serde_json::json!({ "rows": rows })))
}

/// Sends one HTTP call of an invariant, rendered with `vars`: its answer as `{status, body,
/// headers, …}` with the exchange, or the verdict when it could not be sent or got no answer.
fn call(
    spec: &InvariantSpec,
    check: &CallSpec,
    world: &mut HttpWorld,
    vars: &Vars<'_>,
) -> Result<Result<(Value, Exchange), Verdict>, WorldError> {
    let sent = world
        .check_exchange(&check.request, check.role.as_deref(), vars)
        .map_err(|e| WorldError::caused(format!("invariant `{}`", spec.name), e))?;
    let named = match check.name.as_str() {
        "" => "its check".to_string(),
        name => format!("its check `{name}`"),
    };
    let exchange = match sent {
        Sent::Exchanged(exchange) => exchange,
        Sent::NotBuilt(why) => {
            return Ok(Err(Verdict::broken(format!(
                "{named} cannot be built here: {why}"
            ))))
        }
    };
    match exchange.response.as_ref().map(last_value) {
        Some(value) => Ok(Ok((value, exchange))),
        None => Ok(Err(Verdict::Broken {
            message: format!("{named}: {}", unanswered(&exchange)),
            evidence: Some(Box::new(exchange)),
        })),
    }
}

/// Evaluates an invariant written as SQL: its query, run against the API's database, must
/// return one row holding true. A query that cannot run ends the run (it ran once at setup).
fn check_sql(
    spec: &InvariantSpec,
    sql: &str,
    world: &mut HttpWorld,
    view: &StepView<'_>,
    last: Option<&Value>,
) -> Result<Verdict, WorldError> {
    let truth = world
        .sql_truth(sql)
        .map_err(|e| WorldError::caused(format!("invariant `{}`", spec.name), e))?;
    let message = match truth {
        Ok(true) => return Ok(Verdict::Holds),
        Ok(false) => false_message(spec, sql, &vars(view.ctx, last)),
        Err(e) => format!("`{sql}` {e}"),
    };
    Ok(Verdict::Broken {
        message,
        evidence: view.exchange.cloned().map(Box::new),
    })
}

/// How many offending rows a message shows.
const ROWS_SHOWN: usize = 5;

/// Evaluates an invariant written as `offending_rows`: its query must return no row. The
/// message shows the first rows found (its `message` template sees them as `rows`).
fn check_offending_rows(
    spec: &InvariantSpec,
    sql: &str,
    world: &mut HttpWorld,
    view: &StepView<'_>,
) -> Result<Verdict, WorldError> {
    let rows = world
        .sql(sql)
        .map_err(|e| WorldError::caused(format!("invariant `{}`", spec.name), e))?;
    if rows.is_empty() {
        return Ok(Verdict::Holds);
    }
    let shown: Vec<String> = rows
        .iter()
        .take(ROWS_SHOWN)
        .map(|row| {
            let values: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
            format!("({})", values.join(", "))
        })
        .collect();
    let more = match rows.len().saturating_sub(ROWS_SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    let found = format!(
        "`{sql}` found {} offending row{}: {}{more}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        shown.join("; ")
    );
    let message = match &spec.message {
        Some(template) => {
            let rows = vec![("rows".to_string(), serde_json::json!(rows))];
            let vars = Vars::new(view.ctx).with_calls(&rows);
            template
                .render(&vars)
                .map(|text| format!("{text} ({found})"))
                .unwrap_or_else(|e| format!("{found} ({e})"))
        }
        None => found,
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
