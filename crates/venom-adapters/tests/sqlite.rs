//! `SqliteSnapshots` against real SQLite files, with a separate connection (or the demo API's
//! server) holding the database open the whole time, as the system under test would.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use venom_adapters::{copy_sqlite_file, Observer, SqliteSnapshots, StateAdapter};
use venom_engine::{CheckpointId, CheckpointMode};

/// Every row of every table (including `sqlite_sequence`), keyed by table name.
type Dump = BTreeMap<String, Vec<Vec<SqlValue>>>;

const WEIRD_TABLE: &str = "odd \"name\" table";

const SCHEMA: &str = r#"
CREATE TABLE items (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    name  TEXT NOT NULL,
    price REAL,
    data  BLOB,
    note  TEXT
);
CREATE TABLE tags (
    item_id INTEGER NOT NULL,
    tag     TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
) WITHOUT ROWID;
CREATE TABLE "odd ""name"" table" (k TEXT, v);
CREATE INDEX items_name ON items(name);
"#;

fn observed() -> Vec<String> {
    vec!["items".into(), "tags".into(), WEIRD_TABLE.into()]
}

/// A fresh database file in `dir` with the test schema, in `journal_mode` (`"wal"`/`"delete"`).
fn create_db(dir: &TempDir, journal_mode: &str) -> PathBuf {
    let path = dir.path().join(format!("api-{journal_mode}.db"));
    let conn = Connection::open(&path).expect("create db");
    let mode: String = conn
        .query_row(&format!("PRAGMA journal_mode={journal_mode}"), [], |r| {
            r.get(0)
        })
        .expect("set journal mode");
    assert_eq!(mode, journal_mode);
    conn.execute_batch(SCHEMA).expect("schema");
    path
}

/// The connection of "the API": opened once and kept open for the whole test.
fn api_connection(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open api connection");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn
}

fn insert_item(conn: &Connection, name: &str, price: f64, data: &[u8]) -> i64 {
    conn.prepare_cached("INSERT INTO items (name, price, data) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![name, price, data]))
        .expect("insert item");
    conn.last_insert_rowid()
}

fn seed(conn: &Connection) {
    for i in 0..20 {
        let id = insert_item(conn, &format!("item-{i}"), i as f64 * 1.5, &[i as u8; 16]);
        conn.execute(
            "INSERT INTO tags (item_id, tag) VALUES (?1, 'new')",
            params![id],
        )
        .expect("tag");
    }
    conn.execute(
        &format!(
            "INSERT INTO \"{}\" VALUES ('a', 1)",
            WEIRD_TABLE.replace('"', "\"\"")
        ),
        [],
    )
    .expect("weird insert");
}

/// Inserts (enough to grow the file by many pages), updates and deletes through `conn`.
fn mutate(conn: &Connection, round: u32) {
    let tx = conn.unchecked_transaction().expect("begin");
    for i in 0..500 {
        let id = insert_item(&tx, &format!("bulk-{round}-{i}"), 0.25, &[round as u8; 256]);
        tx.execute(
            "INSERT INTO tags (item_id, tag) VALUES (?1, ?2)",
            params![id, format!("round-{round}")],
        )
        .expect("tag");
    }
    tx.execute(
        "UPDATE items SET name = name || '!', note = ?1 WHERE id % 3 = 0",
        [format!("round {round}")],
    )
    .expect("update");
    tx.execute("DELETE FROM items WHERE id % 5 = 1", [])
        .expect("delete");
    tx.execute("DELETE FROM tags WHERE item_id % 5 = 1", [])
        .expect("delete tags");
    tx.execute(
        &format!(
            "UPDATE \"{}\" SET v = v + 1",
            WEIRD_TABLE.replace('"', "\"\"")
        ),
        [],
    )
    .expect("weird update");
    tx.commit().expect("commit");
}

fn dump(conn: &Connection) -> Dump {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("table names");
    names
        .into_iter()
        .map(|name| {
            let rows = table_rows(conn, &name);
            (name, rows)
        })
        .collect()
}

fn table_rows(conn: &Connection, name: &str) -> Vec<Vec<SqlValue>> {
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let stmt = conn
        .prepare(&format!("SELECT * FROM {quoted}"))
        .expect("select");
    let n = stmt.column_count();
    let order: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT * FROM {quoted} ORDER BY {}",
            order.join(", ")
        ))
        .expect("select ordered");
    stmt.query_map([], |row| {
        (0..n).map(|i| row.get::<_, SqlValue>(i)).collect()
    })
    .and_then(|rows| rows.collect())
    .expect("rows")
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

