//! Templates: strings with `{{ expr }}` placeholders, and JSON values whose strings are templates.

use crate::error::EvalError;
use crate::expr::{CompileError, Expr, Vars};
use serde_json::Value;

/// A string with `{{ expr }}` placeholders, each a CEL expression.
///
/// A placeholder ends at the first `}}` after which the expression compiles, so map literals
/// such as `{{ {'a': 1}['a'] }}` work. There is no escape for a literal `{{`; write `{{ '{{' }}`.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
    /// The context keys its placeholders read, with the byte offset of each read in `source`.
    ctx_keys: Vec<(String, usize)>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// A template without placeholders: `text` as it is (a `{{` in it is not a placeholder).
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            parts: vec![Part::Text(text.to_string())],
            ctx_keys: Vec::new(),
        }
    }

    /// Parses `source`, compiling every placeholder.
    pub fn parse(source: &str) -> Result<Template, EvalError> {
        Self::parse_inner(source).map_err(|e| EvalError(e.message))
    }

    /// Parses `source`; errors carry the byte offset in `source` when known.
    pub(crate) fn parse_inner(source: &str) -> Result<Template, CompileError> {
        Self::parse_with(source, &[])
    }

    /// Parses `source`, whose placeholders may read the variables `names` besides `ctx`,
    /// `last` and `env`.
    pub(crate) fn parse_with(source: &str, names: &[String]) -> Result<Template, CompileError> {
        let mut parts = Vec::new();
        let mut ctx_keys = Vec::new();
        let mut pos = 0;
        while let Some(found) = source[pos..].find("{{") {
            let open = pos + found;
            if open > pos {
                parts.push(Part::Text(source[pos..open].to_string()));
            }
            let start = open + 2;
            let closes: Vec<usize> = source[start..]
                .match_indices("}}")
                .map(|(i, _)| start + i)
                .chain(
                    // overlapping `}}}`: also try the later `}}`
                    source[start..]
                        .match_indices("}}}")
                        .map(|(i, _)| start + i + 1),
                )
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if closes.is_empty() {
                return Err(CompileError {
                    offset: Some(open),
                    message: format!(
                        "unclosed placeholder in template `{}`, expected `}}}}` after `{{{{`",
                        crate::limits::quoted(source)
                    ),
                });
            }
            let mut first_err = None;
            let mut compiled = None;
            for &close in &closes {
                match Expr::compile_with(&source[start..close], names) {
                    Ok(expr) => {
                        compiled = Some((expr, close));
                        break;
                    }
                    Err(e) => {
                        if first_err.is_none() {
                            first_err = Some(e);
                        }
                    }
                }
            }
            let Some((expr, close)) = compiled else {
                let e = first_err.expect("at least one candidate was tried");
                return Err(CompileError {
                    offset: Some(start + e.offset.unwrap_or(0)),
                    message: format!(
                        "in template `{}`: {}",
                        crate::limits::quoted(source),
                        e.message
                    ),
                });
            };
            ctx_keys.extend(
                expr.ctx_keys()
                    .iter()
                    .map(|(key, offset)| (key.clone(), start + offset)),
            );
            parts.push(Part::Expr(expr));
            pos = close + 2;
        }
        if pos < source.len() {
            parts.push(Part::Text(source[pos..].to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
            ctx_keys,
        })
    }

    /// The context keys its placeholders read, with the byte offset of each read.
    pub(crate) fn ctx_keys(&self) -> &[(String, usize)] {
        &self.ctx_keys
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template has no placeholder.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The single expression when the template is exactly one placeholder.
    fn single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }

    /// Renders the template: strings are inserted raw, other values as JSON text.
    pub fn render(&self, vars: &Vars) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expr(e) => match e.eval(vars)? {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(out)
    }
}

/// A JSON value whose strings are templates.
///
/// A string that is exactly one placeholder (`"{{ ctx.total / 2 }}"`) keeps the typed result
/// of its expression; other strings render to strings.
#[derive(Debug, Clone)]
pub struct TemplateValue {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Const(Value),
    Str(Template),
    Array(Vec<TemplateValue>),
    Object(Vec<(String, TemplateValue)>),
}

impl TemplateValue {
    /// A value without templates: renders to itself.
    pub fn constant(value: Value) -> Self {
        TemplateValue {
            node: Node::Const(value),
        }
    }

    /// A string template.
    pub fn string(template: Template) -> Self {
        if template.is_literal() {
            return Self::constant(Value::String(template.source().to_string()));
        }
        TemplateValue {
            node: Node::Str(template),
        }
    }

    /// An array of template values.
    pub fn array(items: Vec<TemplateValue>) -> Self {
        TemplateValue {
            node: Node::Array(items),
        }
    }

    /// An object of template values, in the given order.
    pub fn object(fields: Vec<(String, TemplateValue)>) -> Self {
        TemplateValue {
            node: Node::Object(fields),
        }
    }

    /// Compiles a JSON value, parsing every string as a template.
    pub fn from_json(value: &Value) -> Result<Self, EvalError> {
        Ok(match value {
            Value::String(s) => Self::string(Template::parse(s)?),
            Value::Array(items) => Self::array(
                items
                    .iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(fields) => Self::object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), Self::from_json(v)?)))
                    .collect::<Result<_, EvalError>>()?,
            ),
            other => Self::constant(other.clone()),
        })
    }

    /// Whether the value holds no placeholder (it always renders to the same JSON).
    pub fn is_constant(&self) -> bool {
        match &self.node {
            Node::Const(_) => true,
            Node::Str(_) => false,
            Node::Array(items) => items.iter().all(TemplateValue::is_constant),
            Node::Object(fields) => fields.iter().all(|(_, v)| v.is_constant()),
        }
    }

    /// Renders every template inside the value.
    pub fn render(&self, vars: &Vars) -> Result<Value, EvalError> {
        Ok(match &self.node {
            Node::Const(v) => v.clone(),
            Node::Str(t) => match t.single_expr() {
                Some(e) => e.eval(vars)?,
                None => Value::String(t.render(vars)?),
            },
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(vars))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(vars)?)))
                    .collect::<Result<_, EvalError>>()?,
            ),
        })
    }
}
