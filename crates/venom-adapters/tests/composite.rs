//! `CompositeAdapter` over a real PostgreSQL database and a real Redis server.

use postgres::{Client, NoTls};
use venom_adapters::postgres::PgObserveSpec;
use venom_adapters::SqlQuery;
use venom_adapters::{
    copy_sqlite_file, CompositeAdapter, Observer, PgSnapshots, RedisSnapshots, SqliteSnapshots,
    StateAdapter, Store,
};
use venom_engine::CheckpointMode;
use venom_testkit::{PgDatabase, RedisServer};

fn count(api: &mut Client) -> i64 {
    api.query_one("SELECT count(*) FROM orders", &[])
        .unwrap()
        .get(0)
}

fn session(redis: &mut redis::Connection) -> Option<String> {
    redis::cmd("GET").arg("session:1").query(redis).unwrap()
}

#[test]
fn postgres_and_redis_are_checkpointed_restored_and_observed_together() {
    let db = PgDatabase::create();
    let mut api = Client::connect(db.url(), NoTls).unwrap();
    api.batch_execute("CREATE TABLE orders (id serial PRIMARY KEY, amount int)")
        .unwrap();
    let server = RedisServer::start();
    let mut cache = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .unwrap();

    let observe = PgObserveSpec {
        tables: vec!["orders".into()],
        queries: vec![],
    };
    let pg = PgSnapshots::open(db.url(), vec![], observe).unwrap();
    let redis_store = RedisSnapshots::open(&server.url(), vec!["session:*".into()]).unwrap();
    let observed_only = RedisSnapshots::open(&server.url(), vec!["other:*".into()]).unwrap();
    let mut stores = CompositeAdapter::new(vec![
        Store::Sql(Box::new(pg)),
        Store::Restored(Box::new(redis_store)),
        Store::Observed(Box::new(observed_only)),
    ]);
    assert!(stores.restores());
    assert!(stores.has_sql());
    assert_eq!(stores.mechanism(), "postgres snapshots + redis snapshots");
    assert_eq!(stores.checkpoint_mode(), CheckpointMode::RandomAccess);
    let keys: Vec<String> = stores.observe().unwrap().keys().map(String::from).collect();
    assert_eq!(keys, ["redis:other:*", "redis:session:*", "table:orders"]);

    let empty = stores.checkpoint().unwrap();
    let seen_empty = stores.observe().unwrap();
    api.batch_execute("INSERT INTO orders (amount) VALUES (5)")
        .unwrap();
    redis::cmd("SET")
        .arg("session:1")
        .arg("a")
        .query::<()>(&mut cache)
        .unwrap();
    let full = stores.checkpoint().unwrap();
    let seen_full = stores.observe().unwrap();
    assert_ne!(seen_full, seen_empty);

    stores.rollback(empty).unwrap();
    assert_eq!((count(&mut api), session(&mut cache)), (0, None));
    assert_eq!(stores.observe().unwrap(), seen_empty);
    stores.rollback(full).unwrap();
    assert_eq!(
        (count(&mut api), session(&mut cache)),
        (1, Some("a".to_string()))
    );
    assert_eq!(stores.observe().unwrap(), seen_full);

    // SQL runs in the PostgreSQL store.
    assert_eq!(
        stores
            .query_text("SELECT count(*) = 1 FROM orders")
            .unwrap(),
        vec![vec![Some("t".to_string())]]
    );
    // PostgreSQL snapshots live in their own database: they are not lent to other copies.
    assert!(stores.lend(full).is_none());
    stores.release(full);
    let err = stores.rollback(full).unwrap_err();
    assert!(err.chain().contains("unknown checkpoint"), "{err}");
}

#[test]
fn without_a_sql_store_sql_is_refused() {
    let server = RedisServer::start();
    let redis_store = RedisSnapshots::open(&server.url(), vec![]).unwrap();
    let mut stores = CompositeAdapter::new(vec![Store::Restored(Box::new(redis_store))]);
    assert_eq!(stores.mechanism(), "redis snapshots");
    let err = stores.query_text("SELECT 1").unwrap_err();
    assert!(err.chain().contains("no database to run SQL in"), "{err}");
    let observed = CompositeAdapter::new(vec![]);
    assert!(!observed.restores());
}

/// Two workers' composites over their own copies of one SQLite file: what one lends, the other
/// restores, and the observed-only store is left out of it.
#[test]
fn a_composite_lends_when_every_restored_store_does() {
    let dir = tempfile::TempDir::new().unwrap();
    let original = dir.path().join("api.db");
    let api = rusqlite::Connection::open(&original).unwrap();
    api.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INT)")
        .unwrap();
    let copy = dir.path().join("worker-1.db");
    copy_sqlite_file(&original, &copy).unwrap();
    let worker_1 = rusqlite::Connection::open(&copy).unwrap();
    let server = RedisServer::start();
    let composite = |path: &std::path::Path| {
        let sqlite = SqliteSnapshots::open(path, &["orders".to_string()]).unwrap();
        let observed_only = RedisSnapshots::open(&server.url(), vec!["other:*".into()]).unwrap();
        CompositeAdapter::new(vec![
            Store::Restored(Box::new(sqlite)),
            Store::Observed(Box::new(observed_only)),
        ])
    };
    let (mut a, mut b) = (composite(&original), composite(&copy));

    api.execute_batch("INSERT INTO orders (amount) VALUES (5), (7)")
        .unwrap();
    let seen = a.observe().unwrap();
    let id = a.checkpoint().unwrap();
    let lent = a.lend(id).expect("every restored store lends");
    assert_ne!(b.observe().unwrap(), seen);
    b.restore_lent(&lent).unwrap();
    assert_eq!(b.observe().unwrap(), seen);
    let total: i64 = worker_1
        .query_row("SELECT sum(amount) FROM orders", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 12, "worker 1's own connection reads the lent state");

    let foreign = venom_engine::LentCheckpoint::new("not a composite");
    let err = b.restore_lent(&foreign).unwrap_err();
    assert!(err.chain().contains("another kind of world"), "{err}");
}
