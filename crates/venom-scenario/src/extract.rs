//! JSONPath (RFC 9535) extractors over response bodies.

use crate::expr::CompileError;
use serde_json::Value;
use serde_json_path::JsonPath;

/// A compiled JSONPath query that picks one value out of a JSON body.
#[derive(Debug, Clone)]
pub struct Extractor {
    source: String,
    path: JsonPath,
}

impl Extractor {
    /// Compiles an RFC 9535 JSONPath query such as `$.items[0].id`.
    pub fn parse(source: &str) -> Result<Extractor, crate::EvalError> {
        Self::parse_inner(source).map_err(|e| crate::EvalError(e.message))
    }

    pub(crate) fn parse_inner(source: &str) -> Result<Extractor, CompileError> {
        crate::limits::check_jsonpath(source)?;
        let path = JsonPath::parse(source).map_err(|e| CompileError {
            // `position()` is documented as 1-indexed but behaves as a byte offset.
            offset: Some(e.position().min(source.len())),
            message: format!(
                "invalid JSONPath `{}`: {}, expected an RFC 9535 query such as `$.id`",
                crate::limits::quoted(source),
                e.message()
            ),
        })?;
        Ok(Extractor {
            source: source.to_string(),
            path,
        })
    }

    /// The query as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first value the query selects in `body`, or `None` when nothing matches.
    pub fn extract(&self, body: &Value) -> Option<Value> {
        self.path.query(body).first().cloned()
    }
}
