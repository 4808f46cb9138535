//! The row log: for each tracked table with a primary key, every row the API inserts, updates,
//! deletes or truncates is recorded — its image before (`new = false`) and after (`new =
//! true`), as the row type's text, under the position of the statement that wrote it — in a
//! table of venom's schema, `l<oid>`. Statement-level triggers with transition tables write it
//! (one insert per statement, however many rows), and a `BEFORE TRUNCATE` trigger records every
//! row a `TRUNCATE` is about to remove. Rows are named `ROW(alias.*)`, which no column of the
//! table can shadow (a bare `n` would be a column called `n`).
//!
//! A checkpoint is then a position in the log (see [`super::history`]), and a rollback rewrites
//! only the rows the log names: for each primary key it touched, the row as the last redone
//! statement left it, or else as the first undone statement found it — set-based, two
//! statements per table. A one-row change in a table of a million rows costs one row.
//!
//! Tables without a primary key (rows without an identity), partitioned and inherited tables,
//! tables venom may not put a trigger on, and tables created after the session started are
//! left to table copies. Like those, restores run with `session_replication_role = replica`, so
//! the log triggers stay silent while venom writes. Two writes of one key in one statement
//! (a writable CTE that deletes and re-inserts a row) are not told apart.

use super::catalog::{literal, Table};
use super::history::Range;
use super::sql::{ident, qualified, LOCK_TIMEOUT};
use crate::postgres::observe::TableSums;

/// The name of the session's log trigger for `event` (`i`, `u`, `d`, `t`).
fn trigger_name(schema: &str, event: char) -> String {
    format!("{schema}_log_{event}")
}

/// Creates the session's log sequence, the logging function, and for every table carrying the
/// marking trigger `mark` that has a primary key, its log table and triggers (tables that refuse
/// them are left to copies). Answers `(oid, schema, name)` per logged table, then
/// `(position)`: the log's start.
pub(crate) fn install(schema: &str, mark: &str) -> String {
    let own = ident(schema);
    let schema_literal = literal(schema);
    let trigger = |event: char| literal(&trigger_name(schema, event));
    format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
CREATE SEQUENCE IF NOT EXISTS {own}.seq;
CREATE OR REPLACE FUNCTION {own}.log() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog AS $venom$
DECLARE position bigint := nextval('{own}.seq');
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    EXECUTE format('INSERT INTO %I.%I SELECT $1, false, ROW(t.*)::text FROM ONLY %s t',
      {schema_literal}, TG_ARGV[0], TG_RELID::regclass) USING position;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    EXECUTE format('INSERT INTO %I.%I SELECT $1, false, ROW(o.*)::text FROM o',
      {schema_literal}, TG_ARGV[0]) USING position;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format('INSERT INTO %I.%I SELECT $1, true, ROW(n.*)::text FROM n',
      {schema_literal}, TG_ARGV[0]) USING position;
  END IF;
  RETURN NULL;
END $venom$;
DO $venom$
DECLARE t regclass; log text;
BEGIN
  FOR t IN
    SELECT g.tgrelid::regclass FROM pg_trigger g WHERE g.tgname = {mark}
      AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = g.tgrelid AND i.indisprimary)
  LOOP
    log := 'l' || t::oid;
    BEGIN
      EXECUTE format('CREATE UNLOGGED TABLE %I.%I \
        (seq bigint NOT NULL, new boolean NOT NULL, image text NOT NULL)', {schema_literal}, log);
      EXECUTE format('CREATE INDEX ON %I.%I (seq)', {schema_literal}, log);
      EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS n \
        FOR EACH STATEMENT EXECUTE FUNCTION {own}.log(%L)', {insert}, t, log);
      EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS o \
        NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION {own}.log(%L)', {update}, t, log);
      EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS o \
        FOR EACH STATEMENT EXECUTE FUNCTION {own}.log(%L)', {delete}, t, log);
      EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s \
        FOR EACH STATEMENT EXECUTE FUNCTION {own}.log(%L)', {truncate}, t, log);
    EXCEPTION WHEN insufficient_privilege OR lock_not_available OR feature_not_supported THEN
      NULL;
    END;
  END LOOP;
