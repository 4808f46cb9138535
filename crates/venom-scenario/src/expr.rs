//! CEL expressions and the variables they see.

use crate::error::EvalError;
use cel::objects::{Key, Map};
use cel::{Env, Program, Value as CelValue};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use venom_engine::Context;

/// Variables visible to expressions and templates.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The exploration context, seen as the map `ctx`.
    pub ctx: &'a Context,
    /// The last response `{status, body, headers, elapsed_ms}`, seen as `last`; when absent,
    /// referencing `last` is an evaluation error.
    pub last: Option<&'a Value>,
    /// The responses of an invariant's named `checks`, each seen by its name.
    pub calls: &'a [(String, Value)],
}

impl<'a> Vars<'a> {
    /// Variables with a context and no last response.
    pub fn new(ctx: &'a Context) -> Self {
        Vars {
            ctx,
            last: None,
            calls: &[],
        }
    }

    /// Variables with a context and a last response.
    pub fn with_last(ctx: &'a Context, last: &'a Value) -> Self {
        Vars {
            ctx,
            last: Some(last),
            calls: &[],
        }
    }

    /// These variables and the responses of named checks.
    pub fn with_calls(self, calls: &'a [(String, Value)]) -> Self {
        Vars { calls, ..self }
    }
}

/// A compiled CEL expression.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
    uses_ctx: bool,
    uses_last: bool,
    uses_env: bool,
    /// The context keys it reads, each with the byte offset of the read in `source`.
    ctx_keys: Vec<(String, usize)>,
    /// Whether it surely yields no boolean (a literal, arithmetic…).
    not_boolean: bool,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

/// Why an expression failed to compile: a message and, when known, the byte offset in the
/// expression's source.
#[derive(Debug, Clone)]
pub(crate) struct CompileError {
    pub offset: Option<usize>,
    pub message: String,
}

/// Whether `name`, called in an expression, is a function CEL knows: an operator, or a name
/// that calling (`name()`, `0.name()`) does not report as undeclared. The environment does not
/// list its functions, so it is asked this way, once per name.
fn is_function(name: &str) -> bool {
    static KNOWN: OnceLock<std::sync::Mutex<HashMap<String, bool>>> = OnceLock::new();
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        || name.starts_with('_')
    {
        return true; // an operator (`_+_`, `!_`, `@in`…)
    }
    let known = KNOWN.get_or_init(Default::default);
    if let Some(answer) = known.lock().ok().and_then(|k| k.get(name).copied()) {
        return answer;
    }
    let undeclared = |source: String| {
        let Ok(program) = env().compile(&source) else {
            return false;
        };
        let cx = cel::Context::with_env(Arc::clone(env()));
        matches!(
            program.execute(&cx),
            Err(cel::ExecutionError::UndeclaredReference(n)) if n.as_str() == name
        )
    };
    let answer = !(undeclared(format!("{name}()")) && undeclared(format!("0.{name}()")));
    if let Ok(mut cache) = known.lock() {
        cache.insert(name.to_string(), answer);
    }
    answer
}

fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib()))
}

impl Expr {
    /// Compiles `source`; the error message includes CEL's parse message.
    pub fn compile(source: &str) -> Result<Expr, EvalError> {
        Self::compile_inner(source).map_err(|e| EvalError(e.message))
    }

    pub(crate) fn compile_inner(source: &str) -> Result<Expr, CompileError> {
        Self::compile_with(source, &[])
    }

    /// Compiles `source`, where the variables `names` (an invariant's named checks) may be
    /// read besides `ctx`, `last` and `env`.
    pub(crate) fn compile_with(source: &str, names: &[String]) -> Result<Expr, CompileError> {
        if source.trim().is_empty() {
            return Err(CompileError {
                offset: None,
                message: "empty expression, expected a CEL expression".into(),
            });
        }
        crate::limits::check_expression(source)?;
        let program = env().compile(source).map_err(|errs| {
            let first = errs.errors.first();
            let offset = first.and_then(|e| {
                offset_of(
                    source,
                    usize::try_from(e.pos.0).ok()?,
                    usize::try_from(e.pos.1).ok()?,
                )
            });
            let detail = errs
                .errors
                .iter()
                .map(|e| e.msg.clone())
                .collect::<Vec<_>>()
                .join("; ");
            CompileError {
                offset,
                message: format!(
                    "invalid CEL expression `{}`: {}",
                    crate::limits::quoted(source.trim()),
                    crate::limits::quoted(&detail)
                ),
            }
        })?;
        let mut reads = crate::expr_reads::reads(program.expression());
        reads
            .unknown_variables
            .retain(|(name, _)| !names.contains(name));
        let at = |id: u64| {
            let chars = program.source_info().offset_for(id)?.0;
            let chars = usize::try_from(chars).ok()?;
            Some(
                source
                    .char_indices()
                    .nth(chars)
                    .map_or(source.len(), |(byte, _)| byte),
            )
        };
        if let Some((name, id)) = reads.unknown_variables.first() {
            let name = crate::limits::quoted(name);
            let checks: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let expected = match checks.as_slice() {
                [] => "`ctx`, `last` or `env`".to_string(),
                _ => format!("`ctx`, `last`, `env` or a check: {}", checks.join(", ")),
            };
            let message = match name.ends_with('…') {
                // A long name says enough by itself.
                true => format!("unknown variable `{name}`, expected {expected}"),
                false => format!(
                    "unknown variable `{name}` in `{}`, expected {expected} (a context key is \
                     read as `ctx.{name}`)",
                    crate::limits::quoted(source.trim()),
                ),
            };
            return Err(CompileError {
                offset: at(*id),
                message,
            });
        }
        let refs = program.references();
        if let Some(name) = refs.functions().into_iter().find(|f| !is_function(f)) {
            return Err(CompileError {
                offset: source.find(name),
                message: format!(
                    "unknown function `{name}` in `{}`, expected a CEL standard function such \
                     as size, has, int, double, string, startsWith, endsWith, contains",
                    crate::limits::quoted(source.trim())
                ),
            });
        }
        let ctx_keys = reads
            .ctx_keys
            .iter()
            .map(|(key, id)| (key.clone(), at(*id).unwrap_or(0)))
            .collect();
        let not_boolean = crate::expr_reads::surely_not_boolean(program.expression());
        Ok(Expr {
            ctx_keys,
            not_boolean,
            source: source.trim().to_string(),
            uses_ctx: refs.has_variable("ctx"),
            uses_last: refs.has_variable("last"),
            uses_env: refs.has_variable("env"),
            program: Arc::new(program),
        })
    }

