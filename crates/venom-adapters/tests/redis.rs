//! `RedisSnapshots` against real Redis servers (venom-testkit), with a separate connection
//! playing the API.

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use redis::{Connection, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use venom_adapters::{Observer, RedisCopy, RedisSnapshots, StateAdapter};
use venom_engine::CheckpointMode;
use venom_testkit::{free_port, RedisServer};

/// Every key of the database with its type, its value in a canonical form, and whether it
/// expires.
type Dump = BTreeMap<Vec<u8>, (String, Vec<Vec<u8>>, bool)>;

fn connect(url: &str) -> Connection {
    redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("api connection")
}

fn dump(api: &mut Connection) -> Dump {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(api).unwrap();
    let mut out = Dump::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(api).unwrap();
        let mut items: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(api).unwrap()],
            "list" => redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query(api)
                .unwrap(),
            "set" => redis::cmd("SMEMBERS").arg(&key).query(api).unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(api)
                .unwrap(),
            "hash" => {
                let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    redis::cmd("HGETALL").arg(&key).query(api).unwrap();
                let mut joined: Vec<Vec<u8>> = pairs
                    .into_iter()
                    .map(|(f, v)| [f, b"=".to_vec(), v].concat())
                    .collect();
                joined.sort();
                joined
            }
            other => panic!("unexpected type {other}"),
        };
        if kind == "set" {
            items.sort();
        }
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query(api).unwrap();
        out.insert(key, (kind, items, ttl >= 0));
    }
    out
}

/// Something the API might do to its keyspace.
#[derive(Debug, Clone)]
enum Change {
    Set(u8, Vec<u8>),
    Del(u8),
    Incr(u8),
    HSet(u8, u8, u16),
    SAdd(u8, u16),
    ZAdd(u8, i16, u8),
    Push(u8, u16),
    Pop(u8),
    Expire(u8),
    Persist(u8),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..12))
            .prop_map(|(k, v)| Change::Set(k, v)),
        any::<u8>().prop_map(Change::Del),
        any::<u8>().prop_map(Change::Incr),
        (any::<u8>(), any::<u8>(), any::<u16>()).prop_map(|(k, f, v)| Change::HSet(k, f, v)),
        (any::<u8>(), any::<u16>()).prop_map(|(k, m)| Change::SAdd(k, m)),
        (any::<u8>(), any::<i16>(), any::<u8>()).prop_map(|(k, s, m)| Change::ZAdd(k, s, m)),
        (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Change::Push(k, v)),
        any::<u8>().prop_map(Change::Pop),
        any::<u8>().prop_map(Change::Expire),
        any::<u8>().prop_map(Change::Persist),
    ]
}

/// Applies `change`; keys are grouped by type (`s:`, `h:`, …) so commands never hit a key of
/// another type. Expiries are long (the test never waits for one).
fn apply(api: &mut Connection, change: &Change) {
    let key = |prefix: &str, k: u8| format!("{prefix}:{}", k % 16);
    let cmd = match change {
        Change::Set(k, v) => {
            let mut c = redis::cmd("SET");
            c.arg(key("s", *k)).arg(v.as_slice());
            c
        }
        Change::Del(k) => {
            let mut c = redis::cmd("DEL");
            c.arg(key("s", *k)).arg(key("h", *k)).arg(key("l", *k));
            c
        }
        Change::Incr(k) => {
            let mut c = redis::cmd("INCR");
            c.arg(key("n", *k));
            c
        }
        Change::HSet(k, f, v) => {
            let mut c = redis::cmd("HSET");
            c.arg(key("h", *k)).arg(format!("f{f}")).arg(*v);
            c
        }
        Change::SAdd(k, m) => {
            let mut c = redis::cmd("SADD");
            c.arg(key("set", *k)).arg(*m);
            c
        }
        Change::ZAdd(k, s, m) => {
            let mut c = redis::cmd("ZADD");
            c.arg(key("z", *k)).arg(*s).arg(format!("m{m}"));
            c
        }
        Change::Push(k, v) => {
            let mut c = redis::cmd("RPUSH");
            c.arg(key("l", *k)).arg(*v);
            c
        }
        Change::Pop(k) => {
            let mut c = redis::cmd("LPOP");
            c.arg(key("l", *k));
            c
        }
        Change::Expire(k) => {
            let mut c = redis::cmd("EXPIRE");
            c.arg(key("h", *k)).arg(10_000);
            c
        }
        Change::Persist(k) => {
            let mut c = redis::cmd("PERSIST");
            c.arg(key("h", *k));
            c
        }
    };
    cmd.query::<Value>(api).expect("command");
}

