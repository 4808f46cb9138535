//! A value for a schema: the documented `example`, `examples` or `default` first, else the
//! smallest value that honours the schema's type, format, enum, bounds and required properties.

use crate::document::resolve_refs;
use serde_json::{json, Map, Value};

/// How deep nested schemas are followed; below it a recursive schema gets `{}` / `[]`.
const MAX_DEPTH: usize = 8;

/// A value valid against `schema` (its `$ref`s resolved in `document`), for a request body or
/// a parameter. Request bodies leave `readOnly` properties out.
pub fn example_for(document: &Value, schema: &Value) -> Value {
    Builder { document }.value(schema, 0)
}

struct Builder<'d> {
    document: &'d Value,
}

impl Builder<'_> {
    fn value(&self, schema: &Value, depth: usize) -> Value {
        let schema = match resolve_refs(self.document, schema, "") {
            Ok((schema, _)) => schema,
            Err(_) => return Value::Null,
        };
        let Value::Object(object) = schema else {
            return Value::Null; // `true`, `{}`-like: anything goes
        };
        if let Some(example) = documented(object) {
            return example;
        }
        if depth >= MAX_DEPTH {
            return match type_of(object) {
                Some("array") => json!([]),
                _ => json!({}),
            };
        }
        if let Some(all) = object.get("allOf").and_then(Value::as_array) {
            return self.all_of(all, depth);
        }
        for alternatives in ["oneOf", "anyOf"] {
            if let Some(first) = object
                .get(alternatives)
                .and_then(Value::as_array)
                .and_then(|list| list.iter().find(|s| !is_null_type(s)))
            {
                return self.value(first, depth + 1);
            }
        }
        match type_of(object) {
            Some("object") => self.object(object, depth),
            Some("array") => self.array(object, depth),
            Some("string") => string(object),
            Some("integer") => number(object, true),
            Some("number") => number(object, false),
            Some("boolean") => Value::Bool(false),
            Some("null") => Value::Null,
            _ if object.contains_key("properties") => self.object(object, depth),
            _ if object.contains_key("items") => self.array(object, depth),
            _ => Value::Null,
        }
    }

    fn all_of(&self, all: &[Value], depth: usize) -> Value {
        let mut merged = Map::new();
        for part in all {
            match self.value(part, depth + 1) {
                Value::Object(fields) => merged.extend(fields),
                other if all.len() == 1 => return other,
                _ => {}
            }
        }
        Value::Object(merged)
    }

    fn object(&self, object: &Map<String, Value>, depth: usize) -> Value {
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Map::new();
        let properties = object.get("properties").and_then(Value::as_object);
        for name in required {
            let schema = properties
                .and_then(|p| p.get(name))
                .unwrap_or(&Value::Bool(true));
            if self.read_only(schema) {
                continue;
            }
            fields.insert(name.to_string(), self.value(schema, depth + 1));
        }
        Value::Object(fields)
    }

    fn read_only(&self, schema: &Value) -> bool {
        resolve_refs(self.document, schema, "")
            .ok()
            .and_then(|(s, _)| s.get("readOnly"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    fn array(&self, object: &Map<String, Value>, depth: usize) -> Value {
        let count = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let item = object.get("items").unwrap_or(&Value::Bool(true));
        Value::Array(
            (0..count.min(16))
                .map(|_| self.value(item, depth + 1))
                .collect(),
        )
    }
}

/// `example`, the first of `examples`, `default`, `const` or the first `enum` value.
fn documented(object: &Map<String, Value>) -> Option<Value> {
    if let Some(example) = object.get("example") {
        return Some(example.clone());
    }
    if let Some(first) = object
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return Some(first.clone());
    }
    for key in ["default", "const"] {
        if let Some(value) = object.get(key) {
            return Some(value.clone());
        }
    }
    object
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.iter().find(|v| !v.is_null()).or(e.first()))
        .cloned()
}

