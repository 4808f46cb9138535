//! The built-in checks that read the scenario's OpenAPI document (`[openapi] spec`):
//! `response_schema`, `use_after_free`, `create_then_read`, `failed_create_leaves_nothing`
//! and `auth_enforced`. Each judges the step's exchanges; some send a GET of their own.

use crate::world::{HttpWorld, Sent};
use serde_json::Value;
use std::sync::Arc;
use venom_engine::{Exchange, ResponseRecord, StepView, Verdict, WorldError};
use venom_openapi::{Conformance, Nonconformance, Operation, Spec, SpecError};
use venom_scenario::{ActionSpec, OpenApiSource, RequestSpec, Template, Vars};

/// The largest document fetched from a URL.
const MAX_FETCHED_BYTES: usize = venom_openapi::MAX_SPEC_BYTES;
/// How long fetching a document may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The OpenAPI document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// It was read, and it is not a valid document.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// It could not be fetched from its URL.
    #[error("cannot fetch the OpenAPI document {url}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// Its URL answered something else than the document.
    #[error("cannot fetch the OpenAPI document {url}: {why}")]
    Answer {
        /// The URL.
        url: String,
        /// What it answered.
        why: String,
    },
}

/// Reads the document at `source`: a file, or a URL fetched with a GET (at most
/// [`venom_openapi::MAX_SPEC_BYTES`], within 20 s).
pub fn load_document(source: &OpenApiSource) -> Result<Spec, DocumentError> {
    let full_url = match source {
        OpenApiSource::File(path) => return Ok(venom_openapi::load_file(path)?),
        OpenApiSource::Url(url) => url,
    };
    // Messages name the URL without the credentials it may carry (`user:password@`).
    let url = &source.to_string();
    let fetch = |source: reqwest::Error| DocumentError::Fetch {
        url: url.clone(),
        source: source.without_url(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DocumentError::Answer {
            url: url.clone(),
            why: format!("cannot start the async runtime: {e}"),
        })?;
    let text = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(fetch)?;
        let mut response = client.get(full_url).send().await.map_err(fetch)?;
        if !response.status().is_success() {
            return Err(DocumentError::Answer {
                url: url.clone(),
                why: format!("it answered {}", response.status()),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_FETCHED_BYTES {
                return Err(DocumentError::Answer {
                    url: url.clone(),
                    why: format!("it is larger than {MAX_FETCHED_BYTES} bytes"),
                });
            }
        }
        String::from_utf8(body).map_err(|_| DocumentError::Answer {
            url: url.clone(),
            why: "it is not UTF-8 text".into(),
        })
    })?;
    Ok(venom_openapi::parse(&text, url)?)
}

/// The conformance judge of `spec` for requests sent to `base_url`.
pub(crate) fn conformance(spec: Spec, base_url: &str) -> Result<Conformance, SpecError> {
    Conformance::new(Arc::new(spec), base_path(base_url))
}

/// The path part of a base URL (`http://h:1/api/v3` → `/api/v3`).
fn base_path(base_url: &str) -> &str {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    rest.find('/').map_or("", |at| &rest[at..])
}

/// Every exchange of the step with the action step that sent it (an action with `steps`
/// sends several).
fn exchanges<'v>(view: &StepView<'v>) -> impl Iterator<Item = (usize, &'v Exchange)> {
    view.earlier.iter().chain(view.exchange).enumerate()
}

