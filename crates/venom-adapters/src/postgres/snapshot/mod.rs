//! Checkpoints of a PostgreSQL database taken as copies of its tables inside the database itself,
//! and restored in place while the API keeps its own connections open.
//!
//! `CREATE DATABASE … TEMPLATE` cannot copy a database that has other sessions (the API's), so a
//! checkpoint copies the rows of the tables of the configured schemas into unlogged tables of a
//! schema of venom's own, `venom_snap_<session>`, in one repeatable-read transaction, and records
//! the sequences' positions. A rollback restores them in one transaction: with triggers and
//! foreign-key checks switched off (`session_replication_role = replica`), it empties the
//! tables, copies the saved rows back (identity values included) and sets the sequences back.
//!
//! Only what changed is copied or restored. venom remembers, for each table, which copy its rows
//! last equalled and in which transaction ([`sql::Since`]); a checkpoint or rollback first probes
//! every table (its row count, and whether any visible row was written by a later transaction)
//! and leaves the tables that still hold those rows alone: a checkpoint shares their copy with
//! the earlier checkpoints, a rollback to a checkpoint holding that same copy skips them. A copy
//! is dropped once no checkpoint holds it and no table equals it any more.
//!
//! Probing reads the table, so it is skipped for the tables the API provably did not write:
//! those that carry venom's marking trigger and were not marked since (see [`tracking`]).
//!
//! Tables with a primary key are not copied at all: their changes are logged row by row
//! ([`rowlog`]), a checkpoint is a position in that log ([`history`]), and a rollback rewrites
//! only the rows changed between the current state and its target.

mod catalog;
mod history;
mod rowlog;
mod sql;
mod tracking;

use super::conn::{self, describe_on, query_text};
use super::observe::{quote_qualified, TableSums};
use super::sequence::Position;
use super::{observe_postgres, PgObserveSpec};
use crate::SqlQuery;
use crate::{redact_url, Observer, StateAdapter};
use catalog::{Reference, Sequence, Table};
use history::{Dropped, History, Range};
use postgres::Client;
use sql::{Probed, Since};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use venom_engine::{CheckpointId, CheckpointMode, Mechanism, Observation, WorldError};

/// The name of every snapshot schema starts with this prefix, then the backend pid of the
/// session that made it.
const SNAPSHOT_SCHEMA_PREFIX: &str = "venom_snap_";

/// Checkpoints of the tables and sequences of some schemas of a PostgreSQL database, kept in the
/// database — as positions in a log of the rows the API wrote (tables with a primary key) or as
/// copies (the others) — and restored in place, while the API keeps its connections open.
///
/// Checkpoints can be restored in any order ([`CheckpointMode::RandomAccess`]). The connecting
/// user must be allowed to set `session_replication_role` (a superuser, or, from PostgreSQL 15
/// on, `GRANT SET ON PARAMETER session_replication_role`). Schema changes (DDL) made after a
/// checkpoint are not undone by its rollback, and rows loaded with `COPY … FREEZE` (which carry
/// no transaction id) into a table emptied in the same transaction are not seen as a change
/// when the row count stays the same.
pub struct PgSnapshots {
    /// The URL, password hidden, for messages.
    url: String,
    client: Client,
    schemas: Vec<String>,
    observe: PgObserveSpec,
    /// The schema of our copies, named after our session's backend pid.
    schema: String,
    snapshots: HashMap<CheckpointId, Snapshot>,
    next_id: u64,
    copies: HashMap<u64, TableCopy>,
    next_copy: u64,
    /// For each table: the copy its rows equalled when last seen, and since when.
    live: HashMap<Table, (u64, Since)>,
    /// The tables (schema, name) that carry the marking trigger.
    tracked: HashSet<(String, String)>,
    /// The tracked tables whose copy is deferred (see [`tracking`]) and not yet taken by a
    /// checkpoint, with its copy number.
    deferred: HashMap<(String, String), u64>,
    /// The tables whose rows are logged (see [`rowlog`]), with their log's name.
    logged: Vec<(Table, String)>,
    /// Each logged table's index in `logged`, by (schema, name).
    logged_index: HashMap<(String, String), usize>,
    /// The checkpoints' places in the row log (`None` when no table is logged).
    history: Option<History>,
    /// For each table of `observe.tables`, the logged table it is (its index in `logged`).
    observed_logged: Vec<Option<usize>>,
    /// The observed logged tables' sums as last known, with the log position they include:
    /// observing them again reads only the log entries after it.
    known: HashMap<usize, (i64, TableSums)>,
    /// The sums of the observed logged tables at each checkpoint.
    known_at: HashMap<CheckpointId, Vec<(usize, TableSums)>>,
}