/// After any commands and a rollback, the keyspace is what it was at the checkpoint (values,
/// types and which keys expire); a later checkpoint restores its own state afterwards.
#[test]
fn rollback_restores_the_exact_keyspace() {
    let server = RedisServer::start();
    let api = connect(&server.url());
    let adapter = RedisSnapshots::open(&server.url(), vec!["h:*".into()]).unwrap();
    let state = RefCell::new((api, adapter));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 24,
        ..ProptestConfig::default()
    });
    let changes = (
        prop::collection::vec(change(), 0..12),
        prop::collection::vec(change(), 1..24),
        prop::collection::vec(change(), 1..12),
    );
    let result = runner.run(&changes, |(before, after, more)| {
        let (api, adapter) = &mut *state.borrow_mut();
        for c in &before {
            apply(api, c);
        }
        let a = adapter.checkpoint().expect("checkpoint a");
        let at_a = dump(api);
        let seen_a = adapter.observe().unwrap();
        for c in &after {
            apply(api, c);
        }
        let b = adapter.checkpoint().expect("checkpoint b");
        let at_b = dump(api);
        adapter.rollback(a).expect("rollback a");
        prop_assert_eq!(&dump(api), &at_a);
        prop_assert_eq!(&adapter.observe().unwrap(), &seen_a);
        for c in &more {
            apply(api, c);
        }
        adapter.rollback(b).expect("rollback b");
        prop_assert_eq!(&dump(api), &at_b);
        adapter.rollback(a).expect("rollback a again");
        prop_assert_eq!(&dump(api), &at_a);
        adapter.release(a);
        adapter.release(b);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn checkpoints_restore_in_any_order_keeping_ttls_and_other_databases() {
    let server = RedisServer::start();
    let url = server.url().replace("/0", "/3");
    let mut other = connect(&server.url());
    redis::cmd("SET")
        .arg("elsewhere")
        .arg("kept")
        .query::<()>(&mut other)
        .unwrap();
    let mut api = connect(&url);
    let mut adapter = RedisSnapshots::open(&url, vec![]).unwrap();
    assert_eq!(adapter.checkpoint_mode(), CheckpointMode::RandomAccess);
    assert_eq!(adapter.mechanism(), "redis snapshots");
    let binary_key: &[u8] = b"bin\x00\xff key";
    redis::pipe()
        .cmd("SET")
        .arg("session:1")
        .arg("alice")
        .arg("PX")
        .arg(60_000)
        .cmd("SET")
        .arg(binary_key)
        .arg(&b"\x00\x01"[..])
        .cmd("SET")
        .arg("soon")
        .arg("x")
        .arg("PX")
        .arg(1)
        .query::<()>(&mut api)
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let a = adapter.checkpoint().unwrap();
    let taken = Instant::now();
    let at_a = dump(&mut api);
    assert!(
        !at_a.contains_key(b"soon".as_slice()),
        "expired keys are not saved"
    );
    redis::pipe()
        .cmd("DEL")
        .arg("session:1")
        .cmd("SET")
        .arg("session:2")
        .arg("bob")
        .query::<()>(&mut api)
        .unwrap();
    let b = adapter.checkpoint().unwrap();
    let at_b = dump(&mut api);
    for (id, expected) in [(a, &at_a), (b, &at_b), (a, &at_a)] {
        adapter.rollback(id).unwrap();
        assert_eq!(&dump(&mut api), expected);
    }
    // The TTL is the one left at the checkpoint, give or take the time since.
    let ttl: i64 = redis::cmd("PTTL").arg("session:1").query(&mut api).unwrap();
    let elapsed = taken.elapsed().as_millis() as i64;
    assert!(
        ttl <= 60_000 && ttl >= 60_000 - elapsed - 1_000,
        "ttl {ttl}"
    );
    let persistent: i64 = redis::cmd("PTTL").arg(binary_key).query(&mut api).unwrap();
    assert_eq!(persistent, -1);
    // FLUSHDB only touched the adapter's own database.
    let kept: String = redis::cmd("GET")
        .arg("elsewhere")
        .query(&mut other)
        .unwrap();
    assert_eq!(kept, "kept");
    adapter.release(a);
    assert_eq!(adapter.checkpoint_count(), 1);
    let err = adapter.rollback(a).unwrap_err();
    assert!(err.chain().contains("unknown checkpoint"), "{err}");
}

#[test]
fn observations_are_equal_for_equal_contents_whatever_their_history() {
    let server = RedisServer::start();
    let mut api = connect(&server.url());
    let mut adapter =
        RedisSnapshots::open(&server.url(), vec!["cart:*".into(), "tags".into()]).unwrap();
    let empty = adapter.observe().unwrap();
    assert_eq!(empty["redis:cart:*"]["keys"], 0);
    // Small (listpack) and large (hashtable) hashes and sets, built in one order...
    let build = |api: &mut Connection, reversed: bool| {
        let mut fields: Vec<u32> = (0..300).collect();
        if reversed {
            fields.reverse();
        }
        for f in &fields {
            redis::pipe()
                .cmd("HSET")
                .arg("cart:big")
                .arg(format!("f{f}"))
                .arg(*f)
                .cmd("SADD")
                .arg("tags")
                .arg(format!("t{f}"))
                .query::<()>(api)
                .unwrap();
        }
        for f in fields.iter().filter(|f| **f < 3) {
            redis::cmd("HSET")
                .arg("cart:small")
                .arg(format!("f{f}"))
                .arg(*f)
                .query::<()>(api)
                .unwrap();
        }
    };
    build(&mut api, false);
    let forward = adapter.observe().unwrap();
    assert_eq!(forward["redis:cart:*"]["keys"], 2);
    assert_eq!(forward["redis:tags"]["keys"], 1);
    // ... observe equal when restored, and when built again in the other order.
    let checkpoint = adapter.checkpoint().unwrap();
    redis::cmd("FLUSHDB").query::<()>(&mut api).unwrap();
    assert_eq!(adapter.observe().unwrap(), empty);
    adapter.rollback(checkpoint).unwrap();
    assert_eq!(adapter.observe().unwrap(), forward);
    redis::cmd("FLUSHDB").query::<()>(&mut api).unwrap();
    build(&mut api, true);
    assert_eq!(adapter.observe().unwrap(), forward);
    // A different value observes differently.
    redis::cmd("HSET")
        .arg("cart:small")
        .arg("f0")
        .arg(42)
        .query::<()>(&mut api)
        .unwrap();
    assert_ne!(adapter.observe().unwrap(), forward);
}

#[test]
fn unreachable_and_lost_servers_are_clear_errors() {
    let url = format!("redis://:hunter2@127.0.0.1:{}/0", free_port());
    let err = RedisSnapshots::open(&url, vec![]).unwrap_err();
    assert!(
        err.chain()
            .starts_with("cannot connect to Redis at redis://:***@127.0.0.1:"),
        "{err}"
    );
    assert!(!err.chain().contains("hunter2"), "{err}");

    let server = RedisServer::start();
    let mut adapter = RedisSnapshots::open(&server.url(), vec!["k*".into()]).unwrap();
    let checkpoint = adapter.checkpoint().unwrap();
    drop(server);
    let err = adapter.rollback(checkpoint).unwrap_err();
    assert!(
        err.chain().contains("rollback to checkpoint 1 failed")
            && err.chain().contains("connection to Redis was lost"),
        "{err}"
    );
    assert!(adapter.observe().is_err());
}

#[test]
fn snapshots_say_how_much_memory_they_hold() {
    let server = RedisServer::start();
    let mut api = connect(&server.url());
    let mut adapter = RedisSnapshots::open(&server.url(), Vec::new()).unwrap();
    // 1,000 pseudo-random bytes, which DUMP cannot compress much.
    let mut seed = 7u32;
    let value: Vec<u8> = (0..1000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as u8
        })
        .collect();
    redis::cmd("SET")
        .arg("session:1")
        .arg(value)
        .query::<()>(&mut api)
        .unwrap();
    let first = adapter.checkpoint().expect("checkpoint");
    let one = adapter.checkpoint_bytes().expect("known");
    assert!(one > 1000, "the key and its dumped value: {one}");
    let second = adapter.checkpoint().expect("checkpoint");
    assert_eq!(adapter.checkpoint_bytes(), Some(2 * one));
    adapter.release(first);
    adapter.release(second);
    assert_eq!(adapter.checkpoint_bytes(), Some(0));
}

#[test]
fn copies_per_worker_get_an_empty_index_each_and_take_lent_checkpoints() {
    let server = RedisServer::start();
    let url = server.url().replace("/0", "/1");
    let mut api = connect(&url);
    redis::pipe()
        .cmd("SET")
        .arg("order:1")
        .arg("paid")
        .cmd("SET")
        .arg("session:1")
        .arg("alice")
        .arg("PX")
        .arg(60_000)
        .query::<()>(&mut api)
        .unwrap();
    // Index 0 holds someone else's key: a copy must not land there.
    let mut zero = connect(&server.url());
    redis::cmd("SET")
        .arg("not venom's")
        .arg("1")
        .query::<()>(&mut zero)
        .unwrap();
    let first = RedisCopy::create(&url, &[]).unwrap();
    let second = RedisCopy::create(&url, &[first.index()]).unwrap();
    assert_eq!((first.index(), second.index()), (2, 3));
    let original = dump(&mut api);
    let mut first_api = connect(first.url());
    let mut second_api = connect(second.url());
    assert_eq!(dump(&mut first_api), original);
    assert_eq!(dump(&mut second_api), original);
    // Each copy is its own: a write to one is seen by neither the other nor the original.
    redis::cmd("SET")
        .arg("order:2")
        .arg("new")
        .query::<()>(&mut first_api)
        .unwrap();
    assert_eq!(dump(&mut api), original);
    assert_eq!(dump(&mut second_api), original);

    // A checkpoint of the first copy restores into the second, also after its holder let it go.
    let mut lender = RedisSnapshots::open(first.url(), vec![]).unwrap();
    let mut borrower = RedisSnapshots::open(second.url(), vec![]).unwrap();
    let saved = lender.checkpoint().unwrap();
    let lent = lender.lend(saved).expect("redis snapshots lend");
    lender.release(saved);
    borrower.restore_lent(&lent).unwrap();
    assert_eq!(dump(&mut second_api), dump(&mut first_api));
    assert!(dump(&mut second_api).contains_key(b"order:2".as_slice()));

    // Dropped copies leave their indices empty; the original and index 0 are untouched.
    drop((first, second));
    assert!(dump(&mut first_api).is_empty() && dump(&mut second_api).is_empty());
    assert_eq!(dump(&mut api), original);
    assert_eq!(dump(&mut zero).len(), 1);

    // A server with no empty index left refuses, saying what to change.
    let crowded = |index: i64| {
        let mut conn = connect(&server.url().replace("/0", &format!("/{index}")));
        redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query::<()>(&mut conn)
            .unwrap();
    };
    (2..16).for_each(crowded);
    let err = RedisCopy::create(&url, &[]).unwrap_err();
    assert!(err.chain().contains("no empty database index"), "{err}");
}