/// The schema's type (the first non-null one of a 3.1 type list).
fn type_of(object: &Map<String, Value>) -> Option<&str> {
    match object.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .or(Some("null")),
        _ => None,
    }
}

fn is_null_type(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn string(object: &Map<String, Value>) -> Value {
    let by_format = match object.get("format").and_then(Value::as_str) {
        Some("uuid") => Some("3f2e0c8a-5d1b-4c6e-9a7f-2b8d4e6f1a30"),
        Some("email") => Some("user@example.com"),
        Some("date-time") => Some("2026-01-01T00:00:00Z"),
        Some("date") => Some("2026-01-01"),
        Some("time") => Some("12:00:00Z"),
        Some("uri" | "url") => Some("http://example.com/"),
        Some("hostname") => Some("example.com"),
        Some("ipv4") => Some("127.0.0.1"),
        Some("ipv6") => Some("::1"),
        Some("byte") => Some("dmVub20="),
        Some("password") => Some("Password-1"),
        _ => None,
    };
    if let Some(text) = by_format {
        return Value::String(text.into());
    }
    let min = object.get("minLength").and_then(Value::as_u64).unwrap_or(1);
    let max = object
        .get("maxLength")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let length = min.max(1).min(max).min(256) as usize;
    Value::String("a".repeat(length))
}

fn number(object: &Map<String, Value>, integer: bool) -> Value {
    let bound = |key: &str| object.get(key).and_then(Value::as_f64);
    // 3.0 writes exclusive bounds as booleans beside minimum/maximum, 3.1 as numbers.
    let exclusive = |key: &str, plain: &str| match object.get(key) {
        Some(Value::Bool(true)) => bound(plain),
        Some(n) => n.as_f64(),
        None => None,
    };
    let step = if integer { 1.0 } else { 0.5 };
    let mut value = 1.0_f64;
    if let Some(min) = bound("minimum") {
        value = value.max(min);
    }
    if let Some(min) = exclusive("exclusiveMinimum", "minimum") {
        if value <= min {
            value = min + step;
        }
    }
    if let Some(max) = bound("maximum") {
        value = value.min(max);
    }
    if let Some(max) = exclusive("exclusiveMaximum", "maximum") {
        if value >= max {
            value = max - step;
        }
    }
    if let Some(multiple) = bound("multipleOf").filter(|m| *m > 0.0) {
        value = (value / multiple).ceil() * multiple;
    }
    if integer {
        json!(value.ceil() as i64)
    } else {
        json!(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_come_first_then_the_smallest_valid_value() {
        let doc = json!({"components": {"schemas": {
            "Order": {"type": "object", "required": ["amount", "id", "email"],
                      "properties": {"amount": {"type": "integer", "minimum": 5},
                                     "id": {"type": "integer", "readOnly": true},
                                     "email": {"type": "string", "format": "email"},
                                     "note": {"type": "string"}}},
            "Node": {"type": "object", "required": ["next"],
                     "properties": {"next": {"$ref": "#/components/schemas/Node"}}}}}});
        assert_eq!(
            example_for(&doc, &json!({"$ref": "#/components/schemas/Order"})),
            json!({"amount": 5, "email": "user@example.com"})
        );
        assert_eq!(
            example_for(&doc, &json!({"type": "integer", "example": 7})),
            json!(7)
        );
        assert_eq!(example_for(&doc, &json!({"enum": ["b", "c"]})), json!("b"));
        assert_eq!(
            example_for(
                &doc,
                &json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
            ),
            json!(1)
        );
        assert_eq!(
            example_for(&doc, &json!({"type": "string", "minLength": 3})),
            json!("aaa")
        );
        // A recursive required property ends at the depth limit instead of looping.
        let node = example_for(&doc, &json!({"$ref": "#/components/schemas/Node"}));
        assert!(node.pointer("/next/next/next").is_some());
    }
}
