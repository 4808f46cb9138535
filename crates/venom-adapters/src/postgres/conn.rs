//! Connecting to PostgreSQL with the sync `postgres` client, and turning its errors into one-line
//! messages that name the database without its password.

use crate::redact_url;
use postgres::config::Host;
use postgres::{Client, Config, NoTls, SimpleQueryMessage};
use std::error::Error as _;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use venom_engine::WorldError;

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A `postgres://` URL for the same user, password and database as `upstream`, but reaching the
/// server at `addr` (e.g. venom's transaction proxy), without TLS.
pub fn url_via(upstream: &str, addr: SocketAddr) -> Result<String, WorldError> {
    let config = parse(upstream)?;
    Ok(url_of(&config, &addr.to_string(), config.get_dbname()))
}

/// A `postgres://` URL for the same server, user and password as `upstream`, but the database
/// `dbname`, without TLS.
pub fn url_for_database(upstream: &str, dbname: &str) -> Result<String, WorldError> {
    let config = parse(upstream)?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) if host.contains(':') => format!("[{host}]"),
        Some(Host::Tcp(host)) => encode(host),
        Some(Host::Unix(folder)) => encode(&folder.to_string_lossy()),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok(url_of(&config, &format!("{host}:{port}"), Some(dbname)))
}

/// `postgres://USER:PASSWORD@AUTHORITY/DBNAME?sslmode=disable` with `config`'s user and
/// password (each left out when unset).
fn url_of(config: &Config, authority: &str, dbname: Option<&str>) -> String {
    let mut url = format!("postgres://{authority}");
    let user = config.get_user().map(encode);
    let password = config
        .get_password()
        .map(|p| encode(&String::from_utf8_lossy(p)));
    if let Some(user) = user {
        let credentials = match password {
            Some(password) => format!("{user}:{password}"),
            None => user,
        };
        url = format!("postgres://{credentials}@{authority}");
    }
    if let Some(dbname) = dbname {
        url.push('/');
        url.push_str(&encode(dbname));
    }
    url.push_str("?sslmode=disable");
    url
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses a connection URL (or key=value string); the error names it without its password.
pub(crate) fn parse(url: &str) -> Result<Config, WorldError> {
    Config::from_str(url).map_err(|e| {
        WorldError::new(format!(
            "invalid PostgreSQL URL {}: {}",
            redact_url(url),
            describe(&e)
        ))
    })
}

/// Opens a connection (plain TCP or Unix socket, no TLS) named `venom` in `pg_stat_activity`.
pub(crate) fn connect(url: &str) -> Result<Client, WorldError> {
    let mut config = parse(url)?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .application_name("venom");
    config.connect(NoTls).map_err(|e| {
        WorldError::new(format!(
            "cannot connect to PostgreSQL at {}: {} (is the server running and reachable?)",
            redact_url(url),
            describe(&e)
        ))
    })
}

/// One line describing `e`: the server's message with its detail and hint, or the client-side
/// failure with its cause.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" (detail: {detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!(" (hint: {hint})"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Describes a failure of `client`, saying so when the connection itself is gone.
pub(crate) fn describe_on(client: &Client, e: &postgres::Error) -> String {
    if client.is_closed() || e.is_closed() {
        return format!(
            "the connection to PostgreSQL was lost (did the server stop or restart?): {}",
            describe(e)
        );
    }
    describe(e)
}

/// Runs `sql` (one or more statements, simple query protocol) and returns the rows of every
/// statement, values as text. After a failure inside an explicit transaction block, the block
/// is rolled back so that the connection stays usable.
pub(crate) fn query_text(
    client: &mut Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, postgres::Error> {
    match client.simple_query(sql) {
        Ok(messages) => Ok(messages
            .into_iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) => {
            if !client.is_closed() {
                // Outside a transaction block this only warns; inside one it ends the block.
                let _ = client.batch_execute("ROLLBACK");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_via_keeps_user_password_and_database() {
        let addr: SocketAddr = "127.0.0.1:6543".parse().unwrap();
        assert_eq!(
            url_via("postgres://app:p%40ss@db.example:5432/shop", addr).unwrap(),
            "postgres://app:p%40ss@127.0.0.1:6543/shop?sslmode=disable"
        );
        assert_eq!(
            url_via("host=db user=venom dbname=my_db", addr).unwrap(),
            "postgres://venom@127.0.0.1:6543/my_db?sslmode=disable"
        );
        assert!(url_via("postgres://[", addr).is_err());
    }

    #[test]
    fn url_for_database_keeps_server_user_and_password() {
        assert_eq!(
            url_for_database("postgres://app:p%40ss@db.example:5433/shop", "shop_w1").unwrap(),
            "postgres://app:p%40ss@db.example:5433/shop_w1?sslmode=disable"
        );
        assert_eq!(
            url_for_database("host=db user=venom dbname=my_db", "other").unwrap(),
            "postgres://venom@db:5432/other?sslmode=disable"
        );
        let socket = url_for_database("host=/run/pg port=5999 user=u dbname=d", "e").unwrap();
        assert_eq!(socket, "postgres://u@%2Frun%2Fpg:5999/e?sslmode=disable");
        let config = parse(&socket).unwrap();
        assert_eq!(config.get_hosts(), &[Host::Unix("/run/pg".into())]);
        assert_eq!(config.get_ports(), &[5999]);
        assert_eq!(config.get_dbname(), Some("e"));
    }
}
