//! The PostgreSQL transaction proxy against a real, throwaway PostgreSQL cluster, with real
//! clients: tokio-postgres (extended protocol, prepared statements), the sync `postgres` crate,
//! `psql` (simple protocol), and a raw wire-protocol client for exact messages.

use postgres::{Client, NoTls};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use venom_adapters::postgres::{PgObserveSpec, PgProxy, PgProxyOptions};
use venom_adapters::SqlQuery;
use venom_adapters::{Observer, StateAdapter};
use venom_engine::CheckpointMode;
use venom_testkit::PgServer;

const SCHEMA: &str = "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int);
    CREATE TABLE notes (id serial PRIMARY KEY, body text);
    CREATE TABLE parents (id int PRIMARY KEY);
    CREATE TABLE children (id int PRIMARY KEY,
        parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);";

/// A cluster with database `app` and the test schema (committed), and a proxy in front of it.
struct Fixture {
    proxy: PgProxy,
    pg: PgServer,
}

impl Fixture {
    fn start() -> Fixture {
        Fixture::start_with(PgProxyOptions::default())
    }

    fn start_with(options: PgProxyOptions) -> Fixture {
        let pg = PgServer::start();
        pg.create_database("app");
        let mut direct = Client::connect(&pg.url("app"), NoTls).expect("direct connection");
        direct.batch_execute(SCHEMA).expect("schema");
        let spec = PgObserveSpec {
            tables: vec!["items".to_string()],
            queries: vec![(
                "total".to_string(),
                "SELECT sum(qty) FROM items".to_string(),
            )],
        };
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let proxy = PgProxy::start_with(&pg.url("app"), listen, spec, options).expect("proxy");
        Fixture { proxy, pg }
    }

    /// The URL the API would use.
    fn url(&self) -> String {
        format!("postgres://venom@{}/app", self.proxy.local_addr())
    }

    fn client(&self) -> Client {
        Client::connect(&self.url(), NoTls).expect("client through the proxy")
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.proxy.local_addr(), "app")
    }

    fn direct(&self) -> Client {
        Client::connect(&self.pg.url("app"), NoTls).expect("direct connection")
    }

    /// Every table of the database, rows in order, and every sequence's next value, as the
    /// proxy's session sees them.
    fn dump(&mut self) -> String {
        let tables = self
            .proxy
            .query_text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
            )
            .expect("tables");
        let mut dump = String::new();
        for table in tables {
            let name = table[0].clone().unwrap_or_default();
            let rows = self
                .proxy
                .query_text(&format!("SELECT t::text FROM \"{name}\" t ORDER BY 1"))
                .expect("rows");
            dump.push_str(&format!("{name}:\n"));
            for row in rows {
                dump.push_str(&format!("  {}\n", row[0].clone().unwrap_or_default()));
            }
        }
        // What the next `nextval` of each sequence answers, without calling it.
        let sequences = self
            .proxy
            .query_text(
                "SELECT sequencename, coalesce(last_value + increment_by, start_value) \
                 FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename",
            )
            .expect("sequences");
        for row in sequences {
            let [name, next] = row.as_slice() else {
                panic!("sequence row {row:?}")
            };
            dump.push_str(&format!("{name:?} next {next:?}\n"));
        }
        dump
    }

    fn psql(&self, sql: &str) -> (bool, String, String) {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(self.url())
            .output()
            .expect("psql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    }
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).expect(sql).get(0)
}

/// A minimal wire-protocol client, to check messages, tags and transaction status exactly.
struct Raw {
    stream: TcpStream,
}

/// A backend message: type and body.
type Message = (u8, Vec<u8>);

impl Raw {
    fn connect(addr: SocketAddr, database: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut raw = Raw { stream };
        let mut body = 196_608i32.to_be_bytes().to_vec();
        for part in ["user", "venom", "database", database, ""] {
            body.extend_from_slice(part.as_bytes());
            body.push(0);
        }
        let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend(body);
        raw.stream.write_all(&packet).unwrap();
        let (messages, status) = raw.until_ready();
        assert_eq!(status, b'I', "{messages:?}");
        raw
    }

    fn send(&mut self, messages: &[Message]) {
        let mut out = Vec::new();
        for (tag, body) in messages {
            out.push(*tag);
            out.extend(((body.len() + 4) as i32).to_be_bytes());
            out.extend(body);
        }
        self.stream.write_all(&out).unwrap();
    }

    fn recv(&mut self) -> Message {
        let mut head = [0u8; 5];
        self.stream.read_exact(&mut head).expect("message");
        let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0; len - 4];
        self.stream.read_exact(&mut body).unwrap();
        (head[0], body)
    }

    /// Messages up to `ReadyForQuery`, and its transaction status.
    fn until_ready(&mut self) -> (Vec<Message>, u8) {
        let mut messages = Vec::new();
        loop {
            let (tag, body) = self.recv();
            if tag == b'Z' {
                return (messages, body[0]);
            }
            if tag == b'E' && field(&body, b'S') == "FATAL" {
                panic!("fatal error: {}", field(&body, b'M'));
            }
            messages.push((tag, body));
        }
    }

    /// A simple query: its responses summarised (see [`summary`]) and the transaction status.
    fn simple(&mut self, sql: &str) -> (Vec<String>, u8) {
        self.send(&[(b'Q', cstr(sql))]);
        let (messages, status) = self.until_ready();
        (summary(&messages), status)
    }

    /// Extended-protocol messages then `Sync`: the responses summarised and the status.
    fn extended(&mut self, messages: &[Message]) -> (Vec<String>, u8) {
        let mut all = messages.to_vec();
        all.push((b'S', Vec::new()));
        self.send(&all);
        let (messages, status) = self.until_ready();
        (summary(&messages), status)
    }
}

fn cstr(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    out.push(0);
    out
}

fn parse(name: &str, sql: &str) -> Message {
    let mut body = cstr(name);
    body.extend(cstr(sql));
    body.extend(0i16.to_be_bytes());
    (b'P', body)
}

fn bind(portal: &str, statement: &str) -> Message {
    let mut body = cstr(portal);
    body.extend(cstr(statement));
    body.extend([0, 0, 0, 0, 0, 0]);
    (b'B', body)
}

