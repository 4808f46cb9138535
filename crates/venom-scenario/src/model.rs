//! The validated scenario: what the rest of venom works with.

use crate::builtins::Builtin;
use crate::expr::Expr;
use crate::extract::Extractor;
use crate::load_spec::LoadSpec;
use crate::template::{Template, TemplateValue};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use venom_engine::{CheckpointMode, Mechanism, Severity, Strategy, Timing};

/// Written in `base_url` (of a scenario with a `[server]`), it stands for a free port venom
/// chooses at each run; the server's environment has it as `VENOM_PORT`.
pub const PORT_PLACEHOLDER: &str = "${VENOM_PORT}";

/// A parsed and validated scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from (as given to [`crate::load`] / [`crate::parse`]).
    pub file: PathBuf,
    /// Base URL every request path is joined to; starts with `http://` or `https://`, no
    /// trailing `/`.
    pub base_url: String,
    /// Context keys whose values identify a state (each extracted or set by some action);
    /// `None` means all keys.
    pub state_from_context: Option<Vec<String>>,
    /// Exploration defaults from `[explore]` (command-line flags override them).
    pub explore: ExploreDefaults,
    /// The API server venom starts and stops, from `[server]`.
    pub server: Option<ServerSpec>,
    /// How to restore the initial state, from `[reset]`.
    pub reset: Option<ResetSpec>,
    /// How many times a failed reset is tried again, with backoff (`[reset] retries`, default 0).
    pub reset_retries: u32,
    /// How to go back to an earlier state, from `[rollback]`.
    pub rollback: RollbackSpec,
    /// The API's Redis database, from `[redis]`.
    pub redis: Option<RedisSpec>,
    /// Request defaults from `[defaults]`.
    pub defaults: Defaults,
    /// The actions, in file order (at least one).
    pub actions: Vec<ActionSpec>,
    /// Steps that send several actions' requests at the same moment: an action's
    /// `concurrent = N` copies, then the `[[races]]`, in file order.
    pub concurrent: Vec<ConcurrentSpec>,
    /// The user invariants, in file order.
    pub invariants: Vec<InvariantSpec>,
    /// Built-in invariants switched on or off.
    pub builtins: Builtins,
    /// Flows and thresholds for `venom load`, from `[load]`.
    pub load: Option<LoadSpec>,
    /// More name fragments of secret fields, headers and parameters (`[redact] fields`), on
    /// top of the defaults every report redacts.
    pub redact_fields: Vec<String>,
    /// The environment variables the scenario reads (`env.NAME` in expressions and templates,
    /// `${NAME}` in `[server].env`, the `…_env` of `auth`): their values never appear in any
    /// output.
    pub env_names: BTreeSet<String>,
    /// The initial context (`[context]`), in file order: typed values, templates rendered once
    /// at the start of a run (they may read `env`).
    pub initial_context: Vec<(String, TemplateValue)>,
    /// The identities requests are sent as (`[roles.NAME]`), in file order.
    pub roles: Vec<RoleSpec>,
    /// The HTTP observations (`[[observe]]`) whose results feed the state fingerprint.
    pub observations: Vec<ObserveSpec>,
    /// The API's OpenAPI document (`[openapi] spec`), read by the built-in response checks.
    pub openapi: Option<OpenApiSource>,
}

/// Where the API's OpenAPI document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenApiSource {
    /// A file (resolved against the scenario file's folder).
    File(PathBuf),
    /// An `http(s)://` URL, fetched when the run starts (once the `[server]` is up).
    Url(String),
}

impl std::fmt::Display for OpenApiSource {
    /// The path, or the URL without the `user:password@` it may carry (never shown).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match self {
            OpenApiSource::File(path) => return write!(f, "{}", path.display()),
            OpenApiSource::Url(url) => url,
        };
        let Some((scheme, rest)) = url.split_once("://") else {
            return f.write_str(url);
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => write!(f, "{scheme}://{}", &rest[at + 1..]),
            None => f.write_str(url),
        }
    }
}

