//! The built-in checks that read the `[openapi]` document, each against a real HTTP API on
//! 127.0.0.1 with the bug it is made to see: a delete that keeps the resource, a create whose
//! id cannot be read back, a refused create that stores anyway, a secured read that answers
//! without credentials. A well-behaved resource next to them breaks none of the checks.

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use venom_engine::{Context, Explorer};
use venom_runner::{HttpWorld, Processes};

type Store = Arc<Mutex<Vec<i64>>>;

/// `/good` behaves; `/kept` forgets nothing on DELETE; `/ghosts` answers ids it cannot read
/// back; `/leaky` stores even the creates it refuses; `/secret` answers without credentials.
fn app() -> Router {
    let good: Store = Arc::default();
    let kept: Store = Arc::default();
    let leaky: Store = Arc::default();
    Router::new()
        .route(
            "/reset",
            post({
                let (good, kept, leaky) = (good.clone(), kept.clone(), leaky.clone());
                move || async move {
                    for store in [&good, &kept, &leaky] {
                        store.lock().unwrap().clear();
                    }
                    Json(json!({}))
                }
            }),
        )
        .route("/good", post(create).get(list).with_state(good.clone()))
        .route("/good/{id}", get(read).delete(remove).with_state(good))
        .route("/kept", post(create).with_state(kept.clone()))
        .route(
            "/kept/{id}",
            get(read)
                .delete(|| async { Json(json!({"deleted": true})) })
                .with_state(kept),
        )
        .route(
            "/ghosts",
            post(|| async { (StatusCode::CREATED, Json(json!({"id": 99}))) }),
        )
        .route(
            "/ghosts/{id}",
            get(|| async { (StatusCode::NOT_FOUND, Json(json!({}))) }),
        )
        .route("/leaky", post(refuse_but_store).get(list).with_state(leaky))
        .route(
            "/secret",
            get(|_: HeaderMap| async { Json(json!({"secret": "s"})) }),
        )
}

async fn create(State(store): State<Store>) -> (StatusCode, Json<Value>) {
    let mut items = store.lock().unwrap();
    let id = items.iter().max().unwrap_or(&0) + 1;
    items.push(id);
    (StatusCode::CREATED, Json(json!({"id": id})))
}

async fn list(State(store): State<Store>) -> Json<Value> {
    Json(json!({"items": *store.lock().unwrap()}))
}

async fn read(State(store): State<Store>, UrlPath(id): UrlPath<i64>) -> (StatusCode, Json<Value>) {
    match store.lock().unwrap().contains(&id) {
        true => (StatusCode::OK, Json(json!({"id": id}))),
        false => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

async fn remove(
    State(store): State<Store>,
    UrlPath(id): UrlPath<i64>,
) -> (StatusCode, Json<Value>) {
    let mut items = store.lock().unwrap();
    let before = items.len();
    items.retain(|i| *i != id);
    match items.len() < before {
        true => (StatusCode::OK, Json(json!({"deleted": true}))),
        false => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

async fn refuse_but_store(State(store): State<Store>) -> (StatusCode, Json<Value>) {
    store.lock().unwrap().push(1);
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": "invalid"})),
    )
}

fn document() -> Value {
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]);
    let created = json!({"201": {"description": "c", "content": {"application/json": {"schema": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}, "422": {"description": "refused"}});
    let any = json!({"200": {"description": "ok"}, "404": {"description": "gone"}});
    json!({
        "openapi": "3.0.3", "info": {"title": "checks", "version": "1"},
        "paths": {
            "/good": {"post": {"responses": created}, "get": {"responses": {"200": {"description": "list"}}}},
            "/good/{id}": {"parameters": id, "get": {"responses": any}, "delete": {"responses": any}},
            "/kept": {"post": {"responses": created}},
            "/kept/{id}": {"parameters": id, "get": {"responses": any}, "delete": {"responses": any}},
            "/ghosts": {"post": {"responses": created}},
            "/ghosts/{id}": {"parameters": id, "get": {"responses": any}},
            "/leaky": {"post": {"responses": created}, "get": {"responses": {"200": {"description": "list"}}}},
            "/secret": {"get": {"security": [{"bearer": []}], "responses": {"200": {"description": "ok"}, "401": {"description": "no"}}}}
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}

/// The violations (invariant → path of action names) of exploring `actions` with `[builtins]`.
fn explore(actions: &str, builtins: &str) -> Vec<(String, Vec<String>, String)> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), document().to_string()).unwrap();
    let base_url = common::serve(app());
    let text = format!(
        "base_url = \"{base_url}\"\n[openapi]\nspec = \"api.json\"\n\
         [reset]\nrequest = {{ method = \"POST\", path = \"/reset\" }}\n\
         [explore]\nmax_depth = 3\n[builtins]\n{builtins}\n{actions}"
    );
    let file = dir.path().join("checks.toml");
    std::fs::write(&file, text).unwrap();
    let scenario = venom_scenario::load(Path::new(&file)).unwrap();
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let mut explorer = Explorer::new(
        world,
        venom_runner::actions(&scenario),
        venom_runner::invariants(&scenario),
    );
    let result = explorer.run(Context::new()).expect("exploration");
    result
        .violations
        .iter()
        .map(|v| {
            let path = v.path.iter().map(|s| s.action.clone()).collect();
            (v.invariant.clone(), path, v.message.clone())
        })
        .collect()
}

fn create_and(resource: &str, then: &str) -> String {
    format!(
        "[[actions]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/{resource}\"\n\
         extract = {{ id = \"$.id\" }}\nmax_calls = 1\n{then}"
    )
}

fn delete(resource: &str) -> String {
    format!(
        "[[actions]]\nname = \"delete\"\nmethod = \"DELETE\"\npath = \"/{resource}/{{{{ ctx.id }}}}\"\n\
         requires = {{ keys = [\"id\"] }}\nmax_calls = 1\n"
    )
}

#[test]
fn a_well_behaved_resource_breaks_no_check() {
    let found = explore(&create_and("good", &delete("good")), "");
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn use_after_free_sees_a_deleted_resource_that_still_answers() {
    let found = explore(&create_and("kept", &delete("kept")), "");
    assert_eq!(found.len(), 1, "{found:?}");
    let (invariant, path, message) = &found[0];
    assert_eq!(invariant, "use_after_free");
    assert_eq!(path, &["create", "delete"]);
    assert!(message.contains("still answers 200"), "{message}");
    // Turned off, it is silent.
    assert!(explore(
        &create_and("kept", &delete("kept")),
        "use_after_free = false"
    )
    .is_empty());
}

#[test]
fn create_then_read_sees_an_id_that_cannot_be_read_back() {
    let found = explore(&create_and("ghosts", ""), "");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "create_then_read");
    assert_eq!(found[0].1, ["create"]);
    assert!(
        found[0].2.contains("with id 99, yet GET of it answers 404"),
        "{}",
        found[0].2
    );
}

#[test]
fn failed_create_leaves_nothing_sees_a_refused_create_that_stored() {
    let found = explore(&create_and("leaky", ""), "");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "failed_create_leaves_nothing");
    assert!(
        found[0].2.contains("grew from 0 to 1 items"),
        "{}",
        found[0].2
    );
}

#[test]
fn auth_enforced_sees_a_secured_read_answered_without_credentials() {
    let read = "[[actions]]\nname = \"read_secret\"\nmethod = \"GET\"\npath = \"/secret\"\n";
    let found = explore(read, "");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "auth_enforced");
    assert_eq!(found[0].1, ["read_secret"]);
    // Sent with a credential, it is sent again without one, and still answers.
    let with_token = "[defaults]\nheaders = { \"x-test\" = \"1\" }\n[[actions]]\nname = \"read_secret\"\nmethod = \"GET\"\npath = \"/secret\"\nheaders = { authorization = \"Bearer t\" }\n";
    let found = explore(with_token, "");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].2.contains("when sent again without any"),
        "{}",
        found[0].2
    );
}