fn execute(portal: &str) -> Message {
    let mut body = cstr(portal);
    body.extend(0i32.to_be_bytes());
    (b'E', body)
}

/// Parse, Bind and Execute of `sql` on the unnamed statement and portal (as JDBC and sqlx do).
fn run(sql: &str) -> [Message; 3] {
    [parse("", sql), bind("", ""), execute("")]
}

/// Field `code` of an ErrorResponse or NoticeResponse body.
fn field(body: &[u8], code: u8) -> String {
    let mut i = 0;
    while i < body.len() && body[i] != 0 {
        let end = i + 1 + body[i + 1..].iter().position(|&b| b == 0).unwrap();
        if body[i] == code {
            return String::from_utf8_lossy(&body[i + 1..end]).into_owned();
        }
        i = end + 1;
    }
    String::new()
}

/// `C:<tag>`, `E:<SQLSTATE>`, `N:<SQLSTATE>`, or the message type for the others.
fn summary(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|(tag, _)| *tag != b'S')
        .map(|(tag, body)| match tag {
            b'C' => format!("C:{}", String::from_utf8_lossy(&body[..body.len() - 1])),
            b'E' | b'N' => format!("{}:{}", *tag as char, field(body, b'C')),
            other => (*other as char).to_string(),
        })
        .collect()
}

/// Every field of every error and notice, for comparisons with a direct connection.
fn reports(raw: &mut Raw, sql: &str) -> (Vec<Vec<(u8, String)>>, u8) {
    raw.send(&[(b'Q', cstr(sql))]);
    let (messages, status) = raw.until_ready();
    let reports = messages
        .iter()
        .filter(|(tag, _)| *tag == b'E' || *tag == b'N')
        .map(|(_, body)| {
            b"SVCMDHPW"
                .iter()
                .map(|&code| (code, field(body, code)))
                .collect()
        })
        .collect();
    (reports, status)
}

#[test]
fn clients_share_one_session_and_keep_their_prepared_statements_apart() {
    let fx = Fixture::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let connect = || async {
            let (client, connection) = tokio_postgres::connect(&fx.url(), tokio_postgres::NoTls)
                .await
                .expect("tokio-postgres through the proxy");
            tokio::spawn(connection);
            client
        };
        let a = connect().await;
        let b = connect().await;
        // Each client's first prepared statement is named `s0`.
        let insert = a
            .prepare("INSERT INTO items VALUES ($1, $2, $3)")
            .await
            .unwrap();
        let select = b
            .prepare("SELECT name, qty FROM items WHERE id = $1")
            .await
            .unwrap();
        a.execute(&insert, &[&1i32, &"apple", &3i32]).await.unwrap();
        let row = b.query_one(&select, &[&1i32]).await.unwrap();
        assert_eq!(row.get::<_, &str>(0), "apple");
        assert_eq!(row.get::<_, i32>(1), 3);
        // Both statements stay usable, each with its own meaning.
        a.execute(&insert, &[&2i32, &"pear", &5i32]).await.unwrap();
        let row = b.query_one(&select, &[&2i32]).await.unwrap();
        assert_eq!(row.get::<_, &str>(0), "pear");
        // Concurrent (pipelined) queries from both clients.
        let (x, y) = tokio::join!(
            a.query("SELECT id FROM items ORDER BY id", &[]),
            b.query("SELECT count(*) FROM items", &[])
        );
        assert_eq!(x.unwrap().len(), 2);
        assert_eq!(y.unwrap()[0].get::<_, i64>(0), 2);
    });
    // Simple protocol and the sync client see the same session.
    let (ok, out, err) = fx.psql("SELECT string_agg(name, ',' ORDER BY id) FROM items");
    assert!(ok, "{err}");
    assert_eq!(out, "apple,pear");
    let mut sync = fx.client();
    // COPY FROM STDIN through the extended protocol.
    let mut writer = sync
        .copy_in("COPY items (id, name, qty) FROM STDIN")
        .unwrap();
    writer.write_all(b"3\tplum\t7\n4\tfig\t1\n").unwrap();
    assert_eq!(writer.finish().unwrap(), 2);
    assert_eq!(count(&mut sync, "SELECT count(*) FROM items"), 4);
    // Nothing is visible outside the proxy.
    assert_eq!(count(&mut fx.direct(), "SELECT count(*) FROM items"), 0);
}