/// `response_schema`: each answer's status is documented for its operation and its JSON body
/// validates against the documented schema.
pub(crate) fn response_schema(world: &HttpWorld, view: &StepView<'_>) -> Verdict {
    let Some(conformance) = world.conformance() else {
        return Verdict::Holds;
    };
    for (_, exchange) in exchanges(view) {
        let Some(response) = &exchange.response else {
            continue;
        };
        let request = &exchange.request;
        let Some((index, operation)) = conformance.operation(&request.method, &request.url) else {
            continue;
        };
        if response.truncated {
            continue;
        }
        let message = match conformance.check(index, response.status, content_type(response), &response.body) {
            Ok(()) => continue,
            Err(Nonconformance::UndocumentedStatus { documented }) => format!(
                "{} {} answered {}, which the document does not list for {} {} (documented: {})",
                request.method,
                request.url,
                response.status,
                operation.method,
                operation.path,
                documented.join(", ")
            ),
            Err(Nonconformance::Schema(mismatch)) => format!(
                "{} {} answered {} with a body that does not match the schema documented for {} {}: at `{}`: {}",
                request.method,
                request.url,
                response.status,
                operation.method,
                operation.path,
                if mismatch.pointer.is_empty() { "/" } else { &mismatch.pointer },
                mismatch.message
            ),
        };
        return broken(message, exchange.clone());
    }
    Verdict::Holds
}

/// `use_after_free`: after a DELETE answered 2xx, a GET of the same URL (when the document has
/// one) must not answer 2xx.
pub(crate) fn use_after_free(
    world: &mut HttpWorld,
    view: &StepView<'_>,
    actions: &[ActionSpec],
) -> Result<Verdict, WorldError> {
    let Some(conformance) = world.conformance().cloned() else {
        return Ok(Verdict::Holds);
    };
    for (index, exchange) in exchanges(view) {
        let request = &exchange.request;
        if request.method != "DELETE" || !answered_2xx(exchange) {
            continue;
        }
        let Some((_, deleted)) = conformance.operation("DELETE", &request.url) else {
            continue;
        };
        if !has_operation(conformance.spec(), "GET", &deleted.path) {
            continue;
        }
        let Some(read) = read_back(world, &request.url, (view, actions, index))? else {
            continue;
        };
        if answered_2xx(&read) {
            return Ok(broken(format!(
                    "DELETE {} answered {}, yet GET of it still answers {}: the deleted resource is still there",
                    request.url,
                    status(exchange),
                    status(&read)
                ), read));
        }
    }
    Ok(Verdict::Holds)
}

/// `create_then_read`: a create (POST on a collection) that answered 2xx with an `id` can be
/// read back at the collection's `/{id}` (when the document has that GET).
pub(crate) fn create_then_read(
    world: &mut HttpWorld,
    view: &StepView<'_>,
    actions: &[ActionSpec],
) -> Result<Verdict, WorldError> {
    let Some(conformance) = world.conformance().cloned() else {
        return Ok(Verdict::Holds);
    };
    for (index, exchange) in exchanges(view) {
        let Some((url, id)) = created(&conformance, exchange, true) else {
            continue;
        };
        let Some(read) = read_back(world, &url, (view, actions, index))? else {
            continue;
        };
        let gone = read
            .response
            .as_ref()
            .is_some_and(|r| matches!(r.status, 404 | 410));
        if gone {
            return Ok(broken(
                format!(
                    "POST {} answered {} with id {id}, yet GET of it answers {}",
                    exchange.request.url,
                    status(exchange),
                    status(&read)
                ),
                read,
            ));
        }
    }
    Ok(Verdict::Holds)
}

/// `failed_create_leaves_nothing`: a create that answered 4xx (not 401, 403 or 429) left the
/// collection's list as long as it was just before (the world reads it before every create),
/// and the id it answered, if any, cannot be read.
pub(crate) fn failed_create_leaves_nothing(
    world: &mut HttpWorld,
    view: &StepView<'_>,
    actions: &[ActionSpec],
) -> Result<Verdict, WorldError> {
    let Some(conformance) = world.conformance().cloned() else {
        return Ok(Verdict::Holds);
    };
    for (index, exchange) in exchanges(view) {
        let refused = exchange.response.as_ref().is_some_and(|r| {
            (400..500).contains(&r.status) && !matches!(r.status, 401 | 403 | 429)
        });
        if exchange.request.method != "POST" || !refused {
            continue;
        }
        if let Some((url, id)) = created(&conformance, exchange, false) {
            if let Some(read) = read_back(world, &url, (view, actions, index))? {
                if answered_2xx(&read) {
                    return Ok(broken(
                        format!(
                            "POST {} answered {}, yet the id {id} it answered can be read",
                            exchange.request.url,
                            status(exchange)
                        ),
                        read,
                    ));
                }
            }
        }
        let Some((list_path, before)) = world.take_list_before(&exchange.request.url) else {
            continue;
        };
        let Some(list) = read_back(world, &list_path, (view, actions, index))? else {
            continue;
        };
        let Some(after) = list.response.as_ref().and_then(|r| list_length(&r.body)) else {
            continue;
        };
        if after > before {
            return Ok(broken(format!(
                    "POST {} answered {}, yet the list at {list_path} grew from {before} to {after} items",
                    exchange.request.url,
                    status(exchange)
                ), list));
        }
    }
    Ok(Verdict::Holds)
}

