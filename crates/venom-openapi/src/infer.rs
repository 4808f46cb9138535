//! From a document to the actions of a scenario: which operation produces an identifier
//! (`POST /orders` answers `id`) and which consumes it (`{orderId}` or `{id}` under
//! `/orders/…`, or an OpenAPI link), so that each consumer runs with the value its producer
//! extracted and only after it.

use crate::document::{Operation, ParameterLocation, Spec, StatusKey};
use crate::example::example_for;
use crate::names::{resource_of_parameter, singular, snake_case};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What a scenario generated from a document holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// One action per operation (but the reset).
    pub actions: Vec<PlannedAction>,
    /// Collection reads (`GET /orders`) observed after every step: the state venom tells apart.
    pub observations: Vec<PlannedObservation>,
    /// Context keys no operation produces, with a documented or minimal value.
    pub context: Vec<ContextEntry>,
    /// The operation that looks like a reset of the API (`POST /admin/reset`), as
    /// (method, path), proposed as the `[reset]` request.
    pub reset: Option<(String, String)>,
}

/// An action generated for one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAction {
    /// Its name (from `operationId`, else method and path), unique in the plan.
    pub name: String,
    /// The operation's index in [`Spec::operations`].
    pub operation: usize,
    /// Uppercase method.
    pub method: String,
    /// The path, its parameters as `{{ ctx.KEY }}` templates, required query parameters added.
    pub path: String,
    /// Each path parameter and the context key it is sent from.
    pub bindings: Vec<(String, String)>,
    /// Required header parameters and their values.
    pub headers: Vec<(String, String)>,
    /// The JSON body, if the operation takes one.
    pub body: Option<Value>,
    /// The documented statuses below 500, when every response is documented by its code.
    pub expect: Option<Vec<u16>>,
    /// What it extracts: (context key, JSONPath).
    pub extract: Vec<(String, String)>,
    /// The context keys it needs (its path parameters' producers).
    pub requires: Vec<String>,
    /// At most this many calls per path (producers of top-level resources: 1).
    pub max_calls: Option<u32>,
    /// Why each key is extracted or required: the inference, for the file's comments.
    pub reasons: Vec<String>,
}

/// An observation of a collection read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedObservation {
    /// Its name (the read's action name).
    pub name: String,
    /// The path read.
    pub path: String,
}

/// A context key given a value up front.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextEntry {
    /// The key.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Which parameter needs it.
    pub used_by: String,
}

/// An operation that creates a resource and answers its identifier.
#[derive(Debug, Clone)]
struct Producer {
    operation: usize,
    /// The resource, singular (`order`).
    resource: String,
    /// The collection path it creates in (`/orders`, `/orders/{id}/refunds`).
    collection: String,
    /// The context key it fills (`order_id`).
    key: String,
    /// Where the identifier is in its answer (`$.id`).
    json_path: String,
}

