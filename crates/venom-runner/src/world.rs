//! The HTTP world: the API under test reached over HTTP, the state of its stores saved and
//! restored by their [`StateAdapter`]s (or by reset and replay when there are none).

use crate::server::{choose_port, Processes, ServerError, ServerProcess};
use crate::sessions::{LoginFailed, Sessions};
use crate::sql_check::{self, SqlAnswerError};
use crate::stores;
use crate::stores::StoreError;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use venom_adapters::SqlQuery;
use venom_adapters::{CompositeAdapter, Observer, StateAdapter};
use venom_engine::Context;
use venom_engine::{
    CheckpointId, CheckpointMode, Exchange, LentCheckpoint, Mechanism, Observation, World,
    WorldError,
};
use venom_http::{Credentials, HttpClient, SendError, TogetherRequest, Unreachable};
use venom_openapi::Conformance;
use venom_scenario::{
    AuthSpec, Builtin, Condition, ObserveSpec, RequestSpec, ResetSpec, Scenario, ServerSpec, Vars,
};

/// The pause before the first retry of a failed reset; it doubles up to [`RESET_BACKOFF_MAX`].
const RESET_BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest pause between two reset attempts.
const RESET_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// The pauses before each probe of an API that refused a connection; when every probe is
/// refused too, the API is gone.
const GONE_PROBES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(900),
];

