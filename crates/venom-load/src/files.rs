//! Writing the JSON summary (also the baseline format) and the HTML report.

use crate::html::render_html;
use crate::summary::LoadSummary;
use std::path::Path;

/// Writes `summary` as pretty-printed JSON; errors name the file.
pub fn write_json(summary: &LoadSummary, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(summary)
        .map_err(|e| format!("{}: cannot serialize the summary: {e}", path.display()))?;
    write(path, format!("{text}\n").as_bytes())
}

/// Writes the static HTML report of `summary`; errors name the file.
pub fn write_html(summary: &LoadSummary, path: &Path) -> Result<(), String> {
    write(path, render_html(summary).as_bytes())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
