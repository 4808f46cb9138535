//! Several stores behind one API (e.g. PostgreSQL and Redis) seen as one: checkpointed, restored
//! and observed together.

use crate::{Observer, SqlQuery, StateAdapter};
use std::collections::HashMap;
use venom_engine::{CheckpointId, CheckpointMode, LentCheckpoint, Observation, WorldError};

/// A [`StateAdapter`] that also answers SQL (a PostgreSQL store, through which SQL invariants
/// see the database as the API does).
pub trait SqlStateAdapter: StateAdapter + SqlQuery {
    /// This store as a plain state adapter.
    fn as_adapter(&mut self) -> &mut dyn StateAdapter;
}

impl<T: StateAdapter + SqlQuery> SqlStateAdapter for T {
    fn as_adapter(&mut self) -> &mut dyn StateAdapter {
        self
    }
}

/// One store of a [`CompositeAdapter`].
pub enum Store {
    /// Checkpointed, restored and observed.
    Restored(Box<dyn StateAdapter>),
    /// Checkpointed, restored and observed, and the session SQL invariants run in.
    Sql(Box<dyn SqlStateAdapter>),
    /// Observed only: never checkpointed nor restored.
    Observed(Box<dyn Observer>),
    /// Observed only, and the session SQL invariants run in (an SQLite file venom does not
    /// restore).
    ObservedSql(Box<dyn SqlObserver>),
}

/// An [`Observer`] that also answers SQL.
pub trait SqlObserver: Observer + SqlQuery {}

impl<T: Observer + SqlQuery> SqlObserver for T {}

/// Stores combined: a checkpoint is a checkpoint of every restored store, a rollback restores
/// every one of them, and the observation is the union of all their observations.
///
/// Its checkpoint mode is the weakest of its restored stores' (stack-only when any is), and its
/// mechanism names theirs joined with ` + `.
#[derive(Default)]
pub struct CompositeAdapter {
    stores: Vec<Store>,
    /// For every composite checkpoint, the checkpoint of each restored store, by store index.
    checkpoints: HashMap<CheckpointId, Vec<(usize, CheckpointId)>>,
    next_id: u64,
}

impl std::fmt::Debug for CompositeAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompositeAdapter")
            .field("mechanism", &self.mechanism())
            .field("stores", &self.stores.len())
            .field("checkpoints", &self.checkpoints.len())
            .finish()
    }
}

impl CompositeAdapter {
    /// Combines `stores`, in order (observations are gathered and checkpoints taken in it).
    pub fn new(stores: Vec<Store>) -> CompositeAdapter {
        CompositeAdapter {
            stores,
            ..CompositeAdapter::default()
        }
    }

    /// Whether some store is checkpointed and restored (else only observed).
    pub fn restores(&self) -> bool {
        self.stores
            .iter()
            .any(|s| !matches!(s, Store::Observed(_) | Store::ObservedSql(_)))
    }

    /// Whether a store answers SQL (see [`SqlQuery`]).
    pub fn has_sql(&self) -> bool {
        self.stores
            .iter()
            .any(|s| matches!(s, Store::Sql(_) | Store::ObservedSql(_)))
    }

    /// The restored stores, with their indices.
    fn restored(&mut self) -> impl Iterator<Item = (usize, &mut dyn StateAdapter)> {
        self.stores
            .iter_mut()
            .enumerate()
            .filter_map(|(i, store)| match store {
                Store::Restored(adapter) => Some((i, adapter.as_mut() as &mut dyn StateAdapter)),
                Store::Sql(adapter) => Some((i, adapter.as_adapter())),
                Store::Observed(_) | Store::ObservedSql(_) => None,
            })
    }

    fn adapter_at(&mut self, index: usize) -> Option<&mut dyn StateAdapter> {
        match self.stores.get_mut(index)? {
            Store::Restored(adapter) => Some(adapter.as_mut()),
            Store::Sql(adapter) => Some(adapter.as_adapter()),
            Store::Observed(_) | Store::ObservedSql(_) => None,
        }
    }

    fn release_parts(&mut self, parts: Vec<(usize, CheckpointId)>) {
        for (index, id) in parts {
            if let Some(adapter) = self.adapter_at(index) {
                adapter.release(id);
            }
        }
    }
}

