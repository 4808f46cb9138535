//! Which rows a change of pages touched, read from the pages themselves: the cells of a table
//! b-tree leaf page start with the row's payload size and rowid (two varints), so the rowids on
//! a leaf page before and after a change name every row the change could have added, removed or
//! rewritten there. Any other page that changed — an interior page (rows moved between leaves),
//! an overflow or free page, the schema — says nothing usable: the change is then *unknown*
//! and observations read their tables whole.
//!
//! Index pages are ignored: an index entry changes with its table's row, whose leaf changes too
//! (a `WITHOUT ROWID` table, whose rows live in an index b-tree, is always read whole). Rows are
//! named by their bucket (see [`bucket`]): what an observation reads again.

use std::collections::BTreeSet;
use xxhash_rust::xxh3::xxh3_128;

/// Where the database header ends on page 1 (the b-tree page header follows it).
const DATABASE_HEADER: usize = 100;
const TABLE_LEAF: u8 = 0x0D;
const INDEX_LEAF: u8 = 0x0A;
const INDEX_INTERIOR: u8 = 0x02;
/// A bucket holds the rowids whose value shifted right by this many bits is its number.
const BUCKET_BITS: u32 = 8;

/// The bucket of rowid `rowid`: 256 consecutive rowids.
pub(super) fn bucket(rowid: i64) -> i64 {
    rowid >> BUCKET_BITS
}

/// The lowest and highest rowids of bucket `bucket`.
pub(super) fn bucket_bounds(bucket: i64) -> (i64, i64) {
    let low = bucket << BUCKET_BITS;
    (low, low | ((1 << BUCKET_BITS) - 1))
}

/// What a page says of the rows on it, read once per page content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PageRows {
    /// A table b-tree leaf: the buckets of its rows.
    TableLeaf(Box<[i64]>),
    /// An index b-tree page.
    Index,
    /// Page 1: the hash of the schema table's page below the database header (which changes
    /// with every commit).
    Schema(u128),
    /// Anything else (interior table page, overflow or free page), or unreadable.
    Other,
}

impl PageRows {
    /// Reads page `pgno`, whose content is `page`.
    pub fn of(pgno: u32, page: &[u8]) -> PageRows {
        if pgno == 1 {
            return PageRows::Schema(xxh3_128(page.get(DATABASE_HEADER..).unwrap_or_default()));
        }
        match page.first() {
            Some(&INDEX_LEAF | &INDEX_INTERIOR) => PageRows::Index,
            Some(&TABLE_LEAF) => leaf_rowids(page).map_or(PageRows::Other, |rowids| {
                let buckets: BTreeSet<i64> = rowids.into_iter().map(bucket).collect();
                PageRows::TableLeaf(buckets.into_iter().collect())
            }),
            _ => PageRows::Other,
        }
    }
}

/// The rows touched by the page changes seen since they were last taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Touched {
    /// The buckets of the rows on the changed table leaf pages, before and after (of any
    /// table).
    pub buckets: BTreeSet<i64>,
    /// A change that names no rows (see the module's doc): every table may have changed.
    pub unknown: bool,
}

impl Touched {
    /// Everything may have changed.
    pub fn unknown() -> Touched {
        Touched {
            buckets: BTreeSet::new(),
            unknown: true,
        }
    }

    /// Records that a page went from `before` (absent: past the end) to `after` (absent: cut
    /// off).
    pub fn note(&mut self, before: Option<&PageRows>, after: Option<&PageRows>) {
        if self.unknown {
            return;
        }
        if let (Some(PageRows::Schema(a)), Some(PageRows::Schema(b))) = (before, after) {
            self.unknown = a != b;
            return;
        }
        for page in [before, after].into_iter().flatten() {
            match page {
                PageRows::TableLeaf(buckets) => self.buckets.extend(buckets.iter()),
                PageRows::Index => {}
                PageRows::Schema(_) | PageRows::Other => {
                    self.unknown = true;
                    return;
                }
            }
        }
    }
}

