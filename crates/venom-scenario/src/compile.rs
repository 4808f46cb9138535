//! Validation: raw serde structures → the validated [`Scenario`].

use crate::builtins::Builtin;
use crate::error::ScenarioError;
use crate::expr::{CompileError, Expr};
use crate::extract::Extractor;
use crate::load_spec::{FlowSpec, LoadSpec, Scope, ThresholdSpec};
use crate::model::*;
use crate::spec::*;
use crate::template::{Template, TemplateValue};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use venom_engine::{Severity, Timing};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

type Result<T> = std::result::Result<T, ScenarioError>;

/// The most retries a `[reset]` may ask for (its backoff is capped at 2 s, so about 40 s).
const MAX_RESET_RETRIES: u32 = 20;

/// Turns spans into positioned errors.
pub(crate) struct Compiler<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    /// The context keys some action extracts or sets, or `[context]` declares: the only ones
    /// an expression may read.
    pub produced: BTreeSet<String>,
    /// The names of the `[roles]`, which `as` may name.
    pub roles: BTreeSet<String>,
    /// Variables expressions may read besides `ctx`, `last` and `env` (an invariant's checks).
    pub variables: Vec<String>,
}

/// The context keys the actions of `raw` extract or set, and those `[context]` declares.
pub(crate) fn produced_keys(raw: &RawScenario) -> BTreeSet<String> {
    let actions = raw
        .actions
        .as_ref()
        .map(|a| a.get_ref().as_slice())
        .unwrap_or_default();
    actions
        .iter()
        .flat_map(|a| keys_produced_by(a.get_ref()))
        .chain(crate::compile_requests::context_keys(raw))
        .map(|k| k.get_ref().clone())
        .collect()
}

/// The role names `[roles]` declares.
pub(crate) fn role_names(raw: &RawScenario) -> BTreeSet<String> {
    raw.roles
        .iter()
        .flat_map(|r| r.0.iter().map(|(name, _)| name.get_ref().clone()))
        .collect()
}

/// The context keys `action` extracts (itself or in its steps) or sets, as written.
fn keys_produced_by(action: &RawAction) -> impl Iterator<Item = &Spanned<String>> {
    let extracted = action
        .extract
        .iter()
        .flat_map(|e| e.0.iter().map(|(k, _)| k));
    let steps = action
        .steps
        .iter()
        .flat_map(|s| crate::compile_requests::extracted_keys(s.get_ref()));
    let set = action.set.iter().flat_map(|s| s.0.iter().map(|(k, _)| k));
    extracted.chain(steps).chain(set)
}