impl Scenario {
    /// The initial context: the `[context]` values rendered in file order (each sees the keys
    /// above it and `env`). Fails, naming the key, when one cannot be rendered.
    pub fn initial_context(&self) -> Result<venom_engine::Context, (String, crate::EvalError)> {
        let mut ctx = venom_engine::Context::new();
        for (key, value) in &self.initial_context {
            let rendered = value
                .render(&crate::Vars::new(&ctx))
                .map_err(|e| (key.clone(), e))?;
            ctx.set(key.clone(), rendered);
        }
        Ok(ctx)
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// Whether `base_url` leaves its port to venom ([`PORT_PLACEHOLDER`]).
    pub fn chooses_port(&self) -> bool {
        self.base_url.contains(PORT_PLACEHOLDER)
    }

    /// The scenario with `port` in place of [`PORT_PLACEHOLDER`] in `base_url` and in the
    /// server's readiness URL.
    pub fn on_port(&self, port: u16) -> Scenario {
        let place = |url: &str| url.replace(PORT_PLACEHOLDER, &port.to_string());
        let mut placed = self.clone();
        placed.base_url = place(&self.base_url);
        if let Some(server) = &mut placed.server {
            server.ready_url = place(&server.ready_url);
        }
        placed
    }

    /// The rollback mechanisms the run will use, as `explore` names them: the database's, then
    /// Redis snapshots when `[redis] rollback = true` (reset + replay alone when nothing
    /// restores).
    pub fn mechanisms(&self) -> Vec<Mechanism> {
        let database = self.rollback.mechanism();
        let redis = self.redis.as_ref().is_some_and(|r| r.rollback);
        match (database, redis) {
            (Mechanism::ResetReplay, _) => vec![Mechanism::ResetReplay],
            (database, true) => vec![database, Mechanism::RedisSnapshots],
            (database, false) => vec![database],
        }
    }

    /// What the run's checkpoints can do.
    pub fn checkpoint_mode(&self) -> CheckpointMode {
        self.mechanisms()
            .iter()
            .map(|m| m.checkpoint_mode())
            .fold(CheckpointMode::RandomAccess, CheckpointMode::weakest)
    }

    /// The built-in invariants checked for this scenario, in order.
    pub fn active_builtins(&self) -> Vec<Builtin> {
        Builtin::ALL
            .into_iter()
            .filter(|b| b.is_active(&self.builtins, &self.actions, self.openapi.is_some()))
            .collect()
    }

    /// The action named `name`.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Every step exploration runs, as actions: the actions, then each concurrent step seen as
    /// [`ConcurrentSpec::as_action`] does. What the checks that match a step's exchanges with
    /// the requests that sent them read.
    pub fn explored_steps(&self) -> Vec<ActionSpec> {
        let concurrent = self.concurrent.iter().map(|c| c.as_action(&self.actions));
        self.actions.iter().cloned().chain(concurrent).collect()
    }
}

impl ConcurrentSpec {
    /// The step as one action whose requests are its members' (in order, each with its role,
    /// `expect` and `extract`; the first member's authentication): how the checks see it, since
    /// a concurrent step's exchanges come in its members' order. Its requests are sent at once,
    /// never in turn.
    pub fn as_action(&self, actions: &[ActionSpec]) -> ActionSpec {
        let first = &actions[self.members[0]];
        ActionSpec {
            name: self.name.clone(),
            steps: self
                .members
                .iter()
                .flat_map(|&m| actions[m].steps.first().cloned())
                .collect(),
            auth: first.auth.clone(),
            set: Vec::new(),
            requires: Requires::default(),
            max_calls: None,
            weight: first.weight,
            quota: None,
        }
    }
}

/// Exploration defaults from `[explore]`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExploreDefaults {
    /// Exploration strategy.
    pub strategy: Option<Strategy>,
    /// Maximum number of actions executed.
    pub max_steps: Option<u64>,
    /// Maximum path length.
    pub max_depth: Option<u32>,
    /// Stop once this fraction of actions has run; in (0, 1].
    pub coverage_target: Option<f64>,
    /// Wall-clock limit (positive).
    pub time_limit: Option<Duration>,
    /// Random seed.
    pub seed: Option<u64>,
    /// Report progress every this many steps.
    pub progress_every: Option<u64>,
    /// Warn when an action leaves the state unchanged from this many states.
    pub loop_threshold: Option<u32>,
}

