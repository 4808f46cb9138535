//! What a response does to the context: an action's `extract` keys and `set` assignments.

use crate::response::last_value;
use venom_engine::{Context, ResponseRecord};
use venom_scenario::{ActionSpec, EvalError, Extractor, Vars};

/// Updates `ctx` from the action's `response`: on a 2xx answer, stores its `extract` keys (when
/// the JSONPath matches) and then its `set` assignments, in file order; other statuses leave
/// `ctx` unchanged. Returns the `extract` entries (key, JSONPath) that matched nothing in a 2xx
/// answer.
/// Fails when a `set` template cannot be rendered.
pub fn apply_response<'s>(
    spec: &'s ActionSpec,
    ctx: &mut Context,
    response: &ResponseRecord,
) -> Result<Vec<&'s (String, Extractor)>, EvalError> {
    let mut unmatched = Vec::new();
    if !(200..300).contains(&response.status) {
        return Ok(unmatched);
    }
    for entry in &spec.extract {
        let (key, extractor) = entry;
        match extractor.extract(&response.body) {
            Some(value) => ctx.set(key.clone(), value),
            None => unmatched.push(entry),
        }
    }
    if spec.set.is_empty() {
        return Ok(unmatched);
    }
    let last = last_value(response);
    for (key, template) in &spec.set {
        let value = template
            .render(&Vars::with_last(ctx, &last))
            .map_err(|e| EvalError(format!("set `{key}`: {e}")))?;
        ctx.set(key.clone(), value);
    }
    Ok(unmatched)
}
