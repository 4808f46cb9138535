//! venom-demo: a small orders / payments / refunds HTTP API with planted bugs, used by `venom demo`
//! and by venom's own tests.
//!
//! The whole state of the service lives in one SQLite file (or, alternatively, one PostgreSQL
//! database) and nothing is cached in process memory: every request reads the current contents of
//! the database. This lets venom roll the database back *in place* (with SQLite's online backup
//! API, or with its PostgreSQL snapshots or transaction proxy) while the server keeps its
//! connection open. Each handler is written once over a small storage abstraction, so both
//! databases run the very same logic, planted bugs included.
//!
//! # Planted bugs
//! Each one only shows after a few calls in a particular order; everything else behaves correctly.
//! 1. **Over-refund**: a refund is checked against the order amount alone, not against the amount
//!    minus what was already refunded (two refunds of 60 on an order of 100 both succeed).
//! 2. **Cancel after refund → 500**: cancelling an order that has a refund answers 500.
//! 3. **Deleted order still counted**: `GET /orders` counts soft-deleted rows in `total` while
//!    `items` excludes them.
//! 4. **Idempotency key honoured only once**: the second `POST /orders` with the same
//!    `Idempotency-Key` returns the original order but forgets the key, so a third call creates a
//!    second order.
//! 5. **Double pay**: paying an already-paid order adds the amount to `paid` again.

#![warn(missing_docs)]

