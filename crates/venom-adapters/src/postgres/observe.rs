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

/// Observes `spec` through `session`: `table:<name>` → `{rows, hash}` (md5 over the rows' text
/// in a canonical order) and `query:<name>` → the rows as arrays of text values.
pub fn observe_postgres(
    session: &mut dyn SqlQuery,
    spec: &PgObserveSpec,
) -> Result<Observation, WorldError> {
    let mut observation = Observation::new();
    for table in &spec.tables {
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) \
             FROM {} AS t",
            quote_qualified(table)
        );
        let rows = session
            .query_text(&sql)
            .map_err(|e| WorldError::caused(format!("observing table {table}"), e))?;
        let (count, hash) = match rows.first().map(Vec::as_slice) {
            Some([Some(count), Some(hash)]) => (count.clone(), hash.clone()),
            _ => {
                return Err(WorldError::new(format!(
                    "observing table {table}: unexpected result"
                )))
            }
        };
        let rows: u64 = count.parse().map_err(|e| {
            WorldError::new(format!("observing table {table}: row count {count}: {e}"))
        })?;
        observation.insert(
            format!("table:{table}"),
            json!({ "rows": rows, "hash": hash }),
        );
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
    use super::quote_qualified;

    #[test]
    fn identifiers_are_quoted_per_part() {
        assert_eq!(quote_qualified("orders"), "\"orders\"");
        assert_eq!(quote_qualified("app.orders"), "\"app\".\"orders\"");
        assert_eq!(quote_qualified("we\"ird"), "\"we\"\"ird\"");
    }
}
