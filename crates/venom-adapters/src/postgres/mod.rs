//! PostgreSQL: observations shared by every mechanism, and the mechanisms themselves.
//!
//! Observations and SQL invariants must see the state the API sees. With snapshots that is any
//! connection to the database; with the transaction proxy it is only the proxy's own upstream
//! session (the state is uncommitted), so both go through [`SqlQuery`].

mod conn;
mod observe;
mod proxy;
mod sequence;
mod snapshot;

pub use conn::url_via;
pub use observe::{observe_postgres, PgObserveSpec};
pub use proxy::{PgProxy, PgProxyOptions};
pub use snapshot::PgSnapshots;

use venom_engine::WorldError;

/// A session that runs SQL against the database as the API currently sees it.
pub trait SqlQuery {
    /// Runs `sql` (one statement, simple query protocol) and returns its rows, every value in
    /// PostgreSQL's text format (`None` for NULL).
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, WorldError>;
}
