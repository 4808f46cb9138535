//! Sequence positions: what `nextval` has consumed, which no rollback of a transaction or
//! savepoint undoes, so every mechanism records them at a checkpoint and sets them back itself.

/// A sequence's recorded position: what `setval(seq, value, is_called)` restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub value: i64,
    pub is_called: bool,
}

/// Reads the position of every sequence the session may read and set, from the catalog in one
/// statement (no per-sequence query to build): rows of `(oid, last_value, start_value)`, where
/// `last_value` is NULL while the sequence has not been called since its start.
///
/// It starts from `pg_sequence`, which lists sequences only (the privilege checks fail on other
/// relations), and skips the temporary sequences of other sessions, which cannot be read.
pub(crate) const POSITIONS_BY_OID: &str =
    "SELECT s.seqrelid, pg_sequence_last_value(s.seqrelid), s.seqstart FROM pg_sequence s \
     WHERE has_sequence_privilege(s.seqrelid, 'SELECT') \
       AND has_sequence_privilege(s.seqrelid, 'UPDATE') \
       AND NOT pg_is_other_temp_schema( \
           (SELECT c.relnamespace FROM pg_class c WHERE c.oid = s.seqrelid))";

/// The positions in the rows of [`POSITIONS_BY_OID`]. A sequence not called since its start
/// (or since `ALTER SEQUENCE … RESTART`) is recorded at its start value, not yet called.
pub(crate) fn positions_by_oid(rows: &[Vec<Option<String>>]) -> Vec<(u32, Position)> {
    rows.iter()
        .filter_map(|row| match row.as_slice() {
            [Some(oid), last, Some(start)] => {
                let oid = oid.parse().ok()?;
                let position = match last {
                    Some(value) => Position {
                        value: value.parse().ok()?,
                        is_called: true,
                    },
                    None => Position {
                        value: start.parse().ok()?,
                        is_called: false,
                    },
                };
                Some((oid, position))
            }
            _ => None,
        })
        .collect()
}

/// One statement that sets every sequence of `positions` (by oid) back; `None` when there is
/// none. (Setting back only those that moved, found by reading them in the same statement, was
/// measured no faster.)
pub(crate) fn restore_by_oid(positions: &[(u32, Position)]) -> Option<String> {
    if positions.is_empty() {
        return None;
    }
    let sets: Vec<String> = positions
        .iter()
        .map(|(oid, p)| format!("setval({oid}::oid::regclass, {}, {})", p.value, p.is_called))
        .collect();
    Some(format!("SELECT {}", sets.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn called_sequences_keep_their_value_and_fresh_ones_their_start() {
        let rows = [
            row(&[Some("16390"), Some("7"), Some("1")]),
            row(&[Some("16400"), None, Some("100")]),
            row(&[Some("oops"), Some("1"), Some("1")]),
        ];
        assert_eq!(
            positions_by_oid(&rows),
            [
                (
                    16390,
                    Position {
                        value: 7,
                        is_called: true
                    }
                ),
                (
                    16400,
                    Position {
                        value: 100,
                        is_called: false
                    }
                ),
            ]
        );
    }

    #[test]
    fn restore_sets_every_sequence_in_one_statement() {
        assert_eq!(restore_by_oid(&[]), None);
        let positions = positions_by_oid(&[
            row(&[Some("1"), Some("7"), Some("1")]),
            row(&[Some("2"), None, Some("5")]),
        ]);
        assert_eq!(
            restore_by_oid(&positions).as_deref(),
            Some("SELECT setval(1::oid::regclass, 7, true), setval(2::oid::regclass, 5, false)")
        );
    }
}
