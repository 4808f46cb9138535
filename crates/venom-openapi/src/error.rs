//! What is wrong with an OpenAPI document, and where.

use std::fmt;

/// A problem in an OpenAPI document: where (the document, a 1-based line and column when known,
/// the JSON pointer of the offending part) and what.
///
/// Displays as `{origin}:{line}:{column}: {pointer}: {message}`; the position is left out when
/// it is unknown (line 0) and the pointer when the problem is the whole document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The document: a file path or the URL it was fetched from.
    pub origin: String,
    /// 1-based line (0: unknown).
    pub line: usize,
    /// 1-based column, in characters (0: unknown).
    pub column: usize,
    /// JSON pointer of the offending part (`/paths/~1orders/post`); empty for the whole document.
    pub pointer: String,
    /// What is wrong and what was expected, on one line.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.pointer.is_empty() {
            write!(f, ": {}", self.pointer)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

/// The longest message quoted from a document (a name or a value can be any length).
const MAX_QUOTED_CHARS: usize = 120;

/// `text` on one line and at most [`MAX_QUOTED_CHARS`] characters (`…` marks a cut).
pub(crate) fn one_line(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= MAX_QUOTED_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_QUOTED_CHARS).collect();
    cut.push('…');
    cut
}
