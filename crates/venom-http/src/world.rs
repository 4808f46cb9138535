//! The HTTP world: the API under test reached over HTTP, its state saved and restored by a
//! [`StateAdapter`] (or by reset and replay when there is none).

use crate::client::{HttpClient, SendError};
use crate::server::ServerProcess;
use std::path::{Path, PathBuf};
use std::process::Command;
use venom_adapters::{Observer, SqliteSnapshots, StateAdapter};
use venom_engine::{CheckpointId, CheckpointMode, Exchange, Observation, World, WorldError};
use venom_scenario::{AuthSpec, RequestSpec, ResetSpec, RollbackSpec, Scenario, SqliteSpec, Vars};

/// The system under test could not be prepared: the server did not start, the API is
/// unreachable, the database cannot be opened, or the reset failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WorldSetupError(pub String);

/// The API under test as the explorer drives it.
///
/// Requests run on a single-threaded tokio runtime owned by the world; the explorer itself is
/// synchronous and calls [`HttpWorld::send`] through the scenario's actions and invariants.
pub struct HttpWorld {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    reset: Option<ResetSpec>,
    folder: PathBuf,
    store: Store,
    server: Option<ServerProcess>,
}

impl std::fmt::Debug for HttpWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWorld")
            .field("base_url", &self.client.base_url())
            .field("mechanism", &self.mechanism())
            .finish_non_exhaustive()
    }
}

impl HttpWorld {
    /// Prepares the world of `scenario`: starts its `[server]` (if any) and waits until it is
    /// ready, checks that `base_url` answers, opens the rollback adapter and, when a `[reset]`
    /// is declared, restores the initial state.
    pub fn connect(scenario: &Scenario) -> Result<HttpWorld, WorldSetupError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WorldSetupError(format!("cannot start the async runtime: {e}")))?;
        let client = HttpClient::new(&scenario.base_url, &scenario.defaults)
            .map_err(|e| WorldSetupError(e.to_string()))?;
        let server = match &scenario.server {
            Some(spec) => {
                Some(ServerProcess::start(spec).map_err(|e| WorldSetupError(e.to_string()))?)
            }
            None => None,
        };
        let mut world = HttpWorld {
            runtime,
            client,
            reset: scenario.reset.clone(),
            folder: folder_of(&scenario.file),
            store: Store::Unobserved,
            server,
        };
        world.check_reachable()?;
        world.store = open_store(&scenario.rollback)?;
        if world.reset.is_some() {
            world
                .reset()
                .map_err(|e| WorldSetupError(format!("the initial reset failed: {}", e.0)))?;
        }
        Ok(world)
    }

    /// Sends `spec` rendered with `vars` and waits for the exchange.
    pub fn send(
        &mut self,
        spec: &RequestSpec,
        auth: Option<&AuthSpec>,
        vars: &Vars<'_>,
    ) -> Result<Exchange, SendError> {
        self.runtime.block_on(self.client.send(spec, auth, vars))
    }

    /// Stops the server venom started, if any.
    pub fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    /// Fails with a clear message when nothing answers at `base_url`.
    fn check_reachable(&mut self) -> Result<(), WorldSetupError> {
        let url = self.client.base_url().to_string();
        let probe = RequestSpec {
            method: "GET".into(),
            path: venom_scenario::Template::parse("/").map_err(|e| WorldSetupError(e.0))?,
            body: None,
            headers: Vec::new(),
        };
        let ctx = venom_engine::Context::new();
        match self.send(&probe, None, &Vars::new(&ctx)) {
            Ok(_) | Err(SendError::Timeout { .. }) | Err(SendError::Build(_)) => Ok(()),
            Err(e) => Err(WorldSetupError(format!(
                "cannot reach the API at base_url {url}: {e} (is it running? declare [server] to let venom start it)"
            ))),
        }
    }

    fn reset_by_request(&mut self, spec: &RequestSpec) -> Result<(), WorldError> {
        let ctx = venom_engine::Context::new();
        let exchange = self
            .send(spec, None, &Vars::new(&ctx))
            .map_err(|e| WorldError(format!("reset request: {e}")))?;
        match &exchange.response {
            Some(response) if response.status < 400 => Ok(()),
            Some(response) => Err(WorldError(format!(
                "reset request {} {} answered {}: {}",
                exchange.request.method, exchange.request.url, response.status, response.body
            ))),
            None => Err(WorldError("reset request got no response".into())),
        }
    }

    fn reset_by_command(&self, command: &str) -> Result<(), WorldError> {
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&self.folder)
            .output()
            .map_err(|e| WorldError(format!("cannot run the reset command `{command}`: {e}")))?;
        if output.status.success() {
            return Ok(());
        }
        Err(WorldError(format!(
            "the reset command `{command}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }

    fn adapter(&mut self) -> Result<&mut Box<dyn StateAdapter>, WorldError> {
        match &mut self.store {
            Store::Snapshots(adapter) => Ok(adapter),
            _ => Err(WorldError(
                "this world has no checkpoints (reset + replay)".into(),
            )),
        }
    }
}

impl World for HttpWorld {
    fn mechanism(&self) -> String {
        match &self.store {
            Store::Snapshots(adapter) => adapter.mechanism(),
            Store::Observed(_) | Store::Unobserved => "reset + replay".into(),
        }
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        match &self.store {
            Store::Snapshots(adapter) => adapter.checkpoint_mode(),
            Store::Observed(_) | Store::Unobserved => CheckpointMode::ResetReplay,
        }
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        self.adapter()?.checkpoint()
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        self.adapter()?.rollback(id)
    }

    fn release(&mut self, id: CheckpointId) {
        if let Store::Snapshots(adapter) = &mut self.store {
            adapter.release(id);
        }
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        match self.reset.clone() {
            Some(ResetSpec::Request(spec)) => self.reset_by_request(&spec),
            Some(ResetSpec::Command(command)) => self.reset_by_command(&command),
            None => Err(WorldError(
                "the scenario declares no [reset], so the initial state cannot be restored".into(),
            )),
        }
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        match &mut self.store {
            Store::Snapshots(adapter) => adapter.observe(),
            Store::Observed(observer) => observer.observe(),
            Store::Unobserved => Ok(Observation::new()),
        }
    }
}

/// The store behind the API as the world sees it.
enum Store {
    /// Nothing to observe or restore: reset + replay, fingerprints from the context alone.
    Unobserved,
    /// Observed only (e.g. SQLite tables read for the fingerprint); restored by reset + replay.
    Observed(Box<dyn Observer>),
    /// Checkpointed and restored by a rollback adapter, which also observes it.
    Snapshots(Box<dyn StateAdapter>),
}

fn open_store(rollback: &RollbackSpec) -> Result<Store, WorldSetupError> {
    let open = |spec: &SqliteSpec| {
        SqliteSnapshots::open(&spec.path, &spec.observe_tables)
            .map_err(|e| WorldSetupError(format!("rollback sqlite: {}", e.0)))
    };
    Ok(match rollback {
        RollbackSpec::Reset { observe: None } => Store::Unobserved,
        RollbackSpec::Reset {
            observe: Some(spec),
        } => Store::Observed(Box::new(open(spec)?)),
        RollbackSpec::Sqlite(spec) => Store::Snapshots(Box::new(open(spec)?)),
    })
}

fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
