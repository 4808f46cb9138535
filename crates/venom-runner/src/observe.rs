//! What an `[[observe]]` request contributes to the state: the projection of its answer.

use crate::world::Sent;
use serde_json::{json, Value};
use venom_engine::Context;
use venom_http::last_value;
use venom_scenario::{ObserveSpec, Projection, Vars};

/// The observation of `spec` from what its request got: the status and the kept part of the
/// body (without what `ignore` removes), or why there is none. Only what the scenario asked to
/// keep enters the state, so a timestamp it ignores makes no new state. An `expr` sees `ctx`
/// (the `[context]`) and the answer as `last`.
pub(crate) fn kept(spec: &ObserveSpec, sent: &Sent, ctx: &Context) -> Value {
    let exchange = match sent {
        Sent::Exchanged(exchange) => exchange,
        Sent::NotBuilt(why) => return json!({ "not_sent": why }),
    };
    let Some(response) = &exchange.response else {
        return json!({ "no_response": exchange.error });
    };
    let mut body = response.body.clone();
    for ignored in &spec.ignore {
        ignored.remove_from(&mut body);
    }
    let kept = match &spec.keep {
        Projection::Whole => body,
        Projection::Path(path) => Value::Array(path.extract_all(&body)),
        Projection::Expr(expr) => {
            let mut answer = response.clone();
            answer.body = body;
            let last = last_value(&answer);
            match expr.eval(&Vars::with_last(ctx, &last)) {
                Ok(value) => value,
                Err(e) => json!({ "cannot_evaluate": e.to_string() }),
            }
        }
    };
    json!({ "status": response.status, "kept": kept })
}
