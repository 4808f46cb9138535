//! Driving the engine as a library: an in-memory wallet with a sequence bug, explored
//! breadth-first. Run with `cargo run -p venom-engine --example wallet`.
//!
//! The bug: a refund is checked against the amount paid, not against what is left after earlier
//! refunds, so two refunds of 60 after a payment of 100 leave the balance negative.

use std::collections::HashMap;
use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Explorer, ExplorerConfig, Invariant,
    Observation, Outcome, Precondition, Severity, Verdict, World, WorldError,
};

/// The system under test, with snapshots as its checkpoints.
#[derive(Default)]
struct Wallet {
    paid: i64,
    refunded: i64,
    snapshots: HashMap<u64, (i64, i64)>,
    next: u64,
}

impl World for Wallet {
    fn mechanism(&self) -> String {
        "in-memory snapshots".into()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        CheckpointMode::RandomAccess
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        self.next += 1;
        self.snapshots.insert(self.next, (self.paid, self.refunded));
        Ok(CheckpointId(self.next))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        let (paid, refunded) = self
            .snapshots
            .get(&id.0)
            .copied()
            .ok_or_else(|| WorldError::new(format!("unknown checkpoint {}", id.0)))?;
        self.paid = paid;
        self.refunded = refunded;
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        self.snapshots.remove(&id.0);
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        Ok(Observation::from([
            ("paid", self.paid.into()),
            ("refunded", self.refunded.into()),
        ]))
    }
}

fn main() {
    let actions = vec![
        Action::new("pay", |w: &mut Wallet, ctx: &mut Context| {
            w.paid += 100;
            ctx.set("paid", true);
            Ok(Outcome::default())
        })
        .max_calls(1),
        Action::new("refund_60", |w: &mut Wallet, _: &mut Context| {
            if w.paid >= 60 {
                w.refunded += 60; // BUG: ignores what was already refunded
            }
            Ok(Outcome::default())
        })
        .requires(Precondition::ActionsRun(vec!["pay".into()]))
        .max_calls(3),
    ];
    let invariants = vec![Invariant::new(
        "refunded_within_paid",
        Severity::Critical,
        |w: &mut Wallet, _| {
            Ok(if w.refunded <= w.paid {
                Verdict::Holds
            } else {
                Verdict::broken(format!("refunded {} > paid {}", w.refunded, w.paid))
            })
        },
    )];
    let config = ExplorerConfig::default().max_depth(4);
    let mut explorer = Explorer::new(Wallet::default(), actions, invariants).with_config(config);
    let result = match explorer.run(Context::new()) {
        Ok(result) => result,
        Err(e) => {
            eprintln!("cannot explore: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "{} states, {} steps, stopped: {}",
        result.states, result.steps, result.stop
    );
    for violation in &result.violations {
        println!(
            "[{}] {}: {} after {}",
            violation.severity.as_str(),
            violation.invariant,
            violation.message,
            violation.action_names().join(" -> ")
        );
    }
}
