//! venom-report: turns an [`Exploration`](venom_engine::Exploration) into the artefacts a run
//! leaves behind — a JSON report (which `venom replay` reads back), a JUnit XML file for CI, a
//! console summary, a Markdown summary for pull requests, an HTML page with the state graph, the graph for Graphviz — and the process exit code.
#![warn(missing_docs)]

mod console;
mod dot;
mod error;
mod exit;
mod fs;
mod graph_paths;
mod html;
mod json;
mod junit;
mod layout;
mod markdown;
mod merge;
mod path;
mod redact;
mod report;

pub use console::render_console;
pub use dot::{render_dot, write_dot};
pub use error::ReportError;
pub use exit::{
    exit_code, EXIT_INTERRUPTED, EXIT_INVALID_INPUT, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS,
};
pub use html::{render_html, write_html, MAX_DRAWN_STATES};
pub use json::{read_json, write_json};
pub use junit::write_junit;
pub use markdown::{render_markdown, write_markdown};
pub use merge::{merge, MergeError};
pub use path::{format_exchange, format_path, path_heading, replay_hint};
pub use redact::{RedactError, Redactor, MIN_SECRET_LEN, REDACTED, SECRET_NAMES};
pub use report::{InvariantInfo, RunReport, Target, REPORT_FORMAT};