/// The API server venom starts (with `sh -c`) and stops afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Shell command line.
    pub command: String,
    /// Working directory, resolved against the scenario file's folder (default: that folder).
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Absolute readiness URL: a `ready_url` path is joined to `base_url`; defaults to
    /// `base_url` itself. Ready when it answers with a status < 500.
    pub ready_url: String,
    /// How long to wait for readiness (default 15 s).
    pub ready_timeout: Duration,
}

/// How to restore the API's initial state.
#[derive(Debug, Clone)]
pub enum ResetSpec {
    /// An HTTP request (path joined to `base_url`).
    Request(RequestSpec),
    /// A shell command (run with `sh -c` in the scenario file's folder).
    Command(String),
    /// Stop the `[server]` and start it again (`kind = "restart"`).
    Restart,
}

/// How the explorer returns to an earlier state.
#[derive(Debug, Clone, PartialEq)]
pub enum RollbackSpec {
    /// Reset, then replay the path's actions (the default). The SQLite tables, when given, are
    /// only observed (read) to tell states apart.
    Reset {
        /// An SQLite database whose tables are observed, never restored.
        observe: Option<SqliteSpec>,
    },
    /// Snapshot and restore the API's SQLite database file.
    Sqlite(SqliteSpec),
    /// Checkpoint and restore the API's PostgreSQL database.
    Postgres(PostgresSpec),
}

impl RollbackSpec {
    /// Whether venom can query the API's database (an SQLite file, or PostgreSQL).
    pub fn has_database(&self) -> bool {
        match self {
            RollbackSpec::Postgres(_) | RollbackSpec::Sqlite(_) => true,
            RollbackSpec::Reset { observe } => observe.is_some(),
        }
    }

    /// The mechanism that restores the database (reset + replay when none does).
    pub fn mechanism(&self) -> Mechanism {
        match self {
            RollbackSpec::Reset { .. } => Mechanism::ResetReplay,
            RollbackSpec::Sqlite(_) => Mechanism::SqliteSnapshots,
            RollbackSpec::Postgres(spec) => match spec.mechanism {
                PgMechanism::Snapshot { .. } => Mechanism::PostgresSnapshots,
                PgMechanism::Proxy { .. } => Mechanism::PostgresProxy,
            },
        }
    }
}

impl Default for RollbackSpec {
    fn default() -> Self {
        RollbackSpec::Reset { observe: None }
    }
}

/// The API's SQLite database and the tables observed in it.
#[derive(Debug, Clone, PartialEq)]
pub struct SqliteSpec {
    /// The database file, resolved against the scenario file's folder.
    pub path: PathBuf,
    /// Tables whose content hashes feed the state fingerprint (SQL identifiers).
    pub observe_tables: Vec<String>,
    /// Named queries whose rows feed the state fingerprint, in file order.
    pub observe_queries: Vec<(String, String)>,
}

/// A connection URL, written in the file or read from an environment variable at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    /// The URL itself.
    Literal(String),
    /// The name of the environment variable holding the URL.
    Env(String),
}

impl UrlSource {
    /// The URL; fails, naming the variable, when it is not set.
    pub fn resolve(&self) -> Result<String, UnsetUrlVar> {
        match self {
            UrlSource::Literal(url) => Ok(url.clone()),
            UrlSource::Env(name) => std::env::var(name).map_err(|_| UnsetUrlVar(name.clone())),
        }
    }
}

/// The environment variable that should hold a connection URL is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} (the URL) is not set")]
pub struct UnsetUrlVar(pub String);

/// The API's PostgreSQL database, how venom rolls it back and what it observes in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSpec {
    /// The database's URL (upstream of the proxy, when the proxy is used).
    pub url: UrlSource,
    /// How states are saved and restored.
    pub mechanism: PgMechanism,
    /// Tables (`table` or `schema.table`) whose row counts and content hashes feed the state
    /// fingerprint.
    pub observe_tables: Vec<String>,
    /// Named queries whose results feed the state fingerprint, in file order.
    pub observe_queries: Vec<(String, String)>,
}