use axum::{
    extract::{rejection::JsonRejection, Path as UrlPath, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

/// The bundled scenario file, for `venom demo`.
pub const DEMO_SCENARIO: &str = include_str!("../../../examples/demo.toml");

/// How long a statement waits for a lock held by another connection (e.g. a rollback in progress).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a graceful shutdown may wait for open connections before the server is stopped anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    amount          INTEGER NOT NULL,
    currency        TEXT    NOT NULL DEFAULT 'EUR',
    paid            INTEGER NOT NULL DEFAULT 0,
    refunded        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'created',
    deleted         INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
CREATE TABLE IF NOT EXISTS refunds (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    amount   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key      TEXT PRIMARY KEY,
    order_id INTEGER NOT NULL
);
";

/// The same tables in PostgreSQL; every integer is a BIGINT, so all of them read as `i64`.
const PG_SCHEMA: &str = "
CREATE TABLE orders (
    id              BIGSERIAL PRIMARY KEY,
    amount          BIGINT NOT NULL,
    currency        TEXT   NOT NULL DEFAULT 'EUR',
    paid            BIGINT NOT NULL DEFAULT 0,
    refunded        BIGINT NOT NULL DEFAULT 0,
    status          TEXT   NOT NULL DEFAULT 'created',
    deleted         BIGINT NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
CREATE TABLE refunds (
    id       BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL REFERENCES orders(id),
    amount   BIGINT NOT NULL
);
CREATE TABLE idempotency (
    key      TEXT PRIMARY KEY,
    order_id BIGINT NOT NULL
);
";

/// The demo API running in a background thread with its own tokio runtime.
///
/// Dropping it (or calling [`DemoServer::shutdown`]) stops the server gracefully and joins the thread.
#[derive(Debug)]
pub struct DemoServer {
    /// The address the server listens on (a loopback address; by default `127.0.0.1` and an
    /// ephemeral port).
    pub addr: SocketAddr,
    /// The SQLite file holding the server's whole state; empty for a server started on
    /// PostgreSQL with [`DemoServer::start_postgres_at`].
    pub db_path: PathBuf,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl DemoServer {
    /// Creates/initialises the schema in `db_path` (fresh, empty tables) and serves on
    /// `127.0.0.1:0` in a background thread with its own tokio runtime. Returns once the listener
    /// is bound.
    pub fn start(db_path: &Path) -> std::io::Result<DemoServer> {
        DemoServer::start_at(db_path, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Like [`DemoServer::start`], but serves on `addr` (port 0 picks an ephemeral port; the
    /// bound address is in [`DemoServer::addr`]).
    ///
    /// The demo API has planted bugs and an unauthenticated `/admin/reset`, so only loopback
    /// addresses are accepted: any other address fails with [`std::io::ErrorKind::InvalidInput`]
    /// before the database is touched.
    pub fn start_at(db_path: &Path, addr: SocketAddr) -> std::io::Result<DemoServer> {
        refuse_non_loopback(addr)?;
        init_fresh(db_path).map_err(std::io::Error::other)?;
        DemoServer::serve(Backend::sqlite(db_path.to_path_buf()), addr, db_path)
    }

    /// Like [`DemoServer::start_at`], but the state lives in the PostgreSQL database at
    /// `database_url` (a `postgres://` URL): the demo tables are dropped and created again, empty,
    /// before the server listens.
    pub fn start_postgres_at(database_url: &str, addr: SocketAddr) -> std::io::Result<DemoServer> {
        refuse_non_loopback(addr)?;
        let url = database_url.to_string();
        // The sync client runs its own runtime, which must not nest in the caller's.
        std::thread::scope(|scope| {
            scope
                .spawn(|| init_fresh_postgres(&url))
                .join()
                .unwrap_or_else(|_| Err("the database initialisation panicked".into()))
        })
        .map_err(std::io::Error::other)?;
        DemoServer::serve(Backend::postgres(url), addr, Path::new(""))
    }

    /// Binds `addr` and serves `backend` in a background thread with its own tokio runtime.
    fn serve(backend: Backend, addr: SocketAddr, db_path: &Path) -> std::io::Result<DemoServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("venom-demo-worker")
            .enable_all()
            .build()?;
        let state = Arc::new(backend);
        let app = app(Arc::clone(&state));
        let (tx, rx) = tokio::sync::watch::channel(false);

        let thread = std::thread::Builder::new()
            .name("venom-demo".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(_) => return,
                    };
                    let graceful = axum::serve(listener, app)
                        .with_graceful_shutdown(wait_for_stop(rx.clone()));
                    let deadline = async move {
                        wait_for_stop(rx).await;
                        tokio::time::sleep(SHUTDOWN_GRACE).await;
                    };
                    tokio::select! {
                        _ = graceful => {}
                        _ = deadline => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
                // Dropped here, outside the runtime: a PostgreSQL client must not be dropped
                // inside one.
                drop(state);
            })?;

        Ok(DemoServer {
            addr,
            db_path: db_path.to_path_buf(),
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully and joins its thread (dropping the server does the same).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Fails with [`std::io::ErrorKind::InvalidInput`] unless `addr` is a loopback address.
fn refuse_non_loopback(addr: SocketAddr) -> std::io::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "refusing to listen on {addr}: the demo API only listens on loopback addresses \
             (127.0.0.0/8 or ::1)"
        ),
    ))
}

async fn wait_for_stop(mut rx: tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone, which also means "stop".
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The demo API as an axum [`Router`] over the SQLite file `db_path`, for embedding.
///
/// The schema is created (if missing) when the first request opens the database; existing data
/// is kept. Use [`DemoServer::start`] for a fresh database.
pub fn router(db_path: PathBuf) -> Router {
    app(Arc::new(Backend::sqlite(db_path)))
}

fn app(state: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/orders", post(create_order).get(list_orders))
        .route("/orders/{id}", get(get_order).delete(delete_order))
        .route("/orders/{id}/pay", post(pay_order))
        .route("/orders/{id}/refunds", post(refund_order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/admin/reset", post(admin_reset))
        .fallback(not_found_route)
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Database

/// Where the state lives. Each variant holds one long-lived connection, opened on first use. It
/// holds no data: SQLite re-reads the file (and drops its page cache) whenever another connection
/// has changed it, e.g. during a rollback, and PostgreSQL always answers from the database.
enum Backend {
    Sqlite {
        db_path: PathBuf,
        conn: Mutex<Option<Connection>>,
    },
    Postgres {
        url: String,
        client: Mutex<Option<postgres::Client>>,
    },
}

type Shared = Arc<Backend>;

fn open(db_path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A rollback journal (not WAL), so a restore written through another connection is seen here.
    let _mode: String = conn.query_row("PRAGMA journal_mode=DELETE", [], |row| row.get(0))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Drops and recreates every table, so the file holds fresh, empty tables (ids restart at 1).
fn init_fresh(db_path: &Path) -> rusqlite::Result<()> {
    let mut conn = open(db_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS refunds;
         DROP TABLE IF EXISTS idempotency;
         DROP TABLE IF EXISTS orders;",
    )?;
    tx.execute_batch(SCHEMA)?;
    tx.commit()
}

/// Drops and recreates every table in the PostgreSQL database (ids restart at 1). Must not run
/// inside a tokio runtime.
fn init_fresh_postgres(url: &str) -> Result<(), String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let mut tx = client.transaction().map_err(|e| e.to_string())?;
    tx.batch_execute("DROP TABLE IF EXISTS refunds, idempotency, orders")
        .and_then(|()| tx.batch_execute(PG_SCHEMA))
        .map_err(|e| format!("cannot create the demo tables: {e}"))?;
    tx.commit().map_err(|e| e.to_string())
}

impl Backend {
    fn sqlite(db_path: PathBuf) -> Backend {
        Backend::Sqlite {
            db_path,
            conn: Mutex::new(None),
        }
    }

    fn postgres(url: String) -> Backend {
        Backend::Postgres {
            url,
            client: Mutex::new(None),
        }
    }

    /// Runs `f` in one transaction in a blocking task and commits it when `f` succeeds (an error
    /// rolls it back). With SQLite, a `write` transaction takes the write lock at once.
    async fn transaction<T, F>(self: &Arc<Self>, write: bool, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.transaction_blocking(write, f))
            .await
            .map_err(|e| ApiError::Internal(format!("request task failed: {e}")))?
    }

    fn transaction_blocking<T>(
        &self,
        write: bool,
        f: impl FnOnce(&mut dyn Store) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match self {
            Backend::Sqlite { db_path, conn } => {
                let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if guard.is_none() {
                    *guard = Some(open(db_path)?);
                }
                let conn = guard.as_mut().expect("connection was just opened");
                let behavior = if write {
                    TransactionBehavior::Immediate
                } else {
                    TransactionBehavior::Deferred
                };
                let mut tx = conn.transaction_with_behavior(behavior)?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            }
            Backend::Postgres { url, client } => {
                let mut guard = client
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                // A connection that broke (e.g. the database restarted) is opened again.
                if guard.as_ref().is_none_or(postgres::Client::is_closed) {
                    *guard = Some(postgres::Client::connect(url, postgres::NoTls)?);
                }
                let client = guard.as_mut().expect("connection was just opened");
                let mut tx = client.transaction()?;
                let value = f(&mut tx)?;
                tx.commit()?;
                Ok(value)
            }
        }
    }
}

/// A statement parameter; both databases bind the same values.
#[derive(Debug, Clone, Copy)]
enum Param<'a> {
    Int(i64),
    Text(Option<&'a str>),
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
        }
    }
}

/// `params` as the PostgreSQL client takes them.
fn pg_params<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn postgres::types::ToSql + Sync) {
            match p {
                Param::Int(v) => v,
                Param::Text(v) => v,
            }
        })
        .collect()
}

/// An open transaction of either database. The SQL text is shared: parameters are written `$1`,
/// `$2`, … in increasing order, which SQLite binds by position too.
trait Store {
    /// Runs a statement that returns no rows.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), ApiError>;
    /// The first column of the first row as an integer, if there is a row.
    fn query_i64(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, ApiError>;
    /// Every row, as orders; the query selects [`ORDER_COLUMNS`].
    fn query_orders(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Order>, ApiError>;
    /// Empties every table; ids restart at 1.
    fn reset(&mut self) -> Result<(), ApiError>;
}

impl Store for rusqlite::Transaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), ApiError> {
        rusqlite::Connection::execute(self, sql, rusqlite::params_from_iter(params))?;
        Ok(())
    }

    fn query_i64(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, ApiError> {
        Ok(self
            .query_row(sql, rusqlite::params_from_iter(params), |row| row.get(0))
            .optional()?)
    }

    fn query_orders(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Order>, ApiError> {
        let mut stmt = self.prepare(sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
            Ok(Order {
                id: row.get(0)?,
                amount: row.get(1)?,
                currency: row.get(2)?,
                paid: row.get(3)?,
                refunded: row.get(4)?,
                status: row.get(5)?,
                deleted: row.get::<_, i64>(6)? != 0,
                idempotency_key: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn reset(&mut self) -> Result<(), ApiError> {
        Ok(self.execute_batch(
            "DELETE FROM refunds;
             DELETE FROM idempotency;
             DELETE FROM orders;
             DELETE FROM sqlite_sequence;",
        )?)
    }
}

impl Store for postgres::Transaction<'_> {
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), ApiError> {
        postgres::Transaction::execute(self, sql, &pg_params(params))?;
        Ok(())
    }

    fn query_i64(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, ApiError> {
        let row = self.query_opt(sql, &pg_params(params))?;
        Ok(row.map(|row| row.try_get(0)).transpose()?)
    }

    fn query_orders(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Order>, ApiError> {
        let rows = self.query(sql, &pg_params(params))?;
        let order = |row: &postgres::Row| -> Result<Order, postgres::Error> {
            Ok(Order {
                id: row.try_get(0)?,
                amount: row.try_get(1)?,
                currency: row.try_get(2)?,
                paid: row.try_get(3)?,
                refunded: row.try_get(4)?,
                status: row.try_get(5)?,
                deleted: row.try_get::<_, i64>(6)? != 0,
                idempotency_key: row.try_get(7)?,
            })
        };
        Ok(rows.iter().map(order).collect::<Result<Vec<_>, _>>()?)
    }

    fn reset(&mut self) -> Result<(), ApiError> {
        Ok(self.batch_execute("TRUNCATE refunds, idempotency, orders RESTART IDENTITY")?)
    }
}

#[derive(Debug, Clone)]
struct Order {
    id: i64,
    amount: i64,
    currency: String,
    paid: i64,
    refunded: i64,
    status: String,
    deleted: bool,
    idempotency_key: Option<String>,
}

impl Order {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "amount": self.amount,
            "currency": self.currency,
            "paid": self.paid,
            "refunded": self.refunded,
            "status": self.status,
            "idempotency_key": self.idempotency_key,
        })
    }
}

const ORDER_COLUMNS: &str =
    "id, amount, currency, paid, refunded, status, deleted, idempotency_key";

/// The order with `id`, including soft-deleted ones.
fn load_order(db: &mut dyn Store, id: i64) -> Result<Option<Order>, ApiError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    Ok(db.query_orders(&sql, &[Param::Int(id)])?.into_iter().next())
}

/// The live (not deleted) order with `id`, or 404.
fn live_order(db: &mut dyn Store, id: i64) -> Result<Order, ApiError> {
    match load_order(db, id)? {
        Some(order) if !order.deleted => Ok(order),
        _ => Err(ApiError::NotFound(format!("order {id} not found"))),
    }
}

fn insert_order(
    db: &mut dyn Store,
    amount: i64,
    currency: &str,
    idempotency_key: Option<&str>,
) -> Result<Order, ApiError> {
    let id = db
        .query_i64(
            "INSERT INTO orders (amount, currency, status, idempotency_key) \
             VALUES ($1, $2, 'created', $3) RETURNING id",
            &[
                Param::Int(amount),
                Param::Text(Some(currency)),
                Param::Text(idempotency_key),
            ],
        )?
        .ok_or_else(|| ApiError::Internal("the insert returned no id".into()))?;
    load_order(db, id)?.ok_or_else(|| ApiError::Internal("inserted order vanished".into()))
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug)]
enum ApiError {
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    Internal(String),
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database error: {e}"))
    }
}

impl From<postgres::Error> for ApiError {
    fn from(e: postgres::Error) -> Self {
        ApiError::Internal(format!("database error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

fn created(value: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)))
}

/// Parses a path id; anything that is not an integer names no order (404).
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("order {raw} not found")))
}

fn json_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {}", e.body_text())))
}

