//! The SQL of a checkpoint and of a rollback, each sent as one multi-statement batch (one round
//! trip, one transaction).

use super::catalog::{literal, Sequence, Table};
use crate::postgres::sequence::Position;

/// How long a checkpoint or a rollback waits for a lock held by another session (the API's)
/// before it fails, instead of waiting forever behind a transaction left open.
pub(crate) const LOCK_TIMEOUT: &str = "10s";

/// `name` as a quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name` as quoted SQL identifiers.
fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// The name of the copy of the `index`-th table in a snapshot schema.
fn copy_name(snapshot: &str, index: usize) -> String {
    qualified(snapshot, &format!("t{index}"))
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

/// Copies every table into unlogged tables of the new schema `snapshot` and reads the sequences'
/// positions, all in one repeatable-read transaction (so the copy is consistent across tables).
///
/// The batch's only rows are those of the sequence query: `(index, last_value, is_called)`.
pub(crate) fn checkpoint(snapshot: &str, tables: &[Table], sequences: &[Sequence]) -> String {
    let mut sql = format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
         SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\n\
         CREATE SCHEMA {};\n",
        ident(snapshot)
    );
    for (index, table) in tables.iter().enumerate() {
        sql.push_str(&format!(
            "CREATE UNLOGGED TABLE {} AS SELECT {} FROM {};\n",
            copy_name(snapshot, index),
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

/// Restores the tables and sequences saved in schema `snapshot`, in one transaction: triggers and
/// foreign-key checks are skipped (`session_replication_role = replica`), every table is emptied
/// by one `TRUNCATE`, refilled from its copy (identity values kept), and every sequence set back.
pub(crate) fn rollback(
    snapshot: &str,
    tables: &[Table],
    sequences: &[(Sequence, Position)],
) -> String {
    let mut sql = format!(
        "BEGIN;\n\
         SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';\n\
         SET LOCAL session_replication_role = replica;\n"
    );
    if !tables.is_empty() {
        let targets: Vec<String> = tables.iter().map(target).collect();
        sql.push_str(&format!("TRUNCATE {};\n", targets.join(", ")));
    }
    for (index, table) in tables.iter().enumerate() {
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
            copy_name(snapshot, index),
        ));
    }
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

/// Drops the snapshot schema `snapshot` and its copies.
pub(crate) fn release(snapshot: &str) -> String {
    format!("DROP SCHEMA IF EXISTS {} CASCADE", ident(snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Vec<Table> {
        vec![
            Table {
                schema: "public".into(),
                name: "orders".into(),
                partitioned: false,
                columns: vec!["id".into(), "amount".into()],
            },
            Table {
                schema: "app".into(),
                name: "we\"ird".into(),
                partitioned: true,
                columns: vec!["k".into()],
            },
        ]
    }

    fn sequence() -> Sequence {
        Sequence {
            schema: "public".into(),
            name: "orders_id_seq".into(),
        }
    }

    #[test]
    fn checkpoint_copies_every_table_and_reads_sequences() {
        let sql = checkpoint("venom_snap_1_2", &tables(), &[sequence()]);
        assert_eq!(
            sql,
            "BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
             SET LOCAL lock_timeout = '10s';\n\
             CREATE SCHEMA \"venom_snap_1_2\";\n\
             CREATE UNLOGGED TABLE \"venom_snap_1_2\".\"t0\" AS SELECT \"id\", \"amount\" FROM ONLY \"public\".\"orders\";\n\
             CREATE UNLOGGED TABLE \"venom_snap_1_2\".\"t1\" AS SELECT \"k\" FROM \"app\".\"we\"\"ird\";\n\
             SELECT 0, last_value, is_called FROM \"public\".\"orders_id_seq\";\n\
             COMMIT;"
        );
    }

    #[test]
    fn rollback_truncates_refills_and_sets_sequences_in_one_transaction() {
        let position = Position {
            value: 41,
            is_called: true,
        };
        let sql = rollback("s", &tables(), &[(sequence(), position)]);
        assert_eq!(
            sql,
            "BEGIN;\n\
             SET LOCAL lock_timeout = '10s';\n\
             SET LOCAL session_replication_role = replica;\n\
             TRUNCATE ONLY \"public\".\"orders\", \"app\".\"we\"\"ird\";\n\
             INSERT INTO \"public\".\"orders\" (\"id\", \"amount\") OVERRIDING SYSTEM VALUE SELECT \"id\", \"amount\" FROM \"s\".\"t0\";\n\
             INSERT INTO \"app\".\"we\"\"ird\" (\"k\") OVERRIDING SYSTEM VALUE SELECT \"k\" FROM \"s\".\"t1\";\n\
             SELECT setval('\"public\".\"orders_id_seq\"'::regclass, 41, true);\n\
             COMMIT;"
        );
    }

    #[test]
    fn an_empty_database_still_makes_a_valid_batch() {
        assert_eq!(
            rollback("s", &[], &[]),
            "BEGIN;\nSET LOCAL lock_timeout = '10s';\nSET LOCAL session_replication_role = replica;\nCOMMIT;"
        );
    }
}
