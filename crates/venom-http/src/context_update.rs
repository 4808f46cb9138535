//! What a response does to the context: a step's `extract` keys and an action's `set`
//! assignments.

use crate::response::last_value;
use venom_engine::{Context, ResponseRecord};
use venom_scenario::{ActionSpec, EvalError, Extract, TemplateValue, Vars};

/// Stores in `ctx` each entry of `extract` that applies to the `response`'s status (2xx, or
/// any with `extract_on = "any"`) and whose JSONPath matches, in file order. Returns the
/// entries that applied and matched nothing.
pub fn apply_extracts<'s>(
    extract: &'s [Extract],
    ctx: &mut Context,
    response: &ResponseRecord,
) -> Vec<&'s Extract> {
    let mut unmatched = Vec::new();
    for entry in extract.iter().filter(|e| e.applies_to(response.status)) {
        match entry.path.extract(&response.body) {
            Some(value) => ctx.set(entry.key.clone(), value),
            None => unmatched.push(entry),
        }
    }
    unmatched
}

/// On a 2xx `response`, stores the `set` assignments in `ctx`, in file order (other statuses
/// leave `ctx` unchanged). Fails when a template cannot be rendered.
pub fn apply_set(
    set: &[(String, TemplateValue)],
    ctx: &mut Context,
    response: &ResponseRecord,
) -> Result<(), EvalError> {
    if set.is_empty() || !(200..300).contains(&response.status) {
        return Ok(());
    }
    let last = last_value(response);
    for (key, template) in set {
        let value = template
            .render(&Vars::with_last(ctx, &last))
            .map_err(|e| EvalError(format!("set `{key}`: {e}")))?;
        ctx.set(key.clone(), value);
    }
    Ok(())
}

/// Updates `ctx` from the `response` to the request of a single-request action: its `extract`
/// keys, then its `set` assignments. Returns the `extract` entries that matched nothing.
pub fn apply_response<'s>(
    spec: &'s ActionSpec,
    ctx: &mut Context,
    response: &ResponseRecord,
) -> Result<Vec<&'s Extract>, EvalError> {
    let extract = spec.steps.last().map_or(&[][..], |s| s.extract.as_slice());
    let unmatched = apply_extracts(extract, ctx, response);
    apply_set(&spec.set, ctx, response)?;
    Ok(unmatched)
}
