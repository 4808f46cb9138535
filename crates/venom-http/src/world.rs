//! The HTTP world: the API under test reached over HTTP, the state of its stores saved and
//! restored by their [`StateAdapter`]s (or by reset and replay when there are none).

use crate::client::{HttpClient, SendError};
use crate::server::ServerProcess;
use crate::{sql_check, stores};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use venom_adapters::postgres::SqlQuery;
use venom_adapters::{CompositeAdapter, Observer, StateAdapter};
use venom_engine::{CheckpointId, CheckpointMode, Exchange, Observation, World, WorldError};
use venom_scenario::{AuthSpec, Condition, RequestSpec, ResetSpec, Scenario, Vars};

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
    /// Declared before the stores so that, on drop, the API stops before its stores close.
    server: Option<ServerProcess>,
    /// The stores behind the API: restored ones when the rollback checkpoints, else observed
    /// only (or none).
    stores: CompositeAdapter,
    /// Answers to the invariants' GET checks since the state last changed: several invariants
    /// reading the same resource after one step send one request.
    check_answers: HashMap<String, Exchange>,
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
    /// Prepares the world of `scenario`: starts the PostgreSQL transaction proxy (when used, so
    /// that the API connects through it: its URL is `VENOM_PROXY_URL` in the server's
    /// environment), starts its `[server]` (if any) and waits until it is ready, checks that
    /// `base_url` answers, opens the stores (SQLite, PostgreSQL, Redis), runs every SQL
    /// invariant once to check it and, when a `[reset]` is declared, restores the initial state.
    pub fn connect(scenario: &Scenario) -> Result<HttpWorld, WorldSetupError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WorldSetupError(format!("cannot start the async runtime: {e}")))?;
        let client = HttpClient::new(&scenario.base_url, &scenario.defaults)
            .map_err(|e| WorldSetupError(e.to_string()))?;
        let proxy = stores::start_proxy(&scenario.rollback)?;
        let env: Vec<(String, String)> = proxy.iter().map(|p| p.env.clone()).collect();
        let server = match &scenario.server {
            Some(spec) => Some(
                ServerProcess::start_with_env(spec, &env)
                    .map_err(|e| WorldSetupError(e.to_string()))?,
            ),
            None => None,
        };
        let mut world = HttpWorld {
            runtime,
            client,
            reset: scenario.reset.clone(),
            folder: folder_of(&scenario.file),
            server,
            stores: CompositeAdapter::default(),
            check_answers: HashMap::new(),
        };
        world.check_reachable()?;
        world.stores = stores::open(scenario, proxy.map(|p| p.proxy))?;
        world.check_sql_invariants(scenario)?;
        if world.reset.is_some() {
            world
                .reset()
                .map_err(|e| WorldSetupError(format!("the initial reset failed: {}", e.0)))?;
        }
        Ok(world)
    }

    /// Sends `spec` rendered with `vars` and waits for the exchange. Any request may change the
    /// API's state, so the remembered check answers are forgotten.
    pub fn send(
        &mut self,
        spec: &RequestSpec,
        auth: Option<&AuthSpec>,
        vars: &Vars<'_>,
    ) -> Result<Exchange, SendError> {
        self.check_answers.clear();
        self.runtime.block_on(self.client.send(spec, auth, vars))
    }

    /// Sends an invariant's check request. A GET without a body is safe (RFC 9110), so while no
    /// other request, rollback or reset happened, an identical one is answered from memory.
    pub fn send_check(
        &mut self,
        spec: &RequestSpec,
        vars: &Vars<'_>,
    ) -> Result<Exchange, SendError> {
        if !spec.method.eq_ignore_ascii_case("GET") || spec.body.is_some() {
            return self.send(spec, None, vars);
        }
        let prepared = self.client.prepare(spec, None, vars)?;
        let key = format!("{} {:?}", prepared.url, prepared.headers);
        if let Some(answer) = self.check_answers.get(&key) {
            return Ok(answer.clone());
        }
        let exchange = self.runtime.block_on(self.client.send(spec, None, vars))?;
        self.check_answers.insert(key, exchange.clone());
        Ok(exchange)
    }

    /// Runs `query` against the API's PostgreSQL database as the API sees it (through the
    /// transaction proxy's session when the proxy is used); every value in PostgreSQL's text
    /// format. Fails when the scenario has no PostgreSQL store.
    pub fn sql(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        self.stores.query_text(query)
    }

    /// Runs every SQL invariant once, so that a query that fails or does not return one
    /// boolean is reported before the exploration starts.
    fn check_sql_invariants(&mut self, scenario: &Scenario) -> Result<(), WorldSetupError> {
        for invariant in &scenario.invariants {
            if let Condition::Sql(sql) = &invariant.condition {
                let rows = self.sql(sql).map_err(|e| {
                    WorldSetupError(format!(
                        "invariant `{}`: its sql failed: {}",
                        invariant.name, e.0
                    ))
                })?;
                sql_check::truth(&rows).map_err(|e| {
                    WorldSetupError(format!("invariant `{}`: its sql {e}", invariant.name))
                })?;
            }
        }
        Ok(())
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

    fn adapter(&mut self) -> Result<&mut CompositeAdapter, WorldError> {
        if !self.stores.restores() {
            return Err(WorldError(
                "this world has no checkpoints (reset + replay)".into(),
            ));
        }
        Ok(&mut self.stores)
    }
}

impl World for HttpWorld {
    fn mechanism(&self) -> String {
        if self.stores.restores() {
            self.stores.mechanism()
        } else {
            "reset + replay".into()
        }
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        if self.stores.restores() {
            self.stores.checkpoint_mode()
        } else {
            CheckpointMode::ResetReplay
        }
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        self.adapter()?.checkpoint()
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        self.check_answers.clear();
        self.adapter()?.rollback(id)
    }

    fn release(&mut self, id: CheckpointId) {
        self.stores.release(id);
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.check_answers.clear();
        match self.reset.clone() {
            Some(ResetSpec::Request(spec)) => self.reset_by_request(&spec),
            Some(ResetSpec::Command(command)) => self.reset_by_command(&command),
            None => Err(WorldError(
                "the scenario declares no [reset], so the initial state cannot be restored".into(),
            )),
        }
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        self.stores.observe()
    }
}

fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
