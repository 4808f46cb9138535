//! The PostgreSQL transaction proxy ([`PgProxy`]): client connections ([`client`]) take turns
//! ([`turn`]) on one upstream session ([`upstream`]) whose transaction is never committed; the
//! clients' transactions are mapped onto savepoints ([`tx`]), recognised with a small SQL lexer
//! ([`sql`]), over the wire protocol framing of [`wire`].

mod client;
mod client_io;
mod names;
mod sql;
mod tags;
mod turn;
mod tx;
mod upstream;
mod wire;

use super::sequence::{self, Position};
use super::{observe_postgres, PgObserveSpec};
use crate::SqlQuery;
use crate::{Observer, StateAdapter};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::time::timeout;
use upstream::{Target, Upstream};
use venom_engine::{CheckpointId, CheckpointMode, Mechanism, Observation, WorldError};

/// Rows of a query, every value as text (`None` for NULL).
type Rows = Vec<Vec<Option<String>>>;

/// What the proxy thread hands back once it serves: its address, runtime and shared state.
type Started = (SocketAddr, Handle, Arc<Shared>);

/// Limits of a [`PgProxy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgProxyOptions {
    /// How long a checkpoint, rollback or observation waits for the API's connections to let go
    /// of the upstream session (a request being served, or a transaction left open) before it
    /// fails. Default: 5 s.
    pub session_wait: Duration,
    /// The longest single wait on the upstream server (connecting, sending, each response) and
    /// on a client reading its answers. Default: 30 s.
    pub upstream_timeout: Duration,
}

