//! venom-scenario: parse, validate and compile the declarative scenario file (TOML).
//!
//! The format is described in `docs/scenario-format.md`. [`load`] / [`parse`] return a
//! validated [`Scenario`] whose expressions ([`Expr`]), templates ([`Template`],
//! [`TemplateValue`]) and JSONPath queries ([`Extractor`]) are already compiled; every problem
//! is reported as a [`ScenarioError`] `file:line:column: message`.
#![warn(missing_docs)]

mod builtins;
mod compile;
mod compile_concurrent;
mod compile_requests;
mod compile_stores;
mod env_refs;
mod error;
mod expr;
mod expr_reads;
mod extract;
mod limits;
mod load_spec;
mod model;
mod spec;
mod template;

pub use builtins::Builtin;
pub use error::{EvalError, ScenarioError};
pub use expr::{Expr, Vars};
pub use extract::Extractor;
pub use limits::{
    MAX_EXPRESSION_BYTES, MAX_FILE_BYTES, MAX_JSONPATH_BYTES, MAX_JSONPATH_NESTING, MAX_NESTING,
    MAX_OPERATORS, MAX_TOML_NESTING,
};
pub use load_spec::{
    CompareOp, Dimension, FlowSpec, LoadSpec, Metric, Scope, Stat, ThresholdError, ThresholdSpec,
};
pub use model::{
    ActionSpec, AuthSpec, Builtins, CallSpec, Check, ConcurrentSpec, Condition, Credential,
    Defaults, ExploreDefaults, Extract, InvariantSpec, ObserveSpec, OpenApiSource, PgMechanism,
    PostgresSpec, Projection, Quota, RedisSpec, Relogin, RequestSpec, Requires, ResetSpec,
    RoleSpec, RollbackSpec, Scenario, ServerSpec, SqliteSpec, StepSpec, UnsetUrlVar, UrlSource,
    DEFAULT_MAX_BODY_BYTES, PORT_PLACEHOLDER,
};
pub use template::{Template, TemplateValue};

use std::path::Path;

/// Reads and parses the scenario file at `path` (at most [`MAX_FILE_BYTES`]).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let cannot_read = |e: std::io::Error| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the scenario file: {e}"),
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            use std::io::Read as _;
            file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)
        })
        .map_err(cannot_read)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        // Positions count in the valid text before the first bad byte.
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let before = std::str::from_utf8(valid).unwrap_or_default();
        ScenarioError::at_offset(
            path,
            before,
            before.len(),
            "the file is not valid UTF-8 here, expected UTF-8 text",
        )
    })?;
    parse(&text, path)
}

/// Parses scenario `text`; `file` names it in errors, and relative paths in it are resolved
/// against `file`'s folder.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(too_large(file));
    }
    if let Some(offset) = limits::toml_too_deep(text) {
        return Err(ScenarioError::at_offset(
            file,
            text,
            offset,
            format!(
                "arrays and tables nested deeper than {} levels, expected a flatter value",
                limits::MAX_TOML_NESTING
            ),
        ));
    }
    let raw: spec::RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let mut message = e.message().trim_end().to_string();
        if message == "duplicate key" {
            if let Some(key) = text.get(span.clone()).filter(|k| !k.is_empty()) {
                message = format!("duplicate key `{key}`");
            }
        }
        ScenarioError::at_offset(file, text, span.start, message)
    })?;
    let produced = compile::produced_keys(&raw);
    let roles = compile::role_names(&raw);
    compile::Compiler {
        file,
        text,
        produced,
        roles,
        variables: Vec::new(),
    }
    .scenario(raw)
}

/// The error for a scenario file past [`MAX_FILE_BYTES`].
fn too_large(file: &Path) -> ScenarioError {
    ScenarioError {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
        message: format!(
            "the scenario file is larger than {MAX_FILE_BYTES} bytes (1 MiB), the most venom reads"
        ),
    }
}
