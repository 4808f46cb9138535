//! An `extract` whose JSONPath matches nothing in a 2xx answer is said once, with the action,
//! the key, the path and the answer, instead of leaving later actions silently never run.

mod common;

use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use std::path::Path;
use venom_engine::{Context, Explorer};
use venom_runner::{HttpWorld, Processes};

/// An API on 127.0.0.1 whose `POST /orders` answers `{"order_id": 7}`; runs until the test ends.
fn start_api() -> String {
    let app = Router::new()
        .route("/", axum::routing::get(|| async { "ok" }))
        .route("/orders", post(|| async { Json(json!({ "order_id": 7 })) }));
    common::serve(app)
}

#[test]
fn an_extract_that_matches_nothing_is_a_warning_naming_action_key_path_and_answer() {
    let url = start_api();
    // The API says `order_id`; the scenario reads `$.id`: `pay` can never run.
    let text = format!(
        "base_url = \"{url}\"\n\
         [reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/orders\"\nmax_calls = 2\n\
         extract = {{ id = \"$.id\" }}\n\
         [[actions]]\nname = \"pay\"\nmethod = \"POST\"\npath = \"/orders/{{{{ ctx.id }}}}/pay\"\n\
         requires = {{ keys = [\"id\"] }}\n"
    );
    let scenario = venom_scenario::parse(&text, Path::new("extract.toml")).expect("scenario");
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let mut explorer = Explorer::new(
        world,
        venom_runner::actions(&scenario),
        venom_runner::invariants(&scenario),
    );
    let result = explorer.run(Context::new()).expect("exploration");
    let warnings: Vec<&String> = result
        .warnings
        .iter()
        .filter(|w| w.contains("matched nothing"))
        .collect();
    assert_eq!(warnings.len(), 1, "said once: {:?}", result.warnings);
    let warning = warnings[0];
    for fact in ["action `create`", "`id`", "`$.id`", "200", "order_id"] {
        assert!(warning.contains(fact), "{fact} missing in: {warning}");
    }
}
