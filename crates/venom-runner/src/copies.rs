//! Copies of the system under test for parallel workers (`--workers N`): each worker's
//! `[server]` listens on a port of its own (`${VENOM_PORT}`) and uses a database of its own made
//! from the initial one before any server starts — a copy of the SQLite file, or a PostgreSQL
//! database created with the original as its template — and, with `[redis]`, a copy of the Redis
//! database in an empty database index of the same Redis server.
//!
//! A server learns its databases from its environment: `VENOM_SQLITE_PATH` (the SQLite file),
//! `VENOM_DATABASE_URL` (PostgreSQL snapshots) and `VENOM_REDIS_URL` (`[redis]`) are set for
//! every run, and the variables of `postgres_url_env` and of `[redis] url_env` are set to the
//! worker's databases in its server's environment.

use std::path::PathBuf;
#[cfg(feature = "postgres")]
use venom_adapters::DatabaseCopy;
#[cfg(feature = "redis")]
use venom_adapters::RedisCopy;
use venom_engine::WorldError;
use venom_scenario::{
    PgMechanism, RedisSpec, RollbackSpec, Scenario, ServerSpec, SqliteSpec, UnsetUrlVar, UrlSource,
};

/// The server's environment variable holding the path of the SQLite file (the worker's own
/// copy with `--workers`).
pub const SQLITE_PATH_VAR: &str = "VENOM_SQLITE_PATH";

/// The server's environment variable holding the URL of the PostgreSQL database (the worker's
/// own copy with `--workers`), with PostgreSQL snapshots.
pub const DATABASE_URL_VAR: &str = "VENOM_DATABASE_URL";

/// The server's environment variable holding the URL of the Redis database of `[redis]` (the
/// worker's own copy with `--workers`).
pub const REDIS_URL_VAR: &str = "VENOM_REDIS_URL";

/// Why the system under test cannot be copied for several workers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CopyError {
    /// Nothing starts the API: venom cannot start one per worker.
    #[error(
        "--workers: the scenario has no [server], so venom cannot start a copy of the API for \
         each worker (a remote API is explored by one worker)"
    )]
    NoServer,
    /// `base_url` names a fixed port, which only one server can listen on.
    #[error(
        "--workers: base_url {base_url} names a fixed port; write ${{VENOM_PORT}} as its port \
         (and pass $VENOM_PORT to the [server]) so that each worker's server listens on a port \
         of its own"
    )]
    FixedPort {
        /// The scenario's base URL.
        base_url: String,
    },
    /// Reset + replay with no database venom could copy: the servers might share one.
    #[error(
        "--workers: the rollback is reset + replay and venom knows no database of the API to \
         copy, so the workers' servers could share their state; declare the database in \
         [rollback] (mode = \"sqlite\" or \"postgres\"), or run with one worker"
    )]
    NoDatabase,
    /// The transaction proxy explores one path at a time.
    #[error(
        "--workers: the PostgreSQL transaction proxy explores depth-first, one path at a time; \
         several workers explore breadth-first with mechanism = \"snapshot\""
    )]
    Proxy,
    /// The server is not told which database to use, so every copy would use the original.
    #[error(
        "--workers: the [server] must take its database from ${var} (in its command or env) so \
         that each worker's server uses its own copy{hint}"
    )]
    ServerIgnoresCopy {
        /// The variable it should read.
        var: &'static str,
        /// More ways, when there are.
        hint: String,
    },
    /// The database URL is read from a variable that is not set.
    #[error("--workers: cannot copy the {store} database")]
    Url {
        /// "PostgreSQL" or "Redis".
        store: &'static str,
        /// Which variable.
        #[source]
        source: UnsetUrlVar,
    },
    /// A copy failed.
    #[error("--workers: cannot copy the database for worker {worker}")]
    Copy {
        /// The worker (from 1).
        worker: usize,
        /// Why.
        #[source]
        source: WorldError,
    },
}

/// The scenarios of workers 1..N, each reaching a copy of the system of its own, and the copies
/// themselves (the PostgreSQL databases are dropped, the SQLite files deleted, with this value:
/// drop it after the worlds).
#[derive(Debug)]
pub struct WorkerCopies {
    scenarios: Vec<Scenario>,
    databases: Vec<DatabaseCopy>,
    redis: Vec<RedisCopy>,
    _folder: Option<tempfile::TempDir>,
}

