//! Checkpoints of a SQLite database file, kept page by page (see [`pages`]): a checkpoint holds
//! the pages in which the database differs from the copy taken when venom opened it; a rollback
//! writes back, in place and in one write transaction, only the pages that differ from the
//! target, so the API's own open connections see the restored content on their next query
//! (SQLite notices the change through the file change counter in rollback-journal mode and
//! through the WAL index in WAL mode).

mod pages;
mod rows;
mod table_sums;
mod wal;

use crate::{Observer, SqlQuery, StateAdapter};
use pages::{Image, Pages};
use rows::Touched;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::json;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;
use table_sums::TableSums;
use venom_engine::{
    CheckpointId, CheckpointMode, LentCheckpoint, Mechanism, Observation, WorldError,
};
use xxhash_rust::xxh3::Xxh3;

/// How long one attempt waits, by default, for a lock held by another connection (the API's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a copy or a page write is attempted while the database stays locked.
const MAX_ATTEMPTS: u32 = 3;

/// Pause between two attempts of a copy that found the database locked.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// Copy every remaining page in one step: the whole copy is one transaction on each side.
const ALL_PAGES: i32 = -1;

/// Type tags of the values fed to the table hash, so that e.g. `1` and `'1'` differ.
const TAG_NULL: u8 = 0;
const TAG_INTEGER: u8 = 1;
const TAG_REAL: u8 = 2;
const TAG_TEXT: u8 = 3;
const TAG_BLOB: u8 = 4;

/// Checkpoints of a SQLite database file, kept as the pages that changed and restored in place,
/// while the API keeps its own connections open.
///
/// Works with files in WAL and in rollback-journal mode. Checkpoints can be restored in any order
/// ([`CheckpointMode::RandomAccess`]), and lent to the copies of the same database that other
/// workers explore ([`StateAdapter::lend`]): a checkpoint names the base its pages differ from,
/// so it restores into any copy.
pub struct SqliteSnapshots {
    path: PathBuf,
    conn: Connection,
    tables: Vec<ObservedTable>,
    /// Named queries whose rows feed the observation (`query:NAME`).
    queries: Vec<(String, String)>,
    /// The pages of the database, from the first checkpoint on.
    pages: Option<Pages>,
    snapshots: HashMap<CheckpointId, Image>,
    next_id: u64,
    busy_timeout: Duration,
    /// Whether [`journal_advice`] was given.
    advised: bool,
}

impl fmt::Debug for SqliteSnapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteSnapshots")
            .field("path", &self.path)
            .field("tables", &self.tables)
            .field("snapshots", &self.snapshots.len())
            .finish()
    }
}

/// A table whose content feeds [`SqliteSnapshots::observe`].
#[derive(Debug, Clone)]
struct ObservedTable {
    name: String,
    /// `SELECT *` over the table in a stable row order.
    select_sql: String,
    /// A table with rowids (none of its columns named `_rowid_`): observed through its
    /// [`TableSums`], updated from the rows a change touched.
    by_rowid: bool,
    /// Its sums as last observed.
    sums: Option<TableSums>,
}

