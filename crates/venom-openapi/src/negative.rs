//! Negative inputs (`--negative`): for each action, requests that break the document's schema
//! (a body property of the wrong type, a required property left out, a path parameter of the
//! wrong type), which the API must refuse with a 4xx, never a 2xx or a 5xx.

use crate::document::{resolve_refs, Operation, ParameterLocation, Spec, StatusKey};
use crate::infer::PlannedAction;
use serde_json::{json, Map, Value};

/// The 4xx statuses a refusal of invalid input may have besides the documented ones.
const REFUSALS: [u16; 2] = [400, 422];

/// The negative actions for `actions` (the plan's, each of one operation of `spec`): for each
/// that sends a JSON body with a schema, one whose body breaks it; for each with an integer or
/// number path parameter, one that sends text there. Each expects a 4xx: the documented ones
/// and 400, 422 (and 404 for a path parameter).
pub fn negative_actions(spec: &Spec, actions: &[PlannedAction]) -> Vec<PlannedAction> {
    let mut negatives = Vec::new();
    let taken = |name: &str, negatives: &[PlannedAction]| {
        actions.iter().chain(negatives).any(|a| a.name == name)
    };
    for action in actions {
        let operation = &spec.operations[action.operation];
        if let Some((body, why)) = invalid_body(spec, operation) {
            let name = format!("{}_invalid_body", action.name);
            if !taken(&name, &negatives) {
                negatives.push(negative(action, operation, name, &[], why, |a| {
                    a.body = Some(body.clone())
                }));
            }
        }
        for parameter in operation
            .parameters
            .iter()
            .filter(|p| p.location == ParameterLocation::Path && is_numeric(spec, &p.schema))
        {
            let name = format!(
                "{}_invalid_{}",
                action.name,
                crate::names::snake_case(&parameter.name)
            );
            if taken(&name, &negatives) {
                continue;
            }
            let why = format!(
                "`{{{}}}` is a number; this sends `not-a-number`",
                parameter.name
            );
            negatives.push(negative(action, operation, name, &[404], why, |a| {
                let mut path = operation.path.clone();
                for (bound, key) in &action.bindings {
                    let value = match bound == &parameter.name {
                        true => "not-a-number".to_string(),
                        false => format!("{{{{ ctx.{key} }}}}"),
                    };
                    path = path.replace(&format!("{{{bound}}}"), &value);
                }
                let query = a
                    .path
                    .split_once('?')
                    .map(|(_, q)| format!("?{q}"))
                    .unwrap_or_default();
                a.path = format!("{path}{query}");
                let replaced = action
                    .bindings
                    .iter()
                    .find(|(bound, _)| bound == &parameter.name)
                    .map(|(_, key)| key.clone());
                let still_used: Vec<&String> = action
                    .bindings
                    .iter()
                    .filter(|(bound, _)| bound != &parameter.name)
                    .map(|(_, key)| key)
                    .collect();
                a.requires
                    .retain(|key| Some(key) != replaced.as_ref() || still_used.contains(&key));
            }));
        }
    }
    negatives
}

/// A negative copy of `action`: no extract, no call limit, `expect` the refusals.
fn negative(
    action: &PlannedAction,
    operation: &Operation,
    name: String,
    also: &[u16],
    why: String,
    change: impl FnOnce(&mut PlannedAction),
) -> PlannedAction {
    let mut expect: Vec<u16> = operation
        .responses
        .iter()
        .filter_map(|r| match r.status {
            StatusKey::Code(code) if (400..500).contains(&code) => Some(code),
            _ => None,
        })
        .chain(REFUSALS)
        .chain(also.iter().copied())
        .collect();
    expect.sort_unstable();
    expect.dedup();
    let mut negative = PlannedAction {
        name,
        expect: Some(expect),
        extract: Vec::new(),
        max_calls: None,
        reasons: vec![format!(
            "negative input: {why}; it must be refused with a 4xx"
        )],
        ..action.clone()
    };
    change(&mut negative);
    negative
}

/// A body that breaks the operation's schema, and how: the first required property (else the
/// first property) with a value of another type; else, for an object, the body as a string.
fn invalid_body(spec: &Spec, operation: &Operation) -> Option<(Value, String)> {
    let schema = operation.request_body.as_ref()?.schema.as_ref()?;
    let (schema, _) = resolve_refs(&spec.document, schema, "").ok()?;
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let target = required
        .first()
        .copied()
        .or_else(|| properties.and_then(|p| p.keys().next().map(String::as_str)));
    if let Some(name) = target {
        let property = properties
            .and_then(|p| p.get(name))
            .unwrap_or(&Value::Bool(true));
        let (property, _) = resolve_refs(&spec.document, property, "").ok()?;
        let wrong = wrong_type(property.get("type"));
        let mut body = match crate::example::example_for(&spec.document, schema) {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        let why = format!("`{name}` is sent as {}", kind(&wrong));
        body.insert(name.to_string(), wrong);
        return Some((Value::Object(body), why));
    }
    (schema.get("type").and_then(Value::as_str) == Some("object")).then(|| {
        (
            json!("not an object"),
            "the body is a string, not an object".to_string(),
        )
    })
}

/// A value of another type than `declared`.
fn wrong_type(declared: Option<&Value>) -> Value {
    match declared.and_then(Value::as_str) {
        Some("string") => json!(12345),
        Some("integer" | "number") => json!("not-a-number"),
        Some("boolean") => json!("not-a-boolean"),
        Some("array") => json!("not-a-list"),
        Some("object") => json!("not-an-object"),
        _ => json!({ "unexpected": [] }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        _ => "an object",
    }
}

fn is_numeric(spec: &Spec, schema: &Value) -> bool {
    resolve_refs(&spec.document, schema, "")
        .ok()
        .and_then(|(s, _)| s.get("type").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|t| t == "integer" || t == "number")
}
