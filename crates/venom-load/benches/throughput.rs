//! Throughput of `venom load` next to `wrk` against the same minimal loopback server, and the
//! memory of a soak-shaped run over time.
//!
//! ```sh
//! cargo bench -p venom-load --bench throughput
//! ```
//!
//! The server (an axum app answering `GET /` with `ok`) runs in a child process (this binary
//! started again with `VENOM_BENCH_SERVE=1`), so that the RSS samples are venom's own. Each
//! round runs venom's closed model and then `wrk` with the same connections and duration; the
//! medians of three rounds and their ratio are printed. `wrk` missing (install it with
//! `apt-get install -y wrk`) skips the comparison with a message.
//!
//! Environment: `VENOM_BENCH_URL` (use a server started elsewhere), `VENOM_BENCH_SECS` (seconds
//! per run, default 5), `VENOM_BENCH_CONNECTIONS` (default 32), `VENOM_BENCH_ROUNDS` (default 3;
//! 0 skips the comparison), `VENOM_SOAK_SECS` (soak length, default 60; 0 skips it; 600 for the
//! 10-minute soak), `VENOM_SOAK_RATE` (iterations/s, default 1000), `VENOM_SOAK_VUS` (run the soak as
//! the closed model with this many users at full speed instead), `VENOM_SOAK_SAMPLE_SECS` (RSS
//! sampling period, default 5).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use venom_load::{Control, LoadPlan, Mode, PlanOptions, Progress};
use venom_testkit::bench_args::env_number;

fn main() {
    if std::env::var_os("VENOM_BENCH_SERVE").is_some() {
        serve();
        return;
    }
    let secs = env_number("VENOM_BENCH_SECS", 5);
    let connections = env_number("VENOM_BENCH_CONNECTIONS", 32);
    let rounds = env_number("VENOM_BENCH_ROUNDS", 3);
    let soak_secs = env_number("VENOM_SOAK_SECS", 60);
    let soak_rate = env_number("VENOM_SOAK_RATE", 1000).max(1);
    let soak_vus = env_number("VENOM_SOAK_VUS", 0);
    let sample_secs = env_number("VENOM_SOAK_SAMPLE_SECS", 5).max(1);

    // `VENOM_BENCH_URL` points at a server started elsewhere (e.g. to profile the client alone).
    let mut server = match std::env::var("VENOM_BENCH_URL") {
        Ok(url) => Err(url),
        Err(_) => Ok(Server::start()),
    };
    let url = match &server {
        Ok(server) => format!("http://127.0.0.1:{}", server.port),
        Err(url) => url.clone(),
    };
    println!(
        "server: axum on {url} (separate process); {connections} connections, {secs} s per run, {rounds} rounds"
    );
    let wrk = which("wrk");
    if wrk.is_none() {
        println!("wrk not found: install it with `apt-get install -y wrk`; venom runs alone");
    }
    // Requests/s depend on how the two cores are shared with the server; the client's own CPU
    // time per request (user + system) is the steadier figure of its efficiency.
    let (mut venom_rates, mut venom_cpu) = (Vec::new(), Vec::new());
    let (mut wrk_rates, mut wrk_cpu) = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        let venom = venom_run(&url, connections, secs);
        venom_rates.push(venom.rps);
        venom_cpu.push(venom.cpu_us);
        let line = match &wrk {
            Some(wrk) => match wrk_run(wrk, &url, connections, secs) {
                Some(w) => {
                    wrk_rates.push(w.rps);
                    wrk_cpu.push(w.cpu_us);
                    ratios.push(venom.rps / w.rps);
                    format!(
                        "wrk {:>8.0} req/s {:>5.1} µs CPU/req   venom/wrk {:.3}",
                        w.rps,
                        w.cpu_us,
                        venom.rps / w.rps
                    )
                }
                None => "wrk failed".into(),
            },
            None => String::new(),
        };
        println!(
            "round {round}: venom {:>8.0} req/s {:>5.1} µs CPU/req   {line}",
            venom.rps, venom.cpu_us
        );
    }
    let (venom, venom_cpu) = (median(&mut venom_rates), median(&mut venom_cpu));
    match median_opt(&mut wrk_rates) {
        _ if rounds == 0 => {}
        Some(w) => {
            let wrk_cpu = median(&mut wrk_cpu);
            println!(
                "median: venom {venom:.0} req/s, wrk {w:.0} req/s, venom/wrk {:.3} (median of the rounds' ratios {:.3}); \
                 CPU per request: venom {venom_cpu:.1} µs, wrk {wrk_cpu:.1} µs",
                venom / w,
                median(&mut ratios)
            )
        }
        None => println!("median: venom {venom:.0} req/s, {venom_cpu:.1} µs CPU/req"),
    }

    if soak_secs > 0 {
        soak(&url, soak_secs, (soak_rate, soak_vus), sample_secs);
    }
    if let Ok(server) = &mut server {
        server.stop();
    }
}

/// Requests per second of one run, and the client's CPU time (user + system) per request.
struct Figures {
    rps: f64,
    cpu_us: f64,
}

/// CPU time (user + system) used so far, in µs, by this process (`RUSAGE_SELF`) or by its
/// reaped children (`RUSAGE_CHILDREN`).
fn cpu_us(who: libc::c_int) -> f64 {
    // SAFETY: getrusage(2) only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return f64::NAN;
    }
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(usage.ru_utime) + us(usage.ru_stime)
}

