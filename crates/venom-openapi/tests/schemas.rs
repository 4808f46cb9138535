//! Response conformance against a table of valid and invalid bodies: `$ref` (cycles too),
//! `allOf`/`oneOf`/`anyOf`, 3.0 `nullable` and 3.1 type lists, formats, undocumented statuses.

use serde_json::{json, Value};
use std::sync::Arc;
use venom_openapi::{Conformance, Nonconformance};

fn document(version: &str, schema: Value) -> String {
    json!({
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {"/things/{id}": {"get": {"responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": schema}}},
            "404": {"description": "gone"}
        }}}},
        "components": {"schemas": {
            "Thing": {"type": "object", "required": ["id", "tags"], "properties": {
                "id": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "parent": {"$ref": "#/components/schemas/Thing"},
                "note": {"type": "string", "nullable": true}
            }},
            "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            "Cat": {"type": "object", "required": ["meow"], "properties": {"meow": {"type": "boolean"}}},
            "Dog": {"type": "object", "required": ["bark"], "properties": {"bark": {"type": "boolean"}}}
        }}
    })
    .to_string()
}

fn judge(version: &str, schema: Value, status: u16, body: Value) -> Result<(), Nonconformance> {
    let spec = venom_openapi::parse(&document(version, schema), "table.json").unwrap();
    let conformance = Conformance::new(Arc::new(spec), "").unwrap();
    let (index, _) = conformance
        .operation("GET", "http://127.0.0.1:1/things/7?x=1")
        .expect("the template matches");
    conformance.check(
        index,
        status,
        Some("application/json; charset=utf-8"),
        &body,
    )
}

fn pointer(result: Result<(), Nonconformance>) -> String {
    match result {
        Err(Nonconformance::Schema(mismatch)) => mismatch.pointer,
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

#[test]
fn a_table_of_bodies_against_ref_schemas_with_a_cycle() {
    let thing = json!({"$ref": "#/components/schemas/Thing"});
    let valid = [
        json!({"id": 1, "tags": []}),
        json!({"id": 1, "tags": ["a"], "parent": {"id": 2, "tags": [], "parent": {"id": 3, "tags": []}}}),
        json!({"id": 1, "tags": [], "note": null}),
    ];
    for body in valid {
        assert_eq!(
            judge("3.0.3", thing.clone(), 200, body.clone()),
            Ok(()),
            "{body}"
        );
    }
    let invalid = [
        (json!({"id": "1", "tags": []}), "/id"),
        (json!({"id": 1, "tags": [3]}), "/tags/0"),
        (json!({"id": 1}), ""),
        (
            json!({"id": 1, "tags": [], "parent": {"id": 2, "tags": [], "parent": {"id": 3.5, "tags": []}}}),
            "/parent/parent/id",
        ),
    ];
    for (body, at) in invalid {
        assert_eq!(
            pointer(judge("3.0.3", thing.clone(), 200, body.clone())),
            at,
            "{body}"
        );
    }
}

#[test]
fn combinators_nullable_and_type_lists() {
    let all_of = json!({"allOf": [{"$ref": "#/components/schemas/Named"}, {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}]});
    assert_eq!(
        judge("3.0.3", all_of.clone(), 200, json!({"name": "a", "age": 1})),
        Ok(())
    );
    assert_eq!(
        pointer(judge(
            "3.0.3",
            all_of,
            200,
            json!({"name": "a", "age": "1"})
        )),
        "/age"
    );

    let one_of = json!({"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]});
    assert_eq!(
        judge("3.1.0", one_of.clone(), 200, json!({"meow": true})),
        Ok(())
    );
    assert!(judge(
        "3.1.0",
        one_of.clone(),
        200,
        json!({"meow": true, "bark": true})
    )
    .is_err());
    assert!(judge("3.1.0", one_of, 200, json!({"purr": true})).is_err());

    let any_of = json!({"anyOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]});
    assert_eq!(judge("3.1.0", any_of.clone(), 200, json!(5)), Ok(()));
    assert!(judge("3.1.0", any_of, 200, json!("not-a-uuid")).is_err());

    // 3.0: `nullable` allows null, and only where it is written.
    let nullable = json!({"type": "integer", "nullable": true});
    assert_eq!(judge("3.0.3", nullable, 200, Value::Null), Ok(()));
    assert!(judge("3.0.3", json!({"type": "integer"}), 200, Value::Null).is_err());
    // 3.1: a type list says the same.
    assert_eq!(
        judge(
            "3.1.0",
            json!({"type": ["integer", "null"]}),
            200,
            Value::Null
        ),
        Ok(())
    );
    // 3.0's boolean exclusiveMinimum (draft 4) is honoured.
    let positive = json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true});
    assert!(judge("3.0.3", positive.clone(), 200, json!(0)).is_err());
    assert_eq!(judge("3.0.3", positive, 200, json!(1)), Ok(()));
}

#[test]
fn undocumented_statuses_and_bodies_without_a_schema() {
    let schema = json!({"type": "object"});
    match judge("3.0.3", schema.clone(), 500, json!({})) {
        Err(Nonconformance::UndocumentedStatus { documented }) => {
            assert_eq!(documented, ["200", "404"])
        }
        other => panic!("{other:?}"),
    }
    // 404 is documented without content: any body goes.
    assert_eq!(judge("3.0.3", schema, 404, json!("anything")), Ok(()));
}

#[test]
fn the_most_literal_template_is_the_operation_and_the_base_path_is_removed() {
    let text = json!({
        "openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {
            "/pets/{id}": {"get": {"operationId": "byId", "responses": {"200": {"description": "x"}}}},
            "/pets/mine": {"get": {"operationId": "mine", "responses": {"200": {"description": "x"}}}}
        }
    })
    .to_string();
    let spec = venom_openapi::parse(&text, "t.json").unwrap();
    let conformance = Conformance::new(Arc::new(spec), "/api/v3").unwrap();
    let id = |url: &str| {
        conformance
            .operation("GET", url)
            .and_then(|(_, op)| op.operation_id.clone())
    };
    assert_eq!(id("http://h/api/v3/pets/mine").as_deref(), Some("mine"));
    assert_eq!(id("http://h/api/v3/pets/12").as_deref(), Some("byId"));
    assert_eq!(id("http://h/api/v3/cats/12"), None);
    assert_eq!(
        conformance
            .operation("POST", "http://h/api/v3/pets/12")
            .map(|(i, _)| i),
        None
    );
}
