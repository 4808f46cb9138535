//! What a snapshot copies, read from the system catalog: the ordinary and partitioned tables of
//! the configured schemas (with their stored columns) and their sequences.

use super::SNAPSHOT_SCHEMA_PREFIX;
use crate::postgres::conn::query_text;
use postgres::Client;

/// A table whose rows a snapshot copies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Table {
    pub schema: String,
    pub name: String,
    /// A partitioned table: its rows live in its partitions, reached through it (so `ONLY`
    /// does not apply); its partitions are not listed separately.
    pub partitioned: bool,
    /// The columns holding data, in order: generated columns are left out (PostgreSQL
    /// computes them again on insert).
    pub columns: Vec<String>,
    /// The columns of its primary key, in key order (empty without one).
    pub key: Vec<String>,
}

#[cfg(test)]
impl Table {
    /// `public.orders (id, amount)`, keyed by `id`: the table the SQL tests write for.
    pub(crate) fn orders() -> Table {
        Table {
            schema: "public".into(),
            name: "orders".into(),
            partitioned: false,
            columns: vec!["id".into(), "amount".into()],
            key: vec!["id".into()],
        }
    }
}

/// A sequence whose position a snapshot records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub schema: String,
    pub name: String,
}

/// A foreign key: table `from` (schema, name) references table `to`. Partitions stand for their
/// partitioned table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    pub from: (String, String),
    pub to: (String, String),
}

/// What a checkpoint saves, and the foreign keys that bear on restoring it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub tables: Vec<Table>,
    pub sequences: Vec<Sequence>,
    /// Every foreign key referencing one of the tables, from whatever schema.
    pub references: Vec<Reference>,
}

/// The tables and sequences of `schemas`, in a stable order, and the foreign keys to them.
pub(crate) fn discover(
    client: &mut Client,
    schemas: &[String],
) -> Result<Catalog, postgres::Error> {
    let list = schema_list(schemas);
    let tables = query_text(
        client,
        &format!(
            "SELECT n.nspname, c.relname, c.relkind = 'p', \
                    coalesce(array_to_json(array_agg(a.attname::text ORDER BY a.attnum) \
                        FILTER (WHERE a.attnum > 0 AND a.attgenerated = '')), '[]'), \
                    coalesce((SELECT array_to_json(array_agg(k.attname::text ORDER BY u.position)) \
                        FROM pg_index i, unnest(i.indkey) WITH ORDINALITY AS u(attnum, position), \
                             pg_attribute k \
                        WHERE i.indrelid = c.oid AND i.indisprimary \
                          AND k.attrelid = c.oid AND k.attnum = u.attnum), '[]') \
             FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ({list}) \
             GROUP BY c.oid, n.nspname, c.relname, c.relkind \
             ORDER BY n.nspname, c.relname"
        ),
    )?
    .into_iter()
    .filter_map(|row| match row.as_slice() {
        [Some(schema), Some(name), Some(partitioned), Some(columns), Some(key)] => Some(Table {
            schema: schema.clone(),
            name: name.clone(),
            partitioned: partitioned == "t",
            columns: serde_json::from_str(columns).unwrap_or_default(),
            key: serde_json::from_str(key).unwrap_or_default(),
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
    let references = query_text(
        client,
        &format!(
            "SELECT fn.nspname, f.relname, tn.nspname, t.relname FROM pg_constraint k \
             JOIN pg_class f ON f.oid = coalesce(pg_partition_root(k.conrelid), k.conrelid) \
             JOIN pg_namespace fn ON fn.oid = f.relnamespace \
             JOIN pg_class t ON t.oid = coalesce(pg_partition_root(k.confrelid), k.confrelid) \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             WHERE k.contype = 'f' AND tn.nspname IN ({list})"
        ),
    )?
    .into_iter()
    .filter_map(|row| match row.as_slice() {
        [Some(from_schema), Some(from), Some(to_schema), Some(to)] => Some(Reference {
            from: (from_schema.clone(), from.clone()),
            to: (to_schema.clone(), to.clone()),
        }),
        _ => None,
    })
    .collect();
    Ok(Catalog {
        tables,
        sequences,
        references,
    })
}

/// The tables of `restored` that one `TRUNCATE` may empty (the others are emptied with
/// `DELETE`): PostgreSQL refuses to truncate a table that a table outside the `TRUNCATE`
/// references, even with foreign-key checks off.
pub(crate) fn truncatable<'t>(restored: &[&'t Table], references: &[Reference]) -> Vec<&'t Table> {
    let key = |t: &Table| (t.schema.clone(), t.name.clone());
    let mut truncate: Vec<&Table> = restored.to_vec();
    // Taking a table out can strand the tables it references: repeat until nothing moves.
    loop {
        let kept: Vec<(String, String)> = truncate.iter().map(|t| key(t)).collect();
        let before = truncate.len();
        truncate.retain(|t| {
            let this = key(t);
            references
                .iter()
                .filter(|r| r.to == this)
                .all(|r| kept.contains(&r.from))
        });
        if truncate.len() == before {
            return truncate;
        }
    }
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

    fn table(name: &str) -> Table {
        Table {
            schema: "public".into(),
            name: name.into(),
            partitioned: false,
            columns: vec!["id".into()],
            key: vec!["id".into()],
        }
    }

    fn reference(from: &str, to: &str) -> Reference {
        Reference {
            from: ("public".into(), from.into()),
            to: ("public".into(), to.into()),
        }
    }

    fn names(tables: &[&Table]) -> Vec<String> {
        tables.iter().map(|t| t.name.clone()).collect()
    }

    #[test]
    fn only_tables_referenced_from_outside_the_truncate_are_deleted() {
        let (customers, orders, refunds, notes) = (
            table("customers"),
            table("orders"),
            table("refunds"),
            table("notes"),
        );
        let references = [
            reference("orders", "customers"),
            reference("refunds", "orders"),
            reference("orders", "orders"),
        ];
        // Everything referencing `orders` goes too: one TRUNCATE.
        let truncate = truncatable(&[&orders, &refunds, &notes], &references);
        assert_eq!(names(&truncate), ["orders", "refunds", "notes"]);
        // `refunds` stays, so `orders` must be deleted from; `customers` is referenced by
        // `orders`, which is no longer truncated, so it must be too.
        let truncate = truncatable(&[&customers, &orders, &notes], &references);
        assert_eq!(names(&truncate), ["notes"]);
    }

    #[test]
    fn literals_double_inner_quotes() {
        assert_eq!(literal("public"), "'public'");
        assert_eq!(literal("o'brien"), "'o''brien'");
        assert_eq!(schema_list(&["a".into(), "b'c".into()]), "'a', 'b''c'");
    }
}