/// Infers the plan of a scenario for `spec`.
pub fn plan(spec: &Spec) -> Plan {
    let reset = spec.operations.iter().position(looks_like_reset);
    let producers = producers(spec);
    let linked = linked_parameters(spec, &producers);
    let mut names = BTreeSet::new();
    let mut context: BTreeMap<String, ContextEntry> = BTreeMap::new();
    let mut actions = Vec::new();
    for (index, operation) in spec.operations.iter().enumerate() {
        if Some(index) == reset {
            continue;
        }
        let name = unique(&mut names, action_name(operation));
        let mut action = PlannedAction {
            name,
            operation: index,
            method: operation.method.clone(),
            path: operation.path.clone(),
            bindings: Vec::new(),
            headers: Vec::new(),
            body: None,
            expect: expect(operation),
            extract: Vec::new(),
            requires: Vec::new(),
            max_calls: None,
            reasons: Vec::new(),
        };
        bind_path_parameters(spec, index, &producers, &linked, &mut action, &mut context);
        add_query_and_headers(spec, operation, &mut action);
        action.body = operation.request_body.as_ref().map(|body| {
            body.example.clone().unwrap_or_else(|| {
                match body.schema.as_ref().map(|s| example_for(&spec.document, s)) {
                    Some(Value::Null) | None => Value::Object(Map::new()),
                    Some(value) => value,
                }
            })
        });
        for producer in producers.iter().filter(|p| p.operation == index) {
            if !action.extract.iter().any(|(k, _)| k == &producer.key) {
                action
                    .extract
                    .push((producer.key.clone(), producer.json_path.clone()));
                action.reasons.push(format!(
                    "produces `{}`: its answer's `{}` identifies the {} it creates",
                    producer.key, producer.json_path, producer.resource
                ));
            }
            if operation.template.parameter_names().next().is_none() {
                action.max_calls = Some(1);
            }
        }
        for ((target, parameter), (key, json_path)) in &linked {
            if target.0 == index && !action.extract.iter().any(|(k, _)| k == key) {
                action.extract.push((key.clone(), json_path.clone()));
                action.reasons.push(format!(
                    "produces `{key}` for `{parameter}` of {} (an OpenAPI link)",
                    target.1
                ));
            }
        }
        actions.push(action);
    }
    let observations = observations(spec, &actions);
    Plan {
        actions,
        observations,
        context: context.into_values().collect(),
        reset: reset.map(|i| {
            let op = &spec.operations[i];
            (op.method.clone(), op.path.clone())
        }),
    }
}

/// An operation whose path or id says it resets the API (`POST /admin/reset`), not a
/// password.
fn looks_like_reset(operation: &Operation) -> bool {
    let says = |text: &str| text.to_ascii_lowercase().contains("reset");
    let password = |text: &str| text.to_ascii_lowercase().contains("password");
    let id = operation.operation_id.as_deref().unwrap_or_default();
    matches!(operation.method.as_str(), "POST" | "DELETE" | "PUT")
        && operation.template.parameter_names().next().is_none()
        && (says(&operation.path) || says(id))
        && !password(&operation.path)
        && !password(id)
}

fn action_name(operation: &Operation) -> String {
    match &operation.operation_id {
        Some(id) => snake_case(id),
        None => snake_case(&format!("{} {}", operation.method, operation.path)),
    }
}

fn unique(names: &mut BTreeSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !names.insert(candidate.clone()) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    candidate
}

/// The documented statuses below 500, when every response key is a code (a range or
/// `default` allows statuses no list can name).
fn expect(operation: &Operation) -> Option<Vec<u16>> {
    let mut codes = Vec::new();
    for response in &operation.responses {
        match response.status {
            StatusKey::Code(code) if code < 500 => codes.push(code),
            StatusKey::Code(_) => {}
            StatusKey::Range(_) | StatusKey::Default => return None,
        }
    }
    (!codes.is_empty()).then_some(codes)
}

/// Every operation that creates a resource in a collection (`POST` or `PUT` on a path that
/// ends in a literal segment) and whose 2xx answer holds an identifier.
fn producers(spec: &Spec) -> Vec<Producer> {
    let mut found = Vec::new();
    for (index, operation) in spec.operations.iter().enumerate() {
        if !matches!(operation.method.as_str(), "POST" | "PUT") {
            continue;
        }
        let Some(last) = operation.path.trim_end_matches('/').rsplit('/').next() else {
            continue;
        };
        if last.contains('{') || last.is_empty() {
            continue;
        }
        let resource = singular(last);
        let Some(json_path) = identifier_in_answer(spec, operation, &resource) else {
            continue;
        };
        found.push(Producer {
            operation: index,
            key: format!("{resource}_id"),
            resource,
            collection: operation.path.trim_end_matches('/').to_string(),
            json_path,
        });
    }
    found
}

/// The JSONPath of the identifier in the operation's 2xx answer: its `id` property, else
/// `{resource}Id` / `{resource}_id`.
fn identifier_in_answer(spec: &Spec, operation: &Operation, resource: &str) -> Option<String> {
    let schema = operation
        .responses
        .iter()
        .filter(|r| matches!(r.status, StatusKey::Code(200..=299) | StatusKey::Range(2)))
        .find_map(|r| r.schema.as_ref())?;
    let properties = properties(spec, schema, 0);
    let camel = format!("{}Id", resource.replace('_', ""));
    ["id".to_string(), camel, format!("{resource}_id")]
        .into_iter()
        .find(|name| properties.iter().any(|p| p.eq_ignore_ascii_case(name)))
        .map(|name| {
            let actual = properties
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&name))
                .cloned()
                .unwrap_or(name);
            format!("$.{actual}")
        })
}

