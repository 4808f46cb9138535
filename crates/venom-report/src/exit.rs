//! Process exit codes.

use crate::report::RunReport;
use venom_engine::{Severity, StopReason};

/// The run completed and found no violation at or above the `--fail-on` level.
pub const EXIT_OK: i32 = 0;
/// At least one violation at or above the `--fail-on` level was found.
pub const EXIT_VIOLATIONS: i32 = 1;
/// The input (command line, scenario file, report file) was invalid.
pub const EXIT_INVALID_INPUT: i32 = 2;
/// The system under test could not be set up, or failed (API or database gone) mid-run.
pub const EXIT_SETUP: i32 = 3;
/// The run was interrupted (Ctrl-C), 128 + SIGINT.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit code for a finished run, the first that applies: [`EXIT_INTERRUPTED`] if the run
/// was interrupted, [`EXIT_SETUP`] if it was aborted because the world failed (in both cases
/// the reports still hold the violations found before), [`EXIT_VIOLATIONS`] if any violation
/// has a severity `>= fail_on`, else [`EXIT_OK`]. A run that did not finish never passes for
/// one that did, whatever it found.
pub fn exit_code(report: &RunReport, fail_on: Severity) -> i32 {
    let exploration = &report.exploration;
    match exploration.stop {
        StopReason::Interrupted => EXIT_INTERRUPTED,
        StopReason::Aborted(_) => EXIT_SETUP,
        _ if exploration.violations.iter().any(|v| v.severity >= fail_on) => EXIT_VIOLATIONS,
        _ => EXIT_OK,
    }
}