/// One checkpoint: the copy of each of its tables, its sequences' positions, and the foreign
/// keys to its tables (which decide how a rollback may empty them).
#[derive(Clone)]
struct Snapshot {
    tables: Vec<(Table, u64)>,
    sequences: Vec<(Sequence, Position)>,
    references: Vec<Reference>,
}

/// What a checkpoint's or rollback's transaction found when it began: its point in time, each
/// table as probed (or known unchanged), and the tables the API marked since the last one.
struct Probe {
    since: Since,
    tables: Vec<Seen>,
    marked: HashSet<(String, String)>,
    /// The row log's position (when tables are logged).
    position: Option<i64>,
}

/// What a checkpoint or rollback knows of a table when its transaction begins.
#[derive(Clone, Copy)]
enum Seen {
    /// Tracked, and the API did not write it since venom last looked (it was not read).
    Unwritten,
    /// Read: its row count, and whether a row is newer than the last look.
    Probed(Probed),
}

impl Seen {
    /// The row count the probe found (`None` when the table was not read).
    fn rows(self) -> Option<i64> {
        match self {
            Seen::Unwritten => None,
            Seen::Probed(probed) => Some(probed.rows),
        }
    }
}

/// A copy of a table's rows, shared by every checkpoint at which the table held them.
struct TableCopy {
    /// Its row count (`None` for a deferred copy, taken before anyone counted).
    rows: Option<i64>,
    /// The checkpoints holding it, plus one while its table is known to hold these rows.
    holders: usize,
}

impl fmt::Debug for PgSnapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSnapshots")
            .field("url", &self.url)
            .field("schemas", &self.schemas)
            .field("observe", &self.observe)
            .field("snapshots", &self.snapshots.len())
            .finish()
    }
}

