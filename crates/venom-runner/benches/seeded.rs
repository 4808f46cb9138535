//! Cost per step against the size of the database: the demo API explored breadth-first (whole
//! graph) on a database that also holds a seeded table `seed` no action reads.
//!
//! Each configuration runs in a child process of its own, so that its peak resident memory
//! (`VmHWM`) is its own: the rollback mechanism (`sqlite` snapshots of a database with a rollback
//! journal, the demo's default; `sqlite-wal` for the same database in WAL mode; or `postgres`
//! snapshots on a throwaway cluster, or the one `VENOM_TEST_PG_URL` names), the rows of `seed` (0, 200k, 1M
//! unless `--rows` lists others), and the variant: `untouched` (no step writes `seed`),
//! `touched` (a database trigger makes every order and refund write also update one row of
//! `seed`, so each step changes one row of the big table) or `observed` (touched, and `seed` is
//! one of the `observe_tables`). Reported: steps/s (median of
//! `--runs`, 3 unless told, exploration only), the time of the setup before the exploration —
//! a first checkpoint (released), which sets the mechanism up (SQLite: the base copy of the
//! file), and a first observation, which reads the observed tables whole — and the child's peak
//! RSS, which includes the in-process demo server.
//!
//! ```text
//! cargo bench -p venom-runner --bench seeded                       # every configuration
//! cargo bench -p venom-runner --bench seeded -- sqlite --rows 0,1000000 --runs 5
//! ```

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use venom_demo::{DemoServer, DEMO_SCENARIO};
use venom_engine::{Context, World};
use venom_runner::{HttpWorld, Processes};
use venom_scenario::{PgMechanism, PostgresSpec, RollbackSpec, Scenario, SqliteSpec, UrlSource};
use venom_testkit::bench_args::{option, words};

/// The demo tables the scenario observes.
const OBSERVED: [&str; 3] = ["orders", "refunds", "idempotency"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(one) = option(&args, "one") {
        return run_one(&one);
    }
    let runs: usize = option(&args, "runs").map_or(3, |v| v.parse().expect("--runs N"));
    assert!((1..=20).contains(&runs), "--runs must be 1..=20");
    let rows: Vec<u64> = option(&args, "rows")
        .unwrap_or_else(|| "0,200000,1000000".into())
        .split(',')
        .map(|v| v.parse().expect("--rows N,M,…"))
        .collect();
    assert!(
        rows.iter().all(|&r| r <= 5_000_000),
        "--rows must be at most 5,000,000"
    );
    let mut mechanisms = words(&args, &["--runs", "--rows", "--one"]);
    mechanisms.retain(|w| w != "--bench");
    if mechanisms.is_empty() {
        mechanisms = vec!["sqlite".into(), "sqlite-wal".into(), "postgres".into()];
    }
    println!(
        "demo exploration (BFS, whole graph) beside a seeded table, {runs} runs each, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "{:<10} {:>9} {:<10} {:>6} {:>7} | {:>26} | {:>8} | {:>9}",
        "mechanism",
        "seed rows",
        "variant",
        "steps",
        "states",
        "steps/s med (min-max)",
        "setup ms",
        "peak RSS"
    );
    let exe = std::env::current_exe().expect("bench path");
    for mechanism in &mechanisms {
        for &count in &rows {
            for variant in ["untouched", "touched", "observed"] {
                if count == 0 && variant != "untouched" {
                    continue;
                }
                let spec = format!("{mechanism}:{count}:{variant}:{runs}");
                let out = Command::new(&exe)
                    .args(["--one", &spec])
                    .output()
                    .expect("run one configuration");
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{spec} failed: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                print!("{text}");
            }
        }
    }
}