impl Default for PgProxyOptions {
    fn default() -> Self {
        PgProxyOptions {
            session_wait: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The PostgreSQL transaction proxy: venom listens on a loopback port speaking the PostgreSQL
/// wire protocol, the API under test points its `DATABASE_URL` at it, and every client
/// connection is served inside one upstream transaction that is never committed.
///
/// The API's own transactions become savepoints of that transaction, so a checkpoint is
/// `SAVEPOINT venom_cp_<n>` and a rollback is `ROLLBACK TO SAVEPOINT venom_cp_<n>`: restoring a
/// state costs one round trip whatever the size of the database, but only the checkpoints on
/// the current path can be restored ([`CheckpointMode::StackOnly`]: depth-first strategies).
/// Sequences, which no rollback undoes, are read in the checkpoint's round trip and set back in
/// the rollback's, so the ids the API hands out after a rollback are those it handed out the
/// first time.
///
/// # Scheduling
///
/// There is one upstream session, so client requests are serialised on it: a client holds the
/// session for a *turn* — from its first message after `ReadyForQuery` to the upstream's
/// `ReadyForQuery` for its `Sync` or `Query` — and, while it keeps an explicit transaction open,
/// until that transaction ends; the other clients wait (first come, first served). venom's own
/// checkpoints, rollbacks and observations run between turns, and fail with a clear error when
/// a client keeps a transaction open longer than [`PgProxyOptions::session_wait`].
///
/// # What clients see
///
/// - Startup: no TLS (`SSLRequest` is answered `N`), no authentication (any user is accepted),
///   and the database must be the upstream's; the server's `ParameterStatus` values are
///   reported as the upstream sent them. Protocol 3.0.
/// - Simple and extended query protocols, `COPY`, pipelining. Named prepared statements and
///   portals are private to each connection (renamed `c<id>_<name>` upstream, closed when the
///   connection ends); the unnamed ones do not survive another client's turn.
/// - `DEALLOCATE [PREPARE] ALL` (as drivers send after a `ROLLBACK`, e.g. psycopg 3) closes the
///   connection's own prepared statements only, with PostgreSQL's tag `DEALLOCATE ALL` (and its
///   error 25P02 in a failed transaction). `DEALLOCATE name` drops the connection's statement
///   `name` when it prepared one with `Parse`; otherwise `name` is a SQL-level `PREPARE`d
///   statement (see the limitations) and is dropped as such, the server answering 26000 when
///   there is none. Names starting with `venom_` or shaped like `c<n>_…` always designate the
///   connection's own statements, so a client can never drop the proxy's or another client's.
/// - `DISCARD ALL` alone in a query string, outside a transaction block, closes the connection's
///   own prepared statements and portals and answers `DISCARD ALL` (what connection pools
///   expect of it); the rest of the session state it would reset is shared (see below). In a
///   transaction block it fails as PostgreSQL does (25001).
/// - `BEGIN`/`START TRANSACTION`, `COMMIT`/`END`, `ROLLBACK`/`ABORT` (also `AND CHAIN`) behave as
///   on a real server, with the same command tags, warnings and transaction status; statements
///   outside a transaction are atomic, and their errors (SQLSTATE, message, position…) are passed
///   through as the server sent them. Deferred constraints are checked when the client commits.
/// - A cancel request is forwarded to the upstream session when its client's turn is running,
///   and ignored otherwise.
///
/// # Limitations
///
/// - Session state is shared by all clients: `SET`, temporary tables, advisory locks, `LISTEN`,
///   SQL-level `PREPARE`/`EXECUTE` names (not renamed; `DEALLOCATE ALL` and `DISCARD ALL` leave
///   them alone, `DEALLOCATE name` drops them); startup options sent by clients (`options`,
///   `client_encoding`…) are ignored (the upstream session uses UTF8).
/// - `NOTIFY` is never delivered (nothing commits); statements that cannot run in a transaction
///   block (`VACUUM`, `CREATE DATABASE`, `CREATE INDEX CONCURRENTLY`) fail as they would inside
///   one; `BEGIN ISOLATION LEVEL …` runs at the upstream transaction's level;
///   `PREPARE TRANSACTION` is refused; a sequence not called since its start (or a `RESTART`) is
///   rolled back to its start value, even if `setval(…, false)` had moved it.
/// - Savepoint and statement names starting with `venom_` are the proxy's; `DEALLOCATE` of a
///   Unicode-escaped name (`U&"…"`) is refused (0A000).
/// - Upstream: one TCP host, no TLS.
///
/// It is also the [`StateAdapter`] of that state. It runs on a thread of its own with its own
/// tokio runtime; dropping it stops it and closes the upstream connection, which discards every
/// change made through it.
pub struct PgProxy {
    addr: SocketAddr,
    handle: Handle,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    observe: PgObserveSpec,
    /// Checkpoints taken and not discarded, oldest first.
    stack: Vec<Saved>,
    next_id: u64,
}

/// A checkpoint on the savepoint stack.
#[derive(Debug)]
struct Saved {
    id: CheckpointId,
    /// Whether venom released it (it goes once nothing above it is kept).
    released: bool,
    /// The sequences' positions when it was taken, set back by a rollback to it.
    sequences: Vec<(u32, Position)>,
}

impl std::fmt::Debug for PgProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.target.describe())
            .field("checkpoints", &self.stack.len())
            .finish()
    }
}

impl PgProxy {
    /// Connects to `upstream_url` (a `postgres://` URL or `key=value` string; one TCP host,
    /// no TLS), opens the upstream transaction and listens on `listen`, which must be a loopback
    /// address (port 0 picks a free one). `observe` is what [`Observer::observe`] reports.
    pub fn start(
        upstream_url: &str,
        listen: SocketAddr,
        observe: PgObserveSpec,
    ) -> Result<PgProxy, WorldError> {
        PgProxy::start_with(upstream_url, listen, observe, PgProxyOptions::default())
    }

