//! Checking the rate limits actions declare (`quota = "10/s"`): venom sends each such action
//! alone above its quota, then checks that the accepted rate stays within the tolerance and that
//! what is not accepted answers 429.

use crate::plan::LoadPlan;
use crate::run::{run, Control, LoadError};
use crate::summary::{IntervalStats, LoadSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use venom_scenario::{ActionSpec, Quota, Scenario};

/// The `kind` of a quota report file.
pub const QUOTA_KIND: &str = "venom-load-quota";

/// How the quotas are checked.
#[derive(Debug, Clone, Copy)]
pub struct QuotaOptions {
    /// How long each action is sent above its quota.
    pub duration: Duration,
    /// The rate sent, as a multiple of the quota (above 1 + the tolerance).
    pub overload: f64,
}

impl Default for QuotaOptions {
    fn default() -> Self {
        QuotaOptions {
            duration: Duration::from_secs(6),
            overload: 2.0,
        }
    }
}

/// Every declared quota, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaReport {
    /// Always [`QUOTA_KIND`].
    pub kind: String,
    /// The scenario file.
    pub scenario: String,
    /// One result per action that declares a quota, in the scenario's order.
    pub quotas: Vec<QuotaResult>,
}

impl QuotaReport {
    /// Whether every quota held.
    pub fn passed(&self) -> bool {
        self.quotas.iter().all(|q| q.passed)
    }
}

/// One action's quota, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaResult {
    /// The action.
    pub action: String,
    /// The declared quota, requests per second.
    pub quota_per_s: f64,
    /// The allowed distance from the quota (0.2 = ±20 %).
    pub tolerance: f64,
    /// Requests sent per second.
    pub offered_per_s: f64,
    /// 2xx answers per second, over the intervals after the first (a limiter may let a first
    /// burst through).
    pub accepted_per_s: f64,
    /// Answers by status code, over the whole check.
    pub statuses: BTreeMap<String, u64>,
    /// Requests that got no answer (timeouts, connections refused or reset).
    pub unanswered: u64,
    /// Whether the quota held.
    pub passed: bool,
    /// Why it did not, or what held.
    pub verdict: String,
}

impl std::fmt::Display for QuotaReport {
    /// One line per quota.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.quotas.is_empty() {
            return writeln!(f, "no action declares a quota (quota = \"10/s\")");
        }
        for q in &self.quotas {
            writeln!(
                f,
                "quota {} {:.1}/s: {} — sent {:.1}/s, {}",
                q.action,
                q.quota_per_s,
                if q.passed { "PASS" } else { "FAIL" },
                q.offered_per_s,
                q.verdict
            )?;
        }
        Ok(())
    }
}

/// Checks the quota of every action that declares one, in turn.
pub fn check_quotas(
    scenario: &Scenario,
    options: QuotaOptions,
    control: &Control,
) -> Result<QuotaReport, LoadError> {
    let mut quotas = Vec::new();
    for action in &scenario.actions {
        let Some(quota) = action.quota else {
            continue;
        };
        if control.interrupted() {
            break;
        }
        quotas.push(check_one(scenario, action, quota, options, control)?);
    }
    Ok(QuotaReport {
        kind: QUOTA_KIND.to_string(),
        scenario: scenario.file.display().to_string(),
        quotas,
    })
}

/// Sends `action` alone at `overload` × its quota for the check's duration, and judges it.
fn check_one(
    scenario: &Scenario,
    action: &ActionSpec,
    quota: Quota,
    options: QuotaOptions,
    control: &Control,
) -> Result<QuotaResult, LoadError> {
    let rate = quota.per_second * options.overload;
    let plan = LoadPlan::open_stage(scenario, rate, options.duration, Some(&action.name))
        .map_err(LoadError::Plan)?;
    let summary = run(scenario, &plan, control.clone())?;
    Ok(judge(&action.name, quota, &summary))
}

/// The verdict on `summary`, a run of the action alone above its quota.
pub(crate) fn judge(action: &str, quota: Quota, summary: &LoadSummary) -> QuotaResult {
    let stats = summary.action(action).cloned().unwrap_or_default();
    let accepted_per_s = steady_accepted_rate(action, &summary.intervals)
        .unwrap_or_else(|| accepted(&stats.statuses) as f64 / summary.elapsed_s.max(1e-9));
    let answered: u64 = stats.statuses.values().sum();
    let unanswered = stats.count.saturating_sub(answered);
    let (low, high) = (
        quota.per_second * (1.0 - quota.tolerance),
        quota.per_second * (1.0 + quota.tolerance),
    );
    let limited = stats.status_count(429);
    let others: Vec<String> = stats
        .statuses
        .iter()
        .filter(|(code, _)| !code.starts_with('2') && code.as_str() != "429")
        .map(|(code, n)| format!("{n}× {code}"))
        .collect();
    let band = format!(
        "{:.1}/s ±{:.0} %",
        quota.per_second,
        quota.tolerance * 100.0
    );
    let failure = if stats.rps < high {
        Some(format!(
            "sent only {:.1}/s, not above the quota's band {band}: nothing was checked",
            stats.rps
        ))
    } else if !(low..=high).contains(&accepted_per_s) {
        Some(format!("accepted {accepted_per_s:.1}/s, outside {band}"))
    } else if !others.is_empty() || unanswered > 0 {
        let mut what = others;
        if unanswered > 0 {
            what.push(format!("{unanswered}× no answer"));
        }
        Some(format!(
            "the excess did not all answer 429: {}",
            what.join(", ")
        ))
    } else if limited == 0 {
        Some("nothing answered 429".to_string())
    } else {
        None
    };
    QuotaResult {
        action: action.to_string(),
        quota_per_s: quota.per_second,
        tolerance: quota.tolerance,
        offered_per_s: stats.rps,
        accepted_per_s,
        statuses: stats.statuses.clone(),
        unanswered,
        passed: failure.is_none(),
        verdict: failure.unwrap_or_else(|| {
            format!("accepted {accepted_per_s:.1}/s within {band}, the excess answered 429 ({limited}×)")
        }),
    }
}

/// 2xx answers among `statuses`.
fn accepted(statuses: &BTreeMap<String, u64>) -> u64 {
    statuses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .map(|(_, n)| n)
        .sum()
}

/// 2xx answers per second of `action` over the full intervals after the first; `None` with
/// fewer than one such interval.
fn steady_accepted_rate(action: &str, intervals: &[IntervalStats]) -> Option<f64> {
    let steady: Vec<&IntervalStats> = intervals.iter().filter(|i| i.full).skip(1).collect();
    let seconds: f64 = steady.iter().map(|i| i.end_s - i.start_s).sum();
    if steady.is_empty() || seconds <= 0.0 {
        return None;
    }
    let answers: u64 = steady
        .iter()
        .filter_map(|i| i.actions.get(action))
        .map(|w| accepted(&w.statuses))
        .sum();
    Some(answers as f64 / seconds)
}
