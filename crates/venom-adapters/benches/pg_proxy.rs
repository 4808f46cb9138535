//! Latency of `PgProxy` checkpoints (`SAVEPOINT`) and rollbacks (`ROLLBACK TO SAVEPOINT`) on
//! databases of 1k and 100k rows inserted through the proxy, with "the API"'s connection open
//! and a few rows changed and a sequence advanced through it between checkpoint and rollback (as
//! a depth-first exploration does). The database has three sequences, which every checkpoint
//! reads and every rollback sets back. For context it also times one autocommit statement of the API, through
//! the proxy and directly.
//!
//! Run with `cargo bench -p venom-adapters --bench pg_proxy` (PostgreSQL from venom-testkit).

use postgres::{Client, NoTls};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use venom_adapters::postgres::{PgObserveSpec, PgProxy};
use venom_adapters::StateAdapter;
use venom_testkit::PgServer;

/// Samples per figure.
const SAMPLES: usize = 501;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("median and p99 over {SAMPLES} samples, in ms");
    println!(
        "{:<40} {:>8} {:>10} {:>10}",
        "operation", "rows", "median", "p99"
    );
    let pg = PgServer::start();
    for rows in [1_000, 100_000] {
        figures(&pg, rows)?;
    }
    Ok(())
}

fn figures(pg: &PgServer, rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("bench_{rows}");
    pg.create_database(&name);
    let mut direct = Client::connect(&pg.url(&name), NoTls)?;
    direct.batch_execute(
        "CREATE TABLE orders (id int PRIMARY KEY, customer text, amount int, status text); \
         CREATE SEQUENCE order_numbers; CREATE SEQUENCE invoice_numbers; \
         CREATE SEQUENCE event_ids",
    )?;
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    let mut proxy = PgProxy::start(&pg.url(&name), listen, PgObserveSpec::default())?;
    let mut api = Client::connect(
        &format!("postgres://venom@{}/{name}", proxy.local_addr()),
        NoTls,
    )?;
    api.execute(
        "INSERT INTO orders SELECT i, 'customer-' || i || '-padding-padding', i, 'created' \
         FROM generate_series(1, $1::int) AS i",
        &[&(rows as i32)],
    )?;
    let base = proxy.checkpoint()?;
    let update =
        api.prepare("UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id = $1")?;
    let (mut checkpoints, mut rollbacks) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES {
        let start = Instant::now();
        let checkpoint = proxy.checkpoint()?;
        checkpoints.push(start.elapsed());
        for k in 0..5 {
            let id = ((i * 7 + k * 13) % rows + 1) as i32;
            api.execute(&update, &[&id])?;
        }
        api.execute("SELECT nextval('order_numbers')", &[])?;
        let start = Instant::now();
        proxy.rollback(checkpoint)?;
        rollbacks.push(start.elapsed());
        proxy.release(checkpoint);
    }
    report("checkpoint (SAVEPOINT + sequences)", rows, checkpoints);
    report("rollback (ROLLBACK TO + setval)", rows, rollbacks);
    // Deeper stacks, as a depth-first search keeps one checkpoint per level.
    let mut stack = Vec::new();
    let mut deep = Vec::new();
    for i in 0..50 {
        stack.push(proxy.checkpoint()?);
        api.execute(&update, &[&((i % rows + 1) as i32)])?;
    }
    for _ in 0..SAMPLES {
        api.execute(&update, &[&1i32])?;
        let start = Instant::now();
        proxy.rollback(stack[stack.len() / 2])?;
        deep.push(start.elapsed());
    }
    report("rollback, 25 savepoints deep", rows, deep);
    proxy.rollback(base)?;
    let mut through = Vec::new();
    let mut plain = Vec::new();
    for i in 0..SAMPLES {
        let id = (i % rows + 1) as i32;
        let start = Instant::now();
        api.execute(&update, &[&id])?;
        through.push(start.elapsed());
        let start = Instant::now();
        direct.execute(
            "UPDATE orders SET status = 'paid', amount = amount + 1 WHERE id = $1",
            &[&id],
        )?;
        plain.push(start.elapsed());
    }
    report("API UPDATE, autocommit, via proxy", rows, through);
    report("API UPDATE, autocommit, direct", rows, plain);
    Ok(())
}

fn report(operation: &str, rows: usize, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{operation:<40} {rows:>8} {:>10.3} {:>10.3}",
        ms(at(0.5)),
        ms(at(0.99))
    );
}