#[test]
fn client_transactions_commit_and_roll_back_with_the_right_tags_and_status() {
    let fx = Fixture::start();
    let mut raw = fx.raw();
    let mut other = fx.client();
    // Simple protocol.
    assert_eq!(raw.simple("BEGIN"), (vec!["C:BEGIN".to_string()], b'T'));
    assert_eq!(raw.simple("INSERT INTO items VALUES (1, 'a', 1)").1, b'T');
    assert_eq!(raw.simple("COMMIT"), (vec!["C:COMMIT".to_string()], b'I'));
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 1);
    assert_eq!(raw.simple("START TRANSACTION").0, ["C:START TRANSACTION"]);
    raw.simple("INSERT INTO items VALUES (2, 'b', 2)");
    assert_eq!(
        raw.simple("ROLLBACK"),
        (vec!["C:ROLLBACK".to_string()], b'I')
    );
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 1);
    // Warnings as PostgreSQL gives them.
    assert_eq!(
        raw.simple("COMMIT"),
        (vec!["N:25P01".to_string(), "C:COMMIT".to_string()], b'I')
    );
    assert_eq!(raw.simple("BEGIN").1, b'T');
    assert_eq!(
        raw.simple("BEGIN"),
        (vec!["N:25001".to_string(), "C:BEGIN".to_string()], b'T')
    );
    // A failed transaction: 'E' until ROLLBACK; COMMIT reports ROLLBACK.
    assert_eq!(
        raw.simple("SELECT 1/0"),
        (vec!["E:22012".to_string()], b'E')
    );
    assert_eq!(raw.simple("SELECT 1"), (vec!["E:25P02".to_string()], b'E'));
    assert_eq!(raw.simple("COMMIT"), (vec!["C:ROLLBACK".to_string()], b'I'));
    // Several statements in one query string.
    assert_eq!(
        raw.simple("BEGIN; INSERT INTO items VALUES (3, 'c', 3); COMMIT; SELECT 1"),
        (
            [
                "C:BEGIN",
                "C:INSERT 0 1",
                "C:COMMIT",
                "T",
                "D",
                "C:SELECT 1"
            ]
            .map(String::from)
            .to_vec(),
            b'I'
        )
    );
    assert_eq!(
        raw.simple("BEGIN; INSERT INTO items VALUES (4, 'd', 4); ROLLBACK"),
        (
            ["C:BEGIN", "C:INSERT 0 1", "C:ROLLBACK"]
                .map(String::from)
                .to_vec(),
            b'I'
        )
    );
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 2);
    // Savepoints need a transaction, as on a real server; inside one they work.
    assert_eq!(
        raw.simple("SAVEPOINT s"),
        (vec!["E:25P01".to_string()], b'I')
    );
    assert_eq!(
        raw.simple(
            "BEGIN; INSERT INTO items VALUES (5, 'e', 5); SAVEPOINT s; \
             INSERT INTO items VALUES (6, 'f', 6); ROLLBACK TO s; COMMIT"
        )
        .1,
        b'I'
    );
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 3);

    // Extended protocol, as JDBC and sqlx send it: BEGIN pipelined with the first statement.
    let mut jdbc = run("BEGIN").to_vec();
    jdbc.extend(run("INSERT INTO items VALUES (10, 'x', 1)"));
    assert_eq!(
        raw.extended(&jdbc),
        (
            ["1", "2", "C:BEGIN", "1", "2", "C:INSERT 0 1"]
                .map(String::from)
                .to_vec(),
            b'T'
        )
    );
    assert_eq!(
        raw.extended(&run("COMMIT")),
        (["1", "2", "C:COMMIT"].map(String::from).to_vec(), b'I')
    );
    // A named prepared BEGIN/ROLLBACK pair, reused.
    raw.extended(&[parse("begin", "BEGIN"), parse("rollback", "ROLLBACK")]);
    for _ in 0..2 {
        let mut messages = vec![bind("", "begin"), execute("")];
        messages.extend(run("INSERT INTO items VALUES (11, 'y', 1)"));
        assert_eq!(raw.extended(&messages).1, b'T');
        assert_eq!(
            raw.extended(&[bind("", "rollback"), execute("")]),
            (["2", "C:ROLLBACK"].map(String::from).to_vec(), b'I')
        );
    }
    // An error inside the transaction, then COMMIT: rolled back.
    raw.extended(&run("BEGIN"));
    assert_eq!(
        raw.extended(&run("INSERT INTO items VALUES (10, 'dup', 1)")),
        (["1", "2", "E:23505"].map(String::from).to_vec(), b'E')
    );
    assert_eq!(
        raw.extended(&run("COMMIT")),
        (["1", "2", "C:ROLLBACK"].map(String::from).to_vec(), b'I')
    );
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 4);

    // COPY FROM STDIN in the simple protocol, in autocommit.
    raw.send(&[(b'Q', cstr("COPY items (id, name, qty) FROM STDIN"))]);
    assert_eq!(raw.recv().0, b'G');
    raw.send(&[(b'd', b"40\tcopied\t1\n".to_vec()), (b'c', Vec::new())]);
    assert_eq!(
        raw.until_ready(),
        (vec![(b'C', b"COPY 1\0".to_vec())], b'I')
    );
    raw.simple("DELETE FROM items WHERE id = 40");
    // Flush: answers come before the Sync (as drivers that describe first expect).
    raw.send(&[
        parse("q", "SELECT name FROM items WHERE id = $1"),
        (b'D', b"Sq\0".to_vec()),
        (b'H', Vec::new()),
    ]);
    assert_eq!(
        [raw.recv().0, raw.recv().0, raw.recv().0],
        [b'1', b't', b'T']
    );
    assert_eq!(raw.extended(&[]), (Vec::new(), b'I'));
    // The sync client's and tokio-postgres's transaction APIs.
    let mut tx = other.transaction().unwrap();
    tx.execute("INSERT INTO items VALUES (20, 'z', 1)", &[])
        .unwrap();
    tx.rollback().unwrap();
    let mut tx = other.transaction().unwrap();
    tx.execute("INSERT INTO items VALUES (21, 'z', 1)", &[])
        .unwrap();
    tx.commit().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut client, connection) = tokio_postgres::connect(&fx.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let tx = client.transaction().await.unwrap();
        let insert = tx
            .prepare("INSERT INTO items VALUES ($1, 'w', 1)")
            .await
            .unwrap();
        tx.execute(&insert, &[&30i32]).await.unwrap();
        tx.rollback().await.unwrap();
        let tx = client.transaction().await.unwrap();
        tx.execute(&insert, &[&31i32]).await.unwrap();
        tx.commit().await.unwrap();
    });
    let ids: Vec<i32> = other
        .query("SELECT id FROM items ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1, 3, 5, 10, 21, 31]);
}

