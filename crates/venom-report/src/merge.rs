//! `venom merge`: the reports of the parts of a sharded run (`--shard I/N`) as one report.
//!
//! Each part explored the paths that start with its own actions, breadth-first from the same
//! initial state, so a violation's shortest path overall is the shortest of the parts'; the
//! states and transitions are counted once by fingerprint; the action runs add up.

use crate::report::RunReport;
use std::collections::{BTreeMap, BTreeSet};
use venom_engine::{ActionCoverage, Exploration, StopReason, Strategy, Violation};

/// Why reports cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// No report was given.
    #[error("no report to merge")]
    Nothing,
    /// The reports are not of the same run.
    #[error(
        "report {index} is of another run than report 1: its {what} differs ({this} vs {first})"
    )]
    OtherRun {
        /// 1-based, in the order given.
        index: usize,
        /// What differs (`target`, `invariants`, `venom version`, `strategy`).
        what: &'static str,
        /// In that report.
        this: String,
        /// In the first.
        first: String,
    },
    /// A report is not of a sharded run, or its part is another split or repeated.
    #[error("report {index}: {why}")]
    NotAPart {
        /// 1-based, in the order given.
        index: usize,
        /// Why.
        why: String,
    },
}

/// The reports of the parts of one split run as one report; one report is returned as it is.
pub fn merge(reports: Vec<RunReport>) -> Result<RunReport, MergeError> {
    let mut reports = reports.into_iter();
    let first = reports.next().ok_or(MergeError::Nothing)?;
    let rest: Vec<RunReport> = reports.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    let mut parts = vec![&first];
    parts.extend(&rest);
    check_same_run(&parts)?;
    let explorations: Vec<&Exploration> = parts.iter().map(|r| &r.exploration).collect();
    let exploration = merged(&explorations);
    Ok(RunReport {
        format: crate::REPORT_FORMAT,
        tool_version: first.tool_version.clone(),
        target: first.target.clone(),
        invariants: first.invariants.clone(),
        exploration,
    })
}