    /// [`PgProxy::start`] with explicit limits.
    pub fn start_with(
        upstream_url: &str,
        listen: SocketAddr,
        observe: PgObserveSpec,
        options: PgProxyOptions,
    ) -> Result<PgProxy, WorldError> {
        if !listen.ip().is_loopback() {
            return Err(WorldError::new(format!(
                "the transaction proxy listens on loopback addresses only, not {listen}"
            )));
        }
        let target = Target::from_url(upstream_url)?;
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let start_wait = options.upstream_timeout * 3 + Duration::from_secs(5);
        let thread = std::thread::Builder::new()
            .name("venom-pg-proxy".to_string())
            .spawn(move || run(target, listen, options, ready_tx, stop_rx))
            .map_err(|e| {
                WorldError::new(format!("cannot start the transaction proxy thread: {e}"))
            })?;
        let (addr, handle, shared) = match ready_rx.recv_timeout(start_wait) {
            Ok(Ok(started)) => started,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                return Err(WorldError::new(
                    "the transaction proxy did not start in time".to_string(),
                ))
            }
        };
        Ok(PgProxy {
            addr,
            handle,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
            observe,
            stack: Vec::new(),
            next_id: 1,
        })
    }

    /// The address the proxy listens on, for the API's `DATABASE_URL`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `command` on the upstream session between client turns, from this (synchronous)
    /// thread, waiting a bounded time for the answer.
    fn call(&self, command: Command) -> Result<Rows, WorldError> {
        let (tx, rx) = mpsc::channel();
        let shared = self.shared.clone();
        self.handle.spawn(async move {
            let _ = tx.send(execute(shared, command).await);
        });
        let options = &self.shared.options;
        let limit = options.session_wait + options.upstream_timeout * 4;
        match rx.recv_timeout(limit) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(WorldError::new(format!(
                "the transaction proxy did not answer within {limit:?}"
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(WorldError::new(
                "the transaction proxy has stopped".to_string(),
            )),
        }
    }

    /// Releases the released checkpoints on top of the stack, which merges their changes into
    /// the checkpoint below (or the upstream transaction) and frees their subtransactions.
    fn release_top(&mut self) {
        while let Some(&Saved {
            id, released: true, ..
        }) = self.stack.last()
        {
            if self.call(Command::Release(id.0)).is_err() {
                return;
            }
            self.stack.pop();
        }
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Observer for PgProxy {
    fn observe(&mut self) -> Result<Observation, WorldError> {
        let spec = self.observe.clone();
        observe_postgres(self, &spec)
    }
}

impl SqlQuery for PgProxy {
    /// Runs `sql` on the upstream session between client turns, so it sees the uncommitted
    /// state the API sees; a failing query does not disturb that state.
    fn query_text(&mut self, sql: &str) -> Result<Rows, WorldError> {
        self.call(Command::Query(sql.to_string()))
    }
}

impl StateAdapter for PgProxy {
    fn mechanism(&self) -> String {
        Mechanism::PostgresProxy.name().to_string()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        Mechanism::PostgresProxy.checkpoint_mode()
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        let id = CheckpointId(self.next_id);
        let positions = self.call(Command::Savepoint(id.0))?;
        self.next_id += 1;
        self.stack.push(Saved {
            id,
            released: false,
            sequences: sequence::positions_by_oid(&positions),
        });
        Ok(id)
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let Some(position) = self
            .stack
            .iter()
            .position(|saved| saved.id == id && !saved.released)
        else {
            return Err(WorldError::new(format!(
                "checkpoint {} is not on the transaction proxy's savepoint stack: it was released, \
                 or discarded by a rollback to an earlier checkpoint (savepoints can only restore \
                 an ancestor of the current state)",
                id.0
            )));
        };
        let restore = sequence::restore_by_oid(&self.stack[position].sequences);
        self.call(Command::RollbackTo(id.0, restore))?;
        // PostgreSQL destroyed the savepoints taken after it.
        self.stack.truncate(position + 1);
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        if let Some(saved) = self.stack.iter_mut().find(|saved| saved.id == id) {
            saved.released = true;
        }
        self.release_top();
    }
}

/// What venom asks of the upstream session.
#[derive(Debug)]
enum Command {
    /// Takes savepoint `venom_cp_<n>`; answers the sequences' positions.
    Savepoint(u64),
    /// Rolls back to savepoint `venom_cp_<n>`, then runs the statement that sets the sequences
    /// back, if any.
    RollbackTo(u64, Option<String>),
    Release(u64),
    Query(String),
}

/// Runs `command` once no client holds the session.
async fn execute(shared: Arc<Shared>, command: Command) -> Result<Rows, WorldError> {
    let wait = shared.options.session_wait;
    let Ok(mut up) = timeout(wait, shared.session.clone().lock_owned()).await else {
        return Err(shared.busy(wait));
    };
    if let Some(lost) = shared.lost() {
        return Err(WorldError::new(lost));
    }
    // Each batch: its first statement, then statements that fail only in unusual cases (a
    // privilege revoked mid-run), undone by `recover` so the session stays usable.
    let (batch, recover, what) = match command {
        Command::Savepoint(id) => (
            vec![
                format!("SAVEPOINT venom_cp_{id}"),
                sequence::POSITIONS_BY_OID.to_string(),
            ],
            format!("ROLLBACK TO SAVEPOINT venom_cp_{id}; RELEASE SAVEPOINT venom_cp_{id}"),
            "checkpoint",
        ),
        Command::RollbackTo(id, restore) => {
            let rollback = format!("ROLLBACK TO SAVEPOINT venom_cp_{id}");
            let batch = std::iter::once(rollback.clone()).chain(restore).collect();
            (batch, rollback, "rollback")
        }
        Command::Release(id) => (
            vec![format!("RELEASE SAVEPOINT venom_cp_{id}")],
            String::new(),
            "release",
        ),
        Command::Query(sql) => return query(&shared, &mut up, &sql).await,
    };
    let statements: Vec<&str> = batch.iter().map(String::as_str).collect();
    let mut outcomes = match up.simple(&statements).await {
        Ok(outcomes) => outcomes,
        Err(e) => return Err(WorldError::new(shared.lose(&e))),
    };
    let Some(error) = outcomes.iter().find_map(|o| o.error.clone()) else {
        return Ok(outcomes.pop().map(|o| o.rows).unwrap_or_default());
    };
    let first_ran = outcomes.first().is_some_and(|o| o.error.is_none());
    if first_ran && !recover.is_empty() {
        if let Err(e) = up.simple(&[&recover]).await {
            return Err(WorldError::new(shared.lose(&e)));
        }
    }
    Err(WorldError::new(format!(
        "transaction proxy {what}: {error}"
    )))
}

/// Runs `sql` inside a savepoint of its own, rolled back to if the query fails.
async fn query(shared: &Shared, up: &mut Upstream, sql: &str) -> Result<Rows, WorldError> {
    let batch = [
        "SAVEPOINT venom_query",
        sql,
        "RELEASE SAVEPOINT venom_query",
    ];
    let mut outcomes = match up.simple(&batch).await {
        Ok(outcomes) => outcomes,
        Err(e) => return Err(WorldError::new(shared.lose(&e))),
    };
    let result = outcomes.swap_remove(1);
    if let Some(error) = result.error {
        let undo = "ROLLBACK TO SAVEPOINT venom_query; RELEASE SAVEPOINT venom_query";
        if let Err(e) = up.simple(&[undo]).await {
            return Err(WorldError::new(shared.lose(&e)));
        }
        return Err(WorldError::new(error));
    }
    Ok(result.rows)
}

/// The proxy thread: its runtime, the upstream connection, then the accept loop until stopped.
fn run(
    target: Target,
    listen: SocketAddr,
    options: PgProxyOptions,
    ready: mpsc::Sender<Result<Started, WorldError>>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(WorldError::new(format!(
                "cannot start a tokio runtime: {e}"
            ))));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                let _ = ready.send(Err(WorldError::new(format!(
                    "cannot listen on {listen}: {e}"
                ))));
                return;
            }
        };
        let connected = async {
            let addr = listener.local_addr()?;
            let mut up = Upstream::connect(&target, options.upstream_timeout).await?;
            up.begin().await?;
            Ok::<_, io::Error>((addr, up))
        };
        let (addr, up) = match connected.await {
            Ok(started) => started,
            Err(e) => {
                let _ = ready.send(Err(WorldError::new(format!(
                    "the transaction proxy cannot open its upstream session on {}: {e}",
                    target.describe()
                ))));
                return;
            }
        };
        let shared = Arc::new(Shared::new(target, options, up));
        if ready
            .send(Ok((addr, Handle::current(), shared.clone())))
            .is_err()
        {
            return;
        }
        serve(listener, shared, stop).await;
    });
}

