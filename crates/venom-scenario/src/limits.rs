//! The bounds every input is held to, so that no scenario file can crash, hang or exhaust
//! venom: the file's size, and the size and nesting of each expression and JSONPath query.
//! The parsers behind them (TOML, CEL, JSONPath) recurse on nesting, and JSONPath filters parse
//! in time exponential in their depth; inputs past these bounds are refused before they reach
//! the parsers, with the position of the excess.

use crate::expr::CompileError;

/// The largest scenario file read (1 MiB; real scenarios are a few KiB).
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// The longest CEL expression, alone or inside a `{{ }}` template placeholder.
pub const MAX_EXPRESSION_BYTES: usize = 4096;
/// The most operators and member accesses (`+`, `&&`, `.`, `[`…) in one expression.
pub const MAX_OPERATORS: usize = 128;
/// The deepest nesting of brackets (`(`, `[`, `{`) in one expression.
pub const MAX_NESTING: usize = 24;
/// The longest JSONPath query.
pub const MAX_JSONPATH_BYTES: usize = 512;
/// The deepest nesting of brackets in one JSONPath query.
pub const MAX_JSONPATH_NESTING: usize = 8;
/// The deepest nesting of arrays and inline tables in the scenario file.
pub const MAX_TOML_NESTING: usize = 32;
/// How much of an input an error message quotes.
const QUOTED_CHARS: usize = 80;
/// The fewest characters a quoted part keeps when a message quotes many.
const MIN_QUOTED_CHARS: usize = 24;
/// The length past which a message's quoted parts are cut shorter.
const MESSAGE_CHARS: usize = 300;

/// Refuses a CEL expression past the size, operator or nesting bounds.
pub(crate) fn check_expression(source: &str) -> Result<(), CompileError> {
    if source.len() > MAX_EXPRESSION_BYTES {
        return Err(too_large(source, "CEL expression", MAX_EXPRESSION_BYTES));
    }
    let shape = shape(source);
    if let Some(offset) = shape.too_deep(MAX_NESTING) {
        return Err(CompileError {
            offset: Some(offset),
            message: format!(
                "the CEL expression `{}` nests brackets deeper than {MAX_NESTING} levels",
                quoted(source.trim())
            ),
        });
    }
    if let Some(&offset) = shape.operators.get(MAX_OPERATORS) {
        return Err(CompileError {
            offset: Some(offset),
            message: format!(
                "the CEL expression `{}` has more than {MAX_OPERATORS} operators and member \
                 accesses; split it into several invariants",
                quoted(source.trim())
            ),
        });
    }
    Ok(())
}

/// Refuses a JSONPath query past the size or nesting bounds.
pub(crate) fn check_jsonpath(source: &str) -> Result<(), CompileError> {
    if source.len() > MAX_JSONPATH_BYTES {
        return Err(too_large(source, "JSONPath query", MAX_JSONPATH_BYTES));
    }
    if let Some(offset) = shape(source).too_deep(MAX_JSONPATH_NESTING) {
        return Err(CompileError {
            offset: Some(offset),
            message: format!(
                "the JSONPath `{}` nests brackets deeper than {MAX_JSONPATH_NESTING} levels",
                quoted(source)
            ),
        });
    }
    Ok(())
}

