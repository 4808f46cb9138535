//! Validation of what sends requests beyond a plain action: an action's `steps`, the
//! `[roles.NAME]` and their logins, an invariant's `check` and `checks`, the `[[observe]]`
//! entries, and the `[context]` they may all read.

use crate::compile::Compiler;
use crate::error::ScenarioError;
use crate::expr::Expr;
use crate::expr_reads::VARIABLES;
use crate::model::*;
use crate::spec::*;
use crate::template::{Template, TemplateValue};
use std::collections::BTreeSet;
use toml::Spanned;

type Result<T> = std::result::Result<T, ScenarioError>;

/// The context keys `[context]` declares, as written.
pub(crate) fn context_keys(raw: &RawScenario) -> impl Iterator<Item = &Spanned<String>> {
    raw.context.iter().flat_map(|c| c.0.iter().map(|(k, _)| k))
}

/// The context keys the `extract` tables of `steps` name, as written.
pub(crate) fn extracted_keys(steps: &[RawStep]) -> impl Iterator<Item = &Spanned<String>> {
    steps
        .iter()
        .flat_map(|s| s.extract.iter().flat_map(|e| e.0.iter().map(|(k, _)| k)))
}

impl Compiler<'_> {
    /// The `[context]` table: each value a typed TOML value whose strings are templates that
    /// may read `env` and the keys declared above it.
    pub(crate) fn initial_context(
        &self,
        raw: Option<&OrderedMap<Node>>,
    ) -> Result<Vec<(String, TemplateValue)>> {
        let mut above = BTreeSet::new();
        let mut values = Vec::new();
        for (key, value) in raw.iter().flat_map(|c| c.0.iter()) {
            if key.get_ref().is_empty() {
                return Err(self.err_at(key, "empty context key, expected a name"));
            }
            let value = self.with_produced(above.clone()).template_value(value)?;
            above.insert(key.get_ref().clone());
            // Rendered at the start of each run (`venom check` needs no secrets).
            values.push((key.get_ref().clone(), value));
        }
        Ok(values)
    }

    /// The `[roles.NAME]` tables.
    pub(crate) fn roles(
        &self,
        raw: Option<&OrderedMap<Spanned<RawRole>>>,
    ) -> Result<Vec<RoleSpec>> {
        let mut roles = Vec::new();
        for (name, role) in raw.iter().flat_map(|r| r.0.iter()) {
            // TOML refuses a table defined twice: no name is seen twice here.
            let name = self.name(name, "role", false, None)?;
            roles.push(self.role(&name, role)?);
        }
        Ok(roles)
    }

    fn role(&self, name: &str, raw: &Spanned<RawRole>) -> Result<RoleSpec> {
        let r = raw.get_ref();
        if r.login.get_ref().is_empty() {
            return Err(self.err_at(
                &r.login,
                format!("role `{name}` has no login, expected at least one request"),
            ));
        }
        // Each login step sees the keys the earlier ones extracted (the role's own).
        let mut own: BTreeSet<String> = self.produced.clone();
        own.extend(extracted_keys(r.login.get_ref()).map(|k| k.get_ref().clone()));
        let login_compiler = self.with_produced(own);
        let mut login = Vec::new();
        for step in r.login.get_ref() {
            if let Some(role) = &step.role {
                return Err(self.err_at(
                    role,
                    format!("a login step of role `{name}` cannot be sent `as` a role"),
                ));
            }
            login.push(login_compiler.step(step, None, false)?);
        }
        let extracted: BTreeSet<&str> = login
            .iter()
            .flat_map(|s| s.extract.iter().map(|e| e.key.as_str()))
            .collect();
        let place = format!("role `{name}`");
        let key = |k: &Spanned<String>| {
            let expected = "a key its login extracts:";
            self.known(k, &extracted, "login key", &place, expected)
        };
        let credential = match (&r.bearer, &r.header, &r.cookies) {
            (Some(k), None, None) => Credential::Bearer { key: key(k)? },
            (None, Some(h), None) => {
                let header = h.get_ref();
                self.header_name(&header.name)?;
                Credential::Header {
                    name: header.name.get_ref().clone(),
                    key: key(&header.key)?,
                }
            }
            (None, None, Some(c)) if *c.get_ref() => Credential::Cookies,
            (None, None, Some(c)) => {
                return Err(self.err_at(
                    c,
                    "cookies = false sends no credential, expected `cookies = true`, `bearer` or `header`",
                ))
            }
            (None, None, None) => {
                return Err(self.err_at(
                    raw,
                    format!("role `{name}` says not how its credential is sent, expected `bearer = \"KEY\"`, `header = {{ name = \"X-Token\", key = \"KEY\" }}` or `cookies = true`"),
                ))
            }
            _ => {
                return Err(self.err_at(
                    raw,
                    format!("role `{name}` has several of `bearer`, `header` and `cookies`, expected exactly one"),
                ))
            }
        };
        let relogin = match r.relogin.as_ref().map(|r| *r.get_ref()) {
            None | Some(RawRelogin::On401) => Relogin::OnUnauthorized,
            Some(RawRelogin::PerPath) => Relogin::PerPath,
        };
        Ok(RoleSpec {
            name: name.to_string(),
            login,
            credential,
            relogin,
        })
    }

    /// A role named in `as`: one of `[roles]`.
    pub(crate) fn role_ref(&self, raw: &Spanned<String>) -> Result<String> {
        let known: BTreeSet<&str> = self.roles.iter().map(String::as_str).collect();
        self.known(raw, &known, "role", "`as`", "one of the [roles]:")
    }

    /// One request of an action's `steps` or of a role's `login`, sent as `role` unless it
    /// names its own; its `extract` entries apply to any status when `any_status_default`
    /// (the action's `extract_on = "any"`) unless it says `extract_on` itself.
    pub(crate) fn step(
        &self,
        s: &RawStep,
        role: Option<&String>,
        any_status_default: bool,
    ) -> Result<StepSpec> {
        let any_status = match &s.extract_on {
            Some(on) => *on.get_ref() == RawExtractOn::Any,
            None => any_status_default,
        };
        Ok(StepSpec {
            request: self.request(&s.method, &s.path, s.body.as_ref(), s.headers.as_ref())?,
            role: match &s.role {
                Some(r) => Some(self.role_ref(r)?),
                None => role.cloned(),
            },
            expect: self.expect(s.expect.as_ref())?,
            extract: self.extract(s.extract.as_ref(), any_status)?,
        })
    }

    /// An `extract` table: each entry a JSONPath string, or `{ path = "...", on = "any" }`.
    pub(crate) fn extract(
        &self,
        raw: Option<&OrderedMap<Node>>,
        any_status_default: bool,
    ) -> Result<Vec<Extract>> {
        let mut out = Vec::new();
        for (key, node) in raw.iter().flat_map(|e| e.0.iter()) {
            let key_name = self.context_key(key)?;
            let expected = "expected a JSONPath string or `{ path = \"$.id\", on = \"any\" }`";
            let (path, any_status) = match &node.kind {
                NodeKind::Str(path) => ((node.span.clone(), path), any_status_default),
                NodeKind::Table(fields) => self.extract_table(node, fields, any_status_default)?,
                _ => {
                    return Err(self.err(
                        node.span.clone(),
                        format!("invalid extract `{key_name}`, {expected}"),
                    ))
                }
            };
            out.push(Extract {
                key: key_name,
                path: self.extractor_at(path.0, path.1)?,
                any_status,
            });
        }
        Ok(out)
    }

    /// `{ path = "...", on = "2xx" | "any" }`: the query's span and text, and whether it
    /// applies to any status.
    fn extract_table<'n>(
        &self,
        node: &'n Node,
        fields: &'n [(String, Node)],
        any_status_default: bool,
    ) -> Result<((std::ops::Range<usize>, &'n String), bool)> {
        let mut path = None;
        let mut any_status = any_status_default;
        for (field, value) in fields {
            match (field.as_str(), &value.kind) {
                ("path", NodeKind::Str(p)) => path = Some((value.span.clone(), p)),
                ("on", NodeKind::Str(on)) if on == "any" => any_status = true,
                ("on", NodeKind::Str(on)) if on == "2xx" => any_status = false,
                ("on", _) => {
                    return Err(self.err(
                        value.span.clone(),
                        "invalid `on`, expected \"2xx\" or \"any\"",
                    ))
                }
                ("path", _) => {
                    return Err(self.err(
                        value.span.clone(),
                        "invalid `path`, expected a JSONPath string such as \"$.id\"",
                    ))
                }
                (other, _) => {
                    return Err(self.err(
                        value.span.clone(),
                        format!("unknown field `{other}` in extract, expected `path` or `on`"),
                    ))
                }
            }
        }
        let path = path.ok_or_else(|| {
            self.err(
                node.span.clone(),
                "extract entry without `path`, expected `{ path = \"$.id\", on = \"any\" }`",
            )
        })?;
        Ok((path, any_status))
    }

    /// One of an invariant's `checks`: a request or, with `sql`, a query (which needs a
    /// database); its templates see the checks before it (`earlier`).
    pub(crate) fn check(
        &self,
        c: &RawCall,
        earlier: &[String],
        has_database: bool,
    ) -> Result<Check> {
        let Some(sql) = &c.sql else {
            return Ok(Check::Http(self.call(c, true, earlier)?));
        };
        let place = c.method.as_ref().or(c.path.as_ref()).or(c.role.as_ref());
        let written_inline = c.headers.is_some() || c.body.is_some();
        if let Some(extra) = place.or(written_inline.then_some(sql)) {
            return Err(self.err_at(
                extra,
                "a `sql` check is a query, expected no `method`, `path`, `headers`, `body` or `as`",
            ));
        }
        if !has_database {
            return Err(self.err_at(
                sql,
                "`sql` checks run against the API's database, expected [rollback] `sqlite_path` or mode = \"postgres\"",
            ));
        }
        if sql.get_ref().trim().is_empty() {
            return Err(self.err_at(sql, "empty sql, expected a query"));
        }
        let name = match &c.name {
            Some(n) => n.get_ref().clone(),
            None => return Err(self.err_at(sql, "an entry of `checks` without `name`, expected `name = \"...\"` (its answer's name in `expr`)")),
        };
        let query = self
            .with_variables(earlier)
            .template_at(sql.span(), sql.get_ref())?;
        Ok(Check::Sql { name, query })
    }

    /// An invariant's `check` (unnamed) or one of its `checks` (named) that sends a request;
    /// its templates see the variables `names`.
    pub(crate) fn call(&self, c: &RawCall, named: bool, names: &[String]) -> Result<CallSpec> {
        let (method, path) = match (&c.method, &c.path) {
            (Some(m), Some(p)) => (m, p),
            (_, None) => {
                let at = c.method.as_ref().or(c.name.as_ref());
                let message = "a check without `path`, expected `method` and `path` (or `sql`)";
                return Err(match at {
                    Some(at) => self.err_at(at, message),
                    None => self.err(0..0, message),
                });
            }
            (None, Some(p)) => {
                return Err(self.err_at(
                    p,
                    "a check without `method`, expected `method` and `path` (or `sql`)",
                ))
            }
        };
        if let (Some(sql), false) = (&c.sql, named) {
            return Err(self.err_at(
                sql,
                "a single `check` is a request; a `sql` query goes in `checks` (with a name) or in the invariant's `sql`",
            ));
        }
        let name = match (&c.name, named) {
            (Some(n), true) => n.get_ref().clone(),
            (None, true) => {
                return Err(self.err_at(
                    path,
                    "an entry of `checks` without `name`, expected `name = \"...\"` (its response's name in `expr`)",
                ))
            }
            (Some(n), false) => {
                return Err(self.err_at(
                    n,
                    "`name` is for entries of `checks`; a single `check` is seen as `last`",
                ))
            }
            (None, false) => String::new(),
        };
        let with_names = self.with_variables(names);
        Ok(CallSpec {
            name,
            request: with_names.request(method, path, c.body.as_ref(), c.headers.as_ref())?,
            role: c.role.as_ref().map(|r| self.role_ref(r)).transpose()?,
        })
    }

    /// The names of an invariant's `checks`: identifiers, unique, not `ctx`, `last` or `env`.
    pub(crate) fn check_names(&self, checks: &[RawCall]) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut seen = BTreeSet::new();
        for n in checks.iter().filter_map(|c| c.name.as_ref()) {
            let name = n.get_ref();
            if VARIABLES.contains(&name.as_str()) {
                return Err(self.err_at(
                    n,
                    format!("check name `{name}` is taken by the variable `{name}`, expected another name"),
                ));
            }
            names.push(self.name(n, "check", false, Some(&mut seen))?);
        }
        Ok(names)
    }

    /// The `[[observe]]` entries. Their requests are sent outside any path, so their templates
    /// see `env` and the `[context]` keys only.
    pub(crate) fn observations(
        &self,
        raw: Option<&Vec<Spanned<RawObserve>>>,
        context: &[(String, TemplateValue)],
    ) -> Result<Vec<ObserveSpec>> {
        let outside_paths = self.with_produced(context.iter().map(|(k, _)| k.clone()).collect());
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for spanned in raw.iter().flat_map(|o| o.iter()) {
            let o = spanned.get_ref();
            let name = &self.name(&o.name, "observation", false, Some(&mut seen))?;
            let get = Spanned::new(o.path.span(), "GET".to_string());
            let method = o.method.as_ref().unwrap_or(&get);
            let keep = match (&o.keep, &o.expr) {
                (Some(_), Some(expr)) => {
                    return Err(self.err_at(
                        expr,
                        format!("observation `{name}` has both `keep` and `expr`, expected at most one of them"),
                    ))
                }
                (Some(path), None) => Projection::Path(self.extractor_at(path.span(), path.get_ref())?),
                (None, Some(expr)) => Projection::Expr(outside_paths.expr(expr)?),
                (None, None) => Projection::Whole,
            };
            let ignore = o
                .ignore
                .iter()
                .flatten()
                .map(|p| self.extractor_at(p.span(), p.get_ref()))
                .collect::<Result<_>>()?;
            out.push(ObserveSpec {
                name: name.clone(),
                call: CallSpec {
                    name: name.clone(),
                    request: outside_paths.request(method, &o.path, None, o.headers.as_ref())?,
                    role: o.role.as_ref().map(|r| self.role_ref(r)).transpose()?,
                },
                keep,
                ignore,
            });
        }
        Ok(out)
    }

    /// An invariant's `expr`, `message` or `when` that may read its checks by name.
    pub(crate) fn expr_with(&self, s: &Spanned<String>, names: &[String]) -> Result<Expr> {
        self.with_variables(names).boolean_expr(s)
    }

    /// A `message` template that may read the checks by name.
    pub(crate) fn template_with(&self, s: &Spanned<String>, names: &[String]) -> Result<Template> {
        self.with_variables(names)
            .template_at(s.span(), s.get_ref())
    }
}