#[test]
fn errors_pass_through_exactly_and_the_session_survives() {
    let fx = Fixture::start();
    let mut proxied = fx.raw();
    let mut direct = Raw::connect(SocketAddr::from(([127, 0, 0, 1], fx.pg.port)), "app");
    // The same statements give the same errors (every field) and status through the proxy.
    for sql in [
        "SELECT 1/0",
        "SELECT * FROM missing_table",
        "SELEC 1",
        "INSERT INTO items VALUES (1, NULL, 1)",
        "SELECT 1; SELECT * FROM missing_table; SELECT 2",
        "BEGIN; SELECT * FROM missing_table; COMMIT",
        "ROLLBACK",
        "BEGIN; INSERT INTO children VALUES (1, 99); COMMIT",
        "RELEASE SAVEPOINT nothing",
        "ROLLBACK; ROLLBACK",
    ] {
        assert_eq!(
            reports(&mut proxied, sql),
            reports(&mut direct, sql),
            "{sql}"
        );
    }
    // Bad data in a COPY FROM STDIN.
    let outcomes: Vec<_> = [&mut proxied, &mut direct]
        .into_iter()
        .map(|raw| {
            raw.send(&[(b'Q', cstr("COPY items FROM STDIN"))]);
            assert_eq!(raw.recv().0, b'G');
            raw.send(&[(b'd', b"x\ty\t1\n".to_vec()), (b'c', Vec::new())]);
            let copy = raw.until_ready();
            (copy, raw.simple("SELECT 1"))
        })
        .collect();
    assert_eq!(outcomes[0], outcomes[1]);
    assert_eq!(outcomes[0].0 .0[0].0, b'E');
    // A duplicate key in autocommit and then inside a transaction (tokio-postgres).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut client, connection) = tokio_postgres::connect(&fx.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .execute("INSERT INTO items VALUES (1, 'a', 1)", &[])
            .await
            .unwrap();
        let error = client
            .execute("INSERT INTO items VALUES (1, 'b', 1)", &[])
            .await
            .unwrap_err();
        let db = error.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "23505");
        assert_eq!(
            db.message(),
            "duplicate key value violates unique constraint \"items_pkey\""
        );
        assert_eq!(db.detail(), Some("Key (id)=(1) already exists."));
        // The failed autocommit statement did not poison anything.
        client
            .execute("INSERT INTO items VALUES (2, 'b', 1)", &[])
            .await
            .unwrap();
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO items VALUES (3, 'c', 1)", &[])
            .await
            .unwrap();
        let error = tx
            .execute("INSERT INTO items VALUES (2, 'again', 1)", &[])
            .await
            .unwrap_err();
        assert_eq!(error.as_db_error().unwrap().code().code(), "23505");
        let error = tx.execute("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(error.as_db_error().unwrap().code().code(), "25P02");
        tx.rollback().await.unwrap();
        let rows = client
            .query("SELECT id FROM items ORDER BY id", &[])
            .await
            .unwrap();
        let ids: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(ids, [1, 2]);
        // A cancel request reaches the statement being run.
        let cancel = client.cancel_token();
        let sleeper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel_query(tokio_postgres::NoTls).await
        });
        let started = Instant::now();
        let error = client
            .execute("SELECT pg_sleep(20)", &[])
            .await
            .unwrap_err();
        assert_eq!(error.as_db_error().unwrap().code().code(), "57014");
        assert!(started.elapsed() < Duration::from_secs(10));
        sleeper.await.unwrap().unwrap();
        assert_eq!(
            client
                .query_one("SELECT count(*) FROM items", &[])
                .await
                .unwrap()
                .get::<_, i64>(0),
            2
        );
    });
    // psql reports the server's error.
    let (ok, _, err) = fx.psql("SELECT * FROM missing_table");
    assert!(!ok);
    assert!(
        err.contains("relation \"missing_table\" does not exist"),
        "{err}"
    );
    // A deferred constraint fails at COMMIT, and the transaction is gone.
    let mut sync = fx.client();
    let mut tx = sync.transaction().unwrap();
    tx.execute("INSERT INTO children VALUES (1, 42)", &[])
        .unwrap();
    let error = tx.commit().unwrap_err();
    assert_eq!(error.as_db_error().unwrap().code().code(), "23503");
    assert_eq!(count(&mut sync, "SELECT count(*) FROM children"), 0);
    // … and at the end of an autocommit statement; a valid one is kept.
    let error = sync
        .execute("INSERT INTO children VALUES (1, 42)", &[])
        .unwrap_err();
    assert_eq!(error.as_db_error().unwrap().code().code(), "23503");
    sync.batch_execute("INSERT INTO parents VALUES (42); INSERT INTO children VALUES (1, 42)")
        .unwrap();
    assert_eq!(count(&mut sync, "SELECT count(*) FROM children"), 1);
}

