//! Live progress: a status line in a terminal, one plain line per interval otherwise.

use crate::plan::format_duration;
use crate::summary::IntervalStats;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// What the run looks like right now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    /// Time since the start.
    pub elapsed: Duration,
    /// Planned length.
    pub planned: Duration,
    /// Requests per second over the last tick.
    pub rate: f64,
    /// Requests waiting for their response.
    pub in_flight: u64,
    /// Requests so far.
    pub requests: u64,
    /// Failed requests so far.
    pub errors: u64,
    /// 95th percentile latency so far, in ms.
    pub p95_ms: Option<f64>,
}

/// Where progress goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A status line on stderr (a terminal).
    Bar(ProgressBar),
    /// One line per interval on stderr.
    Lines,
    /// Nothing (library use, tests).
    Silent,
}

impl Progress {
    /// A status line when stderr is a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines;
        }
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Progress::Bar(bar)
    }

    /// Shows the state of the run (every tick).
    pub(crate) fn tick(&self, live: &Live) {
        if let Progress::Bar(bar) = self {
            bar.set_message(line(live));
            bar.tick();
        }
    }

    /// Reports a finished interval (plain lines only).
    pub(crate) fn interval(&self, live: &Live, interval: &IntervalStats) {
        if let Progress::Lines = self {
            let p95 = interval
                .overall
                .latency_ms
                .as_ref()
                .map_or_else(|| "-".into(), |p| format!("{:.2} ms", p.p95));
            eprintln!(
                "{} | interval {:.1}-{:.1}s: {:.1} req/s, p95 {p95}, {} errors",
                line(live),
                interval.start_s,
                interval.end_s,
                interval.overall.rps,
                interval.overall.errors
            );
        }
    }

    /// Removes the status line before the summary is printed.
    pub(crate) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn line(live: &Live) -> String {
    let p95 = live
        .p95_ms
        .map_or_else(|| "-".into(), |p| format!("{p:.2} ms"));
    let planned = if live.planned == Duration::MAX {
        String::new()
    } else {
        format!("/{}", format_duration(live.planned))
    };
    format!(
        "[{:>5.1}s{planned}] {:.1} req/s, {} in flight, p95 so far {p95}, {} requests, {} errors",
        live.elapsed.as_secs_f64(),
        live.rate,
        live.in_flight,
        live.requests,
        live.errors
    )
}