fn assert_healthy(path: &Path, journal_mode: &str) {
    let fresh = Connection::open(path).expect("fresh connection");
    let check: String = fresh
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let mode: String = fresh
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, journal_mode, "the journal mode survives rollbacks");
}

// ---------------------------------------------------------------------------------------------
// 1. checkpoint, mutate through the API's open connection, rollback

fn rollback_is_seen_by_the_open_connection(journal_mode: &str) {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, journal_mode);
    let api = api_connection(&path);
    seed(&api);

    let mut snapshots = SqliteSnapshots::open(&path, &observed()).expect("open");
    assert_eq!(snapshots.mechanism(), "sqlite snapshots");
    assert_eq!(snapshots.checkpoint_mode(), CheckpointMode::RandomAccess);

    let at_checkpoint = dump(&api);
    let observed_at_checkpoint = snapshots.observe().expect("observe");
    let id = snapshots.checkpoint().expect("checkpoint");
    let size_at_checkpoint = page_count(&api);

    mutate(&api, 1);
    let mutated = dump(&api);
    assert_ne!(mutated, at_checkpoint);
    assert_eq!(count(&api, "items"), 20 + 500 - 104);
    assert!(page_count(&api) > size_at_checkpoint);
    assert_ne!(
        snapshots.observe().expect("observe"),
        observed_at_checkpoint
    );

    snapshots.rollback(id).expect("rollback");

    // The API's connection, open the whole time, reads exactly the checkpointed rows.
    assert_eq!(dump(&api), at_checkpoint);
    assert_eq!(count(&api, "items"), 20);
    assert_eq!(page_count(&api), size_at_checkpoint, "the file shrank back");
    let name: String = api
        .query_row("SELECT name FROM items WHERE id = 3", [], |r| r.get(0))
        .expect("row 3");
    assert_eq!(name, "item-2");
    assert_eq!(
        snapshots.observe().expect("observe"),
        observed_at_checkpoint
    );

    // The API keeps working on the restored state: AUTOINCREMENT continues from the checkpoint.
    assert_eq!(insert_item(&api, "after", 1.0, b"x"), 21);
    assert_healthy(&path, journal_mode);

    // The same checkpoint can be restored again.
    snapshots.rollback(id).expect("second rollback");
    assert_eq!(dump(&api), at_checkpoint);
}

fn page_count(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page_count")
}

#[test]
fn rollback_restores_in_place_in_wal_mode() {
    rollback_is_seen_by_the_open_connection("wal");
}

#[test]
fn rollback_restores_in_place_in_rollback_journal_mode() {
    rollback_is_seen_by_the_open_connection("delete");
}

// ---------------------------------------------------------------------------------------------
// 2. random access

fn checkpoints_restore_in_any_order(journal_mode: &str) {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, journal_mode);
    let api = api_connection(&path);
    seed(&api);
    let mut snapshots = SqliteSnapshots::open(&path, &observed()).expect("open");

    let dump_a = dump(&api);
    let a = snapshots.checkpoint().expect("checkpoint A");
    mutate(&api, 1);
    let dump_b = dump(&api);
    let b = snapshots.checkpoint().expect("checkpoint B");
    assert_ne!(a, b);
    mutate(&api, 2);
    let dump_c = dump(&api);
    assert_ne!(dump_b, dump_c);
    assert_eq!(snapshots.checkpoint_count(), 2);

    snapshots.rollback(a).expect("rollback A");
    assert_eq!(dump(&api), dump_a);
    snapshots.rollback(b).expect("rollback B");
    assert_eq!(dump(&api), dump_b);
    snapshots.rollback(a).expect("rollback A again");
    assert_eq!(dump(&api), dump_a);

    // Changes made after a rollback do not leak into the checkpoints.
    mutate(&api, 3);
    snapshots.rollback(b).expect("rollback B again");
    assert_eq!(dump(&api), dump_b);

    snapshots.release(a);
    assert_eq!(snapshots.checkpoint_count(), 1);
    assert!(
        snapshots.rollback(a).is_err(),
        "a released checkpoint is gone"
    );
    snapshots.rollback(b).expect("B survives the release of A");
    assert_eq!(dump(&api), dump_b);
    assert_healthy(&path, journal_mode);
}

