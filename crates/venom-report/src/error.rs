//! Errors while reading or writing reports.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Reading or writing a report file failed; every variant names the file.
#[derive(Debug)]
pub enum ReportError {
    /// The file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not a valid JSON report.
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error (0 when unknown).
        line: usize,
        /// 1-based column of the error (0 when unknown).
        column: usize,
        /// What is wrong, without the position.
        message: String,
    },
    /// The JUnit document could not be serialized.
    Junit {
        /// The file it was meant for.
        path: PathBuf,
        /// The underlying error.
        source: quick_junit::SerializeError,
    },
    /// A picture of the state graph was asked of a report that holds none (a merged report,
    /// or one written by an older venom).
    NoGraph {
        /// The file the picture was meant for.
        path: PathBuf,
    },
}

impl ReportError {
    pub(crate) fn json(path: PathBuf, err: &serde_json::Error) -> Self {
        let (line, column) = (err.line(), err.column());
        let full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        ReportError::Json {
            path,
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReportError::Json {
                path,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: invalid venom report: {message}",
                path.display()
            ),
            ReportError::Junit { path, source } => {
                write!(f, "{}: {source}", path.display())
            }
            ReportError::NoGraph { path } => write!(
                f,
                "{}: the report holds no state graph to draw (a merged report, or one written \
                 by an older venom)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Io { source, .. } => Some(source),
            ReportError::Json { .. } | ReportError::NoGraph { .. } => None,
            ReportError::Junit { source, .. } => Some(source),
        }
    }
}
