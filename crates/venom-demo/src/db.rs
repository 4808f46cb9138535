//! Where the state lives: SQLite or PostgreSQL behind one small storage trait, and the orders.

use crate::errors::ApiError;
use crate::schema;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

/// How long a statement waits for a lock held by another connection (e.g. a rollback in progress).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the state lives. Each variant holds one long-lived connection, opened on first use. It
/// holds no data: SQLite re-reads the file (and drops its page cache) whenever another connection
/// has changed it, e.g. during a rollback, and PostgreSQL always answers from the database.
pub(crate) enum Backend {
    Sqlite {
        db_path: PathBuf,
        conn: Mutex<Option<Connection>>,
    },
    Postgres {
        url: String,
        client: Mutex<Option<postgres::Client>>,
    },
}

pub(crate) type Shared = Arc<Backend>;

pub(crate) fn open(db_path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(db_path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The file keeps its journal mode (a new file has a rollback journal): venom restores either,
    // and this connection sees a restore written through another as any other commit.
    conn.execute_batch(&schema::sqlite())?;
    Ok(conn)
}

/// Drops and recreates every table, so the file holds fresh, empty tables (ids restart at 1).
pub(crate) fn init_fresh(db_path: &Path) -> rusqlite::Result<()> {
    let mut conn = open(db_path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(schema::DROP_TABLES)?;
    tx.execute_batch(&schema::sqlite())?;
    tx.commit()
}

/// Drops and recreates every table in the PostgreSQL database (ids restart at 1). Must not run
/// inside a tokio runtime.
pub(crate) fn init_fresh_postgres(url: &str) -> Result<(), String> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    let mut tx = client.transaction().map_err(|e| e.to_string())?;
    tx.batch_execute(schema::DROP_TABLES)
        .and_then(|()| tx.batch_execute(&schema::postgres()))
        .map_err(|e| format!("cannot create the demo tables: {e}"))?;
    tx.commit().map_err(|e| e.to_string())
}

impl Backend {
    pub(crate) fn sqlite(db_path: PathBuf) -> Backend {
        Backend::Sqlite {
            db_path,
            conn: Mutex::new(None),
        }
    }

    pub(crate) fn postgres(url: String) -> Backend {
        Backend::Postgres {
            url,
            client: Mutex::new(None),
        }
    }

    /// Runs `f` in one transaction in a blocking task and commits it when `f` succeeds (an error
    /// rolls it back). With SQLite, a `write` transaction takes the write lock at once.
    pub(crate) async fn transaction<T, F>(
        self: &Arc<Self>,
        write: bool,
        f: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.transaction_blocking(write, f))
            .await
            .map_err(|e| ApiError::Internal(format!("request task failed: {e}")))?
    }

    pub(crate) fn transaction_blocking<T>(
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
pub(crate) enum Param<'a> {
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
pub(crate) fn pg_params<'a>(
    params: &'a [Param<'a>],
) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
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
pub(crate) trait Store {
    /// Runs a statement that returns no rows.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<(), ApiError>;
    /// The first column of the first row as an integer, if there is a row.
    fn query_i64(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<i64>, ApiError>;
    /// Every row, as orders; the query selects [`ORDER_COLUMNS`].
    fn query_orders(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Order>, ApiError>;
    /// Every row, each column read as text (the query casts what is not text).
    fn query_texts(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Vec<String>>, ApiError>;
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

    fn query_texts(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Vec<String>>, ApiError> {
        let mut stmt = self.prepare(sql)?;
        let columns = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
            (0..columns).map(|i| row.get::<_, String>(i)).collect()
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn reset(&mut self) -> Result<(), ApiError> {
        Ok(self.execute_batch(
            "DELETE FROM notes;
             DELETE FROM sessions;
             DELETE FROM users;
             DELETE FROM refunds;
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

    fn query_texts(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<Vec<Vec<String>>, ApiError> {
        let rows = self.query(sql, &pg_params(params))?;
        let texts = |row: &postgres::Row| -> Result<Vec<String>, postgres::Error> {
            (0..row.len()).map(|i| row.try_get(i)).collect()
        };
        Ok(rows.iter().map(texts).collect::<Result<Vec<_>, _>>()?)
    }

    fn reset(&mut self) -> Result<(), ApiError> {
        Ok(self.batch_execute(
            "TRUNCATE notes, sessions, users, refunds, idempotency, orders RESTART IDENTITY",
        )?)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) id: i64,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) paid: i64,
    pub(crate) refunded: i64,
    pub(crate) status: String,
    pub(crate) deleted: bool,
    pub(crate) idempotency_key: Option<String>,
}

impl Order {
    pub(crate) fn to_json(&self) -> Value {
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

pub(crate) const ORDER_COLUMNS: &str =
    "id, amount, currency, paid, refunded, status, deleted, idempotency_key";

/// The order with `id`, including soft-deleted ones.
pub(crate) fn load_order(db: &mut dyn Store, id: i64) -> Result<Option<Order>, ApiError> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    Ok(db.query_orders(&sql, &[Param::Int(id)])?.into_iter().next())
}

/// The live (not deleted) order with `id`, or 404.
pub(crate) fn live_order(db: &mut dyn Store, id: i64) -> Result<Order, ApiError> {
    match load_order(db, id)? {
        Some(order) if !order.deleted => Ok(order),
        _ => Err(ApiError::NotFound(format!("order {id} not found"))),
    }
}

pub(crate) fn insert_order(
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