#[test]
fn random_access_in_wal_mode() {
    checkpoints_restore_in_any_order("wal");
}

#[test]
fn random_access_in_rollback_journal_mode() {
    checkpoints_restore_in_any_order("delete");
}

// ---------------------------------------------------------------------------------------------
// 2b. a checkpoint lent to another copy of the database (parallel workers)

fn a_lent_checkpoint_restores_into_another_copy(journal_mode: &str) {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, journal_mode);
    seed(&api_connection(&path));
    let copy = dir.path().join("worker-1.db");
    copy_sqlite_file(&path, &copy).expect("copy for worker 1");
    let (api_a, api_b) = (api_connection(&path), api_connection(&copy));
    let mut a = SqliteSnapshots::open(&path, &observed()).expect("open A");
    let mut b = SqliteSnapshots::open(&copy, &observed()).expect("open B");
    let b_initial = b.checkpoint().expect("checkpoint B");

    mutate(&api_a, 1);
    let at_a = dump(&api_a);
    let observed_at_a = a.observe().expect("observe A");
    let id = a.checkpoint().expect("checkpoint A");
    let lent = a.lend(id).expect("sqlite snapshots lend their checkpoints");
    mutate(&api_a, 2);
    mutate(&api_b, 3);

    b.restore_lent(&lent)
        .expect("restore A's checkpoint into B");
    // B's API connection, open the whole time, reads what A held at the checkpoint; A keeps
    // its own state and its own checkpoint.
    assert_eq!(dump(&api_b), at_a);
    assert_eq!(b.observe().expect("observe B"), observed_at_a);
    assert_ne!(dump(&api_a), at_a);
    assert_healthy(&copy, journal_mode);
    // What B holds now is B's to save: a checkpoint taken here restores it after B moves on.
    let after_lent = b.checkpoint().expect("checkpoint B after the lent restore");
    mutate(&api_b, 4);
    b.rollback(after_lent).expect("back to it");
    assert_eq!(dump(&api_b), at_a);

    // B's own checkpoints are untouched by it; the lent image outlives A's release of it.
    b.rollback(b_initial).expect("B's own rollback");
    assert_ne!(dump(&api_b), at_a);
    a.release(id);
    assert_eq!(a.checkpoint_count(), 0);
    b.restore_lent(&lent).expect("restore after A released it");
    assert_eq!(dump(&api_b), at_a);
    assert!(a.lend(id).is_none(), "a released checkpoint is not lent");
}

#[test]
fn a_lent_checkpoint_restores_into_another_copy_in_wal_mode() {
    a_lent_checkpoint_restores_into_another_copy("wal");
}

#[test]
fn a_lent_checkpoint_restores_into_another_copy_in_rollback_journal_mode() {
    a_lent_checkpoint_restores_into_another_copy("delete");
}