/// How venom saves and restores a PostgreSQL database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgMechanism {
    /// Copies of the tables of `schemas` in the database (random access: every strategy).
    Snapshot {
        /// The schemas whose tables and sequences are saved (default `["public"]`).
        schemas: Vec<String>,
    },
    /// A transaction proxy between the API and the database, with a savepoint per checkpoint
    /// (stack-only: depth-first exploration only).
    Proxy {
        /// The loopback address the proxy listens on (port 0: any free port).
        listen: SocketAddr,
    },
}

/// The API's Redis database, from `[redis]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSpec {
    /// The database's URL (`redis://host:port/db`).
    pub url: UrlSource,
    /// `SCAN MATCH` patterns whose keys' content hashes feed the state fingerprint.
    pub observe_patterns: Vec<String>,
    /// Whether its keyspace is checkpointed and restored (default true); else only observed.
    pub rollback: bool,
}

/// Request defaults from `[defaults]`.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Headers sent with every request (actions may override them), in file order.
    pub headers: Vec<(String, Template)>,
    /// Per-request timeout (default 10 s).
    pub timeout: Duration,
    /// Default authentication.
    pub auth: Option<AuthSpec>,
    /// How much of each response body is kept (default [`DEFAULT_MAX_BODY_BYTES`]); the rest
    /// is not read.
    pub max_body_bytes: usize,
}

/// How much of each response body venom keeps unless `[defaults] max_body_bytes` says
/// otherwise: 256 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 << 10;

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            auth: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// Authentication; secrets are read from environment variables at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSpec {
    /// `Authorization: Bearer $env`.
    Bearer {
        /// Environment variable holding the token.
        env: String,
    },
    /// HTTP basic authentication.
    Basic {
        /// Environment variable holding the user name.
        user_env: String,
        /// Environment variable holding the password.
        password_env: String,
    },
    /// A custom header.
    Header {
        /// Header name.
        header: String,
        /// Environment variable holding the header's value.
        value_env: String,
    },
}

impl AuthSpec {
    /// The environment variables holding its secrets.
    pub fn env_names(&self) -> Vec<String> {
        match self {
            AuthSpec::Bearer { env } => vec![env.clone()],
            AuthSpec::Basic {
                user_env,
                password_env,
            } => vec![user_env.clone(), password_env.clone()],
            AuthSpec::Header { value_env, .. } => vec![value_env.clone()],
        }
    }
}

/// An HTTP request description.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Uppercase method: GET POST PUT PATCH DELETE HEAD OPTIONS.
    pub method: String,
    /// Path template, joined to `base_url`.
    pub path: Template,
    /// JSON body; its strings are templates.
    pub body: Option<TemplateValue>,
    /// Headers, in file order; values are templates.
    pub headers: Vec<(String, Template)>,
}

/// One request of an action (or of a role's login): what it sends, as whom, what it expects
/// and what it extracts.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// The request.
    pub request: RequestSpec,
    /// The role it is sent as (`as`), if any.
    pub role: Option<String>,
    /// Allowed statuses; `None` means any status < 500 (of a login step: any 2xx).
    pub expect: Option<Vec<u16>>,
    /// Context keys extracted from its JSON body, in file order.
    pub extract: Vec<Extract>,
}

impl StepSpec {
    /// Whether an answer with `status` lets the requests after it go on: a status in its
    /// `expect`, or 2xx without one.
    pub fn succeeded(&self, status: u16) -> bool {
        match &self.expect {
            Some(list) => list.contains(&status),
            None => (200..300).contains(&status),
        }
    }
}

/// One `extract` entry: a context key and the JSONPath query whose first match it takes.
#[derive(Debug, Clone)]
pub struct Extract {
    /// The context key.
    pub key: String,
    /// The query.
    pub path: Extractor,
    /// Whether it applies to an answer of any status (`extract_on = "any"`); else to 2xx only.
    pub any_status: bool,
}

impl Extract {
    /// Whether it applies to an answer with `status`.
    pub fn applies_to(&self, status: u16) -> bool {
        self.any_status || (200..300).contains(&status)
    }
}