/// The property names of an object schema (`$ref`s followed, `allOf` merged).
pub(crate) fn properties(spec: &Spec, schema: &Value, depth: usize) -> Vec<String> {
    if depth > 8 {
        return Vec::new();
    }
    let Ok((schema, _)) = crate::document::resolve_refs(&spec.document, schema, "") else {
        return Vec::new();
    };
    let mut names: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        names.extend(properties(spec, part, depth + 1));
    }
    names
}

/// The parameters OpenAPI links fill: (operation index, its label), parameter name →
/// (context key, JSONPath in the linking answer), recorded on the linking operation.
type Linked = BTreeMap<((usize, String), String), (String, String)>;

/// For each link of a 2xx answer whose value is in the body (`$response.body#/id`): the
/// operation that answers it extracts the value, and the linked operation's parameter reads
/// it. Keyed by the *linking* operation, valued by the target parameter's key.
fn linked_parameters(spec: &Spec, producers: &[Producer]) -> Linked {
    let mut linked = Linked::new();
    for (index, operation) in spec.operations.iter().enumerate() {
        for response in &operation.responses {
            for link in &response.links {
                let Some(target) = spec
                    .operations
                    .iter()
                    .find(|o| o.operation_id.as_deref() == Some(link.operation_id.as_str()))
                else {
                    continue;
                };
                for (parameter, expression) in &link.parameters {
                    let Some(pointer) = expression.strip_prefix("$response.body#") else {
                        continue;
                    };
                    let json_path = pointer_to_json_path(pointer);
                    let key = producers
                        .iter()
                        .find(|p| p.operation == index && p.json_path == json_path)
                        .map(|p| p.key.clone())
                        .unwrap_or_else(|| snake_case(parameter));
                    let label = format!("{} {}", target.method, target.path);
                    linked.insert(((index, label), parameter.clone()), (key, json_path));
                }
            }
        }
    }
    linked
}

/// `/id` → `$.id`, `/data/0/id` → `$.data[0].id`.
fn pointer_to_json_path(pointer: &str) -> String {
    let mut path = "$".to_string();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            path.push_str(&format!("[{segment}]"));
        } else if segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            path.push('.');
            path.push_str(&segment);
        } else {
            path.push_str(&format!("['{}']", segment.replace('\'', "\\'")));
        }
    }
    path
}

/// Each path parameter of the operation becomes `{{ ctx.KEY }}`: the key a link or a
/// producer fills (then it is required), or a `[context]` key with an example value.
fn bind_path_parameters(
    spec: &Spec,
    index: usize,
    producers: &[Producer],
    linked: &Linked,
    action: &mut PlannedAction,
    context: &mut BTreeMap<String, ContextEntry>,
) {
    let operation = &spec.operations[index];
    let names: Vec<String> = operation
        .template
        .parameter_names()
        .map(str::to_string)
        .collect();
    for name in names {
        let from_link = linked
            .iter()
            .find(|(((_, label), parameter), _)| {
                parameter == &name && label == &format!("{} {}", operation.method, operation.path)
            })
            .map(|(_, (key, _))| key.clone());
        let key = match from_link {
            Some(key) => {
                action
                    .reasons
                    .push(format!("`{{{name}}}` is `{key}` (an OpenAPI link)"));
                Some(key)
            }
            None => producer_for(operation, &name, producers, index).map(|p| {
                action.reasons.push(format!(
                    "`{{{name}}}` is `{}`, the {} id {} {} answers",
                    p.key,
                    p.resource,
                    spec.operations[p.operation].method,
                    spec.operations[p.operation].path
                ));
                p.key.clone()
            }),
        };
        let key = match key {
            Some(key) => {
                if !action.requires.contains(&key) {
                    action.requires.push(key.clone());
                }
                key
            }
            None => {
                let key = snake_case(&name);
                let parameter = operation
                    .parameters
                    .iter()
                    .find(|p| p.location == ParameterLocation::Path && p.name == name);
                let value = parameter
                    .and_then(|p| p.example.clone())
                    .or_else(|| parameter.map(|p| example_for(&spec.document, &p.schema)))
                    .filter(|v| !v.is_null())
                    .unwrap_or(Value::String("1".into()));
                context.entry(key.clone()).or_insert(ContextEntry {
                    key: key.clone(),
                    value,
                    used_by: format!("{} {}", operation.method, operation.path),
                });
                key
            }
        };
        action.path = action
            .path
            .replace(&format!("{{{name}}}"), &format!("{{{{ ctx.{key} }}}}"));
        action.bindings.push((name, key));
    }
}

