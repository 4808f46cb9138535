//! Producer→consumer inference: one test per rule.

use serde_json::{json, Value};

fn plan_of(paths: Value) -> venom_openapi::Plan {
    let text = json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
        "components": {"schemas": {"Order": {"type": "object", "properties": {"id": {"type": "integer"}}}}}
    })
    .to_string();
    venom_openapi::plan(&venom_openapi::parse(&text, "t.json").unwrap())
}

fn created(schema: Value) -> Value {
    json!({"201": {"description": "c", "content": {"application/json": {"schema": schema}}}})
}

fn action<'p>(plan: &'p venom_openapi::Plan, name: &str) -> &'p venom_openapi::PlannedAction {
    plan.actions
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no action {name} in {:?}", plan.actions))
}

#[test]
fn a_create_on_a_collection_produces_its_id_and_the_id_parameter_under_it_consumes_it() {
    let plan = plan_of(json!({
        "/orders": {"post": {"operationId": "createOrder", "responses": created(json!({"$ref": "#/components/schemas/Order"}))}},
        "/orders/{id}": {"get": {"operationId": "getOrder", "responses": {"200": {"description": "x"}}}}
    }));
    let create = action(&plan, "create_order");
    assert_eq!(
        create.extract,
        [("order_id".to_string(), "$.id".to_string())]
    );
    assert_eq!(create.max_calls, Some(1));
    let get = action(&plan, "get_order");
    assert_eq!(get.path, "/orders/{{ ctx.order_id }}");
    assert_eq!(get.requires, ["order_id"]);
}

#[test]
fn a_parameter_named_after_the_resource_consumes_it_anywhere() {
    let plan = plan_of(json!({
        "/pet": {"post": {"operationId": "addPet", "responses": created(json!({"type": "object", "properties": {"id": {"type": "integer"}}}))}},
        "/owners/{petId}/pet": {"get": {"operationId": "ownerOf", "responses": {"200": {"description": "x"}}}},
        "/vets/{pet_id}": {"get": {"operationId": "vetOf", "responses": {"200": {"description": "x"}}}}
    }));
    assert_eq!(
        action(&plan, "owner_of").path,
        "/owners/{{ ctx.pet_id }}/pet"
    );
    assert_eq!(action(&plan, "vet_of").path, "/vets/{{ ctx.pet_id }}");
}

#[test]
fn a_nested_create_consumes_its_parent_and_produces_its_own_id() {
    let plan = plan_of(json!({
        "/orders": {"post": {"operationId": "createOrder", "responses": created(json!({"$ref": "#/components/schemas/Order"}))}},
        "/orders/{orderId}/refunds": {"post": {"operationId": "refund", "responses": created(json!({"type": "object", "properties": {"id": {"type": "string"}}}))}},
        "/orders/{orderId}/refunds/{refundId}": {"get": {"operationId": "getRefund", "responses": {"200": {"description": "x"}}}}
    }));
    let refund = action(&plan, "refund");
    assert_eq!(refund.requires, ["order_id"]);
    assert_eq!(
        refund.extract,
        [("refund_id".to_string(), "$.id".to_string())]
    );
    assert_eq!(
        refund.max_calls, None,
        "a nested create may run more than once"
    );
    let get = action(&plan, "get_refund");
    assert_eq!(
        get.path,
        "/orders/{{ ctx.order_id }}/refunds/{{ ctx.refund_id }}"
    );
    assert_eq!(get.requires, ["order_id", "refund_id"]);
}

#[test]
fn an_identifier_named_after_the_resource_is_extracted_when_there_is_no_id() {
    let plan = plan_of(json!({
        "/carts": {"post": {"operationId": "newCart", "responses": created(json!({"type": "object", "properties": {"cartId": {"type": "string"}}}))}},
        "/carts/{cartId}": {"get": {"operationId": "getCart", "responses": {"200": {"description": "x"}}}}
    }));
    assert_eq!(
        action(&plan, "new_cart").extract,
        [("cart_id".to_string(), "$.cartId".to_string())]
    );
    assert_eq!(action(&plan, "get_cart").requires, ["cart_id"]);
}