impl WorkerCopies {
    /// Makes `workers - 1` copies of the system of `scenario` (worker 0 uses the original),
    /// before any server starts. Refuses, saying why and what to change, a system venom cannot
    /// copy: no `[server]`, a fixed port, reset + replay without a database, the transaction
    /// proxy, or a server not told where its database is.
    pub fn prepare(scenario: &Scenario, workers: usize) -> Result<WorkerCopies, CopyError> {
        let mut copies = WorkerCopies {
            scenarios: Vec::new(),
            databases: Vec::new(),
            redis: Vec::new(),
            _folder: None,
        };
        if workers <= 1 {
            return Ok(copies);
        }
        let server = scenario.server.as_ref().ok_or(CopyError::NoServer)?;
        if !scenario.chooses_port() {
            return Err(CopyError::FixedPort {
                base_url: scenario.base_url.clone(),
            });
        }
        match &scenario.rollback {
            RollbackSpec::Reset { observe: None } if scenario.redis.is_some() => {
                // Redis is the database: copied below.
                copies.scenarios = vec![scenario.clone(); workers - 1];
                Ok(())
            }
            RollbackSpec::Reset { observe: None } => Err(CopyError::NoDatabase),
            RollbackSpec::Sqlite(spec)
            | RollbackSpec::Reset {
                observe: Some(spec),
            } => copies.sqlite(scenario, server, spec, workers),
            RollbackSpec::Postgres(spec) => match &spec.mechanism {
                PgMechanism::Proxy { .. } => Err(CopyError::Proxy),
                PgMechanism::Snapshot { .. } => {
                    copies.postgres(scenario, server, &spec.url, workers)
                }
            },
        }?;
        if let Some(spec) = &scenario.redis {
            copies.redis(server, spec)?;
        }
        Ok(copies)
    }

    /// The scenarios of workers 1.. (empty with one worker).
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    /// The copies' connection URLs, which hold the original's password: never to be shown.
    pub fn secrets(&self) -> Vec<String> {
        let databases = self.databases.iter().map(|d| d.url().to_string());
        databases
            .chain(self.redis.iter().map(|r| r.url().to_string()))
            .collect()
    }

    /// A copy of the SQLite file per worker (when it exists: a server that creates its file
    /// creates its own), in a temporary folder.
    fn sqlite(
        &mut self,
        scenario: &Scenario,
        server: &ServerSpec,
        spec: &SqliteSpec,
        workers: usize,
    ) -> Result<(), CopyError> {
        if !mentions(server, SQLITE_PATH_VAR) {
            return Err(CopyError::ServerIgnoresCopy {
                var: SQLITE_PATH_VAR,
                hint: String::new(),
            });
        }
        let failed = |worker, source| CopyError::Copy { worker, source };
        let folder = tempfile::Builder::new()
            .prefix("venom-workers-")
            .tempdir()
            .map_err(|e| failed(1, WorldError::caused("cannot create a temporary folder", e)))?;
        let name = spec.path.file_name().map_or_else(
            || std::ffi::OsString::from("database.db"),
            |n| n.to_os_string(),
        );
        for worker in 1..workers {
            let dir = folder.path().join(format!("worker-{worker}"));
            std::fs::create_dir(&dir).map_err(|e| {
                failed(
                    worker,
                    WorldError::caused(format!("cannot create {}", dir.display()), e),
                )
            })?;
            let path: PathBuf = dir.join(&name);
            if spec.path.exists() {
                copy_sqlite_file(&spec.path, &path).map_err(|e| failed(worker, e))?;
            }
            let mut copy = scenario.clone();
            let spec = SqliteSpec {
                path,
                ..spec.clone()
            };
            copy.rollback = match &scenario.rollback {
                RollbackSpec::Sqlite(_) => RollbackSpec::Sqlite(spec),
                _ => RollbackSpec::Reset {
                    observe: Some(spec),
                },
            };
            self.scenarios.push(copy);
        }
        self._folder = Some(folder);
        Ok(())
    }

    /// A database per worker made from the original as its template; the worker's server gets
    /// its URL as `VENOM_DATABASE_URL` and in the variable `postgres_url_env` names.
    fn postgres(
        &mut self,
        scenario: &Scenario,
        server: &ServerSpec,
        url: &UrlSource,
        workers: usize,
    ) -> Result<(), CopyError> {
        let variable = match url {
            UrlSource::Env(name) => Some(name.clone()),
            UrlSource::Literal(_) => None,
        };
        if variable.is_none() && !mentions(server, DATABASE_URL_VAR) {
            return Err(CopyError::ServerIgnoresCopy {
                var: DATABASE_URL_VAR,
                hint: ", or give [rollback] the URL in postgres_url_env, which venom sets to \
                       each worker's database in its server's environment"
                    .to_string(),
            });
        }
        let original = url.resolve().map_err(|source| CopyError::Url {
            store: "PostgreSQL",
            source,
        })?;
        for worker in 1..workers {
            let database = DatabaseCopy::create(&original, &format!("venom_w{worker}"))
                .map_err(|source| CopyError::Copy { worker, source })?;
            let mut copy = scenario.clone();
            if let RollbackSpec::Postgres(spec) = &mut copy.rollback {
                spec.url = UrlSource::Literal(database.url().to_string());
            }
            if let (Some(name), Some(server)) = (&variable, &mut copy.server) {
                // The URL is percent-encoded: no `${` for the expansion of `env` to read.
                server.env.insert(name.clone(), database.url().to_string());
            }
            self.scenarios.push(copy);
            self.databases.push(database);
        }
        Ok(())
    }
}

