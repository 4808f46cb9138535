//! Does a response conform to the document? Its status documented, its JSON body valid
//! against the documented schema. The `response_schema` check of venom is built on this.

use crate::document::{is_json, Operation, Spec, StatusKey};
use crate::error::SpecError;
use crate::schema::{Mismatch, Validator};
use std::collections::HashMap;
use std::sync::Arc;

/// A document with every response schema compiled, ready to judge responses.
#[derive(Debug, Clone)]
pub struct Conformance {
    spec: Arc<Spec>,
    /// The path prefix of the API's base URL (`/api/v3`), removed before matching.
    prefix: String,
    /// The validator of each operation's response, by (operation index, status key).
    validators: HashMap<(usize, StatusKey), Arc<Validator>>,
}

/// How a response departs from the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nonconformance {
    /// Its status is not documented for the operation (no exact code, range or `default`).
    UndocumentedStatus {
        /// The documented keys, as written (`200`, `4XX`, `default`).
        documented: Vec<String>,
    },
    /// Its JSON body does not validate against the documented schema.
    Schema(Mismatch),
}

impl Conformance {
    /// Compiles every response schema of `spec`; `base_path` is the path part of the base URL
    /// requests are sent to (empty, or `/api/v3`). Fails on a schema that cannot be compiled,
    /// naming where it is.
    pub fn new(spec: Arc<Spec>, base_path: &str) -> Result<Conformance, SpecError> {
        let mut validators = HashMap::new();
        for (index, operation) in spec.operations.iter().enumerate() {
            for response in &operation.responses {
                let Some(schema) = &response.schema else {
                    continue;
                };
                let validator = Validator::new(&spec, schema).map_err(|why| {
                    let pointer = format!("{}/responses", operation.pointer);
                    let (line, column) =
                        crate::locate::locate(&spec.text, &pointer).unwrap_or((0, 0));
                    SpecError {
                        origin: spec.origin.clone(),
                        line,
                        column,
                        pointer,
                        message: format!("a response schema cannot be compiled: {why}"),
                    }
                })?;
                validators.insert((index, response.status), Arc::new(validator));
            }
        }
        Ok(Conformance {
            spec,
            prefix: base_path.trim_end_matches('/').to_string(),
            validators,
        })
    }

    /// The document.
    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }

    /// The operation `method` on `url` (absolute, or a path; a query string is ignored) is,
    /// if the document has one: of the templates that match, the most literal.
    pub fn operation(&self, method: &str, url: &str) -> Option<(usize, &Operation)> {
        let path = request_path(url);
        let path = path.strip_prefix(self.prefix.as_str()).unwrap_or(path);
        self.spec
            .operations
            .iter()
            .enumerate()
            .filter(|(_, op)| op.method.eq_ignore_ascii_case(method) && op.template.matches(path))
            .max_by_key(|(_, op)| op.template.literal_count())
    }

    /// Judges the response `status` with `content_type` and `body` (JSON, as received) to
    /// the operation at `index`.
    pub fn check(
        &self,
        index: usize,
        status: u16,
        content_type: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<(), Nonconformance> {
        let operation = &self.spec.operations[index];
        let Some(response) = operation.response(status) else {
            if operation.responses.is_empty() {
                return Ok(());
            }
            return Err(Nonconformance::UndocumentedStatus {
                documented: operation
                    .responses
                    .iter()
                    .map(|r| key_text(r.status))
                    .collect(),
            });
        };
        let Some(validator) = self.validators.get(&(index, response.status)) else {
            return Ok(());
        };
        if !content_type.is_some_and(is_json) {
            return Ok(()); // not a JSON answer: its schema is not the JSON one
        }
        validator.check(body).map_err(Nonconformance::Schema)
    }
}

/// A status key as the document writes it.
pub fn key_text(key: StatusKey) -> String {
    match key {
        StatusKey::Code(code) => code.to_string(),
        StatusKey::Range(digit) => format!("{digit}XX"),
        StatusKey::Default => "default".into(),
    }
}

/// The path of `url` (`http://h:1/a/b?q` → `/a/b`).
pub(crate) fn request_path(url: &str) -> &str {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match without_scheme.find('/') {
        Some(at) if url.contains("://") => &without_scheme[at..],
        Some(_) => without_scheme,
        None if url.contains("://") => "/",
        None => without_scheme,
    };
    path.split(['?', '#']).next().unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::request_path;

    #[test]
    fn the_path_of_a_url() {
        assert_eq!(
            request_path("http://127.0.0.1:80/orders/1?x=2"),
            "/orders/1"
        );
        assert_eq!(request_path("http://127.0.0.1:80"), "/");
        assert_eq!(request_path("/orders#a"), "/orders");
    }
}
