//! Evaluation: CEL expressions, templates and JSONPath extractors.

use serde_json::{json, Value};
use venom_engine::Context;
use venom_scenario::{Expr, Extractor, Scenario, Template, TemplateValue, Vars};

/// A context built from JSON text, so numbers are typed exactly as `serde_json` parses them.
fn ctx(json_text: &str) -> Context {
    serde_json::from_str(json_text).expect("a JSON object")
}

fn eval(src: &str, ctx: &Context) -> Result<Value, String> {
    let expr = Expr::compile(src).map_err(|e| e.to_string())?;
    expr.eval(&Vars::new(ctx)).map_err(|e| e.to_string())
}

#[track_caller]
fn is_true(src: &str, ctx: &Context) {
    assert_eq!(eval(src, ctx), Ok(json!(true)), "`{src}`");
}

#[track_caller]
fn is_false(src: &str, ctx: &Context) {
    assert_eq!(eval(src, ctx), Ok(json!(false)), "`{src}`");
}

fn render(template: &str, ctx: &Context) -> Result<String, String> {
    let t = Template::parse(template).map_err(|e| e.to_string())?;
    t.render(&Vars::new(ctx)).map_err(|e| e.to_string())
}

fn render_value(value: Value, ctx: &Context) -> Value {
    TemplateValue::from_json(&value)
        .unwrap()
        .render(&Vars::new(ctx))
        .unwrap()
}

#[test]
fn compiled_values_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Scenario>();
    send_sync::<Expr>();
    send_sync::<Template>();
    send_sync::<TemplateValue>();
    send_sync::<Extractor>();
}

// ---------------------------------------------------------------------------------------------
// Expressions

#[test]
fn last_response() {
    let c = Context::new();
    let last = json!({"status": 201, "body": {"id": 7, "items": [1, 2]}, "headers": {"content-type": "application/json"}, "elapsed_ms": 12});
    let vars = Vars::with_last(&c, &last);
    let check = |src: &str| Expr::compile(src).unwrap().eval(&vars).unwrap();
    assert_eq!(check("last.status < 500"), json!(true));
    assert_eq!(check("last.status"), json!(201));
    assert_eq!(check("last.body.id"), json!(7));
    assert_eq!(check("size(last.body.items)"), json!(2));
    assert_eq!(
        check("last.headers['content-type']"),
        json!("application/json")
    );
    assert_eq!(check("last.elapsed_ms < 1000"), json!(true));

    let e = Expr::compile("last.status < 500")
        .unwrap()
        .eval(&Vars::new(&c))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("evaluating `last.status < 500`: "),
        "{e}"
    );
    assert!(
        e.to_string().contains("`last` is not available here"),
        "{e}"
    );
}

