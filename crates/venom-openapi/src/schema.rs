//! OpenAPI schemas as JSON Schema: the 3.0 dialect converted, `$ref`s kept resolvable, and
//! compiled into validators (by the `jsonschema` crate).

use crate::document::{Spec, Version};
use serde_json::{json, Map, Value};

/// The keywords whose value is one schema.
const ONE_SCHEMA: [&str; 9] = [
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "additionalItems",
    "if",
    "then",
    "else",
];
/// The keywords whose value is a list of schemas.
const SCHEMA_LISTS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];
/// The keywords whose value maps names to schemas.
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];

/// A compiled schema.
pub struct Validator {
    inner: jsonschema::Validator,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Validator")
    }
}

/// Where and why a value does not validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON pointer of the first part of the value that does not validate (`""`: the value).
    pub pointer: String,
    /// Why, without quoting the value.
    pub message: String,
}

impl Validator {
    /// Compiles `schema` (as it is written in `spec`, its `$ref`s pointing into `spec`).
    pub fn new(spec: &Spec, schema: &Value) -> Result<Validator, String> {
        let mut root = match spec.version {
            Version::V3_0 => json!({ "allOf": [from_3_0(schema)] }),
            Version::V3_1 => json!({ "allOf": [schema] }),
        };
        // `$ref: '#/components/…'` resolves against this root: give it the components.
        if let Some(components) = spec.document.get("components") {
            let components = match spec.version {
                Version::V3_0 => components_from_3_0(components),
                Version::V3_1 => components.clone(),
            };
            root["components"] = components;
        }
        let draft = match spec.version {
            Version::V3_0 => jsonschema::Draft::Draft4,
            Version::V3_1 => jsonschema::Draft::Draft202012,
        };
        let inner = jsonschema::options()
            .with_draft(draft)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| e.masked().to_string())?;
        Ok(Validator { inner })
    }

    /// The first mismatch of `value`, if any.
    pub fn check(&self, value: &Value) -> Result<(), Mismatch> {
        match self.inner.validate(value) {
            Ok(()) => Ok(()),
            Err(error) => Err(Mismatch {
                pointer: error.instance_path().to_string(),
                message: error.masked().to_string(),
            }),
        }
    }
}

/// An OpenAPI 3.0 schema as draft 4 JSON Schema: `nullable: true` allows `null`.
pub(crate) fn from_3_0(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut converted = Map::new();
    for (key, value) in object {
        let value = if ONE_SCHEMA.contains(&key.as_str()) {
            from_3_0(value)
        } else if SCHEMA_LISTS.contains(&key.as_str()) {
            match value {
                Value::Array(list) => Value::Array(list.iter().map(from_3_0).collect()),
                other => other.clone(),
            }
        } else if SCHEMA_MAPS.contains(&key.as_str()) {
            match value {
                Value::Object(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), from_3_0(v))).collect())
                }
                other => other.clone(),
            }
        } else {
            value.clone()
        };
        converted.insert(key.clone(), value);
    }
    if converted.remove("nullable") == Some(Value::Bool(true)) {
        return json!({ "anyOf": [{ "type": "null" }, Value::Object(converted)] });
    }
    Value::Object(converted)
}

/// `components` with every schema under `schemas` converted from 3.0.
fn components_from_3_0(components: &Value) -> Value {
    let mut components = components.clone();
    if let Some(Value::Object(schemas)) = components.get_mut("schemas") {
        for schema in schemas.values_mut() {
            *schema = from_3_0(schema);
        }
    }
    components
}
