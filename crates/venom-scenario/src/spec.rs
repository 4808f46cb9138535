//! Raw serde structures mirroring the TOML file, with spans for later validation.
//!
//! Every struct denies unknown fields; none uses `#[serde(flatten)]` (it would defeat that).

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;
use toml::Spanned;
use venom_engine::{Severity, Strategy};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub base_url: Spanned<String>,
    pub state_from_context: Option<Vec<Spanned<String>>>,
    pub explore: Option<RawExplore>,
    pub server: Option<RawServer>,
    pub reset: Option<Spanned<RawReset>>,
    pub rollback: Option<RawRollback>,
    pub defaults: Option<RawDefaults>,
    pub actions: Option<Spanned<Vec<Spanned<RawAction>>>>,
    pub invariants: Option<Vec<Spanned<RawInvariant>>>,
    pub builtins: Option<RawBuiltins>,
    pub load: Option<RawLoad>,
    pub redis: Option<Spanned<RawRedis>>,
    pub redact: Option<RawRedact>,
    /// Values of the initial context.
    pub context: Option<OrderedMap<Node>>,
    /// Identities requests can be sent as (`as = "NAME"`).
    pub roles: Option<OrderedMap<Spanned<RawRole>>>,
    /// HTTP observations whose results feed the state fingerprint.
    pub observe: Option<Vec<Spanned<RawObserve>>>,
    /// The API's OpenAPI document, read by the built-in response checks.
    pub openapi: Option<RawOpenapi>,
    /// Sets of actions sent together (`[[races]]`).
    pub races: Option<Vec<Spanned<RawRace>>>,
}

/// `[openapi]`: where the API's OpenAPI document is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOpenapi {
    /// A path (relative to the scenario file) or an `http(s)://` URL.
    pub spec: Spanned<String>,
}

/// `[roles.NAME]`: how an identity logs in and sends its credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub login: Spanned<Vec<RawStep>>,
    pub bearer: Option<Spanned<String>>,
    pub header: Option<Spanned<RawHeaderCredential>>,
    pub cookies: Option<Spanned<bool>>,
    pub relogin: Option<Spanned<RawRelogin>>,
}

/// `header = { name = "X-Session", key = "token" }` of a role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderCredential {
    pub name: Spanned<String>,
    pub key: Spanned<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum RawRelogin {
    #[serde(rename = "on_401")]
    On401,
    #[serde(rename = "per_path")]
    PerPath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum RawExtractOn {
    #[serde(rename = "2xx")]
    Success,
    #[serde(rename = "any")]
    Any,
}

/// One request of an action's `steps` or of a role's `login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub method: Spanned<String>,
    pub path: Spanned<String>,
    pub body: Option<Node>,
    pub headers: Option<OrderedMap<Spanned<String>>>,
    pub expect: Option<Spanned<Vec<Spanned<i64>>>>,
    pub extract: Option<OrderedMap<Node>>,
    pub extract_on: Option<Spanned<RawExtractOn>>,
    #[serde(rename = "as")]
    pub role: Option<Spanned<String>>,
}

/// An invariant's `check`, or one entry of its `checks` (which have a `name`, and may be a
/// `sql` query instead of a request).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCall {
    pub name: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub sql: Option<Spanned<String>>,
    pub body: Option<Node>,
    pub headers: Option<OrderedMap<Spanned<String>>>,
    #[serde(rename = "as")]
    pub role: Option<Spanned<String>>,
}

