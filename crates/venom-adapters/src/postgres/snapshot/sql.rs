//! The SQL of checkpoints and rollbacks. Each is one repeatable-read transaction sent in a few
//! multi-statement batches: the first opens it (and takes the tables the API marked, see
//! `tracking`), the next *probes* the tables that may have changed (row counts, and whether any
//! row is newer than the last time the table was seen to equal a copy), the last copies or
//! restores the tables that need it and commits.

use super::catalog::{literal, Sequence, Table};
use crate::postgres::sequence::Position;

/// How long a checkpoint or a rollback waits for a lock held by another session (the API's)
/// before it fails, instead of waiting forever behind a transaction left open.
pub(crate) const LOCK_TIMEOUT: &str = "10s";

/// A point at which a table's rows were seen to equal one of its copies: inside the transaction
/// whose snapshot had `horizon` as its oldest running transaction id, and whose own id is `own`
/// (the rows it wrote, when it restored the table, are not changes).
///
/// Rows written later are exactly those whose `xmin` is not older than `horizon` and is not
/// `own`; together with an unchanged row count (deletions leave no row behind) they tell whether
/// the table still holds the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Since {
    /// The snapshot's `xmin`, as a 32-bit transaction id.
    pub horizon: u32,
    /// The transaction's own id, as a 32-bit transaction id.
    pub own: u32,
}

/// What the probe found of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probed {
    pub rows: i64,
    /// Whether a row was written since the table's [`Since`]; `None` when it had none.
    pub written: Option<bool>,
}

/// `name` as a quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name` as quoted SQL identifiers.
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// The name of copy number `copy` in the session's schema `schema`.
fn copy_name(schema: &str, copy: u64) -> String {
    qualified(schema, &format!("c{copy}"))
}

fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|c| ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ONLY schema.table`, or `schema.table` for a partitioned table (whose rows are in its
/// partitions).
fn target(table: &Table) -> String {
    let name = qualified(&table.schema, &table.name);
    if table.partitioned {
        name
    } else {
        format!("ONLY {name}")
    }
}

/// Opens a repeatable-read transaction (for a rollback, with triggers and foreign-key checks
/// off); [`probe`] follows in it.
pub(crate) fn begin(restoring: bool) -> String {
    let mut sql = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
         SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\n"
    );
    if restoring {
        sql.push_str("SET LOCAL session_replication_role = replica;\n");
    }
    sql
}

/// Probes `tables` (position, table, the point it was last seen equal to a copy, if any) in the
/// transaction [`begin`] opened.
///
/// Its rows: first `(-1, NULL, NULL, horizon, own)` for the transaction itself (see [`Since`]),
/// then `(position, row count, written since, NULL, NULL)` per table; read them with [`probed`].
pub(crate) fn probe(tables: &[(usize, &Table, Option<Since>)]) -> String {
    let mut parts = vec!["SELECT -1, NULL::text, NULL::text, \
         (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::text, \
         (pg_current_xact_id()::text::numeric % 4294967296)::text"
        .to_string()];
    for (index, table, since) in tables {
        let written = match since {
            Some(Since { horizon, own }) => format!(
                "coalesce(bool_or(age(xmin) <= age('{horizon}'::xid) \
                 AND xmin <> '{own}'::xid), false)::text"
            ),
            None => "NULL::text".to_string(),
        };
        parts.push(format!(
            "SELECT {index}, count(*)::text, {written}, NULL, NULL FROM {}",
            target(table)
        ));
    }
    let mut sql = parts.join("\nUNION ALL ");
    sql.push_str(";\n");
    sql
}

/// The transaction's [`Since`] and what was found of each table probed, by position, from the
/// rows of [`probe`]; `None` when a row is malformed or a position is out of range (`tables`
/// positions in all).
pub(crate) fn probed(
    rows: &[Vec<Option<String>>],
    tables: usize,
) -> Option<(Since, Vec<Option<Probed>>)> {
    let mut since = None;
    let mut found: Vec<Option<Probed>> = vec![None; tables];
    for row in rows {
        match row.as_slice() {
            [Some(index), None, None, Some(horizon), Some(own)] if index == "-1" => {
                since = Some(Since {
                    horizon: horizon.parse().ok()?,
                    own: own.parse().ok()?,
                });
            }
            [Some(index), Some(rows), written, None, None] => {
                let slot = found.get_mut(index.parse::<usize>().ok()?)?;
                *slot = Some(Probed {
                    rows: rows.parse().ok()?,
                    written: written.as_deref().map(|w| w == "true"),
                });
            }
            _ => return None,
        }
    }
    Some((since?, found))
}

/// Copies `copies` (copy number, table) into unlogged tables of the session's schema `schema`
/// and reads the sequences' positions, then commits the transaction [`begin_and_probe`] opened.
///
/// The batch's only rows are those of the sequence query: `(index, last_value, is_called)`.
pub(crate) fn copy_and_commit(
    schema: &str,
    copies: &[(u64, &Table)],
    sequences: &[Sequence],
) -> String {
    let mut sql = String::new();
    if !copies.is_empty() {
        sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {};\n", ident(schema)));
    }
    for (copy, table) in copies {
        sql.push_str(&format!(
            "CREATE UNLOGGED TABLE {} AS SELECT {} FROM {};\n",
            copy_name(schema, *copy),
            column_list(table),
            target(table)
        ));
    }
    if !sequences.is_empty() {
        let reads: Vec<String> = sequences
            .iter()
            .enumerate()
            .map(|(index, s)| {
                format!(
                    "SELECT {index}, last_value, is_called FROM {}",
                    qualified(&s.schema, &s.name)
                )
            })
            .collect();
        sql.push_str(&reads.join(" UNION ALL "));
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;");
    sql
}

/// Empties the tables of `restores` (copy number, table) — those of `truncate` with one
/// `TRUNCATE`, the others with `DELETE` — refills each from its copy in `schema`, identity values
/// kept, runs `rows` (the logged tables' restore), and sets the sequences back, then commits the
/// transaction [`begin_and_probe`] opened (with triggers and foreign-key checks off).
pub(crate) fn restore_and_commit(
    schema: &str,
    restores: &[(u64, &Table)],
    truncate: &[&Table],
    rows: &str,
    sequences: &[(Sequence, Position)],
) -> String {
    let mut sql = String::new();
    if !truncate.is_empty() {
        let targets: Vec<String> = truncate.iter().map(|t| target(t)).collect();
        sql.push_str(&format!("TRUNCATE {};\n", targets.join(", ")));
    }
    for (_, table) in restores {
        if !truncate.contains(table) {
            sql.push_str(&format!("DELETE FROM {};\n", target(table)));
        }
    }
    for (copy, table) in restores {
        let columns = column_list(table);
        // A table without stored columns takes its (column-less) rows as they are.
        let into = if columns.is_empty() {
            String::new()
        } else {
            format!(" ({columns}) OVERRIDING SYSTEM VALUE")
        };
        sql.push_str(&format!(
            "INSERT INTO {}{into} SELECT {columns} FROM {};\n",
            qualified(&table.schema, &table.name),
            copy_name(schema, *copy),
        ));
    }
    sql.push_str(rows);
    if !sequences.is_empty() {
        let sets: Vec<String> = sequences
            .iter()
            .map(|(s, p)| {
                format!(
                    "setval({}::regclass, {}, {})",
                    literal(&qualified(&s.schema, &s.name)),
                    p.value,
                    p.is_called
                )
            })
            .collect();
        sql.push_str(&format!("SELECT {};\n", sets.join(", ")));
    }
    sql.push_str("COMMIT;");
    sql
}

/// Drops copy number `copy` of the session's schema `schema`.
pub(crate) fn drop_copy(schema: &str, copy: u64) -> String {
    format!("DROP TABLE IF EXISTS {}", copy_name(schema, copy))
}

/// Drops the snapshot schema `schema` and every copy in it.
pub(crate) fn drop_schema(schema: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<Table> {
        vec![
            Table::orders(),
            Table {
                schema: "app".into(),
                name: "we\"ird".into(),
                partitioned: true,
                columns: vec!["k".into()],
                key: vec![],
            },
        ]
    }

    fn sequence() -> Sequence {
        Sequence {
            schema: "public".into(),
            name: "orders_id_seq".into(),
        }
    }

    fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn the_probe_counts_rows_and_looks_for_newer_ones_where_a_point_is_known() {
        let tables = tables();
        let since = Since {
            horizon: 740,
            own: 741,
        };
        assert_eq!(
            begin(true),
            "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
             SET LOCAL lock_timeout = '10s';\n\
             SET LOCAL session_replication_role = replica;\n"
        );
        assert!(!begin(false).contains("session_replication_role"));
        let sql = probe(&[(0, &tables[0], Some(since)), (3, &tables[1], None)]);
        assert_eq!(
            sql,
            "SELECT -1, NULL::text, NULL::text, \
             (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::text, \
             (pg_current_xact_id()::text::numeric % 4294967296)::text\n\
             UNION ALL SELECT 0, count(*)::text, coalesce(bool_or(age(xmin) <= age('740'::xid) \
             AND xmin <> '741'::xid), false)::text, NULL, NULL FROM ONLY \"public\".\"orders\"\n\
             UNION ALL SELECT 3, count(*)::text, NULL::text, NULL, NULL FROM \"app\".\"we\"\"ird\";\n"
        );
    }

    #[test]
    fn probe_rows_are_read_back_by_position() {
        let rows = [
            row(&[Some("1"), Some("0"), None, None, None]),
            row(&[Some("-1"), None, None, Some("900"), Some("901")]),
            row(&[Some("0"), Some("12"), Some("true"), None, None]),
        ];
        let (since, found) = probed(&rows, 3).expect("complete");
        assert_eq!(
            since,
            Since {
                horizon: 900,
                own: 901
            }
        );
        assert_eq!(
            found,
            [
                Some(Probed {
                    rows: 12,
                    written: Some(true)
                }),
                Some(Probed {
                    rows: 0,
                    written: None
                }),
                None
            ]
        );
        assert_eq!(probed(&rows, 1), None, "position out of range");
        assert_eq!(probed(&rows[..1], 2), None, "no transaction row");
        let malformed = [row(&[Some("x"), Some("1"), None, None, None])];
        assert_eq!(probed(&malformed, 1), None);
    }

    #[test]
    fn a_checkpoint_copies_what_it_must_and_reads_sequences() {
        let tables = tables();
        let sql = copy_and_commit(
            "venom_snap_1",
            &[(3, &tables[0]), (4, &tables[1])],
            &[sequence()],
        );
        assert_eq!(
            sql,
            "CREATE SCHEMA IF NOT EXISTS \"venom_snap_1\";\n\
             CREATE UNLOGGED TABLE \"venom_snap_1\".\"c3\" AS SELECT \"id\", \"amount\" FROM ONLY \"public\".\"orders\";\n\
             CREATE UNLOGGED TABLE \"venom_snap_1\".\"c4\" AS SELECT \"k\" FROM \"app\".\"we\"\"ird\";\n\
             SELECT 0, last_value, is_called FROM \"public\".\"orders_id_seq\";\n\
             COMMIT;"
        );
        assert_eq!(copy_and_commit("s", &[], &[]), "COMMIT;");
    }

    #[test]
    fn a_rollback_empties_and_refills_what_it_must_and_sets_sequences() {
        let tables = tables();
        let position = Position {
            value: 41,
            is_called: true,
        };
        let both = [(3, &tables[0]), (4, &tables[1])];
        let sql = restore_and_commit(
            "s",
            &both,
            &[&tables[0], &tables[1]],
            "",
            &[(sequence(), position)],
        );
        assert_eq!(
            sql,
            "TRUNCATE ONLY \"public\".\"orders\", \"app\".\"we\"\"ird\";\n\
             INSERT INTO \"public\".\"orders\" (\"id\", \"amount\") OVERRIDING SYSTEM VALUE SELECT \"id\", \"amount\" FROM \"s\".\"c3\";\n\
             INSERT INTO \"app\".\"we\"\"ird\" (\"k\") OVERRIDING SYSTEM VALUE SELECT \"k\" FROM \"s\".\"c4\";\n\
             SELECT setval('\"public\".\"orders_id_seq\"'::regclass, 41, true);\n\
             COMMIT;"
        );
        let sql = restore_and_commit("s", &both[..1], &[], "DELETE FROM rows;\n", &[]);
        assert_eq!(
            sql,
            "DELETE FROM ONLY \"public\".\"orders\";\n\
             INSERT INTO \"public\".\"orders\" (\"id\", \"amount\") OVERRIDING SYSTEM VALUE SELECT \"id\", \"amount\" FROM \"s\".\"c3\";\n\
             DELETE FROM rows;\n\
             COMMIT;"
        );
        assert_eq!(restore_and_commit("s", &[], &[], "", &[]), "COMMIT;");
    }
}
