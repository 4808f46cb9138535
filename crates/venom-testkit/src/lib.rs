//! Test support for venom: real, throwaway PostgreSQL clusters and Redis servers on 127.0.0.1,
//! a misbehaving HTTP server ([`RawServer`]), and the command line of bench harnesses
//! ([`bench_args`]).
//!
//! Each server lives in its own temporary folder on a free loopback port and is stopped (and its
//! folder deleted) when dropped. Binaries come from Debian's packages (`postgresql`,
//! `redis-server`); `.ci/run` installs them. A missing binary is reported with the package to
//! install, never skipped silently.
//!
//! Tests that only need a database use [`PgDatabase`]: a fresh database on the cluster named by
//! `VENOM_TEST_PG_URL` when it is set (`.ci/run` starts one for the whole run), else on a
//! cluster of its own. Tests that stop or restart PostgreSQL start a [`PgServer`]; Redis tests
//! start a [`RedisServer`] each (it takes milliseconds, and a shared server cannot give every
//! test a keyspace of its own). `VENOM_TEST_REDIS_URL`, also set by `.ci/run`, is for
//! end-to-end runs outside the Rust tests.
#![warn(missing_docs)]

pub mod bench_args;
pub mod browser;
mod raw_http;

pub use raw_http::{ok_reply, RawServer, Reply};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How many free ports a server start tries before giving up.
const START_ATTEMPTS: u32 = 5;

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A PostgreSQL cluster initialised in a temporary folder, serving 127.0.0.1 with `trust`
/// authentication for the superuser `venom`.
#[derive(Debug)]
pub struct PgServer {
    /// The port it listens on.
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    folder: tempfile::TempDir,
}

impl PgServer {
    /// Initialises and starts a cluster. Panics with the command's output when a step fails.
    pub fn start() -> PgServer {
        let bin = pg_bin();
        let folder = tempfile::tempdir().expect("temporary folder");
        if is_root() {
            // PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user.
            run(Command::new("chown").arg("postgres:").arg(folder.path()));
        }
        let data = folder.path().join("data");
        run(pg_command(&bin, "initdb").args(["-D"]).arg(&data).args([
            "-U",
            "venom",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]));
        let mut server = PgServer {
            port: free_port(),
            bin,
            data,
            folder,
        };
        // The free port may be taken by another process before the server binds it.
        for attempt in 1..=START_ATTEMPTS {
            match server.launch() {
                Ok(()) => break,
                Err(e) if attempt == START_ATTEMPTS => panic!("{e}"),
                Err(_) => server.port = free_port(),
            }
        }
        server
    }

    /// A connection URL for `database` as the superuser `venom`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://venom@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `database` (owned by `venom`).
    pub fn create_database(&self, database: &str) {
        run(Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-U", "venom", "-p"])
            .arg(self.port.to_string())
            .arg(database));
    }