/// A positive integer `field` of `body`.
fn positive_int(body: &Value, field: &str) -> Result<i64, ApiError> {
    match body.get(field).and_then(Value::as_i64) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(ApiError::BadRequest(format!(
            "`{field}` must be a positive integer"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn not_found_route() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn health(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(false, |db| {
            db.query_i64("SELECT CAST(1 AS BIGINT)", &[])?;
            ok(json!({ "status": "ok" }))
        })
        .await
}

async fn create_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let amount = positive_int(&body, "amount")?;
    let currency = match body.get("currency") {
        None | Some(Value::Null) => "EUR".to_string(),
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        Some(_) => return Err(ApiError::BadRequest("`currency` must be a string".into())),
    };
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::BadRequest("invalid Idempotency-Key header".into()))?
                .to_string(),
        ),
    };

    state
        .transaction(true, move |db| {
            let Some(key) = key else {
                return created(insert_order(db, amount, &currency, None)?.to_json());
            };
            let seen = db.query_i64(
                "SELECT order_id FROM idempotency WHERE key = $1",
                &[Param::Text(Some(&key))],
            )?;
            if let Some(order_id) = seen {
                if let Some(order) = load_order(db, order_id)? {
                    // BUG 4: the replay "consumes" the key, so the next call creates a new order.
                    db.execute(
                        "DELETE FROM idempotency WHERE key = $1",
                        &[Param::Text(Some(&key))],
                    )?;
                    return ok(order.to_json());
                }
            }
            let order = insert_order(db, amount, &currency, Some(&key))?;
            db.execute(
                "INSERT INTO idempotency (key, order_id) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET order_id = excluded.order_id",
                &[Param::Text(Some(&key)), Param::Int(order.id)],
            )?;
            created(order.to_json())
        })
        .await
}