/// `/strict` refuses a non-integer `amount` with 400, `/lax` stores it anyway (201), `/fragile`
/// answers 500 to it.
fn negative_app() -> Router {
    let check = |body: &Value| body.get("amount").is_some_and(Value::is_i64);
    Router::new()
        .route("/reset", post(|| async { Json(json!({})) }))
        .route(
            "/strict",
            post(move |Json(body): Json<Value>| async move {
                match check(&body) {
                    true => (StatusCode::CREATED, Json(json!({}))),
                    false => (StatusCode::BAD_REQUEST, Json(json!({"error": "amount"}))),
                }
            }),
        )
        .route(
            "/lax",
            post(|| async { (StatusCode::CREATED, Json(json!({}))) }),
        )
        .route(
            "/fragile",
            post(move |Json(body): Json<Value>| async move {
                match check(&body) {
                    true => (StatusCode::CREATED, Json(json!({}))),
                    false => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        Json(json!({"error": "panic"})),
                    ),
                }
            }),
        )
}

#[test]
fn negative_inputs_that_are_accepted_or_crash_the_api_are_found() {
    let input = json!({"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer", "example": 5}}});
    let operation = |id: &str| {
        json!({"post": {"operationId": id,
            "requestBody": {"required": true, "content": {"application/json": {"schema": input}}},
            "responses": {"201": {"description": "c"}, "400": {"description": "refused"}}}})
    };
    let document = json!({
        "openapi": "3.0.3", "info": {"title": "negative", "version": "1"},
        "paths": {"/strict": operation("strict"), "/lax": operation("lax"), "/fragile": operation("fragile"),
                  "/reset": {"post": {"responses": {"200": {"description": "ok"}}}}}
    });
    let spec = venom_openapi::parse(&document.to_string(), "negative.json").unwrap();
    let options = venom_openapi::GenerateOptions {
        base_url: Some(common::serve(negative_app())),
        spec_reference: "negative.json".into(),
        negative: true,
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("negative.json"), document.to_string()).unwrap();
    let file = dir.path().join("negative.toml");
    std::fs::write(&file, venom_openapi::scenario_text(&spec, &options)).unwrap();
    let scenario = venom_scenario::load(&file).unwrap();
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let mut explorer = Explorer::new(
        world,
        venom_runner::actions(&scenario),
        venom_runner::invariants(&scenario),
    );
    let result = explorer.run(Context::new()).expect("exploration");
    let found: Vec<(String, String)> = result
        .violations
        .iter()
        .map(|v| (v.invariant.clone(), v.action.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "no_server_errors".to_string(),
                "fragile_invalid_body".to_string()
            ),
            // The 500 is not in the document either.
            (
                "response_schema".to_string(),
                "fragile_invalid_body".to_string()
            ),
            (
                "expected_status".to_string(),
                "lax_invalid_body".to_string()
            ),
        ],
        "{:#?}",
        result.violations
    );
}