impl StateAdapter for CompositeAdapter {
    fn mechanism(&self) -> String {
        let names: Vec<String> = self
            .stores
            .iter()
            .filter_map(|store| match store {
                Store::Restored(adapter) => Some(adapter.mechanism()),
                Store::Sql(adapter) => Some(adapter.mechanism()),
                Store::Observed(_) | Store::ObservedSql(_) => None,
            })
            .collect();
        names.join(" + ")
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        let modes = self.stores.iter().filter_map(|store| match store {
            Store::Restored(adapter) => Some(adapter.checkpoint_mode()),
            Store::Sql(adapter) => Some(adapter.checkpoint_mode()),
            Store::Observed(_) | Store::ObservedSql(_) => None,
        });
        modes.fold(CheckpointMode::RandomAccess, CheckpointMode::weakest)
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let mut parts = Vec::new();
        let mut failure = None;
        for (index, adapter) in self.restored() {
            match adapter.checkpoint() {
                Ok(id) => parts.push((index, id)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            self.release_parts(parts);
            return Err(e);
        }
        let id = CheckpointId(self.next_id);
        self.next_id += 1;
        self.checkpoints.insert(id, parts);
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let Some(parts) = self.checkpoints.get(&id).cloned() else {
            return Err(WorldError::new(format!(
                "unknown checkpoint {} (never taken, or released)",
                id.0
            )));
        };
        for (index, part) in parts {
            if let Some(adapter) = self.adapter_at(index) {
                adapter.rollback(part)?;
            }
        }
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        if let Some(parts) = self.checkpoints.remove(&id) {
            self.release_parts(parts);
        }
    }

    /// Lent when every restored store lends its part.
    fn lend(&mut self, id: CheckpointId) -> Option<LentCheckpoint> {
        let parts = self.checkpoints.get(&id)?.clone();
        let lent = parts
            .into_iter()
            .map(|(index, part)| Some((index, self.adapter_at(index)?.lend(part)?)))
            .collect::<Option<Vec<_>>>()?;
        Some(LentCheckpoint::new(LentParts(lent)))
    }

    fn restore_lent(&mut self, lent: &LentCheckpoint) -> Result<(), WorldError> {
        let Some(LentParts(parts)) = lent.get::<LentParts>() else {
            return Err(WorldError::new(
                "a checkpoint lent by another kind of world cannot be restored here",
            ));
        };
        for (index, part) in parts {
            let adapter = self.adapter_at(*index).ok_or_else(|| {
                WorldError::new(format!("the lent checkpoint names no store {index} here"))
            })?;
            adapter.restore_lent(part)?;
        }
        Ok(())
    }

    /// The sum over the stores that know their checkpoints' size (`None` when none does).
    fn checkpoint_bytes(&self) -> Option<u64> {
        self.stores
            .iter()
            .filter_map(|store| match store {
                Store::Restored(adapter) => adapter.checkpoint_bytes(),
                Store::Sql(adapter) => adapter.checkpoint_bytes(),
                Store::Observed(_) | Store::ObservedSql(_) => None,
            })
            .reduce(|a, b| a + b)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.stores
            .iter_mut()
            .flat_map(|store| match store {
                Store::Restored(adapter) => adapter.take_warnings(),
                Store::Sql(adapter) => adapter.take_warnings(),
                Store::Observed(_) | Store::ObservedSql(_) => Vec::new(),
            })
            .collect()
    }
}

/// A composite checkpoint lent to another copy: each restored store's lent part, by index.
struct LentParts(Vec<(usize, LentCheckpoint)>);

impl Observer for CompositeAdapter {
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut union = Observation::new();
        for store in &mut self.stores {
            let observation = match store {
                Store::Restored(adapter) => adapter.observe()?,
                Store::Sql(adapter) => adapter.observe()?,
                Store::Observed(observer) => observer.observe()?,
                Store::ObservedSql(observer) => observer.observe()?,
            };
            for (key, value) in observation {
                if union.contains_key(&key) {
                    return Err(WorldError::new(format!(
                        "two stores report the observation `{key}`"
                    )));
                }
                union.insert(key, value);
            }
        }
        Ok(union)
    }

    /// What every store writes of its state, in order.
    fn save_to(&mut self, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, WorldError> {
        let mut files = Vec::new();
        for store in &mut self.stores {
            files.extend(match store {
                Store::Restored(adapter) => adapter.save_to(dir)?,
                Store::Sql(adapter) => adapter.save_to(dir)?,
                Store::Observed(observer) => observer.save_to(dir)?,
                Store::ObservedSql(observer) => observer.save_to(dir)?,
            });
        }
        Ok(files)
    }
}

impl SqlQuery for CompositeAdapter {
    /// Runs `sql` in the first SQL store; fails when there is none.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        for store in &mut self.stores {
            match store {
                Store::Sql(adapter) => return adapter.query_text(sql),
                Store::ObservedSql(observer) => return observer.query_text(sql),
                Store::Restored(_) | Store::Observed(_) => {}
            }
        }
        Err(WorldError::new(
            "no database to run SQL in (SQL invariants need [rollback] `sqlite_path` or mode = \"postgres\")",
        ))
    }
}
