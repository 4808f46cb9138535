//! venom-runner: a scenario run against a live API. It starts and stops the scenario's
//! `[server]` (an owned [`Processes`] registry, no global state), opens the stores behind the
//! API (SQLite, PostgreSQL, Redis: each a cargo feature) and binds the scenario's actions and
//! invariants to the engine over an [`HttpWorld`].
//!
//! Every [`HttpWorld`] owns what it opened — its server process, its transaction proxy, its
//! connections — so one process can drive several copies of a system side by side.
#![warn(missing_docs)]

mod bind;
mod concurrent;
mod copies;
mod observe;
mod save_state;
mod server;
mod server_env;
mod sessions;
mod spec_checks;
mod sql_check;
mod stores;
mod world;

pub use bind::{actions, invariants};
pub use copies::{CopyError, WorkerCopies, DATABASE_URL_VAR, REDIS_URL_VAR, SQLITE_PATH_VAR};
pub use server::{choose_port, Processes, ServerError, ServerProcess, PORT_VAR};
pub use server_env::EnvError;
pub use spec_checks::{load_document, DocumentError};
pub use sql_check::SqlAnswerError;
pub use stores::{StoreError, PROXY_URL_VAR};
pub use world::{initial_context, HttpWorld, Sent, SetupError};
