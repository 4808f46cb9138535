//! The JUnit XML file for CI: one test case per invariant.

use crate::error::ReportError;
use crate::fs::write_report;
use crate::path::{
    broken_where, format_exchange, format_path, path_heading, replay_hint, severity_tag,
};
use crate::report::RunReport;
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::Path;
use std::time::Duration;
use venom_engine::{StopReason, Violation};

/// Name of the single test suite in the JUnit file.
const SUITE: &str = "venom";

/// Writes `report` to `path` as JUnit XML, atomically (a temporary file in the same directory,
/// then a rename). Errors name the file.
///
/// The file holds one test suite, `venom`, with one test case per entry of
/// [`RunReport::invariants`] (name = invariant name, classname = the target), plus one for any
/// violated invariant missing from that list. An invariant that held is a success; a violated
/// one is a failure whose message is its first violation's message, whose type is its severity
/// and whose text lists every violation of it with severity, message, the action that broke it,
/// the numbered shortest reproduction path and — when `json_path` (the JSON report) is given —
/// the `venom replay` command. Violations are numbered as in the JSON report and the console.
/// The suite carries the run's figures as properties and the run's duration.
pub fn write_junit(
    report: &RunReport,
    path: &Path,
    json_path: Option<&Path>,
) -> Result<(), ReportError> {
    let xml = build(report, json_path)
        .to_string()
        .map_err(|source| ReportError::Junit {
            path: path.to_path_buf(),
            source,
        })?;
    write_report(path, xml.as_bytes())
}

fn build(report: &RunReport, json_path: Option<&Path>) -> Report {
    let ex = &report.exploration;
    let classname = report.target.to_string();

    // Invariants in report order, then any violated invariant the list does not mention.
    let mut names: Vec<&str> = report.invariants.iter().map(|i| i.name.as_str()).collect();
    for violation in &ex.violations {
        if !names.contains(&violation.invariant.as_str()) {
            names.push(&violation.invariant);
        }
    }

    let mut suite = TestSuite::new(SUITE);
    for name in names {
        let broken: Vec<(usize, &Violation)> = ex
            .violations
            .iter()
            .enumerate()
            .filter(|(_, v)| v.invariant == name)
            .map(|(i, v)| (i + 1, v))
            .collect();
        let status = match broken.first() {
            None => TestCaseStatus::success(),
            Some((_, first)) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(first.message.as_str())
                    .set_type(first.severity.as_str())
                    .set_description(describe(&broken, json_path));
                status
            }
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(classname.as_str());
        suite.add_test_case(case);
    }

    // A run that did not finish is an error of its own, so CI never reads it as complete.
    if let StopReason::Interrupted | StopReason::Aborted(_) = &ex.stop {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status
            .set_message(format!("the run did not finish: {}", ex.stop))
            .set_type("incomplete");
        let mut case = TestCase::new("run", status);
        case.set_classname(classname.as_str());
        suite.add_test_case(case);
    }

    suite.add_properties([
        Property::new("tool_version", report.tool_version.as_str()),
        Property::new("target", classname.as_str()),
        Property::new("strategy", ex.strategy.as_str()),
        Property::new("rollback", ex.mechanism.as_str()),
        Property::new("stop", ex.stop.to_string()),
        Property::new("steps", ex.steps.to_string()),
        Property::new("states", ex.states.to_string()),
        Property::new("transitions", ex.transitions.to_string()),
        Property::new("max_depth", ex.max_depth.to_string()),
        Property::new("coverage", format!("{:.4}", ex.coverage)),
    ]);
    if !ex.warnings.is_empty() {
        suite.set_system_err(ex.warnings.join("\n"));
    }

    let mut junit = Report::new(SUITE);
    if let Ok(time) = Duration::try_from_secs_f64(ex.duration_secs) {
        suite.set_time(time);
        junit.set_time(time);
    }
    junit.add_test_suite(suite);
    junit
}

/// The failure text: every violation of one invariant, numbered as in the report.
fn describe(broken: &[(usize, &Violation)], json_path: Option<&Path>) -> String {
    let mut lines = Vec::new();
    for (number, violation) in broken {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.push(format!(
            "violation {number}: [{}] {}",
            severity_tag(violation.severity),
            violation.message
        ));
        lines.push(format!("  {}", broken_where(violation)));
        lines.push(format!("  occurrences: {}", violation.occurrences));
        if let Some(evidence) = &violation.evidence {
            lines.push(format!("  evidence: {}", format_exchange(evidence)));
        }
        lines.push(format!("  {}", path_heading(violation)));
        lines.extend(format_path(&violation.path, "    "));
        if let Some(json) = json_path {
            lines.push(format!("  replay: {}", replay_hint(json, *number)));
        }
    }
    lines.join("\n") + "\n"
}
