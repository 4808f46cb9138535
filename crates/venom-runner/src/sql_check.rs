//! Reading the answer of an invariant written as SQL.

/// What an invariant's query answered instead of one row of one boolean column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlAnswerError {
    /// The one value is NULL.
    #[error("returned NULL, expected true or false")]
    Null,
    /// The one value is not `t` or `f`.
    #[error("returned `{0}`, expected a boolean")]
    NotBoolean(String),
    /// The one row does not have exactly one column.
    #[error("returned {0} columns, expected one boolean column")]
    Columns(usize),
    /// Not exactly one row.
    #[error("returned {0} rows, expected exactly one row with one boolean column")]
    Rows(usize),
}

/// How a database writes a boolean as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Booleans {
    /// PostgreSQL's text format: `t` and `f` (an integer is no boolean).
    Postgres,
    /// SQLite has no boolean type: a comparison answers `1` or `0`.
    Sqlite,
}

impl Booleans {
    fn read(self, value: &str) -> Option<bool> {
        match (self, value) {
            (Booleans::Postgres, "t") | (Booleans::Sqlite, "1") => Some(true),
            (Booleans::Postgres, "f") | (Booleans::Sqlite, "0") => Some(false),
            _ => None,
        }
    }
}

/// What the rows of an invariant's query say: `Ok(true)` / `Ok(false)` for exactly one row of
/// one boolean column (as `booleans` writes them), else what was wrong with them.
pub(crate) fn truth(
    rows: &[Vec<Option<String>>],
    booleans: Booleans,
) -> Result<bool, SqlAnswerError> {
    match rows {
        [row] => match row.as_slice() {
            [None] => Err(SqlAnswerError::Null),
            [Some(value)] => booleans
                .read(value)
                .ok_or_else(|| SqlAnswerError::NotBoolean(value.clone())),
            _ => Err(SqlAnswerError::Columns(row.len())),
        },
        _ => Err(SqlAnswerError::Rows(rows.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: Option<&str>) -> Vec<Vec<Option<String>>> {
        vec![vec![value.map(str::to_string)]]
    }

    #[test]
    fn one_boolean_is_the_answer() {
        assert_eq!(truth(&one(Some("t")), Booleans::Postgres), Ok(true));
        assert_eq!(truth(&one(Some("f")), Booleans::Postgres), Ok(false));
        assert_eq!(
            truth(&one(Some("1")), Booleans::Sqlite),
            Ok(true),
            "SQLite's true"
        );
        assert_eq!(
            truth(&one(Some("0")), Booleans::Sqlite),
            Ok(false),
            "SQLite's false"
        );
    }

    #[test]
    fn any_other_shape_says_what_is_wrong() {
        let message =
            |rows: &[Vec<Option<String>>]| truth(rows, Booleans::Postgres).unwrap_err().to_string();
        assert_eq!(
            message(&one(Some("0"))),
            "returned `0`, expected a boolean",
            "a PostgreSQL integer is no boolean"
        );
        let sqlite = truth(&one(Some("t")), Booleans::Sqlite)
            .unwrap_err()
            .to_string();
        assert_eq!(sqlite, "returned `t`, expected a boolean");
        assert_eq!(message(&one(None)), "returned NULL, expected true or false");
        assert_eq!(message(&one(Some("3"))), "returned `3`, expected a boolean");
        assert_eq!(
            message(&one(Some("true"))),
            "returned `true`, expected a boolean"
        );
        assert!(message(&[]).contains("returned 0 rows"));
        let two_columns = vec![vec![Some("t".to_string()), None]];
        assert!(message(&two_columns).contains("2 columns"));
    }
}
