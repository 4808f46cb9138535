//! `venom-demo`: serves the demo orders / payments / refunds API (with its planted bugs) as a
//! separate process, so `venom explore examples/demo.toml` can run against it.
//!
//! ```text
//! venom-demo --listen 127.0.0.1:8080 --db /tmp/demo.db
//! venom-demo --listen 127.0.0.1:8080 --database-url postgres://USER@127.0.0.1:5432/demo
//! ```
//!
//! The database (a SQLite file, or a PostgreSQL database) is (re)initialised with fresh, empty
//! tables. The server runs until SIGTERM or SIGINT (Ctrl-C), then stops gracefully. Only
//! loopback addresses are accepted.

use clap::{ArgGroup, Parser};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use venom_demo::DemoServer;

/// Serves the venom demo API (orders, payments, refunds; users and private notes; its own
/// OpenAPI document at /openapi.json; eight planted bugs) until SIGTERM or Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "venom-demo", version, about, long_about = None)]
#[command(group = ArgGroup::new("database").required(true).multiple(false))]
#[command(
    after_help = "Point a scenario at it: base_url = \"http://ADDR\" and, for the sqlite rollback, \
sqlite_path = FILE (examples/demo.toml); with --database-url, use the postgres rollback \
instead.\n\nExit status: 0 stopped by a signal; 1 the server \
could not start; 2 invalid arguments."
)]
struct Args {
    /// The loopback address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", value_parser = loopback_addr)]
    listen: SocketAddr,
    /// The SQLite file holding the API's state; it is reset to empty tables at start.
    #[arg(long, value_name = "FILE", group = "database")]
    db: Option<PathBuf>,
    /// Instead of --db: the PostgreSQL database holding the API's state
    /// (`postgres://USER[:PASSWORD]@HOST:PORT/DB`); its demo tables are dropped and created
    /// again, empty, at start.
    #[arg(long, value_name = "URL", group = "database")]
    database_url: Option<String>,
    /// Wait this many milliseconds before handling each request (a real API's latency, for
    /// benchmarks; at most 10000).
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    latency: u64,
}

/// Parses `HOST:PORT` and accepts it only when every address it names is a loopback address.
fn loopback_addr(raw: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = match raw.parse::<SocketAddr>() {
        Ok(addr) => vec![addr],
        Err(_) => raw
            .to_socket_addrs()
            .map_err(|e| format!("expected HOST:PORT such as 127.0.0.1:8080 ({e})"))?
            .collect(),
    };
    match addrs.first() {
        None => Err(format!("`{raw}` names no address")),
        Some(_) if addrs.iter().any(|a| !a.ip().is_loopback()) => Err(format!(
            "`{raw}` is not a loopback address; the demo API (planted bugs, unauthenticated \
             /admin/reset) only listens on 127.0.0.0/8 or [::1]"
        )),
        Some(first) => Ok(*first),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("venom-demo: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let latency = std::time::Duration::from_millis(args.latency);
    runtime.block_on(async {
        // Listen for the signals before the server is announced, so none is missed.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| format!("cannot handle SIGINT: {e}"))?;

        let started = match (&args.db, &args.database_url) {
            (Some(db), _) => DemoServer::start_slow_at(db, args.listen, latency)
                .map_err(|e| (db.display().to_string(), e)),
            (None, Some(url)) => DemoServer::start_slow_postgres_at(url, args.listen, latency)
                .map_err(|e| ("at --database-url".to_string(), e)),
            (None, None) => unreachable!("clap requires --db or --database-url"),
        };
        let server = started.map_err(|(database, e)| {
            format!(
                "cannot serve on {} with database {database}: {e}",
                args.listen
            )
        })?;
        println!("venom-demo listening on {}", server.base_url());

        let signal = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        eprintln!("venom-demo: {signal} received, stopping");
        // Joining the server thread blocks; nothing else runs on this runtime any more.
        server.shutdown();
        Ok(())
    })
}
