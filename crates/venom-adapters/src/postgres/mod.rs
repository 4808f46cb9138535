//! PostgreSQL: observations shared by every mechanism, and the mechanisms themselves.
//!
//! Observations and SQL invariants must see the state the API sees. With snapshots that is any
//! connection to the database; with the transaction proxy it is only the proxy's own upstream
//! session (the state is uncommitted), so both go through [`SqlQuery`](crate::SqlQuery).

mod conn;
mod copy;
mod observe;
mod proxy;
mod sequence;
mod snapshot;

pub use conn::{url_for_database, url_via};
pub use copy::DatabaseCopy;
pub use observe::{observe_postgres, PgObserveSpec};
pub use proxy::{PgProxy, PgProxyOptions};
pub use snapshot::PgSnapshots;
