//! Validation of what an action declares about several requests at once: its `concurrent = N`
//! copies, the `[[races]]` tables, and its rate limit (`quota`).

use crate::compile::Compiler;
use crate::error::ScenarioError;
use crate::model::{ActionSpec, ConcurrentSpec, Quota};
use crate::spec::{RawAction, RawRace, RawScenario};
use std::collections::BTreeSet;
use toml::Spanned;

type Result<T> = std::result::Result<T, ScenarioError>;

/// The most requests one concurrent step sends.
pub const MAX_CONCURRENT: usize = 64;

impl Compiler<'_> {
    /// The concurrent steps: each action's `concurrent = N` copies (in action order), then the
    /// `[[races]]` (in file order).
    pub(crate) fn concurrent(
        &self,
        raw: &RawScenario,
        actions: &[ActionSpec],
    ) -> Result<Vec<ConcurrentSpec>> {
        let mut steps = Vec::new();
        let raw_actions = raw.actions.iter().flat_map(|a| a.get_ref());
        for (index, spanned) in raw_actions.enumerate() {
            if let Some(copies) = self.copies(spanned.get_ref(), &actions[index])? {
                steps.push(ConcurrentSpec {
                    name: format!("{}*{copies}", actions[index].name),
                    members: vec![index; copies],
                });
            }
        }
        let mut names: BTreeSet<String> = actions.iter().map(|a| a.name.clone()).collect();
        for race in raw.races.iter().flatten() {
            let race = self.race(race, actions, &names)?;
            names.insert(race.name.clone());
            steps.push(race);
        }
        Ok(steps)
    }

    /// An action's `quota = "N/s"` (or `/min`, `/h`) and `quota_tolerance = "P%"` (default 20 %).
    pub(crate) fn quota(&self, raw: &RawAction) -> Result<Option<Quota>> {
        let Some(quota) = &raw.quota else {
            if let Some(tolerance) = &raw.quota_tolerance {
                return Err(self.err_at(
                    tolerance,
                    "quota_tolerance without quota, expected a `quota` such as \"10/s\" too",
                ));
            }
            return Ok(None);
        };
        let text = quota.get_ref().trim();
        let per_second = text.split_once('/').and_then(|(n, unit)| {
            let n: f64 = n
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n > 0.0)?;
            let seconds = match unit.trim() {
                "s" => 1.0,
                "min" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
            Some(n / seconds)
        });
        let per_second = per_second.ok_or_else(|| {
            self.err_at(
                quota,
                format!(
                    "invalid quota `{}`, expected requests per unit such as \"10/s\", \"600/min\" or \"1000/h\"",
                    crate::limits::quoted(text)
                ),
            )
        })?;
        let tolerance = match &raw.quota_tolerance {
            None => 0.2,
            Some(t) => {
                let value = t
                    .get_ref()
                    .trim()
                    .strip_suffix('%')
                    .and_then(|n| n.trim().parse::<f64>().ok())
                    .filter(|p| p.is_finite() && *p > 0.0 && *p < 100.0);
                value.map(|p| p / 100.0).ok_or_else(|| {
                    self.err_at(
                        t,
                        format!(
                            "invalid quota_tolerance `{}`, expected a percentage above 0 and below 100 such as \"20%\"",
                            crate::limits::quoted(t.get_ref())
                        ),
                    )
                })?
            }
        };
        Ok(Some(Quota {
            per_second,
            tolerance,
        }))
    }

    /// An action's `concurrent = N`: from 2 to [`MAX_CONCURRENT`], on an action that sends one
    /// request.
    fn copies(&self, raw: &RawAction, action: &ActionSpec) -> Result<Option<usize>> {
        let Some(n) = &raw.concurrent else {
            return Ok(None);
        };
        let copies = usize::try_from(*n.get_ref())
            .ok()
            .filter(|c| (2..=MAX_CONCURRENT).contains(c))
            .ok_or_else(|| {
                self.err_at(
                    n,
                    format!(
                        "invalid concurrent `{}` of action `{}`, expected from 2 to {MAX_CONCURRENT} copies sent together",
                        n.get_ref(),
                        action.name
                    ),
                )
            })?;
        self.one_request(action, n.span())?;
        Ok(Some(copies))
    }

    /// A `[[races]]` table: at least two known actions, each sending one request, and a name
    /// that no action or earlier race has.
    fn race(
        &self,
        spanned: &Spanned<RawRace>,
        actions: &[ActionSpec],
        taken: &BTreeSet<String>,
    ) -> Result<ConcurrentSpec> {
        let race = spanned.get_ref();
        let listed = race.actions.get_ref();
        if listed.len() < 2 || listed.len() > MAX_CONCURRENT {
            return Err(self.err_at(
                &race.actions,
                format!(
                    "a race of {} action(s), expected from 2 to {MAX_CONCURRENT} actions sent together",
                    listed.len()
                ),
            ));
        }
        let mut members = Vec::new();
        for name in listed {
            let Some(index) = actions.iter().position(|a| &a.name == name.get_ref()) else {
                let known: Vec<String> = actions.iter().map(|a| format!("`{}`", a.name)).collect();
                return Err(self.err_at(
                    name,
                    format!(
                        "unknown action `{}` in races.actions, expected one of {}",
                        name.get_ref(),
                        known.join(", ")
                    ),
                ));
            };
            self.one_request(&actions[index], name.span())?;
            members.push(index);
        }
        let name = match &race.name {
            Some(name) => self.name(name, "race", false, None)?,
            None => {
                let names: Vec<&str> = listed.iter().map(|n| n.get_ref().as_str()).collect();
                names.join("+")
            }
        };
        if taken.contains(&name) {
            let span = race
                .name
                .as_ref()
                .map_or(race.actions.span(), Spanned::span);
            return Err(self.err(
                span,
                format!("duplicate race name `{name}`: an action or another race has it, expected a `name` of its own"),
            ));
        }
        Ok(ConcurrentSpec { name, members })
    }

    /// Fails unless `action` sends exactly one request (what a concurrent step sends at once).
    fn one_request(&self, action: &ActionSpec, span: std::ops::Range<usize>) -> Result<()> {
        if action.steps.len() == 1 {
            return Ok(());
        }
        Err(self.err(
            span,
            format!(
                "action `{}` sends {} requests (`steps`), expected an action of one request to send concurrently",
                action.name,
                action.steps.len()
            ),
        ))
    }
}
