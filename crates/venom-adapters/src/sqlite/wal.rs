//! The pages a WAL database's commits wrote, read from its write-ahead log (`<file>-wal`) instead
//! of reading the whole database: the log's 32-byte header carries two salts that change when
//! the log restarts, and each frame is a 24-byte header (page number, the database's size after
//! the commit for a commit's last frame, the salts) followed by the page. The frames of the
//! current log up to its last commit frame are the pages written since the log last restarted.
//!
//! A log that restarted since venom last read it, was cut short, or cannot be read is not
//! followed: the caller then reads the whole database, as with a rollback journal.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// Where venom stopped reading a log: its salts and the end of the last commit frame read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    salts: [u32; 2],
    offset: u64,
}

/// The pages written by the commits after `cursor` (moved past them), or `None` when the log
/// cannot be followed from there.
pub(super) fn follow(wal: &Path, cursor: &mut Option<Cursor>) -> Option<Vec<u32>> {
    let from = (*cursor)?;
    let mut log = Log::open(wal)?;
    if log.salts != from.salts || from.offset > log.len {
        return None;
    }
    let (pages, end) = log.committed(from.offset)?;
    *cursor = Some(Cursor {
        salts: log.salts,
        offset: end,
    });
    Some(pages)
}

/// The end of the log's last commit, to follow it from there (`None` without a log).
pub(super) fn position(wal: &Path) -> Option<Cursor> {
    let mut log = Log::open(wal)?;
    let (_, end) = log.committed(HEADER)?;
    Some(Cursor {
        salts: log.salts,
        offset: end,
    })
}

/// An open log and what its header says.
struct Log {
    file: File,
    len: u64,
    page_size: u64,
    salts: [u32; 2],
}

impl Log {
    fn open(path: &Path) -> Option<Log> {
        let mut file = File::open(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut header = [0u8; HEADER as usize];
        file.read_exact(&mut header).ok()?;
        let magic = be(&header, 0);
        if magic & !1 != 0x377f_0682 {
            return None;
        }
        let page_size = match be(&header, 8) {
            1 => 65_536,
            size if size.is_power_of_two() && (512..=65_536).contains(&size) => u64::from(size),
            _ => return None,
        };
        Some(Log {
            file,
            len,
            page_size,
            salts: [be(&header, 16), be(&header, 20)],
        })
    }

    /// The pages of the frames from `offset` up to the last commit frame of the current log,
    /// and the offset just past that commit (`offset` itself when there is none).
    fn committed(&mut self, offset: u64) -> Option<(Vec<u32>, u64)> {
        let stride = FRAME_HEADER + self.page_size;
        let (mut pages, mut pending) = (Vec::new(), Vec::new());
        let (mut at, mut end) = (offset, offset);
        let mut frame = [0u8; FRAME_HEADER as usize];
        while at + stride <= self.len {
            self.file.seek(SeekFrom::Start(at)).ok()?;
            self.file.read_exact(&mut frame).ok()?;
            if [be(&frame, 8), be(&frame, 12)] != self.salts {
                break;
            }
            pending.push(be(&frame, 0));
            at += stride;
            if be(&frame, 4) != 0 {
                pages.append(&mut pending);
                end = at;
            }
        }
        pages.sort_unstable();
        pages.dedup();
        Some((pages, end))
    }
}

fn be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn commits_are_followed_and_a_restart_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let wal = dir.path().join("a.db-wal");
        let conn = Connection::open(&db).unwrap();
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        conn.execute_batch("PRAGMA wal_autocheckpoint=0; CREATE TABLE t (x);")
            .unwrap();
        let mut cursor = position(&wal);
        assert!(cursor.is_some());
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let written = follow(&wal, &mut cursor).expect("followed");
        assert!(written.contains(&2), "the table's page: {written:?}");
        assert_eq!(follow(&wal, &mut cursor), Some(vec![]), "nothing new");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(follow(&wal, &mut cursor), None, "the log restarted");
        assert_eq!(
            follow(&dir.path().join("none-wal"), &mut position(&wal)),
            None
        );
    }
}
