//! The HTTP world over an API backed by PostgreSQL and Redis: a tiny axum app (inside the test)
//! keeps its own connections open while venom explores it, rolling both stores back between
//! branches, and finds a bug that only a SQL invariant sees.

mod common;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use venom_engine::{Context, Explorer, ExplorerConfig, Strategy, World};
use venom_runner::{HttpWorld, Processes};
use venom_testkit::{free_port, PgDatabase, RedisServer};

const SCHEMA: &str = "
    CREATE TABLE orders (id serial PRIMARY KEY, amount int NOT NULL);
    CREATE TABLE refunds (
        id serial PRIMARY KEY,
        order_id int NOT NULL REFERENCES orders (id),
        total int NOT NULL
    );";

/// What the app needs: where its database is (connected on first use, then kept open) and its
/// Redis connection.
struct App {
    db_url: String,
    db: OnceCell<tokio_postgres::Client>,
    redis: Mutex<redis::Connection>,
}

type Shared = State<Arc<App>>;
type Answer = Result<(StatusCode, Json<Value>), (StatusCode, String)>;

impl App {
    async fn db(&self) -> Result<&tokio_postgres::Client, (StatusCode, String)> {
        self.db
            .get_or_try_init(|| async {
                let (client, connection) =
                    tokio_postgres::connect(&self.db_url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                Ok::<_, tokio_postgres::Error>(client)
            })
            .await
            .map_err(internal)
    }
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn create_order(State(app): Shared, Json(body): Json<Value>) -> Answer {
    let amount = body["amount"].as_i64().unwrap_or(0) as i32;
    let row = app
        .db()
        .await?
        .query_one(
            "INSERT INTO orders (amount) VALUES ($1) RETURNING id",
            &[&amount],
        )
        .await
        .map_err(internal)?;
    let id: i32 = row.get(0);
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

/// The planted bug: refunds are never checked against the order's amount.
async fn refund(State(app): Shared, UrlPath(id): UrlPath<i32>, Json(body): Json<Value>) -> Answer {
    let total = body["amount"].as_i64().unwrap_or(0) as i32;
    app.db()
        .await?
        .execute(
            "INSERT INTO refunds (order_id, total) VALUES ($1, $2)",
            &[&id, &total],
        )
        .await
        .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "order_id": id }))))
}

async fn login(State(app): Shared) -> Answer {
    let mut redis = app.redis.lock().map_err(internal)?;
    let n: i64 = redis::cmd("INCR")
        .arg("sessions")
        .query(&mut *redis)
        .map_err(internal)?;
    redis::cmd("SET")
        .arg(format!("session:{n}"))
        .arg("alice")
        .arg("EX")
        .arg(3600)
        .query::<()>(&mut *redis)
        .map_err(internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "session": n }))))
}

/// Serves the app on a free loopback port from a thread of its own; returns its base URL.
fn serve(db_url: String, redis_url: &str) -> String {
    let redis = redis::Client::open(redis_url)
        .and_then(|c| c.get_connection())
        .expect("app's redis connection");
    let app = Arc::new(App {
        db_url,
        db: OnceCell::new(),
        redis: Mutex::new(redis),
    });
    let router = Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/orders", post(create_order))
        .route("/orders/{id}/refunds", post(refund))
        .route("/sessions", post(login))
        .with_state(app);
    common::serve(router)
}

