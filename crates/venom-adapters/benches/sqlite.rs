//! Median latency of `SqliteSnapshots` checkpoints and rollbacks on files of 1k, 90k and 1M
//! rows, in WAL and rollback-journal mode, with an "API" connection held open and one row
//! changed between rollbacks (as an exploration would). (The first checkpoint also copies the
//! file once, as the base the others are kept against; the median leaves it out.)
//!
//! Run with `cargo bench -p venom-adapters --bench sqlite`.

use rusqlite::{params, Connection};
use std::path::Path;
use std::time::{Duration, Instant};
use venom_adapters::{SqliteSnapshots, StateAdapter};

const ITERATIONS: usize = 31;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::TempDir::new()?;
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>16} {:>16}",
        "rows", "journal", "file KiB", "wal KiB", "checkpoint µs", "rollback µs"
    );
    for rows in [1_000, 90_000, 1_000_000] {
        for mode in ["wal", "delete"] {
            let path = dir.path().join(format!("bench-{rows}-{mode}.db"));
            let api = create(&path, mode, rows)?;
            let (checkpoint, rollback) = measure(&path, &api)?;
            let kib = std::fs::metadata(&path)?.len() / 1024;
            let wal = path.with_extension("db-wal");
            let wal_kib = std::fs::metadata(&wal).map_or(0, |m| m.len() / 1024);
            println!(
                "{rows:>8} {mode:>8} {kib:>10} {wal_kib:>10} {:>16} {:>16}",
                checkpoint.as_micros(),
                rollback.as_micros()
            );
        }
    }
    Ok(())
}

/// A database of `rows` rows of about 60 bytes, and the open connection of "the API".
fn create(path: &Path, mode: &str, rows: usize) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.query_row(&format!("PRAGMA journal_mode={mode}"), [], |_| Ok(()))?;
    conn.execute_batch(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER, status TEXT)",
    )?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO orders VALUES (?1, ?2, ?3, 'created')")?;
        for i in 0..rows {
            insert.execute(params![
                i as i64,
                format!("customer-{i:08}-padding-padding"),
                i as i64
            ])?;
        }
    }
    tx.commit()?;
    Ok(conn)
}

/// Median checkpoint and rollback latencies over [`ITERATIONS`] each.
fn measure(
    path: &Path,
    api: &Connection,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let mut snapshots = SqliteSnapshots::open(path, &[])?;
    let mut checkpoints = Vec::with_capacity(ITERATIONS);
    let mut ids = Vec::with_capacity(ITERATIONS);
    for _ in 0..ITERATIONS {
        let start = Instant::now();
        ids.push(snapshots.checkpoint()?);
        checkpoints.push(start.elapsed());
    }
    let mut rollbacks = Vec::with_capacity(ITERATIONS);
    for (i, id) in ids.iter().enumerate() {
        api.execute(
            "UPDATE orders SET status = 'paid' WHERE id = ?1",
            [i as i64],
        )?;
        let start = Instant::now();
        snapshots.rollback(*id)?;
        rollbacks.push(start.elapsed());
    }
    release_all(&mut snapshots, ids);
    Ok((median(checkpoints), median(rollbacks)))
}

fn release_all(snapshots: &mut SqliteSnapshots, ids: Vec<venom_engine::CheckpointId>) {
    for id in ids {
        snapshots.release(id);
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
