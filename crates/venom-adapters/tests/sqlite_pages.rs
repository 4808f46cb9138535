//! SQLite snapshots kept page by page, under random sequences of changes made through the API's
//! own open connection (inserts with overflow pages, updates, deletes, a change to one row of a
//! large table, tables created, `VACUUM`), checkpoints, rollbacks to any checkpoint and
//! releases, in WAL and rollback-journal mode: after every rollback the API's connection reads
//! exactly the content it read when the checkpoint was taken, and the file is sound. After every
//! change and rollback, the observed tables (kept up to date from the rows the changed pages
//! name) observe exactly what a full read of them observes.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use venom_adapters::{copy_sqlite_file, Observer, SqliteSnapshots, StateAdapter};
use venom_engine::CheckpointId;

/// Rows of the large table no step touches but one.
const LARGE_ROWS: i64 = 20_000;

/// The tables observed.
const OBSERVED: [&str; 2] = ["items", "large"];

/// Every row of every table, by table name.
type Dump = BTreeMap<String, Vec<Vec<SqlValue>>>;

/// Something that happens to the database, or to venom's checkpoints.
#[derive(Debug, Clone)]
enum Op {
    Insert { rows: u8, blob: u16 },
    Update { every: u8 },
    Delete { every: u8 },
    TouchLarge { row: u16 },
    CreateTable { name: u8 },
    Vacuum,
    Checkpoint,
    Rollback { pick: u8 },
    Release { pick: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..40u8, 0..6000u16).prop_map(|(rows, blob)| Op::Insert { rows, blob }),
        2 => (1..6u8).prop_map(|every| Op::Update { every }),
        2 => (1..6u8).prop_map(|every| Op::Delete { every }),
        2 => any::<u16>().prop_map(|row| Op::TouchLarge { row }),
        1 => (0..3u8).prop_map(|name| Op::CreateTable { name }),
        1 => Just(Op::Vacuum),
        4 => Just(Op::Checkpoint),
        4 => any::<u8>().prop_map(|pick| Op::Rollback { pick }),
        1 => any::<u8>().prop_map(|pick| Op::Release { pick }),
    ]
}

/// A database in `journal_mode` with a small table the steps change and a large one.
fn create(path: &Path, journal_mode: &str) -> Connection {
    let conn = Connection::open(path).expect("create");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy");
    let mode: String = conn
        .query_row(&format!("PRAGMA journal_mode={journal_mode}"), [], |r| {
            r.get(0)
        })
        .expect("journal mode");
    assert_eq!(mode, journal_mode);
    conn.execute_batch(&format!(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB);
         CREATE INDEX items_name ON items(name);
         CREATE TABLE large (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, n INTEGER NOT NULL);
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {LARGE_ROWS})
         INSERT INTO large SELECT i, printf('%040d', i), 0 FROM c;"
    ))
    .expect("schema");
    conn
}

fn apply(api: &Connection, op: &Op, round: usize) {
    match *op {
        Op::Insert { rows, blob } => {
            let tx = api.unchecked_transaction().expect("begin");
            for i in 0..rows {
                tx.execute(
                    "INSERT INTO items (name, data) VALUES (?1, ?2)",
                    params![format!("r{round}-{i}"), vec![i; usize::from(blob)]],
                )
                .expect("insert");
            }
            tx.commit().expect("commit");
        }
        Op::Update { every } => {
            api.execute(
                "UPDATE items SET name = name || '+' WHERE id % ?1 = 0",
                [every],
            )
            .expect("update");
        }
        Op::Delete { every } => {
            api.execute("DELETE FROM items WHERE id % ?1 = 1", [every])
                .expect("delete");
        }
        Op::TouchLarge { row } => {
            api.execute(
                "UPDATE large SET n = n + 1 WHERE id = ?1",
                [i64::from(row) % LARGE_ROWS + 1],
            )
            .expect("touch");
        }
        Op::CreateTable { name } => {
            api.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS extra_{name} (k TEXT); INSERT INTO extra_{name} VALUES ('{round}');"
            ))
            .expect("create table");
        }
        Op::Vacuum => api.execute_batch("VACUUM").expect("vacuum"),
        Op::Checkpoint | Op::Rollback { .. } | Op::Release { .. } => {}
    }
}