#[test]
fn deallocate_drops_only_the_clients_own_prepared_statements() {
    let mut fx = Fixture::start();
    // Another connection's prepared statement (client 1's), which must survive.
    let mut other = fx.client();
    let shared = other.prepare("SELECT count(*) FROM items").unwrap();
    let mut proxied = fx.raw();
    let mut direct = Raw::connect(SocketAddr::from(([127, 0, 0, 1], fx.pg.port)), "app");
    enum Step {
        Simple(&'static str),
        Extended(Vec<Message>),
    }
    use Step::{Extended as X, Simple as Q};
    let steps = [
        // psycopg 3 after a ROLLBACK: DEALLOCATE ALL in the simple protocol.
        (
            X(vec![parse("s1", "SELECT 1"), parse("s2", "SELECT 2")]),
            &["1", "1"][..],
            b'I',
        ),
        (Q("ROLLBACK"), &["N:25P01", "C:ROLLBACK"], b'I'),
        (Q("DEALLOCATE ALL"), &["C:DEALLOCATE ALL"], b'I'),
        (X(vec![bind("", "s1"), execute("")]), &["E:26000"], b'I'),
        // A name can be prepared again (a new Parse), then dropped by name.
        (
            X(run("SELECT 3").to_vec()),
            &["1", "2", "D", "C:SELECT 1"],
            b'I',
        ),
        (X(vec![parse("s1", "SELECT 3")]), &["1"], b'I'),
        (Q("deallocate prepare S1;"), &["C:DEALLOCATE"], b'I'),
        (Q("DEALLOCATE s1"), &["E:26000"], b'I'),
        (Q("DEALLOCATE \"s2\""), &["E:26000"], b'I'),
        // The proxy's statements cannot be dropped (nor another client's: below).
        (Q("DEALLOCATE venom_op_savepoint_tx"), &["E:26000"], b'I'),
        // In a transaction, and in a failed one.
        (Q("BEGIN"), &["C:BEGIN"], b'T'),
        (X(vec![parse("s3", "SELECT 1")]), &["1"], b'T'),
        (Q("DEALLOCATE ALL"), &["C:DEALLOCATE ALL"], b'T'),
        (Q("DEALLOCATE s3"), &["E:26000"], b'E'),
        (Q("DEALLOCATE ALL"), &["E:25P02"], b'E'),
        (Q("ROLLBACK"), &["C:ROLLBACK"], b'I'),
        // Inside a query string of several statements.
        (X(vec![parse("s4", "SELECT 4")]), &["1"], b'I'),
        (
            Q("SELECT 1; DEALLOCATE ALL; SELECT 2"),
            &[
                "T",
                "D",
                "C:SELECT 1",
                "C:DEALLOCATE ALL",
                "T",
                "D",
                "C:SELECT 1",
            ],
            b'I',
        ),
        (X(vec![bind("", "s4"), execute("")]), &["E:26000"], b'I'),
        (
            Q("INSERT INTO items VALUES (1, 'a', 1); DEALLOCATE nope"),
            &["C:INSERT 0 1", "E:26000"],
            b'I',
        ),
        // An error of the proxy's own also ends the implicit transaction.
        (
            Q("INSERT INTO items VALUES (2, 'b', 2); SAVEPOINT s"),
            &["C:INSERT 0 1", "E:25P01"],
            b'I',
        ),
        // Through the extended protocol.
        (X(vec![parse("s5", "SELECT 5")]), &["1"], b'I'),
        (
            X(run("DEALLOCATE s5").to_vec()),
            &["1", "2", "C:DEALLOCATE"],
            b'I',
        ),
        (
            X(run("DEALLOCATE s5").to_vec()),
            &["1", "2", "E:26000"],
            b'I',
        ),
        (
            X(vec![
                parse("s6", "SELECT 6"),
                parse("d", "DEALLOCATE ALL"),
                bind("", "d"),
                execute(""),
                bind("", "s6"),
            ]),
            &["1", "1", "2", "C:DEALLOCATE ALL", "E:26000"],
            b'I',
        ),
        (X(vec![bind("", "d")]), &["E:26000"], b'I'),
        // DISCARD ALL alone outside a transaction; refused inside one.
        (X(vec![parse("s7", "SELECT 7")]), &["1"], b'I'),
        (Q("DISCARD ALL"), &["C:DISCARD ALL"], b'I'),
        (X(vec![bind("", "s7"), execute("")]), &["E:26000"], b'I'),
        (
            Q("SELECT 1; DISCARD ALL"),
            &["T", "D", "C:SELECT 1", "E:25001"],
            b'I',
        ),
        (Q("BEGIN"), &["C:BEGIN"], b'T'),
        (Q("DISCARD ALL"), &["E:25001"], b'E'),
        (Q("ROLLBACK"), &["C:ROLLBACK"], b'I'),
        // SQL-level PREPARE: DEALLOCATE name drops it.
        (Q("PREPARE q AS SELECT 1"), &["C:PREPARE"], b'I'),
        (Q("EXECUTE q"), &["T", "D", "C:SELECT 1"], b'I'),
        (Q("DEALLOCATE q"), &["C:DEALLOCATE"], b'I'),
        (Q("EXECUTE q"), &["E:26000"], b'I'),
    ];
    for (step, summary, status) in &steps {
        let outcomes: Vec<_> = [&mut proxied, &mut direct]
            .into_iter()
            .map(|raw| match step {
                Q(sql) => raw.simple(sql),
                X(messages) => raw.extended(messages),
            })
            .collect();
        let what = match step {
            Q(sql) => sql.to_string(),
            X(messages) => format!("{messages:?}"),
        };
        assert_eq!(
            outcomes[0], outcomes[1],
            "through the proxy, then direct: {what}"
        );
        assert_eq!(
            outcomes[0],
            (
                summary.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                *status
            ),
            "{what}"
        );
    }
    // The errors name the statement as the client does.
    let upstream_names = |fx: &mut Fixture| -> Vec<String> {
        fx.proxy
            .query_text("SELECT name FROM pg_prepared_statements ORDER BY name")
            .unwrap()
            .into_iter()
            .map(|row| row[0].clone().unwrap())
            .collect()
    };
    let names = upstream_names(&mut fx);
    let theirs: Vec<&String> = names.iter().filter(|n| n.starts_with("c1_")).collect();
    let [theirs] = theirs[..] else {
        panic!("client 1's statement upstream: {names:?}");
    };
    let theirs = theirs.clone();
    for sql in [
        "DEALLOCATE nope".to_string(),
        "DEALLOCATE venom_op_check_savepoint".to_string(),
        format!("DEALLOCATE PREPARE {theirs}"),
    ] {
        let (errors, status) = reports(&mut proxied, &sql);
        assert_eq!(errors[0][2], (b'C', "26000".to_string()), "{sql}");
        assert_eq!((errors, status), reports(&mut direct, &sql), "{sql}");
    }
    proxied.extended(&[parse("s8", "SELECT 8")]);
    assert_eq!(
        reports(&mut proxied, "BEGIN; DEALLOCATE s8; DEALLOCATE s8"),
        reports(&mut direct, "BEGIN; DEALLOCATE s8; DEALLOCATE s8"),
    );
    proxied.simple("ROLLBACK");
    direct.simple("ROLLBACK");
    // Unicode-escaped names are refused rather than forwarded unread.
    assert_eq!(
        proxied
            .simple("INSERT INTO items VALUES (3, 'c', 3); DEALLOCATE U&\"venom_op_check_undo\""),
        (["C:INSERT 0 1", "E:0A000"].map(String::from).to_vec(), b'I')
    );
    // Nothing was committed by the query strings that failed.
    assert_eq!(count(&mut other, "SELECT count(*) FROM items"), 0);
    // The other client's statement and the proxy's own are still there, the client's are gone.
    assert_eq!(other.query_one(&shared, &[]).unwrap().get::<_, i64>(0), 0);
    let names = upstream_names(&mut fx);
    assert!(names.contains(&theirs), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| n.starts_with("venom_op_")).count(),
        7
    );
    assert!(!names.iter().any(|n| n.starts_with("c2_")), "{names:?}");
    // Transactions (the deferred-constraint check included), checkpoints, rollbacks and
    // observations work as before.
    let checkpoint = fx.proxy.checkpoint().unwrap();
    assert_eq!(
        proxied
            .simple("BEGIN; INSERT INTO items VALUES (7, 'g', 7); COMMIT")
            .1,
        b'I'
    );
    assert_eq!(fx.proxy.observe().unwrap()["table:items"]["rows"], 1);
    proxied.extended(&[parse("s9", "SELECT 9")]);
    assert_eq!(proxied.simple("DEALLOCATE ALL").0, ["C:DEALLOCATE ALL"]);
    fx.proxy.rollback(checkpoint).unwrap();
    assert_eq!(fx.proxy.observe().unwrap()["table:items"]["rows"], 0);
    assert_eq!(other.query_one(&shared, &[]).unwrap().get::<_, i64>(0), 0);
    assert_eq!(count(&mut fx.client(), "SELECT count(*) FROM items"), 0);
}