/// `[[observe]]`: a request whose answer feeds the state fingerprint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawObserve {
    pub name: Spanned<String>,
    pub method: Option<Spanned<String>>,
    pub path: Spanned<String>,
    pub headers: Option<OrderedMap<Spanned<String>>>,
    #[serde(rename = "as")]
    pub role: Option<Spanned<String>>,
    pub keep: Option<Spanned<String>>,
    pub expr: Option<Spanned<String>>,
    pub ignore: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedact {
    pub fields: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExplore {
    pub strategy: Option<Strategy>,
    pub max_steps: Option<u64>,
    pub max_depth: Option<u32>,
    pub coverage_target: Option<Spanned<f64>>,
    pub time_limit: Option<Spanned<f64>>,
    pub seed: Option<u64>,
    pub progress_every: Option<u64>,
    pub loop_threshold: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    pub command: Spanned<String>,
    pub cwd: Option<String>,
    pub env: Option<OrderedMap<Spanned<String>>>,
    pub ready_url: Option<Spanned<String>>,
    pub ready_timeout: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReset {
    pub request: Option<RawRequest>,
    pub command: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
    pub body_file: Option<Spanned<String>>,
    pub kind: Option<Spanned<RawResetKind>>,
}

/// `[reset] kind`: the only kind that is not said by `request` or `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawResetKind {
    Restart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawRollbackMode {
    Reset,
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawPgMechanism {
    Snapshot,
    Proxy,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRollback {
    pub mode: Option<Spanned<RawRollbackMode>>,
    pub sqlite_path: Option<Spanned<String>>,
    pub observe_tables: Option<Spanned<Vec<Spanned<String>>>>,
    pub postgres_url: Option<Spanned<String>>,
    pub postgres_url_env: Option<Spanned<String>>,
    pub mechanism: Option<Spanned<RawPgMechanism>>,
    pub proxy_listen: Option<Spanned<String>>,
    pub schemas: Option<Spanned<Vec<Spanned<String>>>>,
    pub observe_queries: Option<Spanned<OrderedMap<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {
    pub url: Option<Spanned<String>>,
    pub url_env: Option<Spanned<String>>,
    pub observe_patterns: Option<Vec<Spanned<String>>>,
    pub rollback: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    pub headers: Option<OrderedMap<Spanned<String>>>,
    pub timeout: Option<Spanned<f64>>,
    pub auth: Option<Spanned<RawAuth>>,
    pub max_body_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub bearer_env: Option<Spanned<String>>,
    pub basic_user_env: Option<Spanned<String>>,
    pub basic_password_env: Option<Spanned<String>>,
    pub header: Option<Spanned<String>>,
    pub value_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequest {
    pub method: Spanned<String>,
    pub path: Spanned<String>,
    pub body: Option<Node>,
    pub headers: Option<OrderedMap<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    pub name: Spanned<String>,
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub body: Option<Node>,
    pub headers: Option<OrderedMap<Spanned<String>>>,
    pub auth: Option<Spanned<RawAuth>>,
    pub expect: Option<Spanned<Vec<Spanned<i64>>>>,
    pub extract: Option<OrderedMap<Node>>,
    pub extract_on: Option<Spanned<RawExtractOn>>,
    pub steps: Option<Spanned<Vec<RawStep>>>,
    #[serde(rename = "as")]
    pub role: Option<Spanned<String>>,
    pub set: Option<OrderedMap<Node>>,
    pub requires: Option<RawRequires>,
    pub max_calls: Option<Spanned<u32>>,
    pub weight: Option<Spanned<f64>>,
    /// Also try sending this many copies of the action at the same moment.
    pub concurrent: Option<Spanned<i64>>,
    /// The rate the API is meant to accept (`"10/s"`), checked by `venom load --check-quota`.
    pub quota: Option<Spanned<String>>,
    /// How far the accepted rate may be from the quota (`"20%"`, the default).
    pub quota_tolerance: Option<Spanned<String>>,
}

/// `[[races]]`: actions sent together, at the same moment.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRace {
    pub name: Option<Spanned<String>>,
    pub actions: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequires {
    pub actions: Option<Vec<Spanned<String>>>,
    pub keys: Option<Vec<Spanned<String>>>,
    pub expr: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInvariant {
    pub name: Spanned<String>,
    pub severity: Option<Severity>,
    pub when: Option<Spanned<String>>,
    pub check: Option<RawCall>,
    pub checks: Option<Spanned<Vec<RawCall>>>,
    pub expr: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
    pub sql: Option<Spanned<String>>,
    pub offending_rows: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBuiltins {
    pub no_server_errors: Option<bool>,
    pub response_schema: Option<bool>,
    pub use_after_free: Option<bool>,
    pub create_then_read: Option<bool>,
    pub failed_create_leaves_nothing: Option<bool>,
    pub auth_enforced: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    pub flows: Option<Spanned<Vec<RawFlow>>>,
    pub abort_on_fail: Option<bool>,
    /// Metric keys to conditions; values are kept as nodes so that a dotted key written
    /// without quotes (which TOML reads as a nested table) gets a helpful error.
    pub thresholds: Option<OrderedMap<Node>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Spanned<String>,
    pub actions: Spanned<Vec<Spanned<String>>>,
    pub weight: Option<Spanned<f64>>,
}

/// A TOML table kept in document order, with spanned keys.
#[derive(Debug)]
pub(crate) struct OrderedMap<V>(pub Vec<(Spanned<String>, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<V>()?;
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// Any TOML value, with the span of every value inside it.
#[derive(Debug)]
pub(crate) struct Node {
    pub span: std::ops::Range<usize>,
    pub kind: NodeKind,
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A TOML date/time, kept as its RFC 3339 text.
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeKind>::deserialize(deserializer)?;
        Ok(Node {
            span: spanned.span(),
            kind: spanned.into_inner(),
        })
    }
}

/// The key under which the `toml` deserializer hands out date/times.
const TOML_DATETIME_FIELD: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = NodeKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeKind, E> {
                Ok(NodeKind::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeKind, E> {
                Ok(NodeKind::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeKind, E> {
                i64::try_from(v)
                    .map(NodeKind::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeKind, E> {
                Ok(NodeKind::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<NodeKind, E> {
                Ok(NodeKind::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(NodeKind::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == TOML_DATETIME_FIELD {
                        let text = map.next_value::<String>()?;
                        return Ok(NodeKind::Datetime(text));
                    }
                    fields.push((key, map.next_value::<Node>()?));
                }
                Ok(NodeKind::Table(fields))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}
