//! Writing the JSON summary (also the baseline format) and the HTML report, and why a file of
//! load mode could not be read or written.

use crate::capacity::CapacityReport;
use crate::capacity_html::render_capacity_html;
use crate::html::render_html;
use crate::summary::{LoadSummary, SUMMARY_KIND};
use std::path::{Path, PathBuf};

/// A summary, baseline or report file that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The summary could not be turned into JSON.
    #[error("cannot serialize the summary for {}", path.display())]
    Serialize {
        /// The file it was meant for.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file could not be read.
    #[error("cannot read the baseline {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any summary venom writes.
    #[error("{}: {bytes} bytes, larger than a load summary can be ({limit} bytes at most)", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The most accepted.
        limit: u64,
    },
    /// The file is not JSON of a load summary.
    #[error("{}:{line}:{column}: not a venom load summary", path.display())]
    NotSummary {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser says.
        #[source]
        source: serde_json::Error,
    },
    /// The file is the JSON of something else.
    #[error(
        "{}: kind `{kind}`, expected `{SUMMARY_KIND}` (a file written by venom load --json or \
         --save-baseline)",
        path.display()
    )]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind it declares.
        kind: String,
    },
}

/// Writes `report` (a run's summary, a capacity search, a quota check) as pretty-printed JSON.
pub fn write_json<T: serde::Serialize>(report: &T, path: &Path) -> Result<(), FileError> {
    let text = serde_json::to_string_pretty(report).map_err(|source| FileError::Serialize {
        path: path.to_path_buf(),
        source,
    })?;
    write(path, format!("{text}\n").as_bytes())
}

/// Writes the static HTML report of `summary`.
pub fn write_html(summary: &LoadSummary, path: &Path) -> Result<(), FileError> {
    write(path, render_html(summary).as_bytes())
}

/// Writes the HTML page of a capacity search.
pub fn write_capacity_html(report: &CapacityReport, path: &Path) -> Result<(), FileError> {
    write(path, render_capacity_html(report).as_bytes())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    std::fs::write(path, bytes).map_err(|source| FileError::Write {
        path: path.to_path_buf(),
        source,
    })
}