/// The system under test could not be prepared: the server did not start, the API is
/// unreachable, a store cannot be opened, an SQL invariant cannot run, or the reset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The world's async runtime could not be created.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// The HTTP client could not be created.
    #[error("cannot create the HTTP client")]
    Client(#[source] SendError),
    /// The `[server]` did not start or never became ready.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Nothing answers at `base_url`.
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// A store the scenario names could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An SQL invariant's query failed when it ran once at setup.
    #[error("invariant `{invariant}`: its sql failed")]
    SqlFailed {
        /// The invariant.
        invariant: String,
        /// Why.
        #[source]
        source: WorldError,
    },
    /// An SQL invariant's query does not answer one boolean.
    #[error("invariant `{invariant}`: its sql {answer}")]
    SqlAnswer {
        /// The invariant.
        invariant: String,
        /// What it answered instead.
        answer: SqlAnswerError,
    },
    /// The `[openapi]` document cannot be read, or a schema in it cannot be compiled.
    #[error("[openapi] spec {source_name}")]
    OpenApi {
        /// Where the document is.
        source_name: String,
        /// Why it cannot be used.
        #[source]
        source: crate::spec_checks::DocumentError,
    },
    /// The `[reset]` that restores the initial state failed.
    #[error("the initial reset failed")]
    InitialReset(#[source] WorldError),
    /// A `[context]` value cannot be rendered (e.g. it reads an unset environment variable).
    #[error("[context] `{key}`: {reason}")]
    Context {
        /// The context key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The initial context of `scenario` ([`Scenario::initial_context`]), as a setup error when a
/// value cannot be rendered.
pub fn initial_context(scenario: &Scenario) -> Result<Context, SetupError> {
    scenario
        .initial_context()
        .map_err(|(key, e)| SetupError::Context {
            key,
            reason: e.to_string(),
        })
}

/// What became of a step's (or a check's) request.
#[derive(Debug)]
pub enum Sent {
    /// It was sent: the exchange, with or without a response.
    Exchanged(Exchange),
    /// It could not be built on this path: why (e.g. a template read an unset context key).
    NotBuilt(String),
}

/// The API under test as the explorer drives it.
///
/// Requests run on a single-threaded tokio runtime owned by the world; the explorer itself is
/// synchronous and calls [`HttpWorld::exchange`] through the scenario's actions and invariants.
pub struct HttpWorld {
    runtime: tokio::runtime::Runtime,
    client: HttpClient,
    reset: Option<ResetSpec>,
    /// How many times a failed reset is tried again.
    reset_retries: u32,
    folder: PathBuf,
    /// Declared before the stores so that, on drop, the API stops before its stores close.
    server: Option<ServerProcess>,
    /// How the `[server]` was started (its spec and extra environment), to restart it.
    server_start: Option<(ServerSpec, Vec<(String, String)>)>,
    /// venom's variables for the server (`VENOM_PORT`, `VENOM_SQLITE_PATH`…), also set for
    /// the reset command.
    command_env: Vec<(String, String)>,
    /// The run's servers and interrupt state: an interrupt cancels the request in flight.
    processes: Processes,
    /// The stores behind the API: restored ones when the rollback checkpoints, else observed
    /// only (or none).
    stores: CompositeAdapter,
    /// Answers to the invariants' GET checks since the state last changed: several invariants
    /// reading the same resource after one step send one request.
    check_answers: HashMap<String, Exchange>,
    /// The (action, key) pairs whose `extract` matched nothing and were already warned about.
    unmatched_extracts: HashSet<(String, String)>,
    /// The roles' sessions.
    sessions: Sessions,
    /// The `[[observe]]` requests, sent at every observation.
    observations: Vec<ObserveSpec>,
    /// The `[context]`: what observation requests are rendered with.
    initial_ctx: Context,
    /// The rollback spec, for saving the database's state (`pg_dump`).
    rollback: venom_scenario::RollbackSpec,
    /// The `[openapi]` document, compiled, for the built-in response checks.
    conformance: Option<Arc<Conformance>>,
    /// Whether each create is preceded by a read of its collection's list
    /// (`failed_create_leaves_nothing` is active).
    reads_lists_before_creates: bool,
    /// The list read before the last create: (create URL, list path, its length).
    list_before: Option<(String, String, usize)>,
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
    /// Prepares the world of `scenario`: chooses a free port when `base_url` says
    /// `${VENOM_PORT}`, starts the PostgreSQL transaction proxy (when used, so that the API
    /// connects through it: its URL is `VENOM_PROXY_URL` in the server's environment), starts
    /// its `[server]` (if any, refusing a port another process holds) and waits until it is
    /// ready, checks that `base_url` answers, opens the stores (SQLite, PostgreSQL, Redis), runs every SQL
    /// invariant once to check it and, when a `[reset]` is declared, restores the initial state.
    ///
    /// The server process is registered in `processes`, so an interrupt handler holding a clone
    /// can abandon its start or kill it. Everything the world opens is its own (server, proxy,
    /// connections): several worlds can run side by side in one process.
    pub fn connect(scenario: &Scenario, processes: &Processes) -> Result<HttpWorld, SetupError> {
        let (scenario, port_env) = choose_port(scenario)?;
        let scenario = &scenario;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SetupError::Runtime)?;
        let client =
            HttpClient::new(&scenario.base_url, &scenario.defaults).map_err(SetupError::Client)?;
        let proxy = stores::start_proxy(&scenario.rollback)?;
        let env: Vec<(String, String)> = proxy
            .iter()
            .map(|p| p.env.clone())
            .chain(port_env)
            .chain(crate::copies::database_env(scenario))
            .collect();
        let server = match &scenario.server {
            Some(spec) => Some(ServerProcess::start(spec, &env, processes)?),
            None => None,
        };
        let mut world = HttpWorld {
            runtime,
            client,
            reset: scenario.reset.clone(),
            reset_retries: scenario.reset_retries,
            folder: folder_of(&scenario.file),
            server,
            server_start: scenario.server.clone().map(|spec| (spec, env.clone())),
            command_env: env,
            processes: processes.clone(),
            stores: CompositeAdapter::default(),
            check_answers: HashMap::new(),
            unmatched_extracts: HashSet::new(),
            sessions: Sessions::new(&scenario.roles),
            observations: scenario.observations.clone(),
            initial_ctx: initial_context(scenario)?,
            rollback: scenario.rollback.clone(),
            conformance: None,
            reads_lists_before_creates: scenario
                .active_builtins()
                .contains(&Builtin::FailedCreateLeavesNothing),
            list_before: None,
        };
        world.runtime.block_on(world.client.probe())?;
        if let Some(source) = &scenario.openapi {
            let openapi = |source_error| SetupError::OpenApi {
                source_name: source.to_string(),
                source: source_error,
            };
            let spec = crate::spec_checks::load_document(source).map_err(openapi)?;
            let conformance = crate::spec_checks::conformance(spec, &scenario.base_url)
                .map_err(|e| openapi(e.into()))?;
            world.conformance = Some(Arc::new(conformance));
        }
        world.stores = stores::open(scenario, proxy, processes)?;
        world.check_sql_invariants(scenario)?;
        // A server just started is in its initial state: restarting it again is no reset.
        if world
            .reset
            .as_ref()
            .is_some_and(|r| !matches!(r, ResetSpec::Restart))
        {
            world.reset().map_err(SetupError::InitialReset)?;
        }
        Ok(world)
    }

    /// Sends `spec` rendered with `vars` and waits for the exchange, or fails at once when the
    /// user interrupts the run (a stalled request is not waited out). Any request may change
    /// the API's state, so the remembered check answers are forgotten.
    fn send(
        &mut self,
        spec: &RequestSpec,
        credentials: Credentials<'_>,
        vars: &Vars<'_>,
    ) -> Result<Result<Exchange, SendError>, WorldError> {
        self.check_answers.clear();
        let processes = &self.processes;
        self.runtime.block_on(async {
            tokio::select! {
                sent = self.client.send_as(spec, credentials, vars) => Ok(sent),
                () = interrupted(processes) => Err(WorldError::new(format!(
                    "interrupted while waiting for the answer to {} {}",
                    spec.method,
                    spec.path.source()
                ))),
            }
        })
    }

    /// Sends a step's request like `HttpWorld::send`, as `role` when given (logging it in
    /// first when it has no session; once more after a 401, logged in again), else with
    /// `auth` (or the default authentication). A request that got no usable answer (a
    /// timeout, an invalid answer, a connection closed mid-answer or refused while the API
    /// still answers) is an exchange without a response, with why, for the invariants to
    /// judge. A request that cannot be built on this path (a template reads a context key
    /// that is unset here, or the role cannot log in) is [`Sent::NotBuilt`]. Fails when the
    /// user interrupted the run, or when the API is gone: its `[server]` process exited, or
    /// it refused every probe for over a second.
    pub fn exchange(
        &mut self,
        spec: &RequestSpec,
        role: Option<&str>,
        auth: Option<&AuthSpec>,
        vars: &Vars<'_>,
    ) -> Result<Sent, WorldError> {
        let Some(role) = role else {
            return self.exchange_with(spec, Credentials::Auth(auth), vars);
        };
        let fresh = self.sessions.headers(role).is_none();
        let headers = match self.session(role, vars)? {
            Ok(headers) => headers,
            Err(LoginFailed(why)) => return Ok(Sent::NotBuilt(why)),
        };
        let sent = self.exchange_with(spec, Credentials::Session(&headers), vars)?;
        let unauthorized = matches!(&sent, Sent::Exchanged(e) if e.response.as_ref().is_some_and(|r| r.status == 401));
        if !unauthorized || fresh {
            return Ok(sent);
        }
        // The session ended on the server (a rollback to before the login, an expiry).
        self.sessions.close(role);
        let headers = match self.session(role, vars)? {
            Ok(headers) => headers,
            Err(LoginFailed(why)) => return Ok(Sent::NotBuilt(why)),
        };
        self.exchange_with(spec, Credentials::Session(&headers), vars)
    }

    /// Sends `requests` (each a request with its role or authentication) at the same moment,
    /// for a concurrent step: the roles log in first, then every request gets a connection of
    /// its own and all are released together. The exchanges come back in the order given.
    /// [`Sent::NotBuilt`] (the first) when one cannot be built on this path: then none is
    /// sent. Fails like [`HttpWorld::exchange`] when the user interrupts the run or the API is
    /// gone.
    pub fn exchange_together(
        &mut self,
        requests: &[(&RequestSpec, Option<&str>, Option<&AuthSpec>)],
        vars: &Vars<'_>,
    ) -> Result<Result<Vec<Exchange>, String>, WorldError> {
        let mut sessions = Vec::with_capacity(requests.len());
        for (_, role, _) in requests {
            sessions.push(match role {
                Some(role) => match self.session(role, vars)? {
                    Ok(headers) => Some(headers),
                    Err(LoginFailed(why)) => return Ok(Err(why)),
                },
                None => None,
            });
        }
        let together: Vec<TogetherRequest<'_>> = requests
            .iter()
            .zip(&sessions)
            .map(|((spec, _, auth), session)| TogetherRequest {
                spec,
                credentials: match session {
                    Some(headers) => Credentials::Session(headers),
                    None => Credentials::Auth(*auth),
                },
                vars: Vars::new(vars.ctx),
            })
            .collect();
        self.check_answers.clear();
        let processes = &self.processes;
        let sent = self.runtime.block_on(async {
            tokio::select! {
                sent = self.client.send_together(&together) => Ok(sent),
                () = interrupted(processes) => Err(WorldError::new(
                    "interrupted while waiting for the answers of a concurrent step",
                )),
            }
        })?;
        let exchanges = match sent {
            Ok(exchanges) => exchanges,
            Err(SendError::Build(why)) => return Ok(Err(why)),
            Err(other) => return Err(WorldError::caused("a concurrent step", other)),
        };
        if exchanges.iter().all(|e| e.response.is_none()) {
            if let Err(gone) = self.still_answering() {
                return Err(WorldError::new(gone));
            }
        }
        Ok(Ok(exchanges))
    }

    /// The headers of `role`'s session, logging it in first when it has none: its login
    /// requests in order, each seeing what the earlier ones extracted (`vars` gives the path's
    /// context). `Err(LoginFailed)` says why it could not log in.
    fn session(
        &mut self,
        role: &str,
        vars: &Vars<'_>,
    ) -> Result<Result<Vec<(String, String)>, LoginFailed>, WorldError> {
        if let Some(headers) = self.sessions.headers(role) {
            return Ok(Ok(headers.to_vec()));
        }
        let Some(spec) = self.sessions.role(role).cloned() else {
            return Ok(Err(LoginFailed(format!("unknown role `{role}`"))));
        };
        let mut login_ctx = vars.ctx.clone();
        let mut answers = Vec::new();
        for step in &spec.login {
            let exchange = match self.exchange_with(
                &step.request,
                Credentials::Auth(None),
                &Vars::new(&login_ctx),
            )? {
                Sent::Exchanged(exchange) => exchange,
                Sent::NotBuilt(why) => {
                    return Ok(Err(LoginFailed(format!(
                        "role `{role}` cannot log in: {why}"
                    ))))
                }
            };
            let Some(response) = &exchange.response else {
                let why = exchange.error.as_deref().unwrap_or("no response");
                return Ok(Err(LoginFailed(format!(
                    "role `{role}` cannot log in: {} {} got no response: {why}",
                    exchange.request.method, exchange.request.url
                ))));
            };
            if !step.succeeded(response.status) {
                return Ok(Err(LoginFailed(format!(
                    "role `{role}` cannot log in: {} {} answered {}",
                    exchange.request.method, exchange.request.url, response.status
                ))));
            }
            venom_http::apply_extracts(&step.extract, &mut login_ctx, response);
            answers.push(exchange);
        }
        Ok(self
            .sessions
            .open(&spec, &login_ctx, &answers)
            .map(<[_]>::to_vec))
    }

    /// Writes the state the API's stores are in now into the folder `dir`: a copy of the SQLite
    /// file, a `pg_dump` of the saved PostgreSQL schemas (`postgres.sql`), the Redis keys with
    /// their `DUMP` payloads (`redis.json`). Returns the files written.
    pub fn save_state(&mut self, dir: &Path) -> Result<Vec<PathBuf>, WorldError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| WorldError::caused(format!("cannot create {}", dir.display()), e))?;
        let mut files = self.stores.save_to(dir)?;
        if let venom_scenario::RollbackSpec::Postgres(spec) = &self.rollback {
            files.push(crate::save_state::pg_dump(spec, dir)?);
        }
        Ok(files)
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &str {
        self.client.base_url()
    }

    /// Whether venom started the API (its `[server]`), so that it stops when venom does.
    pub fn owns_server(&self) -> bool {
        self.server.is_some()
    }

    /// Every credential the roles' logins were given so far: secrets, redacted in every
    /// output.
    pub fn issued_credentials(&self) -> &[String] {
        self.sessions.issued()
    }

    /// [`HttpWorld::exchange`] with the request's `credentials` decided.
    fn exchange_with(
        &mut self,
        spec: &RequestSpec,
        credentials: Credentials<'_>,
        vars: &Vars<'_>,
    ) -> Result<Sent, WorldError> {
        let failure = match self.send(spec, credentials, vars)? {
            Ok(exchange) => return Ok(Sent::Exchanged(exchange)),
            Err(SendError::Build(why)) => return Ok(Sent::NotBuilt(why)),
            Err(failure) => failure,
        };
        if matches!(
            failure,
            SendError::Connect { .. } | SendError::Transport { .. }
        ) {
            if let Err(gone) = self.still_answering() {
                return Err(WorldError::caused(gone, failure));
            }
        }
        failure
            .into_unanswered()
            .map(Sent::Exchanged)
            .map_err(|e| WorldError::caused("the request", e))
    }

    /// Whether the API still answers after a request broke: its `[server]` process (if venom
    /// started one) is running and `GET /` connects, at once or within [`GONE_PROBES`].
    /// `Err` says how it is gone.
    fn still_answering(&mut self) -> Result<(), String> {
        for pause in std::iter::once(Duration::ZERO).chain(GONE_PROBES) {
            if let Some(ended) = self.server.as_mut().and_then(ServerProcess::exited) {
                return Err(format!(
                    "the API stopped answering: its [server] process exited ({ended})"
                ));
            }
            std::thread::sleep(pause);
            if self.runtime.block_on(self.client.probe()).is_ok() {
                return Ok(());
            }
        }
        let waited: Duration = GONE_PROBES.iter().sum();
        Err(format!(
            "the API stopped answering at {}: it refused every connection for {waited:?}",
            self.client.base_url()
        ))
    }

    /// The `[openapi]` document, compiled (after [`HttpWorld::connect`]).
    pub fn conformance(&self) -> Option<&Arc<Conformance>> {
        self.conformance.as_ref()
    }

    /// `url` relative to the base URL (its path and query), for a request built from a URL
    /// an answer gave.
    pub(crate) fn relative_path(&self, url: &str) -> String {
        match url.strip_prefix(self.client.base_url()) {
            Some(rest) if rest.is_empty() || rest.starts_with(['/', '?']) => rest.to_string(),
            _ => {
                let rest = url.split_once("://").map_or(url, |(_, r)| r);
                rest.find('/').map_or("/", |at| &rest[at..]).to_string()
            }
        }
    }

    /// Sends `spec` with no credentials at all (no role, no authentication, not even the
    /// default one).
    pub(crate) fn exchange_without_credentials(
        &mut self,
        spec: &RequestSpec,
    ) -> Result<Sent, WorldError> {
        let ctx = Context::default();
        self.exchange_with(spec, Credentials::Session(&[]), &Vars::new(&ctx))
    }

    /// Before an action's step: when `failed_create_leaves_nothing` is active and `spec` is a
    /// create on a collection the document lists, reads that list (as the step is sent) and
    /// remembers its length for the check.
    pub(crate) fn read_list_before(
        &mut self,
        spec: &RequestSpec,
        (role, auth): (Option<&str>, Option<&AuthSpec>),
        vars: &Vars<'_>,
    ) -> Result<(), WorldError> {
        self.list_before = None;
        if !self.reads_lists_before_creates || spec.method != "POST" {
            return Ok(());
        }
        let Some(conformance) = self.conformance.clone() else {
            return Ok(());
        };
        let Ok(prepared) = self.client.prepare(spec, None, vars) else {
            return Ok(());
        };
        let Some(list_url) = crate::spec_checks::list_of_collection(&conformance, &prepared.url)
        else {
            return Ok(());
        };
        let path = self.relative_path(&list_url);
        let list = RequestSpec {
            method: "GET".into(),
            path: venom_scenario::Template::literal(&path),
            body: None,
            headers: Vec::new(),
        };
        if let Sent::Exchanged(exchange) = self.exchange(&list, role, auth, vars)? {
            if let Some(length) = exchange
                .response
                .as_ref()
                .and_then(|r| crate::spec_checks::list_length(&r.body))
            {
                self.list_before = Some((prepared.url, path, length));
            }
        }
        Ok(())
    }

    /// The list read before the create sent to `url`, as (list path, length), once.
    pub(crate) fn take_list_before(&mut self, url: &str) -> Option<(String, usize)> {
        match self.list_before.take() {
            Some((create, path, length)) if create == url => Some((path, length)),
            _ => None,
        }
    }

    /// Sends an invariant's check request, as [`HttpWorld::exchange`] does. A GET without a
    /// body is safe (RFC 9110), so while no other request, rollback or reset happened, an
    /// identical one is answered from memory.
    pub fn check_exchange(
        &mut self,
        spec: &RequestSpec,
        role: Option<&str>,
        vars: &Vars<'_>,
    ) -> Result<Sent, WorldError> {
        if !spec.method.eq_ignore_ascii_case("GET") || spec.body.is_some() {
            return self.exchange(spec, role, None, vars);
        }
        let prepared = match self.client.prepare(spec, None, vars) {
            Ok(prepared) => prepared,
            Err(why) => return Ok(Sent::NotBuilt(why.to_string())),
        };
        let key = format!("{role:?} {} {:?}", prepared.url, prepared.headers);
        if let Some(answer) = self.check_answers.get(&key) {
            return Ok(Sent::Exchanged(answer.clone()));
        }
        let sent = self.exchange(spec, role, None, vars)?;
        if let Sent::Exchanged(exchange) = &sent {
            self.check_answers.insert(key, exchange.clone());
        }
        Ok(sent)
    }

    /// Runs `query` (an invariant's `sql`) and reads its answer: one row of one boolean, as
    /// the scenario's database writes booleans.
    pub(crate) fn sql_truth(
        &mut self,
        query: &str,
    ) -> Result<Result<bool, SqlAnswerError>, WorldError> {
        let booleans = match self.rollback {
            venom_scenario::RollbackSpec::Postgres(_) => sql_check::Booleans::Postgres,
            _ => sql_check::Booleans::Sqlite,
        };
        Ok(sql_check::truth(&self.sql(query)?, booleans))
    }

    /// Runs `query` against the API's database as the API sees it (SQLite, or PostgreSQL
    /// through the transaction proxy's session when the proxy is used); every value as text.
    /// Fails when the scenario has no database.
    pub fn sql(&mut self, query: &str) -> Result<Vec<Vec<Option<String>>>, WorldError> {
        self.stores.query_text(query)
    }

    /// Runs every SQL invariant once, so that a query that fails or does not return one
    /// boolean is reported before the exploration starts.
    fn check_sql_invariants(&mut self, scenario: &Scenario) -> Result<(), SetupError> {
        for invariant in &scenario.invariants {
            let failed = |source| SetupError::SqlFailed {
                invariant: invariant.name.clone(),
                source,
            };
            match &invariant.condition {
                Condition::Sql(sql) => {
                    self.sql_truth(sql).map_err(failed)?.map_err(|answer| {
                        SetupError::SqlAnswer {
                            invariant: invariant.name.clone(),
                            answer,
                        }
                    })?;
                }
                Condition::OffendingRows(sql) => {
                    self.sql(sql).map_err(failed)?;
                }
                Condition::Expr(_) => {}
            }
        }
        Ok(())
    }

    /// Whether this is the first time the `extract` of `key` in `action` matched nothing (a
    /// warning is said once, not at every step).
    pub fn first_unmatched_extract(&mut self, action: &str, key: &str) -> bool {
        self.unmatched_extracts
            .insert((action.to_string(), key.to_string()))
    }

    /// Stops the server venom started, if any.
    pub fn stop_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
    }

    fn reset_by_request(&mut self, spec: &RequestSpec) -> Result<(), WorldError> {
        let ctx = venom_engine::Context::new();
        let exchange = self
            .send(spec, Credentials::Auth(None), &Vars::new(&ctx))?
            .map_err(|e| WorldError::caused("reset request", e))?;
        match &exchange.response {
            Some(response) if response.status < 400 => Ok(()),
            Some(response) => Err(WorldError::new(format!(
                "reset request {} {} answered {}: {}",
                exchange.request.method, exchange.request.url, response.status, response.body
            ))),
            None => Err(WorldError::new("reset request got no response")),
        }
    }

    /// Runs the reset command, then drops the kept connections: a slow command left them idle
    /// past the server's keep-alive, and one that restarts the server left them dead.
    fn reset_by_command(&mut self, command: &str) -> Result<(), WorldError> {
        let ran = self.run_reset_command(command);
        self.client
            .reconnect()
            .map_err(|e| WorldError::caused("after the reset command", e))?;
        ran
    }

    /// Stops the `[server]` and starts it again (waiting until it is ready), then drops the
    /// connections to the old process.
    fn restart_server(&mut self) -> Result<(), WorldError> {
        let Some((spec, env)) = self.server_start.clone() else {
            return Err(WorldError::new(
                "kind = \"restart\" needs a [server] to restart",
            ));
        };
        self.stop_server();
        let server = ServerProcess::start(&spec, &env, &self.processes)
            .map_err(|e| WorldError::caused("restarting the [server]", e))?;
        self.server = Some(server);
        self.client
            .reconnect()
            .map_err(|e| WorldError::caused("after restarting the [server]", e))
    }

    fn run_reset_command(&self, command: &str) -> Result<(), WorldError> {
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .envs(self.command_env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.folder)
            .output()
            .map_err(|e| {
                WorldError::caused(format!("cannot run the reset command `{command}`"), e)
            })?;
        if output.status.success() {
            return Ok(());
        }
        Err(WorldError::new(format!(
            "the reset command `{command}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }

    fn adapter(&mut self) -> Result<&mut CompositeAdapter, WorldError> {
        if !self.stores.restores() {
            return Err(WorldError::new(
                "this world has no checkpoints (reset + replay)",
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
            Mechanism::ResetReplay.name().into()
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
        self.sessions.path_changed();
        self.adapter()?.rollback(id)
    }

    fn release(&mut self, id: CheckpointId) {
        self.stores.release(id);
    }

    fn checkpoint_bytes(&self) -> Option<u64> {
        self.stores.checkpoint_bytes()
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.stores.take_warnings()
    }

    /// Lent when every restored store can lend (SQLite snapshots can); the sessions need no
    /// care: a restore from another copy forgets them as a rollback does.
    fn lend(&mut self, id: CheckpointId) -> Option<LentCheckpoint> {
        self.stores.lend(id)
    }

    fn restore_lent(&mut self, lent: &LentCheckpoint) -> Result<(), WorldError> {
        self.check_answers.clear();
        self.sessions.path_changed();
        self.adapter()?.restore_lent(lent)
    }

    /// Restores the initial state with the `[reset]`, tried again up to `retries` times with a
    /// doubling pause (100 ms, 200 ms, … at most 2 s); a failure says which attempt it was.
    fn reset(&mut self) -> Result<(), WorldError> {
        self.check_answers.clear();
        self.sessions.path_changed();
        let Some(reset) = self.reset.clone() else {
            return Err(WorldError::new(
                "the scenario declares no [reset], so the initial state cannot be restored",
            ));
        };
        let attempts = self.reset_retries + 1;
        let mut pause = RESET_BACKOFF_START;
        let mut attempt = 1;
        loop {
            let tried = match &reset {
                ResetSpec::Request(spec) => self.reset_by_request(spec),
                ResetSpec::Command(command) => self.reset_by_command(command),
                ResetSpec::Restart => self.restart_server(),
            };
            match tried {
                Ok(()) => return Ok(()),
                // An interrupted reset is not tried again.
                Err(e) if attempt >= attempts || self.processes.abandoned() => {
                    return Err(WorldError::caused(
                        format!("reset attempt {attempt} of {attempts} failed"),
                        e,
                    ))
                }
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(RESET_BACKOFF_MAX);
                    attempt += 1;
                }
            }
        }
    }

    /// What the stores hold, and the answers of the `[[observe]]` requests (`http:NAME`).
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut observation = self.stores.observe()?;
        for i in 0..self.observations.len() {
            let spec = self.observations[i].clone();
            let ctx = self.initial_ctx.clone();
            let sent = self.check_exchange(
                &spec.call.request,
                spec.call.role.as_deref(),
                &Vars::new(&ctx),
            )?;
            let kept = crate::observe::kept(&spec, &sent, &ctx);
            observation.insert(format!("http:{}", spec.name), kept);
        }
        Ok(observation)
    }
}

/// Returns once the user interrupted the run (polled every 20 ms).
async fn interrupted(processes: &Processes) {
    while !processes.abandoned() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