/// Accepts client connections until `stop`, then ends the upstream session.
async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(client::serve(shared.clone(), stream));
                }
                // Out of file descriptors, or a connection reset before it was accepted.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    // Closing the session rolls back everything; say goodbye when nobody is using it.
    if let Ok(mut up) = shared.session.clone().try_lock_owned() {
        up.terminate().await;
    }
}

/// State shared by the client connections and venom's commands.
struct Shared {
    /// The upstream session; holding its lock is holding the session.
    session: Arc<tokio::sync::Mutex<Upstream>>,
    target: Target,
    options: PgProxyOptions,
    /// The upstream's `BackendKeyData`, for cancel requests.
    upstream_key: (i32, i32),
    /// Current `ParameterStatus` values, reported to new clients.
    params: Mutex<Vec<(String, String)>>,
    /// Why the upstream session was lost, once it was.
    lost: Mutex<Option<String>>,
    /// The client keeping an explicit transaction open, and since when.
    holder: Mutex<Option<(i32, Instant)>>,
    /// The client whose turn is running (0: none).
    turn: AtomicI32,
    /// Connected clients' cancel secrets.
    clients: Mutex<HashMap<i32, i32>>,
    next_client: AtomicI32,
}

impl Shared {
    fn new(target: Target, options: PgProxyOptions, up: Upstream) -> Shared {
        Shared {
            upstream_key: up.key,
            params: Mutex::new(up.params.clone()),
            session: Arc::new(tokio::sync::Mutex::new(up)),
            target,
            options,
            lost: Mutex::new(None),
            holder: Mutex::new(None),
            turn: AtomicI32::new(0),
            clients: Mutex::new(HashMap::new()),
            next_client: AtomicI32::new(1),
        }
    }