/// The byte offset of the first array or inline table of `text` (TOML) nested deeper than
/// [`MAX_TOML_NESTING`], skipping strings and comments.
pub(crate) fn toml_too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_past(bytes, i, b"\n", false),
            quote @ (b'"' | b'\'') => {
                let escapes = quote == b'"';
                let triple = [quote; 3];
                i = if bytes[i..].starts_with(&triple) {
                    skip_past(bytes, i + 3, &triple, escapes)
                } else {
                    skip_past(bytes, i + 1, &[quote], escapes)
                };
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_TOML_NESTING {
                    return Some(i);
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The index just past the first `end` at or after `from` (a `\` escapes the next byte when
/// `escapes`), or the end of `bytes`.
fn skip_past(bytes: &[u8], from: usize, end: &[u8], escapes: bool) -> usize {
    let mut i = from;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i..].starts_with(end) {
            return i + end.len();
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `message` with every `` `quoted` `` part of it at most [`QUOTED_CHARS`] characters long.
/// When that is still longer than [`MESSAGE_CHARS`] (a message quoting several long parts),
/// the quoted parts share two parts' room (at least [`MIN_QUOTED_CHARS`] each), so that the
/// message stays one readable line.
pub(crate) fn shorten_quotes(message: &str) -> String {
    let short = quotes_cut(message, QUOTED_CHARS);
    let quotes = message.split('`').count() / 2;
    if short.chars().count() <= MESSAGE_CHARS || quotes <= 2 {
        return short;
    }
    quotes_cut(message, (2 * QUOTED_CHARS / quotes).max(MIN_QUOTED_CHARS))
}

/// `message` with every quoted part at most `limit` characters long.
fn quotes_cut(message: &str, limit: usize) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            1 => cut(part, limit),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// At most [`QUOTED_CHARS`] characters of `source`, with `…` when cut.
pub(crate) fn quoted(source: &str) -> String {
    cut(source, QUOTED_CHARS)
}

/// At most `limit` characters of `source`, with `…` when cut.
fn cut(source: &str, limit: usize) -> String {
    if source.chars().count() <= limit {
        return source.to_string();
    }
    let kept: String = source.chars().take(limit).collect();
    format!("{kept}…")
}

fn too_large(source: &str, what: &str, limit: usize) -> CompileError {
    CompileError {
        offset: Some(0),
        message: format!(
            "the {what} `{}` is {} bytes, larger than the limit of {limit}",
            quoted(source),
            source.len()
        ),
    }
}

/// Where an expression's operators are and how deep its brackets go, outside string literals.
struct Shape {
    /// Byte offset of each operator (a run of operator characters counts once).
    operators: Vec<usize>,
    /// Byte offset and depth of each opening bracket.
    openings: Vec<(usize, usize)>,
}

impl Shape {
    /// The offset of the first bracket deeper than `limit`.
    fn too_deep(&self, limit: usize) -> Option<usize> {
        self.openings
            .iter()
            .find(|(_, depth)| *depth > limit)
            .map(|(offset, _)| *offset)
    }
}

fn shape(source: &str) -> Shape {
    let mut shape = Shape {
        operators: Vec::new(),
        openings: Vec::new(),
    };
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut in_operator = false;
    for (offset, c) in source.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        let operator = "+-*/%<>=!&|?:.[".contains(c);
        if operator && !in_operator {
            shape.operators.push(offset);
        }
        in_operator = operator;
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                shape.openings.push((offset, depth));
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_quoting_three_long_names_stays_within_a_line() {
        // Found by the scenario fuzzer: an unknown function of a long name, quoted three times.
        let name = "ha".repeat(200);
        let message = format!(
            "in template `{{{{ {name}() }}}}`: unknown function `{name}` in `{name}()`, expected a CEL \
             standard function such as size, has, int, double, string, startsWith, endsWith, contains"
        );
        let short = shorten_quotes(&message);
        assert!(
            short.chars().count() <= 380,
            "{} chars: {short}",
            short.chars().count()
        );
        assert!(short.contains("unknown function `haha"), "{short}");
    }

    #[test]
    fn ordinary_expressions_pass_and_excess_is_located() {
        assert!(check_expression("has(ctx.paid) && ctx.refunded <= ctx.paid + 'x(('").is_ok());
        let chain = vec!["1"; 200].join(" + ");
        let err = check_expression(&chain).unwrap_err();
        assert_eq!(
            err.offset,
            Some(chain.find('+').unwrap() + 4 * MAX_OPERATORS)
        );
        let deep = format!("{}true{}", "(".repeat(30), ")".repeat(30));
        assert_eq!(
            check_expression(&deep).unwrap_err().offset,
            Some(MAX_NESTING)
        );
        assert!(check_jsonpath("$.items[?@.id == 3].name").is_ok());
        assert!(check_jsonpath(&format!("${}", "[?@".repeat(9))).is_err());
    }

    #[test]
    fn toml_nesting_skips_strings_and_comments() {
        let deep = format!("x = {}{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(toml_too_deep(&deep), Some(4 + MAX_TOML_NESTING));
        let hidden = format!(
            "a = \"[[[[\\\"\" # [[[[ it's\nb = '''{}'''\nc = [[1]]\n",
            "[".repeat(40)
        );
        assert_eq!(toml_too_deep(&hidden), None);
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quoted(&"x".repeat(500)).chars().count(), QUOTED_CHARS + 1);
    }
}
