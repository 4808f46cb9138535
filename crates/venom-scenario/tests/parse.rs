//! Parsing: the example and fixture files, and the exact position and wording of every error.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use venom_engine::{CheckpointMode, Context, Severity, Strategy};
use venom_scenario::{
    load, parse, AuthSpec, Builtin, ExploreDefaults, ResetSpec, RollbackSpec, Scenario,
    ScenarioError, SqliteSpec, Template, Vars,
};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

fn ctx(value: Value) -> Context {
    serde_json::from_value(value).expect("a JSON object")
}

fn render(t: &Template, ctx: &Context) -> String {
    t.render(&Vars::new(ctx)).expect("renders")
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<&str> {
    items.iter().map(name).collect()
}

// ---------------------------------------------------------------------------------------------
// Files that parse

#[test]
fn demo_example_parses() {
    let path = manifest_dir().join("../../examples/demo.toml");
    let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = path.parent().unwrap();

    assert_eq!(s.file, path);
    assert_eq!(s.base_url, "http://127.0.0.1:8080");
    assert_eq!(
        s.state_from_context.as_deref(),
        Some(&["order_id", "order_status", "idempotency_key"].map(String::from)[..])
    );
    assert_eq!(
        s.explore,
        ExploreDefaults {
            strategy: Some(Strategy::Bfs),
            max_depth: Some(5),
            max_steps: Some(2000),
            ..ExploreDefaults::default()
        }
    );
    assert!(s.server.is_none());
    let Some(ResetSpec::Request(reset)) = &s.reset else {
        panic!("expected a reset request, got {:?}", s.reset);
    };
    assert_eq!(reset.method, "POST");
    assert_eq!(reset.path.source(), "/admin/reset");
    assert_eq!(
        s.rollback,
        RollbackSpec::Sqlite(SqliteSpec {
            path: dir.join("demo.db"),
            observe_tables: vec!["orders".into(), "refunds".into(), "idempotency".into()],
            observe_queries: vec![],
        })
    );
    assert_eq!(s.defaults.timeout, Duration::from_secs(10));
    assert_eq!(names(&s.defaults.headers, |h| &h.0), ["accept"]);
    assert!(s.defaults.auth.is_none());
    assert!(s.builtins.no_server_errors);

    assert_eq!(
        names(&s.actions, |a| &a.name),
        [
            "create_order",
            "create_order_idempotent",
            "pay",
            "refund_partial",
            "cancel",
            "delete_order",
            "list_orders",
        ]
    );
    assert_eq!(
        names(&s.invariants, |i| &i.name),
        [
            "refund_within_amount",
            "paid_within_amount",
            "list_total_matches_items",
            "one_order_per_idempotency_key",
        ]
    );
    assert_eq!(
        s.invariants.iter().map(|i| i.severity).collect::<Vec<_>>(),
        [
            Severity::Critical,
            Severity::High,
            Severity::High,
            Severity::High
        ]
    );

    let create = s.action("create_order").unwrap();
    assert_eq!(create.steps[0].request.method, "POST");
    assert_eq!(create.steps[0].expect.as_deref(), Some(&[201][..]));
    assert_eq!(create.max_calls, Some(1));
    assert_eq!(create.weight, 1.0);
    assert_eq!(
        names(&create.steps[0].extract, |e| &e.key),
        ["order_id", "order_status"]
    );
    let empty = Context::new();
    let body = create.steps[0].request.body.as_ref().unwrap();
    assert_eq!(
        body.render(&Vars::new(&empty)).unwrap(),
        json!({"amount": 100, "currency": "EUR"})
    );

    // The guards do what the comments in the file say.
    let guard = |action: &str, c: &Context| {
        let r = &s.action(action).unwrap().requires;
        r.expr.as_ref().unwrap().eval_bool(&Vars::new(c)).unwrap()
    };
    let plain = ctx(json!({"order_id": 1, "order_status": "created"}));
    let idem =
        ctx(json!({"order_id": 1, "order_status": "created", "idempotency_key": "demo-key"}));
    let deleted = ctx(json!({"order_id": 1, "order_status": "deleted"}));
    assert!(guard("create_order", &empty));
    assert!(!guard("create_order", &plain));
    assert!(guard("create_order_idempotent", &empty));
    assert!(guard("create_order_idempotent", &idem));
    assert!(!guard("create_order_idempotent", &plain));
    assert!(guard("pay", &plain));
    assert!(!guard("pay", &idem));
    assert!(!guard("pay", &deleted));
    assert_eq!(s.action("pay").unwrap().requires.keys, ["order_id"]);
    assert_eq!(
        render(&s.action("pay").unwrap().steps[0].request.path, &plain),
        "/orders/1/pay"
    );

    // The invariants catch the planted bugs.
    let inv = |name: &str| s.invariants.iter().find(|i| i.name == name).unwrap();
    let over = json!({"status": 200, "body": {"amount": 100, "refunded": 120, "paid": 100}});
    let refund = inv("refund_within_amount");
    assert!(!refund
        .expr()
        .unwrap()
        .eval_bool(&Vars::with_last(&plain, &over))
        .unwrap());
    assert_eq!(
        refund
            .message
            .as_ref()
            .unwrap()
            .render(&Vars::with_last(&plain, &over))
            .unwrap(),
        "order 1: refunded 120 > amount 100"
    );
    let gone = json!({"status": 404, "body": {"error": "not found"}});
    assert!(refund
        .expr()
        .unwrap()
        .eval_bool(&Vars::with_last(&plain, &gone))
        .unwrap());
    assert!(refund
        .when
        .as_ref()
        .unwrap()
        .eval_bool(&Vars::new(&plain))
        .unwrap());
    assert!(!refund
        .when
        .as_ref()
        .unwrap()
        .eval_bool(&Vars::new(&empty))
        .unwrap());

    let list = json!({"status": 200, "body": {"total": 2, "items": [
        {"id": 1, "idempotency_key": "demo-key"},
        {"id": 2, "idempotency_key": "demo-key"},
    ]}});
    let vars = Vars::with_last(&idem, &list);
    assert!(inv("list_total_matches_items")
        .expr()
        .unwrap()
        .eval_bool(&vars)
        .unwrap());
    let once = inv("one_order_per_idempotency_key");
    assert!(!once.expr().unwrap().eval_bool(&vars).unwrap());
    assert_eq!(
        once.message.as_ref().unwrap().render(&vars).unwrap(),
        "2 orders share Idempotency-Key demo-key"
    );
}

#[test]
fn minimal_fixture_gets_defaults() {
    let path = fixture("minimal.toml");
    let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.file, path);
    assert_eq!(s.base_url, "https://api.example.com");
    assert_eq!(s.state_from_context, None);
    assert_eq!(s.explore, ExploreDefaults::default());
    assert!(s.server.is_none());
    assert!(s.reset.is_none());
    assert_eq!(s.rollback, RollbackSpec::Reset { observe: None });
    assert!(s.defaults.headers.is_empty());
    assert_eq!(s.defaults.timeout, Duration::from_secs(10));
    assert!(s.defaults.auth.is_none());
    assert!(s.invariants.is_empty());
    assert!(s.builtins.no_server_errors);

    let [a] = &s.actions[..] else {
        panic!("expected one action, got {:?}", s.actions);
    };
    assert_eq!(a.name, "list");
    assert_eq!(a.steps[0].request.method, "GET");
    assert_eq!(a.steps[0].request.path.source(), "/items");
    assert!(a.steps[0].request.path.is_literal());
    assert!(a.steps[0].request.body.is_none());
    assert!(a.steps[0].request.headers.is_empty());
    assert!(a.auth.is_none());
    assert_eq!(a.steps[0].expect, None);
    assert!(a.steps[0].extract.is_empty());
    assert!(a.set.is_empty());
    assert!(a.requires.actions.is_empty());
    assert!(a.requires.keys.is_empty());
    assert!(a.requires.expr.is_none());
    assert_eq!(a.max_calls, None);
    assert_eq!(a.weight, 1.0);
}

