//! Running the `venom` binary from end-to-end tests: spawning it with its output collected,
//! waiting with a limit, Ctrl-C, and small file helpers.
//!
//! Each test crate of this folder includes this module and uses part of it; what one crate
//! leaves unused is used by another, hence the `dead_code` allowance on the module.

#![allow(dead_code)]

pub mod demo;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The binary under test.
pub const VENOM: &str = env!("CARGO_BIN_EXE_venom");

/// The documented exit statuses (`venom --help`).
pub const EXIT_OK: i32 = 0;
pub const EXIT_VIOLATIONS: i32 = 1;
pub const EXIT_INVALID_INPUT: i32 = 2;
pub const EXIT_SETUP: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

/// What a finished `venom` run left behind.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Fails the test, showing the whole output, unless the exit status is `expected`.
    pub fn expect_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `venom ARGS` to completion (at most `limit`).
pub fn venom<I, S>(args: I, limit: Duration) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Running::spawn(args, &[]).finish(limit)
}

/// A `venom` process still running, its output being collected.
pub struct Running {
    child: Child,
    pub start: Instant,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    /// stderr, line by line, as it arrives.
    stderr_lines: mpsc::Receiver<String>,
}

impl Running {
    /// Starts `venom ARGS` with the environment variables `env` added.
    pub fn spawn<I, S>(args: I, env: &[(&str, &str)]) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let start = Instant::now();
        let mut child = Command::new(VENOM)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start venom");
        let stdout = read_all(child.stdout.take().expect("piped stdout"));
        let (lines_tx, stderr_lines) = mpsc::channel();
        let pipe = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = lines_tx.send(line);
            }
            all
        });
        Running {
            child,
            start,
            stdout,
            stderr,
            stderr_lines,
        }
    }

    /// Waits (at most `limit`) for a line of stderr starting with `prefix`.
    pub fn wait_for_stderr_line(&self, prefix: &str, limit: Duration) {
        self.wait_for_stderr(&format!("starting with `{prefix}`"), limit, |line| {
            line.starts_with(prefix)
        });
    }

    /// Waits (at most `limit`) for a line of stderr for which `wanted` holds (`what` describes
    /// it in the failure message); that line.
    pub fn wait_for_stderr(
        &self,
        what: &str,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!("venom printed no line {what} in {limit:?}"),
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends `signal` (e.g. SIGTERM, as `timeout` and CI cancellation do).
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our unreaped child.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    }

    /// Waits for the exit (at most `limit`, else kills venom and fails the test).
    pub fn finish(mut self, limit: Duration) -> Run {
        let status = wait_or_kill(&mut self.child, limit);
        let elapsed = self.start.elapsed();
        let stdout = self.stdout.join().expect("stdout reader");
        let stderr = self.stderr.join().expect("stderr reader");
        let Some(status) = status else {
            panic!(
                "venom did not finish within {limit:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
            );
        };
        Run {
            code: exit_code(status, &stderr),
            stdout,
            stderr,
            elapsed,
        }
    }
}

fn exit_code(status: ExitStatus, stderr: &str) -> i32 {
    status
        .code()
        .unwrap_or_else(|| panic!("venom was killed by a signal ({status})\n--- stderr\n{stderr}"))
}

fn read_all(mut stream: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    })
}

/// Waits for `child` at most `limit`; kills it and returns `None` when it is still running.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("cannot wait for the child process") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON file at `path`, parsed.
pub fn read_report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the report {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `text` to `dir/name`; its path.
pub fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("cannot write a test file");
    path
}

/// A new temporary folder.
pub fn tempdir() -> TempDir {
    tempfile::tempdir().expect("cannot create a temporary folder")
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The violations of a `venom explore` JSON report.
pub fn violations(report: &Value) -> &Vec<Value> {
    report["exploration"]["violations"]
        .as_array()
        .expect("exploration.violations is an array")
}

/// A bug planted in a demo target: the invariant it breaks, its severity and its shortest path.
pub type Planted = (&'static str, &'static str, &'static [&'static str]);

/// (invariant, shortest path) of every bug of `planted`, as [`found_bugs`] lists them.
pub fn bug_set(planted: &[Planted]) -> BTreeSet<(String, Vec<String>)> {
    planted
        .iter()
        .map(|(invariant, _, path)| {
            (
                invariant.to_string(),
                path.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

/// The report lists exactly the bugs of `planted`, each once, with its shortest path and its
/// severity, the path's last step as the breaking action and a captured exchange (request URL,
/// response status) for every step; a `no_server_errors` violation ends with a 500 answer.
///
/// Every path starts from the initial state, where the target never created an order, so its
/// first step's order has id 1: a rollback that left the id counter (a SQLite AUTOINCREMENT, a
/// PostgreSQL sequence) where a sibling branch had moved it would hand out a later id.
pub fn assert_found_exactly(report: &Value, planted: &[Planted]) {
    let violations = violations(report);
    assert_eq!(
        found_bugs(report),
        bug_set(planted),
        "violations: {violations:#?}"
    );
    for violation in violations {
        let invariant = violation["invariant"].as_str().unwrap();
        let (_, severity, _) = planted.iter().find(|(n, _, _)| *n == invariant).unwrap();
        assert_eq!(violation["severity"], *severity, "{invariant}");
        let path = violation["path"].as_array().unwrap();
        assert_eq!(
            violation["action"],
            path.last().unwrap()["action"],
            "{invariant}: the breaking action is the path's last step"
        );
        for step in path {
            let exchange = &step["exchange"];
            let status = exchange["response"]["status"].as_u64().unwrap_or_else(|| {
                panic!("{invariant}: step without a captured response status: {step:#}")
            });
            assert!((100..600).contains(&status), "{invariant}: status {status}");
            assert!(
                exchange["request"]["url"].as_str().is_some(),
                "{invariant}: step without a request URL: {step:#}"
            );
        }
        assert_eq!(
            path[0]["exchange"]["response"]["body"]["id"], 1,
            "{invariant}: the first order of its path"
        );
        if invariant == "no_server_errors" {
            let last = &path.last().unwrap()["exchange"]["response"]["status"];
            assert_eq!(*last, 500, "{invariant}: the path's last step answers 500");
        }
    }
}

/// (invariant, path action names) of every violation in `report`; fails on duplicates.
pub fn found_bugs(report: &Value) -> BTreeSet<(String, Vec<String>)> {
    let list = violations(report);
    let found: BTreeSet<(String, Vec<String>)> = list
        .iter()
        .map(|v| {
            let invariant = v["invariant"].as_str().expect("invariant").to_string();
            let path = v["path"]
                .as_array()
                .expect("path")
                .iter()
                .map(|step| step["action"].as_str().expect("action").to_string())
                .collect();
            (invariant, path)
        })
        .collect();
    assert_eq!(found.len(), list.len(), "duplicate violations: {list:#?}");
    found
}
