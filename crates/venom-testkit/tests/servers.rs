//! The throwaway servers start, answer and stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use venom_testkit::{PgServer, RedisServer};

#[test]
fn postgres_cluster_accepts_queries_and_restarts() {
    let pg = PgServer::start();
    pg.create_database("app");
    let query = |sql: &str| {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-c", sql])
            .arg(pg.url("app"))
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(query("SELECT 40 + 2"), "42");
    pg.stop();
    assert!(TcpStream::connect(("127.0.0.1", pg.port)).is_err());
    pg.restart();
    assert_eq!(query("SELECT current_database()"), "app");
}

#[test]
fn redis_server_answers_ping() {
    let redis = RedisServer::start();
    let mut stream = TcpStream::connect(("127.0.0.1", redis.port)).expect("connect");
    stream.write_all(b"PING\r\n").expect("write");
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).expect("read");
    assert_eq!(&reply, b"+PONG\r\n");
}

#[test]
fn fresh_databases_are_distinct_and_empty() {
    let a = venom_testkit::PgDatabase::create();
    let b = venom_testkit::PgDatabase::create();
    assert_ne!(a.url(), b.url());
    let query = |url: &str, sql: &str| {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-c", sql, url])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    query(a.url(), "CREATE TABLE t (x int)");
    assert_eq!(
        query(
            b.url(),
            "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        ),
        "0"
    );
}
