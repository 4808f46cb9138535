//! Starting the API under test from the scenario's `[server]` command, waiting until it is
//! ready, and stopping it (with its whole process group) afterwards.

use crate::server_env::{server_env, EnvError};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use venom_scenario::{Scenario, ServerSpec};

/// The server's environment variable holding the port venom chose for `${VENOM_PORT}`.
pub const PORT_VAR: &str = "VENOM_PORT";
/// How long the check that the server's port is free waits for a connection.
const HELD_PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// Lines of the server's output kept for error messages.
const KEPT_LINES: usize = 20;
/// How long the server gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The server processes a run started and has not stopped yet, shared by the worlds that start
/// them and the interrupt handler that may have to kill them. An owned value, not a global: two
/// runs in one process (or one run's several copies of the system) each keep their own.
#[derive(Debug, Clone, Default)]
pub struct Processes {
    inner: Arc<ProcessesInner>,
}

#[derive(Debug, Default)]
struct ProcessesInner {
    /// Process groups of the started servers.
    started: Mutex<Vec<u32>>,
    /// Set when the user interrupts: servers still waiting for readiness give up, and the
    /// requests in flight are cancelled.
    abandon_startup: AtomicBool,
}

impl Processes {
    /// Makes every server start that is still waiting for readiness fail at once (first Ctrl-C).
    pub fn abandon_startup(&self) {
        self.inner.abandon_startup.store(true, Ordering::SeqCst);
    }

    /// Kills the process groups of all servers started and not yet stopped, for a process that
    /// is about to exit without unwinding (second Ctrl-C).
    pub fn kill_all(&self) {
        if let Ok(groups) = self.inner.started.lock() {
            for &pid in groups.iter() {
                signal_group(pid, libc::SIGKILL);
            }
        }
    }

    /// Whether the user interrupted the run.
    pub(crate) fn abandoned(&self) -> bool {
        self.inner.abandon_startup.load(Ordering::SeqCst)
    }

    fn add(&self, pid: u32) {
        if let Ok(mut groups) = self.inner.started.lock() {
            groups.push(pid);
        }
    }

    fn remove(&self, pid: u32) {
        if let Ok(mut groups) = self.inner.started.lock() {
            groups.retain(|&g| g != pid);
        }
    }
}

/// The server could not be started or never became ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A `[server].env` value could not be expanded.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// The command could not be spawned.
    #[error("cannot start the server `{command}` in {cwd}")]
    Spawn {
        /// The `[server]` command.
        command: String,
        /// Its working folder.
        cwd: String,
        /// Why spawning failed.
        #[source]
        source: std::io::Error,
    },
    /// Something already listens where the server is to answer: venom would test that process
    /// instead of the one it starts.
    #[error(
        "port {port} of {ready_url} is already held by another process, so venom would test that \
         process instead of the [server] `{command}`; stop it, or write `${{VENOM_PORT}}` as the \
         port in base_url to let venom choose a free one"
    )]
    PortHeld {
        /// The `[server]` command.
        command: String,
        /// The readiness URL.
        ready_url: String,
        /// Its port.
        port: u16,
    },
    /// No free port could be found for `${VENOM_PORT}`.
    #[error("cannot choose a free port for ${{VENOM_PORT}}")]
    NoFreePort(#[source] std::io::Error),
    /// The process ended before its readiness URL answered.
    #[error("the server `{command}` exited ({status}) before it was ready at {ready_url}{output}")]
    Exited {
        /// The `[server]` command.
        command: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// The readiness URL.
        ready_url: String,
        /// Its last output lines, formatted.
        output: String,
    },
    /// The readiness URL did not answer below 500 in time.
    #[error(
        "the server `{command}` was not ready at {ready_url} after {timeout:?} (it must answer \
         with a status below 500){output}"
    )]
    NotReady {
        /// The `[server]` command.
        command: String,
        /// The readiness URL.
        ready_url: String,
        /// The readiness timeout.
        timeout: Duration,
        /// Its last output lines, formatted.
        output: String,
    },
    /// The user interrupted while the server was starting.
    #[error("interrupted while waiting for the server `{command}` to be ready")]
    Interrupted {
        /// The `[server]` command.
        command: String,
    },
}

/// A running API server process, stopped when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    output: Arc<Mutex<VecDeque<String>>>,
    processes: Processes,
}