impl SqliteSnapshots {
    /// Opens a connection of its own to the existing SQLite file `path` (the one the API uses)
    /// and checks that every table of `observe_tables` exists in it.
    ///
    /// Fails, naming the path, when the file does not exist or is not a SQLite database, and,
    /// naming the table, when one of `observe_tables` is missing.
    pub fn open(path: &Path, observe_tables: &[String]) -> Result<SqliteSnapshots, WorldError> {
        let conn = open_file(path)?;
        let tables = observe_tables
            .iter()
            .map(|name| find_table(&conn, path, name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SqliteSnapshots {
            path: path.to_path_buf(),
            conn,
            tables,
            queries: Vec::new(),
            pages: None,
            snapshots: HashMap::new(),
            next_id: 1,
            busy_timeout: BUSY_TIMEOUT,
            advised: false,
        })
    }

    /// Sets how long one attempt of a checkpoint or rollback waits for a lock held by another
    /// connection before it is retried (5 s by default; at most 3 attempts are made).
    pub fn with_busy_timeout(self, timeout: Duration) -> Result<SqliteSnapshots, WorldError> {
        self.conn
            .busy_timeout(timeout)
            .map_err(|e| self.caused("cannot set the busy timeout", e))?;
        Ok(SqliteSnapshots {
            busy_timeout: timeout,
            ..self
        })
    }

    /// Observes the rows of the named `queries` too, each as `query:NAME` (the rows as arrays
    /// of text values). Fails, naming the query, when one does not run.
    pub fn with_queries(mut self, queries: &[(String, String)]) -> Result<Self, WorldError> {
        for (name, sql) in queries {
            query_rows(&self.conn, sql)
                .map_err(|e| self.caused(format_args!("observation query `{name}`"), e))?;
        }
        self.queries = queries.to_vec();
        Ok(self)
    }

    /// The database file this adapter saves and restores.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many checkpoints are currently held (taken and not released).
    pub fn checkpoint_count(&self) -> usize {
        self.snapshots.len()
    }

    fn fresh_id(&mut self) -> CheckpointId {
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        id
    }

    fn error(&self, what: impl fmt::Display) -> WorldError {
        WorldError::new(format!("sqlite database {}: {what}", self.path.display()))
    }

    /// [`Self::error`] that keeps `source` as its cause.
    fn caused(
        &self,
        what: impl fmt::Display,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> WorldError {
        let message = format!("sqlite database {}: {what}", self.path.display());
        WorldError::caused(message, source)
    }
}

impl StateAdapter for SqliteSnapshots {
    fn mechanism(&self) -> String {
        Mechanism::SqliteSnapshots.name().to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        Mechanism::SqliteSnapshots.checkpoint_mode()
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let image = match &mut self.pages {
            Some(pages) => pages.checkpoint(&self.conn),
            None => Pages::start(
                &self.conn,
                &self.path,
                self.busy_timeout,
                self.follows_rows(),
            )
            .and_then(|mut pages| {
                let image = pages.checkpoint(&self.conn);
                self.pages = Some(pages);
                image
            }),
        }
        .map_err(|e| self.error(format_args!("checkpoint failed: {e}")))?;
        let id = self.fresh_id();
        self.snapshots.insert(id, image);
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let (Some(image), Some(pages)) = (self.snapshots.get(&id), self.pages.as_mut()) else {
            return Err(self.error(format_args!(
                "unknown checkpoint {} (never taken, or released)",
                id.0
            )));
        };
        let target = (self.path.as_path(), self.busy_timeout);
        pages.restore(&self.conn, target, image).map_err(|e| {
            WorldError::new(format!(
                "sqlite database {}: rollback to checkpoint {} failed: {e}",
                self.path.display(),
                id.0
            ))
        })
    }

    fn release(&mut self, id: CheckpointId) {
        self.snapshots.remove(&id);
    }

    /// Once checkpoints were taken, advises WAL mode for a large database with a rollback
    /// journal (once).
    fn take_warnings(&mut self) -> Vec<String> {
        if self.pages.is_none() || std::mem::replace(&mut self.advised, true) {
            return Vec::new();
        }
        journal_advice(&self.conn, &self.path).into_iter().collect()
    }

    /// The pages the checkpoints hold (each page once, however many checkpoints share it).
    fn checkpoint_bytes(&self) -> Option<u64> {
        Some(self.pages.as_ref().map_or(0, Pages::held_bytes))
    }

    fn lend(&mut self, id: CheckpointId) -> Option<LentCheckpoint> {
        let image = self.snapshots.get(&id)?;
        Some(LentCheckpoint::new(image.clone()))
    }

    fn restore_lent(&mut self, lent: &LentCheckpoint) -> Result<(), WorldError> {
        let Some(image) = lent.get::<Image>() else {
            return Err(self.error("a checkpoint lent by another kind of store cannot be restored"));
        };
        let restored = match &mut self.pages {
            Some(pages) => pages.restore(&self.conn, (&self.path, self.busy_timeout), image),
            None => Pages::start(
                &self.conn,
                &self.path,
                self.busy_timeout,
                self.follows_rows(),
            )
            .and_then(|pages| {
                let pages = self.pages.insert(pages);
                pages.restore(&self.conn, (&self.path, self.busy_timeout), image)
            }),
        };
        restored.map_err(|e| self.error(format_args!("restoring a lent checkpoint failed: {e}")))
    }
}

impl Observer for SqliteSnapshots {
    /// Observes the tables and queries. A table with rowids costs the rows the changes since
    /// the last observation touched, once checkpoints follow the database's pages (a change
    /// the pages cannot name, and every observation before the first checkpoint, reads it
    /// whole).
    fn observe(&mut self) -> Result<Observation, WorldError> {
        // Changes are followed only for the tables observed through their sums.
        let follows = self.follows_rows();
        let touched = match self.pages.as_mut().filter(|_| follows) {
            Some(pages) => Some(
                pages
                    .changes(&self.conn)
                    .map_err(|e| self.error(format_args!("cannot follow changes: {e}")))?,
            ),
            None => None,
        };
        let mut observation = Observation::new();
        for index in 0..self.tables.len() {
            let value = self.observe_table(index, touched.as_ref()).map_err(|e| {
                let name = &self.tables[index].name;
                self.caused(format_args!("cannot observe table {name:?}"), e)
            })?;
            observation.insert(format!("table:{}", self.tables[index].name), value);
        }
        for (name, sql) in &self.queries {
            let rows = query_rows(&self.conn, sql)
                .map_err(|e| self.caused(format_args!("observation query `{name}`"), e))?;
            let rows = rows.into_iter().map(|row| json!(row)).collect();
            observation.insert(format!("query:{name}"), serde_json::Value::Array(rows));
        }
        Ok(observation)
    }

    fn save_to(&mut self, dir: &Path) -> Result<Vec<PathBuf>, WorldError> {
        Ok(vec![self.save_copy(dir)?])
    }
}

impl SqliteSnapshots {
    /// Whether the pages are to say which rows they hold: when a table observed has rowids.
    fn follows_rows(&self) -> bool {
        self.tables.iter().any(|t| t.by_rowid)
    }

    /// Observes table `index`: through its sums, brought up to date with `touched` (`None`:
    /// changes are not followed yet), or read whole.
    fn observe_table(
        &mut self,
        index: usize,
        touched: Option<&Touched>,
    ) -> rusqlite::Result<serde_json::Value> {
        let table = &mut self.tables[index];
        if !table.by_rowid {
            let (rows, hash) = hash_table(&self.conn, table)?;
            return Ok(json!({ "rows": rows, "hash": format!("{hash:016x}") }));
        }
        match (touched, table.sums.as_mut()) {
            (Some(touched), Some(sums)) if !touched.unknown => {
                sums.update(&self.conn, &table.name, &touched.buckets)?;
            }
            _ => table.sums = Some(TableSums::read(&self.conn, &table.name)?),
        }
        Ok(table
            .sums
            .as_ref()
            .map(TableSums::value)
            .unwrap_or_default())
    }
}

impl SqliteSnapshots {
    /// A consistent copy of the database (SQLite's online backup), as `dir/FILE` where FILE is
    /// the database's file name.
    fn save_copy(&self, dir: &Path) -> Result<PathBuf, WorldError> {
        let name = self
            .path
            .file_name()
            .unwrap_or(std::ffi::OsStr::new("database.db"));
        let target = dir.join(name);
        let mut copy = Connection::open(&target)
            .map_err(|e| self.caused(format_args!("cannot create {}", target.display()), e))?;
        copy_database(&self.conn, &mut copy, self.busy_timeout)
            .map_err(|e| self.caused(format_args!("cannot copy it to {}", target.display()), e))?;
        Ok(target)
    }
}

impl SqlQuery for SqliteSnapshots {
    /// Runs `sql` on venom's own connection to the file; integers and reals are written in
    /// decimal, blobs as `x'…'` hex, NULL as `None` (a boolean expression answers `1` or `0`).
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        query_rows(&self.conn, sql)
            .map_err(|e| self.caused(format_args!("query `{sql}` failed"), e))
    }
}

/// The rows `sql` returns on `conn`, each value in text.
fn query_rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Option<String>>>> {
    let mut stmt = conn.prepare(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|i| row.get_ref(i).map(value_text))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(values);
    }
    Ok(out)
}