/// The rowids of the cells of a table leaf page (`None` when a cell lies outside the page).
fn leaf_rowids(page: &[u8]) -> Option<Vec<i64>> {
    let cells = usize::from(u16::from_be_bytes([*page.get(3)?, *page.get(4)?]));
    let mut rowids = Vec::with_capacity(cells);
    for cell in 0..cells {
        let at = 8 + 2 * cell;
        let offset = usize::from(u16::from_be_bytes([*page.get(at)?, *page.get(at + 1)?]));
        let (_, size_len) = varint(page.get(offset..)?)?;
        let (rowid, _) = varint(page.get(offset + size_len..)?)?;
        rowids.push(rowid as i64);
    }
    Some(rowids)
}

/// SQLite's variable-length integer at the start of `bytes` and its length: up to eight bytes
/// of seven bits (high bit set: more follows), then a ninth of eight bits.
fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn varints_of_one_to_nine_bytes() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9]), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81]), None, "cut short");
    }

    #[test]
    fn buckets_hold_256_rowids_negative_ones_included() {
        assert_eq!((bucket(0), bucket(255), bucket(256)), (0, 0, 1));
        assert_eq!((bucket(-1), bucket(-256), bucket(-257)), (-1, -1, -2));
        assert_eq!(bucket_bounds(1), (256, 511));
        assert_eq!(bucket_bounds(-1), (-256, -1));
        assert_eq!(bucket_bounds(bucket(i64::MAX)).1, i64::MAX);
        assert_eq!(bucket_bounds(bucket(i64::MIN)).0, i64::MIN);
    }

    /// The pages of a real database: its table leaf names exactly the buckets of the table's
    /// rowids, an index page is told apart, and a cut or foreign page is not taken for a leaf.
    #[test]
    fn leaf_pages_of_a_real_database_name_their_rows() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT); CREATE INDEX t_x ON t (x);
             INSERT INTO t (rowid, x) VALUES (3, 'a'), (70000, 'b'), (-9, 'c');",
        )
        .unwrap();
        let page = |name: &str| -> (u32, Vec<u8>) {
            let root: u32 = conn
                .query_row(
                    "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .unwrap();
            let data = conn
                .query_row(
                    "SELECT data FROM sqlite_dbpage WHERE pgno = ?1",
                    [root],
                    |r| r.get(0),
                )
                .unwrap();
            (root, data)
        };
        let (root, leaf) = page("t");
        let rows = PageRows::of(root, &leaf);
        assert_eq!(
            rows,
            PageRows::TableLeaf(vec![bucket(-9), bucket(3), bucket(70000)].into())
        );
        let (index_root, index) = page("t_x");
        assert_eq!(PageRows::of(index_root, &index), PageRows::Index);
        assert_eq!(PageRows::of(root, &leaf[..6]), PageRows::Other, "cut short");
        assert_eq!(
            PageRows::of(9, &[0u8; 4096]),
            PageRows::Other,
            "overflow or free"
        );

        let mut touched = Touched::default();
        touched.note(Some(&rows), None);
        assert_eq!(touched.buckets, BTreeSet::from([-1, 0, 273]));
        assert!(!touched.unknown);
        let mut page1 = leaf.clone();
        page1[24] ^= 1;
        touched.note(
            Some(&PageRows::of(1, &leaf)),
            Some(&PageRows::of(1, &page1)),
        );
        assert!(!touched.unknown, "a header change is no row change");
        page1[DATABASE_HEADER] ^= 1;
        touched.note(
            Some(&PageRows::of(1, &leaf)),
            Some(&PageRows::of(1, &page1)),
        );
        assert!(touched.unknown, "the schema page changed");
        let mut touched = Touched::default();
        touched.note(Some(&rows), Some(&PageRows::Other));
        assert!(touched.unknown, "a leaf turned into something else");
    }
}
