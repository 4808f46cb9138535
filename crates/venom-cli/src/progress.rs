//! Progress output: a bar in a terminal, plain `step 50/500 | …` lines otherwise — every N
//! steps with `--progress-every N`, else one every [`PERIOD`], so a CI log never stays silent.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use venom_engine::Progress;

/// How often a run without a terminal and without `--progress-every` prints a progress line.
pub const PERIOD: Duration = Duration::from_secs(10);

/// Where progress goes during a run.
#[derive(Clone)]
pub enum ProgressOutput {
    /// An indicatif bar on stderr (stderr is a terminal).
    Bar(ProgressBar),
    /// Lines on stderr.
    Lines(Arc<Lines>),
}

/// Plain progress lines: when they are due and how fast the run goes.
pub struct Lines {
    started: Instant,
    /// `None`: a line at every report (`--progress-every`); else when the last one was printed.
    periodic: Mutex<Option<Instant>>,
}

impl ProgressOutput {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new(max_steps: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            let now = Instant::now();
            return ProgressOutput::Lines(Arc::new(Lines {
                started: now,
                periodic: Mutex::new(Some(now)),
            }));
        }
        let bar = match max_steps {
            Some(max) => ProgressBar::new(max),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        ProgressOutput::Bar(bar)
    }

    /// How often the explorer should report: every step for a bar and for periodic lines (which
    /// print only when due), `every` when it is given.
    pub fn every(&self, every: Option<u64>) -> Option<u64> {
        match (self, every) {
            (ProgressOutput::Lines(lines), Some(every)) => {
                *lines
                    .periodic
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                Some(every)
            }
            (_, every) => Some(every.unwrap_or(1).max(1)),
        }
    }

    /// Shows one progress report.
    pub fn show(&self, progress: &Progress) {
        match self {
            ProgressOutput::Bar(bar) => {
                bar.set_position(progress.step);
                bar.set_message(progress.to_string());
            }
            ProgressOutput::Lines(lines) => lines.show(progress),
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let ProgressOutput::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl Lines {
    /// `--progress-every` lines keep the engine's format (scripts read their last field, the
    /// violation count); periodic lines add the rate and the time left.
    fn show(&self, progress: &Progress) {
        let now = Instant::now();
        {
            let mut periodic = self.periodic.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(last) = periodic.as_mut() else {
                eprintln!("{progress}");
                return;
            };
            if now.duration_since(*last) < PERIOD {
                return;
            }
            *last = now;
        }
        let elapsed = now.duration_since(self.started).as_secs_f64();
        let rate = progress.step as f64 / elapsed.max(1e-9);
        let eta = match progress.max_steps {
            Some(max) if rate > 0.0 && max > progress.step => {
                format!(" | eta {:.0}s", (max - progress.step) as f64 / rate)
            }
            _ => String::new(),
        };
        eprintln!("{progress} | {rate:.0} steps/s{eta}");
    }
}