/// `auth_enforced`: an operation that requires credentials must not answer 2xx without them.
/// A request sent without credentials is judged as it is; a GET (or HEAD) sent with them that
/// answered 2xx is sent again without any.
pub(crate) fn auth_enforced(
    world: &mut HttpWorld,
    view: &StepView<'_>,
) -> Result<Verdict, WorldError> {
    let Some(conformance) = world.conformance().cloned() else {
        return Ok(Verdict::Holds);
    };
    for (_, exchange) in exchanges(view) {
        let request = &exchange.request;
        let Some((_, operation)) = conformance.operation(&request.method, &request.url) else {
            continue;
        };
        if !operation.is_secured() || !answered_2xx(exchange) {
            continue;
        }
        if !carries_credentials(conformance.spec(), exchange) {
            return Ok(broken(
                format!(
                    "{} {} requires credentials ({}), yet answered {} to a request without any",
                    request.method,
                    request.url,
                    operation.security.join(", "),
                    status(exchange)
                ),
                exchange.clone(),
            ));
        }
        if !matches!(request.method.as_str(), "GET" | "HEAD") {
            continue; // sent again, an unsafe request would change the state it is judged in
        }
        let path = world.relative_path(&request.url);
        let spec = literal_request(&request.method, &path);
        let Sent::Exchanged(anonymous) = world.exchange_without_credentials(&spec)? else {
            continue;
        };
        if answered_2xx(&anonymous) {
            return Ok(broken(
                format!(
                    "{} {} requires credentials ({}), yet answered {} when sent again without any",
                    request.method,
                    request.url,
                    operation.security.join(", "),
                    status(&anonymous)
                ),
                anonymous,
            ));
        }
    }
    Ok(Verdict::Holds)
}

/// The collection list to read before a POST to `url`, if the document has a create there and
/// a GET of the same path whose answer is a list: its path relative to the base URL.
pub(crate) fn list_of_collection(conformance: &Conformance, url: &str) -> Option<String> {
    let (_, create) = conformance.operation("POST", url)?;
    if create.path.ends_with('}') {
        return None;
    }
    has_operation(conformance.spec(), "GET", &create.path).then(|| without_query(url).to_string())
}

/// The number of items of a list answer: the body if it is a list, else its first member
/// that is one.
pub(crate) fn list_length(body: &Value) -> Option<usize> {
    match body {
        Value::Array(items) => Some(items.len()),
        Value::Object(map) => map.values().find_map(|v| v.as_array().map(Vec::len)),
        _ => None,
    }
}

/// For a POST on a collection that answered 2xx (`success`) or not, with an `id` in its body:
/// the URL of the created resource and the id, when the document has a GET at the
/// collection's `/{…}`.
fn created(
    conformance: &Conformance,
    exchange: &Exchange,
    success: bool,
) -> Option<(String, String)> {
    let request = &exchange.request;
    if request.method != "POST" || answered_2xx(exchange) != success {
        return None;
    }
    let (_, create) = conformance.operation("POST", &request.url)?;
    if create.path.ends_with('}') {
        return None;
    }
    let readable = conformance
        .spec()
        .operations
        .iter()
        .any(|op| op.method == "GET" && is_item_of(op, &create.path));
    if !readable {
        return None;
    }
    let id = match exchange.response.as_ref()?.body.get("id")? {
        Value::String(s) if !s.is_empty() && !s.contains(['/', '?', '#']) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let collection = without_query(&request.url).trim_end_matches('/');
    Some((format!("{collection}/{id}"), id))
}

/// Whether `operation`'s path is `collection` followed by one parameter segment.
fn is_item_of(operation: &Operation, collection: &str) -> bool {
    operation
        .path
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix("/{"))
        .is_some_and(|rest| rest.ends_with('}') && !rest.contains('/'))
}