#[test]
fn an_openapi_link_says_which_answer_feeds_which_parameter() {
    let plan = plan_of(json!({
        "/sessions": {"post": {"operationId": "start", "responses": {"201": {
            "description": "c",
            "content": {"application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string"}}}}},
            "links": {"next": {"operationId": "peek", "parameters": {"ticket": "$response.body#/token"}}}
        }}}},
        "/tickets/{ticket}": {"get": {"operationId": "peek", "responses": {"200": {"description": "x"}}}}
    }));
    assert_eq!(
        action(&plan, "start").extract,
        [("ticket".to_string(), "$.token".to_string())]
    );
    let peek = action(&plan, "peek");
    assert_eq!(peek.path, "/tickets/{{ ctx.ticket }}");
    assert_eq!(peek.requires, ["ticket"]);
}

#[test]
fn a_parameter_nothing_produces_comes_from_the_context_with_its_example() {
    let plan = plan_of(json!({
        "/users/{username}": {"get": {"operationId": "getUser",
            "parameters": [{"name": "username", "in": "path", "required": true, "schema": {"type": "string"}, "example": "alice"}],
            "responses": {"200": {"description": "x"}}}}
    }));
    let get = action(&plan, "get_user");
    assert_eq!(get.path, "/users/{{ ctx.username }}");
    assert!(get.requires.is_empty());
    assert_eq!(plan.context[0].key, "username");
    assert_eq!(plan.context[0].value, json!("alice"));
}

#[test]
fn a_reset_operation_becomes_the_reset_not_an_action() {
    let plan = plan_of(json!({
        "/admin/reset": {"post": {"responses": {"200": {"description": "x"}}}},
        "/users/{id}/reset-password": {"post": {"operationId": "resetPassword", "responses": {"200": {"description": "x"}}}},
        "/password": {"post": {"operationId": "resetMyPassword", "responses": {"200": {"description": "x"}}}}
    }));
    assert_eq!(plan.reset, Some(("POST".into(), "/admin/reset".into())));
    let names: Vec<&str> = plan.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["reset_my_password", "reset_password"]);
}

#[test]
fn collection_reads_are_observed_and_statuses_become_expect() {
    let plan = plan_of(json!({
        "/orders": {
            "get": {"operationId": "listOrders", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array"}}}}}}}},
            "post": {"operationId": "createOrder", "responses": {"201": {"description": "c"}, "400": {"description": "bad"}, "500": {"description": "oops"}}}
        },
        "/health": {"get": {"operationId": "health", "responses": {"200": {"description": "x", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    }));
    assert_eq!(plan.observations.len(), 1);
    assert_eq!(plan.observations[0].path, "/orders");
    assert_eq!(action(&plan, "create_order").expect, Some(vec![201, 400]));
}

#[test]
fn negative_actions_break_the_body_or_a_numeric_path_parameter() {
    let text = json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {
            "/orders": {"post": {"operationId": "createOrder",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["amount"],
                    "properties": {"amount": {"type": "integer", "example": 3}, "note": {"type": "string"}}}}}},
                "responses": created(json!({"$ref": "#/components/schemas/Order"}))}},
            "/orders/{id}/lines/{line}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                               {"name": "line", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"operationId": "getLine", "responses": {"200": {"description": "x"}, "404": {"description": "gone"}}}}
        },
        "components": {"schemas": {"Order": {"type": "object", "properties": {"id": {"type": "integer"}}}}}
    })
    .to_string();
    let spec = venom_openapi::parse(&text, "t.json").unwrap();
    let plan = venom_openapi::plan(&spec);
    let negatives = venom_openapi::negative_actions(&spec, &plan.actions);
    let names: Vec<&str> = negatives.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["create_order_invalid_body", "get_line_invalid_id"]);
    let body = &negatives[0];
    assert_eq!(body.body, Some(json!({"amount": "not-a-number"})));
    assert_eq!(body.expect, Some(vec![400, 422]));
    assert!(body.extract.is_empty() && body.max_calls.is_none());
    let path = &negatives[1];
    assert_eq!(path.path, "/orders/not-a-number/lines/{{ ctx.line }}");
    assert!(
        !path.requires.contains(&"order_id".to_string()),
        "{:?}",
        path.requires
    );
    assert_eq!(path.expect, Some(vec![400, 404, 422]));
}
