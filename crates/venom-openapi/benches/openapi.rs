//! Figures for the OpenAPI import: the cost of judging one response (a 10 KB body against a
//! schema of `$ref`s, one of them recursive) and of `venom init`'s work (parse, plan, write)
//! on the largest of the public documents in `tests/documents/` (copied unchanged from `../shared/openapi/`). Run with `cargo bench -p venom-openapi`;
//! it prints the median and p99 of each.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// A document whose list answer is `{items: [Order…]}`, each order holding `$ref`s (one of
/// them to itself).
fn document() -> String {
    json!({
        "openapi": "3.0.3", "info": {"title": "bench", "version": "1"},
        "paths": {"/orders": {"get": {"responses": {"200": {"description": "list",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/List"}}}}}}}},
        "components": {"schemas": {
            "List": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}}},
            "Order": {"type": "object", "required": ["id", "amount", "status", "lines"], "properties": {
                "id": {"type": "integer"}, "amount": {"type": "integer", "minimum": 0},
                "status": {"type": "string", "enum": ["created", "paid", "refunded"]},
                "note": {"type": "string", "nullable": true},
                "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                "replaces": {"$ref": "#/components/schemas/Order"}}},
            "Line": {"type": "object", "required": ["sku", "quantity"], "properties": {
                "sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}}}
        }}
    })
    .to_string()
}

/// About 10 KB of valid orders.
fn body() -> Value {
    let orders: Vec<Value> = (0..88)
        .map(|i| {
            json!({"id": i, "amount": 100 + i, "status": "paid", "note": null,
                   "lines": [{"sku": format!("sku-{i}"), "quantity": 1}, {"sku": "x", "quantity": 2}]})
        })
        .collect();
    json!({ "items": orders })
}

fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let spec = venom_openapi::parse(&document(), "bench.json").expect("document");
    let conformance = venom_openapi::Conformance::new(Arc::new(spec), "").expect("schemas");
    let (index, _) = conformance.operation("GET", "/orders").expect("operation");
    let body = body();
    let bytes = body.to_string().len();
    let mut samples = Vec::new();
    for _ in 0..2_000 {
        let started = Instant::now();
        let verdict = conformance.check(index, 200, Some("application/json"), &body);
        samples.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(verdict.is_ok());
    }
    let (p50, p99) = percentiles(samples);
    println!(
        "response_schema: one {bytes}-byte body: p50 {p50:.1} µs, p99 {p99:.1} µs (2000 runs)"
    );

    let largest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/documents/swagger-petstore-v3.yaml");
    let text = std::fs::read_to_string(&largest).expect("the shared documents");
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let spec = venom_openapi::parse(&text, "petstore").expect("petstore");
        let scenario = venom_openapi::scenario_text(&spec, &Default::default());
        samples.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(scenario.contains("[[actions]]"));
    }
    let (p50, p99) = percentiles(samples);
    println!(
        "init (parse + plan + write) of {} ({} bytes): p50 {p50:.2} ms, p99 {p99:.2} ms (200 runs)",
        largest.file_name().unwrap().to_string_lossy(),
        text.len()
    );
}