/// One action the explorer may run.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Unique name, `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// The requests it sends, in order (one, or the action's `steps`); the context flows from
    /// each to the next, and a step that fails (its status is not expected, or not 2xx without
    /// `expect`) ends the action.
    pub steps: Vec<StepSpec>,
    /// Authentication overriding `[defaults].auth` for steps sent without a role.
    pub auth: Option<AuthSpec>,
    /// Context assignments after its last step answered 2xx (typed templates), in file order.
    pub set: Vec<(String, TemplateValue)>,
    /// Preconditions.
    pub requires: Requires,
    /// Maximum number of calls per path.
    pub max_calls: Option<u32>,
    /// Weight for the weighted strategy (finite, > 0; default 1.0).
    pub weight: f64,
    /// The rate the API is meant to accept for this action, if declared.
    pub quota: Option<Quota>,
}

/// An action's declared rate limit: `quota = "10/s"`, `quota_tolerance = "20%"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests accepted per second.
    pub per_second: f64,
    /// How far the accepted rate may be from `per_second`, as a fraction (0.2 = ±20 %).
    pub tolerance: f64,
}

impl ActionSpec {
    /// Its request, when it sends exactly one without a role: what load runs send.
    pub fn single_request(&self) -> Option<&StepSpec> {
        match self.steps.as_slice() {
            [step] if step.role.is_none() => Some(step),
            _ => None,
        }
    }
}

/// A step of exploration that sends several requests at the same moment (released together
/// once their connections are open): `concurrent = N` copies of one action, or a `[[races]]`
/// set. Each member is an action that sends one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrentSpec {
    /// Its name in paths: `ACTION*N` for copies, the race's `name` (default: its actions
    /// joined by `+`). Never an action's name.
    pub name: String,
    /// The actions sent together (indexes into [`Scenario::actions`]), in order.
    pub members: Vec<usize>,
}

/// Preconditions of an action; all must hold.
#[derive(Debug, Clone, Default)]
pub struct Requires {
    /// Actions that must have run (successfully) earlier on the path.
    pub actions: Vec<String>,
    /// Context keys that must be present (each extracted or set by some action).
    pub keys: Vec<String>,
    /// A CEL guard that must be true (`last` is not available).
    pub expr: Option<Expr>,
}

/// A user invariant.
#[derive(Debug, Clone)]
pub struct InvariantSpec {
    /// Unique name, `[A-Za-z_][A-Za-z0-9_.-]*`.
    pub name: String,
    /// How bad a violation is (default high).
    pub severity: Severity,
    /// Guard: the invariant is skipped when it is false.
    pub when: Option<Expr>,
    /// When it is checked: after every step, or before every action (`when = "before"`).
    pub timing: Timing,
    /// Optional HTTP call; `last` is then its response.
    pub check: Option<CallSpec>,
    /// Named calls (`checks`), in file order, each answer seen by its name in `expr` (and in
    /// the templates of the calls after it).
    pub checks: Vec<Check>,
    /// The condition that must be true.
    pub condition: Condition,
    /// Message template for violations.
    pub message: Option<Template>,
}

impl InvariantSpec {
    /// Whether it reads the answer of the step just run (`last` without a `check` of its own):
    /// it means nothing outside an exploration step.
    pub fn reads_the_step(&self) -> bool {
        let reads_last = |expr: Option<&Expr>| expr.is_some_and(Expr::uses_last);
        self.check.is_none() && (reads_last(self.expr()) || reads_last(self.when.as_ref()))
    }

    /// Whether it queries the API's database: written as `sql` or `offending_rows`, or with a
    /// `sql` entry among its `checks`.
    pub fn reads_the_database(&self) -> bool {
        !matches!(self.condition, Condition::Expr(_))
            || self.checks.iter().any(|c| matches!(c, Check::Sql { .. }))
    }

    /// The CEL expression, for an invariant written with `expr`.
    pub fn expr(&self) -> Option<&Expr> {
        match &self.condition {
            Condition::Expr(expr) => Some(expr),
            Condition::Sql(_) | Condition::OffendingRows(_) => None,
        }
    }
}

/// An HTTP call of an invariant or an observation.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The name its response is seen by in `expr` (entries of `checks`; else empty).
    pub name: String,
    /// The request.
    pub request: RequestSpec,
    /// The role it is sent as, if any.
    pub role: Option<String>,
}