/// A SQLite value in text, `None` for NULL.
fn value_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Some(format!(
            "x'{}'",
            b.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        )),
    }
}

/// Copies the SQLite database `from` into a new file `to`, consistently (SQLite's online backup,
/// also while another connection uses `from`), e.g. to give a parallel worker's API a database
/// of its own. Fails naming the file that could not be read or written.
pub fn copy_sqlite_file(from: &Path, to: &Path) -> Result<(), WorldError> {
    let source = open_file(from)?;
    let mut copy = Connection::open(to)
        .map_err(|e| WorldError::new(format!("cannot create {}: {e}", to.display())))?;
    copy_database(&source, &mut copy, BUSY_TIMEOUT).map_err(|why| {
        WorldError::new(format!(
            "cannot copy sqlite database {} to {}: {why}",
            from.display(),
            to.display()
        ))
    })
}

// ---------------------------------------------------------------------------------------------
// Opening

/// Opens `path` read-write without creating it, and checks that it is a SQLite database.
fn open_file(path: &Path) -> Result<Connection, WorldError> {
    if !path.is_file() {
        return Err(WorldError::new(format!(
            "sqlite database {} does not exist (or is not a file)",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        WorldError::new(format!(
            "cannot open sqlite database {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| WorldError::new(format!("cannot configure {}: {e}", path.display())))?;
    // Reading the schema is what fails on a file that is not a database.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .map_err(|e| {
            WorldError::new(format!(
                "{} is not a usable sqlite database: {e}",
                path.display()
            ))
        })?;
    Ok(conn)
}

/// From this size on, a database with a rollback journal gets the advice to use WAL.
const LARGE_DATABASE: u64 = 16 << 20;

/// The advice to use WAL mode, for a database of at least [`LARGE_DATABASE`] bytes with a
/// rollback journal: such a database records nowhere which pages a commit wrote, so venom
/// reads the whole file after every step that wrote to it.
fn journal_advice(conn: &Connection, path: &Path) -> Option<String> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .ok()?;
    let size: u64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |row| row.get(0),
        )
        .ok()?;
    (!mode.eq_ignore_ascii_case("wal") && size >= LARGE_DATABASE).then(|| {
        format!(
            "sqlite database {} ({} MiB) has a rollback journal (journal_mode={mode}), which \
             records nowhere which pages a commit wrote: venom read the whole file after every \
             step that wrote to it; in WAL mode (PRAGMA journal_mode=WAL) it reads only what the \
             step changed",
            path.display(),
            size >> 20
        )
    })
}

/// Looks up the ordinary table `name` in the main schema.
fn find_table(conn: &Connection, path: &Path, name: &str) -> Result<ObservedTable, WorldError> {
    let without_rowid: Option<bool> = conn
        .query_row(
            "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| {
            WorldError::new(format!(
                "cannot look up table {name:?} in {}: {e}",
                path.display()
            ))
        })?;
    let Some(without_rowid) = without_rowid else {
        return Err(WorldError::new(format!(
            "table {name:?} to observe does not exist in sqlite database {}",
            path.display()
        )));
    };
    let unreadable = |e: rusqlite::Error| {
        WorldError::new(format!(
            "cannot read table {name:?} in {}: {e}",
            path.display()
        ))
    };
    let select_sql = select_all_sql(conn, name, without_rowid).map_err(unreadable)?;
    let shadowed = conn
        .prepare(&format!("SELECT * FROM {} LIMIT 0", quote_identifier(name)))
        .map_err(unreadable)?
        .column_names()
        .iter()
        .any(|column| column.eq_ignore_ascii_case("_rowid_"));
    Ok(ObservedTable {
        name: name.to_string(),
        select_sql,
        by_rowid: !without_rowid && !shadowed,
        sums: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Backup

/// Copies the whole main database of `from` over the main database of `to`, in one step (one
/// read transaction on `from`, one write transaction on `to`), retrying a bounded number of times
/// while another connection keeps the database locked.
fn copy_database(
    from: &Connection,
    to: &mut Connection,
    busy_timeout: Duration,
) -> Result<(), String> {
    let backup = Backup::new(from, to).map_err(|e| format!("cannot start the backup: {e}"))?;
    let mut attempts = 0;
    while attempts < MAX_ATTEMPTS {
        match backup.step(ALL_PAGES).map_err(|e| e.to_string())? {
            StepResult::Done => return Ok(()),
            // Busy/Locked: another connection held the lock through the busy timeout. `More` is not
            // expected after a step over all pages; it counts as an attempt to keep the loop bounded.
            _ => {
                attempts += 1;
                thread::sleep(RETRY_PAUSE);
            }
        }
    }
    Err(format!(
        "the database stayed locked by another connection (SQLITE_BUSY) through {MAX_ATTEMPTS} \
         attempts of up to {} ms each",
        busy_timeout.as_millis()
    ))
}

// ---------------------------------------------------------------------------------------------
// Observation

/// `name` as a SQL identifier: double-quoted, inner double quotes doubled.
pub(super) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The row count and the xxh3-64 hash of every value of `table`, in a stable row order.
fn hash_table(conn: &Connection, table: &ObservedTable) -> rusqlite::Result<(u64, u64)> {
    let mut stmt = conn.prepare_cached(&table.select_sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut hasher = Xxh3::new();
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        for i in 0..columns {
            hash_value(&mut hasher, row.get_ref(i)?);
        }
        count += 1;
    }
    Ok((count, hasher.digest()))
}

/// `SELECT *` over `table`, ordered by rowid, or by every column for a `WITHOUT ROWID` table
/// (whose primary key makes that order total).
fn select_all_sql(conn: &Connection, name: &str, without_rowid: bool) -> rusqlite::Result<String> {
    let quoted = quote_identifier(name);
    if !without_rowid {
        return Ok(format!("SELECT * FROM {quoted} ORDER BY rowid"));
    }
    let columns = conn
        .prepare(&format!("SELECT * FROM {quoted}"))?
        .column_count();
    let order = (1..=columns.max(1))
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!("SELECT * FROM {quoted} ORDER BY {order}"))
}

/// Feeds one value to `hasher`: its type tag, then its bytes (length-prefixed when variable).
pub(super) fn hash_value(hasher: &mut Xxh3, value: ValueRef<'_>) {
    match value {
        ValueRef::Null => hasher.update(&[TAG_NULL]),
        ValueRef::Integer(i) => {
            hasher.update(&[TAG_INTEGER]);
            hasher.update(&i.to_le_bytes());
        }
        ValueRef::Real(r) => {
            hasher.update(&[TAG_REAL]);
            hasher.update(&r.to_bits().to_le_bytes());
        }
        ValueRef::Text(bytes) => hash_bytes(hasher, TAG_TEXT, bytes),
        ValueRef::Blob(bytes) => hash_bytes(hasher, TAG_BLOB, bytes),
    }
}

fn hash_bytes(hasher: &mut Xxh3, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_identifier("orders"), "\"orders\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    }
}