#[test]
fn context_comparisons() {
    let c = ctx(r#"{"amount": 500, "refunded": 120.5, "order_status": "paid", "n": 0}"#);
    is_true("ctx.refunded <= ctx.amount", &c);
    is_false("ctx.amount <= ctx.refunded", &c);
    is_true("ctx.order_status == 'paid'", &c);
    is_true("ctx.order_status in ['created', 'paid']", &c);
    is_false("ctx.n != 0", &c);
}

#[test]
fn json_integers_and_floats_compare_by_value() {
    // `amount` is an integer (500), `famount` a float (500.0), `refunded` a float.
    let c =
        ctx(r#"{"amount": 500, "famount": 500.0, "refunded": 120.5, "big": 18446744073709551615}"#);
    assert_eq!(c.get("amount"), Some(&json!(500)));
    is_true("ctx.amount == 500", &c);
    is_true("ctx.amount == 500.0", &c);
    is_true("ctx.famount == 500", &c);
    is_true("ctx.famount == ctx.amount", &c);
    is_true("ctx.amount != 501", &c);
    is_true("ctx.refunded <= ctx.amount", &c);
    is_true("ctx.refunded < ctx.famount", &c);
    is_true("ctx.amount >= ctx.refunded", &c);
    is_true("ctx.famount <= ctx.amount && ctx.famount >= ctx.amount", &c);
    is_true("ctx.amount < 600.5", &c);
    is_true("ctx.amount == 500u", &c);
    // Integers beyond i64 become CEL `uint`.
    is_true("ctx.big > 1", &c);
    is_true("ctx.big == 18446744073709551615u", &c);
    // No string/number coercion.
    is_false("ctx.amount == '500'", &c);
}

#[test]
fn arithmetic_keeps_cel_types() {
    let c = ctx(r#"{"amount": 500, "refunded": 120.5}"#);
    assert_eq!(eval("ctx.amount / 2", &c), Ok(json!(250)));
    assert_eq!(
        eval("ctx.amount / 3", &c),
        Ok(json!(166)),
        "integer division"
    );
    assert_eq!(eval("ctx.refunded * 2.0", &c), Ok(json!(241.0)));
    assert_eq!(
        eval("double(ctx.amount) + ctx.refunded", &c),
        Ok(json!(620.5))
    );
    assert_eq!(eval("ctx.amount + int(ctx.refunded)", &c), Ok(json!(620)));
    // CEL has no implicit int/double conversion in arithmetic.
    let e = eval("ctx.amount + ctx.refunded", &c).unwrap_err();
    assert!(
        e.starts_with("evaluating `ctx.amount + ctx.refunded`: "),
        "{e}"
    );
    let e = eval("ctx.amount / 0", &c).unwrap_err();
    assert!(e.starts_with("evaluating `ctx.amount / 0`: "), "{e}");
}

#[test]
fn missing_keys() {
    let c = ctx(r#"{"order_id": 7, "note": null}"#);
    let e = eval("ctx.missing == 1", &c).unwrap_err();
    assert_eq!(e, "evaluating `ctx.missing == 1`: No such key: missing");
    let e = Expr::compile("ctx.missing == 1")
        .unwrap()
        .eval_bool(&Vars::new(&c))
        .unwrap_err();
    assert!(e.to_string().contains("`ctx.missing == 1`"), "{e}");
    let e = eval("ctx.order_id", &Context::new()).unwrap_err();
    assert_eq!(e, "evaluating `ctx.order_id`: No such key: order_id");

    is_true("has(ctx.order_id)", &c);
    is_false("has(ctx.missing)", &c);
    is_true("has(ctx.note)", &c);
    is_true("ctx.note == null", &c);
    // Guards short-circuit around missing keys.
    is_true("!has(ctx.missing) || ctx.missing > 1", &c);
    is_false("has(ctx.missing) && ctx.missing > 1", &c);
    is_true("!has(ctx.order_id)", &Context::new());
}

#[test]
fn nested_context_values() {
    let c =
        ctx(r#"{"order": {"id": 7, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}}"#);
    is_true("ctx.order.items[0].sku == 'a'", &c);
    is_true("size(ctx.order.items) == 2", &c);
    is_true("ctx.order.items.all(i, i.qty > 0)", &c);
    assert_eq!(
        eval("ctx.order.items.map(i, i.sku)", &c),
        Ok(json!(["a", "b"]))
    );
    assert_eq!(
        eval("ctx.order.items.filter(i, i.qty > 1).size()", &c),
        Ok(json!(1))
    );
    assert_eq!(
        eval("ctx.order", &c),
        Ok(json!({"id": 7, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}]}))
    );
    assert_eq!(
        eval("{'a': [1, 2.5, 'x', true, null]}", &c),
        Ok(json!({"a": [1, 2.5, "x", true, null]}))
    );
}

#[test]
fn eval_bool_requires_a_bool() {
    let c = Context::new();
    let e = Expr::compile("1 + 1").unwrap();
    assert_eq!(
        e.eval_bool(&Vars::new(&c)).unwrap_err().to_string(),
        "expression `1 + 1` returned 2, expected a bool"
    );
    assert!(Expr::compile("1 < 2")
        .unwrap()
        .eval_bool(&Vars::new(&c))
        .unwrap());
}

#[test]
fn unknown_functions_are_refused_when_compiled_not_when_evaluated() {
    let e = eval("sise(ctx)", &Context::new()).unwrap_err();
    assert!(
        e.starts_with("unknown function `sise` in `sise(ctx)`"),
        "{e}"
    );
}

#[test]
fn compile_errors_name_the_expression() {
    let e = Expr::compile("ctx.a == )").unwrap_err().to_string();
    assert!(
        e.starts_with("invalid CEL expression `ctx.a == )`: Syntax error:"),
        "{e}"
    );
    let e = Expr::compile("  ").unwrap_err().to_string();
    assert_eq!(e, "empty expression, expected a CEL expression");
    assert_eq!(Expr::compile("  1 < 2 ").unwrap().source(), "1 < 2");
}

#[test]
fn environment_variables() {
    let c = Context::new();
    match std::env::var("PATH") {
        Ok(path) => {
            assert_eq!(eval("env.PATH", &c), Ok(json!(path)));
            assert_eq!(render("p={{ env.PATH }}", &c), Ok(format!("p={path}")));
        }
        Err(_) => is_false("has(env.PATH)", &c),
    }
    is_false("has(env.VENOM_SCENARIO_SURELY_UNSET_1F2E)", &c);
}

// ---------------------------------------------------------------------------------------------
// Templates

#[test]
fn string_templates() {
    let c = ctx(
        r#"{"order_id": 7, "status": "paid", "ratio": 0.5, "ok": true, "none": null, "tags": ["a", "b"]}"#,
    );
    assert_eq!(render("/orders", &c), Ok("/orders".into()));
    assert!(Template::parse("/orders").unwrap().is_literal());
    assert!(!Template::parse("/orders/{{ctx.order_id}}")
        .unwrap()
        .is_literal());
    assert_eq!(
        render("/orders/{{ctx.order_id}}/pay", &c),
        Ok("/orders/7/pay".into())
    );
    assert_eq!(
        render(
            "{{ ctx.status }}:{{ctx.ratio}}:{{ ctx.ok }}:{{ ctx.none }}",
            &c
        ),
        Ok("paid:0.5:true:null".into()),
        "strings are inserted raw, other values as JSON"
    );
    assert_eq!(
        render("{{ctx.order_id}}{{ctx.order_id}}", &c),
        Ok("77".into())
    );
    assert_eq!(
        render("tags={{ ctx.tags }}", &c),
        Ok(r#"tags=["a","b"]"#.into())
    );
    assert_eq!(render("{{ ctx.order_id }}", &c), Ok("7".into()));
    assert_eq!(render("n-{{ 1 + 1 }}", &c), Ok("n-2".into()));
    // Map literals and `}}}` inside a placeholder.
    assert_eq!(render("{{ {'a': 1}['a'] }}", &c), Ok("1".into()));
    assert_eq!(
        render("{{ {'a': {'b': 1}} }}", &c),
        Ok(r#"{"a":{"b":1}}"#.into())
    );
    assert_eq!(
        render("x{{ {'a': {'b': 2}}['a']['b']}}}", &c),
        Ok("x2}".into())
    );
    // A literal `{{`.
    assert_eq!(render("{{ '{{' }} x }}", &c), Ok("{{ x }}".into()));
    assert_eq!(
        Template::parse("a {{ ctx.x }} b").unwrap().source(),
        "a {{ ctx.x }} b"
    );
}

#[test]
fn template_errors() {
    let e = Template::parse("/o/{{ ctx.id").unwrap_err().to_string();
    assert_eq!(
        e,
        "unclosed placeholder in template `/o/{{ ctx.id`, expected `}}` after `{{`"
    );
    let e = Template::parse("/o/{{ ) }}").unwrap_err().to_string();
    assert!(
        e.starts_with("in template `/o/{{ ) }}`: invalid CEL expression `)`:"),
        "{e}"
    );
    let e = Template::parse("/o/{{ }}").unwrap_err().to_string();
    assert_eq!(
        e,
        "in template `/o/{{ }}`: empty expression, expected a CEL expression"
    );
    // Rendering errors name the failing expression.
    let e = render("/orders/{{ ctx.order_id }}", &Context::new()).unwrap_err();
    assert_eq!(e, "evaluating `ctx.order_id`: No such key: order_id");
}

#[test]
fn template_values_keep_types() {
    let c = ctx(r#"{"order_id": 7, "amount": 500, "ratio": 0.5, "ok": true, "order": {"id": 7}}"#);
    assert_eq!(render_value(json!("{{ ctx.order_id }}"), &c), json!(7));
    assert_eq!(render_value(json!("{{ctx.amount / 2}}"), &c), json!(250));
    assert_eq!(render_value(json!("{{ ctx.ratio }}"), &c), json!(0.5));
    assert_eq!(render_value(json!("{{ ctx.ok }}"), &c), json!(true));
    assert_eq!(render_value(json!("{{ ctx.order }}"), &c), json!({"id": 7}));
    assert_eq!(render_value(json!("{{ [1, 'a'] }}"), &c), json!([1, "a"]));
    // Anything around the placeholder makes it a string.
    assert_eq!(
        render_value(json!("id-{{ ctx.order_id }}"), &c),
        json!("id-7")
    );
    assert_eq!(render_value(json!(" {{ ctx.order_id }}"), &c), json!(" 7"));
    assert_eq!(
        render_value(json!("{{ctx.order_id}}{{ctx.order_id}}"), &c),
        json!("77")
    );
    // Plain strings and other constants stay as they are.
    assert_eq!(render_value(json!("plain"), &c), json!("plain"));
    assert_eq!(render_value(json!(3), &c), json!(3));
    assert_eq!(render_value(json!(null), &c), json!(null));
}

#[test]
fn nested_template_values() {
    let c = ctx(r#"{"order_id": 7, "amount": 500, "currency": "EUR"}"#);
    let body = json!({
        "order": "{{ ctx.order_id }}",
        "lines": [
            {"amount": "{{ ctx.amount }}", "label": "line {{ ctx.order_id }}"},
            "{{ ctx.currency }}",
            [1, "{{ 2 }}"],
        ],
        "meta": {"fixed": 1.5, "flag": false, "none": null, "deep": {"x": "{{ ctx.amount * 2 }}"}},
    });
    assert_eq!(
        render_value(body, &c),
        json!({
            "order": 7,
            "lines": [
                {"amount": 500, "label": "line 7"},
                "EUR",
                [1, 2],
            ],
            "meta": {"fixed": 1.5, "flag": false, "none": null, "deep": {"x": 1000}},
        })
    );
    let built = TemplateValue::object(vec![
        ("a".into(), TemplateValue::constant(json!(1))),
        (
            "b".into(),
            TemplateValue::array(vec![TemplateValue::string(
                Template::parse("{{ ctx.order_id }}").unwrap(),
            )]),
        ),
    ]);
    assert_eq!(
        built.render(&Vars::new(&c)).unwrap(),
        json!({"a": 1, "b": [7]})
    );
    let e = TemplateValue::from_json(&json!({"a": ["{{ ) }}"]})).unwrap_err();
    assert!(e.to_string().starts_with("in template `{{ ) }}`"), "{e}");
    let e = TemplateValue::from_json(&json!({"a": "{{ ctx.nope }}"}))
        .unwrap()
        .render(&Vars::new(&c))
        .unwrap_err();
    assert_eq!(e.to_string(), "evaluating `ctx.nope`: No such key: nope");
}

// ---------------------------------------------------------------------------------------------
// Extractors

#[test]
fn extractors() {
    let body = json!({
        "id": 7,
        "status": "paid",
        "note": null,
        "order": {"items": [{"id": "a", "status": "open"}, {"id": "b", "status": "paid"}]},
        "weird key": {"x": 1},
    });
    let get = |path: &str| Extractor::parse(path).unwrap().extract(&body);
    assert_eq!(get("$.id"), Some(json!(7)));
    assert_eq!(get("$.status"), Some(json!("paid")));
    assert_eq!(get("$.order.items[1].id"), Some(json!("b")));
    assert_eq!(get("$.order.items[-1].id"), Some(json!("b")));
    assert_eq!(
        get("$.order.items[*].id"),
        Some(json!("a")),
        "the first match"
    );
    assert_eq!(
        get("$.order.items[?@.status == 'paid'].id"),
        Some(json!("b"))
    );
    assert_eq!(get("$['weird key'].x"), Some(json!(1)));
    assert_eq!(get("$..status"), Some(json!("paid")));
    assert_eq!(
        get("$.order.items[0]"),
        Some(json!({"id": "a", "status": "open"}))
    );
    assert_eq!(get("$"), Some(body.clone()));
    // Present but null is not missing.
    assert_eq!(get("$.note"), Some(Value::Null));
    // Missing.
    assert_eq!(get("$.missing"), None);
    assert_eq!(get("$.order.items[5].id"), None);
    assert_eq!(get("$.id.deeper"), None);
    assert_eq!(
        Extractor::parse("$.id")
            .unwrap()
            .extract(&json!("text body")),
        None
    );
    assert_eq!(Extractor::parse("$.id").unwrap().extract(&json!([])), None);
    assert!(Extractor::parse(" $.id").is_err());
    assert_eq!(
        Extractor::parse("$.order.items[*].id").unwrap().source(),
        "$.order.items[*].id"
    );
}

#[test]
fn extractor_errors() {
    let e = Extractor::parse("id").unwrap_err().to_string();
    assert!(e.starts_with("invalid JSONPath `id`: "), "{e}");
    assert!(
        e.ends_with("expected an RFC 9535 query such as `$.id`"),
        "{e}"
    );
    assert!(Extractor::parse("$.[").is_err());
    assert!(Extractor::parse("").is_err());
}