#[test]
fn a_lent_checkpoint_of_another_kind_is_refused() {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, "wal");
    let mut snapshots = SqliteSnapshots::open(&path, &observed()).expect("open");
    let foreign = venom_engine::LentCheckpoint::new(42u32);
    let error = snapshots
        .restore_lent(&foreign)
        .expect_err("not a sqlite image");
    assert!(
        error.to_string().contains("another kind of store"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. observe

#[test]
fn observe_counts_rows_and_hashes_content() {
    let dir = TempDir::new().expect("tempdir");
    let path_1 = dir.path().join("one.db");
    let path_2 = dir.path().join("two.db");
    for path in [&path_1, &path_2] {
        let conn = Connection::open(path).expect("create");
        conn.execute_batch(SCHEMA).expect("schema");
        seed(&conn);
    }
    let conn_2 = api_connection(&path_2);
    let mut one = SqliteSnapshots::open(&path_1, &observed()).expect("open one");
    let mut two = SqliteSnapshots::open(&path_2, &observed()).expect("open two");

    let obs_1 = one.observe().expect("observe one");
    assert_eq!(
        obs_1.keys().map(String::from).collect::<Vec<_>>(),
        vec![
            "table:items".to_string(),
            format!("table:{WEIRD_TABLE}"),
            "table:tags".to_string()
        ]
    );
    assert_eq!(obs_1["table:items"]["rows"], json!(20));
    assert_eq!(obs_1["table:tags"]["rows"], json!(20));
    assert_eq!(obs_1[&format!("table:{WEIRD_TABLE}")]["rows"], json!(1));
    let hash = obs_1["table:items"]["hash"].as_str().expect("hash string");
    assert_eq!(hash.len(), 32, "two 64-bit sums");
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));

    // Equal content in two different files → equal observations.
    assert_eq!(two.observe().expect("observe two"), obs_1);

    // One changed value → a different hash, same row count; changing it back restores the hash.
    let items_hash = |s: &mut SqliteSnapshots| s.observe().expect("observe")["table:items"].clone();
    let changes = [
        "UPDATE items SET price = 3.0000001 WHERE id = 3",
        "UPDATE items SET name = 'item-2 ' WHERE id = 3",
        "UPDATE items SET data = x'00' WHERE id = 3",
        "UPDATE items SET note = '' WHERE id = 3",
        // Not a number, so stored as TEXT despite the column's REAL affinity.
        "UPDATE items SET price = '3.0x' WHERE id = 3",
    ];
    for change in changes {
        conn_2.execute(change, []).expect(change);
        let changed = items_hash(&mut two);
        assert_eq!(changed["rows"], json!(20), "{change}");
        assert_ne!(changed["hash"], obs_1["table:items"]["hash"], "{change}");
        conn_2
            .execute(
                "UPDATE items SET name = 'item-2', price = 3.0, data = ?1, note = NULL WHERE id = 3",
                [vec![2u8; 16]],
            )
            .expect("restore");
        assert_eq!(items_hash(&mut two), obs_1["table:items"], "{change}");
    }

    // Text '1' and integer 1 hash differently (type tags; `v` has no affinity to convert it).
    conn_2
        .execute(
            &format!(
                "UPDATE \"{}\" SET v = '1'",
                WEIRD_TABLE.replace('"', "\"\"")
            ),
            [],
        )
        .expect("text value");
    let weird = format!("table:{WEIRD_TABLE}");
    assert_ne!(two.observe().expect("observe")[&weird], obs_1[&weird]);

    // Counts follow inserts and deletes (WITHOUT ROWID table included).
    conn_2
        .execute("DELETE FROM tags WHERE item_id <= 5", [])
        .expect("delete tags");
    insert_item(&conn_2, "extra", 0.0, b"");
    let obs = two.observe().expect("observe");
    assert_eq!(obs["table:tags"]["rows"], json!(15));
    assert_eq!(obs["table:items"]["rows"], json!(21));
}

#[test]
fn observe_hash_does_not_depend_on_insertion_order_of_a_without_rowid_table() {
    let dir = TempDir::new().expect("tempdir");
    let mut observations = Vec::new();
    for (name, order) in [("a.db", [1, 2, 3]), ("b.db", [3, 1, 2])] {
        let path = dir.path().join(name);
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(SCHEMA).expect("schema");
        for item in order {
            conn.execute("INSERT INTO tags (item_id, tag) VALUES (?1, 't')", [item])
                .expect("insert");
        }
        let mut snapshots = SqliteSnapshots::open(&path, &["tags".to_string()]).expect("open");
        observations.push(snapshots.observe().expect("observe"));
    }
    assert_eq!(observations[0], observations[1]);
}

