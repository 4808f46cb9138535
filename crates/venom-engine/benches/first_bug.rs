//! Steps to the first bug, per strategy, on a model whose bug sits deep.
//!
//! The model is a combination lock: 6 actions, one sequence of 8 opens it (the bug, depth 8);
//! every wrong action sends the progress back to 0 and stirs a noise value (modulo `NOISE`),
//! so almost every step finds a new state: there are `9 × NOISE` states and a breadth-first
//! search must go through most of those within depth 7 first. Each strategy runs with
//! `fail_fast` over 20 seeds (BFS is deterministic: one run); the table shows the median,
//! minimum and maximum number of steps to the bug.
//!
//! ```text
//! cargo bench -p venom-engine --bench first_bug
//! ```

use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Explorer, ExplorerConfig, Invariant, Outcome,
    Severity, StopReason, Strategy, Verdict, World, WorldError,
};

const SECRET: [i64; 8] = [3, 1, 4, 1, 5, 2, 0, 5];
const NOISE: i64 = 4099;
const SEEDS: u64 = 20;
const MAX_STEPS: u64 = 2_000_000;

/// A world whose whole state is the path's context: checkpoints cost nothing.
struct Lock;

impl World for Lock {
    fn mechanism(&self) -> String {
        "context only".into()
    }
    fn checkpoint_mode(&self) -> CheckpointMode {
        CheckpointMode::RandomAccess
    }
    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        Ok(CheckpointId(0))
    }
    fn rollback(&mut self, _: CheckpointId) -> Result<(), WorldError> {
        Ok(())
    }
}

fn actions() -> Vec<Action<Lock>> {
    (0..6)
        .map(|k: i64| {
            Action::new(format!("a{k}"), move |_: &mut Lock, ctx: &mut Context| {
                let progress = ctx.get("progress").and_then(|v| v.as_i64()).unwrap_or(0);
                let noise = ctx.get("noise").and_then(|v| v.as_i64()).unwrap_or(0);
                if progress < 8 && SECRET[progress as usize] == k {
                    ctx.set("progress", progress + 1);
                } else {
                    ctx.set("progress", 0);
                    ctx.set("noise", (noise * 6 + k + 1) % NOISE);
                }
                Ok(Outcome::default())
            })
        })
        .collect()
}

fn invariants() -> Vec<Invariant<Lock>> {
    vec![Invariant::new(
        "lock_stays_shut",
        Severity::Critical,
        |_: &mut Lock, view: &venom_engine::StepView<'_>| {
            Ok(
                match view.ctx.get("progress").and_then(|v| v.as_i64()) == Some(8) {
                    true => Verdict::Broken {
                        message: "opened".into(),
                        evidence: None,
                    },
                    false => Verdict::Holds,
                },
            )
        },
    )]
}

/// Steps until the bug (`None`: not found within [`MAX_STEPS`]).
fn steps_to_bug(strategy: Strategy, seed: u64) -> Option<u64> {
    let config = ExplorerConfig::default()
        .strategy(strategy)
        .seed(seed)
        .max_steps(Some(MAX_STEPS))
        .fail_fast(Severity::Critical);
    let mut explorer = Explorer::new(Lock, actions(), invariants()).with_config(config);
    let result = explorer.run(Context::new()).expect("explore");
    matches!(result.stop, StopReason::FailFast(_)).then_some(result.steps)
}

fn main() {
    println!(
        "steps to the first bug (depth 8, branching 6, {} states)",
        9 * NOISE
    );
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>8}",
        "strategy", "median", "min", "max", "found"
    );
    let mut medians = Vec::new();
    for strategy in [
        Strategy::Bfs,
        Strategy::Coverage,
        Strategy::Random,
        Strategy::Mcts,
    ] {
        let seeds = if strategy == Strategy::Bfs { 1 } else { SEEDS };
        let runs: Vec<Option<u64>> = (0..seeds)
            .map(|seed| steps_to_bug(strategy, seed))
            .collect();
        let mut found: Vec<u64> = runs.iter().flatten().copied().collect();
        found.sort_unstable();
        // A run that did not find it counts as MAX_STEPS for the median.
        let mut all: Vec<u64> = runs.iter().map(|r| r.unwrap_or(MAX_STEPS)).collect();
        all.sort_unstable();
        let median = all[all.len() / 2];
        medians.push((strategy, median));
        println!(
            "{:<10} {:>10} {:>10} {:>10} {:>5}/{}",
            strategy.as_str(),
            median,
            found.first().copied().unwrap_or(MAX_STEPS),
            found.last().copied().unwrap_or(MAX_STEPS),
            found.len(),
            seeds
        );
    }
    let bfs = medians[0].1 as f64;
    for (strategy, median) in &medians[1..] {
        println!(
            "{}: {:.2}x fewer steps than bfs",
            strategy.as_str(),
            bfs / *median as f64
        );
    }
}