/// One of an invariant's named `checks`.
#[derive(Debug, Clone)]
pub enum Check {
    /// An HTTP call: its answer is `{status, body, headers, elapsed_ms}`.
    Http(CallSpec),
    /// A SQL query (a template) against the API's database: its answer is `{rows}`, each row a
    /// list of text values (`null` for NULL).
    Sql {
        /// The name its answer is seen by.
        name: String,
        /// The query.
        query: Template,
    },
}

impl Check {
    /// The name its answer is seen by.
    pub fn name(&self) -> &str {
        match self {
            Check::Http(call) => &call.name,
            Check::Sql { name, .. } => name,
        }
    }
}

/// What an invariant checks.
#[derive(Debug, Clone)]
pub enum Condition {
    /// A CEL expression that must be true.
    Expr(Expr),
    /// A SQL query, run against the API's database (SQLite or PostgreSQL), that must return one
    /// row holding true.
    Sql(String),
    /// A SQL query for the rows that break the rule: it must return none (the message shows
    /// the first ones).
    OffendingRows(String),
}

/// An identity requests are sent as: how it logs in and how its credential is sent.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// The name actions, checks and observations give in `as`.
    pub name: String,
    /// The login requests, in order; their `extract` keys are the role's own (never in the
    /// path's context, never in the state).
    pub login: Vec<StepSpec>,
    /// How the credential is sent.
    pub credential: Credential,
    /// When the role logs in again.
    pub relogin: Relogin,
}

/// How a role's credential goes with its requests. Its value is a secret: redacted in every
/// output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer VALUE`, VALUE the login's key `key`.
    Bearer {
        /// The login's extracted key.
        key: String,
    },
    /// Header `name: VALUE`, VALUE the login's key `key`.
    Header {
        /// The header name.
        name: String,
        /// The login's extracted key.
        key: String,
    },
    /// The cookies the login answers set (`Set-Cookie`), sent back as `Cookie`.
    Cookies,
}

impl Credential {
    /// The login key holding the credential (none for cookies).
    pub fn key(&self) -> Option<&str> {
        match self {
            Credential::Bearer { key } | Credential::Header { key, .. } => Some(key),
            Credential::Cookies => None,
        }
    }
}

/// When a role logs in again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relogin {
    /// When a request sent as the role is answered 401: it logs in and sends it once more.
    OnUnauthorized,
    /// On every path: after each reset or rollback (and on 401, too).
    PerPath,
}

/// An HTTP observation: a request whose (projected) answer feeds the state fingerprint.
#[derive(Debug, Clone)]
pub struct ObserveSpec {
    /// Unique name; the observation key is `http:NAME`.
    pub name: String,
    /// The request, and the role it is sent as. Its templates see `env` and the `[context]`.
    pub call: CallSpec,
    /// What of the answer is kept.
    pub keep: Projection,
    /// JSONPath queries whose matches are removed from the body first (timestamps, ids).
    pub ignore: Vec<Extractor>,
}

/// What an observation keeps of its answer.
#[derive(Debug, Clone)]
pub enum Projection {
    /// The status and the whole body.
    Whole,
    /// Every match of a JSONPath query in the body, as a list.
    Path(Extractor),
    /// A CEL expression over `last` (the answer).
    Expr(Expr),
}

/// Built-in invariants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtins {
    /// Critical: the last response's status must be < 500 (default on).
    pub no_server_errors: bool,
    /// With `[openapi]`: every response conforms to the document (default on).
    pub response_schema: bool,
    /// With `[openapi]`: a deleted resource is gone (default on).
    pub use_after_free: bool,
    /// With `[openapi]`: a created resource can be read back (default on).
    pub create_then_read: bool,
    /// With `[openapi]`: a create that failed leaves nothing behind (default on).
    pub failed_create_leaves_nothing: bool,
    /// With `[openapi]`: a secured operation refuses requests without credentials (default on).
    pub auth_enforced: bool,
}

impl Default for Builtins {
    fn default() -> Self {
        Builtins {
            no_server_errors: true,
            response_schema: true,
            use_after_free: true,
            create_then_read: true,
            failed_create_leaves_nothing: true,
            auth_enforced: true,
        }
    }
}
