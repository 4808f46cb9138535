//! The JSON report file.

use crate::error::ReportError;
use crate::fs::write_atomic;
use crate::report::RunReport;
use std::io;
use std::path::Path;

/// Writes `report` to `path` as pretty-printed JSON, atomically (a temporary file in the same
/// directory, then a rename). Errors name the file.
pub fn write_json(report: &RunReport, path: &Path) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(report)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Reads a report written by [`write_json`]. Errors name the file and, for malformed JSON,
/// the line and column.
pub fn read_json(path: &Path) -> Result<RunReport, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ReportError::json(path.to_path_buf(), &e))
}
