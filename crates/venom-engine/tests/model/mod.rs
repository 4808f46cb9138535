//! A small in-memory system used by the engine tests: a counter modulo `MODULO` with actions that
//! add, double and do nothing, and snapshots that enforce the declared checkpoint mode.

use std::collections::HashMap;
use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Invariant, Observation, ObservationSink,
    Outcome, Severity, Verdict, World, WorldError,
};

pub const MODULO: u32 = 12;

pub struct Counter {
    pub value: u32,
    mode: CheckpointMode,
    saved: HashMap<u64, u32>,
    /// Stack of live checkpoint ids, enforced in stack-only mode.
    stack: Vec<u64>,
    next: u64,
    pub resets: u32,
    /// Fail with a world error once this many actions have run.
    pub fail_after: Option<u32>,
    pub executed: u32,
    /// What the world advises the report (taken at the end of a run).
    pub advice: Vec<String>,
    /// Whether it feeds its observation through `observe_into`, and what.
    pub feed: Feed,
    /// How often `observe` was called.
    pub observed: u32,
}

/// What a [`Counter`] feeds through `observe_into`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Nothing: it does not offer it.
    Off,
    /// Its value, as `observe` returns it.
    Value,
    /// Its value plus one: not what `observe` returns.
    Wrong,
}

impl Counter {
    pub fn new(mode: CheckpointMode) -> Self {
        Counter {
            value: 0,
            mode,
            saved: HashMap::new(),
            stack: Vec::new(),
            next: 0,
            resets: 0,
            fail_after: None,
            executed: 0,
            advice: Vec::new(),
            feed: Feed::Off,
            observed: 0,
        }
    }

    /// How many checkpoints the world took.
    pub fn taken(&self) -> u64 {
        self.next
    }

    /// How many checkpoints the world holds now.
    pub fn held(&self) -> usize {
        self.saved.len()
    }

    /// Applies `f` to the value (modulo [`MODULO`]).
    pub fn apply(&mut self, f: impl Fn(u32) -> u32) -> Result<Outcome, WorldError> {
        self.executed += 1;
        if self.fail_after.is_some_and(|n| self.executed > n) {
            return Err(WorldError::new("connection refused"));
        }
        self.value = f(self.value) % MODULO;
        Ok(Outcome::default())
    }
}

impl World for Counter {
    fn mechanism(&self) -> String {
        format!("counter {:?}", self.mode)
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        self.mode
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        assert_ne!(
            self.mode,
            CheckpointMode::ResetReplay,
            "checkpoint in replay mode"
        );
        self.next += 1;
        self.saved.insert(self.next, self.value);
        self.stack.push(self.next);
        Ok(CheckpointId(self.next))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        if self.mode == CheckpointMode::StackOnly {
            let pos = self
                .stack
                .iter()
                .position(|&c| c == id.0)
                .unwrap_or_else(|| panic!("stack-only rollback to a checkpoint not on the stack"));
            for dropped in self.stack.drain(pos + 1..) {
                self.saved.remove(&dropped);
            }
        }
        self.value = *self
            .saved
            .get(&id.0)
            .expect("rollback to a released checkpoint");
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        self.saved.remove(&id.0);
    }

    /// 100 bytes per checkpoint held.
    fn checkpoint_bytes(&self) -> Option<u64> {
        Some(self.saved.len() as u64 * 100)
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.resets += 1;
        self.value = 0;
        Ok(())
    }

    fn observe_into(&mut self, sink: &mut ObservationSink<'_>) -> Result<bool, WorldError> {
        match self.feed {
            Feed::Off => return Ok(false),
            Feed::Value => sink.integer("value", i64::from(self.value)),
            Feed::Wrong => sink.integer("value", i64::from(self.value) + 1),
        }
        Ok(true)
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        self.observed += 1;
        let mut obs = Observation::new();
        obs.insert("value", self.value.into());
        Ok(obs)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.advice)
    }
}

pub fn add1(v: u32) -> u32 {
    v + 1
}
pub fn add3(v: u32) -> u32 {
    v + 3
}
pub fn double(v: u32) -> u32 {
    v * 2
}

/// An action of the model: its name and what it does to the value.
pub type ModelAction = (&'static str, fn(u32) -> u32);

pub const ACTIONS: [ModelAction; 3] = [("add1", add1), ("add3", add3), ("double", double)];

pub fn actions() -> Vec<Action<Counter>> {
    ACTIONS
        .iter()
        .map(|&(name, f)| Action::new(name, move |w: &mut Counter, _ctx: &mut Context| w.apply(f)))
        .collect()
}

/// Broken values: 7 (critical) and 10 (medium).
pub fn invariants() -> Vec<Invariant<Counter>> {
    vec![
        Invariant::new("never_seven", Severity::Critical, |w: &mut Counter, _| {
            Ok(if w.value == 7 {
                Verdict::broken("value is 7")
            } else {
                Verdict::Holds
            })
        }),
        Invariant::new("never_ten", Severity::Medium, |w: &mut Counter, _| {
            Ok(if w.value == 10 {
                Verdict::broken("value is 10")
            } else {
                Verdict::Holds
            })
        }),
    ]
}

pub fn broken(value: u32) -> Vec<&'static str> {
    let mut names = Vec::new();
    if value == 7 {
        names.push("never_seven");
    }
    if value == 10 {
        names.push("never_ten");
    }
    names
}

/// Brute force: for each (invariant, last action), the length of the shortest sequence whose last
/// step turns the invariant from holding to broken.
pub fn shortest_by_brute_force(max_len: usize) -> HashMap<(String, String), usize> {
    let mut best = HashMap::new();
    let mut layer: Vec<u32> = vec![0];
    for len in 1..=max_len {
        let mut next = Vec::new();
        for &before in &layer {
            for &(name, f) in &ACTIONS {
                let after = f(before) % MODULO;
                for inv in broken(after) {
                    if !broken(before).contains(&inv) {
                        best.entry((inv.to_string(), name.to_string()))
                            .or_insert(len);
                    }
                }
                next.push(after);
            }
        }
        next.sort();
        next.dedup();
        layer = next;
    }
    best
}