fn dump(conn: &Connection) -> Dump {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("table names");
    names
        .into_iter()
        .map(|name| {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM \"{name}\" ORDER BY rowid"))
                .expect("select");
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |row| (0..columns).map(|i| row.get(i)).collect())
                .and_then(|rows| rows.collect::<Result<Vec<Vec<SqlValue>>, _>>())
                .expect("rows");
            (name, rows)
        })
        .collect()
}

fn sound(path: &Path) -> bool {
    let fresh = Connection::open(path).expect("fresh connection");
    let check: String = fresh
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    check == "ok"
}

fn run(journal_mode: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("api.db");
    let api = create(&path, journal_mode);
    // Another worker's copy of the file, which changes on its own before it borrows.
    let copy = dir.path().join("worker-1.db");
    copy_sqlite_file(&path, &copy).expect("copy");
    let api_b = Connection::open(&copy).expect("open the copy");
    let observed = OBSERVED.map(String::from);
    let mut b = SqliteSnapshots::open(&copy, &observed).expect("open the copy's snapshots");
    // Sessions that never take a checkpoint, so observe by reading the tables whole.
    let mut witness = SqliteSnapshots::open(&path, &observed).expect("witness");
    let mut witness_b = SqliteSnapshots::open(&copy, &observed).expect("the copy's witness");
    let b_root = b.checkpoint().expect("the copy's checkpoint");
    apply(
        &api_b,
        &Op::Insert {
            rows: 3,
            blob: 5000,
        },
        999,
    );
    let mut snapshots = SqliteSnapshots::open(&path, &observed).expect("open");
    let mut held: Vec<(CheckpointId, Dump)> = Vec::new();
    let root = snapshots.checkpoint().expect("checkpoint");
    held.push((root, dump(&api)));
    for (round, op) in ops.iter().enumerate() {
        apply(&api, op, round);
        match *op {
            Op::Checkpoint => {
                let id = snapshots.checkpoint().expect("checkpoint");
                held.push((id, dump(&api)));
            }
            Op::Rollback { pick } => {
                let (id, expected) = &held[usize::from(pick) % held.len()];
                snapshots.rollback(*id).expect("rollback");
                prop_assert_eq!(&dump(&api), expected, "after rollback, op {}", round);
                prop_assert!(sound(&path), "integrity after op {}", round);
            }
            _ => {}
        }
        prop_assert_eq!(
            snapshots.observe().expect("observe"),
            witness.observe().expect("full read"),
            "observed after op {}",
            round
        );
        match *op {
            Op::Release { pick } if held.len() > 1 => {
                let (id, _) = held.remove(usize::from(pick) % held.len());
                snapshots.release(id);
            }
            _ => {}
        }
    }
    // Every checkpoint still held restores, in turn, from wherever the last one left the file.
    for (id, expected) in held.iter().rev() {
        snapshots.rollback(*id).expect("rollback");
        prop_assert_eq!(&dump(&api), expected);
    }
    prop_assert!(sound(&path));
    // Lent to the other copy, each restores there too; what the copy holds then is its own to
    // save and restore.
    for (id, expected) in &held {
        let lent = snapshots.lend(*id).expect("lent");
        b.restore_lent(&lent).expect("restore a lent checkpoint");
        prop_assert_eq!(&dump(&api_b), expected);
        prop_assert_eq!(
            b.observe().expect("observe"),
            witness_b.observe().expect("read")
        );
        let mine = b.checkpoint().expect("the copy's checkpoint");
        apply(&api_b, &Op::Update { every: 2 }, 999);
        prop_assert_eq!(
            b.observe().expect("observe"),
            witness_b.observe().expect("read")
        );
        b.rollback(mine).expect("the copy's rollback");
        prop_assert_eq!(&dump(&api_b), expected);
        prop_assert_eq!(
            b.observe().expect("observe"),
            witness_b.observe().expect("read")
        );
        b.release(mine);
    }
    b.rollback(b_root).expect("the copy's first checkpoint");
    prop_assert!(sound(&copy));
    Ok(())
}

fn check(journal_mode: &str) {
    // 24 sequences unless PROPTEST_CASES says otherwise (longer campaigns by hand).
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(op(), 1..24), |ops| {
        run(journal_mode, &ops)
    });
    if let Err(e) = result {
        panic!("{journal_mode}: {e}");
    }
}

#[test]
fn any_sequence_restores_exactly_in_rollback_journal_mode() {
    check("delete");
}

#[test]
fn any_sequence_restores_exactly_in_wal_mode() {
    check("wal");
}