impl PgSnapshots {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` string; no TLS),
    /// checks that `schemas` (`["public"]` when empty) exist and that rollbacks will be allowed,
    /// drops the snapshot schemas of earlier venom sessions that are gone, and observes `observe`
    /// once so that a missing table or a broken query is reported now.
    pub fn open(
        url: &str,
        schemas: Vec<String>,
        observe: PgObserveSpec,
    ) -> Result<PgSnapshots, WorldError> {
        let client = conn::connect(url)?;
        let schemas = if schemas.is_empty() {
            vec!["public".to_string()]
        } else {
            schemas
        };
        let mut snapshots = PgSnapshots {
            url: redact_url(url),
            client,
            schemas,
            observe,
            schema: String::new(),
            snapshots: HashMap::new(),
            next_id: 1,
            copies: HashMap::new(),
            next_copy: 1,
            live: HashMap::new(),
            tracked: HashSet::new(),
            deferred: HashMap::new(),
            logged: Vec::new(),
            logged_index: HashMap::new(),
            history: None,
            observed_logged: Vec::new(),
            known: HashMap::new(),
            known_at: HashMap::new(),
        };
        snapshots.check_schemas()?;
        snapshots.check_replication_role()?;
        let session = snapshots
            .query_one("SELECT pg_backend_pid()")
            .map_err(|e| snapshots.error(format_args!("cannot identify the session: {e}")))?;
        snapshots.schema = format!("{SNAPSHOT_SCHEMA_PREFIX}{session}");
        snapshots.drop_stale_snapshots()?;
        snapshots.track_writes()?;
        snapshots.find_observed_logged()?;
        snapshots.observe()?;
        Ok(snapshots)
    }

    /// The schemas whose tables and sequences are saved and restored.
    pub fn schemas(&self) -> &[String] {
        &self.schemas
    }

    /// How many checkpoints are currently held (taken and not released).
    pub fn checkpoint_count(&self) -> usize {
        self.snapshots.len()
    }

    fn check_schemas(&mut self) -> Result<(), WorldError> {
        if let Some(own) = self
            .schemas
            .iter()
            .find(|s| s.starts_with(SNAPSHOT_SCHEMA_PREFIX))
        {
            return Err(self.error(format_args!(
                "schema {own:?} holds venom's own snapshots and cannot be saved"
            )));
        }
        let missing = catalog::missing_schemas(&mut self.client, &self.schemas)
            .map_err(|e| self.failure("cannot read the schemas", &e))?;
        if !missing.is_empty() {
            return Err(self.error(format_args!(
                "schema(s) {} to save do not exist",
                missing.join(", ")
            )));
        }
        Ok(())
    }

    fn check_replication_role(&mut self) -> Result<(), WorldError> {
        let probe = "BEGIN; SET LOCAL session_replication_role = replica; ROLLBACK;";
        query_text(&mut self.client, probe).map_err(|e| {
            self.error(format_args!(
                "rollbacks need to set session_replication_role (to skip triggers and foreign-key \
                 checks while restoring rows), which this user may not: {}; connect as a \
                 superuser, or on PostgreSQL 15+ run `GRANT SET ON PARAMETER \
                 session_replication_role TO <user>`",
                describe_on(&self.client, &e)
            ))
        })?;
        Ok(())
    }

    fn drop_stale_snapshots(&mut self) -> Result<(), WorldError> {
        let stale = catalog::stale_snapshot_schemas(&mut self.client)
            .map_err(|e| self.failure("cannot list old snapshots", &e))?;
        for schema in stale {
            self.client
                .batch_execute(&sql::drop_schema(&schema))
                .map_err(|e| self.failure(&format!("cannot drop old snapshot {schema}"), &e))?;
        }
        Ok(())
    }

    /// The single value of a one-row, one-column query.
    fn query_one(&mut self, query: &str) -> Result<String, String> {
        let rows =
            query_text(&mut self.client, query).map_err(|e| describe_on(&self.client, &e))?;
        match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(Some(value)) => Ok(value),
            _ => Err(format!("`{query}` returned no value")),
        }
    }

    /// Installs the marking triggers (see [`tracking`]); where that is refused, every table
    /// is probed, as without them. Then logs the rows of the tracked tables that can be (see
    /// [`rowlog`]) and defers the copies of the others.
    fn track_writes(&mut self) -> Result<(), WorldError> {
        let install = tracking::install(&self.schema, &self.schemas);
        self.tracked = match query_text(&mut self.client, &install) {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|row| match row.as_slice() {
                    [Some(schema), Some(name)] => Some((schema.clone(), name.clone())),
                    _ => None,
                })
                .collect(),
            Err(_) => HashSet::new(),
        };
        if self.tracked.is_empty() {
            return Ok(());
        }
        self.log_rows()?;
        let mut tables: Vec<&(String, String)> = self
            .tracked
            .iter()
            .filter(|key| !self.logged_index.contains_key(*key))
            .collect();
        tables.sort();
        let numbered: Vec<((String, String), u64)> = tables
            .into_iter()
            .enumerate()
            .map(|(i, key)| (key.clone(), self.next_copy + i as u64))
            .collect();
        let values: Vec<(String, u64)> = numbered
            .iter()
            .map(|((schema, name), copy)| (sql::qualified(schema, name), *copy))
            .collect();
        if query_text(
            &mut self.client,
            &tracking::defer_copies(&self.schema, &values),
        )
        .is_ok()
        {
            self.next_copy += numbered.len() as u64;
            self.deferred = numbered.into_iter().collect();
        }
        Ok(())
    }

    /// Installs the row log on the tracked tables with a primary key. Where PostgreSQL refuses
    /// it as a whole, every table keeps being copied.
    fn log_rows(&mut self) -> Result<(), WorldError> {
        let install = rowlog::install(&self.schema, &tracking::trigger_name(&self.schema));
        let Ok(rows) = query_text(&mut self.client, &install) else {
            return Ok(());
        };
        let mut start = None;
        let mut oids: HashMap<(String, String), u32> = HashMap::new();
        for row in rows {
            if let Some(position) = rowlog::read_position(&row) {
                start = Some(position);
            } else if let [Some(oid), Some(schema), Some(name)] = row.as_slice() {
                if let Ok(oid) = oid.parse() {
                    oids.insert((schema.clone(), name.clone()), oid);
                }
            }
        }
        let Some(start) = start else {
            return Ok(());
        };
        let catalog = catalog::discover(&mut self.client, &self.schemas)
            .map_err(|e| self.failure("cannot read the logged tables", &e))?;
        for table in catalog.tables {
            let key = (table.schema.clone(), table.name.clone());
            if let Some(&oid) = oids.get(&key) {
                self.logged_index.insert(key, self.logged.len());
                self.logged
                    .push((table, rowlog::log_name(&self.schema, oid)));
            }
        }
        self.history = Some(History::new(start));
        Ok(())
    }

    /// Finds which observed tables are logged (a missing one is reported by the first
    /// observation).
    fn find_observed_logged(&mut self) -> Result<(), WorldError> {
        let mut found = Vec::with_capacity(self.observe.tables.len());
        for name in self.observe.tables.clone() {
            let rows = query_text(
                &mut self.client,
                &format!(
                    "SELECT n.nspname, c.relname FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE c.oid = to_regclass({})",
                    catalog::literal(&quote_qualified(&name))
                ),
            )
            .map_err(|e| self.failure(&format!("cannot find table {name}"), &e))?;
            found.push(match rows.first().map(Vec::as_slice) {
                Some([Some(schema), Some(table)]) => self
                    .logged_index
                    .get(&(schema.clone(), table.clone()))
                    .copied(),
                _ => None,
            });
        }
        self.observed_logged = found;
        Ok(())
    }

    /// The sums of logged table `index` now: its log entries since they were last known, or a
    /// scan the first time.
    fn sums_of(&mut self, index: usize) -> Result<TableSums, String> {
        let (table, log) = &self.logged[index];
        let (sql, before) = match self.known.get(&index) {
            Some(&(position, sums)) => (
                rowlog::changes(&self.schema, log, position, None),
                Some(sums),
            ),
            None => (
                rowlog::scan(&self.schema, &sql::qualified(&table.schema, &table.name)),
                None,
            ),
        };
        let (position, found) = self.read_sums(&sql)?;
        let sums = before.map_or(found, |sums| sums.plus(found));
        self.known.insert(index, (position, sums));
        Ok(sums)
    }

    /// Runs `sql` (a [`rowlog::changes`] or [`rowlog::scan`]): the position and the sums.
    fn read_sums(&mut self, sql: &str) -> Result<(i64, TableSums), String> {
        let rows = self.run(sql)?;
        rows.first()
            .and_then(|row| {
                let position = row.first()?.as_deref()?.parse().ok()?;
                Some((position, TableSums::parse(&row[1..])?))
            })
            .ok_or_else(|| format!("unexpected answer to `{sql}`: {rows:?}"))
    }

    /// Keeps the observed logged tables' sums at checkpoint `id`, first brought up to its log
    /// position (a table whose sums cannot be read is scanned again next time).
    fn keep_sums(&mut self, id: CheckpointId) {
        let Some(position) = self.history.as_ref().map(History::tail_from) else {
            return;
        };
        let mut kept = Vec::new();
        for (index, (since, sums)) in self.known.clone() {
            let sums = if since < position {
                let sql =
                    rowlog::changes(&self.schema, &self.logged[index].1, since, Some(position));
                match self.read_sums(&sql) {
                    Ok((_, change)) => sums.plus(change),
                    Err(_) => {
                        self.known.remove(&index);
                        continue;
                    }
                }
            } else {
                sums
            };
            self.known.insert(index, (position, sums));
            kept.push((index, sums));
        }
        self.known_at.insert(id, kept);
    }

    /// The indices of the logged tables among `marked`.
    fn logged_among(&self, marked: &HashSet<(String, String)>) -> BTreeSet<usize> {
        marked
            .iter()
            .filter_map(|key| self.logged_index.get(key).copied())
            .collect()
    }

    /// Deletes the log entries of segments no checkpoint needs any more. Entries that cannot
    /// be deleted now (connection lost) go with the schema.
    fn forget(&mut self, dropped: Vec<Dropped>) {
        let mut batch = String::new();
        for segment in dropped {
            for index in segment.tables {
                batch.push_str(&rowlog::forget(&self.logged[index].1, segment.range));
            }
        }
        if !batch.is_empty() {
            let _ = self.client.batch_execute(&batch);
        }
    }

    /// Opens the checkpoint's or rollback's transaction and probes those of `tables` that may
    /// have changed: what each holds, and whether it still holds the rows of the copy it was
    /// last seen to equal. A tracked table the API did not mark is known to hold them still.
    fn begin_and_probe(&mut self, tables: &[&Table], restoring: bool) -> Result<Probe, String> {
        let mut begin = sql::begin(restoring);
        if !self.tracked.is_empty() {
            begin.push_str(&tracking::take_marked(&self.schema));
        }
        if self.history.is_some() {
            begin.push_str(&rowlog::position(&self.schema));
        }
        let mut marked = HashSet::new();
        let mut position = None;
        for row in self.run_or_rollback(&begin)? {
            match row.as_slice() {
                [Some(schema), Some(name)] => {
                    marked.insert((schema.clone(), name.clone()));
                }
                _ => position = position.or(rowlog::read_position(&row)),
            }
        }
        let mut unwritten = vec![false; tables.len()];
        let mut to_probe = Vec::new();
        for (index, &table) in tables.iter().enumerate() {
            let key = (table.schema.clone(), table.name.clone());
            let known = self.live.contains_key(table) || self.deferred.contains_key(&key);
            if self.tracked.contains(&key) && !marked.contains(&key) && known {
                unwritten[index] = true;
            } else {
                to_probe.push((index, table, self.live.get(table).map(|&(_, s)| s)));
            }
        }
        let rows = self.run_or_rollback(&sql::probe(&to_probe))?;
        let found = sql::probed(&rows, tables.len()).and_then(|(since, found)| {
            let seen: Option<Vec<Seen>> = found
                .into_iter()
                .zip(unwritten)
                .map(|(probed, unwritten)| match (probed, unwritten) {
                    (_, true) => Some(Seen::Unwritten),
                    (Some(probed), false) => Some(Seen::Probed(probed)),
                    (None, false) => None,
                })
                .collect();
            Some(Probe {
                since,
                tables: seen?,
                marked,
                position,
            })
        });
        found.ok_or_else(|| {
            let _ = self.client.batch_execute("ROLLBACK");
            format!("unexpected answer to the table probe: {rows:?}")
        })
    }

    /// [`Self::run`], ending the transaction `batch` is part of when it fails.
    fn run_or_rollback(&mut self, batch: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        self.run(batch).inspect_err(|_| {
            let _ = self.client.batch_execute("ROLLBACK");
        })
    }

    /// Runs `batch`, rolling back the transaction it is part of when it fails.
    fn run(&mut self, batch: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        query_text(&mut self.client, batch).map_err(|e| describe_on(&self.client, &e))
    }

    /// The copy `table`, as `seen`, still holds the rows of: the one it was last seen to equal,
    /// when the API did not write it since or the probe found the same rows.
    fn unchanged(&self, table: &Table, seen: Seen) -> Option<u64> {
        let &(copy, _) = self.live.get(table)?;
        match seen {
            Seen::Unwritten => Some(copy),
            Seen::Probed(probed) => {
                let rows = self.copies.get(&copy)?.rows?;
                (probed.written == Some(false) && probed.rows == rows).then_some(copy)
            }
        }
    }

    /// Records that `table` holds the rows of `copy` as of `since`.
    fn set_live(&mut self, table: &Table, copy: u64, since: Since) {
        self.hold(copy);
        if let Some((before, _)) = self.live.insert(table.clone(), (copy, since)) {
            self.let_go(before);
        }
    }

    fn hold(&mut self, copy: u64) {
        if let Some(c) = self.copies.get_mut(&copy) {
            c.holders += 1;
        }
    }

    /// Drops a holder of `copy`, and the copy with its last holder. A copy that cannot be dropped
    /// now (connection lost) goes with the schema, which the next session that opens the
    /// database drops.
    fn let_go(&mut self, copy: u64) {
        let Some(c) = self.copies.get_mut(&copy) else {
            return;
        };
        c.holders -= 1;
        if c.holders == 0 {
            self.copies.remove(&copy);
            let mut drop = sql::drop_copy(&self.schema, copy);
            if !self.tracked.is_empty() {
                // A deferred copy nobody needs any more is not to be made either.
                drop = format!("{}{drop}", tracking::cancel_deferred(&self.schema, copy));
            }
            let _ = self.client.batch_execute(&drop);
        }
    }

    /// Takes checkpoint `id`: copies the tables that are not logged and changed, and records
    /// the row log's position.
    fn take_snapshot(&mut self, id: CheckpointId) -> Result<Snapshot, String> {
        let catalog = catalog::discover(&mut self.client, &self.schemas)
            .map_err(|e| describe_on(&self.client, &e))?;
        let (mut tables, sequences) = (catalog.tables, catalog.sequences);
        tables.retain(|t| {
            !self
                .logged_index
                .contains_key(&(t.schema.clone(), t.name.clone()))
        });
        let Probe {
            since,
            tables: probed,
            marked,
            position,
        } = self.begin_and_probe(&tables.iter().collect::<Vec<_>>(), false)?;
        let mut copies = Vec::new();
        let mut kept = Vec::new();
        let mut cancelled = String::new();
        let mut saved = Vec::with_capacity(tables.len());
        for (table, probed) in tables.iter().zip(&probed) {
            if let Some(copy) = self.unchanged(table, *probed) {
                saved.push(copy);
                continue;
            }
            let key = (table.schema.clone(), table.name.clone());
            match self.deferred.remove(&key) {
                // Not written since the trigger went in: the trigger copies it before its
                // first write, as it is now.
                Some(copy) if !marked.contains(&key) => {
                    kept.push((copy, probed.rows()));
                    saved.push(copy);
                    continue;
                }
                // Written already: the trigger's copy is of an older state.
                Some(copy) => {
                    cancelled.push_str(&tracking::cancel_deferred(&self.schema, copy));
                    cancelled.push_str(&sql::drop_copy(&self.schema, copy));
                    cancelled.push_str(";\n");
                }
                None => {}
            }
            let copy = self.next_copy;
            self.next_copy += 1;
            copies.push((copy, table, probed.rows()));
            saved.push(copy);
        }
        let to_copy: Vec<(u64, &Table)> = copies.iter().map(|&(c, t, _)| (c, t)).collect();
        let batch = cancelled + &sql::copy_and_commit(&self.schema, &to_copy, &sequences);
        let rows = self.run(&batch)?;
        let written = self.logged_among(&marked);
        if let (Some(history), Some(position)) = (self.history.as_mut(), position) {
            let dropped = history.checkpoint(id.0, position, written);
            self.forget(dropped);
        }
        for (copy, rows) in copies.iter().map(|&(c, _, r)| (c, r)).chain(kept) {
            self.copies.insert(copy, TableCopy { rows, holders: 0 });
        }
        for (table, &copy) in tables.iter().zip(&saved) {
            self.hold(copy);
            self.set_live(table, copy, since);
        }
        let mut positions: Vec<Option<Position>> = vec![None; sequences.len()];
        for row in rows {
            if let [Some(index), Some(value), Some(called)] = row.as_slice() {
                if let (Ok(index), Ok(value)) = (index.parse::<usize>(), value.parse::<i64>()) {
                    if let Some(slot) = positions.get_mut(index) {
                        *slot = Some(Position {
                            value,
                            is_called: called == "t",
                        });
                    }
                }
            }
        }
        let sequences = sequences
            .into_iter()
            .zip(positions)
            .filter_map(|(sequence, position)| Some((sequence, position?)))
            .collect();
        Ok(Snapshot {
            tables: tables.into_iter().zip(saved).collect(),
            sequences,
            references: catalog.references,
        })
    }

    /// Restores checkpoint `id`: the tables of `snapshot` that no longer hold their copy's
    /// rows, the rows of the logged tables changed since, and its sequences.
    fn restore(&mut self, id: CheckpointId, snapshot: &Snapshot) -> Result<(), String> {
        let tables = &snapshot.tables;
        let Probe {
            since,
            tables: probed,
            marked,
            ..
        } = self.begin_and_probe(&tables.iter().map(|(t, _)| t).collect::<Vec<_>>(), true)?;
        let rows = match &self.history {
            Some(history) => {
                let Some(plan) = history.plan(id.0, self.logged_among(&marked)) else {
                    let _ = self.client.batch_execute("ROLLBACK");
                    return Err("the row log does not hold this checkpoint".to_string());
                };
                self.rows_restored(&plan)
            }
            None => String::new(),
        };
        let restores: Vec<(u64, &Table)> = tables
            .iter()
            .zip(&probed)
            .filter(|((table, copy), probed)| self.unchanged(table, **probed) != Some(*copy))
            .map(|((table, copy), _)| (*copy, table))
            .collect();
        let restored: Vec<&Table> = restores.iter().map(|&(_, t)| t).collect();
        let truncate = catalog::truncatable(&restored, &snapshot.references);
        self.run(&sql::restore_and_commit(
            &self.schema,
            &restores,
            &truncate,
            &rows,
            &snapshot.sequences,
        ))?;
        if let Some(history) = self.history.as_mut() {
            let dropped = history.rolled_back(id.0);
            self.forget(dropped);
        }
        for (table, copy) in tables {
            self.set_live(table, *copy, since);
        }
        Ok(())
    }

    /// The SQL that carries out `plan` on the logged tables and drops its tail's entries.
    fn rows_restored(&self, plan: &history::Plan) -> String {
        let mut sql = String::new();
        for &index in &plan.tables {
            let (table, log) = &self.logged[index];
            sql.push_str(&rowlog::restore(log, table, &plan.undo, &plan.redo));
        }
        if let Some((from, tables)) = &plan.tail {
            for &index in tables {
                let tail = Range {
                    from: *from,
                    to: None,
                };
                sql.push_str(&rowlog::forget(&self.logged[index].1, tail));
            }
        }
        sql
    }

    fn error(&self, what: impl fmt::Display) -> WorldError {
        WorldError::new(format!("postgres database {}: {what}", self.url))
    }

    fn failure(&self, what: &str, e: &postgres::Error) -> WorldError {
        self.error(format_args!("{what}: {}", describe_on(&self.client, e)))
    }
}

impl StateAdapter for PgSnapshots {
    fn mechanism(&self) -> String {
        Mechanism::PostgresSnapshots.name().to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        Mechanism::PostgresSnapshots.checkpoint_mode()
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let id = CheckpointId(self.next_id);
        let snapshot = self
            .take_snapshot(id)
            .map_err(|e| self.error(format_args!("checkpoint failed: {e}")))?;
        self.next_id += 1;
        self.snapshots.insert(id, snapshot);
        self.keep_sums(id);
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let Some(snapshot) = self.snapshots.get(&id) else {
            return Err(self.error(format_args!(
                "unknown checkpoint {} (never taken, or released)",
                id.0
            )));
        };
        let snapshot = snapshot.clone();
        self.restore(id, &snapshot).map_err(|e| {
            self.known.clear();
            self.error(format_args!("rollback to checkpoint {} failed: {e}", id.0))
        })?;
        // The tables are as at the checkpoint, and the tail starts again where it started.
        let tail_from = self.history.as_ref().map_or(0, History::tail_from);
        self.known = self
            .known_at
            .get(&id)
            .map(|kept| {
                kept.iter()
                    .map(|&(i, sums)| (i, (tail_from, sums)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        if let Some(snapshot) = self.snapshots.remove(&id) {
            for (_, copy) in snapshot.tables {
                self.let_go(copy);
            }
            if let Some(history) = self.history.as_mut() {
                let dropped = history.release(id.0);
                self.forget(dropped);
            }
            self.known_at.remove(&id);
        }
    }
}

impl Observer for PgSnapshots {
    /// Observes the configured tables and queries; a logged table costs the log entries written
    /// since it was last observed (its hash is a sum over its rows, updated from them).
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut spec = self.observe.clone();
        let logged: Vec<(String, usize)> = spec
            .tables
            .iter()
            .zip(&self.observed_logged)
            .filter_map(|(name, index)| Some((name.clone(), (*index)?)))
            .collect();
        spec.tables
            .retain(|name| logged.iter().all(|(l, _)| l != name));
        let mut observation = observe_postgres(self, &spec)
            .map_err(|e| WorldError::caused(format!("postgres database {}", self.url), e))?;
        for (name, index) in logged {
            let sums = self
                .sums_of(index)
                .map_err(|e| self.error(format_args!("observing table {name}: {e}")))?;
            observation.insert(format!("table:{name}"), sums.value());
        }
        Ok(observation)
    }
}

impl SqlQuery for PgSnapshots {
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        query_text(&mut self.client, sql)
            .map_err(|e| WorldError::new(describe_on(&self.client, &e)))
    }
}

impl Drop for PgSnapshots {
    fn drop(&mut self) {
        if self.client.is_closed() {
            return;
        }
        // A schema that cannot be dropped now (connection lost) is dropped by the next session
        // that opens the database.
        let _ = self.client.batch_execute(&sql::drop_schema(&self.schema));
    }
}
