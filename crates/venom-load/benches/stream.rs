//! Streamed responses: how closely the chunk gaps venom measures follow a server's known timing,
//! and the memory of a run over a 1 GiB stream.
//!
//! ```sh
//! cargo bench -p venom-load --bench stream
//! ```
//!
//! The server is the tests' (`tests/common/streams.rs`), in this process: `GET /events` sends 50
//! Server-Sent Events 20 ms apart, `GET /big` 1 GiB in 1 MiB chunks. Each is run
//! `VENOM_BENCH_ROUNDS` times (default 3) with one user and one iteration; the bench prints the
//! gap percentiles against the truth, the 1 GiB stream's wall time and throughput, and the
//! process's resident set before and after it (`VmRSS`) with its peak (`VmHWM`, reset first).

#[path = "../tests/common/streams.rs"]
mod streams;

use std::time::Instant;
use venom_testkit::bench_args::env_number;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let rounds = env_number("VENOM_BENCH_ROUNDS", 3);
    let url = streams::start_server();
    println!("venom-load stream bench: {rounds} rounds, loopback");
    for round in 1..=rounds {
        let summary = streams::run_once(&url, "/events", "");
        let stream = summary
            .action("s")
            .and_then(|s| s.stream.clone())
            .expect("stream");
        let gaps = stream.gap_ms.expect("gaps");
        println!(
            "round {round} /events (truth: 50 events, 20 ms apart): {} chunks, gap p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {:.1} chunks/s",
            stream.chunks, gaps.p50, gaps.p99, gaps.max, stream.chunks_per_s
        );
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let started = Instant::now();
        let summary = streams::run_once(&url, "/big", "");
        let secs = started.elapsed().as_secs_f64();
        let after = status_kib("VmRSS:");
        let peak = status_kib("VmHWM:");
        let chunks = summary
            .action("s")
            .and_then(|s| s.stream.as_ref())
            .map_or(0, |s| s.chunks);
        println!(
            "round {round} /big (1 GiB): {secs:.2} s, {:.0} MiB/s, {chunks} chunks; RSS {} -> {} MiB, peak {} MiB",
            1024.0 / secs,
            before / 1024,
            after / 1024,
            peak / 1024
        );
    }
}
