//! Progress output: a bar in a terminal, plain `step 50/500 | …` lines otherwise.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use venom_engine::Progress;

/// Where progress goes during a run.
#[derive(Clone)]
pub enum ProgressOutput {
    /// An indicatif bar on stderr (stderr is a terminal).
    Bar(ProgressBar),
    /// One line per report on stderr.
    Lines,
}

impl ProgressOutput {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new(max_steps: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() {
            return ProgressOutput::Lines;
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

    /// How often the explorer should report: every step for a bar, `every` for lines.
    pub fn every(&self, every: Option<u64>) -> Option<u64> {
        match self {
            ProgressOutput::Bar(_) => Some(every.unwrap_or(1).max(1)),
            ProgressOutput::Lines => every,
        }
    }

    /// Shows one progress report.
    pub fn show(&self, progress: &Progress) {
        match self {
            ProgressOutput::Bar(bar) => {
                bar.set_position(progress.step);
                bar.set_message(progress.to_string());
            }
            ProgressOutput::Lines => eprintln!("{progress}"),
        }
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let ProgressOutput::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