/// The scenario: `rollback` is the `[rollback]` table's body.
fn scenario(base_url: &str, rollback: &str, redis_url: &str, strategy: &str, sql: &str) -> String {
    format!(
        r#"
base_url = "{base_url}"

[explore]
strategy = "{strategy}"
max_depth = 3

[rollback]
mode = "postgres"
observe_tables = ["orders", "refunds"]
{rollback}

[redis]
url = "{redis_url}"
observe_patterns = ["session:*"]

[[actions]]
name = "create_order"
method = "POST"
path = "/orders"
body = {{ amount = 100 }}
extract = {{ order_id = "$.id" }}
max_calls = 1

[[actions]]
name = "refund"
method = "POST"
path = "/orders/{{{{ctx.order_id}}}}/refunds"
body = {{ amount = 60 }}
requires = {{ keys = ["order_id"] }}

[[actions]]
name = "login"
method = "POST"
path = "/sessions"
max_calls = 1

[[invariants]]
name = "refunds_within_amount"
sql = "{sql}"
message = "refunds exceed the amount of order {{{{ctx.order_id}}}}"
"#
    )
}

const WITHIN_AMOUNT: &str = "SELECT NOT EXISTS (SELECT 1 FROM orders o WHERE \
    (SELECT COALESCE(SUM(total), 0) FROM refunds r WHERE r.order_id = o.id) > o.amount)";

fn explore(text: &str) -> venom_engine::Exploration {
    let scenario = venom_scenario::parse(text, Path::new("pg.toml")).expect("scenario");
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let config = ExplorerConfig::default()
        .strategy(scenario.explore.strategy.unwrap_or(Strategy::Bfs))
        .max_depth(scenario.explore.max_depth)
        .max_steps(500);
    let mut explorer = Explorer::new(
        world,
        venom_runner::actions(&scenario),
        venom_runner::invariants(&scenario),
    )
    .with_config(config);
    explorer.run(Context::new()).expect("exploration")
}

/// The shortest path to the broken SQL invariant: one order, then two refunds of 60.
fn assert_found_the_refund_bug(result: &venom_engine::Exploration) {
    let violation = result
        .violations
        .iter()
        .find(|v| v.invariant == "refunds_within_amount")
        .unwrap_or_else(|| panic!("no violation of the SQL invariant: {result:#?}"));
    let path: Vec<&str> = violation.path.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(path, ["create_order", "refund", "refund"]);
    assert_eq!(violation.message, "refunds exceed the amount of order 1");
    assert!(
        result
            .violations
            .iter()
            .all(|v| v.invariant == "refunds_within_amount"),
        "{:#?}",
        result.violations
    );
}

fn setup() -> (PgDatabase, RedisServer) {
    let db = PgDatabase::create();
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("connect");
    client.batch_execute(SCHEMA).expect("schema");
    (db, RedisServer::start())
}

#[test]
fn bfs_over_postgres_snapshots_and_redis_finds_the_bug_a_sql_invariant_sees() {
    let (db, redis_server) = setup();
    let base_url = serve(db.url().to_string(), &redis_server.url());
    let rollback = format!("postgres_url = \"{}\"", db.url());
    let text = scenario(
        &base_url,
        &rollback,
        &redis_server.url(),
        "bfs",
        WITHIN_AMOUNT,
    );
    let result = explore(&text);
    assert_eq!(result.mechanism, "postgres snapshots + redis snapshots");
    assert_found_the_refund_bug(&result);
    // Thanks to the rollbacks, every branch created its order as order 1.
    assert!(result.states >= 6, "{} states", result.states);
}

