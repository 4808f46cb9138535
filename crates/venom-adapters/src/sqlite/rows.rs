//! Which rows a change of pages touched, read from the pages themselves: the cells of a table
//! b-tree leaf page start with the row's payload size and rowid (two varints), so the rowids on
//! a leaf page before and after a change name every row the change could have added, removed or
//! rewritten there. Any other page that changed — an interior page (rows moved between leaves),
//! an overflow or free page, the schema — says nothing usable: the change is then *unknown*
//! and observations read their tables whole.
//!
//! Index pages are ignored: an index entry changes with its table's row, whose leaf changes too
//! (a `WITHOUT ROWID` table, whose rows live in an index b-tree, is always read whole).

use std::collections::BTreeSet;

/// Where the database header ends on page 1 (the b-tree page header follows it).
const DATABASE_HEADER: usize = 100;
const TABLE_LEAF: u8 = 0x0D;
const INDEX_LEAF: u8 = 0x0A;
const INDEX_INTERIOR: u8 = 0x02;

/// The rows touched by the page changes seen since they were last taken.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Touched {
    /// The rowids on the changed table leaf pages, before and after (of any table).
    pub rowids: BTreeSet<i64>,
    /// A change that names no rows (see the module's doc): every table may have changed.
    pub unknown: bool,
}

impl Touched {
    /// Everything may have changed.
    pub fn unknown() -> Touched {
        Touched {
            rowids: BTreeSet::new(),
            unknown: true,
        }
    }

    /// Records that page `pgno` went from `before` (absent: past the end) to `after` (absent:
    /// cut off).
    pub fn note(&mut self, pgno: u32, before: Option<&[u8]>, after: Option<&[u8]>) {
        if self.unknown {
            return;
        }
        if pgno == 1 {
            // The header (change counter, schema cookie) changes with every commit; the
            // schema table below it is a change of its own.
            if schema_part(before) != schema_part(after) {
                self.unknown = true;
            }
            return;
        }
        for page in [before, after].into_iter().flatten() {
            match read_page(page) {
                Page::TableLeaf(rowids) => self.rowids.extend(rowids),
                Page::Index => {}
                Page::Other => {
                    self.unknown = true;
                    return;
                }
            }
        }
    }
}

/// Page 1 past the database header: the schema table's b-tree page.
fn schema_part(page: Option<&[u8]>) -> Option<&[u8]> {
    page.and_then(|p| p.get(DATABASE_HEADER..))
}

/// What a page is, as far as row changes go.
#[derive(Debug, PartialEq, Eq)]
enum Page {
    /// A table b-tree leaf, with the rowids of its cells.
    TableLeaf(Vec<i64>),
    /// An index b-tree page.
    Index,
    /// Anything else (interior table page, overflow or free page), or unreadable.
    Other,
}

/// Reads a page other than page 1.
fn read_page(page: &[u8]) -> Page {
    match page.first() {
        Some(&INDEX_LEAF | &INDEX_INTERIOR) => Page::Index,
        Some(&TABLE_LEAF) => leaf_rowids(page).map_or(Page::Other, Page::TableLeaf),
        _ => Page::Other,
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

    /// The pages of a real database: its table leaf holds exactly the table's rowids, an index
    /// page is told apart, and a cut or foreign page is not taken for a leaf.
    #[test]
    fn leaf_pages_of_a_real_database_name_their_rowids() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT); CREATE INDEX t_x ON t (x);
             INSERT INTO t (rowid, x) VALUES (3, 'a'), (70000, 'b'), (-9, 'c');",
        )
        .unwrap();
        let page = |name: &str| -> Vec<u8> {
            let root: i64 = conn
                .query_row(
                    "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .unwrap();
            conn.query_row(
                "SELECT data FROM sqlite_dbpage WHERE pgno = ?1",
                [root],
                |r| r.get(0),
            )
            .unwrap()
        };
        let leaf = page("t");
        let mut rowids = match read_page(&leaf) {
            Page::TableLeaf(rowids) => rowids,
            other => panic!("not a leaf: {other:?}"),
        };
        rowids.sort_unstable();
        assert_eq!(rowids, [-9, 3, 70000]);
        assert_eq!(read_page(&page("t_x")), Page::Index);
        assert_eq!(read_page(&leaf[..6]), Page::Other, "cut short");
        assert_eq!(
            read_page(&[0u8; 4096]),
            Page::Other,
            "an overflow or free page"
        );

        let mut touched = Touched::default();
        touched.note(2, Some(&leaf), None);
        assert_eq!(touched.rowids, BTreeSet::from([-9, 3, 70000]));
        assert!(!touched.unknown);
        let mut page1 = leaf.clone();
        page1[24] ^= 1;
        touched.note(1, Some(&leaf), Some(&page1));
        assert!(!touched.unknown, "a header change is no row change");
        touched.note(1, Some(&leaf), Some(&leaf[..50]));
        assert!(touched.unknown, "the schema page changed");
        let mut touched = Touched::default();
        touched.note(7, Some(&leaf), Some(&[0u8; 4096]));
        assert!(touched.unknown, "a leaf turned into something else");
    }
}
