//! SQL against a store as the API sees it, for SQL invariants and observations.

use venom_engine::WorldError;

/// A session that runs SQL against the database as the API currently sees it.
pub trait SqlQuery {
    /// Runs `sql` (one statement) and returns its rows, every value as text (`None` for NULL):
    /// PostgreSQL's text format, or SQLite's values in decimal.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError>;
}