/// Runs one configuration (`MECHANISM:ROWS:VARIANT:RUNS`) and prints its line.
fn run_one(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    let [mechanism, rows, variant, runs] = parts[..] else {
        panic!("--one MECHANISM:ROWS:VARIANT:RUNS");
    };
    let rows: u64 = rows.parse().expect("rows");
    let runs: usize = runs.parse().expect("runs");
    let observed = variant == "observed";
    let touched = variant == "touched" || observed;
    let mut observe_tables = OBSERVED.map(String::from).to_vec();
    if observed {
        observe_tables.push("seed".to_string());
    }
    let pg = (mechanism == "postgres").then(venom_testkit::PgDatabase::create);
    let mut rates = Vec::new();
    let mut setups = Vec::new();
    let mut figures = (0, 0);
    for _ in 0..runs {
        let folder = tempfile::tempdir().expect("temporary folder");
        let (server, scenario) = match &pg {
            None => {
                let db = folder.path().join("demo.db");
                let server = DemoServer::start(&db).expect("demo API");
                seed_sqlite(&db, rows, touched, mechanism == "sqlite-wal");
                let spec = sqlite_spec(&db, observe_tables.clone());
                let scenario = scenario(&server, RollbackSpec::Sqlite(spec));
                (server, scenario)
            }
            Some(database) => {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                let server = DemoServer::start_postgres_at(database.url(), addr).expect("demo API");
                seed_postgres(database.url(), rows, touched);
                let spec = PostgresSpec {
                    url: UrlSource::Literal(database.url().to_string()),
                    mechanism: PgMechanism::Snapshot {
                        schemas: vec!["public".into()],
                    },
                    observe_tables: observe_tables.clone(),
                    observe_queries: vec![],
                };
                let scenario = scenario(&server, RollbackSpec::Postgres(spec));
                (server, scenario)
            }
        };
        let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("demo world");
        // The first checkpoint sets the mechanism up (SQLite: the base copy of the file), and
        // the first observation reads the observed tables whole; they are timed on their own,
        // so that steps/s is the cost per step.
        let started = Instant::now();
        let first = world.checkpoint().expect("first checkpoint");
        world.release(first);
        world.observe().expect("first observation");
        setups.push(started.elapsed().as_secs_f64() * 1000.0);
        let mut explorer = common::explorer(&scenario, world);
        let started = Instant::now();
        let result = explorer.run(Context::new()).expect("exploration");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(
            result.violations.len(),
            5,
            "the 5 planted bugs: {result:#?}"
        );
        figures = (result.steps, result.states);
        rates.push(result.steps as f64 / secs);
        drop(explorer);
        server.shutdown();
    }
    rates.sort_by(f64::total_cmp);
    setups.sort_by(f64::total_cmp);
    let (steps, states) = figures;
    println!(
        "{:<10} {:>9} {:<10} {:>6} {:>7} | {:>26} | {:>8.1} | {:>6} MiB",
        mechanism,
        rows,
        variant,
        steps,
        states,
        format!(
            "{:.1} ({:.1}-{:.1})",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1]
        ),
        setups[setups.len() / 2],
        peak_rss_mib()
    );
}

/// The demo scenario pointed at `server`, rolled back with `rollback`.
fn scenario(server: &DemoServer, rollback: RollbackSpec) -> Scenario {
    let mut scenario =
        venom_scenario::parse(DEMO_SCENARIO, Path::new("examples/demo.toml")).expect("scenario");
    scenario.base_url = server.base_url();
    scenario.rollback = rollback;
    scenario
}

fn sqlite_spec(db: &Path, observe_tables: Vec<String>) -> SqliteSpec {
    SqliteSpec {
        path: db.to_path_buf(),
        observe_tables,
        observe_queries: vec![],
    }
}

/// Adds `seed` with `rows` rows of about 50 bytes to the SQLite file, and with `touched` the
/// triggers that make order and refund writes update one of its rows; with `wal`, first turns
/// the file to WAL mode (which the demo keeps).
fn seed_sqlite(db: &Path, rows: u64, touched: bool, wal: bool) {
    let conn = rusqlite::Connection::open(db).expect("open the demo file");
    if wal {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
            .expect("WAL mode");
        assert_eq!(mode, "wal");
    }
    conn.execute_batch(&format!(
        "CREATE TABLE seed (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, n INTEGER NOT NULL);
         WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows})
         INSERT INTO seed SELECT i, printf('%040d', i), 0 FROM c WHERE {rows} > 0;"
    ))
    .expect("seed");
    if touched {
        let touch = format!("UPDATE seed SET n = n + 1 WHERE id = NEW.id * 7919 % {rows} + 1;");
        conn.execute_batch(&format!(
            "CREATE TRIGGER seed_on_order_insert AFTER INSERT ON orders BEGIN {touch} END;
             CREATE TRIGGER seed_on_order_update AFTER UPDATE ON orders BEGIN {touch} END;
             CREATE TRIGGER seed_on_refund AFTER INSERT ON refunds BEGIN {touch} END;"
        ))
        .expect("touch triggers");
    }
}

/// [`seed_sqlite`] for PostgreSQL.
fn seed_postgres(url: &str, rows: u64, touched: bool) {
    let url = url.to_string();
    // The sync client runs a runtime of its own, which must not nest in another.
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS seed;
                 DROP FUNCTION IF EXISTS seed_touch CASCADE;
                 CREATE TABLE seed (id bigint PRIMARY KEY, payload text NOT NULL, n bigint NOT NULL);
                 INSERT INTO seed SELECT i, lpad(i::text, 40, '0'), 0 FROM generate_series(1, {rows}) i;
                 ANALYZE seed;"
            ))
            .expect("seed");
        if touched {
            client
                .batch_execute(&format!(
                    "CREATE FUNCTION seed_touch() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN UPDATE seed SET n = n + 1 WHERE id = NEW.id * 7919 % {rows} + 1;
                     RETURN NULL; END $$;
                     CREATE TRIGGER seed_on_order AFTER INSERT OR UPDATE ON orders
                       FOR EACH ROW EXECUTE FUNCTION seed_touch();
                     CREATE TRIGGER seed_on_refund AFTER INSERT ON refunds
                       FOR EACH ROW EXECUTE FUNCTION seed_touch();"
                ))
                .expect("touch triggers");
        }
    })
    .join()
    .expect("seeding PostgreSQL");
}

/// This process's peak resident memory, from /proc/self/status (0 elsewhere).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}