    /// The context keys the expression reads, with the byte offset of each read in the source
    /// it was compiled from.
    pub(crate) fn ctx_keys(&self) -> &[(String, usize)] {
        &self.ctx_keys
    }

    /// Whether the expression surely yields no boolean (a literal, arithmetic, a list…).
    pub(crate) fn surely_not_boolean(&self) -> bool {
        self.not_boolean
    }

    /// The expression as written, without surrounding whitespace.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the expression reads the `last` response.
    pub fn uses_last(&self) -> bool {
        self.uses_last
    }

    /// Evaluates the expression to a JSON value (CEL ints stay integers).
    pub fn eval(&self, vars: &Vars) -> Result<Value, EvalError> {
        let mut cx = cel::Context::with_env(Arc::clone(env()));
        if self.uses_ctx {
            let map = vars
                .ctx
                .as_map()
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect::<HashMap<_, _>>();
            cx.add_variable_from_value("ctx", CelValue::Map(Map { map: Arc::new(map) }));
        }
        if self.uses_last {
            if let Some(last) = vars.last {
                cx.add_variable_from_value("last", json_to_cel(last));
            }
        }
        for (name, value) in vars.calls {
            cx.add_variable_from_value(name.as_str(), json_to_cel(value));
        }
        if self.uses_env {
            let map = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .map(|(k, v)| (Key::String(Arc::new(k)), CelValue::String(Arc::new(v))))
                .collect::<HashMap<_, _>>();
            cx.add_variable_from_value("env", CelValue::Map(Map { map: Arc::new(map) }));
        }
        let value = self.program.execute(&cx).map_err(|e| {
            let hint = if self.uses_last && vars.last.is_none() {
                " (`last` is not available here)"
            } else {
                ""
            };
            EvalError(format!(
                "evaluating `{}`: {e}{hint}",
                crate::limits::quoted(&self.source)
            ))
        })?;
        value.json().map_err(|e| {
            EvalError(format!(
                "evaluating `{}`: result cannot be converted to JSON: {e}",
                crate::limits::quoted(&self.source)
            ))
        })
    }

    /// Evaluates the expression, which must return a bool.
    pub fn eval_bool(&self, vars: &Vars) -> Result<bool, EvalError> {
        match self.eval(vars)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!(
                "expression `{}` returned {other}, expected a bool",
                self.source
            ))),
        }
    }
}

/// Byte offset in `source` of a CEL parse position (1-based line and column, the column in
/// characters); `None` for the unknown position `(0, 0)`.
fn offset_of(source: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        _ => source
            .match_indices('\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?,
    };
    let rest = &source[line_start..];
    let within = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    Some(line_start + within)
}

/// Converts JSON into a CEL value: integers that fit `i64` become `int`, other integers `uint`,
/// the rest `double`.
pub(crate) fn json_to_cel(value: &Value) -> CelValue {
    match value {
        Value::Null => CelValue::Null,
        Value::Bool(b) => CelValue::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                CelValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                CelValue::UInt(u)
            } else {
                CelValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => CelValue::String(Arc::new(s.clone())),
        Value::Array(items) => CelValue::List(Arc::new(items.iter().map(json_to_cel).collect())),
        Value::Object(fields) => CelValue::Map(Map {
            map: Arc::new(
                fields
                    .iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                    .collect(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::offset_of;

    #[test]
    fn cel_positions_are_one_based() {
        let src = "ab\ncdé\nf";
        assert_eq!(offset_of(src, 1, 1), Some(0));
        assert_eq!(offset_of(src, 1, 2), Some(1));
        assert_eq!(offset_of(src, 2, 1), Some(3));
        assert_eq!(offset_of(src, 3, 1), Some(8)); // after the two-byte é
        assert_eq!(offset_of(src, 3, 9), Some(9)); // past the end: the end
        assert_eq!(offset_of(src, 0, 0), None); // CEL's "unknown"
        assert_eq!(offset_of(src, 9, 1), None);
    }
}