#[test]
fn rollback_restores_the_checkpoint_and_checkpoints_form_a_stack() {
    let mut fx = Fixture::start();
    assert_eq!(fx.proxy.checkpoint_mode(), CheckpointMode::StackOnly);
    assert_eq!(fx.proxy.mechanism(), "postgres transaction proxy");
    let mut client = fx.client();
    client
        .batch_execute("INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2)")
        .unwrap();
    let a = fx.proxy.checkpoint().unwrap();
    let dump_a = fx.dump();
    client
        .batch_execute(
            "UPDATE items SET qty = 10 WHERE id = 1; DELETE FROM items WHERE id = 2; \
             INSERT INTO notes (body) VALUES ('n')",
        )
        .unwrap();
    let b = fx.proxy.checkpoint().unwrap();
    let dump_b = fx.dump();
    let mut tx = client.transaction().unwrap();
    tx.execute("INSERT INTO items VALUES (3, 'c', 3)", &[])
        .unwrap();
    tx.commit().unwrap();
    assert_ne!(fx.dump(), dump_b);
    fx.proxy.rollback(b).unwrap();
    assert_eq!(fx.dump(), dump_b);
    // The same checkpoint can be restored again.
    client.batch_execute("DELETE FROM items").unwrap();
    fx.proxy.rollback(b).unwrap();
    assert_eq!(fx.dump(), dump_b);
    fx.proxy.rollback(a).unwrap();
    assert_eq!(fx.dump(), dump_a);
    // Rolling back to A discarded B.
    let error = fx.proxy.rollback(b).unwrap_err();
    assert!(
        error
            .chain()
            .contains("not on the transaction proxy's savepoint stack"),
        "{error}"
    );
    // Released checkpoints cannot be restored; the others still can.
    let c = fx.proxy.checkpoint().unwrap();
    fx.proxy.release(c);
    assert!(fx.proxy.rollback(c).is_err());
    client.batch_execute("DELETE FROM items").unwrap();
    fx.proxy.rollback(a).unwrap();
    assert_eq!(fx.dump(), dump_a);
    // The client's connection survived every rollback.
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 2);
}

/// `nextval` is never undone by a rollback, so the proxy sets the sequences back itself: after a
/// rollback the API hands out the ids it handed out the first time.
#[test]
fn rollback_sets_the_sequences_back() {
    let mut fx = Fixture::start();
    let mut client = fx.client();
    let note = |client: &mut Client| -> i32 {
        client
            .query_one("INSERT INTO notes (body) VALUES ('n') RETURNING id", &[])
            .unwrap()
            .get(0)
    };
    // At A, `notes_id_seq` has never been called; at B it stands at 2.
    let a = fx.proxy.checkpoint().unwrap();
    let dump_a = fx.dump();
    assert_eq!(note(&mut client), 1);
    assert_eq!(note(&mut client), 2);
    let b = fx.proxy.checkpoint().unwrap();
    let dump_b = fx.dump();
    assert_eq!(note(&mut client), 3);
    // Rolled back client transactions consume sequence values too.
    let mut tx = client.transaction().unwrap();
    tx.execute("INSERT INTO notes (body) VALUES ('gone')", &[])
        .unwrap();
    tx.rollback().unwrap();
    fx.proxy.rollback(b).unwrap();
    assert_eq!(fx.dump(), dump_b);
    assert_eq!(
        note(&mut client),
        3,
        "the id handed out after B the first time"
    );
    fx.proxy.rollback(a).unwrap();
    assert_eq!(fx.dump(), dump_a);
    assert_eq!(note(&mut client), 1, "a never-called sequence starts again");
    // A sequence created after the checkpoint goes with the rollback; one moved by `setval`
    // comes back.
    fx.proxy.rollback(a).unwrap();
    client
        .batch_execute(
            "CREATE SEQUENCE later; SELECT nextval('later'); SELECT setval('notes_id_seq', 40)",
        )
        .unwrap();
    fx.proxy.rollback(a).unwrap();
    assert_eq!(fx.dump(), dump_a);
    assert_eq!(note(&mut client), 1);
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Step {
    Insert(i32, i32),
    Update(i32, i32),
    Delete(i32),
    /// Writes inside a client transaction, committed or rolled back.
    Transaction(Vec<(i32, i32)>, bool),
    Checkpoint,
    /// Roll back to the live checkpoint at this index (modulo their number).
    Rollback(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..20i32, 0..100i32).prop_map(|(k, v)| Step::Insert(k, v)),
        2 => (0..20i32, 0..100i32).prop_map(|(k, v)| Step::Update(k, v)),
        2 => (0..20i32).prop_map(Step::Delete),
        2 => (prop::collection::vec((0..20i32, 0..100i32), 1..4), any::<bool>())
            .prop_map(|(w, c)| Step::Transaction(w, c)),
        2 => Just(Step::Checkpoint),
        2 => any::<usize>().prop_map(Step::Rollback),
    ]
}

