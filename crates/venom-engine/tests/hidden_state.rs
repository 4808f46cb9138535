//! State the fingerprint does not see must never leak from one branch into another: when a step
//! lands in an already-known state, the explorer restores that state before continuing from it.

use std::collections::HashMap;
use venom_engine::{
    replay, Action, CheckpointId, CheckpointMode, Context, Explorer, ExplorerConfig, Invariant,
    Observation, Outcome, Severity, Strategy, Verdict, World, WorldError,
};

/// `visible` is observed; `hidden` is not, so two states differing only in it share a fingerprint.
#[derive(Clone, Copy, Default)]
struct Values {
    visible: u32,
    hidden: u32,
}

struct Hidden {
    now: Values,
    mode: CheckpointMode,
    saved: HashMap<u64, Values>,
    next: u64,
}

impl World for Hidden {
    fn mechanism(&self) -> String {
        format!("hidden {:?}", self.mode)
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        self.mode
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        self.next += 1;
        self.saved.insert(self.next, self.now);
        Ok(CheckpointId(self.next))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        self.now = self.saved[&id.0];
        Ok(())
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.now = Values::default();
        Ok(())
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        Ok(Observation::from([(
            "visible".to_string(),
            self.now.visible.into(),
        )]))
    }
}

fn actions() -> Vec<Action<Hidden>> {
    vec![
        // Changes only what the fingerprint cannot see.
        Action::new("touch", |w: &mut Hidden, _: &mut Context| {
            w.now.hidden += 1;
            Ok(Outcome::default())
        }),
        Action::new("step", |w: &mut Hidden, _: &mut Context| {
            w.now.visible = (w.now.visible + 1) % 3;
            Ok(Outcome::default())
        }),
    ]
}

/// Broken only when `touch` ran twice without a visible step in between — a sequence the
/// explorer never runs from a single concrete state, because `touch` leads back to a known state.
fn invariants() -> Vec<Invariant<Hidden>> {
    vec![Invariant::new(
        "hidden_below_two",
        Severity::High,
        |w: &mut Hidden, _| {
            Ok(if w.now.hidden < 2 {
                Verdict::Holds
            } else {
                Verdict::broken(format!("hidden = {}", w.now.hidden))
            })
        },
    )]
}

fn world(mode: CheckpointMode) -> Hidden {
    Hidden {
        now: Values::default(),
        mode,
        saved: HashMap::new(),
        next: 0,
    }
}

#[test]
fn every_reported_path_reproduces_its_violation() {
    for mode in [CheckpointMode::RandomAccess, CheckpointMode::ResetReplay] {
        for strategy in Strategy::ALL {
            let config = ExplorerConfig::default()
                .strategy(strategy)
                .max_steps(200)
                .seed(3);
            let mut explorer =
                Explorer::new(world(mode), actions(), invariants()).with_config(config);
            let result = explorer.run(Context::new()).expect("exploration");
            assert!(result.steps > 0, "{strategy} {mode:?}: nothing ran");
            assert_eq!(result.states, 3, "{strategy} {mode:?}: visible states");
            for violation in &result.violations {
                let path: Vec<String> = violation.path.iter().map(|s| s.action.clone()).collect();
                let mut fresh = world(mode);
                let again = replay(
                    &mut fresh,
                    &actions(),
                    &invariants()[0],
                    &path,
                    Context::new(),
                )
                .expect("replay");
                assert!(
                    again.reproduced,
                    "{strategy} {mode:?}: reported path {path:?} does not reproduce `{}`",
                    violation.message
                );
            }
            assert!(
                result.violations.is_empty(),
                "{strategy} {mode:?}: hidden state leaked across branches: {:?}",
                result
                    .violations
                    .iter()
                    .map(|v| &v.message)
                    .collect::<Vec<_>>()
            );
        }
    }
}