#[test]
fn dfs_through_the_transaction_proxy_finds_the_same_bug() {
    let (db, redis_server) = setup();
    let port = free_port();
    // The app's database URL is the proxy's address, which venom opens before exploring.
    let via_proxy = db
        .url()
        .replacen(&format!(":{}", db_port(db.url())), &format!(":{port}"), 1);
    let base_url = serve(via_proxy, &redis_server.url());
    let rollback = format!(
        "postgres_url = \"{}\"\nmechanism = \"proxy\"\nproxy_listen = \"127.0.0.1:{port}\"",
        db.url()
    );
    let text = scenario(
        &base_url,
        &rollback,
        &redis_server.url(),
        "dfs",
        WITHIN_AMOUNT,
    );
    let result = explore(&text);
    assert_eq!(
        result.mechanism,
        "postgres transaction proxy + redis snapshots"
    );
    assert_found_the_refund_bug(&result);
    // Nothing the exploration did was committed.
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("connect");
    let orders: i64 = client
        .query_one("SELECT count(*) FROM orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(orders, 0);
}

#[test]
fn sql_invariants_that_cannot_run_or_answer_no_boolean_fail_the_setup() {
    let (db, redis_server) = setup();
    let base_url = serve(db.url().to_string(), &redis_server.url());
    let rollback = format!("postgres_url = \"{}\"", db.url());
    for (sql, expected) in [
        (
            "SELECT count(*) FROM nowhere",
            "invariant `refunds_within_amount`: its sql failed: ",
        ),
        (
            "SELECT count(*) FROM orders",
            "invariant `refunds_within_amount`: its sql returned `0`, expected a boolean",
        ),
    ] {
        let text = scenario(&base_url, &rollback, &redis_server.url(), "bfs", sql);
        let scenario = venom_scenario::parse(&text, Path::new("pg.toml")).expect("scenario");
        let err = HttpWorld::connect(&scenario, &Processes::default()).unwrap_err();
        let text = venom_engine::one_line(&err);
        assert!(text.starts_with(expected), "{text}");
    }
}

#[test]
fn sql_runs_against_the_database_and_an_unreachable_database_fails_the_setup() {
    let (db, redis_server) = setup();
    let base_url = serve(db.url().to_string(), &redis_server.url());
    let rollback = format!("postgres_url = \"{}\"", db.url());
    let text = scenario(
        &base_url,
        &rollback,
        &redis_server.url(),
        "bfs",
        WITHIN_AMOUNT,
    );
    let scenario = venom_scenario::parse(&text, Path::new("pg.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    assert_eq!(
        world.sql("SELECT count(*) FROM orders").unwrap(),
        vec![vec![Some("0".to_string())]]
    );
    assert!(world.observe().unwrap().contains_key("redis:session:*"));

    let gone = format!("postgres://venom@127.0.0.1:{}/app", free_port());
    let text = text.replace(db.url(), &gone);
    let scenario = venom_scenario::parse(&text, Path::new("pg.toml")).expect("scenario");
    let err = HttpWorld::connect(&scenario, &Processes::default()).unwrap_err();
    let text = venom_engine::one_line(&err);
    assert!(
        text.starts_with("cannot open rollback postgres: cannot connect to PostgreSQL at "),
        "{text}"
    );
}

fn db_port(url: &str) -> u16 {
    let after_host = url.rsplit_once(':').expect("port").1;
    after_host
        .split('/')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port number")
}

#[test]
fn the_state_is_saved_as_a_pg_dump_and_the_redis_keys_with_their_dumps() {
    let (db, redis_server) = setup();
    let base_url = serve(db.url().to_string(), &redis_server.url());
    let rollback = format!("postgres_url = \"{}\"", db.url());
    let text = scenario(
        &base_url,
        &rollback,
        &redis_server.url(),
        "bfs",
        WITHIN_AMOUNT,
    );
    let scenario = venom_scenario::parse(&text, Path::new("pg.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).expect("connect");
    client
        .batch_execute("INSERT INTO orders (amount) VALUES (4242)")
        .unwrap();
    let mut redis = redis::Client::open(redis_server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SET")
        .arg("session:saved")
        .arg("yes")
        .query::<()>(&mut redis)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = world.save_state(&dir.path().join("state")).expect("saved");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["redis.json", "postgres.sql"]);
    let dump = std::fs::read_to_string(&files[1]).unwrap();
    assert!(dump.contains("CREATE TABLE public.orders"), "{dump}");
    assert!(dump.contains("4242"), "the rows are in the dump");
    assert!(!dump.contains(db.url()), "the URL is not written");
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let saved = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key"] == "session:saved")
        .expect("the key is saved");
    assert!(saved["dump_hex"].as_str().unwrap().len() > 8);
}
