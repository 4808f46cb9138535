//! The stores behind the API that a scenario names — an SQLite file, a PostgreSQL database
//! (snapshots or transaction proxy), a Redis database — opened as one [`CompositeAdapter`].
//!
//! Each backend is a cargo feature of this crate; a build without one refuses a scenario that
//! names it with [`StoreError::NotBuilt`].

use crate::server::Processes;
use std::time::Duration;
#[cfg(feature = "postgres")]
use venom_adapters::postgres::{url_via, PgObserveSpec, PgProxy};
use venom_adapters::{CompositeAdapter, Store};
use venom_engine::WorldError;
use venom_scenario::{RollbackSpec, Scenario, UnsetUrlVar};

/// The environment variable that gives the API server the transaction proxy's address, as a
/// PostgreSQL URL with the upstream database's user, password and database name.
pub const PROXY_URL_VAR: &str = "VENOM_PROXY_URL";

/// A store the scenario names could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The URL's environment variable is not set.
    #[error("cannot open {store}")]
    Url {
        /// The store, as the scenario names it (`rollback postgres`, `redis`…).
        store: &'static str,
        /// Which variable.
        #[source]
        source: UnsetUrlVar,
    },
    /// The adapter could not open or start.
    #[error("cannot open {store}")]
    Open {
        /// The store, as the scenario names it.
        store: &'static str,
        /// Why.
        #[source]
        source: WorldError,
    },
    /// This build of venom has no support for the store.
    #[error("{store}: this venom was built without the `{feature}` feature")]
    NotBuilt {
        /// The store, as the scenario names it.
        store: &'static str,
        /// The cargo feature that brings it.
        feature: &'static str,
    },
}

/// The transaction proxy, started before the API so that the API connects through it.
pub(crate) struct StartedProxy {
    #[cfg(feature = "postgres")]
    pub proxy: PgProxy,
    /// `VENOM_PROXY_URL` and its value, for the server's environment.
    pub env: (String, String),
}

/// Starts the transaction proxy when the scenario's PostgreSQL rollback uses it.
pub(crate) fn start_proxy(rollback: &RollbackSpec) -> Result<Option<StartedProxy>, StoreError> {
    let RollbackSpec::Postgres(spec) = rollback else {
        return Ok(None);
    };
    let venom_scenario::PgMechanism::Proxy { listen } = spec.mechanism else {
        return Ok(None);
    };
    #[cfg(feature = "postgres")]
    {
        const STORE: &str = "rollback postgres (proxy)";
        let open = |source| StoreError::Open {
            store: STORE,
            source,
        };
        let upstream = spec.url.resolve().map_err(|source| StoreError::Url {
            store: STORE,
            source,
        })?;
        let proxy = PgProxy::start(&upstream, listen, observe_spec(spec)).map_err(open)?;
        let url = url_via(&upstream, proxy.local_addr()).map_err(open)?;
        Ok(Some(StartedProxy {
            proxy,
            env: (PROXY_URL_VAR.to_string(), url),
        }))
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = listen;
        Err(StoreError::NotBuilt {
            store: "rollback postgres (proxy)",
            feature: "postgres",
        })
    }
}

/// Opens the scenario's stores, the already started `proxy` among them: restored ones when the
/// rollback mode checkpoints, observed-only ones with reset + replay. An SQLite file that does
/// not exist yet is waited for (the `[server]`'s `ready_timeout`, unless `processes` is
/// abandoned).
pub(crate) fn open(
    scenario: &Scenario,
    proxy: Option<StartedProxy>,
    processes: &Processes,
) -> Result<CompositeAdapter, StoreError> {
    let mut stores = Vec::new();
    // A server may create its SQLite file on first use: after it is ready, wait for the file
    // as long as it was given to get ready.
    let grace = scenario
        .server
        .as_ref()
        .map_or(Duration::ZERO, |s| s.ready_timeout);
    match &scenario.rollback {
        RollbackSpec::Reset { observe: None } => {}
        RollbackSpec::Reset {
            observe: Some(spec),
        } => stores.push(sqlite(spec, false, (grace, processes))?),
        RollbackSpec::Sqlite(spec) => stores.push(sqlite(spec, true, (grace, processes))?),
        RollbackSpec::Postgres(spec) => stores.push(postgres(spec, proxy)?),
    }
    if let Some(spec) = &scenario.redis {
        stores.push(redis(spec)?);
    }
    Ok(CompositeAdapter::new(stores))
}

