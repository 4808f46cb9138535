//! Copies of a PostgreSQL database made with `CREATE DATABASE … TEMPLATE`, one per parallel
//! worker, dropped when no longer needed.

use super::conn::{connect, describe, parse, url_for_database};
use crate::redact_url;
use venom_engine::WorldError;

/// The longest database name PostgreSQL keeps (`NAMEDATALEN - 1` bytes).
const MAX_NAME_BYTES: usize = 63;

/// The database PostgreSQL copies are created from and dropped in (any database but the copied
/// one: a template may have no other connection while it is copied).
const MAINTENANCE_DATABASE: &str = "postgres";

/// A database created from another as its template, with the same server, user and password;
/// dropped (its connections closed) when this value is.
#[derive(Debug)]
pub struct DatabaseCopy {
    /// The URL of the copy.
    url: String,
    /// Where the copy was created, to drop it from there.
    maintenance_url: String,
    name: String,
}

impl DatabaseCopy {
    /// Creates the database `NAME_SUFFIX` (the name shortened to fit) from the database of
    /// `url`, first dropping one left by an earlier run that did not end. Fails, naming the
    /// database without its password, when the user may not create databases or the original
    /// has other connections (PostgreSQL copies only a database nobody is connected to).
    pub fn create(url: &str, suffix: &str) -> Result<DatabaseCopy, WorldError> {
        let config = parse(url)?;
        let original = config.get_dbname().or(config.get_user()).ok_or_else(|| {
            WorldError::new(format!(
                "PostgreSQL URL {} names no database to copy",
                redact_url(url)
            ))
        })?;
        let name = copy_name(original, suffix);
        let maintenance_url = url_for_database(url, MAINTENANCE_DATABASE)?;
        let mut client = connect(&maintenance_url)?;
        // Two statements, as neither may run inside a transaction block.
        let drop_left = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&name));
        let create = format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote(&name),
            quote(original)
        );
        let created = client
            .batch_execute(&drop_left)
            .and_then(|()| client.batch_execute(&create));
        created.map_err(|e| {
            WorldError::new(format!(
                "cannot copy PostgreSQL database {original:?} into {name:?} (CREATE DATABASE … \
                 TEMPLATE needs the CREATEDB privilege and no other connection to {original:?}): {}",
                describe(&e)
            ))
        })?;
        Ok(DatabaseCopy {
            url: url_for_database(url, &name)?,
            maintenance_url,
            name,
        })
    }

    /// The URL of the copy (with the original's user and password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The copy's database name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for DatabaseCopy {
    /// Drops the copy, closing the connections still open to it; a failure is reported on
    /// standard error (the next run with the same copy drops it first).
    fn drop(&mut self) {
        let dropped = connect(&self.maintenance_url).and_then(|mut client| {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&self.name));
            client
                .batch_execute(&sql)
                .map_err(|e| WorldError::new(describe(&e)))
        });
        if let Err(e) = dropped {
            eprintln!(
                "venom: could not drop the worker database {:?}: {}",
                self.name,
                e.chain()
            );
        }
    }
}

/// `original` and `_suffix`, `original` shortened (on a character boundary) so that the name
/// fits PostgreSQL's limit.
fn copy_name(original: &str, suffix: &str) -> String {
    let room = MAX_NAME_BYTES.saturating_sub(suffix.len() + 1);
    let mut end = original.len().min(room);
    while !original.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}_{suffix}", &original[..end])
}

/// `name` as an SQL identifier: double-quoted, inner double quotes doubled.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_fit_postgresql_s_limit() {
        assert_eq!(copy_name("shop", "venom_w1"), "shop_venom_w1");
        let long = "é".repeat(40);
        let name = copy_name(&long, "venom_w12");
        assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
        assert!(name.ends_with("_venom_w12"), "{name}");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