#[test]
fn random_writes_and_rollbacks_restore_each_checkpoint_exactly() {
    let fx = RefCell::new(Fixture::start());
    let mut clients = {
        let fx = fx.borrow();
        [fx.client(), fx.client()]
    };
    let base = fx.borrow_mut().proxy.checkpoint().unwrap();
    let base_dump = fx.borrow_mut().dump();
    let clients = RefCell::new(&mut clients);
    let mut runner = TestRunner::new(Config {
        cases: 16,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(step(), 1..25), |steps| {
        let mut fx = fx.borrow_mut();
        let mut clients = clients.borrow_mut();
        fx.proxy
            .rollback(base)
            .map_err(|e| TestCaseError::fail(e.chain()))?;
        prop_assert_eq!(fx.dump(), base_dump.clone());
        let mut live = vec![(base, base_dump.clone())];
        for (i, step) in steps.into_iter().enumerate() {
            let client = &mut clients[i % 2];
            match step {
                Step::Insert(k, v) => {
                    client
                        .execute(
                            "INSERT INTO items VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                            &[&k, &format!("k{k}"), &v],
                        )
                        .unwrap();
                }
                Step::Update(k, v) => {
                    client
                        .execute("UPDATE items SET qty = $2 WHERE id = $1", &[&k, &v])
                        .unwrap();
                }
                Step::Delete(k) => {
                    client
                        .execute("DELETE FROM items WHERE id = $1", &[&k])
                        .unwrap();
                }
                Step::Transaction(writes, commit) => {
                    let mut tx = client.transaction().unwrap();
                    for (k, v) in writes {
                        // Duplicate keys fail; the transaction then rolls back either way.
                        if tx
                            .execute("INSERT INTO items VALUES ($1, 'tx', $2)", &[&k, &v])
                            .is_err()
                        {
                            break;
                        }
                        tx.execute("INSERT INTO notes (body) VALUES ($1)", &[&k.to_string()])
                            .unwrap();
                    }
                    let _ = if commit { tx.commit() } else { tx.rollback() };
                }
                Step::Checkpoint => {
                    let id = fx
                        .proxy
                        .checkpoint()
                        .map_err(|e| TestCaseError::fail(e.chain()))?;
                    let dump = fx.dump();
                    live.push((id, dump));
                }
                Step::Rollback(pick) => {
                    let index = pick % live.len();
                    let (id, dump) = live[index].clone();
                    fx.proxy
                        .rollback(id)
                        .map_err(|e| TestCaseError::fail(e.chain()))?;
                    live.truncate(index + 1);
                    prop_assert_eq!(fx.dump(), dump);
                }
            }
        }
        // Everything above the base is undone by the next case.
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

#[test]
fn a_client_leaving_mid_transaction_is_rolled_back_and_others_go_on() {
    let fx = Fixture::start_with(PgProxyOptions {
        session_wait: Duration::from_millis(300),
        ..PgProxyOptions::default()
    });
    let mut fx = fx;
    let mut leaver = fx.raw();
    assert_eq!(leaver.simple("BEGIN").1, b'T');
    assert_eq!(
        leaver.simple("INSERT INTO items VALUES (1, 'gone', 1)").1,
        b'T'
    );
    // While the transaction is open, venom cannot checkpoint, and says why.
    let error = fx.proxy.checkpoint().unwrap_err();
    assert!(error.chain().contains("kept a transaction open"), "{error}");
    // Another client waits for the transaction to end…
    let url = fx.url();
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut client = Client::connect(&url, NoTls).unwrap();
        let n = count(&mut client, "SELECT count(*) FROM items");
        done_tx.send(()).unwrap();
        client
            .execute("INSERT INTO items VALUES (2, 'kept', 1)", &[])
            .unwrap();
        n
    });
    assert!(done_rx.recv_timeout(Duration::from_millis(300)).is_err());
    // … which ends when its client disconnects.
    drop(leaver);
    assert_eq!(waiter.join().unwrap(), 0);
    let mut client = fx.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 1);
    // A tokio-postgres client dropped with an open transaction and prepared statements.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (mut c, connection) = tokio_postgres::connect(&fx.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        let task = tokio::spawn(connection);
        let tx = c.transaction().await.unwrap();
        tx.execute("INSERT INTO items VALUES (3, 'gone', 1)", &[])
            .await
            .unwrap();
        std::mem::forget(tx);
        drop(c);
        let _ = task.await;
    });
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 1);
    fx.proxy.checkpoint().unwrap();
    // Terminate in the middle of an extended-protocol exchange: its statement is undone.
    let mut partial = fx.raw();
    partial.send(&[
        parse("p", "INSERT INTO items VALUES (4, 'x', 1)"),
        bind("", "p"),
        execute(""),
        (b'H', Vec::new()),
    ]);
    // The INSERT ran (answered thanks to the Flush), then the client leaves without a Sync.
    let answers = [partial.recv().0, partial.recv().0, partial.recv().0];
    assert_eq!(answers, [b'1', b'2', b'C']);
    partial.send(&[(b'X', Vec::new())]);
    drop(partial);
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 1);
    assert!(fx.dump().contains("kept"));
}

