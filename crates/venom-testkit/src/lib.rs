//! Test support for venom: real, throwaway PostgreSQL clusters and Redis servers on 127.0.0.1.
//!
//! Each server lives in its own temporary folder on a free loopback port and is stopped (and its
//! folder deleted) when dropped. Binaries come from Debian's packages (`postgresql`,
//! `redis-server`); `.ci/run` installs them. A missing binary is reported with the package to
//! install, never skipped silently.
#![warn(missing_docs)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

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
        run(pg_command(&bin, "initdb")
            .args(["-D"])
            .arg(&data)
            .args(["-U", "venom", "-A", "trust", "--no-sync", "-E", "UTF8"]));
        let port = free_port();
        let server = PgServer {
            port,
            bin,
            data,
            folder,
        };
        server.restart();
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
        let folder = self.folder.path();
        run(pg_command(&self.bin, "pg_ctl")
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
            .arg("start"));
        wait_for_port(self.port);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
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
    pub fn start() -> RedisServer {
        let folder = tempfile::tempdir().expect("temporary folder");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(folder.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}); install Debian's `redis-server` package")
            });
        wait_for_port(port);
        RedisServer {
            port,
            child,
            _folder: folder,
        }
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
        command.args(["-u", "postgres", "--"]).arg(bin.join(program));
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
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
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
