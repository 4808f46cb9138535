//! A deterministic slice of a load run (`--segment I/N`), as k6's execution segments: the part
//! `I` of `N` machines runs its share of the virtual users, of the arrival rate and of the
//! iteration budget, so that the `N` parts together run the whole plan. `venom load merge`
//! joins their summaries.

use crate::plan::{LoadPlan, Model, PlanError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The part `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Which part, `0..count`.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Segment {
    /// This part's share of `total` whole things (users, iterations): the parts' shares differ
    /// by at most one and add up to `total`.
    pub fn share(self, total: u64) -> u64 {
        let (i, n) = (u128::from(self.index), u128::from(self.count));
        let bound = |k: u128| (k * u128::from(total) / n) as u64;
        bound(i + 1) - bound(i)
    }

    /// `plan` cut to this part: its users, rates and iteration budget.
    pub(crate) fn apply(self, mut plan: LoadPlan) -> Result<LoadPlan, PlanError> {
        let n = f64::from(self.count);
        match &mut plan.model {
            Model::Closed { vus } => {
                let mine = self.share(*vus as u64) as usize;
                if mine == 0 {
                    return Err(PlanError(format!(
                        "--segment {self}: {vus} virtual user(s) leave none to this part, expected at least as many users as parts"
                    )));
                }
                *vus = mine;
            }
            Model::Open { stages, .. } => {
                for stage in stages {
                    stage.from /= n;
                    stage.target /= n;
                }
            }
        }
        if let Some(iterations) = plan.iterations {
            let mine = self.share(iterations);
            if mine == 0 {
                return Err(PlanError(format!(
                    "--segment {self}: {iterations} iteration(s) leave none to this part, expected at least as many iterations as parts"
                )));
            }
            plan.iterations = Some(mine);
        }
        plan.segment = Some(self);
        Ok(plan)
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Segment {
    type Err = String;

    /// `I/N` with `0 <= I < N` (the syntax of `venom explore --shard`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let part: venom_engine::Shard = s.parse()?;
        Ok(Segment {
            index: part.index,
            count: part.count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_at_most_one() {
        for count in 1..=7u32 {
            for total in [0u64, 1, 5, 50, 101, u64::MAX / 2] {
                let shares: Vec<u64> = (0..count)
                    .map(|index| Segment { index, count }.share(total))
                    .collect();
                assert_eq!(
                    shares.iter().map(|&s| u128::from(s)).sum::<u128>(),
                    u128::from(total)
                );
                let (min, max) = (shares.iter().min().unwrap(), shares.iter().max().unwrap());
                assert!(max - min <= 1, "{count} {total} {shares:?}");
            }
        }
        assert_eq!("1/3".parse::<Segment>(), Ok(Segment { index: 1, count: 3 }));
        assert!("3/3".parse::<Segment>().is_err());
    }
}
