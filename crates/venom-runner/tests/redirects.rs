//! Redirects are answers, not hops taken silently: `expect = [302]` sees the 302.

mod common;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::path::Path;
use venom_engine::Context;
use venom_runner::{HttpWorld, Processes};

/// An API on 127.0.0.1 whose `/old` redirects to `/new`; runs until the test ends.
fn start_api() -> String {
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/old",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/new")]).into_response() }),
        )
        .route("/new", get(|| async { "moved here" }));
    common::serve(app)
}

#[test]
fn a_redirect_is_the_answer_of_the_step() {
    let url = start_api();
    let text = format!(
        "base_url = \"{url}\"\n\
         [reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"old\"\nmethod = \"GET\"\npath = \"/old\"\nexpect = [302]\n"
    );
    let scenario = venom_scenario::parse(&text, Path::new("redirect.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let actions = venom_runner::actions(&scenario);
    let mut ctx = Context::new();
    let outcome = actions[0].run(&mut world, &mut ctx).expect("old");
    let exchange = outcome.exchange.expect("an exchange");
    let response = exchange.response.expect("a response");
    assert_eq!(response.status, 302);
    assert!(
        response
            .headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("location") && value == "/new"),
        "{:?}",
        response.headers
    );
}
