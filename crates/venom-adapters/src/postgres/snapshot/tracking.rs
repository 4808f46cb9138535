//! Which tables the API wrote to since venom last looked, without reading them: a
//! statement-level trigger on each plain table of the saved schemas marks the table in a table
//! of venom's own schema. A checkpoint or a rollback then probes only the tables marked (and
//! those it cannot track), so a large table no step touches costs nothing.
//!
//! Nor is such a table copied: its copy is *deferred*. venom gives each tracked table a copy
//! number up front (`deferred`), and the trigger, which fires before the first statement that
//! writes the table, copies it then — as it still is, which is what every checkpoint taken
//! before that write saw — under that number, inside the API's transaction. A table no step
//! writes is never copied.
//!
//! The trigger function belongs to venom's schema and runs with its owner's rights, so the API's
//! user needs no rights on it; the triggers go with the schema when it is dropped (at the end of
//! the session, or by the next session after a crash). Restores run with
//! `session_replication_role = replica`, under which the triggers stay silent: venom knows what
//! it wrote. Tables with inheritance or partitions are not tracked (a statement on a partition
//! or a child would not fire the parent's trigger): they are probed every time, as are tables
//! whose owner did not let venom add a trigger and tables created after the session started.

use super::catalog::literal;
use super::sql::{ident, LOCK_TIMEOUT};

/// The name of the marking trigger of the session whose snapshot schema is `schema`.
pub(crate) fn trigger_name(schema: &str) -> String {
    format!("{schema}_mark")
}

/// Creates the session's schema, its table of marked tables, the marking function, and a
/// trigger on every plain table of `schemas` (tables that refuse it, or stay locked by another
/// session through the lock timeout, are left untracked).
pub(crate) fn install(schema: &str, schemas: &[String]) -> String {
    let own = ident(schema);
    let list = schemas
        .iter()
        .map(|s| literal(s))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
CREATE SCHEMA IF NOT EXISTS {own};
CREATE UNLOGGED TABLE IF NOT EXISTS {own}.marked (relid oid PRIMARY KEY);
CREATE UNLOGGED TABLE IF NOT EXISTS {own}.deferred (relid oid PRIMARY KEY, copy bigint NOT NULL);
CREATE OR REPLACE FUNCTION {own}.mark() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog AS $venom$
DECLARE number bigint;
BEGIN
  DELETE FROM {own}.deferred WHERE relid = TG_RELID RETURNING copy INTO number;
  IF number IS NOT NULL THEN
    EXECUTE format('CREATE UNLOGGED TABLE %I.%I AS SELECT * FROM ONLY %s', {schema_literal},
      'c' || number, TG_RELID::regclass);
  END IF;
  INSERT INTO {own}.marked VALUES (TG_RELID) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $venom$;
DO $venom$
DECLARE t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND NOT c.relispartition AND n.nspname IN ({list})
      AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)
  LOOP
    BEGIN
      EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s \
        FOR EACH STATEMENT EXECUTE FUNCTION {own}.mark()', {name}, t);
    EXCEPTION WHEN insufficient_privilege OR lock_not_available THEN NULL;
    END;
  END LOOP;
END $venom$;
SELECT n.nspname, c.relname FROM pg_trigger g
  JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE g.tgname = {name};",
        name = literal(&trigger_name(schema)),
        schema_literal = literal(schema),
    )
}

/// Defers the copies of `tables` (`schema.table` quoted, copy number): the trigger makes each
/// before the table's first write, unless [`cancel_deferred`] took it back.
pub(crate) fn defer_copies(schema: &str, tables: &[(String, u64)]) -> String {
    let values: Vec<String> = tables
        .iter()
        .map(|(table, copy)| format!("({}::regclass, {copy})", literal(table)))
        .collect();
    format!(
        "INSERT INTO {}.deferred VALUES {} ON CONFLICT (relid) DO UPDATE SET copy = EXCLUDED.copy;\n",
        ident(schema),
        values.join(", ")
    )
}

/// Takes back the deferred copy number `copy` (its table need not be copied any more).
pub(crate) fn cancel_deferred(schema: &str, copy: u64) -> String {
    format!(
        "DELETE FROM {}.deferred WHERE copy = {copy};\n",
        ident(schema)
    )
}

/// Empties the session's table of marked tables, answering `(schema, table)` for each: run as
/// the first statement of a checkpoint's or a rollback's transaction.
pub(crate) fn take_marked(schema: &str) -> String {
    format!(
        "DELETE FROM {}.marked m USING pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = m.relid RETURNING n.nspname, c.relname;\n",
        ident(schema)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_is_named_after_the_session_and_every_name_is_quoted() {
        let sql = install("venom_snap_42", &["public".into(), "o'dd".into()]);
        assert!(
            sql.contains("CREATE SCHEMA IF NOT EXISTS \"venom_snap_42\";"),
            "{sql}"
        );
        assert!(sql.contains("n.nspname IN ('public', 'o''dd')"), "{sql}");
        assert!(
            sql.contains("WHERE g.tgname = 'venom_snap_42_mark';"),
            "{sql}"
        );
        assert!(
            sql.contains("EXECUTE FUNCTION \"venom_snap_42\".mark()', 'venom_snap_42_mark', t)"),
            "{sql}"
        );
        assert!(
            sql.contains("BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE"),
            "{sql}"
        );
        assert!(
            sql.contains("SELECT * FROM ONLY %s', 'venom_snap_42'"),
            "{sql}"
        );
        assert_eq!(
            defer_copies("venom_snap_42", &[("\"public\".\"o'dd\"".into(), 7)]),
            "INSERT INTO \"venom_snap_42\".deferred VALUES ('\"public\".\"o''dd\"'::regclass, 7) \
             ON CONFLICT (relid) DO UPDATE SET copy = EXCLUDED.copy;\n"
        );
        assert_eq!(
            take_marked("venom_snap_42"),
            "DELETE FROM \"venom_snap_42\".marked m USING pg_class c JOIN pg_namespace n ON \
             n.oid = c.relnamespace WHERE c.oid = m.relid RETURNING n.nspname, c.relname;\n"
        );
    }
}
