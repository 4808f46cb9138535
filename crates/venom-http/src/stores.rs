//! The stores behind the API that a scenario names — an SQLite file, a PostgreSQL database
//! (snapshots or transaction proxy), a Redis database — opened as one [`CompositeAdapter`].

use crate::world::WorldSetupError;
use venom_adapters::postgres::{url_via, PgObserveSpec, PgProxy};
use venom_adapters::{CompositeAdapter, PgSnapshots, RedisSnapshots, SqliteSnapshots, Store};
use venom_scenario::{PgMechanism, PostgresSpec, RedisSpec, RollbackSpec, Scenario};

/// The environment variable that gives the API server the transaction proxy's address, as a
/// PostgreSQL URL with the upstream database's user, password and database name.
pub const PROXY_URL_VAR: &str = "VENOM_PROXY_URL";

/// The transaction proxy, started before the API so that the API connects through it.
pub(crate) struct StartedProxy {
    pub proxy: PgProxy,
    /// `VENOM_PROXY_URL` and its value, for the server's environment.
    pub env: (String, String),
}

/// Starts the transaction proxy when the scenario's PostgreSQL rollback uses it.
pub(crate) fn start_proxy(
    rollback: &RollbackSpec,
) -> Result<Option<StartedProxy>, WorldSetupError> {
    let RollbackSpec::Postgres(spec) = rollback else {
        return Ok(None);
    };
    let PgMechanism::Proxy { listen } = spec.mechanism else {
        return Ok(None);
    };
    let fail = |e: String| WorldSetupError(format!("rollback postgres (proxy): {e}"));
    let upstream = spec.url.resolve().map_err(fail)?;
    let proxy = PgProxy::start(&upstream, listen, observe_spec(spec)).map_err(|e| fail(e.0))?;
    let url = url_via(&upstream, proxy.local_addr()).map_err(|e| fail(e.0))?;
    Ok(Some(StartedProxy {
        proxy,
        env: (PROXY_URL_VAR.to_string(), url),
    }))
}

/// Opens the scenario's stores, the already started `proxy` among them: restored ones when the
/// rollback mode checkpoints, observed-only ones with reset + replay.
pub(crate) fn open(
    scenario: &Scenario,
    proxy: Option<PgProxy>,
) -> Result<CompositeAdapter, WorldSetupError> {
    let mut stores = Vec::new();
    match &scenario.rollback {
        RollbackSpec::Reset { observe: None } => {}
        RollbackSpec::Reset {
            observe: Some(spec),
        } => stores.push(Store::Observed(Box::new(sqlite(spec)?))),
        RollbackSpec::Sqlite(spec) => stores.push(Store::Restored(Box::new(sqlite(spec)?))),
        RollbackSpec::Postgres(spec) => stores.push(postgres(spec, proxy)?),
    }
    if let Some(spec) = &scenario.redis {
        stores.push(redis(spec)?);
    }
    Ok(CompositeAdapter::new(stores))
}

fn sqlite(spec: &venom_scenario::SqliteSpec) -> Result<SqliteSnapshots, WorldSetupError> {
    SqliteSnapshots::open(&spec.path, &spec.observe_tables)
        .map_err(|e| WorldSetupError(format!("rollback sqlite: {}", e.0)))
}

fn postgres(spec: &PostgresSpec, proxy: Option<PgProxy>) -> Result<Store, WorldSetupError> {
    match (&spec.mechanism, proxy) {
        (PgMechanism::Proxy { .. }, Some(proxy)) => Ok(Store::Sql(Box::new(proxy))),
        (PgMechanism::Proxy { .. }, None) => Err(WorldSetupError(
            "rollback postgres (proxy): the transaction proxy was not started".into(),
        )),
        (PgMechanism::Snapshot { schemas }, _) => {
            let fail = |e: String| WorldSetupError(format!("rollback postgres: {e}"));
            let url = spec.url.resolve().map_err(fail)?;
            let snapshots = PgSnapshots::open(&url, schemas.clone(), observe_spec(spec))
                .map_err(|e| fail(e.0))?;
            Ok(Store::Sql(Box::new(snapshots)))
        }
    }
}

fn redis(spec: &RedisSpec) -> Result<Store, WorldSetupError> {
    let fail = |e: String| WorldSetupError(format!("redis: {e}"));
    let url = spec.url.resolve().map_err(fail)?;
    let snapshots =
        RedisSnapshots::open(&url, spec.observe_patterns.clone()).map_err(|e| fail(e.0))?;
    Ok(if spec.rollback {
        Store::Restored(Box::new(snapshots))
    } else {
        Store::Observed(Box::new(snapshots))
    })
}

fn observe_spec(spec: &PostgresSpec) -> PgObserveSpec {
    PgObserveSpec {
        tables: spec.observe_tables.clone(),
        queries: spec.observe_queries.clone(),
    }
}
