//! venom-http: the HTTP client of venom. It renders a scenario's requests (templates, default
//! headers, authentication), sends them through a pooled async client, captures each exchange
//! for reports (secrets redacted) and applies a response's `extract` and `set` to the context.
//!
//! It knows nothing of databases or server processes: load mode uses it alone, and the runner
//! (crate `venom-runner`) builds the explored world on top of it.
#![warn(missing_docs)]

mod client;
mod context_update;
mod http1;
mod response;
mod together;

pub use client::{Credentials, HttpClient, PreparedRequest, SendError, Unreachable};
pub use context_update::{apply_extracts, apply_response, apply_set};
pub use http1::{ConnectError, Http1Origin, Http1Request, Http1Sender};
pub use response::{body_value, last_value, CappedBody};
pub use together::TogetherRequest;