async fn list_orders(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(false, |db| {
            let items: Vec<Value> = db
                .query_orders(
                    &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE deleted = 0 ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(Order::to_json)
                .collect();
            // BUG 3: the count forgets the `deleted = 0` filter.
            let total = db
                .query_i64("SELECT COUNT(*) FROM orders", &[])?
                .unwrap_or(0);
            ok(json!({ "items": items, "total": total }))
        })
        .await
}

async fn get_order(State(state): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(false, move |db| ok(live_order(db, id)?.to_json()))
        .await
}

async fn delete_order(State(state): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            live_order(db, id)?;
            db.execute(
                "UPDATE orders SET deleted = 1 WHERE id = $1",
                &[Param::Int(id)],
            )?;
            ok(json!({ "id": id, "deleted": true }))
        })
        .await
}

async fn pay_order(State(state): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            match order.status.as_str() {
                "cancelled" => {
                    return Err(ApiError::Conflict(format!("order {id} is cancelled")));
                }
                "created" => {
                    db.execute(
                        "UPDATE orders SET paid = amount, status = 'paid' WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
                // BUG 5: an order that is already paid is charged again.
                _ => {
                    db.execute(
                        "UPDATE orders SET paid = paid + amount WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
            }
            ok(live_order(db, id)?.to_json())
        })
        .await
}

async fn refund_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let body = json_body(body);
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            let body = body?;
            let amount = match body.get("amount").and_then(Value::as_i64) {
                Some(v) if v > 0 => v,
                _ => {
                    return Err(ApiError::Conflict(
                        "invalid refund: `amount` must be a positive integer".into(),
                    ))
                }
            };
            if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
                return Err(ApiError::Conflict(format!(
                    "order {id} is {}, only paid orders can be refunded",
                    order.status
                )));
            }
            // BUG 1: checked against the order amount, not `amount - refunded`.
            if amount > order.amount {
                return Err(ApiError::Conflict(format!(
                    "invalid refund: {amount} exceeds the order amount {}",
                    order.amount
                )));
            }
            db.execute(
                "INSERT INTO refunds (order_id, amount) VALUES ($1, $2)",
                &[Param::Int(id), Param::Int(amount)],
            )?;
            let refunded = order.refunded + amount;
            let status = if refunded >= order.amount {
                "refunded"
            } else {
                "partially_refunded"
            };
            db.execute(
                "UPDATE orders SET refunded = $1, status = $2 WHERE id = $3",
                &[
                    Param::Int(refunded),
                    Param::Text(Some(status)),
                    Param::Int(id),
                ],
            )?;
            created(live_order(db, id)?.to_json())
        })
        .await
}

async fn cancel_order(State(state): State<Shared>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            let refunds = db
                .query_i64(
                    "SELECT COUNT(*) FROM refunds WHERE order_id = $1",
                    &[Param::Int(id)],
                )?
                .unwrap_or(0);
            if refunds > 0 {
                // BUG 2: this case was thought unreachable and is not handled.
                return Err(ApiError::Internal(format!(
                    "internal error: entered unreachable code: cancel of order {id} with {refunds} refund(s)"
                )));
            }
            match order.status.as_str() {
                "created" | "paid" => {
                    db.execute(
                        "UPDATE orders SET status = 'cancelled' WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
                "cancelled" => {
                    return Err(ApiError::Conflict(format!(
                        "order {id} is already cancelled"
                    )));
                }
                other => {
                    return Err(ApiError::Conflict(format!(
                        "order {id} is {other} and cannot be cancelled"
                    )));
                }
            }
            ok(live_order(db, id)?.to_json())
        })
        .await
}

async fn admin_reset(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(true, |db| {
            db.reset()?;
            ok(json!({ "status": "ok" }))
        })
        .await
}