// ---------------------------------------------------------------------------------------------
// 4. errors

#[test]
fn open_fails_on_a_missing_file_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("nowhere.db");
    let err = SqliteSnapshots::open(&path, &[]).expect_err("missing file");
    assert!(err.chain().contains(&path.display().to_string()), "{err}");
    assert!(err.chain().contains("does not exist"), "{err}");
    assert!(!path.exists(), "open must not create the file");
}

#[test]
fn open_fails_on_a_file_that_is_not_sqlite_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not a database, just a fairly long line of text\n".repeat(20),
    )
    .expect("write");
    let err = SqliteSnapshots::open(&path, &[]).expect_err("not sqlite");
    assert!(err.chain().contains(&path.display().to_string()), "{err}");
    assert!(err.chain().contains("not a"), "{err}");
}

#[test]
fn open_fails_on_an_unknown_observed_table_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, "delete");
    let tables = vec!["items".to_string(), "invoices".to_string()];
    let err = SqliteSnapshots::open(&path, &tables).expect_err("unknown table");
    assert!(err.chain().contains("\"invoices\""), "{err}");
    assert!(err.chain().contains("does not exist"), "{err}");
    // An index is not a table.
    let err = SqliteSnapshots::open(&path, &["items_name".to_string()]).expect_err("an index");
    assert!(err.chain().contains("items_name"), "{err}");
}

#[test]
fn rollback_to_an_unknown_checkpoint_fails_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, "delete");
    let mut snapshots = SqliteSnapshots::open(&path, &[]).expect("open");
    let err = snapshots
        .rollback(CheckpointId(42))
        .expect_err("unknown id");
    assert!(err.chain().contains("checkpoint 42"), "{err}");
    let id = snapshots.checkpoint().expect("checkpoint");
    snapshots.release(id);
    let err = snapshots.rollback(id).expect_err("released id");
    assert!(
        err.chain().contains(&format!("checkpoint {}", id.0)),
        "{err}"
    );
}

#[test]
fn rollback_waits_for_the_api_write_transaction_to_finish() {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, "delete");
    let api = api_connection(&path);
    seed(&api);
    let mut snapshots = SqliteSnapshots::open(&path, &[]).expect("open");
    let before = dump(&api);
    let id = snapshots.checkpoint().expect("checkpoint");

    let writer_path = path.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        let conn = api_connection(&writer_path);
        conn.execute_batch("BEGIN EXCLUSIVE; DELETE FROM items;")
            .expect("lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(Duration::from_millis(300));
        conn.execute_batch("COMMIT").expect("commit");
    });
    locked_rx.recv().expect("writer holds the lock");
    snapshots.rollback(id).expect("rollback waits for the lock");
    writer.join().expect("writer");
    assert_eq!(
        dump(&api),
        before,
        "the rollback ran after the writer's commit"
    );
}

#[test]
fn rollback_gives_up_with_a_clear_error_when_the_database_stays_locked() {
    let dir = TempDir::new().expect("tempdir");
    let path = create_db(&dir, "wal");
    let api = api_connection(&path);
    seed(&api);
    let mut snapshots = SqliteSnapshots::open(&path, &[])
        .and_then(|s| s.with_busy_timeout(Duration::from_millis(50)))
        .expect("open");
    let id = snapshots.checkpoint().expect("checkpoint");
    // A committed change, so that the rollback has pages to write back.
    api.execute("DELETE FROM items WHERE id = 1", [])
        .expect("delete");

    api.execute_batch("BEGIN IMMEDIATE; DELETE FROM items;")
        .expect("hold the write lock");
    let err = snapshots.rollback(id).expect_err("stays locked");
    assert!(err.chain().contains("locked"), "{err}");
    assert!(err.chain().contains(&path.display().to_string()), "{err}");
    api.execute_batch("COMMIT").expect("commit");

    // Once the lock is gone the same checkpoint restores fine.
    snapshots.rollback(id).expect("rollback");
    assert_eq!(count(&api, "items"), 20);
}

