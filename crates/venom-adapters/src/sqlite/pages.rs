//! Page-level checkpoints of a SQLite database: a checkpoint keeps only the pages in which the
//! database differs from its *base* (a copy of the file taken once, at venom's first
//! checkpoint, kept on disk), sharing unchanged pages with the checkpoints before it; a rollback writes back only
//! the pages that differ from the target, in one write transaction of SQLite's own, through the
//! `sqlite_dbpage` virtual table (the bundled SQLite is built with it, see `.cargo/config.toml`).
//!
//! What changed since venom last looked is found, when `PRAGMA data_version` says another
//! connection committed: in a WAL database, from the pages its write-ahead log's new commit
//! frames name (see [`super::wal`]), each read and hashed; otherwise (a rollback journal, or a
//! log that restarted) by hashing every page (one read of the file through `sqlite_dbpage`).
//! Memory grows with the pages that changed, never with the database.
//!
//! The pages are written by a connection opened for the purpose (a connection whose pages were
//! overwritten under it would keep its parsed copies of them), and every other connection — the
//! API's, and venom's own for observations — sees the restored database as after any commit:
//! the change counter moved, so each drops its cache; the schema cookie is bumped past the
//! current one, so each reloads its schema, as after SQLite's own backup.

use super::rows::{PageRows, Touched};
use super::{wal, MAX_ATTEMPTS};
use rusqlite::{params, Connection, OpenFlags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use xxhash_rust::xxh3::xxh3_128;

/// Offset of the schema cookie in page 1, 4 bytes big-endian.
const SCHEMA_COOKIE: usize = 40;

/// A page's content, shared by every image that holds it; its bytes count in the memory the
/// checkpoints hold for as long as it lives.
pub(super) struct Page {
    hash: u128,
    bytes: Box<[u8]>,
    /// What it says of the rows on it, when the pages follow rows.
    rows: Option<PageRows>,
    held: Arc<AtomicU64>,
}

impl Page {
    /// A page of `bytes`, whose hash is `hash`.
    fn new(bytes: &[u8], hash: u128, rows: Option<PageRows>, held: &Arc<AtomicU64>) -> Arc<Page> {
        held.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Arc::new(Page {
            hash,
            bytes: bytes.into(),
            rows,
            held: held.clone(),
        })
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.held
            .fetch_sub(self.bytes.len() as u64, Ordering::Relaxed);
    }
}

/// The database as it was once: a copy of the file (on disk) and the hash of each page.
pub(super) struct Base {
    conn: Mutex<Connection>,
    hashes: Vec<u128>,
    /// What the pages read so far say of their rows (see [`PageRows`]).
    rows: Mutex<HashMap<u32, PageRows>>,
    /// The folder holding the copy, deleted with it.
    _folder: tempfile::TempDir,
}

impl Base {
    /// Page `pgno`'s content in the base.
    fn page(&self, pgno: u32) -> rusqlite::Result<Vec<u8>> {
        read_page(&lock(&self.conn), pgno)
    }

    /// What page `pgno` says of its rows, read once (`None` when it cannot be read).
    fn rows(&self, pgno: u32) -> Option<PageRows> {
        if let Some(rows) = lock(&self.rows).get(&pgno) {
            return Some(rows.clone());
        }
        let rows = PageRows::of(pgno, &self.page(pgno).ok()?);
        lock(&self.rows).insert(pgno, rows.clone());
        Some(rows)
    }

    fn hash(&self, pgno: u32) -> Option<u128> {
        self.hashes.get(pgno as usize - 1).copied()
    }
}

/// A database's content as the pages in which it differs from a base, and its size: what a
/// checkpoint saves. Restores into any copy of the database (it names its base).
#[derive(Clone)]
pub(super) struct Image {
    pages: HashMap<u32, Arc<Page>>,
    page_count: u32,
    base: Arc<Base>,
}

impl Image {
    /// The hash of page `pgno` in this image (`None` past its end).
    fn hash(&self, pgno: u32) -> Option<u128> {
        if pgno > self.page_count {
            return None;
        }
        match self.pages.get(&pgno) {
            Some(page) => Some(page.hash),
            None => self.base.hash(pgno),
        }
    }
}

/// What venom knows of the pages of the database it restores.
pub(super) struct Pages {
    /// The database now: the pages in which it differs from its own base.
    current: Image,
    /// The hash of every page now (index `pgno - 1`).
    hashes: Vec<u128>,
    /// `PRAGMA data_version` when `hashes` were last brought up to date.
    data_version: Option<i64>,
    /// The bytes of every page the images hold.
    held: Arc<AtomicU64>,
    page_size: usize,
    /// The write-ahead log of the database (`<file>-wal`), and where venom stopped reading it.
    wal: (PathBuf, Option<wal::Cursor>),
    /// Whether page changes are read for the rows they touch (see [`PageRows`]).
    follow_rows: bool,
    /// The rows the page changes seen since [`Pages::changes`] last took them touched.
    touched: Touched,
}

impl Pages {
    /// Copies the database of `conn` (the file `path`) to a temporary file, its base, and
    /// hashes its pages; with `follow_rows`, page changes are read for the rows they touch.
    pub fn start(
        conn: &Connection,
        path: &Path,
        busy_timeout: Duration,
        follow_rows: bool,
    ) -> Result<Pages, String> {
        let folder = tempfile::Builder::new()
            .prefix("venom-sqlite-base-")
            .tempdir()
            .map_err(|e| format!("cannot create a folder for the base copy: {e}"))?;
        let mut copy = Connection::open(folder.path().join("base.db"))
            .map_err(|e| format!("cannot create the base copy: {e}"))?;
        super::copy_database(conn, &mut copy, busy_timeout)?;
        let held = Arc::new(AtomicU64::new(0));
        let mut hashes = Vec::new();
        scan(&copy, |_, data| {
            hashes.push(xxh3_128(data));
            Ok(())
        })
        .map_err(|e| format!("cannot read the base copy: {e}"))?;
        let page_size = page_size(conn).map_err(|e| format!("cannot read the page size: {e}"))?;
        let base = Arc::new(Base {
            conn: Mutex::new(copy),
            hashes,
            rows: Mutex::new(HashMap::new()),
            _folder: folder,
        });
        let mut pages = Pages {
            current: Image {
                pages: HashMap::new(),
                page_count: 0,
                base,
            },
            hashes: Vec::new(),
            data_version: None,
            held,
            page_size,
            wal: (wal_path(path), None),
            follow_rows,
            // Nothing was known of the database before.
            touched: Touched::unknown(),
        };
        pages.refresh(conn)?;
        Ok(pages)
    }

    /// The bytes of every page that a checkpoint (or the current image) holds.
    pub fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// The rows touched since the last call (see [`Touched`]), what other connections
    /// committed since included.
    pub fn changes(&mut self, conn: &Connection) -> Result<Touched, String> {
        self.refresh(conn)?;
        Ok(std::mem::take(&mut self.touched))
    }

    /// The database now, as an image: a checkpoint.
    pub fn checkpoint(&mut self, conn: &Connection) -> Result<Image, String> {
        self.refresh(conn)?;
        Ok(self.current.clone())
    }

    /// Brings the hashes and the current image up to date with what other connections
    /// committed: the pages the write-ahead log names, or else every page, are read and
    /// hashed, and those that changed and differ from the base are kept.
    fn refresh(&mut self, conn: &Connection) -> Result<(), String> {
        let version = data_version(conn).map_err(|e| format!("cannot read data_version: {e}"))?;
        if self.data_version == Some(version) {
            return Ok(());
        }
        let in_wal = journal_mode(conn).map_err(|e| format!("cannot read journal_mode: {e}"))?;
        let (wal, cursor) = &mut self.wal;
        let written = if in_wal {
            wal::follow(wal, cursor)
        } else {
            None
        };
        let failed = |e: String| format!("cannot read the database's pages: {e}");
        match written {
            Some(written) => {
                let count = page_count(conn).map_err(|e| failed(e.to_string()))?;
                self.resize(count);
                for pgno in written.into_iter().filter(|&pgno| pgno <= count) {
                    let data = read_page(conn, pgno).map_err(|e| failed(e.to_string()))?;
                    self.note(pgno, &data);
                }
            }
            None => {
                // Where the log ends now: what is written from here on is followed.
                *cursor = if in_wal { wal::position(wal) } else { None };
                let mut count = 0u32;
                scan(conn, |pgno, data| {
                    count = pgno;
                    self.note(pgno, data);
                    Ok(())
                })
                .map_err(failed)?;
                self.resize(count);
            }
        }
        self.data_version = Some(version);
        Ok(())
    }

    /// Records what page `pgno` holds now.
    fn note(&mut self, pgno: u32, data: &[u8]) {
        let hash = xxh3_128(data);
        let index = pgno as usize - 1;
        if self.hashes.get(index) == Some(&hash) {
            return;
        }
        let rows = self.follow_rows.then(|| PageRows::of(pgno, data));
        if let Some(after) = &rows {
            // A page new to the file has no hash yet (0).
            let existed = self.hashes.get(index).is_some_and(|&h| h != 0);
            match (existed, rows_of(&self.current, pgno)) {
                (true, Some(before)) => self.touched.note(Some(&before), Some(after)),
                (false, _) => self.touched.note(None, Some(after)),
                (true, None) => self.touched = Touched::unknown(),
            }
        }
        if index >= self.hashes.len() {
            self.hashes.resize(index + 1, 0);
        }
        self.hashes[index] = hash;
        if self.current.base.hash(pgno) == Some(hash) {
            self.current.pages.remove(&pgno);
        } else {
            let page = Page::new(data, hash, rows, &self.held);
            self.current.pages.insert(pgno, page);
        }
    }

    /// Records that the database has `count` pages now.
    fn resize(&mut self, count: u32) {
        if count < self.current.page_count {
            // Pages cut off: what they held is not looked at.
            self.touched = Touched::unknown();
        }
        self.hashes.resize(count as usize, 0);
        self.current.pages.retain(|&pgno, _| pgno <= count);
        self.current.page_count = count;
    }

    /// Puts the database into `target`'s content, writing only the pages that differ, in one
    /// write transaction of a connection to `path` opened for it (retried while another
    /// connection holds the lock); `conn` is venom's own connection to it.
    pub fn restore(
        &mut self,
        conn: &Connection,
        (path, busy_timeout): (&Path, Duration),
        target: &Image,
    ) -> Result<(), String> {
        self.refresh(conn)?;
        let current_count = self.current.page_count;
        let differ: Vec<u32> = (1..=target.page_count)
            .filter(|&pgno| target.hash(pgno) != self.hashes.get(pgno as usize - 1).copied())
            .filter(|&pgno| !is_pending_byte_page(pgno, self.page_size))
            .collect();
        if differ.is_empty() && current_count <= target.page_count {
            return Ok(());
        }
        let mut attempts = 0;
        loop {
            match write_pages(path, busy_timeout, target, &differ, current_count) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && attempts + 1 < MAX_ATTEMPTS => attempts += 1,
                Err(e) if is_busy(&e) => {
                    return Err(format!(
                        "the database stayed locked by another connection (SQLITE_BUSY) \
                         through {MAX_ATTEMPTS} attempts of up to {} ms each: {e}",
                        busy_timeout.as_millis()
                    ))
                }
                Err(e) => return Err(format!("cannot write the pages back: {e}")),
            }
        }
        // The write is a commit of another connection for `conn`: taken as known. (A write of
        // the API's own between the refresh and this commit would go unseen here, as it would
        // between any two steps.)
        self.data_version =
            Some(data_version(conn).map_err(|e| format!("cannot read data_version: {e}"))?);
        if Arc::ptr_eq(&target.base, &self.current.base) {
            if target.page_count != current_count {
                self.touched = Touched::unknown();
            }
            for &pgno in differ.iter().filter(|_| self.follow_rows) {
                match (rows_of(&self.current, pgno), rows_of(target, pgno)) {
                    (Some(before), Some(after)) => self.touched.note(Some(&before), Some(&after)),
                    _ => self.touched = Touched::unknown(),
                }
            }
            // The file holds the target now, but for page 1's header (counter and cookie).
            self.hashes.resize(target.page_count as usize, 0);
            for &pgno in &differ {
                if let Some(hash) = target.hash(pgno) {
                    self.hashes[pgno as usize - 1] = hash;
                }
            }
            self.current.pages = target.pages.clone();
            self.current.page_count = target.page_count;
            let page1 = read_page(conn, 1).map_err(|e| format!("cannot read page 1 back: {e}"))?;
            let rows = self.follow_rows.then(|| PageRows::of(1, &page1));
            let page1 = Page::new(&page1, xxh3_128(&page1), rows, &self.held);
            self.hashes[0] = page1.hash;
            self.current.pages.insert(1, page1);
            return Ok(());
        }
        // Restored from another copy's image: every page is compared against this copy's base
        // afresh (read whole: the log names only what was written since it was last read).
        self.touched = Touched::unknown();
        self.hashes.clear();
        self.current.pages.clear();
        self.data_version = None;
        self.wal.1 = None;
        self.refresh(conn)
    }
}

