//! The demo server: its thread, runtime, routes and shutdown.

use crate::db::{init_fresh, init_fresh_postgres, Backend, Shared};
use crate::handlers::*;
use crate::notes;
use axum::{
    routing::{get, post},
    Router,
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

/// How long a graceful shutdown may wait for open connections before the server is stopped anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The demo API running in a background thread with its own tokio runtime.
///
/// Dropping it (or calling [`DemoServer::shutdown`]) stops the server gracefully and joins the thread.
#[derive(Debug)]
pub struct DemoServer {
    /// The address the server listens on (a loopback address; by default `127.0.0.1` and an
    /// ephemeral port).
    pub addr: SocketAddr,
    /// The SQLite file holding the server's whole state; empty for a server started on
    /// PostgreSQL with [`DemoServer::start_postgres_at`].
    pub db_path: PathBuf,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl DemoServer {
    /// Creates/initialises the schema in `db_path` (fresh, empty tables) and serves on
    /// `127.0.0.1:0` in a background thread with its own tokio runtime. Returns once the listener
    /// is bound.
    pub fn start(db_path: &Path) -> std::io::Result<DemoServer> {
        DemoServer::start_at(db_path, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Like [`DemoServer::start`], but serves on `addr` (port 0 picks an ephemeral port; the
    /// bound address is in [`DemoServer::addr`]).
    ///
    /// The demo API has planted bugs and an unauthenticated `/admin/reset`, so only loopback
    /// addresses are accepted: any other address fails with [`std::io::ErrorKind::InvalidInput`]
    /// before the database is touched.
    pub fn start_at(db_path: &Path, addr: SocketAddr) -> std::io::Result<DemoServer> {
        DemoServer::start_slow_at(db_path, addr, Duration::ZERO)
    }

    /// Like [`DemoServer::start_at`], but every request waits `latency` before it is handled
    /// (the latency of a real API, for benchmarks).
    pub fn start_slow_at(
        db_path: &Path,
        addr: SocketAddr,
        latency: Duration,
    ) -> std::io::Result<DemoServer> {
        refuse_non_loopback(addr)?;
        init_fresh(db_path).map_err(std::io::Error::other)?;
        DemoServer::serve(
            Backend::sqlite(db_path.to_path_buf()),
            addr,
            db_path,
            latency,
        )
    }

    /// Like [`DemoServer::start_at`], but the state lives in the PostgreSQL database at
    /// `database_url` (a `postgres://` URL): the demo tables are dropped and created again, empty,
    /// before the server listens.
    pub fn start_postgres_at(database_url: &str, addr: SocketAddr) -> std::io::Result<DemoServer> {
        DemoServer::start_slow_postgres_at(database_url, addr, Duration::ZERO)
    }

    /// Like [`DemoServer::start_postgres_at`], with [`DemoServer::start_slow_at`]'s `latency`.
    pub fn start_slow_postgres_at(
        database_url: &str,
        addr: SocketAddr,
        latency: Duration,
    ) -> std::io::Result<DemoServer> {
        refuse_non_loopback(addr)?;
        let url = database_url.to_string();
        // The sync client runs its own runtime, which must not nest in the caller's.
        std::thread::scope(|scope| {
            scope
                .spawn(|| init_fresh_postgres(&url))
                .join()
                .unwrap_or_else(|_| Err("the database initialisation panicked".into()))
        })
        .map_err(std::io::Error::other)?;
        DemoServer::serve(Backend::postgres(url), addr, Path::new(""), latency)
    }

    /// Binds `addr` and serves `backend` in a background thread with its own tokio runtime.
    fn serve(
        backend: Backend,
        addr: SocketAddr,
        db_path: &Path,
        latency: Duration,
    ) -> std::io::Result<DemoServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("venom-demo-worker")
            .enable_all()
            .build()?;
        let state = Arc::new(backend);
        let mut app = app(Arc::clone(&state));
        if !latency.is_zero() {
            app = app.layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                    tokio::time::sleep(latency).await;
                    next.run(request).await
                },
            ));
        }
        let (tx, rx) = tokio::sync::watch::channel(false);

        let thread = std::thread::Builder::new()
            .name("venom-demo".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(_) => return,
                    };
                    let graceful = axum::serve(listener, app)
                        .with_graceful_shutdown(wait_for_stop(rx.clone()));
                    let deadline = async move {
                        wait_for_stop(rx).await;
                        tokio::time::sleep(SHUTDOWN_GRACE).await;
                    };
                    tokio::select! {
                        _ = graceful => {}
                        _ = deadline => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
                // Dropped here, outside the runtime: a PostgreSQL client must not be dropped
                // inside one.
                drop(state);
            })?;

        Ok(DemoServer {
            addr,
            db_path: db_path.to_path_buf(),
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully and joins its thread (dropping the server does the same).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Fails with [`std::io::ErrorKind::InvalidInput`] unless `addr` is a loopback address.
pub(crate) fn refuse_non_loopback(addr: SocketAddr) -> std::io::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "refusing to listen on {addr}: the demo API only listens on loopback addresses \
             (127.0.0.0/8 or ::1)"
        ),
    ))
}

pub(crate) async fn wait_for_stop(mut rx: tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone, which also means "stop".
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The demo API as an axum [`Router`] over the SQLite file `db_path`, for embedding.
///
/// The schema is created (if missing) when the first request opens the database; existing data
/// is kept. Use [`DemoServer::start`] for a fresh database.
pub fn router(db_path: PathBuf) -> Router {
    app(Arc::new(Backend::sqlite(db_path)))
}

pub(crate) fn app(state: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi_document))
        .route("/orders", post(create_order).get(list_orders))
        .route("/orders/{id}", get(get_order).delete(delete_order))
        .route("/orders/{id}/pay", post(pay_order))
        .route("/orders/{id}/refunds", post(refund_order))
        .route("/orders/{id}/refund-rest", post(refund_rest))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/admin/reset", post(admin_reset))
        .route("/users", post(notes::register))
        .route("/login", post(notes::login))
        .route("/notes", post(notes::create_note).get(notes::list_notes))
        .route("/notes/{id}", get(notes::get_note).put(notes::update_note))
        .fallback(not_found_route)
        .with_state(state)
}
