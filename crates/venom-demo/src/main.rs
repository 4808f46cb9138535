//! `venom-demo`: serves the demo orders / payments / refunds API (with its planted bugs) as a
//! separate process, so `venom explore examples/demo.toml` can run against it.
//!
//! ```text
//! venom-demo --listen 127.0.0.1:8080 --db /tmp/demo.db
//! ```
//!
//! The database file is (re)initialised with fresh, empty tables. The server runs until SIGTERM
//! or SIGINT (Ctrl-C), then stops gracefully. Only loopback addresses are accepted.

use clap::Parser;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use venom_demo::DemoServer;

/// Serves the venom demo API (orders, payments, refunds, with five planted bugs) until SIGTERM
/// or Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "venom-demo", version, about, long_about = None)]
#[command(
    after_help = "Point a scenario at it: base_url = \"http://ADDR\" and, for the sqlite rollback, \
sqlite_path = FILE (examples/demo.toml).\n\nExit status: 0 stopped by a signal; 1 the server \
could not start; 2 invalid arguments."
)]
struct Args {
    /// The loopback address to listen on (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", value_parser = loopback_addr)]
    listen: SocketAddr,
    /// The SQLite file holding the API's state; it is reset to empty tables at start.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
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
    runtime.block_on(async {
        // Listen for the signals before the server is announced, so none is missed.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| format!("cannot handle SIGINT: {e}"))?;

        let server = DemoServer::start_at(&args.db, args.listen).map_err(|e| {
            format!(
                "cannot serve on {} with database {}: {e}",
                args.listen,
                args.db.display()
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
