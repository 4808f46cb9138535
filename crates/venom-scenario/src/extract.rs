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

    /// Every value the query selects in `body`, in document order.
    pub fn extract_all(&self, body: &Value) -> Vec<Value> {
        self.path.query(body).all().into_iter().cloned().collect()
    }

    /// `body` without the values the query selects (a field is removed from its object, an
    /// element from its array).
    pub fn remove_from(&self, body: &mut Value) {
        let mut pointers: Vec<String> = self
            .path
            .query_located(body)
            .locations()
            .map(|location| location.to_json_pointer())
            .collect();
        // Later array elements first, so that the indexes of earlier ones stay right.
        pointers.sort_by(|a, b| b.cmp(a));
        pointers.dedup();
        for pointer in pointers {
            remove_pointer(body, &pointer);
        }
    }
}

/// Removes the value at the JSON pointer `pointer` (not the root) from `body`.
fn remove_pointer(body: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match body.pointer_mut(parent) {
        Some(Value::Object(fields)) => {
            fields.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Some(index) = last.parse::<usize>().ok().filter(|&i| i < items.len()) {
                items.remove(index);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::Extractor;
    use serde_json::json;

    #[test]
    fn every_match_is_kept_or_removed() {
        let body = json!({"items": [{"id": 1, "at": "t1"}, {"id": 2, "at": "t2"}], "at": "t0"});
        let ids = Extractor::parse("$.items[*].id").unwrap();
        assert_eq!(ids.extract_all(&body), vec![json!(1), json!(2)]);
        let mut cleaned = body.clone();
        Extractor::parse("$..at").unwrap().remove_from(&mut cleaned);
        assert_eq!(cleaned, json!({"items": [{"id": 1}, {"id": 2}]}));
        let mut fewer = body;
        Extractor::parse("$.items[*]")
            .unwrap()
            .remove_from(&mut fewer);
        assert_eq!(fewer, json!({"items": [], "at": "t0"}));
    }
}
