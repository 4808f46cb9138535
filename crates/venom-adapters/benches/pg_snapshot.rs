//! Latency of `PgSnapshots` checkpoints and rollbacks on databases of 1k and 100k rows, and of
//! `RedisSnapshots` checkpoints and restores on 1k and 100k keys, with "the API"'s connection
//! held open and a few rows or keys changed between rollbacks (as an exploration would). For
//! comparison, it also times `CREATE DATABASE … TEMPLATE`, which needs the source database to
//! have no other session (so cannot serve a running API).
//!
//! PostgreSQL snapshots copy and restore only the tables that changed, so their figures come in
//! pairs: a step that writes to the big `orders` table, and one that writes only to the small
//! `carts` table (100 rows), leaving the rest alone.
//!
//! Run with `cargo bench -p venom-adapters --bench pg_snapshot` (servers from venom-testkit).

use postgres::{Client, NoTls};
use std::time::{Duration, Instant};
use venom_adapters::postgres::PgObserveSpec;
use venom_adapters::{PgSnapshots, RedisSnapshots, StateAdapter};
use venom_testkit::{PgServer, RedisServer};

/// Samples per figure: more for the small sizes, where each sample is short.
fn samples(size: usize) -> usize {
    if size <= 1_000 {
        101
    } else {
        21
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("median and p99 (the slowest sample when there are fewer than 100), in ms");
    println!(
        "{:<36} {:>8} {:>8} {:>10} {:>10}",
        "operation", "size", "samples", "median", "p99"
    );
    let pg = PgServer::start();
    for rows in [1_000, 100_000] {
        postgres_figures(&pg, rows)?;
    }
    let redis = RedisServer::start();
    for keys in [1_000, 100_000] {
        redis_figures(&redis, keys)?;
    }
    Ok(())
}

fn postgres_figures(pg: &PgServer, rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let name = format!("bench_{rows}");
    pg.create_database(&name);
    let mut api = Client::connect(&pg.url(&name), NoTls)?;
    fill(&mut api, rows)?;
    let n = samples(rows);
    {
        let mut adapter = PgSnapshots::open(&pg.url(&name), vec![], PgObserveSpec::default())?;
        let base = adapter.checkpoint()?;
        for (label, table) in [("orders changed", "orders"), ("carts changed", "carts")] {
            let step = |api: &mut Client, i: usize| {
                api.batch_execute(&if table == "orders" {
                    format!(
                        "UPDATE orders SET status = 'paid' WHERE id = {}; \
                         INSERT INTO orders (customer_id, amount, status) VALUES (1, {i}, 'new')",
                        i % rows + 1
                    )
                } else {
                    format!(
                        "UPDATE carts SET items = items + 1 WHERE id = {}; \
                         INSERT INTO carts (items) VALUES ({i})",
                        i % 100 + 1
                    )
                })
            };
            let mut checkpoints = Vec::new();
            for i in 0..n {
                step(&mut api, i)?;
                let started = Instant::now();
                let id = adapter.checkpoint()?;
                checkpoints.push(started.elapsed());
                adapter.release(id);
                adapter.rollback(base)?;
            }
            report(&format!("pg checkpoint, {label}"), rows, &mut checkpoints);
            let mut rollbacks = Vec::new();
            for i in 0..n {
                step(&mut api, i)?;
                let started = Instant::now();
                adapter.rollback(base)?;
                rollbacks.push(started.elapsed());
            }
            report(&format!("pg rollback, {label}"), rows, &mut rollbacks);
        }
    }
    // CREATE DATABASE … TEMPLATE copies the whole database, but only while nobody is connected.
    drop(api);
    let mut admin = Client::connect(&pg.url("postgres"), NoTls)?;
    let mut copies = Vec::new();
    for _ in 0..samples(rows).min(21) {
        let started = Instant::now();
        admin.batch_execute(&format!("CREATE DATABASE {name}_copy TEMPLATE {name}"))?;
        copies.push(started.elapsed());
        admin.batch_execute(&format!("DROP DATABASE {name}_copy"))?;
    }
    report("CREATE DATABASE TEMPLATE (no API)", rows, &mut copies);
    Ok(())
}

/// `rows` rows in all: customers (a tenth) and their orders, linked by a foreign key; plus 100
/// carts.
fn fill(api: &mut Client, rows: usize) -> Result<(), postgres::Error> {
    let customers = (rows / 10).max(1);
    api.batch_execute(&format!(
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
         CREATE TABLE orders (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             customer_id int NOT NULL REFERENCES customers (id),
             amount int NOT NULL,
             status text NOT NULL
         );
         INSERT INTO customers (name)
             SELECT 'customer-' || g || '-padding-padding' FROM generate_series(1, {customers}) g;
         INSERT INTO orders (customer_id, amount, status)
             SELECT g % {customers} + 1, g, 'created' FROM generate_series(1, {}) g;
         CREATE TABLE carts (id serial PRIMARY KEY, items int NOT NULL);
         INSERT INTO carts (items) SELECT g FROM generate_series(1, 100) g;",
        rows - customers
    ))?;
    api.batch_execute("VACUUM ANALYZE")
}

fn redis_figures(server: &RedisServer, keys: usize) -> Result<(), Box<dyn std::error::Error>> {
    let client = redis::Client::open(server.url())?;
    let mut api = client.get_connection()?;
    redis::cmd("FLUSHDB").query::<()>(&mut api)?;
    for chunk in (0..keys).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            if i % 2 == 0 {
                pipe.cmd("SET")
                    .arg(format!("session:{i}"))
                    .arg(format!("user-{i}-padding-padding-padding"))
                    .arg("EX")
                    .arg(3600)
                    .ignore();
            } else {
                pipe.cmd("HSET")
                    .arg(format!("cart:{i}"))
                    .arg("item")
                    .arg(*i)
                    .arg("qty")
                    .arg(2)
                    .ignore();
            }
        }
        pipe.query::<()>(&mut api)?;
    }
    let mut adapter = RedisSnapshots::open(&server.url(), vec![])?;
    let n = samples(keys);
    let mut checkpoints = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let id = adapter.checkpoint()?;
        checkpoints.push(started.elapsed());
        adapter.release(id);
    }
    report("redis checkpoint", keys, &mut checkpoints);
    let base = adapter.checkpoint()?;
    let mut restores = Vec::new();
    for i in 0..n {
        redis::cmd("SET")
            .arg(format!("session:{}", i * 2 % keys))
            .arg("changed")
            .query::<()>(&mut api)?;
        let started = Instant::now();
        adapter.rollback(base)?;
        restores.push(started.elapsed());
    }
    report("redis restore", keys, &mut restores);
    Ok(())
}

fn report(operation: &str, size: usize, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    let p99 = samples[((samples.len() as f64 * 0.99).ceil() as usize).min(samples.len()) - 1];
    println!(
        "{operation:<36} {size:>8} {:>8} {:>10.2} {:>10.2}",
        samples.len(),
        ms(median),
        ms(p99)
    );
}