    /// Whether `database` exists on the server.
    pub fn database_exists(&self, database: &str) -> bool {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                database.replace('\'', "''")
            ))
            .arg(self.url("postgres"))
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim() != "0"
    }

    /// Stops the server immediately, like a crash seen from the clients.
    pub fn stop(&self) {
        let _ = pg_command(&self.bin, "pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Starts the server (again, after [`PgServer::stop`]) on its port.
    pub fn restart(&self) {
        if let Err(e) = self.launch() {
            panic!("{e}");
        }
    }

    /// Replaces the cluster's client authentication rules (`pg_hba.conf`) with `rules` and has
    /// the server reload them, e.g. to require passwords of some roles.
    pub fn set_hba(&self, rules: &str) {
        let file = self.data.join("pg_hba.conf");
        // Written in place, so the file keeps the cluster owner's ownership.
        std::fs::write(&file, rules)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        run(pg_command(&self.bin, "pg_ctl")
            .args(["-D"])
            .arg(&self.data)
            .arg("reload"));
    }

    fn launch(&self) -> Result<(), String> {
        let folder = self.folder.path();
        try_run(
            pg_command(&self.bin, "pg_ctl")
                .args(["-D"])
                .arg(&self.data)
                .args(["-l"])
                .arg(folder.join("log"))
                .args(["-w", "-t", "30", "-o"])
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                    self.port,
                    folder.display()
                ))
                .arg("start"),
        )?;
        wait_for_port(self.port);
        Ok(())
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The environment variable naming a running PostgreSQL cluster (a superuser URL) that
/// [`PgDatabase`] creates its databases in; `.ci/run` starts one and sets it.
pub const PG_URL_VAR: &str = "VENOM_TEST_PG_URL";

/// A fresh, empty database for one test, dropped with it.
///
/// It lives on the cluster named by [`PG_URL_VAR`] when that is set (CI starts one cluster for
/// the whole run), else on a [`PgServer`] started for this database alone. Tests that stop or
/// restart the server use a [`PgServer`] of their own instead.
#[derive(Debug)]
pub struct PgDatabase {
    url: String,
    name: String,
    /// Where the database was created: a shared cluster's URL (to drop it), or our own server.
    home: Home,
}

#[derive(Debug)]
enum Home {
    Shared {
        admin_url: String,
    },
    /// Kept so that the server lives as long as the database.
    Own {
        _server: PgServer,
    },
}

impl PgDatabase {
    /// Creates the database. Panics with the command's output when a step fails.
    pub fn create() -> PgDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "venom_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match std::env::var(PG_URL_VAR) {
            Ok(admin_url) if !admin_url.is_empty() => {
                psql(&admin_url, &format!("CREATE DATABASE {name}"));
                PgDatabase {
                    url: with_database(&admin_url, &name),
                    name,
                    home: Home::Shared { admin_url },
                }
            }
            _ => {
                let server = PgServer::start();
                server.create_database(&name);
                PgDatabase {
                    url: server.url(&name),
                    name,
                    home: Home::Own { _server: server },
                }
            }
        }
    }

    /// The database's connection URL (superuser, no password).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Home::Shared { admin_url } = &self.home {
            let _ = Command::new("psql")
                .args(["-X", "-q", "-c"])
                .arg(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .arg(admin_url)
                .output();
        }
    }
}

/// `url` (`postgres://…/db`, without query) pointing at `database` instead.
fn with_database(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let base = match url[scheme_end..].find('/') {
        Some(slash) => &url[..scheme_end + slash],
        None => url,
    };
    format!("{base}/{database}")
}

/// Runs `sql` with `psql` against `url`; panics with its output when it fails.
fn psql(url: &str, sql: &str) {
    run(Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(sql)
        .arg(url));
}

/// A Redis server without persistence on a free loopback port.
#[derive(Debug)]
pub struct RedisServer {
    /// The port it listens on.
    pub port: u16,
    child: Child,
    _folder: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server`. Panics with a hint when it is not installed.
    ///
    /// A free port can be taken by another process between the moment it is picked and the
    /// moment the server binds it: the start is retried on another port when the server exits,
    /// and the listener is only trusted once it reports the server's own process id.
    pub fn start() -> RedisServer {
        let folder = tempfile::tempdir().expect("temporary folder");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(folder.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start redis-server ({e}); install Debian's `redis-server` package"
                    )
                });
            if wait_for_redis(&mut child, port) {
                return RedisServer {
                    port,
                    child,
                    _folder: folder,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start after {START_ATTEMPTS} attempts on free ports");
    }

    /// The server's URL, database 0.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The folder holding PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`).
fn pg_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .max()
    });
    match newest {
        Some(version) => root.join(version.to_string()).join("bin"),
        None => panic!(
            "no PostgreSQL server under {}; install Debian's `postgresql` package",
            root.display()
        ),
    }
}

/// `program` from PostgreSQL's `bin`, run as the `postgres` user when we are root.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(bin.join(program));
        command
    } else {
        Command::new(bin.join(program))
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn run(command: &mut Command) {
    if let Err(e) = try_run(command) {
        panic!("{e}");
    }
}

fn try_run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Waits until `child` (a `redis-server`) answers on `port`; false when it exits first (its port
/// was taken) or another process answers there.
fn wait_for_redis(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    let own = format!("process_id:{}\r\n", child.id());
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if let Some(info) = redis_info(port) {
            return info.contains(&own);
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The reply to `INFO server` on `port`, if something answers there.
fn redis_info(port: u16) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&reply).into_owned())
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after {START_TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}