/// `adapter` as a store that is restored (it checkpoints) or only observed.
#[cfg(any(feature = "sqlite", feature = "redis"))]
fn restored_or_observed<A: venom_adapters::StateAdapter + 'static>(
    restored: bool,
    adapter: A,
) -> Store {
    if restored {
        Store::Restored(Box::new(adapter))
    } else {
        Store::Observed(Box::new(adapter))
    }
}

#[cfg(feature = "sqlite")]
fn sqlite(
    spec: &venom_scenario::SqliteSpec,
    restored: bool,
    (grace, processes): (Duration, &Processes),
) -> Result<Store, StoreError> {
    let deadline = std::time::Instant::now() + grace;
    while !spec.path.exists() && std::time::Instant::now() < deadline && !processes.abandoned() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let snapshots = venom_adapters::SqliteSnapshots::open(&spec.path, &spec.observe_tables)
        .and_then(|s| s.with_queries(&spec.observe_queries))
        .map_err(|source| StoreError::Open {
            store: "rollback sqlite",
            source,
        })?;
    // SQL invariants run on the same file, whether venom restores it or only observes it.
    Ok(if restored {
        Store::Sql(Box::new(snapshots))
    } else {
        Store::ObservedSql(Box::new(snapshots))
    })
}

#[cfg(not(feature = "sqlite"))]
fn sqlite(
    _: &venom_scenario::SqliteSpec,
    _: bool,
    _: (Duration, &Processes),
) -> Result<Store, StoreError> {
    Err(StoreError::NotBuilt {
        store: "rollback sqlite",
        feature: "sqlite",
    })
}

#[cfg(feature = "postgres")]
fn postgres(
    spec: &venom_scenario::PostgresSpec,
    proxy: Option<StartedProxy>,
) -> Result<Store, StoreError> {
    use venom_scenario::PgMechanism;
    const STORE: &str = "rollback postgres";
    match (&spec.mechanism, proxy) {
        (PgMechanism::Proxy { .. }, Some(started)) => Ok(Store::Sql(Box::new(started.proxy))),
        (PgMechanism::Proxy { .. }, None) => Err(StoreError::Open {
            store: STORE,
            source: WorldError::new("the transaction proxy was not started"),
        }),
        (PgMechanism::Snapshot { schemas }, _) => {
            let url = spec.url.resolve().map_err(|source| StoreError::Url {
                store: STORE,
                source,
            })?;
            let snapshots =
                venom_adapters::PgSnapshots::open(&url, schemas.clone(), observe_spec(spec))
                    .map_err(|source| StoreError::Open {
                        store: STORE,
                        source,
                    })?;
            Ok(Store::Sql(Box::new(snapshots)))
        }
    }
}

#[cfg(not(feature = "postgres"))]
fn postgres(
    _: &venom_scenario::PostgresSpec,
    _: Option<StartedProxy>,
) -> Result<Store, StoreError> {
    Err(StoreError::NotBuilt {
        store: "rollback postgres",
        feature: "postgres",
    })
}

#[cfg(feature = "redis")]
fn redis(spec: &venom_scenario::RedisSpec) -> Result<Store, StoreError> {
    const STORE: &str = "redis";
    let url = spec.url.resolve().map_err(|source| StoreError::Url {
        store: STORE,
        source,
    })?;
    let snapshots = venom_adapters::RedisSnapshots::open(&url, spec.observe_patterns.clone())
        .map_err(|source| StoreError::Open {
            store: STORE,
            source,
        })?;
    Ok(restored_or_observed(spec.rollback, snapshots))
}

#[cfg(not(feature = "redis"))]
fn redis(_: &venom_scenario::RedisSpec) -> Result<Store, StoreError> {
    Err(StoreError::NotBuilt {
        store: "redis",
        feature: "redis",
    })
}

#[cfg(feature = "postgres")]
fn observe_spec(spec: &venom_scenario::PostgresSpec) -> PgObserveSpec {
    PgObserveSpec {
        tables: spec.observe_tables.clone(),
        queries: spec.observe_queries.clone(),
    }
}
