//! venom-demo: a small orders / payments / refunds HTTP API, with users and private notes, and
//! planted bugs; used by `venom demo` and by venom's own tests.
//!
//! The whole state of the service lives in one SQLite file (or, alternatively, one PostgreSQL
//! database) and nothing is cached in process memory: every request reads the current contents of
//! the database. This lets venom roll the database back *in place* (with SQLite's online backup
//! API, or with its PostgreSQL snapshots or transaction proxy) while the server keeps its
//! connection open. Each handler is written once over a small storage abstraction, so both
//! databases run the very same logic, planted bugs included.
//!
//! # Planted bugs
//! Each one only shows after a few calls in a particular order; everything else behaves correctly.
//! 1. **Over-refund**: a refund is checked against the order amount alone, not against the amount
//!    minus what was already refunded (two refunds of 60 on an order of 100 both succeed).
//! 2. **Cancel after refund → 500**: cancelling an order that has a refund answers 500.
//! 3. **Deleted order still counted**: `GET /orders` counts soft-deleted rows in `total` while
//!    `items` excludes them.
//! 4. **Idempotency key honoured only once**: the second `POST /orders` with the same
//!    `Idempotency-Key` returns the original order but forgets the key, so a third call creates a
//!    second order.
//! 5. **Double pay**: paying an already-paid order adds the amount to `paid` again.
//! 6. **Anyone edits anyone's note**: `PUT /notes/{id}` checks that the caller is signed in, not
//!    that the note is theirs, so bob can change alice's private note (reading it is refused
//!    correctly). Only a scenario with two users finds it.
//! 7. **Refund answer types `refunded` as a string**: the document says integer.
//! 8. **Refund-rest race**: `POST /orders/{id}/refund-rest` reads what is left of the order,
//!    waits for the (simulated) payment provider, then writes the refund from what it read. Sent
//!    in turn, the second call is refused (409); sent at the same moment, both refund the rest
//!    and the order is refunded twice its amount. Only a concurrent step finds it
//!    (`examples/race.toml`).

#![warn(missing_docs)]

mod db;
mod errors;
mod handlers;
mod notes;
mod schema;
mod server;

pub use server::{router, DemoServer};

/// The bundled scenario file, for `venom demo`.
pub const DEMO_SCENARIO: &str = include_str!("../../../examples/demo.toml");

/// The bundled multi-user scenario (users, sessions, private notes), for `venom demo --scenario
/// notes`.
pub const NOTES_SCENARIO: &str = include_str!("../../../examples/notes.toml");

/// The bundled race scenario (a refund sent twice at the same moment), for `venom demo
/// --scenario race`.
pub const RACE_SCENARIO: &str = include_str!("../../../examples/race.toml");
