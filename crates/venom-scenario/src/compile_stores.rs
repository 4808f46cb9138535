//! Validation of the stores behind the API beyond SQLite: `[rollback] mode = "postgres"`, the
//! `[redis]` table, and the invariants written as SQL.

use crate::compile::{is_identifier, Compiler};
use crate::error::ScenarioError;
use crate::model::*;
use crate::spec::*;
use std::collections::HashSet;
use std::net::SocketAddr;
use toml::Spanned;
use venom_engine::Mechanism;

type Result<T> = std::result::Result<T, ScenarioError>;

/// The prefix of venom's own snapshot schemas, which cannot be saved themselves.
const SNAPSHOT_SCHEMA_PREFIX: &str = "venom_snap_";

impl Compiler<'_> {
    /// Fails on the first PostgreSQL key of `[rollback]` when the mode is not `"postgres"`.
    pub(crate) fn no_postgres_keys(&self, rb: &RawRollback) -> Result<()> {
        let keys: [(&str, Option<std::ops::Range<usize>>); 5] = [
            ("postgres_url", rb.postgres_url.as_ref().map(Spanned::span)),
            (
                "postgres_url_env",
                rb.postgres_url_env.as_ref().map(Spanned::span),
            ),
            ("mechanism", rb.mechanism.as_ref().map(Spanned::span)),
            ("proxy_listen", rb.proxy_listen.as_ref().map(Spanned::span)),
            ("schemas", rb.schemas.as_ref().map(Spanned::span)),
        ];
        match keys.into_iter().find_map(|(k, span)| Some((k, span?))) {
            Some((key, span)) => Err(self.err(
                span,
                format!("`{key}` needs mode = \"postgres\", expected it only with a PostgreSQL database"),
            )),
            None => Ok(()),
        }
    }

    /// `[rollback]` with `mode = "postgres"`.
    pub(crate) fn postgres(&self, rb: &RawRollback, raw: &RawScenario) -> Result<PostgresSpec> {
        let mode_span = rb.mode.as_ref().map_or(0..0, Spanned::span);
        if let Some(path) = &rb.sqlite_path {
            return Err(self.err_at(
                path,
                "`sqlite_path` is for mode = \"sqlite\" or \"reset\", expected `postgres_url` with mode = \"postgres\"",
            ));
        }
        let url = self
            .url_source(
                rb.postgres_url.as_ref(),
                rb.postgres_url_env.as_ref(),
                ("postgres_url", "postgres_url_env"),
                &["postgres://", "postgresql://"],
            )?
            .ok_or_else(|| {
                self.err(
                    mode_span.clone(),
                    "mode = \"postgres\" needs `postgres_url` or `postgres_url_env`, expected the API's database URL",
                )
            })?;
        let mechanism = match rb.mechanism.as_ref().map(|m| (*m.get_ref(), m)) {
            None | Some((RawPgMechanism::Snapshot, _)) => {
                if let Some(listen) = &rb.proxy_listen {
                    return Err(self.err_at(
                        listen,
                        "`proxy_listen` needs mechanism = \"proxy\", expected it only with the transaction proxy",
                    ));
                }
                PgMechanism::Snapshot {
                    schemas: self.schemas(rb.schemas.as_ref())?,
                }
            }
            Some((RawPgMechanism::Proxy, spanned)) => {
                if let Some(schemas) = &rb.schemas {
                    return Err(self.err_at(
                        schemas,
                        "`schemas` is for mechanism = \"snapshot\", expected no `schemas` with the transaction proxy (it covers the whole database)",
                    ));
                }
                self.proxy_fits(spanned, raw)?;
                PgMechanism::Proxy {
                    listen: self.proxy_listen(rb.proxy_listen.as_ref(), spanned, raw)?,
                }
            }
        };
        let mut observe_tables = Vec::new();
        for t in rb.observe_tables.iter().flat_map(|t| t.get_ref()) {
            if !t
                .get_ref()
                .split('.')
                .all(|part| is_identifier(part, false))
                || t.get_ref().split('.').count() > 2
            {
                return Err(self.err_at(
                    t,
                    format!(
                        "invalid table name `{}`, expected `table` or `schema.table`, each [A-Za-z_][A-Za-z0-9_]*",
                        t.get_ref()
                    ),
                ));
            }
            observe_tables.push(t.get_ref().clone());
        }
        Ok(PostgresSpec {
            url,
            mechanism,
            observe_tables,
            observe_queries: self.observe_queries(rb)?,
        })
    }

    /// `[rollback] observe_queries`: named SQL queries, in file order.
    pub(crate) fn observe_queries(&self, rb: &RawRollback) -> Result<Vec<(String, String)>> {
        let mut observe_queries = Vec::new();
        for (name, sql) in rb.observe_queries.iter().flat_map(|q| q.get_ref().0.iter()) {
            // A TOML table has each key once.
            self.name(name, "query", false, None)?;
            if sql.get_ref().trim().is_empty() {
                return Err(self.err_at(sql, "empty query, expected a SQL query"));
            }
            observe_queries.push((name.get_ref().clone(), sql.get_ref().clone()));
        }
        Ok(observe_queries)
    }

    /// The `schemas` of the snapshot mechanism (default `["public"]`).
    fn schemas(&self, raw: Option<&Spanned<Vec<Spanned<String>>>>) -> Result<Vec<String>> {
        let Some(list) = raw else {
            return Ok(vec!["public".to_string()]);
        };
        if list.get_ref().is_empty() {
            return Err(self.err_at(
                list,
                "no schemas, expected at least one schema name (or leave `schemas` out for [\"public\"])",
            ));
        }
        let mut seen = HashSet::new();
        for s in list.get_ref() {
            let name = s.get_ref();
            if name.is_empty() || name.starts_with(SNAPSHOT_SCHEMA_PREFIX) {
                return Err(self.err_at(
                    s,
                    format!("invalid schema `{name}`, expected a schema of the API (not empty, not venom's own `{SNAPSHOT_SCHEMA_PREFIX}*`)"),
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(self.err_at(s, format!("duplicate schema `{name}`")));
            }
        }
        Ok(list.get_ref().iter().map(|s| s.get_ref().clone()).collect())
    }

    /// The transaction proxy only rolls back along a stack: a non-DFS `[explore]` strategy is
    /// refused here, naming the snapshot mechanism.
    fn proxy_fits(&self, mechanism: &Spanned<RawPgMechanism>, raw: &RawScenario) -> Result<()> {
        let mode = Mechanism::PostgresProxy.checkpoint_mode();
        match raw.explore.as_ref().and_then(|e| e.strategy) {
            Some(strategy) if !strategy.fits(mode) => Err(self.err_at(
                mechanism,
                format!(
                    "mechanism = \"proxy\" rolls back along a stack, so it only works with strategy \"dfs\", but [explore] sets strategy \"{strategy}\"; expected mechanism = \"snapshot\" (every strategy) or strategy = \"dfs\""
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `proxy_listen`: a loopback address; optional (any free port) when venom starts the API.
    fn proxy_listen(
        &self,
        raw: Option<&Spanned<String>>,
        mechanism: &Spanned<RawPgMechanism>,
        scenario: &RawScenario,
    ) -> Result<SocketAddr> {
        let Some(listen) = raw else {
            if scenario.server.is_none() {
                return Err(self.err_at(
                    mechanism,
                    "mechanism = \"proxy\" without [server] needs `proxy_listen`, expected the address (e.g. \"127.0.0.1:6543\") your API uses as its database",
                ));
            }
            return Ok(SocketAddr::from(([127, 0, 0, 1], 0)));
        };
        match listen.get_ref().parse::<SocketAddr>() {
            Ok(addr) if addr.ip().is_loopback() => Ok(addr),
            _ => Err(self.err_at(
                listen,
                format!(
                    "invalid proxy_listen `{}`, expected a loopback address and port such as \"127.0.0.1:6543\"",
                    listen.get_ref()
                ),
            )),
        }
    }

    /// One of `url` / `url_env` (named by `keys`), or neither; `schemes` are the URL prefixes
    /// accepted (a PostgreSQL `key=value` string is accepted too when `postgres://` is).
    fn url_source(
        &self,
        url: Option<&Spanned<String>>,
        env: Option<&Spanned<String>>,
        keys: (&str, &str),
        schemes: &[&str],
    ) -> Result<Option<UrlSource>> {
        match (url, env) {
            (Some(_), Some(env)) => Err(self.err_at(
                env,
                format!(
                    "both `{}` and `{}`, expected exactly one of them",
                    keys.0, keys.1
                ),
            )),
            (None, Some(env)) => Ok(Some(UrlSource::Env(self.env_name(env)?))),
            (Some(url), None) => {
                let text = url.get_ref();
                let key_value =
                    schemes.contains(&"postgres://") && !text.contains("://") && text.contains('=');
                if !key_value && !schemes.iter().any(|s| text.starts_with(s)) {
                    return Err(self.err_at(
                        url,
                        format!(
                            "invalid {} `{text}`, expected a URL starting with {}",
                            keys.0,
                            schemes.join(" or ")
                        ),
                    ));
                }
                Ok(Some(UrlSource::Literal(text.clone())))
            }
            (None, None) => Ok(None),
        }
    }

    /// The `[redis]` table; `rollback` defaults to whether `rollback` checkpoints at all.
    pub(crate) fn redis(
        &self,
        raw: &Spanned<RawRedis>,
        rollback: &RollbackSpec,
    ) -> Result<RedisSpec> {
        let r = raw.get_ref();
        let url = self
            .url_source(
                r.url.as_ref(),
                r.url_env.as_ref(),
                ("url", "url_env"),
                &["redis://", "rediss://", "redis+unix://", "unix://"],
            )?
            .ok_or_else(|| {
                self.err_at(
                    raw,
                    "[redis] needs `url` or `url_env`, expected the API's Redis URL",
                )
            })?;
        let checkpoints = !matches!(rollback, RollbackSpec::Reset { .. });
        let restored = match &r.rollback {
            Some(flag) if *flag.get_ref() && !checkpoints => {
                return Err(self.err_at(
                    flag,
                    "`rollback = true` needs a [rollback] mode that checkpoints (\"sqlite\" or \"postgres\"); with mode = \"reset\", [reset] restores Redis too, expected `rollback = false` (observed only) or no `rollback`",
                ));
            }
            Some(flag) => *flag.get_ref(),
            None => checkpoints,
        };
        let mut observe_patterns = Vec::new();
        for p in r.observe_patterns.iter().flatten() {
            if p.get_ref().is_empty() {
                return Err(self.err_at(
                    p,
                    "empty pattern, expected a key pattern such as \"session:*\"",
                ));
            }
            observe_patterns.push(p.get_ref().clone());
        }
        Ok(RedisSpec {
            url,
            observe_patterns,
            rollback: restored,
        })
    }

    /// What an invariant checks: exactly one of `expr` / `sql`; `sql` needs a PostgreSQL
    /// database and no `check`.
    pub(crate) fn condition(
        &self,
        raw: &Spanned<RawInvariant>,
        rollback: &RollbackSpec,
        checks: &[String],
    ) -> Result<Condition> {
        let inv = raw.get_ref();
        let name = inv.name.get_ref();
        let forms = [
            ("expr", inv.expr.as_ref()),
            ("sql", inv.sql.as_ref()),
            ("offending_rows", inv.offending_rows.as_ref()),
        ];
        let mut given = forms.iter().filter_map(|(k, v)| Some((*k, (*v)?)));
        let Some((form, query)) = given.next() else {
            return Err(self.err_at(
                raw,
                format!(
                    "invariant `{name}` has neither `expr` nor `sql`, expected exactly one of them (or `offending_rows`)"
                ),
            ));
        };
        if let Some((other, spanned)) = given.next() {
            return Err(self.err_at(
                spanned,
                format!("invariant `{name}` has both `{form}` and `{other}`, expected exactly one of them"),
            ));
        }
        if form == "expr" {
            return Ok(Condition::Expr(self.expr_with(query, checks)?));
        }
        if !rollback.has_database() {
            return Err(self.err_at(
                query,
                format!("`{form}` invariants run against the API's database, expected [rollback] `sqlite_path` or mode = \"postgres\""),
            ));
        }
        if inv.check.is_some() || inv.checks.is_some() {
            return Err(self.err_at(
                query,
                format!("invariant `{name}` has both `check` and `{form}`, expected `check` only with `expr`"),
            ));
        }
        if query.get_ref().trim().is_empty() {
            let expected = match form {
                "sql" => "a query returning one boolean",
                _ => "a query returning the rows that break the rule",
            };
            return Err(self.err_at(query, format!("empty {form}, expected {expected}")));
        }
        Ok(match form {
            "sql" => Condition::Sql(query.get_ref().clone()),
            _ => Condition::OffendingRows(query.get_ref().clone()),
        })
    }
}