#[test]
fn full_fixture_every_field() {
    let path = fixture("full.toml");
    let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = path.parent().unwrap();
    let c = ctx(json!({"n": 3, "order_id": 42}));
    let vars = Vars::new(&c);

    assert_eq!(s.file, path);
    assert_eq!(s.base_url, "http://127.0.0.1:8080", "trailing `/` dropped");
    assert_eq!(
        s.state_from_context,
        Some(vec!["order_status".into(), "paid".into()])
    );
    assert_eq!(
        s.explore,
        ExploreDefaults {
            strategy: Some(Strategy::Coverage),
            max_steps: Some(500),
            max_depth: Some(6),
            coverage_target: Some(0.9),
            time_limit: Some(Duration::from_secs(60)),
            seed: Some(7),
            progress_every: Some(50),
            loop_threshold: Some(3),
        }
    );

    let server = s.server.as_ref().unwrap();
    assert_eq!(server.command, "python3 app.py");
    assert_eq!(server.cwd, dir.join("app"));
    assert_eq!(
        server.env.iter().collect::<Vec<_>>(),
        [
            (
                &"DATABASE_URL".to_string(),
                &"sqlite:///tmp/app.db".to_string()
            ),
            (&"PORT".to_string(), &"8080".to_string()),
        ]
    );
    assert_eq!(server.ready_url, "http://127.0.0.1:8080/health");
    assert_eq!(server.ready_timeout, Duration::from_millis(2500));

    let Some(ResetSpec::Request(reset)) = &s.reset else {
        panic!("expected a reset request, got {:?}", s.reset);
    };
    assert_eq!(reset.method, "POST", "methods are uppercased");
    assert_eq!(reset.path.source(), "/admin/reset");
    assert!(reset.body.is_none());
    assert_eq!(names(&reset.headers, |h| &h.0), ["X-Admin"]);
    assert_eq!(render(&reset.headers[0].1, &c), "yes");

    assert_eq!(
        s.rollback,
        RollbackSpec::Sqlite(SqliteSpec {
            path: dir.join("data/app.db"),
            observe_tables: vec!["orders".into(), "refunds".into()],
            observe_queries: vec![],
        })
    );

    assert_eq!(names(&s.defaults.headers, |h| &h.0), ["accept", "X-Trace"]);
    assert_eq!(render(&s.defaults.headers[0].1, &c), "application/json");
    assert_eq!(render(&s.defaults.headers[1].1, &c), "t-3");
    assert_eq!(s.defaults.timeout, Duration::from_secs(3));
    assert_eq!(
        s.defaults.auth,
        Some(AuthSpec::Bearer {
            env: "API_TOKEN".into()
        })
    );

    assert_eq!(names(&s.actions, |a| &a.name), ["create_order", "pay"]);
    let create = &s.actions[0];
    assert_eq!(create.steps[0].request.method, "POST");
    assert_eq!(create.steps[0].request.path.source(), "/orders");
    assert_eq!(
        create.steps[0]
            .request
            .body
            .as_ref()
            .unwrap()
            .render(&vars)
            .unwrap(),
        json!({
            "amount": 100,
            "currency": "EUR",
            "note": "n-2",
            "half": 50,
            "tags": ["a", "b"],
            "nested": {"ok": true, "ratio": 0.5},
        })
    );
    assert_eq!(
        names(&create.steps[0].request.headers, |h| &h.0),
        ["Idempotency-Key"]
    );
    assert_eq!(render(&create.steps[0].request.headers[0].1, &c), "k-3");
    assert_eq!(
        create.auth,
        Some(AuthSpec::Basic {
            user_env: "U".into(),
            password_env: "P".into()
        })
    );
    assert_eq!(create.steps[0].expect.as_deref(), Some(&[201, 409][..]));
    assert_eq!(
        create.steps[0]
            .extract
            .iter()
            .map(|e| (e.key.as_str(), e.path.source()))
            .collect::<Vec<_>>(),
        [("order_id", "$.id"), ("order_status", "$.status")]
    );
    let set: Vec<_> = create
        .set
        .iter()
        .map(|(k, v)| (k.as_str(), v.render(&vars).unwrap()))
        .collect();
    assert_eq!(set, [("paid", json!(0)), ("label", json!("order"))]);
    assert!(create.requires.actions.is_empty());
    assert!(create.requires.keys.is_empty());
    assert!(create.requires.expr.is_none());
    assert_eq!(create.max_calls, Some(2));
    assert_eq!(create.weight, 2.5);

    let pay = s.action("pay").unwrap();
    assert_eq!(pay.steps[0].request.method, "POST");
    assert_eq!(render(&pay.steps[0].request.path, &c), "/orders/42/pay");
    assert!(pay.steps[0].request.body.is_none());
    assert!(pay.steps[0].request.headers.is_empty());
    assert_eq!(
        pay.auth,
        Some(AuthSpec::Header {
            header: "X-Api-Key".into(),
            value_env: "API_KEY".into()
        })
    );
    assert_eq!(pay.steps[0].expect, None);
    assert!(pay.steps[0].extract.is_empty());
    // `n`, read by the `X-Trace` default header, must be set by some action.
    let pay_set: Vec<_> = pay
        .set
        .iter()
        .map(|(k, v)| (k.as_str(), v.render(&vars).unwrap()))
        .collect();
    assert_eq!(pay_set, [("n", json!(3))]);
    assert_eq!(pay.requires.actions, ["create_order"]);
    assert_eq!(pay.requires.keys, ["order_id"]);
    let guard = pay.requires.expr.as_ref().unwrap();
    assert_eq!(guard.source(), "ctx.order_status == 'created'");
    let created = ctx(json!({"order_status": "created"}));
    assert!(guard.eval_bool(&Vars::new(&created)).unwrap());
    assert_eq!(pay.max_calls, None);
    assert_eq!(pay.weight, 1.0);

    assert_eq!(
        names(&s.invariants, |i| &i.name),
        ["refund_within_amount", "status_known"]
    );
    let refund = &s.invariants[0];
    assert_eq!(refund.severity, Severity::Critical);
    assert_eq!(refund.when.as_ref().unwrap().source(), "has(ctx.order_id)");
    let check = &refund.check.as_ref().unwrap().request;
    assert_eq!(check.method, "GET");
    assert_eq!(render(&check.path, &c), "/orders/42");
    assert!(check.body.is_none());
    assert!(check.headers.is_empty());
    assert_eq!(
        refund.expr().unwrap().source(),
        "last.body.refunded <= last.body.amount"
    );
    let last = json!({"status": 200, "body": {"refunded": 150, "amount": 100}});
    assert!(!refund
        .expr()
        .unwrap()
        .eval_bool(&Vars::with_last(&c, &last))
        .unwrap());
    assert_eq!(
        refund
            .message
            .as_ref()
            .unwrap()
            .render(&Vars::with_last(&c, &last))
            .unwrap(),
        "refunded 150 > amount 100"
    );
    let known = &s.invariants[1];
    assert_eq!(known.severity, Severity::High, "the default severity");
    assert!(known.when.is_none());
    assert!(known.check.is_none());
    assert!(known.message.is_none());
    assert!(known.expr().unwrap().eval_bool(&vars).unwrap());

    assert!(!s.builtins.no_server_errors);
}

#[test]
fn relative_paths_follow_the_scenario_file() {
    let text = "base_url = \"http://h\"\n[server]\ncommand = \"x\"\n[rollback]\nmode = \"sqlite\"\nsqlite_path = \"db.sqlite\"\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n";
    let s = parse(text, Path::new("dir/sub/s.toml")).unwrap();
    assert_eq!(s.server.as_ref().unwrap().cwd, Path::new("dir/sub"));
    assert_eq!(s.server.as_ref().unwrap().ready_url, "http://h");
    assert_eq!(
        s.rollback,
        RollbackSpec::Sqlite(SqliteSpec {
            path: PathBuf::from("dir/sub/db.sqlite"),
            observe_tables: vec![],
            observe_queries: vec![],
        })
    );
    let s = parse(text, Path::new("s.toml")).unwrap();
    assert_eq!(s.server.as_ref().unwrap().cwd, Path::new("."));
}

#[test]
fn reset_command_and_absolute_ready_url() {
    let s = ok(&format!(
        "{HEAD}[reset]\ncommand = \"sqlite3 app.db < seed.sql\"\n[server]\ncommand = \"x\"\nready_url = \"http://other:1/up\"\n{ACTION}"
    ));
    assert!(matches!(&s.reset, Some(ResetSpec::Command(c)) if c == "sqlite3 app.db < seed.sql"));
    assert_eq!(s.server.unwrap().ready_url, "http://other:1/up");
}

#[test]
fn body_and_headers_take_any_keys() {
    let s = ok(&case(
        "body = { anything = { goes = [1, 2.5, true, \"s\", 1979-05-27T07:32:00Z] } }\nheaders = { \"X-Whatever\" = \"1\" }\n",
    ));
    let body = s.actions[0].steps[0].request.body.as_ref().unwrap();
    assert_eq!(
        body.render(&Vars::new(&Context::new())).unwrap(),
        json!({"anything": {"goes": [1, 2.5, true, "s", "1979-05-27T07:32:00Z"]}})
    );
}

#[test]
fn load_reports_unreadable_files() {
    let e = load(Path::new("/nonexistent/venom.toml")).unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/venom.toml: cannot read the scenario file:"),
        "{e}"
    );
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let mut bytes = b"base_url = \"http://h\"\n# caf".to_vec();
    bytes.extend_from_slice(&[0xC3, 0x28]); // not a UTF-8 sequence
    bytes.extend_from_slice(b"\n");
    std::fs::write(&path, bytes).unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.line, e.column), (2, 6), "{e}");
    assert!(e.message.contains("not valid UTF-8"), "{e}");
}

#[test]
fn load_reads_a_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, case("")).unwrap();
    let s = load(&path).unwrap();
    assert_eq!(s.file, path);
    std::fs::write(&path, case("nmae = 1\n")).unwrap();
    let e = load(&path).unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:6:1: unknown field `nmae`", path.display())),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors: exact `file:line:column: message`

/// Line 1.
const HEAD: &str = "base_url = \"http://h\"\n";
/// Four lines.
const ACTION: &str = "[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n";

/// `HEAD` + `ACTION` + `extra`: `extra` starts on line 6, inside the action's table.
fn case(extra: &str) -> String {
    format!("{HEAD}{ACTION}{extra}")
}

/// `case` with an invariant: `fields` start on line 8.
fn invariant(fields: &str) -> String {
    case(&format!("[[invariants]]\nname = \"i\"\n{fields}"))
}

