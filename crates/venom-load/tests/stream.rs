//! Streamed responses measured by load runs, against the server of `common/streams.rs`, whose
//! chunk timing is known.

#[path = "common/streams.rs"]
mod streams;

use streams::{start_server, BIG_CHUNKS};
use venom_load::{LoadSummary, Stats, ThresholdStatus};

/// One iteration of `path`, with the thresholds the test reads.
fn run_once(url: &str, path: &str) -> LoadSummary {
    streams::run_once(
        url,
        path,
        "\"s.gap_p95\" = \"< 40ms\"\n\"s.chunks_per_s\" = \"> 10\"\n",
    )
}

fn stream_of(summary: &LoadSummary) -> (Stats, venom_load::StreamStats) {
    let stats = summary.action("s").expect("action s").clone();
    let stream = stats.stream.clone().expect("stream statistics");
    (stats, stream)
}

#[test]
fn event_and_line_streams_are_measured_chunk_by_chunk() {
    let url = start_server();
    let summary = run_once(&url, "/events");
    let (stats, stream) = stream_of(&summary);
    assert_eq!((stream.responses, stream.chunks), (1, 50));
    let gaps = stream.gap_ms.clone().expect("gaps");
    assert_eq!(gaps.count, 49);
    // 20 ms sleeps between writes: each gap is 20 ms and a little more (scheduling).
    assert!((19.0..=30.0).contains(&gaps.p50), "{gaps:?}");
    assert!(gaps.min >= 15.0, "{gaps:?}");
    // 50 events over about one second, the first after 20 ms.
    let duration = stream.duration_ms.as_ref().expect("duration").max;
    assert!((1000.0..=1600.0).contains(&duration), "{duration}");
    assert!((30.0..=50.0).contains(&stream.chunks_per_s), "{stream:?}");
    // Time to first byte: the headers come at once, before the first event.
    assert!(stats.ttfb_ms.expect("ttfb").max < 15.0);
    // Thresholds read them.
    let judged: Vec<(&str, ThresholdStatus)> = summary
        .thresholds
        .iter()
        .map(|t| (t.key.as_str(), t.status))
        .collect();
    assert_eq!(
        &judged[..2],
        [
            ("s.gap_p95", ThresholdStatus::Pass),
            ("s.chunks_per_s", ThresholdStatus::Pass)
        ]
    );

    let (_, lines) = stream_of(&run_once(&url, "/lines"));
    assert_eq!(lines.chunks, 40);
    let gaps = lines.gap_ms.expect("gaps");
    assert!((9.0..=20.0).contains(&gaps.p50), "{gaps:?}");
}

/// The resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_one_gigabyte_stream_leaves_memory_flat() {
    let url = start_server();
    // A small stream first: what a run costs whatever the stream.
    let _ = run_once(&url, "/events");
    let before = rss_kib();
    let summary = run_once(&url, "/big");
    let after = rss_kib();
    let (_, stream) = stream_of(&summary);
    assert_eq!(stream.responses, 1);
    assert!(stream.chunks >= BIG_CHUNKS as u64, "{stream:?}");
    let grown_mib = after.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 64,
        "RSS grew by {grown_mib} MiB over a 1 GiB stream ({before} -> {after} KiB)"
    );
}
