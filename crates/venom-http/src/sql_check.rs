//! Reading the answer of an invariant written as SQL.

/// What the rows of an invariant's query say: `Ok(true)` / `Ok(false)` for exactly one row of
/// one boolean column (`t` / `f` in PostgreSQL's text format), else what was wrong with them.
pub(crate) fn truth(rows: &[Vec<Option<String>>]) -> Result<bool, String> {
    match rows {
        [row] => match row.as_slice() {
            [Some(value)] if value == "t" => Ok(true),
            [Some(value)] if value == "f" => Ok(false),
            [None] => Err("returned NULL, expected true or false".into()),
            [Some(value)] => Err(format!("returned `{value}`, expected a boolean")),
            _ => Err(format!(
                "returned {} columns, expected one boolean column",
                row.len()
            )),
        },
        _ => Err(format!(
            "returned {} rows, expected exactly one row with one boolean column",
            rows.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::truth;

    fn one(value: Option<&str>) -> Vec<Vec<Option<String>>> {
        vec![vec![value.map(str::to_string)]]
    }

    #[test]
    fn one_boolean_is_the_answer() {
        assert_eq!(truth(&one(Some("t"))), Ok(true));
        assert_eq!(truth(&one(Some("f"))), Ok(false));
    }

    #[test]
    fn any_other_shape_says_what_is_wrong() {
        assert_eq!(
            truth(&one(None)),
            Err("returned NULL, expected true or false".into())
        );
        assert_eq!(
            truth(&one(Some("3"))),
            Err("returned `3`, expected a boolean".into())
        );
        assert!(truth(&[]).unwrap_err().contains("returned 0 rows"));
        let two_columns = vec![vec![Some("t".to_string()), None]];
        assert!(truth(&two_columns).unwrap_err().contains("2 columns"));
    }
}
