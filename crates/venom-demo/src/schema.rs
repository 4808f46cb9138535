//! The demo's tables, written once for both databases.

/// The tables, with `{id}` for an auto-incrementing primary key and `{int}` for an integer
/// column (PostgreSQL uses BIGINT so that every integer reads as `i64`).
const TABLES: &str = "
CREATE TABLE {if_not_exists} orders (
    id              {id},
    amount          {int} NOT NULL,
    currency        TEXT NOT NULL DEFAULT 'EUR',
    paid            {int} NOT NULL DEFAULT 0,
    refunded        {int} NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'created',
    deleted         {int} NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
CREATE TABLE {if_not_exists} refunds (
    id       {id},
    order_id {int} NOT NULL REFERENCES orders(id),
    amount   {int} NOT NULL
);
CREATE TABLE {if_not_exists} idempotency (
    key      TEXT PRIMARY KEY,
    order_id {int} NOT NULL
);
CREATE TABLE {if_not_exists} users (
    name     TEXT PRIMARY KEY,
    password TEXT NOT NULL
);
CREATE TABLE {if_not_exists} sessions (
    token     TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name)
);
CREATE TABLE {if_not_exists} notes (
    id    {id},
    owner TEXT NOT NULL REFERENCES users(name),
    text  TEXT NOT NULL
);
";

/// Drops every table (children first), for a fresh database.
pub(crate) const DROP_TABLES: &str = "DROP TABLE IF EXISTS notes;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS refunds;
DROP TABLE IF EXISTS idempotency;
DROP TABLE IF EXISTS orders;";

/// The tables in SQLite (created only where missing).
pub(crate) fn sqlite() -> String {
    TABLES
        .replace("{if_not_exists}", "IF NOT EXISTS")
        .replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")
        .replace("{int}", "INTEGER")
}

/// The tables in PostgreSQL.
pub(crate) fn postgres() -> String {
    TABLES
        .replace("{if_not_exists} ", "")
        .replace("{id}", "BIGSERIAL PRIMARY KEY")
        .replace("{int}", "BIGINT")
}