fn ok(text: &str) -> Scenario {
    parse(text, Path::new("t.toml")).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn err(text: &str) -> ScenarioError {
    match parse(text, Path::new("t.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// The error starts with exactly `prefix` (`t.toml:line:col: message start`) and mentions
/// every one of `also`.
#[track_caller]
fn assert_err(text: &str, prefix: &str, also: &[&str]) {
    let e = err(text);
    let shown = e.to_string();
    assert!(
        shown.starts_with(prefix),
        "\n  got: {shown}\n want: {prefix}…\n for:\n{text}"
    );
    for part in also {
        assert!(shown.contains(part), "`{shown}` should mention `{part}`");
    }
    assert!(!e.message.contains('\n'), "one line: {shown}");
}

#[test]
fn error_fields_and_display() {
    let e = err(&case("nmae = \"x\"\n"));
    assert_eq!(e.file, Path::new("t.toml"));
    assert_eq!((e.line, e.column), (6, 1));
    assert!(e
        .message
        .starts_with("unknown field `nmae`, expected one of `name`, `method`"));
    assert_eq!(e.to_string(), format!("t.toml:6:1: {}", e.message));
}

#[test]
fn unknown_keys() {
    let action_fields = "`name`, `method`, `path`, `body`, `headers`, `auth`, `expect`, `extract`, `extract_on`, `steps`, `as`, `set`, `requires`, `max_calls`, `weight`";
    assert_err(
        &case("nmae = \"b\"\n"),
        &format!("t.toml:6:1: unknown field `nmae`, expected one of {action_fields}"),
        &[],
    );
    // Before the required `name`, too.
    assert_err(
        &format!("{HEAD}[[actions]]\nnmae = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n"),
        "t.toml:3:1: unknown field `nmae`, expected one of `name`",
        &[],
    );
    assert_err(
        &format!("{HEAD}bogus = 1\n{ACTION}"),
        "t.toml:2:1: unknown field `bogus`, expected one of `base_url`, `state_from_context`, `explore`, `server`, `reset`, `rollback`, `defaults`, `actions`, `invariants`, `builtins`",
        &[],
    );
    assert_err(
        &case("[bogus]\nx = 1\n"),
        "t.toml:6:2: unknown field `bogus`, expected one of `base_url`",
        &[],
    );
    assert_err(
        &case("[action]\nname = \"b\"\n"),
        "t.toml:6:2: unknown field `action`, expected one of `base_url`",
        &["`actions`"],
    );
}

#[test]
fn unknown_keys_in_nested_tables() {
    let cases: &[(&str, &str)] = &[
        (
            "[explore]\nstrat = \"bfs\"\n",
            "t.toml:7:1: unknown field `strat`, expected one of `strategy`, `max_steps`, `max_depth`, `coverage_target`, `time_limit`, `seed`, `progress_every`, `loop_threshold`",
        ),
        (
            "[server]\ncommand = \"x\"\nport = 1\n",
            "t.toml:8:1: unknown field `port`, expected one of `command`, `cwd`, `env`, `ready_url`, `ready_timeout`",
        ),
        (
            "[reset]\nrequests = 1\n",
            "t.toml:7:1: unknown field `requests`, expected one of `request`, `command`, `retries`",
        ),
        (
            "[reset]\nrequest = { method = \"GET\", path = \"/\", query = 1 }\n",
            "t.toml:7:41: unknown field `query`, expected one of `method`, `path`, `body`, `headers`",
        ),
        (
            "[rollback]\nmode = \"sqlite\"\nsqlite = \"x\"\n",
            "t.toml:8:1: unknown field `sqlite`, expected one of `mode`, `sqlite_path`, `observe_tables`",
        ),
        (
            "[defaults]\nretries = 1\n",
            "t.toml:7:1: unknown field `retries`, expected one of `headers`, `timeout`, `auth`",
        ),
        (
            "[defaults]\nauth = { token = \"T\" }\n",
            "t.toml:7:10: unknown field `token`, expected one of `bearer_env`, `basic_user_env`, `basic_password_env`, `header`, `value_env`",
        ),
        (
            "[builtins]\nno_server_error = true\n",
            "t.toml:7:1: unknown field `no_server_error`, expected one of `no_server_errors`, `response_schema`, `use_after_free`, `create_then_read`, `failed_create_leaves_nothing`, `auth_enforced`",
        ),
        (
            "auth = { bearer = \"T\" }\n",
            "t.toml:6:10: unknown field `bearer`, expected one of `bearer_env`",
        ),
        (
            "requires = { action = [\"a\"] }\n",
            "t.toml:6:14: unknown field `action`, expected one of `actions`, `keys`, `expr`",
        ),
        (
            "[[invariants]]\nname = \"i\"\nexpr = \"true\"\nseverty = \"low\"\n",
            "t.toml:9:1: unknown field `severty`, expected one of `name`, `severity`, `when`, `check`, `checks`, `expr`, `message`",
        ),
        (
            "[[invariants]]\nname = \"i\"\nexpr = \"true\"\ncheck = { method = \"GET\", path = \"/\", body = {}, expect = [200] }\n",
            "t.toml:9:50: unknown field `expect`, expected one of `name`, `method`, `path`, `sql`, `body`, `headers`, `as`",
        ),
        // A dotted sub-table of an action is checked too.
        (
            "[actions.requires]\nkeys = []\nwhen = \"true\"\n",
            "t.toml:8:1: unknown field `when`, expected one of `actions`, `keys`, `expr`",
        ),
    ];
    for (extra, prefix) in cases {
        assert_err(&case(extra), prefix, &[]);
    }
}

#[test]
fn missing_required_fields() {
    assert_err(ACTION, "t.toml:1:1: missing field `base_url`", &[]);
    assert_err(
        HEAD,
        "t.toml:1:1: missing field `actions`, expected at least one [[actions]] table",
        &[],
    );
    assert_err(
        &format!("{HEAD}actions = []\n"),
        "t.toml:2:11: no actions, expected at least one [[actions]] table",
        &[],
    );
    assert_err(
        &format!("{HEAD}[[actions]]\nmethod = \"GET\"\npath = \"/x\"\n"),
        "t.toml:2:1: missing field `name`",
        &[],
    );
    assert_err(
        &format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\n"),
        "t.toml:2:1: missing field `path`",
        &[],
    );
    assert_err(
        &case("[[invariants]]\nname = \"i\"\n"),
        "t.toml:6:1: invariant `i` has neither `expr` nor `sql`, expected exactly one of them",
        &[],
    );
    assert_err(
        &case("[server]\ncwd = \".\"\n"),
        "t.toml:6:1: missing field `command`",
        &[],
    );
}

#[test]
fn wrong_types() {
    assert_err(
        &case("max_calls = \"two\"\n"),
        "t.toml:6:13: invalid type: string \"two\", expected u32",
        &[],
    );
    assert_err(
        &case("max_calls = -1\n"),
        "t.toml:6:13: invalid value: integer `-1`, expected u32",
        &[],
    );
    assert_err(
        &case("weight = \"heavy\"\n"),
        "t.toml:6:10: invalid type: string \"heavy\", expected f64",
        &[],
    );
    assert_err(
        &case("expect = 201\n"),
        "t.toml:6:10: invalid type: integer `201`, expected a sequence",
        &[],
    );
    assert_err(
        &format!("base_url = 8080\n{ACTION}"),
        "t.toml:1:12: invalid type: integer `8080`, expected a string",
        &[],
    );
    assert_err(
        &format!("{HEAD}state_from_context = \"order_id\"\n{ACTION}"),
        "t.toml:2:22: invalid type: string \"order_id\", expected a sequence",
        &[],
    );
    assert_err(
        &case("[builtins]\nno_server_errors = \"yes\"\n"),
        "t.toml:7:20: invalid type: string \"yes\", expected a boolean",
        &[],
    );
    assert_err(
        &case("headers = { \"X-N\" = 1 }\n"),
        "t.toml:6:21: invalid type: integer `1`, expected a string",
        &[],
    );
    assert_err(
        &case("extract = [\"$.id\"]\n"),
        "t.toml:6:11: invalid type: sequence, expected a table",
        &[],
    );
    assert_err(
        &format!("{HEAD}[actions]\nname = \"a\"\n"),
        "t.toml:2:1: invalid type: map, expected a sequence",
        &[],
    );
    assert_err(
        &case("[explore]\nstrategy = \"best\"\n"),
        "t.toml:7:12: unknown variant `best`, expected one of `bfs`, `dfs`, `random`, `coverage`, `weighted`",
        &[],
    );
    assert_err(
        &case("[rollback]\nmode = \"git\"\n"),
        "t.toml:7:8: unknown variant `git`, expected one of `reset`, `sqlite`, `postgres`",
        &[],
    );
}

#[test]
fn toml_syntax_errors() {
    assert_err(&case("body = { a = }\n"), "t.toml:6:14: ", &["expected"]);
    assert_err(
        &format!("base_url = \"http://h\n{ACTION}"),
        "t.toml:1:21: invalid basic string, expected `\"`",
        &[],
    );
    assert_err(
        &case("expect = [201,\n"),
        "t.toml:6:15: unclosed array, expected `]`",
        &[],
    );
    assert_err(
        &case("weight = 1.\n"),
        "t.toml:6:12: invalid fraction, expected digits",
        &[],
    );
    assert_err(&case("max_calls = 1 2\n"), "t.toml:6:13: ", &["expected"]);
    assert_err(
        &case("name = \"b\"\n"),
        "t.toml:6:1: duplicate key `name`",
        &[],
    );
    assert_err(
        &case("[explore]\n[explore]\n"),
        "t.toml:7:2: duplicate key `explore`",
        &[],
    );
}

#[test]
fn invalid_cel_points_into_the_expression() {
    // `requires = { expr = "` is 21 characters: the expression starts at column 22.
    assert_err(
        &case("requires = { expr = \"ctx.a == )\" }\n"),
        "t.toml:6:31: invalid CEL expression `ctx.a == )`: Syntax error: mismatched input ')'",
        &["expecting"],
    );
    assert_err(
        &case("requires = { expr = \"ctx.a == = 1\" }\n"),
        "t.toml:6:31: invalid CEL expression `ctx.a == = 1`: Syntax error: token recognition error at: '= '",
        &[],
    );
    // At the end of an incomplete expression.
    assert_err(
        &invariant("expr = \"1 +\"\n"),
        "t.toml:8:12: invalid CEL expression `1 +`: Syntax error: mismatched input '<EOF>'",
        &[],
    );
    assert_err(
        &invariant("expr = 'ctx.a == )'\n"),
        "t.toml:8:18: invalid CEL expression `ctx.a == )`",
        &[],
    );
    assert_err(
        &invariant("when = \"has(ctx.a) && )\"\nexpr = \"true\"\n"),
        "t.toml:8:23: invalid CEL expression `has(ctx.a) && )`",
        &[],
    );
    // Macro errors point at the call.
    assert_err(
        &invariant("expr = \"true && has(ctx)\"\n"),
        "t.toml:8:21: invalid CEL expression `true && has(ctx)`: invalid argument to has() macro",
        &[],
    );
    assert_err(
        &invariant("expr = \"\"\n"),
        "t.toml:8:8: empty expression, expected a CEL expression",
        &[],
    );
    // A multi-line string: the line inside the expression counts.
    assert_err(
        &invariant("expr = '''\nhas(ctx.a) &&\n  ctx.a == )\n'''\n"),
        "t.toml:10:12: invalid CEL expression `has(ctx.a) &&   ctx.a == )`",
        &[],
    );
    // With escapes, offsets inside the value are unknown: the value's start.
    assert_err(
        &invariant("expr = \"ctx.a == \\\"x\\\" == )\"\n"),
        "t.toml:8:8: invalid CEL expression `ctx.a == \"x\" == )`",
        &[],
    );
}

#[test]
fn invalid_templates_point_into_the_placeholder() {
    assert_err(
        &format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/o/{{{{ ctx.a + ) }}}}\"\n"),
        "t.toml:5:23: in template `/o/{{ ctx.a + ) }}`: invalid CEL expression `ctx.a + )`",
        &[],
    );
    assert_err(
        &format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/o/{{{{ ctx.a \"\n"),
        "t.toml:5:12: unclosed placeholder in template `/o/{{ ctx.a `, expected `}}` after `{{`",
        &[],
    );
    assert_err(
        &case("body = { a = [1, { b = \"x-{{ ) }}\" }] }\n"),
        "t.toml:6:30: in template `x-{{ ) }}`: invalid CEL expression `)`",
        &[],
    );
    assert_err(
        &case("headers = { \"X-A\" = \"v-{{ ) }}\" }\n"),
        "t.toml:6:27: in template `v-{{ ) }}`: invalid CEL expression `)`",
        &[],
    );
    assert_err(
        &case("set = { k = \"{{ ) }}\" }\n"),
        "t.toml:6:17: in template `{{ ) }}`: invalid CEL expression `)`",
        &[],
    );
    assert_err(
        &case("[defaults]\nheaders = { \"X-A\" = \"{{ 1 + }}\" }\n"),
        "t.toml:7:29: in template `{{ 1 + }}`: invalid CEL expression `1 +`",
        &[],
    );
    assert_err(
        &invariant("expr = \"true\"\ncheck = { method = \"GET\", path = \"/o/{{ ctx.id ) }}\" }\n"),
        "t.toml:9:48: in template `/o/{{ ctx.id ) }}`",
        &[],
    );
    assert_err(
        &invariant("expr = \"true\"\nmessage = \"got {{ last.status ) }}\"\n"),
        "t.toml:9:31: in template `got {{ last.status ) }}`",
        &[],
    );
    // The second placeholder.
    assert_err(
        &case("[reset]\nrequest = { method = \"POST\", path = \"/{{ 1 }}/{{ ) }}\" }\n"),
        "t.toml:7:50: in template `/{{ 1 }}/{{ ) }}`",
        &[],
    );
}

#[test]
fn invalid_jsonpath() {
    assert_err(
        &case("extract = { id = \"$.[\" }\n"),
        "t.toml:6:21: invalid JSONPath `$.[`: ",
        &["expected an RFC 9535 query such as `$.id`"],
    );
    assert_err(
        &case("extract = { id = \"id\" }\n"),
        "t.toml:6:19: invalid JSONPath `id`: ",
        &["expected an RFC 9535 query"],
    );
    assert_err(
        &case("extract = { \"\" = \"$.id\" }\n"),
        "t.toml:6:13: empty context key, expected a name",
        &[],
    );
}

#[test]
fn duplicate_and_invalid_names() {
    assert_err(&case(ACTION), "t.toml:7:8: duplicate action name `a`", &[]);
    assert_err(
        &invariant("expr = \"true\"\n[[invariants]]\nname = \"i\"\nexpr = \"false\"\n"),
        "t.toml:10:8: duplicate invariant name `i`",
        &[],
    );
    assert_err(
        &format!("{HEAD}[[actions]]\nname = \"create-order\"\nmethod = \"GET\"\npath = \"/\"\n"),
        "t.toml:3:8: invalid action name `create-order`, expected [A-Za-z_][A-Za-z0-9_]*",
        &[],
    );
    assert_err(
        &case("[[invariants]]\nname = \"1st\"\nexpr = \"true\"\n"),
        "t.toml:7:8: invalid invariant name `1st`, expected [A-Za-z_][A-Za-z0-9_.-]*",
        &[],
    );
    assert_err(
        &case("[[invariants]]\nname = \"no_server_errors\"\nexpr = \"true\"\n"),
        "t.toml:7:8: invariant name `no_server_errors` is taken by the built-in invariant",
        &[],
    );
    // Allowed once the built-in is off; `.` and `-` are fine in invariant names.
    let s = ok(&case(
        "[[invariants]]\nname = \"no_server_errors\"\nexpr = \"true\"\n[[invariants]]\nname = \"orders.total-ok\"\nexpr = \"true\"\n[builtins]\nno_server_errors = false\n",
    ));
    assert_eq!(
        names(&s.invariants, |i| &i.name),
        ["no_server_errors", "orders.total-ok"]
    );
}

#[test]
fn values_that_would_only_fail_at_run_time_are_refused_at_their_position() {
    // A zero call limit disables the action for good: a mistake, not a limit.
    assert_err(
        &case("max_calls = 0\n"),
        "t.toml:6:13: invalid max_calls `0`, expected at least 1",
        &[],
    );
    // A timeout that rounds to nothing would time every request out.
    assert_err(
        &format!("{HEAD}[defaults]\ntimeout = 1e-320\n{ACTION}"),
        "t.toml:3:11: invalid timeout `",
        &["at least 0.001"],
    );
    // Retries are bounded (their backoff tops out at 2 s each).
    assert_err(
        &format!("{HEAD}[reset]\ncommand = \"true\"\nretries = 99\n{ACTION}"),
        "t.toml:4:11: invalid retries `99`, expected at most 20",
        &[],
    );
    // A path must start with `/` (or a placeholder that renders one).
    assert_err(
        &format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"orders\"\n"),
        "t.toml:5:8: invalid path `orders`, expected a path starting with `/`",
        &[],
    );
    let s = ok(&format!(
        "{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"{{{{ '/x' }}}}\"\n"
    ));
    assert_eq!(s.actions.len(), 1);
}

#[test]
fn every_active_built_in_name_is_refused_at_its_position() {
    // `expect` makes `expected_status` active; `no_server_errors` is on by default; an
    // `[openapi]` document (after the invariant: its position stays) makes the others active.
    let with_expect = |invariant: &str| {
        format!(
            "{HEAD}{ACTION}expect = [200]\n[[invariants]]\nname = \"{invariant}\"\nexpr = \"true\"\n\
             [openapi]\nspec = \"api.json\"\n"
        )
    };
    for builtin in Builtin::ALL {
        let name = builtin.name();
        assert_err(
            &with_expect(name),
            &format!("t.toml:8:8: invariant name `{name}` is taken by the built-in invariant"),
            &[],
        );
    }
    // Without a document, the names of the checks that read one are free.
    for builtin in Builtin::ALL.into_iter().filter(|b| b.needs_openapi()) {
        let s = ok(&invariant("expr = \"true\"\n")
            .replace("name = \"i\"", &format!("name = \"{}\"", builtin.name())));
        assert_eq!(names(&s.invariants, |i| &i.name), [builtin.name()]);
    }
    // A built-in that is not active leaves its name free.
    let s = ok(&case(
        "[[invariants]]\nname = \"expected_status\"\nexpr = \"true\"\n",
    ));
    assert_eq!(s.active_builtins(), [Builtin::NoServerErrors]);
    assert_eq!(names(&s.invariants, |i| &i.name), ["expected_status"]);
}

#[test]
fn references_to_unknown_actions_and_keys() {
    assert_err(
        &case("requires = { actions = [\"a\", \"zz\"] }\n"),
        "t.toml:6:30: unknown action `zz` in requires.actions, expected one of `a`",
        &[],
    );
    let two = format!("{ACTION}extract = {{ id = \"$.id\" }}\n[[actions]]\nname = \"b\"\nmethod = \"GET\"\npath = \"/\"\nset = {{ flag = true }}\n");
    assert_err(
        &format!("{HEAD}state_from_context = [\"id\", \"nope\"]\n{two}"),
        "t.toml:2:29: unknown context key `nope` in state_from_context, expected a key that an action extracts or sets: `flag`, `id`",
        &[],
    );
    assert_err(
        &format!("{HEAD}{two}requires = {{ keys = [\"flag\", \"idd\"] }}\n"),
        "t.toml:12:30: unknown context key `idd` in requires.keys, expected a key that an action extracts or sets: `flag`, `id`",
        &[],
    );
    assert_err(
        &format!("{HEAD}state_from_context = [\"x\"]\n{ACTION}"),
        "t.toml:2:23: unknown context key `x` in state_from_context, expected a key that an action extracts or sets: none",
        &[],
    );
    assert_err(
        &format!("{HEAD}state_from_context = [\"\"]\n{ACTION}"),
        "t.toml:2:23: empty context key, expected a name",
        &[],
    );
    let s = ok(&format!("{HEAD}state_from_context = [\"flag\", \"id\"]\n{two}requires = {{ actions = [\"a\", \"b\"], keys = [\"id\"] }}\n"));
    assert_eq!(s.state_from_context, Some(vec!["flag".into(), "id".into()]));
    assert_eq!(s.actions[1].requires.actions, ["a", "b"]);
    assert_eq!(s.actions[1].requires.keys, ["id"]);
    // An empty list is allowed: no key identifies a state.
    assert_eq!(
        ok(&format!("{HEAD}state_from_context = []\n{ACTION}")).state_from_context,
        Some(vec![])
    );
}

#[test]
fn bad_values() {
    let cases: &[(String, &str)] = &[
        (
            invariant("severity = \"urgent\"\nexpr = \"true\"\n"),
            "t.toml:8:12: unknown variant `urgent`, expected one of `low`, `medium`, `high`, `critical`",
        ),
        (
            format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"FETCH\"\npath = \"/x\"\n"),
            "t.toml:4:10: unknown method `FETCH`, expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
        (
            invariant("expr = \"true\"\ncheck = { method = \"\", path = \"/\" }\n"),
            "t.toml:9:20: unknown method ``, expected one of GET",
        ),
        (
            format!("base_url = \"ftp://h\"\n{ACTION}"),
            "t.toml:1:12: invalid base_url `ftp://h`, expected a URL starting with http:// or https://",
        ),
        (
            format!("base_url = \"http://\"\n{ACTION}"),
            "t.toml:1:12: invalid base_url `http://`, expected a URL",
        ),
        (
            case("[explore]\ncoverage_target = 1.5\n"),
            "t.toml:7:19: invalid coverage_target `1.5`, expected a number in (0, 1]",
        ),
        (
            case("[explore]\ncoverage_target = 0\n"),
            "t.toml:7:19: invalid coverage_target `0`, expected a number in (0, 1]",
        ),
        (
            case("[explore]\ncoverage_target = nan\n"),
            "t.toml:7:19: invalid coverage_target `NaN`, expected a number in (0, 1]",
        ),
        (
            case("[explore]\ntime_limit = 0\n"),
            "t.toml:7:14: invalid time_limit `0`, expected a positive number of seconds",
        ),
        (
            case("[server]\ncommand = \"x\"\nready_timeout = -1\n"),
            "t.toml:8:17: invalid ready_timeout `-1`, expected a positive number of seconds",
        ),
        (
            case("[defaults]\ntimeout = inf\n"),
            "t.toml:7:11: invalid timeout `inf`, expected a positive number of seconds",
        ),
        (
            case("weight = 0\n"),
            "t.toml:6:10: invalid weight `0`, expected a finite number > 0",
        ),
        (
            case("weight = -2.5\n"),
            "t.toml:6:10: invalid weight `-2.5`, expected a finite number > 0",
        ),
        (
            case("weight = inf\n"),
            "t.toml:6:10: invalid weight `inf`, expected a finite number > 0",
        ),
        (
            case("expect = [200, 99]\n"),
            "t.toml:6:16: invalid status `99` in expect, expected 100..=599",
        ),
        (
            case("expect = []\n"),
            "t.toml:6:10: empty expect, expected at least one status",
        ),
        (
            case("body = { ratio = nan }\n"),
            "t.toml:6:18: non-finite number (nan/inf) cannot be sent as JSON, expected a finite number",
        ),
        (
            case("headers = { \"bad header\" = \"v\" }\n"),
            "t.toml:6:13: invalid header name `bad header`, expected letters, digits and !#$%&'*+-.^_`|~",
        ),
        (
            case("[defaults]\nheaders = { \"X:Y\" = \"v\" }\n"),
            "t.toml:7:13: invalid header name `X:Y`, expected letters, digits",
        ),
        (
            case("headers = { \"\" = \"v\" }\n"),
            "t.toml:6:13: invalid header name ``, expected letters, digits",
        ),
        (
            case("auth = { header = \"X Key\", value_env = \"K\" }\n"),
            "t.toml:6:19: invalid header name `X Key`, expected letters, digits",
        ),
        (
            case("[server]\ncommand = \"x\"\nready_url = \"health\"\n"),
            "t.toml:8:13: invalid ready_url `health`, expected a path starting with `/` or an http(s) URL",
        ),
        (
            case("[server]\ncommand = \" \"\n"),
            "t.toml:7:11: empty server command, expected a shell command",
        ),
        (
            case("[server]\ncommand = \"x\"\nenv = { \"A=B\" = \"1\" }\n"),
            "t.toml:8:9: invalid environment variable name `A=B`, expected a non-empty name without `=`",
        ),
    ];
    for (text, prefix) in cases {
        assert_err(text, prefix, &[]);
    }
}

#[test]
fn reset_and_rollback_rules() {
    let cases: &[(String, &str)] = &[
        (
            case("[reset]\n"),
            "t.toml:6:1: [reset] has neither `request` nor `command`, expected exactly one of them",
        ),
        (
            case("[reset]\ncommand = \"x\"\nrequest = { method = \"POST\", path = \"/reset\" }\n"),
            "t.toml:6:1: [reset] has both `request` and `command`, expected exactly one of them",
        ),
        (
            format!("{HEAD}reset = {{}}\n{ACTION}"),
            "t.toml:2:9: [reset] has neither `request` nor `command`",
        ),
        (
            case("[reset]\ncommand = \"\"\n"),
            "t.toml:7:11: empty reset command, expected a shell command",
        ),
        (
            case("[reset]\nrequest = { method = \"POST\" }\n"),
            "t.toml:7:11: missing field `path`",
        ),
        (
            case("[rollback]\nmode = \"sqlite\"\n"),
            "t.toml:7:8: mode = \"sqlite\" needs `sqlite_path`, expected the API's database file",
        ),
        (
            case("[rollback]\nmode = \"sqlite\"\nsqlite_path = \"\"\n"),
            "t.toml:8:15: empty sqlite_path, expected a file path",
        ),
        (
            case("[rollback]\nmode = \"reset\"\nobserve_tables = [\"orders\"]\n"),
            "t.toml:8:18: `observe_tables` needs `sqlite_path`, expected the database holding the tables",
        ),
        (
            case("[rollback]\nmode = \"sqlite\"\nsqlite_path = \"a.db\"\nobserve_tables = [\"orders\", \"drop table\"]\n"),
            "t.toml:9:29: invalid table name `drop table`, expected [A-Za-z_][A-Za-z0-9_]*",
        ),
    ];
    for (text, prefix) in cases {
        assert_err(text, prefix, &[]);
    }
    assert_eq!(ok(&case("[rollback]\n")).rollback, RollbackSpec::default());
    assert_eq!(
        ok(&case("[rollback]\nmode = \"reset\"\n")).rollback,
        RollbackSpec::Reset { observe: None }
    );
    // In reset mode an SQLite database is only observed.
    assert_eq!(
        ok(&case(
            "[rollback]\nsqlite_path = \"app.db\"\nobserve_tables = [\"orders\"]\n"
        ))
        .rollback,
        RollbackSpec::Reset {
            observe: Some(SqliteSpec {
                path: PathBuf::from("./app.db"),
                observe_tables: vec!["orders".into()],
                observe_queries: vec![],
            })
        }
    );
}

#[test]
fn auth_forms() {
    let auth = |a: &str| ok(&case(&format!("auth = {a}\n"))).actions[0].auth.clone();
    assert_eq!(
        auth("{ bearer_env = \"T\" }"),
        Some(AuthSpec::Bearer { env: "T".into() })
    );
    assert_eq!(
        auth("{ basic_user_env = \"U\", basic_password_env = \"P\" }"),
        Some(AuthSpec::Basic {
            user_env: "U".into(),
            password_env: "P".into()
        })
    );
    assert_eq!(
        auth("{ header = \"X-Key\", value_env = \"K\" }"),
        Some(AuthSpec::Header {
            header: "X-Key".into(),
            value_env: "K".into()
        })
    );
    let cases = [
        (
            "{}",
            "t.toml:6:8: empty auth, expected `{ bearer_env = \"VAR\" }`",
        ),
        (
            "{ bearer_env = \"T\", header = \"X\", value_env = \"K\" }",
            "t.toml:6:8: auth mixes several forms, expected `{ bearer_env",
        ),
        (
            "{ basic_user_env = \"U\" }",
            "t.toml:6:8: basic auth is missing `basic_password_env`",
        ),
        (
            "{ basic_password_env = \"P\" }",
            "t.toml:6:8: basic auth is missing `basic_user_env`",
        ),
        (
            "{ header = \"X\" }",
            "t.toml:6:8: header auth is missing `value_env`",
        ),
        (
            "{ value_env = \"K\" }",
            "t.toml:6:8: header auth is missing `header`",
        ),
        (
            "{ bearer_env = \"\" }",
            "t.toml:6:23: invalid environment variable name ``, expected a non-empty name",
        ),
    ];
    for (a, prefix) in cases {
        assert_err(&case(&format!("auth = {a}\n")), prefix, &[]);
    }
}

#[test]
fn positions_count_characters_not_bytes() {
    // `é` is two bytes but one column.
    assert_err(
        &format!("# café\n{HEAD}{ACTION}requires = {{ expr = \"'é' == )\" }}\n"),
        "t.toml:7:29: invalid CEL expression `'é' == )`",
        &[],
    );
}

// ---------------------------------------------------------------------------------------------
// [load]: flows and thresholds

/// `HEAD` + `ACTION` (action `a`) + a second action `b` (lines 6-9) + `extra` from line 10.
fn load_case(extra: &str) -> String {
    format!("{HEAD}{ACTION}[[actions]]\nname = \"b\"\nmethod = \"GET\"\npath = \"/y\"\n{extra}")
}

#[test]
fn load_table_parses_flows_and_thresholds() {
    use venom_scenario::{CompareOp, FlowSpec, Scope, Stat};
    let s = ok(&load_case(
        "[load]\nabort_on_fail = true\nflows = [ { name = \"main\", actions = [\"a\", \"b\", \"a\"] }, { name = \"reads\", actions = [\"b\"], weight = 3 } ]\n[load.thresholds]\n\"a.p95\" = \"< 300ms\"\n\"http.error_rate\" = \"< 1%\"\n\"http.p99.9\" = \"<= 1.5s\"\ndrift = \"< 25%\"\n\"b.rps\" = \"> 10\"\n",
    ));
    let load = s.load.expect("[load]");
    assert!(load.abort_on_fail);
    assert_eq!(
        load.flows,
        [
            FlowSpec {
                name: "main".into(),
                actions: vec!["a".into(), "b".into(), "a".into()],
                weight: 1.0
            },
            FlowSpec {
                name: "reads".into(),
                actions: vec!["b".into()],
                weight: 3.0
            },
        ]
    );
    assert_eq!(load.flow("reads").map(|f| f.weight), Some(3.0));
    let t: Vec<_> = load
        .thresholds
        .iter()
        .map(|t| (t.metric.to_string(), t.op, t.value))
        .collect();
    assert_eq!(
        t,
        [
            ("a.p95".to_string(), CompareOp::Lt, 300.0),
            ("http.error_rate".to_string(), CompareOp::Lt, 0.01),
            ("http.p99.9".to_string(), CompareOp::Le, 1500.0),
            ("http.drift".to_string(), CompareOp::Lt, 0.25),
            ("b.rps".to_string(), CompareOp::Gt, 10.0),
        ]
    );
    assert_eq!(load.thresholds[0].metric.scope, Scope::Action("a".into()));
    assert_eq!(load.thresholds[2].metric.stat, Stat::P999);
    assert_eq!(load.thresholds[0].to_string(), "a.p95 < 300ms");

    // Without [load] there is nothing; an empty [load] has no flows and no thresholds.
    assert!(ok(&case("")).load.is_none());
    let empty = ok(&load_case("[load]\n")).load.expect("[load]");
    assert!(empty.flows.is_empty() && empty.thresholds.is_empty() && !empty.abort_on_fail);
    // [[load.flows]] tables work too.
    let tables = ok(&load_case(
        "[[load.flows]]\nname = \"f\"\nactions = [\"b\"]\n",
    ));
    assert_eq!(tables.load.expect("[load]").flows[0].actions, ["b"]);
}

#[test]
fn load_table_errors_point_at_the_problem() {
    let cases: &[(&str, &str)] = &[
        ("[load]\nflow = []\n", "t.toml:11:1: unknown field `flow`, expected one of `flows`, `abort_on_fail`, `thresholds`"),
        ("[load]\nflows = [ { name = \"f\", actions = [\"a\"], wieght = 2 } ]\n", "t.toml:11:42: unknown field `wieght`, expected one of `name`, `actions`, `weight`"),
        ("[load]\nflows = [ { name = \"f\", actions = [\"a\", \"zz\"] } ]\n", "t.toml:11:41: unknown action `zz` in flow `f`, expected one of `a`, `b`"),
        ("[load]\nflows = [ { name = \"f\", actions = [] } ]\n", "t.toml:11:35: flow `f` has no actions, expected at least one action name"),
        ("[load]\nflows = []\n", "t.toml:11:9: no flows, expected at least one"),
        ("[load]\nflows = [ { name = \"f\", actions = [\"a\"] }, { name = \"f\", actions = [\"b\"] } ]\n", "t.toml:11:53: duplicate flow name `f`"),
        ("[load]\nflows = [ { name = \"f-1\", actions = [\"a\"] } ]\n", "t.toml:11:20: invalid flow name `f-1`, expected [A-Za-z_][A-Za-z0-9_]*"),
        ("[load]\nflows = [ { name = \"f\", actions = [\"a\"], weight = 0 } ]\n", "t.toml:11:51: invalid weight `0`, expected a finite number > 0"),
        ("[load]\nflows = [ { actions = [\"a\"] } ]\n", "t.toml:11:11: missing field `name`"),
        ("[load]\nabort_on_fail = \"yes\"\n", "t.toml:11:17: invalid type: string \"yes\", expected a boolean"),
        ("[load.thresholds]\n\"zz.p95\" = \"< 1ms\"\n", "t.toml:11:2: unknown action `zz` in threshold `zz.p95`, expected `http` or one of `a`, `b`"),
        ("[load.thresholds]\n\"a.p98\" = \"< 1ms\"\n", "t.toml:11:4: unknown statistic `p98` in threshold metric `a.p98`, expected one of `p50`"),
        ("[load.thresholds]\nlatency = \"< 1ms\"\n", "t.toml:11:1: invalid threshold metric `latency`, expected `<action>.<stat>`, `http.<stat>` or `drift`"),
        ("[load.thresholds]\n\"a.p95\" = \"< 300\"\n", "t.toml:11:17: invalid threshold condition `< 300` for `p95`: no unit, expected a duration such as `< 300ms` or `<= 1.5s`"),
        ("[load.thresholds]\n\"http.error_rate\" = \"1%\"\n", "t.toml:11:22: invalid threshold condition `1%`: missing operator"),
        ("[load.thresholds]\n\"http.error_rate\" = \"< 1ms\"\n", "t.toml:11:25: invalid threshold condition `< 1ms` for `error_rate`: unit `ms`, expected a percentage such as `< 1%`"),
        ("[load.thresholds]\n\"http.p95\" = 300\n", "t.toml:11:14: invalid threshold `http.p95`, expected a string condition such as \"< 300ms\""),
        ("[load.thresholds]\na.p95 = \"< 1ms\"\n", "t.toml:11:1: threshold `a` is a table, expected a string condition; quote keys that contain a dot"),
    ];
    for (extra, prefix) in cases {
        assert_err(&load_case(extra), prefix, &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL, Redis and SQL invariants

/// `[rollback]` for PostgreSQL: `mode` on line 7, `postgres_url` on line 8, `extra` from line 9.
fn pg_case(extra: &str) -> String {
    case(&format!(
        "[rollback]\nmode = \"postgres\"\npostgres_url = \"postgres://app@127.0.0.1/shop\"\n{extra}"
    ))
}

const PG_ROLLBACK: &str =
    "[rollback]\nmode = \"postgres\"\npostgres_url = \"postgres://app@127.0.0.1/shop\"\n";

#[test]
fn postgres_snapshot_rollback_and_redis_parse() {
    use venom_scenario::{Condition, PgMechanism, PostgresSpec, RedisSpec, UrlSource};
    let s = ok(&case(concat!(
        "[rollback]\n",
        "mode = \"postgres\"\n",
        "postgres_url_env = \"DATABASE_URL\"\n",
        "schemas = [\"public\", \"billing\"]\n",
        "observe_tables = [\"orders\", \"billing.invoices\"]\n",
        "observe_queries = { max_order_id = \"SELECT COALESCE(MAX(id),0) FROM orders\", n = \"SELECT 1\" }\n",
        "[redis]\n",
        "url = \"redis://127.0.0.1:6379/2\"\n",
        "observe_patterns = [\"session:*\"]\n",
        "[[invariants]]\n",
        "name = \"refunds_within_amount\"\n",
        "sql = \"SELECT count(*) = 0 FROM refunds\"\n",
    )));
    assert_eq!(
        s.rollback,
        RollbackSpec::Postgres(PostgresSpec {
            url: UrlSource::Env("DATABASE_URL".into()),
            mechanism: PgMechanism::Snapshot {
                schemas: vec!["public".into(), "billing".into()],
            },
            observe_tables: vec!["orders".into(), "billing.invoices".into()],
            observe_queries: vec![
                (
                    "max_order_id".into(),
                    "SELECT COALESCE(MAX(id),0) FROM orders".into()
                ),
                ("n".into(), "SELECT 1".into()),
            ],
        })
    );
    assert_ne!(s.checkpoint_mode(), CheckpointMode::StackOnly);
    assert_eq!(
        s.redis,
        Some(RedisSpec {
            url: UrlSource::Literal("redis://127.0.0.1:6379/2".into()),
            observe_patterns: vec!["session:*".into()],
            rollback: true,
        })
    );
    assert!(matches!(
        &s.invariants[0].condition,
        Condition::Sql(sql) if sql == "SELECT count(*) = 0 FROM refunds"
    ));
    assert!(s.invariants[0].expr().is_none());
}

#[test]
fn postgres_defaults_and_the_proxy() {
    use venom_scenario::{PgMechanism, UrlSource};
    let RollbackSpec::Postgres(spec) = ok(&pg_case("")).rollback else {
        panic!("postgres rollback expected");
    };
    assert_eq!(
        spec.url,
        UrlSource::Literal("postgres://app@127.0.0.1/shop".into())
    );
    assert_eq!(
        spec.mechanism,
        PgMechanism::Snapshot {
            schemas: vec!["public".into()]
        }
    );
    // A key=value connection string is accepted too.
    let kv = ok(&case(
        "[rollback]\nmode = \"postgres\"\npostgres_url = \"host=127.0.0.1 dbname=shop\"\n",
    ));
    assert!(matches!(kv.rollback, RollbackSpec::Postgres(_)));

    // With [server], the proxy may listen on any free loopback port.
    let proxied = ok(&case(&format!(
        "[server]\ncommand = \"./api\"\n{PG_ROLLBACK}mechanism = \"proxy\"\n"
    )));
    assert_eq!(proxied.checkpoint_mode(), CheckpointMode::StackOnly);
    let RollbackSpec::Postgres(spec) = proxied.rollback else {
        panic!("postgres rollback expected");
    };
    assert_eq!(
        spec.mechanism,
        PgMechanism::Proxy {
            listen: "127.0.0.1:0".parse().unwrap()
        }
    );
    let fixed = ok(&pg_case(
        "mechanism = \"proxy\"\nproxy_listen = \"127.0.0.1:6543\"\n[explore]\nstrategy = \"dfs\"\n",
    ));
    let RollbackSpec::Postgres(spec) = fixed.rollback else {
        panic!("postgres rollback expected");
    };
    assert_eq!(
        spec.mechanism,
        PgMechanism::Proxy {
            listen: "127.0.0.1:6543".parse().unwrap()
        }
    );
}

#[test]
fn redis_rollback_follows_the_rollback_mode() {
    let redis = |text: &str| ok(text).redis.expect("[redis]");
    let url = "[redis]\nurl = \"redis://127.0.0.1:6379/0\"\n";
    // With reset + replay, [reset] restores Redis too: it is only observed.
    assert!(!redis(&case(url)).rollback);
    assert!(!redis(&case(&format!("{url}rollback = false\n"))).rollback);
    assert!(redis(&pg_case(url)).rollback);
    assert!(!redis(&pg_case(&format!("{url}rollback = false\n"))).rollback);
    let from_env = redis(&case("[redis]\nurl_env = \"REDIS_URL\"\n"));
    assert_eq!(
        from_env.url,
        venom_scenario::UrlSource::Env("REDIS_URL".into())
    );
}

#[test]
fn postgres_rollback_errors_point_at_the_problem() {
    let pg = |extra: &str| pg_case(extra);
    let cases: Vec<(String, &str)> = vec![
        (
            case("[rollback]\nmode = \"postgres\"\n"),
            "t.toml:7:8: mode = \"postgres\" needs `postgres_url` or `postgres_url_env`",
        ),
        (
            pg("postgres_url_env = \"DB\"\n"),
            "t.toml:9:20: both `postgres_url` and `postgres_url_env`, expected exactly one of them",
        ),
        (
            case("[rollback]\nmode = \"postgres\"\npostgres_url = \"mysql://h/db\"\n"),
            "t.toml:8:16: invalid postgres_url `mysql://h/db`, expected a URL starting with postgres:// or postgresql://",
        ),
        (
            case("[rollback]\nmode = \"postgres\"\npostgres_url_env = \"A=B\"\n"),
            "t.toml:8:20: invalid environment variable name `A=B`",
        ),
        (
            pg("mechanism = \"proxy\"\nproxy_listen = \"0.0.0.0:6543\"\n"),
            "t.toml:10:16: invalid proxy_listen `0.0.0.0:6543`, expected a loopback address and port",
        ),
        (
            pg("mechanism = \"proxy\"\nproxy_listen = \"localhost\"\n"),
            "t.toml:10:16: invalid proxy_listen `localhost`, expected a loopback address and port",
        ),
        (
            pg("proxy_listen = \"127.0.0.1:6543\"\n"),
            "t.toml:9:16: `proxy_listen` needs mechanism = \"proxy\"",
        ),
        (
            pg("mechanism = \"proxy\"\nproxy_listen = \"127.0.0.1:6543\"\nschemas = [\"public\"]\n"),
            "t.toml:11:11: `schemas` is for mechanism = \"snapshot\"",
        ),
        (
            pg("mechanism = \"proxy\"\n"),
            "t.toml:9:13: mechanism = \"proxy\" without [server] needs `proxy_listen`",
        ),
        (
            pg("mechanism = \"savepoint\"\n"),
            "t.toml:9:13: unknown variant `savepoint`, expected `snapshot` or `proxy`",
        ),
        (
            case("[rollback]\nmode = \"sqlite\"\nsqlite_path = \"a.db\"\npostgres_url = \"postgres://h/db\"\n"),
            "t.toml:9:16: `postgres_url` needs mode = \"postgres\"",
        ),
        (
            case("[rollback]\nobserve_queries = { n = \"SELECT 1\" }\n"),
            "t.toml:7:19: `observe_queries` needs `sqlite_path` or mode = \"postgres\"",
        ),
        (
            case("[rollback]\nmode = \"postgres\"\nsqlite_path = \"a.db\"\n"),
            "t.toml:8:15: `sqlite_path` is for mode = \"sqlite\" or \"reset\"",
        ),
        (pg("schemas = []\n"), "t.toml:9:11: no schemas, expected at least one schema name"),
        (
            pg("schemas = [\"venom_snap_1\"]\n"),
            "t.toml:9:12: invalid schema `venom_snap_1`, expected a schema of the API",
        ),
        (pg("schemas = [\"a\", \"a\"]\n"), "t.toml:9:17: duplicate schema `a`"),
        (
            pg("observe_tables = [\"a.b.c\"]\n"),
            "t.toml:9:19: invalid table name `a.b.c`, expected `table` or `schema.table`",
        ),
        (
            pg("observe_queries = { 1x = \"SELECT 1\" }\n"),
            "t.toml:9:21: invalid query name `1x`, expected [A-Za-z_][A-Za-z0-9_]*",
        ),
        (
            pg("observe_queries = { q = \" \" }\n"),
            "t.toml:9:25: empty query, expected a SQL query",
        ),
        (
            case("[rollback]\npostgres_uri = \"x\"\n"),
            "t.toml:7:1: unknown field `postgres_uri`, expected one of `mode`, `sqlite_path`, `observe_tables`, `postgres_url`, `postgres_url_env`, `mechanism`, `proxy_listen`, `schemas`, `observe_queries`",
        ),
    ];
    for (text, prefix) in &cases {
        assert_err(text, prefix, &[]);
    }
}

#[test]
fn the_proxy_refuses_a_strategy_other_than_dfs_naming_the_snapshot_mechanism() {
    let text = case(&format!(
        "[explore]\nstrategy = \"bfs\"\n{PG_ROLLBACK}mechanism = \"proxy\"\nproxy_listen = \"127.0.0.1:6543\"\n"
    ));
    assert_err(
        &text,
        "t.toml:11:13: mechanism = \"proxy\" rolls back along a stack, so it only works with strategy \"dfs\", but [explore] sets strategy \"bfs\"",
        &["mechanism = \"snapshot\""],
    );
}

#[test]
fn redis_errors_point_at_the_problem() {
    let cases: &[(&str, &str)] = &[
        (
            "[redis]\nobserve_patterns = [\"s:*\"]\n",
            "t.toml:6:1: [redis] needs `url` or `url_env`",
        ),
        (
            "[redis]\nurl = \"http://x\"\n",
            "t.toml:7:7: invalid url `http://x`, expected a URL starting with redis://",
        ),
        (
            "[redis]\nurl = \"redis://h\"\nurl_env = \"R\"\n",
            "t.toml:8:11: both `url` and `url_env`, expected exactly one of them",
        ),
        (
            "[redis]\nurl = \"redis://h\"\nrollback = true\n",
            "t.toml:8:12: `rollback = true` needs a [rollback] mode that checkpoints",
        ),
        (
            "[redis]\nurl = \"redis://h\"\nobserve_patterns = [\"\"]\n",
            "t.toml:8:21: empty pattern",
        ),
        (
            "[redis]\nurl = \"redis://h\"\npatterns = []\n",
            "t.toml:8:1: unknown field `patterns`, expected one of `url`, `url_env`, `observe_patterns`, `rollback`",
        ),
    ];
    for (extra, prefix) in cases {
        assert_err(&case(extra), prefix, &[]);
    }
}

#[test]
fn sql_invariant_errors_point_at_the_problem() {
    let cases: Vec<(String, &str)> = vec![
        (
            invariant("sql = \"SELECT true\"\n"),
            "t.toml:8:7: `sql` invariants run against the API's database, expected [rollback] `sqlite_path` or mode = \"postgres\"",
        ),
        (
            invariant(&format!("expr = \"true\"\nsql = \"SELECT true\"\n{PG_ROLLBACK}")),
            "t.toml:9:7: invariant `i` has both `expr` and `sql`, expected exactly one of them",
        ),
        (
            invariant(&format!(
                "check = {{ method = \"GET\", path = \"/\" }}\nsql = \"SELECT true\"\n{PG_ROLLBACK}"
            )),
            "t.toml:9:7: invariant `i` has both `check` and `sql`",
        ),
        (
            invariant(&format!("sql = \" \"\n{PG_ROLLBACK}")),
            "t.toml:8:7: empty sql, expected a query returning one boolean",
        ),
    ];
    for (text, prefix) in &cases {
        assert_err(text, prefix, &[]);
    }
}

#[test]
fn template_values_know_when_they_are_constant() {
    let text = HEAD.to_string()
        + "[[actions]]\nname = \"a\"\nmethod = \"POST\"\npath = \"/x\"\n"
        + "body = { n = 1, s = \"t\", l = [1, \"x\"] }\nextract = { x = \"$.x\" }\n"
        + "[[actions]]\nname = \"b\"\nmethod = \"POST\"\npath = \"/y\"\n"
        + "body = { n = 1, l = [\"{{ ctx.x }}\"] }\n";
    let s = ok(&text);
    let constant = |i: usize| {
        s.actions[i].steps[0]
            .request
            .body
            .as_ref()
            .map(|b| b.is_constant())
    };
    assert_eq!(constant(0), Some(true));
    assert_eq!(constant(1), Some(false));
}

#[test]
fn max_body_bytes_is_bounded_and_defaults_to_256_kib() {
    let scenario = venom_scenario::parse(&case(""), std::path::Path::new("t.toml")).unwrap();
    assert_eq!(
        scenario.defaults.max_body_bytes,
        venom_scenario::DEFAULT_MAX_BODY_BYTES
    );
    assert_eq!(venom_scenario::DEFAULT_MAX_BODY_BYTES, 256 << 10);
    let set = format!("{HEAD}[defaults]\nmax_body_bytes = 4096\n{ACTION}");
    let scenario = venom_scenario::parse(&set, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(scenario.defaults.max_body_bytes, 4096);
    for bad in ["10", "2000000000000"] {
        assert_err(
            &format!("{HEAD}[defaults]\nmax_body_bytes = {bad}\n{ACTION}"),
            &format!("t.toml:3:18: invalid max_body_bytes `{bad}`, expected from 1024"),
            &[],
        );
    }
}

#[test]
fn check_refuses_what_explore_would_trip_on_with_its_position() {
    // A context key no action extracts or sets (a typo: `pots_id` for `post_id`).
    let setter = "[[actions]]\nname = \"make\"\nmethod = \"POST\"\npath = \"/p\"\n\
                  extract = { post_id = \"$.id\" }\n";
    assert_err(
        &format!(
            "{HEAD}{setter}[[actions]]\nname = \"get\"\nmethod = \"GET\"\n\
             path = \"/p/{{{{ ctx.pots_id }}}}\"\n"
        ),
        "t.toml:10:18: context key `pots_id` is never extracted or set by any action, \
         expected one of `post_id`",
        &[],
    );
    // A bare variable: `alice_token` for `ctx.alice_token`.
    assert_err(
        &case("headers = { Authorization = \"Bearer {{ alice_token }}\" }\n"),
        "t.toml:6:40: in template `Bearer {{ alice_token }}`: unknown variable `alice_token`",
        &["expected `ctx`, `last` or `env`", "`ctx.alice_token`"],
    );
    assert_err(
        &invariant("expr = \"1 + 1\"\n"),
        "t.toml:8:8: `1 + 1` is not a condition, expected an expression that is true or false",
        &[],
    );
    // Variables bound by macros are no unknown variables; `has()` and `ctx['k']` read keys.
    ok(&format!(
        "{HEAD}{setter}[[invariants]]\nname = \"i\"\n\
         expr = \"[1, 2].all(x, x > 0) && (!has(ctx.post_id) || ctx['post_id'] > 0)\"\n"
    ));
    assert_err(
        &format!("{HEAD}{setter}[[invariants]]\nname = \"i\"\nexpr = \"ctx['nope'] == 1\"\n"),
        "t.toml:9:",
        &["context key `nope` is never extracted or set"],
    );
}

#[test]
fn an_unknown_function_is_refused_and_standard_ones_are_not() {
    assert_err(
        &invariant("expr = \"frobnicate(1) > 0\"\n"),
        "t.toml:8:9: unknown function `frobnicate` in `frobnicate(1) > 0`",
        &[],
    );
    assert_err(
        &invariant("expr = \"'a'.shout() == 'A'\"\n"),
        "t.toml:8:",
        &["unknown function `shout`"],
    );
    ok(&invariant(
        "expr = \"size('ab') == 2 && 'ab'.startsWith('a') && int('3') == 3 && \
         'ab'.endsWith('b') && string(1) == '1' && [1].exists(v, v == 1)\"\n",
    ));
}

// ---------------------------------------------------------------------------------------------
// Concurrent steps: `concurrent = N` and `[[races]]`

/// A second action `b` (one request) and a third `c` of two `steps`.
const MORE_ACTIONS: &str = "[[actions]]\nname = \"b\"\nmethod = \"POST\"\npath = \"/y\"\n\
     [[actions]]\nname = \"c\"\nsteps = [{ method = \"GET\", path = \"/1\" }, { method = \"GET\", path = \"/2\" }]\n";

#[test]
fn concurrent_copies_and_races_become_named_steps() {
    let s = ok(&format!(
        "{}{MORE_ACTIONS}[[races]]\nactions = [\"a\", \"b\"]\n[[races]]\nname = \"b_then_a\"\nactions = [\"b\", \"a\", \"a\"]\n",
        case("concurrent = 3\n")
    ));
    let steps: Vec<(&str, &[usize])> = s
        .concurrent
        .iter()
        .map(|c| (c.name.as_str(), c.members.as_slice()))
        .collect();
    assert_eq!(
        steps,
        [
            ("a*3", &[0, 0, 0][..]),
            ("a+b", &[0, 1]),
            ("b_then_a", &[1, 0, 0])
        ]
    );
    // Seen by the checks as one action per step whose requests are its members'.
    let explored = s.explored_steps();
    let race = &explored[explored.len() - 1];
    assert_eq!(race.name, "b_then_a");
    let paths: Vec<&str> = race
        .steps
        .iter()
        .map(|st| st.request.path.source())
        .collect();
    assert_eq!(paths, ["/y", "/x", "/x"]);
    // No concurrency declared: no concurrent step.
    assert!(ok(&case("")).concurrent.is_empty());
}

#[test]
fn concurrent_steps_are_validated_where_written() {
    assert_err(
        &case("concurrent = 1\n"),
        "t.toml:6:14: invalid concurrent `1` of action `a`, expected from 2 to 64 copies sent together",
        &[],
    );
    assert_err(
        &case("concurrent = 65\n"),
        "t.toml:6:14: invalid concurrent `65` of action `a`",
        &[],
    );
    assert_err(
        &format!("{}{MORE_ACTIONS}", case("")).replace(
            "name = \"c\"\n",
            "name = \"c\"\nconcurrent = 2\n",
        ),
        "t.toml:12:14: action `c` sends 2 requests (`steps`), expected an action of one request to send concurrently",
        &[],
    );
    let race = |body: &str| format!("{}{MORE_ACTIONS}[[races]]\n{body}", case(""));
    assert_err(
        &race("actions = [\"a\", \"zz\"]\n"),
        "t.toml:14:17: unknown action `zz` in races.actions, expected one of `a`, `b`, `c`",
        &[],
    );
    assert_err(
        &race("actions = [\"a\"]\n"),
        "t.toml:14:11: a race of 1 action(s), expected from 2 to 64 actions sent together",
        &[],
    );
    assert_err(
        &race("actions = [\"a\", \"c\"]\n"),
        "t.toml:14:17: action `c` sends 2 requests",
        &[],
    );
    assert_err(
        &race("name = \"b\"\nactions = [\"a\", \"b\"]\n"),
        "t.toml:14:8: duplicate race name `b`",
        &[],
    );
    assert_err(
        &race("actions = [\"a\", \"b\"]\n[[races]]\nactions = [\"a\", \"b\"]\n"),
        "t.toml:16:11: duplicate race name `a+b`",
        &[],
    );
}

#[test]
fn quotas_are_rates_with_a_tolerance() {
    let q = ok(&case("quota = \"10/s\"\n")).actions[0]
        .quota
        .expect("quota");
    assert_eq!((q.per_second, q.tolerance), (10.0, 0.2));
    let q = ok(&case("quota = \"600/min\"\nquota_tolerance = \"5%\"\n")).actions[0]
        .quota
        .expect("quota");
    assert_eq!((q.per_second, q.tolerance), (10.0, 0.05));
    assert!(ok(&case("")).actions[0].quota.is_none());
    assert_err(
        &case("quota = \"10 per second\"\n"),
        "t.toml:6:9: invalid quota `10 per second`, expected requests per unit such as \"10/s\"",
        &[],
    );
    assert_err(
        &case("quota = \"0/s\"\n"),
        "t.toml:6:9: invalid quota `0/s`",
        &[],
    );
    assert_err(
        &case("quota = \"10/s\"\nquota_tolerance = \"120%\"\n"),
        "t.toml:7:19: invalid quota_tolerance `120%`, expected a percentage above 0 and below 100",
        &[],
    );
    assert_err(
        &case("quota_tolerance = \"20%\"\n"),
        "t.toml:6:19: quota_tolerance without quota",
        &[],
    );
}
