//! What a snapshot copies, read from the system catalog: the ordinary and partitioned tables of
//! the configured schemas (with their stored columns) and their sequences.

use super::SNAPSHOT_SCHEMA_PREFIX;
use crate::postgres::conn::query_text;
use postgres::Client;

/// A table whose rows a snapshot copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub schema: String,
    pub name: String,
    /// A partitioned table: its rows live in its partitions, reached through it (so `ONLY`
    /// does not apply); its partitions are not listed separately.
    pub partitioned: bool,
    /// The columns holding data, in order: generated columns are left out (PostgreSQL
    /// computes them again on insert).
    pub columns: Vec<String>,
}

/// A sequence whose position a snapshot records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub schema: String,
    pub name: String,
}

/// The tables and sequences of `schemas`, in a stable order.
pub(crate) fn discover(
    client: &mut Client,
    schemas: &[String],
) -> Result<(Vec<Table>, Vec<Sequence>), postgres::Error> {
    let list = schema_list(schemas);
    let tables = query_text(
        client,
        &format!(
            "SELECT n.nspname, c.relname, c.relkind = 'p', \
                    coalesce(array_to_json(array_agg(a.attname::text ORDER BY a.attnum) \
                        FILTER (WHERE a.attnum > 0 AND a.attgenerated = '')), '[]') \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ({list}) \
             GROUP BY n.nspname, c.relname, c.relkind \
             ORDER BY n.nspname, c.relname"
        ),
    )?
    .into_iter()
    .filter_map(|row| match row.as_slice() {
        [Some(schema), Some(name), Some(partitioned), Some(columns)] => Some(Table {
            schema: schema.clone(),
            name: name.clone(),
            partitioned: partitioned == "t",
            columns: serde_json::from_str(columns).unwrap_or_default(),
        }),
        _ => None,
    })
    .collect();
    let sequences = query_text(
        client,
        &format!(
            "SELECT n.nspname, c.relname FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'S' AND n.nspname IN ({list}) \
             ORDER BY n.nspname, c.relname"
        ),
    )?
    .into_iter()
    .filter_map(|row| match row.as_slice() {
        [Some(schema), Some(name)] => Some(Sequence {
            schema: schema.clone(),
            name: name.clone(),
        }),
        _ => None,
    })
    .collect();
    Ok((tables, sequences))
}

/// The configured schemas that do not exist.
pub(crate) fn missing_schemas(
    client: &mut Client,
    schemas: &[String],
) -> Result<Vec<String>, postgres::Error> {
    let present: Vec<String> = query_text(
        client,
        &format!(
            "SELECT nspname FROM pg_namespace WHERE nspname IN ({})",
            schema_list(schemas)
        ),
    )?
    .into_iter()
    .filter_map(|row| row.into_iter().next().flatten())
    .collect();
    Ok(schemas
        .iter()
        .filter(|s| !present.contains(s))
        .cloned()
        .collect())
}

/// Snapshot schemas left behind by earlier venom sessions that are no longer connected (their
/// name carries the backend pid of the session that made them).
pub(crate) fn stale_snapshot_schemas(client: &mut Client) -> Result<Vec<String>, postgres::Error> {
    let prefix = SNAPSHOT_SCHEMA_PREFIX.replace('_', "\\_");
    Ok(query_text(
        client,
        &format!(
            "SELECT nspname FROM pg_namespace \
             WHERE nspname LIKE '{prefix}%' \
               AND split_part(substr(nspname, {start}), '_', 1) NOT IN \
                   (SELECT pid::text FROM pg_stat_activity) \
             ORDER BY nspname",
            start = SNAPSHOT_SCHEMA_PREFIX.len() + 1
        ),
    )?
    .into_iter()
    .filter_map(|row| row.into_iter().next().flatten())
    .collect())
}

/// `schemas` as a list of SQL string literals.
fn schema_list(schemas: &[String]) -> String {
    schemas
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` as a SQL string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_double_inner_quotes() {
        assert_eq!(literal("public"), "'public'");
        assert_eq!(literal("o'brien"), "'o''brien'");
        assert_eq!(schema_list(&["a".into(), "b'c".into()]), "'a', 'b''c'");
    }
}
