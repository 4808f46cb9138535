//! venom-http: the HTTP world. It sends the scenario's actions as HTTP requests through a pooled
//! async client, renders templates, extracts response fields into the context, captures every
//! request and response for reports, starts and stops the API server, and delegates checkpoints
//! to a rollback adapter (or falls back to reset + replay).
#![warn(missing_docs)]

mod bind;
mod client;
mod response;
mod server;
mod server_env;
mod sql_check;
mod stores;
mod world;

pub use bind::{actions, apply_response, invariants, EXPECTED_STATUS, NO_SERVER_ERRORS};
pub use client::{HttpClient, PreparedRequest, SendError};
pub use response::{body_value, last_value};
pub use server::{abandon_server_startup, kill_started_servers, ServerError, ServerProcess};
pub use stores::PROXY_URL_VAR;
pub use world::{HttpWorld, WorldSetupError};