fn check_same_run(parts: &[&RunReport]) -> Result<(), MergeError> {
    let first = parts[0];
    let mut seen = BTreeSet::new();
    for (i, part) in parts.iter().enumerate() {
        let index = i + 1;
        let differs = |what, this: String, first: String| MergeError::OtherRun {
            index,
            what,
            this,
            first,
        };
        if part.target != first.target {
            return Err(differs(
                "target",
                part.target.to_string(),
                first.target.to_string(),
            ));
        }
        let names = |r: &RunReport| {
            r.invariants
                .iter()
                .map(|i| i.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if names(part) != names(first) {
            return Err(differs("invariants", names(part), names(first)));
        }
        if part.tool_version != first.tool_version {
            return Err(differs(
                "venom version",
                part.tool_version.clone(),
                first.tool_version.clone(),
            ));
        }
        if part.exploration.strategy != first.exploration.strategy {
            return Err(differs(
                "strategy",
                part.exploration.strategy.to_string(),
                first.exploration.strategy.to_string(),
            ));
        }
        let Some(graph) = &part.exploration.shard else {
            return Err(MergeError::NotAPart {
                index,
                why: "it is not of a sharded run (explore --shard I/N)".into(),
            });
        };
        let count = first.exploration.shard.as_ref().map(|g| g.shard.count);
        if Some(graph.shard.count) != count {
            return Err(MergeError::NotAPart {
                index,
                why: format!("it is part {} of another split", graph.shard),
            });
        }
        if !seen.insert(graph.shard.index) {
            return Err(MergeError::NotAPart {
                index,
                why: format!("part {} is given twice", graph.shard),
            });
        }
    }
    Ok(())
}

fn merged(parts: &[&Exploration]) -> Exploration {
    let first = parts[0];
    let graphs = parts.iter().filter_map(|p| p.shard.as_ref());
    let mut states = BTreeSet::new();
    let mut transitions = BTreeSet::new();
    for graph in graphs {
        states.extend(graph.states.iter());
        transitions.extend(graph.transitions.iter());
    }
    let actions = merged_actions(parts);
    let covered = actions.iter().filter(|a| a.runs > 0).count();
    let mut warnings = Vec::new();
    for warning in parts.iter().flat_map(|p| &p.warnings) {
        if !warnings.contains(warning) {
            warnings.push(warning.clone());
        }
    }
    let stop = merged_stop(parts);
    let mut violations = merged_violations(parts);
    // Every part searched its subtree breadth-first to the end: the shortest of theirs is the
    // shortest overall.
    let proved = first.strategy == Strategy::Bfs
        && matches!(stop, StopReason::Exhausted | StopReason::DepthLimit);
    for violation in &mut violations {
        violation.proved_shortest = proved;
    }
    Exploration {
        strategy: first.strategy,
        mechanism: first.mechanism.clone(),
        stop,
        steps: parts.iter().map(|p| p.steps).sum(),
        states: states.len(),
        transitions: transitions.len(),
        max_depth: parts.iter().map(|p| p.max_depth).max().unwrap_or(0),
        coverage: match actions.len() {
            0 => 0.0,
            n => covered as f64 / n as f64,
        },
        actions,
        violations,
        warnings,
        // The parts ran side by side: the run took as long as the longest.
        duration_secs: parts.iter().map(|p| p.duration_secs).fold(0.0, f64::max),
        shard: None,
        // Each part's workers are its own; the merge is no run of workers.
        workers: Vec::new(),
        // The parts number their states each their own way.
        graph: None,
        limits: first.limits.clone(),
    }
}

/// The runs of each action added up; an action that never ran keeps the first part's reason.
fn merged_actions(parts: &[&Exploration]) -> Vec<ActionCoverage> {
    let mut actions: Vec<ActionCoverage> = parts[0].actions.clone();
    for part in &parts[1..] {
        for action in &part.actions {
            match actions.iter_mut().find(|a| a.action == action.action) {
                Some(total) => total.runs += action.runs,
                None => actions.push(action.clone()),
            }
        }
    }
    for action in &mut actions {
        if action.runs > 0 {
            action.never_run = None;
        }
    }
    actions
}

/// Of each invariant's violations, the one with the shortest path (the first part's on a tie),
/// its occurrences added up; most severe first, then shortest.
fn merged_violations(parts: &[&Exploration]) -> Vec<Violation> {
    let mut best: BTreeMap<&str, Violation> = BTreeMap::new();
    let mut occurrences: BTreeMap<&str, u64> = BTreeMap::new();
    let mut order = Vec::new();
    for violation in parts.iter().flat_map(|p| &p.violations) {
        let name = violation.invariant.as_str();
        *occurrences.entry(name).or_default() += violation.occurrences;
        match best.get(name) {
            Some(kept) if kept.path.len() <= violation.path.len() => {}
            _ => {
                if !best.contains_key(name) {
                    order.push(name);
                }
                best.insert(name, violation.clone());
            }
        }
    }
    let mut violations: Vec<Violation> = order
        .into_iter()
        .filter_map(|name| {
            let mut violation = best.remove(name)?;
            violation.occurrences = occurrences[name];
            Some(violation)
        })
        .collect();
    violations.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.path.len().cmp(&b.path.len()))
    });
    violations
}

/// The parts' common stop reason; when they differ, the first that says the run is not
/// complete (a failure, an interrupt, a limit), else the depth limit.
fn merged_stop(parts: &[&Exploration]) -> StopReason {
    let incomplete = parts
        .iter()
        .map(|p| &p.stop)
        .find(|s| !matches!(s, StopReason::Exhausted | StopReason::DepthLimit));
    match incomplete {
        Some(stop) => stop.clone(),
        None if parts.iter().all(|p| p.stop == StopReason::Exhausted) => StopReason::Exhausted,
        None => StopReason::DepthLimit,
    }
}
