//! The `venom-demo` binary as a separate process: the announced address, a fresh database,
//! stopping on SIGTERM / SIGINT, refusing non-loopback addresses, and the choice between a
//! SQLite file and a PostgreSQL database (the demo on PostgreSQL is explored in venom-cli's
//! `demo_postgres` tests).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const DEMO: &str = env!("CARGO_BIN_EXE_venom-demo");

/// A running `venom-demo`, killed if the test fails before it stops.
struct Demo {
    child: Child,
    base: String,
    _stdout: BufReader<ChildStdout>,
}

impl Demo {
    fn start(listen: &str, db: &Path) -> Demo {
        Demo::start_with(listen, db, &[])
    }

    /// [`Demo::start`] with more arguments.
    fn start_with(listen: &str, db: &Path, more: &[&str]) -> Demo {
        let mut child = Command::new(DEMO)
            .args(["--listen", listen, "--db"])
            .arg(db)
            .args(more)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start venom-demo");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("cannot read stdout");
        let base = line
            .strip_prefix("venom-demo listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim_end()
            .to_string();
        Demo {
            child,
            base,
            _stdout: stdout,
        }
    }

    /// Sends `signal` and waits (at most 5 s) for the process to exit.
    fn stop_with(mut self, signal: libc::c_int) -> (ExitStatus, String) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our unreaped child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "venom-demo ignored signal {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(base: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let authority = base.strip_prefix("http://").expect("an http URL");
    let mut stream = TcpStream::connect(authority).expect("cannot connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("cannot send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("cannot read");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn serves_a_fresh_database_until_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");

    let demo = Demo::start("127.0.0.1:0", &db);
    assert!(demo.base.starts_with("http://127.0.0.1:"), "{}", demo.base);
    assert_eq!(http(&demo.base, "GET", "/health", "").0, 200);
    let (status, body) = http(&demo.base, "POST", "/orders", r#"{"amount": 100}"#);
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(&demo.base, "GET", "/orders", "");
    assert_eq!(status, 200);
    assert!(body.contains(r#""total":1"#), "{body}");
    let base = demo.base.clone();
    let (status, stderr) = demo.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(
        TcpStream::connect(base.strip_prefix("http://").unwrap()).is_err(),
        "still listening after SIGTERM"
    );

    // The same file again: the order is gone, ids restart at 1.
    let demo = Demo::start("127.0.0.1:0", &db);
    let (_, body) = http(&demo.base, "GET", "/orders", "");
    assert!(body.contains(r#""total":0"#), "{body}");
    let (_, body) = http(&demo.base, "POST", "/orders", r#"{"amount": 5}"#);
    assert!(body.contains(r#""id":1"#), "{body}");
    let (status, _) = demo.stop_with(libc::SIGINT);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn listens_on_the_requested_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let demo = Demo::start(&format!("127.0.0.1:{port}"), &dir.path().join("demo.db"));
    assert_eq!(demo.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(http(&demo.base, "GET", "/health", "").0, 200);
    let (status, _) = demo.stop_with(libc::SIGTERM);
    assert!(status.success());
}

#[test]
fn refuses_non_loopback_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    for addr in ["0.0.0.0:8080", "192.0.2.1:8080", "[::]:8080"] {
        let output = Command::new(DEMO)
            .args(["--listen", addr, "--db"])
            .arg(&db)
            .output()
            .expect("cannot run venom-demo");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{addr}: {stderr}");
        assert!(
            stderr.contains("is not a loopback address"),
            "{addr}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
    assert!(!db.exists(), "the database is not touched");
}

#[test]
fn a_database_that_cannot_be_opened_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("no-such-folder").join("demo.db");
    let output = Command::new(DEMO)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .output()
        .expect("cannot run venom-demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(db.to_str().unwrap()), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn needs_exactly_one_of_db_and_database_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");
    let neither = Command::new(DEMO)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("cannot run venom-demo");
    let stderr = String::from_utf8_lossy(&neither.stderr);
    assert_eq!(neither.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--db <FILE>|--database-url <URL>"),
        "{stderr}"
    );

    let both = Command::new(DEMO)
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .args(["--database-url", "postgres://venom@127.0.0.1:9/demo"])
        .output()
        .expect("cannot run venom-demo");
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert_eq!(both.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    assert!(!db.exists(), "the database is not touched");
}

#[test]
fn an_unreachable_database_url_is_an_error() {
    // A port nothing listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot bind a loopback port")
        .port();
    let output = Command::new(DEMO)
        .args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("postgres://venom@127.0.0.1:{port}/demo"))
        .output()
        .expect("cannot run venom-demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn latency_delays_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start_with(
        "127.0.0.1:0",
        &dir.path().join("slow.db"),
        &["--latency", "300"],
    );
    for path in ["/health", "/orders"] {
        let started = Instant::now();
        let (status, _) = http(&demo.base, "GET", path, "");
        assert_eq!(status, 200);
        // A lower bound only: a busy machine may add time, never remove it.
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{path}: {:?}",
            started.elapsed()
        );
    }
    let (status, _) = demo.stop_with(libc::SIGTERM);
    assert!(status.success());

    let refused = Command::new(DEMO)
        .args(["--db", "x.db", "--latency", "20000"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
}