/// What page `pgno` of `image` says of its rows (`None` past its end, or when the base copy
/// cannot be read).
fn rows_of(image: &Image, pgno: u32) -> Option<PageRows> {
    if pgno > image.page_count {
        return None;
    }
    match image.pages.get(&pgno) {
        Some(page) => Some(
            page.rows
                .clone()
                .unwrap_or_else(|| PageRows::of(pgno, &page.bytes)),
        ),
        None => image.base.rows(pgno),
    }
}

/// Writes `target`'s content of the pages `differ` into the database at `path` in one
/// transaction of a connection opened for it, then, when the file is longer than the target
/// (`current_count` pages), cuts it in a second transaction of another fresh connection.
fn write_pages(
    path: &Path,
    busy_timeout: Duration,
    target: &Image,
    differ: &[u32],
    current_count: u32,
) -> rusqlite::Result<()> {
    let mut writer = open_writer(path, busy_timeout)?;
    let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    {
        // Every statement is prepared before the first write: once page 1 (the schema's root)
        // is written, preparing would read a schema still half restored.
        let mut write = tx.prepare("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, ?2)")?;
        let now = read_page(&tx, 1)?;
        let content = |pgno: u32| match target.pages.get(&pgno) {
            Some(page) => Ok(page.bytes.to_vec()),
            None => target.base.page(pgno),
        };
        for &pgno in differ.iter().filter(|&&pgno| pgno != 1) {
            write.execute(params![pgno, content(pgno)?])?;
        }
        // Page 1 last: its new schema cookie makes any statement after it reload the schema.
        if differ.first() == Some(&1) {
            let mut page1 = content(1)?;
            bump_schema_cookie(&now, &mut page1);
            write.execute(params![1, page1])?;
        }
    }
    tx.commit()?;
    if current_count > target.page_count {
        // The pages past the target's end are unused now (page 1 gives the database's size):
        // a transaction of its own, on a connection of its own (the first one's idea of the
        // file is the one its raw writes left behind), cuts them off the file.
        let mut cutter = open_writer(path, busy_timeout)?;
        let tx = cutter.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO sqlite_dbpage(pgno, data) VALUES (?1, NULL)",
            [target.page_count + 1],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// A connection to `path` for writing pages.
fn open_writer(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let writer = Connection::open_with_flags(path, flags)?;
    writer.busy_timeout(busy_timeout)?;
    Ok(writer)
}

/// Gives the header in `page1` a schema cookie past both its own and the one of `now` (page 1
/// as it is): every connection then reloads its schema. (The change counter needs nothing: the
/// commit sets it past the one the file holds.)
fn bump_schema_cookie(now: &[u8], page1: &mut [u8]) {
    let cookie = |bytes: &[u8]| {
        let field = &bytes[SCHEMA_COOKIE..SCHEMA_COOKIE + 4];
        u32::from_be_bytes([field[0], field[1], field[2], field[3]])
    };
    let bumped = cookie(now).max(cookie(page1)).wrapping_add(1);
    page1[SCHEMA_COOKIE..SCHEMA_COOKIE + 4].copy_from_slice(&bumped.to_be_bytes());
}

/// Page `pgno` of the main database of `conn`.
fn read_page(conn: &Connection, pgno: u32) -> rusqlite::Result<Vec<u8>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")?;
    stmt.query_row([pgno], |row| row.get(0))
}

/// Calls `each(pgno, data)` for every page of the main database of `conn`, in order, in one
/// read transaction.
fn scan(
    conn: &Connection,
    mut each: impl FnMut(u32, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut stmt = conn
        .prepare_cached("SELECT pgno, data FROM sqlite_dbpage")
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let pgno: u32 = row.get(0).map_err(|e| e.to_string())?;
        let data = row.get_ref(1).and_then(|v| v.as_blob().map_err(Into::into));
        each(pgno, data.map_err(|e| e.to_string())?)?;
    }
    Ok(())
}

/// The page that holds SQLite's lock byte (at 1 GiB): never written.
fn is_pending_byte_page(pgno: u32, page_size: usize) -> bool {
    page_size > 0 && pgno as usize == (1 << 30) / page_size + 1
}

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
}

fn page_count(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA page_count", [], |row| row.get(0))
}

/// Whether the database of `conn` is in WAL mode.
fn journal_mode(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
        .map(|mode| mode.eq_ignore_ascii_case("wal"))
}

/// The write-ahead log of the database file `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push("-wal");
    PathBuf::from(name)
}

fn page_size(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0))
        .map(|size| size as usize)
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