// ---------------------------------------------------------------------------------------------
// 5. the running API

/// Orders as the API lists them.
async fn list_orders(client: &reqwest::Client, base: &str) -> Value {
    let response = client
        .get(format!("{base}/orders"))
        .send()
        .await
        .expect("GET /orders");
    assert_eq!(response.status(), 200);
    response.json().await.expect("orders json")
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[test]
fn the_running_demo_api_serves_the_restored_state() {
    let dir = TempDir::new().expect("tempdir");
    let db = dir.path().join("demo.db");
    let server = venom_demo::DemoServer::start(&db).expect("start demo server");
    let base = server.base_url();
    let client = reqwest::Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Before the checkpoint: one order, paid.
    let checkpointed = runtime.block_on(async {
        let (status, order) = post(&client, format!("{base}/orders"), json!({"amount": 100})).await;
        assert_eq!(status, 201);
        assert_eq!(order["id"], json!(1));
        let (status, _) = post(&client, format!("{base}/orders/1/pay"), json!({})).await;
        assert_eq!(status, 200);
        list_orders(&client, &base).await
    });
    assert_eq!(checkpointed["total"], json!(1));

    // The adapter is sync: it runs on this thread, not on any runtime's worker.
    let tables = ["orders", "refunds", "idempotency"].map(String::from);
    let mut snapshots = SqliteSnapshots::open(&db, &tables).expect("open demo db");
    let observed = snapshots.observe().expect("observe");
    assert_eq!(observed["table:orders"]["rows"], json!(1));
    let id = snapshots.checkpoint().expect("checkpoint");

    // After the checkpoint: more orders, a refund, a deletion.
    runtime.block_on(async {
        for amount in [20, 30, 40] {
            let (status, _) =
                post(&client, format!("{base}/orders"), json!({"amount": amount})).await;
            assert_eq!(status, 201);
        }
        let (status, _) = post(
            &client,
            format!("{base}/orders/1/refunds"),
            json!({"amount": 60}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, _) = post(&client, format!("{base}/orders/3/pay"), json!({})).await;
        assert_eq!(status, 200);
        let response = client
            .delete(format!("{base}/orders/2"))
            .send()
            .await
            .expect("DELETE");
        assert_eq!(response.status(), 200);
        let changed = list_orders(&client, &base).await;
        assert_eq!(changed["total"], json!(4));
        assert_ne!(changed, checkpointed);
    });
    assert_ne!(snapshots.observe().expect("observe"), observed);

    snapshots
        .rollback(id)
        .expect("rollback under the running server");
    assert_eq!(snapshots.observe().expect("observe"), observed);

    runtime.block_on(async {
        // The server, which kept its connection open, answers with exactly the checkpointed state.
        assert_eq!(list_orders(&client, &base).await, checkpointed);
        let response = client
            .get(format!("{base}/orders/3"))
            .send()
            .await
            .expect("GET /orders/3");
        assert_eq!(
            response.status(),
            404,
            "order 3 was created after the checkpoint"
        );
        // Ids continue from the checkpoint (sqlite_sequence was restored too).
        let (status, order) = post(&client, format!("{base}/orders"), json!({"amount": 5})).await;
        assert_eq!(status, 201);
        assert_eq!(order["id"], json!(2));
    });

    // Random access through the server as well: back to the checkpoint once more.
    snapshots.rollback(id).expect("second rollback");
    let again = runtime.block_on(list_orders(&client, &base));
    assert_eq!(again, checkpointed);

    server.shutdown();
}

#[test]
fn snapshots_hold_the_pages_that_changed_each_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = create_db(&dir, "wal");
    let api = api_connection(&path);
    seed(&api);
    for round in 0..4 {
        mutate(&api, round);
    }
    let file_pages = page_count(&api) as u64;
    assert!(file_pages > 50, "a file of many pages: {file_pages}");
    let mut snapshots = SqliteSnapshots::open(&path, &observed()).expect("open");
    assert_eq!(snapshots.checkpoint_bytes(), Some(0));
    let first = snapshots.checkpoint().expect("checkpoint");
    assert!(
        snapshots.checkpoint_bytes().expect("known") <= 4096,
        "the database as venom found it costs its header page at most: {:?}",
        snapshots.checkpoint_bytes()
    );
    api.execute("UPDATE items SET price = 99 WHERE id = 2", [])
        .expect("one row changes");
    let second = snapshots.checkpoint().expect("checkpoint");
    let changed = snapshots.checkpoint_bytes().expect("known");
    assert!(
        (4096..=4 * 4096).contains(&changed),
        "a few pages (header, leaf, maybe an index), not the {file_pages}-page file: {changed}"
    );
    let third = snapshots.checkpoint().expect("checkpoint");
    assert_eq!(
        snapshots.checkpoint_bytes(),
        Some(changed),
        "a second checkpoint of the same content shares its pages"
    );
    snapshots.rollback(first).expect("rollback");
    assert_eq!(
        api.query_row("SELECT price FROM items WHERE id = 2", [], |r| r
            .get::<_, f64>(0))
            .expect("price"),
        1.5
    );
    for id in [first, second, third] {
        snapshots.release(id);
    }
    assert!(
        snapshots.checkpoint_bytes().expect("known") <= 4096,
        "only the current header page is left: {:?}",
        snapshots.checkpoint_bytes()
    );
}

/// `copy_sqlite_file` copies the database (in either journal mode, while the API holds it
/// open) into a file of its own.
#[test]
fn a_file_copy_has_the_same_content_and_is_its_own() {
    for journal_mode in ["wal", "delete"] {
        let dir = tempfile::tempdir().unwrap();
        let path = create_db(&dir, journal_mode);
        let api = api_connection(&path);
        seed(&api);
        let copy_path = dir.path().join("worker-1.db");
        copy_sqlite_file(&path, &copy_path).expect("copy");
        let copy = api_connection(&copy_path);
        assert_eq!(dump(&copy), dump(&api), "{journal_mode}");
        insert_item(&copy, "only in the copy", 1.0, b"");
        assert_ne!(dump(&copy), dump(&api), "{journal_mode}");

        let missing = copy_sqlite_file(&dir.path().join("nope.db"), &copy_path)
            .unwrap_err()
            .chain();
        assert!(
            missing.contains("nope.db") && missing.contains("does not exist"),
            "{missing}"
        );
    }
}

/// A large database with a rollback journal gets, once checkpoints were taken, the advice to
/// use WAL mode, once; in WAL mode, or small, it gets none.
#[test]
fn a_large_database_with_a_rollback_journal_is_advised_wal_mode_once() {
    let dir = TempDir::new().expect("tempdir");
    let advice = |journal_mode: &str, rows: u32| -> Vec<Vec<String>> {
        let path = dir.path().join(format!("{journal_mode}-{rows}.db"));
        let conn = Connection::open(&path).expect("create");
        conn.query_row(&format!("PRAGMA journal_mode={journal_mode}"), [], |_| {
            Ok(())
        })
        .expect("journal mode");
        conn.execute_batch(&format!(
            "CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows})
             INSERT INTO big SELECT i, printf('%0100d', i) FROM c;"
        ))
        .expect("rows");
        let mut snapshots = SqliteSnapshots::open(&path, &[]).expect("open");
        let before = snapshots.take_warnings();
        let id = snapshots.checkpoint().expect("checkpoint");
        snapshots.rollback(id).expect("rollback");
        vec![before, snapshots.take_warnings(), snapshots.take_warnings()]
    };
    let large = advice("delete", 200_000);
    assert!(large[0].is_empty(), "no checkpoint yet: {large:?}");
    assert_eq!(large[1].len(), 1, "{large:?}");
    assert!(
        large[1][0].contains("has a rollback journal (journal_mode=delete)")
            && large[1][0].contains("PRAGMA journal_mode=WAL"),
        "{large:?}"
    );
    assert!(large[2].is_empty(), "once: {large:?}");
    assert!(advice("wal", 200_000).concat().is_empty());
    assert!(advice("delete", 1_000).concat().is_empty());
}