impl Compiler<'_> {
    /// This compiler where expressions may read the context keys `produced` instead.
    pub(crate) fn with_produced(&self, produced: BTreeSet<String>) -> Self {
        Compiler {
            produced,
            roles: self.roles.clone(),
            variables: self.variables.clone(),
            ..*self
        }
    }

    /// This compiler where expressions may also read the variables `names`.
    pub(crate) fn with_variables(&self, names: &[String]) -> Self {
        Compiler {
            produced: self.produced.clone(),
            roles: self.roles.clone(),
            variables: names.to_vec(),
            ..*self
        }
    }

    pub(crate) fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_offset(self.file, self.text, span.start, message)
    }

    pub(crate) fn err_at<T>(
        &self,
        spanned: &Spanned<T>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.err(spanned.span(), message)
    }

    /// The file offset of byte `inner` of a string value at `span`, when the string is written
    /// without escapes (so offsets inside the value map one-to-one); else the value's start.
    fn inner_offset(&self, span: Range<usize>, value: &str, inner: Option<usize>) -> usize {
        let (Some(raw), Some(inner)) = (self.text.get(span.clone()), inner) else {
            return span.start;
        };
        for quote in ["'''", "\"\"\"", "'", "\""] {
            let Some(body) = raw.strip_prefix(quote).and_then(|r| r.strip_suffix(quote)) else {
                continue;
            };
            // A multi-line string drops the newline right after its opening quotes.
            let newline = ["\r\n", "\n"]
                .into_iter()
                .find(|n| quote.len() == 3 && body.starts_with(n))
                .map_or(0, str::len);
            if &body[newline..] == value {
                return span.start + quote.len() + newline + inner;
            }
        }
        span.start
    }

    fn compile_err(&self, span: Range<usize>, value: &str, e: CompileError) -> ScenarioError {
        let offset = self.inner_offset(span, value, e.offset);
        ScenarioError::at_offset(self.file, self.text, offset, e.message)
    }

    pub(crate) fn expr(&self, s: &Spanned<String>) -> Result<Expr> {
        let expr = Expr::compile_with(s.get_ref(), &self.variables)
            .map_err(|e| self.compile_err(s.span(), s.get_ref(), e))?;
        self.reads_produced_keys(s.span(), s.get_ref(), expr.ctx_keys())?;
        Ok(expr)
    }

    /// An expression that must be a condition: [`Compiler::expr`], refused when it surely
    /// yields no boolean.
    pub(crate) fn boolean_expr(&self, s: &Spanned<String>) -> Result<Expr> {
        let expr = self.expr(s)?;
        if expr.surely_not_boolean() {
            return Err(self.err_at(
                s,
                format!(
                    "`{}` is not a condition, expected an expression that is true or false",
                    crate::limits::quoted(expr.source())
                ),
            ));
        }
        Ok(expr)
    }

    fn template(&self, s: &Spanned<String>) -> Result<Template> {
        self.template_at(s.span(), s.get_ref())
    }

    pub(crate) fn template_at(&self, span: Range<usize>, source: &str) -> Result<Template> {
        let template = Template::parse_with(source, &self.variables)
            .map_err(|e| self.compile_err(span.clone(), source, e))?;
        self.reads_produced_keys(span, source, template.ctx_keys())?;
        Ok(template)
    }

    /// Refuses a read of a context key no action extracts or sets (it could never be set).
    fn reads_produced_keys(
        &self,
        span: Range<usize>,
        source: &str,
        keys: &[(String, usize)],
    ) -> Result<()> {
        let Some((key, at)) = keys.iter().find(|(k, _)| !self.produced.contains(k)) else {
            return Ok(());
        };
        let offset = self.inner_offset(span, source, Some(*at));
        let known: Vec<String> = self.produced.iter().map(|k| format!("`{k}`")).collect();
        let expected = if known.is_empty() {
            "no action extracts or sets any key".to_string()
        } else {
            format!("expected one of {}", known.join(", "))
        };
        Err(ScenarioError::at_offset(
            self.file,
            self.text,
            offset,
            format!("context key `{key}` is never extracted or set by any action, {expected}"),
        ))
    }

    pub(crate) fn extractor_at(&self, span: Range<usize>, source: &str) -> Result<Extractor> {
        Extractor::parse_inner(source).map_err(|e| self.compile_err(span, source, e))
    }

    pub(crate) fn template_value(&self, node: &Node) -> Result<TemplateValue> {
        Ok(match &node.kind {
            NodeKind::Str(s) => TemplateValue::string(self.template_at(node.span.clone(), s)?),
            NodeKind::Int(i) => TemplateValue::constant(Value::from(*i)),
            NodeKind::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => TemplateValue::constant(Value::Number(n)),
                None => return Err(self.err(
                    node.span.clone(),
                    "non-finite number (nan/inf) cannot be sent as JSON, expected a finite number",
                )),
            },
            NodeKind::Bool(b) => TemplateValue::constant(Value::Bool(*b)),
            NodeKind::Datetime(d) => TemplateValue::constant(Value::String(d.clone())),
            NodeKind::Array(items) => TemplateValue::array(
                items
                    .iter()
                    .map(|i| self.template_value(i))
                    .collect::<Result<_>>()?,
            ),
            NodeKind::Table(fields) => TemplateValue::object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.template_value(v)?)))
                    .collect::<Result<_>>()?,
            ),
        })
    }

    fn duration(&self, s: &Spanned<f64>, what: &str) -> Result<Duration> {
        let secs = *s.get_ref();
        if !(0.001..=1e12).contains(&secs) {
            // As written: `1e-320` printed as a float is 320 digits long.
            let written = self.text.get(s.span()).unwrap_or_default().trim();
            return Err(self.err_at(
                s,
                format!(
                    "invalid {what} `{written}`, expected a positive number of seconds (at least 0.001, at most 1e12)"
                ),
            ));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn headers(
        &self,
        raw: Option<&OrderedMap<Spanned<String>>>,
    ) -> Result<Vec<(String, Template)>> {
        let mut out = Vec::new();
        let Some(raw) = raw else { return Ok(out) };
        for (name, value) in &raw.0 {
            self.header_name(name)?;
            out.push((name.get_ref().clone(), self.template(value)?));
        }
        Ok(out)
    }

    /// A name the file gives to one of its `what`s (`action`, `flow`…): `[A-Za-z_][A-Za-z0-9_]*`
    /// (plus `.` and `-` when `extended`), and, when `seen` is given, not given before.
    pub(crate) fn name(
        &self,
        name: &Spanned<String>,
        what: &str,
        extended: bool,
        seen: Option<&mut BTreeSet<String>>,
    ) -> Result<String> {
        let n = name.get_ref();
        if !is_identifier(n, extended) {
            let pattern = match extended {
                true => "[A-Za-z_][A-Za-z0-9_.-]*",
                false => "[A-Za-z_][A-Za-z0-9_]*",
            };
            return Err(self.err_at(
                name,
                format!("invalid {what} name `{n}`, expected {pattern}"),
            ));
        }
        if let Some(seen) = seen {
            if !seen.insert(n.clone()) {
                return Err(self.err_at(name, format!("duplicate {what} name `{n}`")));
            }
        }
        Ok(n.clone())
    }

    /// A header name (RFC 9110 token).
    pub(crate) fn header_name(&self, name: &Spanned<String>) -> Result<()> {
        if !is_header_name(name.get_ref()) {
            return Err(self.err_at(name, header_name_error(name.get_ref())));
        }
        Ok(())
    }

    pub(crate) fn env_name(&self, s: &Spanned<String>) -> Result<String> {
        let name = s.get_ref();
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(self.err_at(
                s,
                format!("invalid environment variable name `{name}`, expected a non-empty name without `=`"),
            ));
        }
        Ok(name.clone())
    }

    fn auth(&self, raw: &Spanned<RawAuth>) -> Result<AuthSpec> {
        let a = raw.get_ref();
        let expected = "expected `{ bearer_env = \"VAR\" }`, `{ basic_user_env = \"U\", basic_password_env = \"P\" }` or `{ header = \"X-Api-Key\", value_env = \"VAR\" }`";
        let bearer = a.bearer_env.is_some();
        let basic = a.basic_user_env.is_some() || a.basic_password_env.is_some();
        let header = a.header.is_some() || a.value_env.is_some();
        match (bearer, basic, header) {
            (true, false, false) => Ok(AuthSpec::Bearer {
                env: self.env_name(a.bearer_env.as_ref().expect("checked"))?,
            }),
            (false, true, false) => match (&a.basic_user_env, &a.basic_password_env) {
                (Some(u), Some(p)) => Ok(AuthSpec::Basic {
                    user_env: self.env_name(u)?,
                    password_env: self.env_name(p)?,
                }),
                (Some(_), None) => {
                    Err(self.err_at(raw, "basic auth is missing `basic_password_env`"))
                }
                _ => Err(self.err_at(raw, "basic auth is missing `basic_user_env`")),
            },
            (false, false, true) => match (&a.header, &a.value_env) {
                (Some(h), Some(v)) => {
                    self.header_name(h)?;
                    Ok(AuthSpec::Header {
                        header: h.get_ref().clone(),
                        value_env: self.env_name(v)?,
                    })
                }
                (Some(_), None) => Err(self.err_at(raw, "header auth is missing `value_env`")),
                _ => Err(self.err_at(raw, "header auth is missing `header`")),
            },
            (false, false, false) => Err(self.err_at(raw, format!("empty auth, {expected}"))),
            _ => Err(self.err_at(raw, format!("auth mixes several forms, {expected}"))),
        }
    }

    fn method(&self, m: &Spanned<String>) -> Result<String> {
        let upper = m.get_ref().to_ascii_uppercase();
        if !METHODS.contains(&upper.as_str()) {
            return Err(self.err_at(
                m,
                format!(
                    "unknown method `{}`, expected one of {}",
                    m.get_ref(),
                    METHODS.join(", ")
                ),
            ));
        }
        Ok(upper)
    }

    pub(crate) fn request(
        &self,
        method: &Spanned<String>,
        path: &Spanned<String>,
        body: Option<&Node>,
        headers: Option<&OrderedMap<Spanned<String>>>,
    ) -> Result<RequestSpec> {
        let text = path.get_ref();
        if !(text.starts_with('/') || text.starts_with("{{")) {
            return Err(self.err_at(
                path,
                format!("invalid path `{text}`, expected a path starting with `/`"),
            ));
        }
        Ok(RequestSpec {
            method: self.method(method)?,
            path: self.template(path)?,
            body: body.map(|b| self.template_value(b)).transpose()?,
            headers: self.headers(headers)?,
        })
    }

    fn raw_request(&self, r: &RawRequest) -> Result<RequestSpec> {
        self.request(&r.method, &r.path, r.body.as_ref(), r.headers.as_ref())
    }

    pub(crate) fn context_key(&self, key: &Spanned<String>) -> Result<String> {
        if key.get_ref().is_empty() {
            return Err(self.err_at(key, "empty context key, expected a name"));
        }
        Ok(key.get_ref().clone())
    }

    /// `max_calls`: at least 1 when given (leaving it out means no limit).
    fn max_calls(&self, raw: Option<&Spanned<u32>>) -> Result<Option<u32>> {
        match raw {
            Some(max) if *max.get_ref() == 0 => Err(self.err_at(
                max,
                "invalid max_calls `0`, expected at least 1 (leave it out for no limit)",
            )),
            other => Ok(other.map(|m| *m.get_ref())),
        }
    }

    /// A `weight` (of an action or a flow): 1 when absent, else a finite number > 0.
    fn weight(&self, weight: &Option<Spanned<f64>>) -> Result<f64> {
        let Some(w) = weight else {
            return Ok(1.0);
        };
        let v = *w.get_ref();
        if !(v.is_finite() && v > 0.0) {
            return Err(self.err_at(
                w,
                format!("invalid weight `{v}`, expected a finite number > 0"),
            ));
        }
        Ok(v)
    }

    /// `name` when `known` holds it; else an error naming `place` and listing `known`.
    pub(crate) fn known(
        &self,
        name: &Spanned<String>,
        known: &BTreeSet<&str>,
        what: &str,
        place: &str,
        expected: &str,
    ) -> Result<String> {
        let n = name.get_ref();
        if known.contains(n.as_str()) {
            return Ok(n.clone());
        }
        let list: Vec<_> = known.iter().map(|k| format!("`{k}`")).collect();
        let list = if list.is_empty() {
            "none".into()
        } else {
            list.join(", ")
        };
        Err(self.err_at(
            name,
            format!("unknown {what} `{n}` in {place}, expected {expected} {list}"),
        ))
    }

    /// A context key some action extracts or sets.
    fn produced_key(&self, key: &Spanned<String>, names: &Names, place: &str) -> Result<String> {
        self.context_key(key)?;
        let expected = "a key that an action extracts or sets:";
        self.known(key, &names.keys, "context key", place, expected)
    }

    /// The whole scenario: each table compiled by its own method, in an order where every
    /// table sees what it depends on (actions before the keys and invariants that name them).
    pub(crate) fn scenario(&self, raw: RawScenario) -> Result<Scenario> {
        let base_dir = base_dir(self.file);
        let base_url = self.base_url(&raw.base_url, raw.server.is_some())?;
        let explore = self.explore(raw.explore.as_ref())?;
        let server = raw
            .server
            .as_ref()
            .map(|s| self.server(s, &base_url, &base_dir))
            .transpose()?;
        let reset = self.reset(raw.reset.as_ref(), raw.server.is_some(), &base_dir)?;
        let reset_retries = self.reset_retries(raw.reset.as_ref())?;
        let rollback = match &raw.rollback {
            None => RollbackSpec::default(),
            Some(rb) => self.rollback(rb, &raw, &base_dir)?,
        };
        let defaults = self.defaults(raw.defaults.as_ref())?;
        let builtins = builtins(raw.builtins.as_ref());
        let openapi = raw
            .openapi
            .as_ref()
            .map(|o| self.openapi(o, &base_dir))
            .transpose()?;
        let initial_context = self.initial_context(raw.context.as_ref())?;
        let roles = self.roles(raw.roles.as_ref())?;
        let (mut names, actions) = self.actions(raw.actions.as_ref())?;
        let concurrent = self.concurrent(&raw, &actions)?;
        names
            .keys
            .extend(crate::compile_requests::context_keys(&raw).map(|k| k.get_ref().as_str()));
        let observations = self.observations(raw.observe.as_ref(), &initial_context)?;
        let state_from_context =
            self.state_from_context(raw.state_from_context.as_ref(), &names)?;
        let invariants =
            self.invariants(&raw, (&builtins, openapi.is_some()), &actions, &rollback)?;
        let load = raw
            .load
            .as_ref()
            .map(|l| self.load(l, &names))
            .transpose()?;
        let redis = raw
            .redis
            .as_ref()
            .map(|r| self.redis(r, &rollback))
            .transpose()?;
        let redact_fields = raw
            .redact
            .as_ref()
            .and_then(|r| r.fields.as_ref())
            .map(|fields| fields.iter().map(|f| self.redact_field(f)).collect())
            .transpose()?
            .unwrap_or_default();
        let mut env_names = crate::env_refs::env_refs(self.text);
        env_names.extend(defaults.auth.iter().flat_map(AuthSpec::env_names));
        env_names.extend(
            actions
                .iter()
                .filter_map(|a| a.auth.as_ref())
                .flat_map(AuthSpec::env_names),
        );
        Ok(Scenario {
            file: self.file.to_path_buf(),
            base_url,
            state_from_context,
            explore,
            server,
            reset,
            reset_retries,
            rollback,
            redis,
            defaults,
            actions,
            concurrent,
            invariants,
            builtins,
            load,
            redact_fields,
            env_names,
            initial_context,
            roles,
            observations,
            openapi,
        })
    }

    /// `[openapi] spec`: an `http(s)://` URL, or a path resolved against the file's folder.
    fn openapi(&self, raw: &RawOpenapi, base_dir: &Path) -> Result<OpenApiSource> {
        let spec = raw.spec.get_ref();
        if spec.trim().is_empty() {
            return Err(self.err_at(
                &raw.spec,
                "empty [openapi] spec, expected a file path or an http(s):// URL",
            ));
        }
        if spec.starts_with("http://") || spec.starts_with("https://") {
            return Ok(OpenApiSource::Url(spec.clone()));
        }
        Ok(OpenApiSource::File(base_dir.join(spec)))
    }

    /// A `[redact] fields` entry: a non-empty name fragment.
    fn redact_field(&self, field: &Spanned<String>) -> Result<String> {
        if field.get_ref().trim().is_empty() {
            return Err(self.err_at(field, "empty [redact] field, expected a name fragment"));
        }
        Ok(field.get_ref().clone())
    }

    /// `base_url`: an `http://` or `https://` URL, kept without its trailing `/`; its port may
    /// be [`PORT_PLACEHOLDER`] when venom starts the `[server]`.
    fn base_url(&self, raw: &Spanned<String>, has_server: bool) -> Result<String> {
        let base_url = raw.get_ref();
        if base_url.contains(PORT_PLACEHOLDER) && !has_server {
            return Err(self.err_at(
                raw,
                format!(
                    "`{PORT_PLACEHOLDER}` in base_url needs a [server]: venom chooses the port \
                     of the server it starts"
                ),
            ));
        }
        let valid_url = ["http://", "https://"]
            .iter()
            .any(|p| base_url.len() > p.len() && base_url.starts_with(p));
        if !valid_url {
            return Err(self.err_at(
                raw,
                format!("invalid base_url `{base_url}`, expected a URL starting with http:// or https://"),
            ));
        }
        Ok(base_url.trim_end_matches('/').to_string())
    }

    /// The `[explore]` table: defaults of the exploration limits.
    fn explore(&self, raw: Option<&RawExplore>) -> Result<ExploreDefaults> {
        Ok(match raw {
            None => ExploreDefaults::default(),
            Some(e) => {
                if let Some(c) = &e.coverage_target {
                    let v = *c.get_ref();
                    if !(v > 0.0 && v <= 1.0) {
                        return Err(self.err_at(
                            c,
                            format!("invalid coverage_target `{v}`, expected a number in (0, 1]"),
                        ));
                    }
                }
                ExploreDefaults {
                    strategy: e.strategy,
                    max_steps: e.max_steps,
                    max_depth: e.max_depth,
                    coverage_target: e.coverage_target.as_ref().map(|c| *c.get_ref()),
                    time_limit: e
                        .time_limit
                        .as_ref()
                        .map(|t| self.duration(t, "time_limit"))
                        .transpose()?,
                    seed: e.seed,
                    progress_every: e.progress_every,
                    loop_threshold: e.loop_threshold,
                }
            }
        })
    }

    /// The `[reset]` table: a request (its body written inline or read from `body_file`), a
    /// command, or `kind = "restart"` of the `[server]`, exactly one.
    fn reset(
        &self,
        raw: Option<&Spanned<RawReset>>,
        has_server: bool,
        base_dir: &Path,
    ) -> Result<Option<ResetSpec>> {
        let Some(r) = raw else { return Ok(None) };
        let reset = r.get_ref();
        let expected = "expected exactly one of them (or `kind = \"restart\"` of the [server])";
        if let (Some(body_file), None) = (&reset.body_file, &reset.request) {
            return Err(self.err_at(
                body_file,
                "`body_file` is the body of the reset `request`, expected a `request` too",
            ));
        }
        let spec = match (&reset.request, &reset.command, &reset.kind) {
            (Some(req), None, None) => {
                let mut spec = self.raw_request(req)?;
                if let Some(file) = &reset.body_file {
                    if req.body.is_some() {
                        return Err(self.err_at(
                            file,
                            "the reset request has both `body` and `body_file`, expected one of them",
                        ));
                    }
                    spec.body = Some(TemplateValue::constant(self.json_file(file, base_dir)?));
                }
                ResetSpec::Request(spec)
            }
            (None, Some(cmd), None) => {
                if cmd.get_ref().trim().is_empty() {
                    return Err(self.err_at(cmd, "empty reset command, expected a shell command"));
                }
                ResetSpec::Command(cmd.get_ref().clone())
            }
            (None, None, Some(kind)) => {
                if !has_server {
                    return Err(self.err_at(
                        kind,
                        "kind = \"restart\" restarts the [server], expected a [server] table",
                    ));
                }
                ResetSpec::Restart
            }
            (None, None, None) => {
                return Err(self.err_at(
                    r,
                    format!("[reset] has neither `request` nor `command`, {expected}"),
                ))
            }
            (Some(_), Some(_), _) => {
                return Err(self.err_at(
                    r,
                    format!("[reset] has both `request` and `command`, {expected}"),
                ))
            }
            _ => {
                return Err(self.err_at(
                    r,
                    "[reset] has `kind` and `request` or `command`, expected `kind = \"restart\"` alone",
                ))
            }
        };
        Ok(Some(spec))
    }

    /// The JSON value in the file `file` names (relative to the scenario's folder), read now;
    /// an error names the file and where in it.
    fn json_file(&self, file: &Spanned<String>, base_dir: &Path) -> Result<Value> {
        let path = base_dir.join(file.get_ref());
        let cannot_read = |e: std::io::Error| {
            self.err_at(
                file,
                format!("cannot read body_file {}: {e}", path.display()),
            )
        };
        let size = std::fs::metadata(&path).map_err(cannot_read)?.len();
        if size > crate::MAX_FILE_BYTES as u64 {
            return Err(self.err_at(
                file,
                format!(
                    "body_file {} is larger than {} bytes, the most venom reads",
                    path.display(),
                    crate::MAX_FILE_BYTES
                ),
            ));
        }
        let text = std::fs::read_to_string(&path).map_err(cannot_read)?;
        serde_json::from_str(&text).map_err(|e| {
            self.err_at(
                file,
                format!("body_file {}: invalid JSON: {e}", path.display()),
            )
        })
    }

    /// `[reset] retries`: at most [`MAX_RESET_RETRIES`] more tries of a failed reset.
    fn reset_retries(&self, raw: Option<&Spanned<RawReset>>) -> Result<u32> {
        match raw.and_then(|r| r.get_ref().retries.as_ref()) {
            None => Ok(0),
            Some(n) if *n.get_ref() <= MAX_RESET_RETRIES => Ok(*n.get_ref()),
            Some(n) => Err(self.err_at(
                n,
                format!(
                    "invalid retries `{}`, expected at most {MAX_RESET_RETRIES}",
                    n.get_ref()
                ),
            )),
        }
    }

    /// The `[defaults]` table: headers, timeout and authentication of every request.
    fn defaults(&self, raw: Option<&RawDefaults>) -> Result<Defaults> {
        Ok(match raw {
            None => Defaults::default(),
            Some(d) => Defaults {
                headers: self.headers(d.headers.as_ref())?,
                timeout: match &d.timeout {
                    Some(t) => self.duration(t, "timeout")?,
                    None => Duration::from_secs(10),
                },
                auth: d.auth.as_ref().map(|a| self.auth(a)).transpose()?,
                max_body_bytes: match &d.max_body_bytes {
                    Some(n) => self.max_body_bytes(n)?,
                    None => DEFAULT_MAX_BODY_BYTES,
                },
            },
        })
    }

    /// `[defaults] max_body_bytes`: from 1 KiB to 1 GiB.
    fn max_body_bytes(&self, n: &Spanned<u64>) -> Result<usize> {
        const MAX: u64 = 1 << 30;
        match usize::try_from(*n.get_ref()) {
            Ok(bytes) if (1024..=MAX).contains(n.get_ref()) => Ok(bytes),
            _ => Err(self.err_at(
                n,
                format!(
                    "invalid max_body_bytes `{}`, expected from 1024 (1 KiB) to {MAX} (1 GiB)",
                    n.get_ref()
                ),
            )),
        }
    }

    /// The `[[actions]]` tables, with the names and context keys they declare.
    fn actions<'r>(
        &self,
        raw: Option<&'r Spanned<Vec<Spanned<RawAction>>>>,
    ) -> Result<(Names<'r>, Vec<ActionSpec>)> {
        let raw_actions = match raw {
            Some(a) if !a.get_ref().is_empty() => a,
            Some(a) => {
                return Err(self.err_at(a, "no actions, expected at least one [[actions]] table"))
            }
            None => {
                return Err(self.err(
                    0..0,
                    "missing field `actions`, expected at least one [[actions]] table",
                ))
            }
        };
        let mut names = Names::default();
        let mut seen = BTreeSet::new();
        for a in raw_actions.get_ref().iter().map(Spanned::get_ref) {
            self.name(&a.name, "action", false, Some(&mut seen))?;
            names.actions.insert(a.name.get_ref().as_str());
            names
                .keys
                .extend(keys_produced_by(a).map(|k| k.get_ref().as_str()));
        }
        let actions = raw_actions
            .get_ref()
            .iter()
            .map(|a| self.action(a, &names))
            .collect::<Result<Vec<_>>>()?;

        Ok((names, actions))
    }

    /// `state_from_context`: keys some action produces.
    fn state_from_context(
        &self,
        raw: Option<&Vec<Spanned<String>>>,
        names: &Names,
    ) -> Result<Option<Vec<String>>> {
        raw.map(|keys| {
            keys.iter()
                .map(|k| self.produced_key(k, names, "state_from_context"))
                .collect::<Result<Vec<_>>>()
        })
        .transpose()
    }

    /// The `[[invariants]]` tables: unique names that no active built-in takes.
    fn invariants(
        &self,
        raw: &RawScenario,
        (builtins, openapi): (&Builtins, bool),
        actions: &[ActionSpec],
        rollback: &RollbackSpec,
    ) -> Result<Vec<InvariantSpec>> {
        let mut invariants = Vec::new();
        let mut inv_names = BTreeSet::new();
        for spanned in raw.invariants.iter().flatten() {
            let inv = spanned.get_ref();
            let name = inv.name.get_ref();
            self.name(&inv.name, "invariant", true, Some(&mut inv_names))?;
            if let Some(builtin) = Builtin::ALL
                .into_iter()
                .find(|b| b.name() == name && b.is_active(builtins, actions, openapi))
            {
                return Err(self.err_at(
                    &inv.name,
                    format!(
                        "invariant name `{name}` is taken by the built-in invariant, expected another name ({})",
                        builtin.how_to_free()
                    ),
                ));
            }
            let raw_checks = inv.checks.as_ref().map_or(&[][..], |c| c.get_ref());
            if let (Some(checks), Some(_)) = (&inv.checks, &inv.check) {
                return Err(self.err_at(
                    checks,
                    format!(
                        "invariant `{name}` has both `check` and `checks`, expected one of them"
                    ),
                ));
            }
            let names = self.check_names(raw_checks)?;
            let (timing, when) = match &inv.when {
                Some(w) if w.get_ref().trim() == "before" => (Timing::BeforeAction, None),
                Some(w) if w.get_ref().trim() == "after" => (Timing::AfterStep, None),
                Some(w) => (Timing::AfterStep, Some(self.expr_with(w, &names)?)),
                None => (Timing::AfterStep, None),
            };
            let condition = self.condition(spanned, rollback, &names)?;
            if let (Timing::BeforeAction, Condition::Expr(expr)) = (timing, &condition) {
                if expr.uses_last() && inv.check.is_none() {
                    return Err(self.err_at(
                        inv.expr.as_ref().unwrap_or(&inv.name),
                        format!("invariant `{name}` is checked before each action (when = \"before\"), where no step answered yet, expected an `expr` that does not read `last` (or a `check`)"),
                    ));
                }
            }
            // An `offending_rows` message sees the rows found as `rows`.
            let message_names = match condition {
                Condition::OffendingRows(_) => vec!["rows".to_string()],
                _ => names.clone(),
            };
            invariants.push(InvariantSpec {
                name: name.clone(),
                severity: inv.severity.unwrap_or(Severity::High),
                when,
                timing,
                check: inv
                    .check
                    .as_ref()
                    .map(|c| self.call(c, false, &[]))
                    .transpose()?,
                checks: raw_checks
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        self.check(c, &names[..i.min(names.len())], rollback.has_database())
                    })
                    .collect::<Result<_>>()?,
                condition,
                message: inv
                    .message
                    .as_ref()
                    .map(|m| self.template_with(m, &message_names))
                    .transpose()?,
            });
        }

        Ok(invariants)
    }

    /// The `[load]` table: flows naming existing actions, and thresholds in their grammar.
    fn load(&self, raw: &RawLoad, names: &Names) -> Result<LoadSpec> {
        let mut flows = Vec::new();
        let mut flow_names = BTreeSet::new();
        if let Some(list) = &raw.flows {
            if list.get_ref().is_empty() {
                return Err(self.err_at(
                    list,
                    "no flows, expected at least one `{ name = \"...\", actions = [...] }` (or leave `flows` out)",
                ));
            }
            for f in list.get_ref() {
                flows.push(self.flow(f, names, &mut flow_names)?);
            }
        }
        let mut thresholds = Vec::new();
        for (key, value) in raw.thresholds.iter().flat_map(|t| t.0.iter()) {
            thresholds.push(self.threshold(key, value, names)?);
        }
        Ok(LoadSpec {
            flows,
            thresholds,
            abort_on_fail: raw.abort_on_fail.unwrap_or(false),
        })
    }

    fn flow(&self, f: &RawFlow, names: &Names, seen: &mut BTreeSet<String>) -> Result<FlowSpec> {
        let name = f.name.get_ref();
        self.name(&f.name, "flow", false, Some(seen))?;
        if f.actions.get_ref().is_empty() {
            return Err(self.err_at(
                &f.actions,
                format!("flow `{name}` has no actions, expected at least one action name"),
            ));
        }
        let place = format!("flow `{name}`");
        let actions = f
            .actions
            .get_ref()
            .iter()
            .map(|a| self.known(a, &names.actions, "action", &place, "one of"))
            .collect::<Result<Vec<_>>>()?;
        let weight = self.weight(&f.weight)?;
        Ok(FlowSpec {
            name: name.clone(),
            actions,
            weight,
        })
    }

    fn threshold(
        &self,
        key: &Spanned<String>,
        value: &Node,
        names: &Names,
    ) -> Result<ThresholdSpec> {
        let k = key.get_ref();
        // The key as error messages quote it: a key of any length is shown short.
        let shown = crate::limits::quoted(k);
        let condition = match &value.kind {
            NodeKind::Str(s) => s,
            NodeKind::Table(_) => {
                return Err(self.err_at(
                    key,
                    format!("threshold `{shown}` is a table, expected a string condition; quote keys that contain a dot: `\"{shown}.p95\" = \"< 300ms\"`"),
                ))
            }
            _ => {
                return Err(self.err(
                    value.span.clone(),
                    format!("invalid threshold `{shown}`, expected a string condition such as \"< 300ms\""),
                ))
            }
        };
        let spec = ThresholdSpec::parse(k, condition).map_err(|e| {
            let offset = if e.in_key {
                self.inner_offset(key.span(), k, Some(e.offset))
            } else {
                self.inner_offset(value.span.clone(), condition, Some(e.offset))
            };
            ScenarioError::at_offset(self.file, self.text, offset, e.message)
        })?;
        if let Scope::Action(action) = &spec.metric.scope {
            if !names.actions.contains(action.as_str()) {
                let list: Vec<_> = names.actions.iter().map(|a| format!("`{a}`")).collect();
                let offset = self.inner_offset(key.span(), k, Some(0));
                return Err(ScenarioError::at_offset(
                    self.file,
                    self.text,
                    offset,
                    format!(
                        "unknown action `{}` in threshold `{shown}`, expected `http` or one of {}",
                        crate::limits::quoted(action),
                        list.join(", ")
                    ),
                ));
            }
        }
        Ok(spec)
    }

    fn server(&self, s: &RawServer, base_url: &str, base_dir: &Path) -> Result<ServerSpec> {
        if s.command.get_ref().trim().is_empty() {
            return Err(self.err_at(&s.command, "empty server command, expected a shell command"));
        }
        let ready_url = match &s.ready_url {
            None => base_url.to_string(),
            Some(u) => {
                let url = u.get_ref();
                if url.starts_with("http://") || url.starts_with("https://") {
                    url.clone()
                } else if url.starts_with('/') {
                    format!("{base_url}{url}")
                } else {
                    return Err(self.err_at(
                        u,
                        format!("invalid ready_url `{url}`, expected a path starting with `/` or an http(s) URL"),
                    ));
                }
            }
        };
        let mut env = BTreeMap::new();
        for (k, v) in s.env.iter().flat_map(|e| e.0.iter()) {
            env.insert(self.env_name(k)?, v.get_ref().clone());
        }
        Ok(ServerSpec {
            command: s.command.get_ref().clone(),
            cwd: match &s.cwd {
                Some(c) => base_dir.join(c),
                None => base_dir.to_path_buf(),
            },
            env,
            ready_url,
            ready_timeout: match &s.ready_timeout {
                Some(t) => self.duration(t, "ready_timeout")?,
                None => Duration::from_secs(15),
            },
        })
    }

    fn rollback(
        &self,
        rb: &RawRollback,
        raw: &RawScenario,
        base_dir: &Path,
    ) -> Result<RollbackSpec> {
        let mode = rb
            .mode
            .as_ref()
            .map_or(RawRollbackMode::Reset, |m| *m.get_ref());
        if mode == RawRollbackMode::Postgres {
            return Ok(RollbackSpec::Postgres(self.postgres(rb, raw)?));
        }
        self.no_postgres_keys(rb)?;
        let sqlite = self.sqlite(rb, base_dir)?;
        match (mode == RawRollbackMode::Sqlite, sqlite) {
            (false, observe) => Ok(RollbackSpec::Reset { observe }),
            (true, Some(spec)) => Ok(RollbackSpec::Sqlite(spec)),
            (true, None) => {
                let span = rb.mode.as_ref().map_or(0..0, |m| m.span());
                Err(self.err(
                    span,
                    "mode = \"sqlite\" needs `sqlite_path`, expected the API's database file",
                ))
            }
        }
    }

    /// The `sqlite_path` and `observe_tables` of `[rollback]`, if a path is given.
    fn sqlite(&self, rb: &RawRollback, base_dir: &Path) -> Result<Option<SqliteSpec>> {
        let Some(path) = &rb.sqlite_path else {
            if let Some(t) = &rb.observe_tables {
                return Err(self.err_at(
                    t,
                    "`observe_tables` needs `sqlite_path`, expected the database holding the tables",
                ));
            }
            if let Some(q) = &rb.observe_queries {
                return Err(self.err_at(
                    q,
                    "`observe_queries` needs `sqlite_path` or mode = \"postgres\", expected the database to query",
                ));
            }
            return Ok(None);
        };
        if path.get_ref().is_empty() {
            return Err(self.err_at(path, "empty sqlite_path, expected a file path"));
        }
        let mut tables = Vec::new();
        for t in rb.observe_tables.iter().flat_map(|t| t.get_ref()) {
            if !is_identifier(t.get_ref(), false) {
                return Err(self.err_at(
                    t,
                    format!(
                        "invalid table name `{}`, expected [A-Za-z_][A-Za-z0-9_]*",
                        t.get_ref()
                    ),
                ));
            }
            tables.push(t.get_ref().clone());
        }
        Ok(Some(SqliteSpec {
            path: base_dir.join(path.get_ref()),
            observe_tables: tables,
            observe_queries: self.observe_queries(rb)?,
        }))
    }

    /// An `expect` list: statuses in 100..=599, at least one.
    pub(crate) fn expect(
        &self,
        raw: Option<&Spanned<Vec<Spanned<i64>>>>,
    ) -> Result<Option<Vec<u16>>> {
        let Some(list) = raw else { return Ok(None) };
        if list.get_ref().is_empty() {
            return Err(self.err_at(list, "empty expect, expected at least one status"));
        }
        let mut out = Vec::new();
        for s in list.get_ref() {
            let v = *s.get_ref();
            if !(100..=599).contains(&v) {
                return Err(self.err_at(
                    s,
                    format!("invalid status `{v}` in expect, expected 100..=599"),
                ));
            }
            out.push(v as u16);
        }
        Ok(Some(out))
    }

    fn action(&self, spanned: &Spanned<RawAction>, names: &Names) -> Result<ActionSpec> {
        let a = spanned.get_ref();
        let name = a.name.get_ref();
        let role = a.role.as_ref().map(|r| self.role_ref(r)).transpose()?;
        let any_status = a
            .extract_on
            .as_ref()
            .is_some_and(|on| *on.get_ref() == RawExtractOn::Any);
        let steps = match (&a.steps, &a.method, &a.path) {
            (Some(steps), None, None) => {
                let single = [
                    ("body", a.body.as_ref().map(|b| b.span.clone())),
                    ("headers", a.headers.as_ref().and(Some(a.name.span()))),
                    ("expect", a.expect.as_ref().map(Spanned::span)),
                    ("extract", a.extract.as_ref().and(Some(a.name.span()))),
                ];
                if let Some((key, span)) = single.into_iter().find_map(|(k, s)| Some((k, s?))) {
                    return Err(self.err(
                        span,
                        format!("action `{name}` has `steps` and `{key}`, expected `{key}` inside each step"),
                    ));
                }
                if steps.get_ref().is_empty() {
                    return Err(self.err_at(
                        steps,
                        format!("action `{name}` has no steps, expected at least one request"),
                    ));
                }
                steps
                    .get_ref()
                    .iter()
                    .map(|s| self.step(s, role.as_ref(), any_status))
                    .collect::<Result<Vec<_>>>()?
            }
            (None, Some(method), Some(path)) => vec![StepSpec {
                request: self.request(method, path, a.body.as_ref(), a.headers.as_ref())?,
                role: role.clone(),
                expect: self.expect(a.expect.as_ref())?,
                extract: self.extract(a.extract.as_ref(), any_status)?,
            }],
            (Some(steps), _, _) => {
                return Err(self.err_at(
                    steps,
                    format!("action `{name}` has both `steps` and `method`/`path`, expected one of them"),
                ))
            }
            (None, None, _) => {
                return Err(self.err_at(
                    spanned,
                    format!("missing field `method` of action `{name}`, expected `method` and `path`, or `steps`"),
                ))
            }
            (None, Some(_), None) => {
                return Err(self.err_at(
                    spanned,
                    format!("missing field `path` of action `{name}`, expected `method` and `path`, or `steps`"),
                ))
            }
        };
        let mut set = Vec::new();
        for (k, v) in a.set.iter().flat_map(|e| e.0.iter()) {
            set.push((self.context_key(k)?, self.template_value(v)?));
        }
        let requires = match &a.requires {
            None => Requires::default(),
            Some(r) => {
                let place = "requires.actions";
                Requires {
                    actions: r
                        .actions
                        .iter()
                        .flatten()
                        .map(|n| self.known(n, &names.actions, "action", place, "one of"))
                        .collect::<Result<_>>()?,
                    keys: r
                        .keys
                        .iter()
                        .flatten()
                        .map(|k| self.produced_key(k, names, "requires.keys"))
                        .collect::<Result<_>>()?,
                    expr: r.expr.as_ref().map(|e| self.boolean_expr(e)).transpose()?,
                }
            }
        };
        let weight = self.weight(&a.weight)?;
        Ok(ActionSpec {
            name: a.name.get_ref().clone(),
            steps,
            auth: a.auth.as_ref().map(|x| self.auth(x)).transpose()?,
            set,
            requires,
            max_calls: self.max_calls(a.max_calls.as_ref())?,
            weight,
            quota: self.quota(a)?,
        })
    }
}