impl WorkerCopies {
    /// A copy of the Redis database per worker, each in an empty database index of the same
    /// Redis server; the worker's server gets its URL as `VENOM_REDIS_URL` and in the variable
    /// `[redis] url_env` names.
    fn redis(&mut self, server: &ServerSpec, spec: &RedisSpec) -> Result<(), CopyError> {
        let variable = match &spec.url {
            UrlSource::Env(name) => Some(name.clone()),
            UrlSource::Literal(_) => None,
        };
        if variable.is_none() && !mentions(server, REDIS_URL_VAR) {
            return Err(CopyError::ServerIgnoresCopy {
                var: REDIS_URL_VAR,
                hint: ", or give [redis] the URL in url_env, which venom sets to each worker's \
                       Redis database in its server's environment"
                    .to_string(),
            });
        }
        let original = spec.url.resolve().map_err(|source| CopyError::Url {
            store: "Redis",
            source,
        })?;
        for (i, copy) in self.scenarios.iter_mut().enumerate() {
            let taken: Vec<i64> = self.redis.iter().map(RedisCopy::index).collect();
            let made = RedisCopy::create(&original, &taken).map_err(|source| CopyError::Copy {
                worker: i + 1,
                source,
            })?;
            if let Some(redis) = &mut copy.redis {
                redis.url = UrlSource::Literal(made.url().to_string());
            }
            if let (Some(name), Some(server)) = (&variable, &mut copy.server) {
                server.env.insert(name.clone(), made.url().to_string());
            }
            self.redis.push(made);
        }
        Ok(())
    }
}

/// The server's environment with the databases it uses, for every run: the SQLite file's path,
/// or the URL of the PostgreSQL database restored by snapshots (when its variable is set), and
/// the URL of the Redis database of `[redis]`.
pub(crate) fn database_env(scenario: &Scenario) -> Vec<(String, String)> {
    let redis = scenario
        .redis
        .as_ref()
        .and_then(|spec| spec.url.resolve().ok());
    let redis = redis.map(|url| (REDIS_URL_VAR.to_string(), url));
    let mut env = sql_database_env(&scenario.rollback);
    env.extend(redis);
    env
}

/// The SQL database's part of [`database_env`].
fn sql_database_env(rollback: &RollbackSpec) -> Vec<(String, String)> {
    match rollback {
        RollbackSpec::Sqlite(spec)
        | RollbackSpec::Reset {
            observe: Some(spec),
        } => vec![(
            SQLITE_PATH_VAR.to_string(),
            spec.path.to_string_lossy().into_owned(),
        )],
        RollbackSpec::Postgres(spec) if matches!(spec.mechanism, PgMechanism::Snapshot { .. }) => {
            spec.url
                .resolve()
                .map(|url| vec![(DATABASE_URL_VAR.to_string(), url)])
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Whether the server's command or one of its environment values names `var`.
fn mentions(server: &ServerSpec, var: &str) -> bool {
    server.command.contains(var) || server.env.values().any(|value| value.contains(var))
}

#[cfg(feature = "sqlite")]
use venom_adapters::copy_sqlite_file;

/// Without SQLite, no SQLite file is copied.
#[cfg(not(feature = "sqlite"))]
fn copy_sqlite_file(_: &std::path::Path, _: &std::path::Path) -> Result<(), WorldError> {
    Err(not_built("sqlite"))
}

/// Without PostgreSQL, no PostgreSQL database is copied.
#[cfg(not(feature = "postgres"))]
#[derive(Debug)]
enum DatabaseCopy {}

#[cfg(not(feature = "postgres"))]
impl DatabaseCopy {
    fn create(_: &str, _: &str) -> Result<DatabaseCopy, WorldError> {
        Err(not_built("postgres"))
    }

    fn url(&self) -> &str {
        match *self {}
    }
}

/// Without Redis, no Redis database is copied.
#[cfg(not(feature = "redis"))]
#[derive(Debug)]
enum RedisCopy {}

#[cfg(not(feature = "redis"))]
impl RedisCopy {
    fn create(_: &str, _: &[i64]) -> Result<RedisCopy, WorldError> {
        Err(not_built("redis"))
    }

    fn url(&self) -> &str {
        match *self {}
    }

    fn index(&self) -> i64 {
        match *self {}
    }
}

#[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "redis")))]
fn not_built(feature: &str) -> WorldError {
    WorldError::new(format!(
        "this venom was built without the `{feature}` feature"
    ))
}