fn has_operation(spec: &Spec, method: &str, path: &str) -> bool {
    spec.operations
        .iter()
        .any(|op| op.method == method && op.path == path)
}

/// Sends a GET of `url` (an absolute URL of the API, or a path) as the action's step `index`
/// sent its request: as its role, or with its authentication. `None` when it cannot be built.
fn read_back(
    world: &mut HttpWorld,
    url: &str,
    (view, actions, index): (&StepView<'_>, &[ActionSpec], usize),
) -> Result<Option<Exchange>, WorldError> {
    let path = world.relative_path(url);
    let action = view
        .action
        .and_then(|name| actions.iter().find(|a| a.name == name));
    let role = action
        .and_then(|a| a.steps.get(index))
        .and_then(|s| s.role.as_deref());
    let spec = literal_request("GET", &path);
    let sent = match role {
        Some(role) => world.check_exchange(&spec, Some(role), &Vars::new(view.ctx))?,
        None => world.exchange(
            &spec,
            None,
            action.and_then(|a| a.auth.as_ref()),
            &Vars::new(view.ctx),
        )?,
    };
    Ok(match sent {
        Sent::Exchanged(exchange) => Some(exchange),
        Sent::NotBuilt(_) => None,
    })
}

fn literal_request(method: &str, path: &str) -> RequestSpec {
    RequestSpec {
        method: method.to_string(),
        path: Template::literal(path),
        body: None,
        headers: Vec::new(),
    }
}

/// Whether the request carried credentials: an `Authorization` or `Cookie` header, or an API
/// key the document declares (header or query parameter).
fn carries_credentials(spec: &Spec, exchange: &Exchange) -> bool {
    let request = &exchange.request;
    let has_header = |name: &str| {
        request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if has_header("authorization") || has_header("cookie") {
        return true;
    }
    spec.security_schemes
        .iter()
        .filter_map(|s| s.api_key.as_ref())
        .any(|(place, name)| match place.as_str() {
            "header" => has_header(name),
            "query" => request
                .url
                .split_once('?')
                .is_some_and(|(_, q)| q.split('&').any(|p| p.split('=').next() == Some(name))),
            _ => false,
        })
}

/// The verdict of a broken check: why, and the exchange that shows it.
fn broken(message: String, evidence: Exchange) -> Verdict {
    Verdict::Broken {
        message,
        evidence: Some(Box::new(evidence)),
    }
}

fn content_type(response: &ResponseRecord) -> Option<&str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
}

fn answered_2xx(exchange: &Exchange) -> bool {
    exchange
        .response
        .as_ref()
        .is_some_and(|r| (200..300).contains(&r.status))
}

fn status(exchange: &Exchange) -> String {
    exchange
        .response
        .as_ref()
        .map_or_else(|| "nothing".into(), |r| r.status.to_string())
}

/// `url` without its query and fragment.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documents_url_is_named_without_its_credentials() {
        let shown = |url: &str| OpenApiSource::Url(url.into()).to_string();
        assert_eq!(
            shown("http://bob:s3cret@127.0.0.1:9/openapi.json?x=@"),
            "http://127.0.0.1:9/openapi.json?x=@"
        );
        assert_eq!(shown("http://127.0.0.1:9/a"), "http://127.0.0.1:9/a");
        let error = load_document(&OpenApiSource::Url(
            "http://bob:s3cret@127.0.0.1:9/openapi.json".into(),
        ))
        .unwrap_err();
        let mut shown = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(c) = cause {
            shown.push_str(&format!(" / {c}"));
            cause = c.source();
        }
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("http://127.0.0.1:9/openapi.json"), "{shown}");
    }
}