/// What the actions declare: their names and the context keys they extract or set.
#[derive(Default)]
struct Names<'a> {
    actions: BTreeSet<&'a str>,
    keys: BTreeSet<&'a str>,
}

/// The `[builtins]` table: which built-in invariants are on.
fn builtins(raw: Option<&RawBuiltins>) -> Builtins {
    let on = |flag: fn(&RawBuiltins) -> Option<bool>| raw.and_then(flag).unwrap_or(true);
    Builtins {
        no_server_errors: on(|b| b.no_server_errors),
        response_schema: on(|b| b.response_schema),
        use_after_free: on(|b| b.use_after_free),
        create_then_read: on(|b| b.create_then_read),
        failed_create_leaves_nothing: on(|b| b.failed_create_leaves_nothing),
        auth_enforced: on(|b| b.auth_enforced),
    }
}

/// The folder relative paths are resolved against: the file's parent, or `.`.
fn base_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, plus `.` and `-` after the first character when `extended`.
pub(crate) fn is_identifier(s: &str, extended: bool) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (extended && (c == '.' || c == '-')))
}

fn header_name_error(name: &str) -> String {
    format!("invalid header name `{name}`, expected letters, digits and !#$%&'*+-.^_`|~")
}

/// An HTTP header name (RFC 9110 token).
fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}
