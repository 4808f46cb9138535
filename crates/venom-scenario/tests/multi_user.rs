//! Parsing what multi-user APIs need: `[context]`, `[roles]`, `steps`, `checks`, `[[observe]]`,
//! `extract_on`, `when = "before"`, SQL on SQLite and `offending_rows`; the example that uses
//! them all, and the exact position and wording of each error.

use serde_json::json;
use std::path::{Path, PathBuf};
use venom_engine::{Context, Timing};
use venom_scenario::{
    load, parse, Check, Condition, Credential, Projection, Relogin, Scenario, ScenarioError, Vars,
};

fn ok(text: &str) -> Scenario {
    parse(text, Path::new("t.toml")).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

fn err(text: &str) -> ScenarioError {
    match parse(text, Path::new("t.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// The error is exactly `expected` (`t.toml:line:col: message`) up to its end, on one line.
fn assert_err(text: &str, prefix: &str) {
    let shown = err(text).to_string();
    assert!(
        shown.starts_with(prefix),
        "\n  got: {shown}\n want: {prefix}…\n for:\n{text}"
    );
    assert!(!shown.contains('\n'), "one line: {shown}");
}

/// Three lines: the base URL and a role `bob` (lines 2–3) that logs in and sends a bearer
/// token.
const HEAD: &str = "base_url = \"http://h\"\n[roles.bob]\nlogin = [{ method = \"POST\", path = \"/login\", extract = { token = \"$.token\" } }]\nbearer = \"token\"\n";

/// `HEAD`, an action `a` as bob (lines 5–8), then `extra` from line 9.
fn case(extra: &str) -> String {
    format!("{HEAD}[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n{extra}")
}

#[test]
fn the_notes_example_parses_into_roles_steps_checks_and_observations() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/notes.toml");
    let s = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.initial_context
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>(),
        ["alice_text", "bob_text", "password"]
    );
    let alice = s.role("alice").unwrap();
    assert_eq!(alice.login.len(), 2);
    assert_eq!(alice.login[0].expect.as_deref(), Some(&[201, 409][..]));
    assert_eq!(
        alice.credential,
        Credential::Bearer {
            key: "token".into()
        }
    );
    assert_eq!(alice.relogin, Relogin::OnUnauthorized);
    let writes = s.action("alice_writes_note").unwrap();
    assert_eq!(writes.steps.len(), 2);
    assert!(writes
        .steps
        .iter()
        .all(|st| st.role.as_deref() == Some("alice")));
    assert_eq!(writes.steps[0].extract[0].key, "note_id");
    let probe = s.action("bob_reads_note").unwrap();
    assert!(probe.steps[0].extract[0].any_status, "on = \"any\"");
    assert!(probe.single_request().is_none(), "sent as a role");
    let private = &s.invariants[0];
    assert_eq!(
        private.checks.iter().map(|c| c.name()).collect::<Vec<_>>(),
        ["note", "list"]
    );
    let api_and_db = &s.invariants[1].checks;
    assert!(matches!(api_and_db[1], Check::Sql { .. }), "{api_and_db:?}");
    assert_eq!(s.invariants[2].timing, Timing::BeforeAction);
    assert!(matches!(s.invariants[3].condition, Condition::Sql(_)));
    assert!(matches!(
        s.invariants[4].condition,
        Condition::OffendingRows(_)
    ));
    assert_eq!(s.observations.len(), 2);
    assert!(matches!(s.observations[0].keep, Projection::Path(_)));
    assert_eq!(s.observations[1].call.role.as_deref(), Some("bob"));
}

#[test]
fn context_values_are_typed_and_their_templates_read_the_keys_above_them() {
    let s = ok(&format!(
        "{}[context]\nlimit = 3\nname = \"{{{{ 'n' + string(ctx.limit) }}}}\"\nlist = [1, \"{{{{ 2 }}}}\"]\n",
        case("requires = { expr = \"ctx.limit > 2\" }\n")
    ));
    // Rendered in order: a value sees the keys above it.
    let mut ctx = Context::new();
    for (key, value) in &s.initial_context {
        let rendered = value.render(&Vars::new(&ctx)).unwrap();
        ctx.set(key.clone(), rendered);
    }
    assert_eq!(
        serde_json::to_value(&ctx).unwrap(),
        json!({"limit": 3, "name": "n3", "list": [1, 2]})
    );
    assert_err(
        &format!(
            "{}[context]\nfirst = \"{{{{ ctx.second }}}}\"\nsecond = 1\n",
            case("")
        ),
        "t.toml:10:16: context key `second` is never extracted or set by any action",
    );
}

#[test]
fn named_checks_are_variables_of_the_invariant_and_nothing_else() {
    let inv = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"one\", method = \"GET\", path = \"/a\", as = \"bob\" }, { name = \"all\", method = \"GET\", path = \"/b\" }]\n";
    let s = ok(&case(&format!(
        "{inv}expr = \"one.status == all.status\"\nmessage = \"{{{{ one.body }}}}\"\n"
    )));
    let vars = json!({"status": 200, "body": {}});
    let calls = vec![("one".to_string(), vars.clone()), ("all".to_string(), vars)];
    let ctx = Context::new();
    let expr = s.invariants[0].expr().unwrap();
    assert!(expr.eval_bool(&Vars::new(&ctx).with_calls(&calls)).unwrap());
    let Check::Http(one) = &s.invariants[0].checks[0] else {
        panic!("an HTTP check")
    };
    assert_eq!(one.role.as_deref(), Some("bob"));
    assert_err(
        &case(&format!("{inv}expr = \"once.status == 200\"\n")),
        "t.toml:12:9: unknown variable `once` in `once.status == 200`, expected `ctx`, `last`, `env` or a check: `one`, `all`",
    );
}

#[test]
fn every_new_key_reports_a_bad_value_where_it_is() {
    let role = |body: &str| {
        format!("base_url = \"http://h\"\n[roles.bob]\n{body}\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n")
    };
    let login =
        "login = [{ method = \"POST\", path = \"/login\", extract = { token = \"$.token\" } }]";
    let cases: Vec<(String, &str)> = vec![
        // [context]
        (
            case("[context]\nx = \"{{ 1 + }}\"\n"),
            "t.toml:10:13: in template `{{ 1 + }}`: invalid CEL expression `1 +`",
        ),
        (
            case("[context]\nx = \"{{ ctx.y }}\"\n"),
            "t.toml:10:12: context key `y` is never extracted or set by any action",
        ),
        // [roles]
        (role("login = []\nbearer = \"t\""), "t.toml:3:9: role `bob` has no login"),
        (
            role(&format!("{login}\nbearer = \"tok\"")),
            "t.toml:4:10: unknown login key `tok` in role `bob`, expected a key its login extracts: `token`",
        ),
        (
            role(&format!("{login}\nbearer = \"token\"\ncookies = true")),
            "t.toml:2:1: role `bob` has several of `bearer`, `header` and `cookies`, expected exactly one",
        ),
        (
            role(login),
            "t.toml:2:1: role `bob` says not how its credential is sent",
        ),
        (
            role(&format!("{login}\ncookies = false")),
            "t.toml:4:11: cookies = false sends no credential",
        ),
        (
            role(&format!("{login}\nbearer = \"token\"\nrelogin = \"always\"")),
            "t.toml:5:11: unknown variant `always`, expected `on_401` or `per_path`",
        ),
        (
            role(&format!("{login}\nheader = {{ name = \"bad name\", key = \"token\" }}")),
            "t.toml:4:19: invalid header name `bad name`",
        ),
        (
            "base_url = \"http://h\"\n[roles.\"b-ob\"]\nlogin = []\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n".to_string(),
            "t.toml:2:8: invalid role name `b-ob`",
        ),
        (
            case("as = \"carol\"\n"),
            "t.toml:9:6: unknown role `carol` in `as`, expected one of the [roles]: `bob`",
        ),
        // steps
        (
            format!("{HEAD}[[actions]]\nname = \"s\"\nmethod = \"GET\"\nsteps = [{{ method = \"GET\", path = \"/a\" }}]\n"),
            "t.toml:8:9: action `s` has both `steps` and `method`/`path`, expected one of them",
        ),
        (
            format!("{HEAD}[[actions]]\nname = \"s\"\nsteps = []\n"),
            "t.toml:7:9: action `s` has no steps, expected at least one request",
        ),
        (
            format!("{HEAD}[[actions]]\nname = \"s\"\nexpect = [200]\nsteps = [{{ method = \"GET\", path = \"/a\" }}]\n"),
            "t.toml:7:10: action `s` has `steps` and `expect`, expected `expect` inside each step",
        ),
        (
            format!("{HEAD}[[actions]]\nname = \"s\"\nsteps = [{{ method = \"GET\", path = \"a\" }}]\n"),
            "t.toml:7:35: invalid path `a`, expected a path starting with `/`",
        ),
        (
            format!("{HEAD}[[actions]]\nname = \"s\"\nsteps = [{{ method = \"GET\", path = \"/a\", as = \"eve\" }}]\n"),
            "t.toml:7:46: unknown role `eve` in `as`, expected one of the [roles]: `bob`",
        ),
        // extract_on and extract tables
        (
            case("extract_on = \"5xx\"\n"),
            "t.toml:9:14: unknown variant `5xx`, expected `2xx` or `any`",
        ),
        (
            case("extract = { k = { path = \"$.a\", when = \"any\" } }\n"),
            "t.toml:9:40: unknown field `when` in extract, expected `path` or `on`",
        ),
        (
            case("extract = { k = { on = \"any\" } }\n"),
            "t.toml:9:17: extract entry without `path`",
        ),
        (
            case("extract = { k = 3 }\n"),
            "t.toml:9:17: invalid extract `k`, expected a JSONPath string",
        ),
        // checks
        (
            case("[[invariants]]\nname = \"i\"\nchecks = [{ method = \"GET\", path = \"/a\" }]\nexpr = \"true\"\n"),
            "t.toml:11:36: an entry of `checks` without `name`",
        ),
        (
            case("[[invariants]]\nname = \"i\"\nchecks = [{ name = \"last\", method = \"GET\", path = \"/a\" }]\nexpr = \"true\"\n"),
            "t.toml:11:20: check name `last` is taken by the variable `last`",
        ),
        (
            case("[[invariants]]\nname = \"i\"\nchecks = [{ name = \"x\", method = \"GET\", path = \"/a\" }, { name = \"x\", method = \"GET\", path = \"/b\" }]\nexpr = \"true\"\n"),
            "t.toml:11:65: duplicate check name `x`",
        ),
        (
            case("[[invariants]]\nname = \"i\"\ncheck = { method = \"GET\", path = \"/a\" }\nchecks = [{ name = \"x\", method = \"GET\", path = \"/b\" }]\nexpr = \"true\"\n"),
            "t.toml:12:10: invariant `i` has both `check` and `checks`, expected one of them",
        ),
        (
            case("[[invariants]]\nname = \"i\"\ncheck = { name = \"x\", method = \"GET\", path = \"/a\" }\nexpr = \"true\"\n"),
            "t.toml:11:18: `name` is for entries of `checks`",
        ),
        // when = "before"
        (
            case("[[invariants]]\nname = \"i\"\nwhen = \"before\"\nexpr = \"last.status < 500\"\n"),
            "t.toml:12:8: invariant `i` is checked before each action (when = \"before\"), where no step answered yet",
        ),
        // SQL
        (
            case("[[invariants]]\nname = \"i\"\noffending_rows = \"SELECT 1\"\n"),
            "t.toml:11:18: `offending_rows` invariants run against the API's database",
        ),
        (
            case("[[invariants]]\nname = \"i\"\nsql = \"SELECT true\"\noffending_rows = \"SELECT 1\"\n[rollback]\nsqlite_path = \"a.db\"\n"),
            "t.toml:12:18: invariant `i` has both `sql` and `offending_rows`, expected exactly one of them",
        ),
        (
            case("[[invariants]]\nname = \"i\"\noffending_rows = \" \"\n[rollback]\nsqlite_path = \"a.db\"\n"),
            "t.toml:11:18: empty offending_rows, expected a query returning the rows that break the rule",
        ),
        // [[observe]]
        (
            case("[[observe]]\nname = \"o\"\npath = \"/a\"\nkeep = \"$.a\"\nexpr = \"true\"\n"),
            "t.toml:13:8: observation `o` has both `keep` and `expr`",
        ),
        (
            case("[[observe]]\nname = \"o\"\npath = \"/a\"\n[[observe]]\nname = \"o\"\npath = \"/b\"\n"),
            "t.toml:13:8: duplicate observation name `o`",
        ),
        (
            case("[[observe]]\nname = \"o\"\npath = \"/a\"\nignore = [\"$[\"]\n"),
            "t.toml:12:13: invalid JSONPath `$[`",
        ),
        (
            case("[[observe]]\nname = \"o\"\npath = \"/a/{{ ctx.id }}\"\nextract = { id = \"$.id\" }\n"),
            "t.toml:12:1: unknown field `extract`, expected one of `name`, `method`, `path`, `headers`, `as`, `keep`, `expr`, `ignore`",
        ),
        (
            case("[[observe]]\nname = \"o\"\npath = \"/a/{{ ctx.id }}\"\nas = \"bob\"\n"),
            "t.toml:11:18: context key `id` is never extracted or set by any action",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(text, prefix)| {
            let shown = err(text).to_string();
            (!shown.starts_with(prefix) || shown.contains('\n'))
                .then(|| format!("  got: {shown}\n want: {prefix}…"))
        })
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn observe_queries_and_sql_invariants_work_with_an_sqlite_file() {
    let s = ok(&case(
        "[[invariants]]\nname = \"i\"\nsql = \"SELECT 1\"\n[rollback]\nmode = \"sqlite\"\nsqlite_path = \"a.db\"\nobserve_queries = { n = \"SELECT COUNT(*) FROM t\" }\n",
    ));
    match &s.rollback {
        venom_scenario::RollbackSpec::Sqlite(spec) => assert_eq!(
            spec.observe_queries,
            vec![("n".to_string(), "SELECT COUNT(*) FROM t".to_string())]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reset_request_can_take_its_body_from_a_json_file_and_a_server_can_be_restarted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("seed.json"),
        r#"{"users": ["alice", "bob"]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\n  \"users\": [1,\n}").unwrap();
    let action = "[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/x\"\n";
    let file = dir.path().join("t.toml");
    let parse_in_dir = |reset: &str| {
        let text = format!("base_url = \"http://h\"\n{action}{reset}");
        parse(&text, &file)
    };
    let s = parse_in_dir(
        "[reset]\nrequest = { method = \"POST\", path = \"/reset\" }\nbody_file = \"seed.json\"\n",
    )
    .unwrap();
    let Some(venom_scenario::ResetSpec::Request(reset)) = &s.reset else {
        panic!("{:?}", s.reset)
    };
    let body = reset
        .body
        .as_ref()
        .unwrap()
        .render(&Vars::new(&Context::new()))
        .unwrap();
    assert_eq!(body, json!({"users": ["alice", "bob"]}));

    let message = |reset: &str| parse_in_dir(reset).unwrap_err().to_string();
    let shown = message(
        "[reset]\nrequest = { method = \"POST\", path = \"/reset\" }\nbody_file = \"bad.json\"\n",
    );
    assert!(
        shown.starts_with(&format!("{}:8:13: body_file ", file.display())),
        "{shown}"
    );
    assert!(
        shown.contains("bad.json: invalid JSON: ") && shown.contains("line 3 column 1"),
        "{shown}"
    );
    let shown = message(
        "[reset]\nrequest = { method = \"POST\", path = \"/reset\" }\nbody_file = \"none.json\"\n",
    );
    assert!(shown.contains(":8:13: cannot read body_file "), "{shown}");
    let shown = message("[reset]\nrequest = { method = \"POST\", path = \"/reset\", body = {} }\nbody_file = \"seed.json\"\n");
    assert!(
        shown.contains(":8:13: the reset request has both `body` and `body_file`"),
        "{shown}"
    );
    let shown = message("[reset]\ncommand = \"true\"\nbody_file = \"seed.json\"\n");
    assert!(
        shown.contains(":8:13: `body_file` is the body of the reset `request`"),
        "{shown}"
    );
    let shown = message("[reset]\nkind = \"restart\"\n");
    assert!(
        shown.contains(":7:8: kind = \"restart\" restarts the [server], expected a [server] table"),
        "{shown}"
    );
    let shown = message("[reset]\nkind = \"reboot\"\n");
    assert!(
        shown.contains(":7:8: unknown variant `reboot`, expected `restart`"),
        "{shown}"
    );
    let s = parse_in_dir("[reset]\nkind = \"restart\"\n[server]\ncommand = \"run-api\"\n").unwrap();
    assert!(matches!(s.reset, Some(venom_scenario::ResetSpec::Restart)));
}

#[test]
fn a_check_may_be_a_sql_query_and_each_check_sees_those_before_it() {
    let db = "[rollback]\nsqlite_path = \"a.db\"\n";
    let inv = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"api\", method = \"GET\", path = \"/o\" }, { name = \"db\", sql = \"SELECT total FROM o WHERE id = {{ api.body.id }}\" }, { name = \"again\", method = \"GET\", path = \"/o/{{ db.rows[0][0] }}\" }]\nexpr = \"db.rows[0][0] == string(api.body.total)\"\n";
    let s = ok(&case(&format!("{inv}{db}")));
    let checks = &s.invariants[0].checks;
    assert_eq!(
        checks.iter().map(Check::name).collect::<Vec<_>>(),
        ["api", "db", "again"]
    );
    let Check::Sql { query, .. } = &checks[1] else {
        panic!("a SQL check")
    };
    let api = vec![("api".to_string(), json!({"body": {"id": 7}}))];
    let ctx = Context::new();
    assert_eq!(
        query.render(&Vars::new(&ctx).with_calls(&api)).unwrap(),
        "SELECT total FROM o WHERE id = 7"
    );
    // A check cannot read the ones after it.
    let backwards = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"db\", sql = \"SELECT {{ api.status }}\" }, { name = \"api\", method = \"GET\", path = \"/o\" }]\nexpr = \"true\"\n";
    assert_err(
        &case(&format!("{backwards}{db}")),
        "t.toml:11:43: in template `SELECT {{ api.status }}`: unknown variable `api` in `api.status`, expected `ctx`, `last` or `env`",
    );
    let no_db = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"db\", sql = \"SELECT 1\" }]\nexpr = \"true\"\n";
    assert_err(
        &case(no_db),
        "t.toml:11:32: `sql` checks run against the API's database",
    );
    let mixed = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"db\", sql = \"SELECT 1\", method = \"GET\" }]\nexpr = \"true\"\n";
    assert_err(
        &case(&format!("{mixed}{db}")),
        "t.toml:11:53: a `sql` check is a query, expected no `method`, `path`, `headers`, `body` or `as`",
    );
    let pathless = "[[invariants]]\nname = \"i\"\nchecks = [{ name = \"x\", method = \"GET\" }]\nexpr = \"true\"\n";
    assert_err(&case(pathless), "t.toml:11:34: a check without `path`");
}