/// The producer of the resource the path parameter `name` identifies: named by the
/// parameter (`orderId`), or by the segment before it (`/orders/{id}`); of those, the one
/// whose collection the path is under (the most specific).
fn producer_for<'p>(
    operation: &Operation,
    name: &str,
    producers: &'p [Producer],
    index: usize,
) -> Option<&'p Producer> {
    let resource = resource_of_parameter(name)
        .or_else(|| operation.template.segment_before(name).map(singular))?;
    producers
        .iter()
        .filter(|p| p.resource == resource && p.operation != index)
        .max_by_key(|p| {
            let under = operation.path.starts_with(&format!("{}/", p.collection));
            (under, p.collection.len())
        })
}

/// Required query parameters are appended with a value; required headers (but the
/// credentials and content negotiation, which venom sends) are added.
fn add_query_and_headers(spec: &Spec, operation: &Operation, action: &mut PlannedAction) {
    let mut query = Vec::new();
    for parameter in operation.parameters.iter().filter(|p| p.required) {
        let value = parameter
            .example
            .clone()
            .unwrap_or_else(|| example_for(&spec.document, &parameter.schema));
        let text = match value {
            Value::String(s) => s,
            Value::Null => "1".into(),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        match parameter.location {
            ParameterLocation::Query => query.push(format!(
                "{}={}",
                percent_encode(&parameter.name),
                percent_encode(&text)
            )),
            ParameterLocation::Header
                if !matches!(
                    parameter.name.to_ascii_lowercase().as_str(),
                    "authorization" | "content-type" | "accept"
                ) =>
            {
                action.headers.push((parameter.name.clone(), text));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        action.path = format!("{}?{}", action.path, query.join("&"));
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The collection reads: `GET` without parameters to fill, needing no credentials, whose 2xx
/// answer is a list or holds one.
fn observations(spec: &Spec, actions: &[PlannedAction]) -> Vec<PlannedObservation> {
    actions
        .iter()
        .filter(|a| a.method == "GET" && a.requires.is_empty() && !a.path.contains("{{"))
        .filter(|a| {
            let operation = &spec.operations[a.operation];
            !operation.is_secured()
                && operation
                    .responses
                    .iter()
                    .filter(|r| {
                        matches!(r.status, StatusKey::Code(200..=299) | StatusKey::Range(2))
                    })
                    .filter_map(|r| r.schema.as_ref())
                    .any(|s| holds_a_list(spec, s))
        })
        .map(|a| PlannedObservation {
            name: a.name.clone(),
            path: a.path.clone(),
        })
        .collect()
}

fn holds_a_list(spec: &Spec, schema: &Value) -> bool {
    let Ok((schema, _)) = crate::document::resolve_refs(&spec.document, schema, "") else {
        return false;
    };
    let is_array = |s: &Value| {
        crate::document::resolve_refs(&spec.document, s, "")
            .ok()
            .and_then(|(s, _)| s.get("type").cloned())
            .is_some_and(|t| {
                t == "array" || t.as_array().is_some_and(|l| l.contains(&"array".into()))
            })
    };
    is_array(schema)
        || schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.values().any(is_array))
}
