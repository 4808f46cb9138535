//! What venom observes in a PostgreSQL database: row counts and content hashes of named tables,
//! and the results of named queries.

use crate::SqlQuery;
use serde_json::{json, Value};
use venom_engine::{Observation, WorldError};

/// Which tables and queries feed the state fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgObserveSpec {
    /// Tables (optionally `schema.table`) whose row count and content hash are observed.
    pub tables: Vec<String>,
    /// Named queries (`name`, SQL) whose full result is observed.
    pub queries: Vec<(String, String)>,
}

/// A table's content as venom fingerprints it: its row count and two 64-bit sums of its rows'
/// hashes (PostgreSQL's `hashtextextended` of each row's text, seeds 0 and 1). A sum is a hash
/// of the multiset of rows that the rows a statement added and removed update in place, so a
/// table whose changes are logged is observed at the cost of those changes (see
/// `PgSnapshots`), and a full scan (here) gives the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TableSums {
    pub rows: i64,
    pub sums: [u64; 2],
}

impl TableSums {
    /// One row, `(rows, sum0, sum1)` as text, over every row of `table` (quoted).
    pub(crate) fn scan(table: &str) -> String {
        let sum = |seed| {
            format!(
                "coalesce(sum({}), 0)::text",
                Self::hash("ROW(t.*)::text", seed)
            )
        };
        format!(
            "SELECT count(*)::text, {}, {} FROM {table} AS t",
            sum(0),
            sum(1)
        )
    }

    /// The SQL of the hash of a row's text `text` with seed `seed` (0 or 1), as a numeric.
    pub(crate) fn hash(text: &str, seed: u8) -> String {
        format!("hashtextextended({text}, {seed})::numeric")
    }

    /// Reads `(rows, sum0, sum1)` (text; the sums may exceed 64 bits and be negative).
    pub(crate) fn parse(row: &[Option<String>]) -> Option<TableSums> {
        let [Some(rows), Some(first), Some(second)] = row else {
            return None;
        };
        // A sum keeps its 64 low bits: the hash is the multiset's sum modulo 2^64.
        let low = |text: &str| text.parse::<i128>().ok().map(|sum| sum as u64);
        Some(TableSums {
            rows: rows.parse().ok()?,
            sums: [low(first)?, low(second)?],
        })
    }

    /// These sums with `change` (rows added minus rows removed) applied.
    pub(crate) fn plus(self, change: TableSums) -> TableSums {
        TableSums {
            rows: self.rows + change.rows,
            sums: [
                self.sums[0].wrapping_add(change.sums[0]),
                self.sums[1].wrapping_add(change.sums[1]),
            ],
        }
    }

    /// The observation: `{rows, hash}`.
    pub(crate) fn value(self) -> Value {
        json!({
            "rows": self.rows,
            "hash": format!("{:016x}{:016x}", self.sums[0], self.sums[1]),
        })
    }
}

/// Observes `spec` through `session`: `table:<name>` → `{rows, hash}` (the row count, and two
/// 64-bit sums of the hashes of its rows' text as 32 hex digits: a hash of the multiset of rows)
/// and `query:<name>` → the rows as arrays of text values.
pub fn observe_postgres(
    session: &mut dyn SqlQuery,
    spec: &PgObserveSpec,
) -> Result<Observation, WorldError> {
    let mut observation = Observation::new();
    for table in &spec.tables {
        let rows = session
            .query_text(&TableSums::scan(&quote_qualified(table)))
            .map_err(|e| WorldError::caused(format!("observing table {table}"), e))?;
        let sums = rows
            .first()
            .and_then(|row| TableSums::parse(row))
            .ok_or_else(|| {
                WorldError::new(format!("observing table {table}: unexpected result"))
            })?;
        observation.insert(format!("table:{table}"), sums.value());
    }
    for (name, sql) in &spec.queries {
        let rows = session
            .query_text(sql)
            .map_err(|e| WorldError::caused(format!("observation query `{name}`"), e))?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|row| Value::Array(row.into_iter().map(|v| json!(v)).collect()))
            .collect();
        observation.insert(format!("query:{name}"), Value::Array(rows));
    }
    Ok(observation)
}

/// `schema.table` or `table` as quoted SQL identifiers.
pub(crate) fn quote_qualified(name: &str) -> String {
    name.split('.')
        .map(|part| format!("\"{}\"", part.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::{quote_qualified, TableSums};

    #[test]
    fn sums_keep_their_low_64_bits_and_add_up_modulo_2_64() {
        let text = |v: &str| Some(v.to_string());
        let whole = TableSums::parse(&[text("3"), text("18446744073709551617"), text("-1")])
            .expect("three values");
        assert_eq!(whole.rows, 3);
        assert_eq!(whole.sums, [1, u64::MAX]);
        let change = TableSums::parse(&[text("-1"), text("-1"), text("1")]).expect("a change");
        let after = whole.plus(change);
        assert_eq!((after.rows, after.sums), (2, [0, 0]));
        assert_eq!(
            after.value(),
            serde_json::json!({"rows": 2, "hash": "00000000000000000000000000000000"})
        );
        assert_eq!(TableSums::parse(&[text("1"), text("x"), text("1")]), None);
        assert_eq!(TableSums::parse(&[text("1"), None, text("1")]), None);
    }

    #[test]
    fn identifiers_are_quoted_per_part() {
        assert_eq!(quote_qualified("orders"), "\"orders\"");
        assert_eq!(quote_qualified("app.orders"), "\"app\".\"orders\"");
        assert_eq!(quote_qualified("we\"ird"), "\"we\"\"ird\"");
    }
}
