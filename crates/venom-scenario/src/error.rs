//! Errors: where in the scenario file something is wrong, and why an evaluation failed.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a scenario file, with its 1-based position.
///
/// Displays as `{file}:{line}:{column}: {message}`, or `{file}: {message}` when the problem is
/// not at a position (the file cannot be read: `line` and `column` are 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line (0: the whole file).
    pub line: usize,
    /// 1-based column, counted in characters (0: the whole file).
    pub column: usize,
    /// What is wrong and what was expected, on one line.
    pub message: String,
}

impl ScenarioError {
    /// An error at byte `offset` of `text` (clamped to the text's length); line breaks in
    /// `message` (from a multi-line value it quotes) become spaces.
    pub fn at_offset(file: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, offset);
        ScenarioError {
            file: file.to_path_buf(),
            line,
            column,
            // One line, and what it quotes from the file short (a name can be any length).
            message: crate::limits::shorten_quotes(
                &message.into().lines().collect::<Vec<_>>().join(" "),
            ),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file.display(), self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl std::error::Error for ScenarioError {}

/// Why evaluating an expression or rendering a template failed; the message names the
/// expression's source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// 1-based (line, column) of byte `offset` in `text`; the column counts characters.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 1), (1, 2));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 7), (2, 4)); // after the two-byte é
        assert_eq!(line_column(text, 8), (3, 1));
        assert_eq!(line_column(text, 100), (3, 2));
    }

    #[test]
    fn display_format() {
        let e = ScenarioError {
            file: PathBuf::from("demo.toml"),
            line: 14,
            column: 3,
            message: "unknown field `nmae`".into(),
        };
        assert_eq!(e.to_string(), "demo.toml:14:3: unknown field `nmae`");
    }
}
