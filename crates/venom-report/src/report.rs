//! The report document: an exploration plus what is needed to re-run it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;
use venom_engine::{Exploration, Severity};

/// The version of the JSON report's format that this venom writes (see `docs/report-format.md`):
/// 2 added `exploration.graph` and `exploration.limits`. Reports without the field are read as
/// version 1.
pub const REPORT_FORMAT: u32 = 2;

/// Everything a run produced, as written to (and read back from) the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The version of the report's format ([`REPORT_FORMAT`] when written by this venom).
    #[serde(default = "first_format")]
    pub format: u32,
    /// Version of venom that produced the report.
    pub tool_version: String,
    /// What was explored; `venom replay` uses it to rebuild the same world.
    pub target: Target,
    /// Every invariant that was checked, including the ones that held.
    pub invariants: Vec<InvariantInfo>,
    /// The exploration's result.
    pub exploration: Exploration,
}

/// The format of reports written before the field existed.
fn first_format() -> u32 {
    1
}

/// The system that was explored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// The built-in demo application.
    Demo {
        /// Rollback mechanism the demo world used (e.g. `sqlite`, `reset`).
        rollback: String,
        /// The bundled scenario explored (`notes`); `None` for the orders scenario.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scenario: Option<String>,
    },
    /// A scenario file.
    Scenario {
        /// Path to the scenario file, as given on the command line.
        path: PathBuf,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Demo {
                rollback,
                scenario: None,
            } => write!(f, "demo (rollback {rollback})"),
            Target::Demo {
                rollback,
                scenario: Some(scenario),
            } => write!(f, "demo {scenario} (rollback {rollback})"),
            Target::Scenario { path } => write!(f, "scenario {}", path.display()),
        }
    }
}

/// An invariant that was checked during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvariantInfo {
    /// The invariant's name.
    pub name: String,
    /// Its severity.
    pub severity: Severity,
}