    fn params(&self) -> Vec<(String, String)> {
        lock(&self.params).clone()
    }

    fn set_param(&self, name: String, value: String) {
        let mut params = lock(&self.params);
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some(param) => param.1 = value,
            None => params.push((name, value)),
        }
    }

    /// Why the upstream session was lost, if it was.
    fn lost(&self) -> Option<String> {
        lock(&self.lost).clone()
    }

    /// Records that the upstream session failed with `cause`; returns the message to report.
    fn lose(&self, cause: &io::Error) -> String {
        let mut lost = lock(&self.lost);
        lost.get_or_insert_with(|| {
            format!(
                "the upstream PostgreSQL connection was lost: {cause}; the exploration state is \
                 gone (nothing done through the transaction proxy was committed)"
            )
        })
        .clone()
    }

    fn set_holder(&self, client: Option<i32>) {
        let mut holder = lock(&self.holder);
        match client {
            Some(id) if holder.is_some_and(|(h, _)| h == id) => {}
            Some(id) => *holder = Some((id, Instant::now())),
            None => *holder = None,
        }
    }

    fn set_turn(&self, client: i32) {
        self.turn.store(client, Ordering::SeqCst);
    }

    /// The error for a command that waited `wait` for the session.
    fn busy(&self, wait: Duration) -> WorldError {
        if let Some((id, since)) = *lock(&self.holder) {
            return WorldError::new(format!(
                "API connection #{id} has kept a transaction open for {:.1} s; the transaction \
                 proxy can only checkpoint, roll back or observe between the API's transactions \
                 (does a request leave a transaction open?)",
                since.elapsed().as_secs_f64()
            ));
        }
        WorldError::new(format!(
            "the transaction proxy's upstream session stayed busy with an API request for more \
             than {wait:?}"
        ))
    }

    /// A new client's id and cancel secret.
    fn register_client(&self) -> (i32, i32) {
        let id = self.next_client.fetch_add(1, Ordering::SeqCst);
        let secret = RandomState::new().build_hasher().finish() as i32;
        lock(&self.clients).insert(id, secret);
        (id, secret)
    }

    fn forget_client(&self, id: i32) {
        lock(&self.clients).remove(&id);
    }

    /// Whether a cancel request for client `pid` is genuine and its turn is running.
    fn may_cancel(&self, pid: i32, secret: i32) -> bool {
        lock(&self.clients).get(&pid) == Some(&secret) && self.turn.load(Ordering::SeqCst) == pid
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