#[test]
fn losing_postgres_is_reported_clearly_and_nothing_hangs() {
    let mut fx = Fixture::start_with(PgProxyOptions {
        session_wait: Duration::from_secs(2),
        upstream_timeout: Duration::from_secs(5),
    });
    let mut client = fx.client();
    client
        .execute("INSERT INTO items VALUES (1, 'a', 1)", &[])
        .unwrap();
    let mut raw = fx.raw();
    let checkpoint = fx.proxy.checkpoint().unwrap();
    fx.pg.stop();
    fx.pg.restart();
    let started = Instant::now();
    let error = fx.proxy.checkpoint().unwrap_err();
    assert!(
        error
            .chain()
            .contains("upstream PostgreSQL connection was lost")
            && error.chain().contains("exploration state is gone"),
        "{error}"
    );
    let error = fx.proxy.rollback(checkpoint).unwrap_err();
    assert!(error.chain().contains("connection was lost"), "{error}");
    let error = fx.proxy.observe().unwrap_err();
    assert!(error.chain().contains("connection was lost"), "{error}");
    // Clients get errors, old and new.
    let lost = |error: &postgres::Error| {
        error
            .as_db_error()
            .is_some_and(|db| db.code().code() == "08006" && db.message().contains("was lost"))
    };
    assert!(client.execute("SELECT 1", &[]).is_err());
    raw.send(&[(b'Q', cstr("SELECT 1"))]);
    let (tag, body) = raw.recv();
    assert_eq!(
        (tag, field(&body, b'S'), field(&body, b'C')),
        (b'E', "FATAL".into(), "08006".into())
    );
    assert!(field(&body, b'M').contains("was lost"));
    let Err(error) = Client::connect(&fx.url(), NoTls) else {
        panic!("a new client was accepted after the upstream was lost");
    };
    assert!(lost(&error), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn nothing_is_ever_committed() {
    let fx = Fixture::start();
    let mut client = fx.client();
    client
        .batch_execute(
            "INSERT INTO items VALUES (1, 'a', 1); BEGIN; INSERT INTO items VALUES (2, 'b', 2); \
             COMMIT; CREATE TABLE extra (x int)",
        )
        .unwrap();
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 2);
    assert_eq!(count(&mut fx.direct(), "SELECT count(*) FROM items"), 0);
    let Fixture { proxy, pg } = fx;
    drop(proxy);
    let mut direct = Client::connect(&pg.url("app"), NoTls).unwrap();
    assert_eq!(count(&mut direct, "SELECT count(*) FROM items"), 0);
    assert_eq!(
        count(
            &mut direct,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'extra'"
        ),
        0
    );
}

#[test]
fn observations_see_the_uncommitted_state() {
    let mut fx = Fixture::start();
    let empty = fx.proxy.observe().unwrap();
    assert_eq!(empty["table:items"]["rows"], 0);
    let mut client = fx.client();
    client
        .batch_execute("INSERT INTO items VALUES (1, 'a', 4), (2, 'b', 5)")
        .unwrap();
    let seen = fx.proxy.observe().unwrap();
    assert_eq!(seen["table:items"]["rows"], 2);
    assert_eq!(seen["query:total"], serde_json::json!([["9"]]));
    assert_ne!(seen["table:items"]["hash"], empty["table:items"]["hash"]);
    assert_eq!(count(&mut fx.direct(), "SELECT count(*) FROM items"), 0);
    // A failing query does not disturb the state.
    assert!(fx.proxy.query_text("SELECT * FROM missing_table").is_err());
    assert_eq!(fx.proxy.observe().unwrap(), seen);
    assert_eq!(count(&mut client, "SELECT count(*) FROM items"), 2);
}

#[test]
fn only_loopback_and_the_upstream_database_are_served() {
    let fx = Fixture::start();
    let url = fx.pg.url("app");
    let error =
        PgProxy::start(&url, "0.0.0.0:0".parse().unwrap(), PgObserveSpec::default()).unwrap_err();
    assert!(error.chain().contains("loopback"), "{error}");
    let wrong = format!("postgres://venom@{}/other", fx.proxy.local_addr());
    let Err(error) = Client::connect(&wrong, NoTls) else {
        panic!("a client of another database was accepted");
    };
    let db = error.as_db_error().expect("a server error");
    assert_eq!(db.code().code(), "3D000");
    // A server that is not there is reported at start.
    let port = venom_testkit::free_port();
    let error = PgProxy::start(
        &format!("postgres://venom@127.0.0.1:{port}/app"),
        "127.0.0.1:0".parse().unwrap(),
        PgObserveSpec::default(),
    )
    .unwrap_err();
    assert!(
        error.chain().contains("cannot open its upstream session"),
        "{error}"
    );
}

/// The upstream server may ask for a password in any of the ways PostgreSQL offers: the proxy
/// answers SCRAM-SHA-256, md5 and cleartext requests with the password of its upstream URL, and
/// a wrong or missing password is a clear error when the proxy starts.
#[test]
fn upstream_passwords_scram_md5_and_cleartext() {
    let pg = PgServer::start();
    pg.create_database("app");
    let mut admin = Client::connect(&pg.url("app"), NoTls).expect("superuser");
    admin
        .batch_execute(
            "SET password_encryption = 'scram-sha-256';
             CREATE ROLE scram_user LOGIN PASSWORD 'scram secret';
             CREATE ROLE plain_user LOGIN PASSWORD 'plain secret';
             SET password_encryption = 'md5';
             CREATE ROLE md5_user LOGIN PASSWORD 'md5 secret';
             CREATE TABLE items (id int PRIMARY KEY);
             GRANT ALL ON items TO scram_user, plain_user, md5_user;",
        )
        .expect("roles");
    pg.set_hba(
        "local all all trust\n\
         host all venom 127.0.0.1/32 trust\n\
         host all scram_user 127.0.0.1/32 scram-sha-256\n\
         host all md5_user 127.0.0.1/32 md5\n\
         host all plain_user 127.0.0.1/32 password\n",
    );
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    for (user, password) in [
        ("scram_user", "scram secret"),
        ("md5_user", "md5 secret"),
        ("plain_user", "plain secret"),
    ] {
        let upstream = format!(
            "postgres://{user}:{}@127.0.0.1:{}/app",
            password.replace(' ', "%20"),
            pg.port
        );
        let mut proxy = PgProxy::start(&upstream, listen, PgObserveSpec::default())
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        let mut client = Client::connect(
            &format!("postgres://{user}@{}/app", proxy.local_addr()),
            NoTls,
        )
        .unwrap_or_else(|e| panic!("{user} through the proxy: {e}"));
        let a = proxy.checkpoint().unwrap();
        client
            .batch_execute("INSERT INTO items VALUES (1)")
            .unwrap();
        assert_eq!(
            count(&mut client, "SELECT count(*) FROM items"),
            1,
            "{user}"
        );
        proxy.rollback(a).unwrap();
        assert_eq!(
            count(&mut client, "SELECT count(*) FROM items"),
            0,
            "{user}"
        );
        let wrong = format!("postgres://{user}:nope@127.0.0.1:{}/app", pg.port);
        let error = PgProxy::start(&wrong, listen, PgObserveSpec::default()).unwrap_err();
        assert!(
            error.chain().contains("cannot open its upstream session")
                && error.chain().contains("password authentication failed"),
            "{user}: {error}"
        );
        let missing = format!("postgres://{user}@127.0.0.1:{}/app", pg.port);
        let error = PgProxy::start(&missing, listen, PgObserveSpec::default()).unwrap_err();
        assert!(
            error
                .chain()
                .contains("the server asks for a password and the upstream URL has none"),
            "{user}: {error}"
        );
    }
}