impl ServerProcess {
    /// Starts `spec.command` with `sh -c` in its own process group, registered in `processes`,
    /// and waits until `spec.ready_url` answers with a status below 500, at most
    /// `spec.ready_timeout`. `extra` environment variables (e.g. `VENOM_PROXY_URL`) are set for
    /// it, and `[server].env` values can reference them as `${NAME}`.
    pub fn start(
        spec: &ServerSpec,
        extra: &[(String, String)],
        processes: &Processes,
    ) -> Result<ServerProcess, ServerError> {
        if let Some(port) = held_port(&spec.ready_url) {
            return Err(ServerError::PortHeld {
                command: spec.command.clone(),
                ready_url: spec.ready_url.clone(),
                port,
            });
        }
        let env = server_env(&spec.env, extra)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.cwd)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| ServerError::Spawn {
                command: spec.command.clone(),
                cwd: spec.cwd.display().to_string(),
                source,
            })?;
        processes.add(child.id());
        let output = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stdout) = child.stdout.take() {
            keep_tail(stdout, Arc::clone(&output));
        }
        if let Some(stderr) = child.stderr.take() {
            keep_tail(stderr, Arc::clone(&output));
        }
        let mut server = ServerProcess {
            child,
            output,
            processes: processes.clone(),
        };
        server.wait_ready(spec)?;
        Ok(server)
    }

    fn wait_ready(&mut self, spec: &ServerSpec) -> Result<(), ServerError> {
        let deadline = Instant::now() + spec.ready_timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ServerError::Exited {
                    command: spec.command.clone(),
                    status,
                    ready_url: spec.ready_url.clone(),
                    output: self.output_tail(),
                });
            }
            // Ready only while the process still runs: an answer from a process that took the
            // port meanwhile is not this server's.
            if is_ready(&spec.ready_url) && matches!(self.child.try_wait(), Ok(None)) {
                return Ok(());
            }
            if self.processes.abandoned() {
                return Err(ServerError::Interrupted {
                    command: spec.command.clone(),
                });
            }
            if Instant::now() >= deadline {
                return Err(ServerError::NotReady {
                    command: spec.command.clone(),
                    ready_url: spec.ready_url.clone(),
                    timeout: spec.ready_timeout,
                    output: self.output_tail(),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// How the process ended and its last output lines, if it has ended.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{status}{}", self.output_tail())),
            _ => None,
        }
    }

    /// The last lines the server printed, formatted for an error message.
    fn output_tail(&self) -> String {
        let lines = self.output.lock().map(|l| l.clone()).unwrap_or_default();
        if lines.is_empty() {
            return String::new();
        }
        let body: Vec<String> = lines.iter().map(|l| format!("  | {l}")).collect();
        format!("; its last output:\n{}", body.join("\n"))
    }

    /// Stops the server: SIGTERM to its process group, SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let pid = self.child.id();
        self.processes.remove(pid);
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal_group(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        signal_group(pid, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group we created with
        // `process_group(0)`; it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, signal);
        }
    }
}

/// Reads `stream` line by line in a thread, keeping the last [`KEPT_LINES`].
fn keep_tail(stream: impl Read + Send + 'static, lines: Arc<Mutex<VecDeque<String>>>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut kept) = lines.lock() {
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        }
    });
}

/// The scenario as this run reaches it: when its `base_url` leaves the port to venom
/// (`${VENOM_PORT}`), a free port is chosen and put in place, and the server's environment
/// gets it as `VENOM_PORT` (returned to pass to [`ServerProcess::start`]).
pub fn choose_port(scenario: &Scenario) -> Result<(Scenario, Vec<(String, String)>), ServerError> {
    if !scenario.chooses_port() {
        return Ok((scenario.clone(), Vec::new()));
    }
    let port = free_port()?;
    Ok((
        scenario.on_port(port),
        vec![(PORT_VAR.to_string(), port.to_string())],
    ))
}

/// The most ports [`free_port`] asks the system for before it gives up on finding one it has
/// not handed out lately.
const PORT_ATTEMPTS: usize = 64;
/// How many of the ports handed out last [`free_port`] will not hand out again (far more
/// than the servers of one run: at most one per worker).
const RECENT_PORTS: usize = 1024;

/// A free loopback port that this process has not handed out lately: the system may give the
/// same free port to two binds in a row, and the workers of one run choose theirs at the same
/// moment, before any server holds one.
fn free_port() -> Result<u16, ServerError> {
    static RECENT: Mutex<VecDeque<u16>> = Mutex::new(VecDeque::new());
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..PORT_ATTEMPTS {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .map_err(ServerError::NoFreePort)?
            .port();
        if !recent.contains(&port) {
            if recent.len() == RECENT_PORTS {
                recent.pop_front();
            }
            recent.push_back(port);
            return Ok(port);
        }
    }
    Err(ServerError::NoFreePort(std::io::Error::other(format!(
        "the system offered only ports this run already uses, {PORT_ATTEMPTS} times"
    ))))
}

/// The port of `url` when something already accepts connections there.
fn held_port(url: &str) -> Option<u16> {
    let url = reqwest::Url::parse(url).ok()?;
    let port = url.port_or_known_default()?;
    let mut addresses = (url.host_str()?, port).to_socket_addrs().ok()?;
    addresses
        .any(|address| TcpStream::connect_timeout(&address, HELD_PROBE_TIMEOUT).is_ok())
        .then_some(port)
}

/// One readiness probe: a GET with a short timeout answered below 500.
fn is_ready(url: &str) -> bool {
    let probe = || -> Option<bool> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(1))
                .build()
                .ok()?;
            let response = client.get(url).send().await.ok()?;
            Some(response.status().as_u16() < 500)
        })
    };
    probe().unwrap_or(false)
}