END $venom$;
SELECT c.oid::text, n.nspname, c.relname FROM pg_trigger g
  JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE g.tgname = {insert};
{position}",
        mark = literal(mark),
        insert = trigger('i'),
        update = trigger('u'),
        delete = trigger('d'),
        truncate = trigger('t'),
        position = position(schema),
    )
}

/// Reads the log's position: the last one a statement took (0 before any). One row, one
/// column, its text prefixed with `@` to tell it from other rows of a batch.
pub(crate) fn position(schema: &str) -> String {
    format!("SELECT '@' || {};\n", position_now(schema))
}

/// The log position of a row of [`position`], if it is one.
pub(crate) fn read_position(row: &[Option<String>]) -> Option<i64> {
    match row {
        [Some(text)] => text.strip_prefix('@')?.parse().ok(),
        _ => None,
    }
}

/// The name of the log of the table whose oid is `oid`.
pub(crate) fn log_name(schema: &str, oid: u32) -> String {
    qualified(schema, &format!("l{oid}"))
}

/// `ranges` as a condition on `seq` (`false` when empty).
fn within(ranges: &[Range]) -> String {
    if ranges.is_empty() {
        return "false".to_string();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| match r.to {
            Some(to) => format!("seq > {} AND seq <= {to}", r.from),
            None => format!("seq > {}", r.from),
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// Brings `table` (whose log is `log`, its primary key `table.key`) from the current state to
/// the target of a plan: every row whose key the entries in `undo` or `redo` name is deleted,
/// then put back as the last entry of `redo` for that key left it, or else as the first entry
/// of `undo` found it (absent when that entry has no such image). Runs in the rollback's
/// transaction, with triggers off.
pub(crate) fn restore(log: &str, table: &Table, undo: &[Range], redo: &[Range]) -> String {
    let name = qualified(&table.schema, &table.name);
    let only = format!("ONLY {name}");
    let (undo, redo) = (within(undo), within(redo));
    let keys: Vec<String> = table.key.iter().map(|k| ident(k)).collect();
    let key_list = keys.join(", ");
    let of_row = |row: &str| -> String {
        keys.iter()
            .map(|k| format!("({row}).{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let named_keys: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("(r).{k} AS k{i}"))
        .collect();
    let joined_keys: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("(e.r).{k} = d.k{i}"))
        .collect();
    let columns: Vec<String> = table.columns.iter().map(|c| ident(c)).collect();
    let values: Vec<String> = columns.iter().map(|c| format!("(e.r).{c}")).collect();
    format!(
        "DELETE FROM {only} WHERE ({key_list}) IN \
           (SELECT {row_keys} FROM (SELECT image::{name} AS r FROM {log} \
            WHERE {undo} OR {redo}) e);\n\
         WITH e AS (SELECT seq, new, {redo} AS redo, image::{name} AS r FROM {log} \
           WHERE {undo} OR {redo}), \
         d AS (SELECT DISTINCT ON ({by_key}) {named_keys}, redo, seq FROM e \
           ORDER BY {by_key}, redo DESC, CASE WHEN redo THEN -seq ELSE seq END) \
         INSERT INTO {name} ({column_list}) OVERRIDING SYSTEM VALUE \
         SELECT {values} FROM d JOIN e ON e.seq = d.seq AND e.new = d.redo AND {joined};\n",
        row_keys = of_row("r"),
        by_key = of_row("r"),
        named_keys = named_keys.join(", "),
        column_list = columns.join(", "),
        values = values.join(", "),
        joined = joined_keys.join(" AND "),
    )
}

/// What the entries of `log` after position `since` (up to `until`, if given) changed in its
/// table: one row, the log's position now then the rows added minus removed and the signed sums
/// of their hashes (see [`TableSums`]).
pub(crate) fn changes(schema: &str, log: &str, since: i64, until: Option<i64>) -> String {
    let sum = |seed| {
        format!(
            "coalesce(sum(CASE WHEN new THEN 1 ELSE -1 END * {}), 0)::text",
            TableSums::hash("image", seed)
        )
    };
    let range = within(&[Range {
        from: since,
        to: until,
    }]);
    format!(
        "SELECT {}, (count(*) FILTER (WHERE new) - count(*) FILTER (WHERE NOT new))::text, {}, {} \
         FROM {log} WHERE {range}",
        position_now(schema),
        sum(0),
        sum(1)
    )
}

/// [`TableSums::scan`] of `table` (quoted), preceded by the log's position now.
pub(crate) fn scan(schema: &str, table: &str) -> String {
    format!(
        "SELECT {}, s.* FROM ({}) s",
        position_now(schema),
        TableSums::scan(table)
    )
}

/// The log's position as a text column: the last one a statement took (0 before any).
fn position_now(schema: &str) -> String {
    format!(
        "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {}.seq)::text",
        ident(schema)
    )
}

/// Deletes the entries of `log` in `range`.
pub(crate) fn forget(log: &str, range: Range) -> String {
    format!("DELETE FROM {log} WHERE {};\n", within(&[range]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_logs_tables_with_a_primary_key_under_session_names() {
        let sql = install("venom_snap_7", "venom_snap_7_mark");
        assert!(
            sql.contains("WHERE g.tgname = 'venom_snap_7_mark'"),
            "{sql}"
        );
        assert!(sql.contains("i.indisprimary"), "{sql}");
        for event in ["i", "u", "d", "t"] {
            assert!(
                sql.contains(&format!("'venom_snap_7_log_{event}'")),
                "{sql}"
            );
        }
        assert!(sql.ends_with(&position("venom_snap_7")), "{sql}");
        assert_eq!(
            position("venom_snap_7"),
            "SELECT '@' || (SELECT CASE WHEN is_called THEN last_value ELSE 0 END \
             FROM \"venom_snap_7\".seq)::text;\n"
        );
        assert_eq!(read_position(&[Some("@42".into())]), Some(42));
        assert_eq!(read_position(&[Some("42".into())]), None);
        assert_eq!(read_position(&[Some("@1".into()), None]), None);
        assert_eq!(log_name("s", 16384), "\"s\".\"l16384\"");
    }

    #[test]
    fn a_restore_rewrites_the_rows_the_ranges_name() {
        let tail = Range { from: 9, to: None };
        let segment = Range {
            from: 2,
            to: Some(5),
        };
        let sql = restore("\"s\".\"l1\"", &Table::orders(), &[tail], &[segment]);
        assert_eq!(
            sql,
            "DELETE FROM ONLY \"public\".\"orders\" WHERE (\"id\") IN \
             (SELECT (r).\"id\" FROM (SELECT image::\"public\".\"orders\" AS r FROM \"s\".\"l1\" \
             WHERE (seq > 9) OR (seq > 2 AND seq <= 5)) e);\n\
             WITH e AS (SELECT seq, new, (seq > 2 AND seq <= 5) AS redo, \
             image::\"public\".\"orders\" AS r FROM \"s\".\"l1\" \
             WHERE (seq > 9) OR (seq > 2 AND seq <= 5)), \
             d AS (SELECT DISTINCT ON ((r).\"id\") (r).\"id\" AS k0, redo, seq FROM e \
             ORDER BY (r).\"id\", redo DESC, CASE WHEN redo THEN -seq ELSE seq END) \
             INSERT INTO \"public\".\"orders\" (\"id\", \"amount\") OVERRIDING SYSTEM VALUE \
             SELECT (e.r).\"id\", (e.r).\"amount\" FROM d JOIN e ON e.seq = d.seq AND \
             e.new = d.redo AND (e.r).\"id\" = d.k0;\n"
        );
        let undo_only = restore("\"s\".\"l1\"", &Table::orders(), &[segment], &[]);
        assert!(undo_only.contains("false AS redo"), "{undo_only}");
        assert_eq!(
            forget("\"s\".\"l1\"", segment),
            "DELETE FROM \"s\".\"l1\" WHERE (seq > 2 AND seq <= 5);\n"
        );
    }
}
