//! An observed rowid table's fingerprint, kept up to date at the cost of what changed: the row
//! count and two 64-bit sums of its rows' xxh3-128 hashes (the visible columns), held per bucket
//! of 256 consecutive rowids. The rows a change touched (see [`super::rows`]) name the buckets
//! to read again; the others keep their sums. Memory: a few bytes per 256 rows.

use super::rows::{bucket, bucket_bounds};
use super::{hash_value, quote_identifier};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use xxhash_rust::xxh3::Xxh3;

/// The count and hash sums of some rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    rows: u64,
    hash: [u64; 2],
}

impl Sums {
    fn add(&mut self, other: Sums) {
        self.rows += other.rows;
        self.hash[0] = self.hash[0].wrapping_add(other.hash[0]);
        self.hash[1] = self.hash[1].wrapping_add(other.hash[1]);
    }
}

/// The sums of a table's rows, by bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TableSums {
    buckets: BTreeMap<i64, Sums>,
}

impl TableSums {
    /// Reads every row of table `name`.
    pub fn read(conn: &Connection, name: &str) -> rusqlite::Result<TableSums> {
        let mut sums = TableSums::default();
        sums.read_range(conn, name, i64::MIN, i64::MAX)?;
        Ok(sums)
    }

    /// Reads again the buckets `buckets` of table `name`.
    pub fn update(
        &mut self,
        conn: &Connection,
        name: &str,
        buckets: &BTreeSet<i64>,
    ) -> rusqlite::Result<()> {
        let buckets: Vec<i64> = buckets.iter().copied().collect();
        // Consecutive buckets are read in one range.
        let mut at = 0;
        while at < buckets.len() {
            let mut end = at;
            while end + 1 < buckets.len() && buckets[end + 1] == buckets[end] + 1 {
                end += 1;
            }
            let (first, last) = (buckets[at], buckets[end]);
            self.buckets.retain(|&b, _| b < first || b > last);
            self.read_range(conn, name, bucket_bounds(first).0, bucket_bounds(last).1)?;
            at = end + 1;
        }
        Ok(())
    }

    /// Adds the rows of table `name` whose rowid lies in `low..=high` (their buckets must be
    /// empty).
    fn read_range(
        &mut self,
        conn: &Connection,
        name: &str,
        low: i64,
        high: i64,
    ) -> rusqlite::Result<()> {
        let sql = format!(
            "SELECT _rowid_, * FROM {} WHERE _rowid_ BETWEEN ?1 AND ?2",
            quote_identifier(name)
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([low, high])?;
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            let mut hasher = Xxh3::new();
            for i in 1..columns {
                hash_value(&mut hasher, row.get_ref(i)?);
            }
            let hash = hasher.digest128();
            self.buckets.entry(bucket(rowid)).or_default().add(Sums {
                rows: 1,
                hash: [hash as u64, (hash >> 64) as u64],
            });
        }
        Ok(())
    }

    /// The observation: `{rows, hash}`.
    pub fn value(&self) -> Value {
        let mut total = Sums::default();
        for sums in self.buckets.values() {
            total.add(*sums);
        }
        json!({
            "rows": total.rows,
            "hash": format!("{:016x}{:016x}", total.hash[0], total.hash[1]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updated_buckets_equal_a_full_read_and_contents_not_rowids_count() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
             INSERT INTO t (rowid, x) SELECT i, 'row ' || i FROM c;
             INSERT INTO t (rowid, x) VALUES (-5, 'negative'), (9223372036854775807, 'last');",
        )
        .unwrap();
        let mut sums = TableSums::read(&conn, "t").unwrap();
        assert_eq!(sums.value()["rows"], 2002);
        conn.execute_batch(
            "UPDATE t SET x = 'changed' WHERE rowid IN (7, 600);
             DELETE FROM t WHERE rowid IN (-5, 1999);
             INSERT INTO t (rowid, x) VALUES (5000, 'new');
             UPDATE t SET x = 'end' WHERE rowid = 9223372036854775807;",
        )
        .unwrap();
        let touched: BTreeSet<i64> = [-5, 7, 600, 1999, 5000, i64::MAX]
            .into_iter()
            .map(bucket)
            .collect();
        sums.update(&conn, "t", &touched).unwrap();
        assert_eq!(sums, TableSums::read(&conn, "t").unwrap());
        assert_eq!(sums.value()["rows"], 2001);
        // The same rows under other rowids observe the same.
        let other = Connection::open_in_memory().unwrap();
        other.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        let rows: Vec<String> = conn
            .prepare("SELECT x FROM t ORDER BY x DESC")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for x in rows {
            other.execute("INSERT INTO t (x) VALUES (?1)", [x]).unwrap();
        }
        assert_eq!(TableSums::read(&other, "t").unwrap().value(), sums.value());
    }
}