/// One closed-model run of venom against `url` (in this process; the server is another one).
fn venom_run(url: &str, connections: u64, secs: u64) -> Figures {
    let cpu_before = cpu_us(libc::RUSAGE_SELF);
    let scenario = scenario(url);
    let plan = LoadPlan::resolve(
        &scenario,
        &PlanOptions {
            mode: Some(Mode::Burst),
            vus: Some(connections as usize),
            duration: Some(Duration::from_secs(secs)),
            ..PlanOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("plan: {e}"));
    let summary = venom_load::run(
        &scenario,
        &plan,
        Control {
            interrupt: None,
            progress: Progress::Silent,
        },
    )
    .unwrap_or_else(|e| panic!("venom load: {e}"));
    assert_eq!(summary.overall.errors, 0, "{:?}", summary.failures);
    Figures {
        rps: summary.overall.rps,
        cpu_us: (cpu_us(libc::RUSAGE_SELF) - cpu_before) / summary.overall.count.max(1) as f64,
    }
}

fn scenario(url: &str) -> venom_scenario::Scenario {
    let text = format!(
        "base_url = \"{url}\"\n[[actions]]\nname = \"hit\"\nmethod = \"GET\"\npath = \"/\"\nexpect = [200]\n\
         [load]\nflows = [ {{ name = \"hit\", actions = [\"hit\"] }} ]\n"
    );
    venom_scenario::parse(&text, Path::new("bench.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `wrk` with two threads and the same connections and duration.
fn wrk_run(wrk: &Path, url: &str, connections: u64, secs: u64) -> Option<Figures> {
    let cpu_before = cpu_us(libc::RUSAGE_CHILDREN);
    let output = Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{secs}s"),
            &format!("{url}/"),
        ])
        .output()
        .ok()?;
    let cpu = cpu_us(libc::RUSAGE_CHILDREN) - cpu_before;
    let text = String::from_utf8_lossy(&output.stdout);
    let rps: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    // "  123456 requests in 5.00s, 15.00MB read"
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())?;
    Some(Figures {
        rps,
        cpu_us: cpu / requests.max(1.0),
    })
}

/// A soak-shaped run (10 s intervals) for `secs`, printing this process's RSS every
/// `sample_secs`: the open model at `rate` iterations/s, or with `vus` > 0 the closed model
/// with that many users. A steady rate is the default rather than full speed: a soak looks for
/// drift and leaks over time, and the machine is shared.
fn soak(url: &str, secs: u64, (rate, vus): (u64, u64), sample_secs: u64) {
    let (load, rate, vus) = match vus {
        0 => (format!("{rate} iterations/s"), Some(rate as f64), None),
        n => (format!("{n} users (closed model)"), None, Some(n as usize)),
    };
    println!("soak: {load} for {secs} s, RSS every {sample_secs} s");
    let scenario = scenario(url);
    let plan = LoadPlan::resolve(
        &scenario,
        &PlanOptions {
            mode: Some(Mode::Soak),
            rate,
            vus,
            duration: Some(Duration::from_secs(secs)),
            ..PlanOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("plan: {e}"));
    let running = Arc::new(AtomicBool::new(true));
    let sampling = Arc::clone(&running);
    let sampler = std::thread::spawn(move || {
        let start = Instant::now();
        let mut samples = Vec::new();
        while sampling.load(Ordering::SeqCst) {
            let kib = rss_kib();
            println!(
                "  t={:>5.0}s rss {:>7} KiB",
                start.elapsed().as_secs_f64(),
                kib
            );
            samples.push(kib);
            let next = Duration::from_secs(sample_secs);
            let until = Instant::now() + next;
            while sampling.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        samples
    });
    let summary = venom_load::run(
        &scenario,
        &plan,
        Control {
            interrupt: None,
            progress: Progress::Silent,
        },
    )
    .unwrap_or_else(|e| panic!("venom load: {e}"));
    running.store(false, Ordering::SeqCst);
    let samples = sampler.join().unwrap_or_default();
    // Skip the warm-up samples (runtime, connections, histograms growing).
    let steady = &samples[samples.len().min(2)..];
    if let (Some(min), Some(max)) = (steady.iter().min(), steady.iter().max()) {
        let p99 =
            |i: &venom_load::IntervalStats| i.overall.latency_ms.as_ref().map_or(0.0, |p| p.p99);
        println!(
            "soak: {} requests, {:.0} req/s, {} errors, {} intervals (p99 first {:.2} ms, last {:.2} ms); steady RSS {min}..{max} KiB (spread {} KiB)",
            summary.overall.count,
            summary.overall.rps,
            summary.overall.errors,
            summary.intervals.len(),
            summary.intervals.first().map_or(0.0, p99),
            summary.intervals.last().map_or(0.0, p99),
            max - min
        );
    }
}

/// This process's resident set size in KiB (Linux), 0 when unknown.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn median(values: &mut [f64]) -> f64 {
    median_opt(values).unwrap_or(0.0)
}

fn median_opt(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// The minimal server in a child process.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let mut child = Command::new(exe)
            .env("VENOM_BENCH_SERVE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the server process: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("server port: {e}"));
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("server printed `{line}`, expected a port"));
        Server { child, port }
    }

    fn stop(&mut self) {
        // Closing stdin ends the server; kill it if it lingers.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Child process: serve `GET /` → `ok` on an ephemeral port, print the port, stop when stdin
/// closes.
fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        println!("{port}");
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        });
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stdin_closed.await;
            })
            .await;
    });
}
