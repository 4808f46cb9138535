//! Checkpoints of a PostgreSQL database taken as copies of its tables inside the database itself,
//! and restored in place while the API keeps its own connections open.
//!
//! `CREATE DATABASE … TEMPLATE` cannot copy a database that has other sessions (the API's), so a
//! checkpoint copies the rows of every table of the configured schemas into unlogged tables of a
//! schema of its own, `venom_snap_<session>_<n>`, in one repeatable-read transaction, and records
//! the sequences' positions. A rollback restores them in one transaction: with triggers and
//! foreign-key checks switched off (`session_replication_role = replica`), it truncates the
//! tables, copies the saved rows back (identity values included) and sets the sequences back.
//! Releasing a checkpoint drops its schema.

mod catalog;
mod sql;

use super::conn::{self, describe_on, query_text};
use super::sequence::Position;
use super::{observe_postgres, PgObserveSpec, SqlQuery};
use crate::{redact_url, Observer, StateAdapter};
use catalog::{Sequence, Table};
use postgres::Client;
use std::collections::HashMap;
use std::fmt;
use venom_engine::{CheckpointId, CheckpointMode, Observation, WorldError};

/// The name of every snapshot schema starts with this prefix, then the backend pid of the
/// session that made it and the checkpoint number.
const SNAPSHOT_SCHEMA_PREFIX: &str = "venom_snap_";

/// Checkpoints of the tables and sequences of some schemas of a PostgreSQL database, kept as
/// copies in the database and restored in place, while the API keeps its connections open.
///
/// Checkpoints can be restored in any order ([`CheckpointMode::RandomAccess`]). The connecting
/// user must be allowed to set `session_replication_role` (a superuser, or, from PostgreSQL 15
/// on, `GRANT SET ON PARAMETER session_replication_role`). Schema changes (DDL) made after a
/// checkpoint are not undone by its rollback.
pub struct PgSnapshots {
    /// The URL, password hidden, for messages.
    url: String,
    client: Client,
    schemas: Vec<String>,
    observe: PgObserveSpec,
    /// The backend pid of our session, which names our snapshot schemas.
    session: String,
    snapshots: HashMap<CheckpointId, Snapshot>,
    next_id: u64,
}

/// One checkpoint: where its rows are and what it holds.
struct Snapshot {
    schema: String,
    tables: Vec<Table>,
    sequences: Vec<(Sequence, Position)>,
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
            session: String::new(),
            snapshots: HashMap::new(),
            next_id: 1,
        };
        snapshots.check_schemas()?;
        snapshots.check_replication_role()?;
        snapshots.session = snapshots
            .query_one("SELECT pg_backend_pid()")
            .map_err(|e| snapshots.error(format_args!("cannot identify the session: {e}")))?;
        snapshots.drop_stale_snapshots()?;
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
                .batch_execute(&sql::release(&schema))
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

    fn take_snapshot(&mut self, schema: &str) -> Result<Snapshot, postgres::Error> {
        let (tables, sequences) = catalog::discover(&mut self.client, &self.schemas)?;
        let rows = query_text(
            &mut self.client,
            &sql::checkpoint(schema, &tables, &sequences),
        )?;
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
            schema: schema.to_string(),
            tables,
            sequences,
        })
    }

    fn error(&self, what: impl fmt::Display) -> WorldError {
        WorldError(format!("postgres database {}: {what}", self.url))
    }

    fn failure(&self, what: &str, e: &postgres::Error) -> WorldError {
        self.error(format_args!("{what}: {}", describe_on(&self.client, e)))
    }
}

impl StateAdapter for PgSnapshots {
    fn mechanism(&self) -> String {
        "postgres snapshots".to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        CheckpointMode::RandomAccess
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let id = CheckpointId(self.next_id);
        let schema = format!("{SNAPSHOT_SCHEMA_PREFIX}{}_{}", self.session, id.0);
        let snapshot = self
            .take_snapshot(&schema)
            .map_err(|e| self.failure("checkpoint failed", &e))?;
        self.next_id += 1;
        self.snapshots.insert(id, snapshot);
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let Some(snapshot) = self.snapshots.get(&id) else {
            return Err(self.error(format_args!(
                "unknown checkpoint {} (never taken, or released)",
                id.0
            )));
        };
        let batch = sql::rollback(&snapshot.schema, &snapshot.tables, &snapshot.sequences);
        query_text(&mut self.client, &batch)
            .map_err(|e| self.failure(&format!("rollback to checkpoint {} failed", id.0), &e))?;
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        if let Some(snapshot) = self.snapshots.remove(&id) {
            // A schema that cannot be dropped now (connection lost) is dropped by the next
            // session that opens the database.
            let _ = self.client.batch_execute(&sql::release(&snapshot.schema));
        }
    }
}

impl Observer for PgSnapshots {
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let spec = self.observe.clone();
        observe_postgres(self, &spec).map_err(|e| self.error(e))
    }
}

impl SqlQuery for PgSnapshots {
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        query_text(&mut self.client, sql).map_err(|e| WorldError(describe_on(&self.client, &e)))
    }
}

impl Drop for PgSnapshots {
    fn drop(&mut self) {
        if self.client.is_closed() {
            return;
        }
        let ids: Vec<CheckpointId> = self.snapshots.keys().copied().collect();
        for id in ids {
            self.release(id);
        }
    }
}
