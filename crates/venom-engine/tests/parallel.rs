//! Parallel breadth-first exploration (`Explorer::with_workers`): several worlds, one graph, the
//! same result as one world.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use venom_engine::{
    Action, CheckpointId, CheckpointMode, Context, Exploration, Explorer, ExplorerConfig,
    Invariant, LentCheckpoint, Observation, Outcome, Severity, StartError, StopReason, Strategy,
    Verdict, World, WorldError,
};

/// Values of each coordinate: 0..SIDE.
const SIDE: u32 = 9;

/// A point on a torus with snapshots, standing for one copy of a system under test.
struct Grid {
    x: u32,
    y: u32,
    mode: CheckpointMode,
    saved: HashMap<u64, (u32, u32)>,
    next: u64,
    /// Actions run in this world.
    executed: u64,
    /// Each action sleeps this long (so that every worker gets pairs).
    latency: Duration,
    /// Fail with a world error once this many actions have run.
    fail_after: Option<u64>,
    /// Whether its checkpoints are lent to the other grids; each lent point holds a clone of
    /// this, so its count tells how many are still held.
    lends: Option<Arc<()>>,
    /// Lent points restored here.
    restored_lent: u64,
}

/// A point a grid lent to the others.
struct LentPoint {
    at: (u32, u32),
    _held: Arc<()>,
}

impl Grid {
    fn new(mode: CheckpointMode) -> Grid {
        Grid {
            x: 0,
            y: 0,
            mode,
            saved: HashMap::new(),
            next: 0,
            executed: 0,
            latency: Duration::ZERO,
            fail_after: None,
            lends: None,
            restored_lent: 0,
        }
    }

    fn apply(&mut self, f: fn(u32, u32) -> (u32, u32)) -> Result<Outcome, WorldError> {
        self.executed += 1;
        if self.fail_after.is_some_and(|n| self.executed > n) {
            return Err(WorldError::new("connection refused"));
        }
        std::thread::sleep(self.latency);
        let (x, y) = f(self.x, self.y);
        (self.x, self.y) = (x % SIDE, y % SIDE);
        Ok(Outcome::default())
    }
}

impl World for Grid {
    fn mechanism(&self) -> String {
        format!("grid {:?}", self.mode)
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        self.mode
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        assert_eq!(
            self.mode,
            CheckpointMode::RandomAccess,
            "checkpoint in replay mode"
        );
        self.next += 1;
        self.saved.insert(self.next, (self.x, self.y));
        Ok(CheckpointId(self.next))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        (self.x, self.y) = *self
            .saved
            .get(&id.0)
            .expect("rollback to a checkpoint this world does not hold");
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        assert!(
            self.saved.remove(&id.0).is_some(),
            "release of a checkpoint this world does not hold"
        );
    }

    fn checkpoint_bytes(&self) -> Option<u64> {
        Some(self.saved.len() as u64 * 100)
    }

    fn lend(&mut self, id: CheckpointId) -> Option<LentCheckpoint> {
        let held = self.lends.clone()?;
        let at = *self
            .saved
            .get(&id.0)
            .expect("lend of a checkpoint this world holds");
        Some(LentCheckpoint::new(LentPoint { at, _held: held }))
    }

    fn restore_lent(&mut self, lent: &LentCheckpoint) -> Result<(), WorldError> {
        assert!(
            self.lends.is_some(),
            "restore_lent on a grid that does not lend"
        );
        (self.x, self.y) = lent.get::<LentPoint>().expect("a grid's point").at;
        self.restored_lent += 1;
        Ok(())
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        (self.x, self.y) = (0, 0);
        Ok(())
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut obs = Observation::new();
        obs.insert("x", self.x.into());
        obs.insert("y", self.y.into());
        Ok(obs)
    }
}

type Move = (&'static str, fn(u32, u32) -> (u32, u32));

const MOVES: [Move; 4] = [
    ("right", |x, y| (x + 1, y)),
    ("up", |x, y| (x, y + 1)),
    ("double_x", |x, y| (x * 2, y)),
    ("add_x_to_y", |x, y| (x, x + y)),
];

fn actions() -> Vec<Action<Grid>> {
    MOVES
        .iter()
        .map(|&(name, f)| Action::new(name, move |w: &mut Grid, _: &mut Context| w.apply(f)))
        .collect()
}

fn rule(name: &str, severity: Severity, broken: fn(u32, u32) -> bool) -> Invariant<Grid> {
    Invariant::new(name, severity, move |w: &mut Grid, _| {
        Ok(match broken(w.x, w.y) {
            true => Verdict::broken(format!("at ({}, {})", w.x, w.y)),
            false => Verdict::Holds,
        })
    })
}

fn invariants() -> Vec<Invariant<Grid>> {
    vec![
        rule("sum_not_13", Severity::Critical, |x, y| x + y == 13),
        rule("not_5_5", Severity::High, |x, y| (x, y) == (5, 5)),
        rule("x_not_7_before", Severity::Medium, |x, _| x == 7).before_each_action(),
    ]
}

/// Explores with `workers` grids (each with `latency` per action) and returns the result and
/// each grid afterwards.
fn explore(
    workers: usize,
    mode: CheckpointMode,
    config: ExplorerConfig,
    latency: Duration,
) -> (Exploration, Vec<Grid>) {
    let grid = || Grid {
        latency,
        ..Grid::new(mode)
    };
    let others = (1..workers).map(|_| grid()).collect();
    let mut explorer = Explorer::new(grid(), actions(), invariants())
        .with_config(config)
        .with_workers(others);
    let result = explorer.run(Context::new()).expect("setup");
    let mut grids = Vec::new();
    for world in explorer.worlds_mut() {
        grids.push(std::mem::replace(world, Grid::new(mode)));
    }
    (result, grids)
}

/// What must not depend on the number of workers.
fn essence(result: &Exploration) -> impl PartialEq + std::fmt::Debug {
    let violations: Vec<_> = result
        .violations
        .iter()
        .map(|v| {
            (
                v.invariant.clone(),
                v.action.clone(),
                v.action_names().join(" "),
                v.message.clone(),
                v.proved_shortest,
                v.occurrences,
                v.state.fingerprint.clone(),
            )
        })
        .collect();
    let runs: Vec<u64> = result.actions.iter().map(|a| a.runs).collect();
    (
        result.stop.clone(),
        result.steps,
        result.states,
        result.transitions,
        result.max_depth,
        runs,
        violations,
    )
}

fn bfs() -> ExplorerConfig {
    ExplorerConfig::default().strategy(Strategy::Bfs)
}

#[test]
fn several_workers_find_what_one_finds_with_the_same_shortest_paths() {
    for mode in [CheckpointMode::RandomAccess, CheckpointMode::ResetReplay] {
        let (one, _) = explore(1, mode, bfs(), Duration::ZERO);
        assert_eq!(one.stop, StopReason::Exhausted);
        assert_eq!(one.states, (SIDE * SIDE) as usize);
        for invariant in ["sum_not_13", "not_5_5", "x_not_7_before"] {
            assert!(
                one.violations.iter().any(|v| v.invariant == invariant),
                "{invariant} not found: {:#?}",
                one.violations
            );
        }
        assert!(
            one.workers.is_empty(),
            "one worker reports no per-worker figures"
        );
        for workers in [2, 4] {
            let (many, grids) = explore(workers, mode, bfs(), Duration::from_micros(300));
            assert_eq!(essence(&many), essence(&one), "{workers} workers, {mode:?}");
            assert_eq!(many.workers.len(), workers);
            assert_eq!(many.workers.iter().map(|w| w.steps).sum::<u64>(), one.steps);
            for (figures, grid) in many.workers.iter().zip(&grids) {
                assert!(
                    figures.steps > 0,
                    "worker {} ran no step: {:?}",
                    figures.worker,
                    many.workers
                );
                assert_eq!(
                    grid.executed,
                    figures.steps + figures.replayed,
                    "worker {}'s own world ran its steps and replays",
                    figures.worker
                );
                assert!(
                    grid.saved.is_empty(),
                    "worker {} still holds checkpoints {:?}",
                    figures.worker,
                    grid.saved
                );
            }
        }
    }
}

#[test]
fn random_access_workers_replay_from_their_own_checkpoints() {
    let (many, _) = explore(
        3,
        CheckpointMode::RandomAccess,
        bfs(),
        Duration::from_micros(300),
    );
    let replayed: u64 = many.workers.iter().map(|w| w.replayed).sum();
    // With reset + replay every step replays its whole path (at least one action below the
    // initial state); with checkpoints most steps start from one.
    let (reset, _) = explore(
        3,
        CheckpointMode::ResetReplay,
        bfs(),
        Duration::from_micros(300),
    );
    let reset_replayed: u64 = reset.workers.iter().map(|w| w.replayed).sum();
    assert!(
        replayed * 4 < reset_replayed,
        "checkpoints replayed {replayed} actions, reset + replay {reset_replayed}"
    );
}

/// Explores with `workers` grids that lend their checkpoints; returns the result, the grids and
/// how many lent points are still held afterwards.
fn explore_lending(workers: usize, config: ExplorerConfig) -> (Exploration, Vec<Grid>, usize) {
    let held = Arc::new(());
    let grid = || Grid {
        latency: Duration::from_micros(300),
        lends: Some(held.clone()),
        ..Grid::new(CheckpointMode::RandomAccess)
    };
    let others = (1..workers).map(|_| grid()).collect();
    let mut explorer = Explorer::new(grid(), actions(), invariants())
        .with_config(config)
        .with_workers(others);
    let result = explorer.run(Context::new()).expect("setup");
    let grids: Vec<Grid> = explorer
        .worlds_mut()
        .map(|world| std::mem::replace(world, Grid::new(CheckpointMode::RandomAccess)))
        .collect();
    drop(explorer);
    // The grids' own clones, and the one here, are not lent points.
    let still_lent = Arc::strong_count(&held) - 1 - grids.len();
    (result, grids, still_lent)
}

#[test]
fn workers_restore_the_checkpoints_others_lent_instead_of_replaying() {
    let (one, _) = explore(1, CheckpointMode::RandomAccess, bfs(), Duration::ZERO);
    for workers in [2, 4] {
        let (many, grids, still_lent) = explore_lending(workers, bfs());
        assert_eq!(essence(&many), essence(&one), "{workers} workers");
        let replayed: u64 = many.workers.iter().map(|w| w.replayed).sum();
        let borrowed: u64 = many.workers.iter().map(|w| w.borrowed).sum();
        assert_eq!(
            replayed, 0,
            "every state was held or lent: {:?}",
            many.workers
        );
        assert!(borrowed > 0, "no worker restored a lent checkpoint");
        for (figures, grid) in many.workers.iter().zip(&grids) {
            assert_eq!(
                figures.borrowed, grid.restored_lent,
                "worker {}",
                figures.worker
            );
            assert_eq!(
                grid.executed, figures.steps,
                "worker {} replayed",
                figures.worker
            );
            assert!(
                grid.saved.is_empty(),
                "worker {} holds checkpoints",
                figures.worker
            );
        }
        assert_eq!(still_lent, 0, "lent checkpoints outlived the run");
    }
    // Under a memory cap some states have no checkpoint to lend: those are replayed, from the
    // nearest checkpoint held or lent, and the result is still the same.
    let (capped, grids, still_lent) = explore_lending(3, bfs().max_checkpoint_bytes(300));
    assert_eq!(essence(&capped), essence(&one));
    assert!(capped.workers.iter().map(|w| w.replayed).sum::<u64>() > 0);
    assert!(grids.iter().all(|g| g.saved.is_empty()));
    assert_eq!(still_lent, 0);
}

#[test]
fn a_memory_cap_on_checkpoints_changes_nothing_but_the_replays() {
    let (one, _) = explore(1, CheckpointMode::RandomAccess, bfs(), Duration::ZERO);
    // Three checkpoints of 100 bytes in all: one each, beside the initial state's.
    let capped = bfs().max_checkpoint_bytes(300);
    let (many, grids) = explore(3, CheckpointMode::RandomAccess, capped, Duration::ZERO);
    assert_eq!(essence(&many), essence(&one));
    assert!(
        many.warnings
            .iter()
            .any(|w| w.contains("replay from an earlier checkpoint")),
        "{:?}",
        many.warnings
    );
    assert!(grids.iter().all(|g| g.saved.is_empty()));
}

#[test]
fn the_step_limit_and_the_depth_limit_hold_with_workers() {
    let (one, _) = explore(
        1,
        CheckpointMode::RandomAccess,
        bfs().max_depth(3),
        Duration::ZERO,
    );
    let (many, _) = explore(
        4,
        CheckpointMode::RandomAccess,
        bfs().max_depth(3),
        Duration::ZERO,
    );
    assert_eq!(many.stop, StopReason::DepthLimit);
    assert_eq!(essence(&many), essence(&one));

    // The limit falls inside a level: the workers run the pairs one worker would have run.
    let limited = bfs().max_steps(37);
    let (one, _) = explore(
        1,
        CheckpointMode::RandomAccess,
        limited.clone(),
        Duration::ZERO,
    );
    let (many, grids) = explore(
        4,
        CheckpointMode::RandomAccess,
        limited,
        Duration::from_micros(300),
    );
    assert_eq!(many.stop, StopReason::MaxSteps);
    assert_eq!(many.steps, 37);
    assert_eq!(essence(&many), essence(&one));
    assert_eq!(many.workers.iter().map(|w| w.steps).sum::<u64>(), 37);
    assert!(grids.iter().all(|g| g.saved.is_empty()));
}

#[test]
fn fail_fast_stops_every_worker_and_keeps_the_violation() {
    let config = bfs().fail_fast(Severity::Critical);
    let (one, _) = explore(
        1,
        CheckpointMode::RandomAccess,
        config.clone(),
        Duration::ZERO,
    );
    let (many, _) = explore(4, CheckpointMode::RandomAccess, config, Duration::ZERO);
    let expected = StopReason::FailFast("sum_not_13".into());
    assert_eq!(one.stop, expected);
    assert_eq!(many.stop, expected);
    let path = |r: &Exploration| {
        r.violations
            .iter()
            .find(|v| v.invariant == "sum_not_13")
            .map(|v| v.action_names().join(" "))
    };
    assert!(path(&one).is_some());
    // The pairs of the level before the breaking one run, those after it do not: the run stops
    // where one worker stops.
    assert_eq!(essence(&many), essence(&one));
}

#[test]
fn a_failing_worker_aborts_the_run_and_keeps_what_was_found() {
    let grid = || Grid {
        latency: Duration::from_micros(300),
        ..Grid::new(CheckpointMode::RandomAccess)
    };
    let failing = Grid {
        fail_after: Some(5),
        ..grid()
    };
    let mut explorer = Explorer::new(grid(), actions(), invariants())
        .with_config(bfs())
        .with_workers(vec![grid(), failing]);
    let result = explorer.run(Context::new()).expect("setup");
    match &result.stop {
        StopReason::Aborted(why) => {
            assert!(
                why.contains("worker 2") && why.contains("connection refused"),
                "{why}"
            )
        }
        other => panic!("expected an abort, got {other:?}"),
    }
    assert!(result.steps >= 5, "{} steps", result.steps);
    assert!(result.states > 1, "what the level found before is kept");
}

#[test]
fn workers_are_refused_where_they_cannot_help() {
    let start = |strategy: Strategy, second: Grid| {
        Explorer::new(
            Grid::new(CheckpointMode::RandomAccess),
            actions(),
            invariants(),
        )
        .with_config(ExplorerConfig::default().strategy(strategy))
        .with_workers(vec![second])
        .run(Context::new())
    };
    let refused = start(Strategy::Dfs, Grid::new(CheckpointMode::RandomAccess));
    assert!(
        matches!(refused, Err(StartError::WorkersNeedBfs(Strategy::Dfs))),
        "{refused:?}"
    );
    let elsewhere = Grid {
        x: 3,
        ..Grid::new(CheckpointMode::RandomAccess)
    };
    match start(Strategy::Bfs, elsewhere) {
        Err(e @ StartError::WorkerDiffers { worker: 1, .. }) => {
            assert!(e.to_string().contains("worker 1"), "{e}")
        }
        other => panic!("expected WorkerDiffers, got {other:?}"),
    }
}

/// What the worlds of [`a_slow_step_does_not_hold_back_the_next_level`] did, in order.
type Log = Arc<std::sync::Mutex<Vec<String>>>;

/// A counter `x` (0..=3) and a flag `y`, sharing one log: the step from the initial state
/// that sets the flag takes long.
struct Relay {
    at: (u32, u32),
    saved: HashMap<u64, (u32, u32)>,
    next: u64,
    log: Log,
}

impl Relay {
    fn note(&self, event: String) {
        self.log.lock().unwrap().push(event);
    }
}

impl World for Relay {
    fn mechanism(&self) -> String {
        "relay".into()
    }

    fn checkpoint_mode(&self) -> CheckpointMode {
        CheckpointMode::RandomAccess
    }

    fn checkpoint(&mut self) -> Result<CheckpointId, WorldError> {
        self.next += 1;
        self.saved.insert(self.next, self.at);
        Ok(CheckpointId(self.next))
    }

    fn rollback(&mut self, id: CheckpointId) -> Result<(), WorldError> {
        self.at = self.saved[&id.0];
        Ok(())
    }

    fn release(&mut self, id: CheckpointId) {
        self.saved.remove(&id.0);
    }

    fn reset(&mut self) -> Result<(), WorldError> {
        self.at = (0, 0);
        Ok(())
    }

    fn observe(&mut self) -> Result<Observation, WorldError> {
        let mut obs = Observation::new();
        obs.insert("x", self.at.0.into());
        obs.insert("y", self.at.1.into());
        Ok(obs)
    }
}

#[test]
fn a_slow_step_does_not_hold_back_the_next_level() {
    let log: Log = Arc::default();
    let relay = || Relay {
        at: (0, 0),
        saved: HashMap::new(),
        next: 0,
        log: log.clone(),
    };
    let actions = vec![
        Action::new("count", |w: &mut Relay, _: &mut Context| {
            w.note(format!("count from {:?}", w.at));
            w.at.0 = (w.at.0 + 1).min(3);
            Ok(Outcome::default())
        }),
        Action::new("flag", |w: &mut Relay, _: &mut Context| {
            if w.at == (0, 0) {
                w.note("slow flag starts".into());
                std::thread::sleep(Duration::from_millis(400));
                w.note("slow flag ends".into());
            }
            w.at.1 = 1;
            Ok(Outcome::default())
        }),
    ];
    let mut explorer = Explorer::new(relay(), actions, Vec::new())
        .with_config(bfs())
        .with_workers(vec![relay()]);
    let result = explorer.run(Context::new()).expect("setup");
    assert_eq!(result.stop, StopReason::Exhausted);
    assert_eq!(result.states, 8);
    let log = log.lock().unwrap().clone();
    let position = |event: &str| log.iter().position(|e| e == event);
    let (Some(slow_ends), Some(next_level)) =
        (position("slow flag ends"), position("count from (1, 0)"))
    else {
        panic!("missing events: {log:?}");
    };
    // The step that found (1, 0) came first in its level: its state's pairs are offered once
    // it is recorded, and the idle worker runs them while the slow step of the same level
    // still runs.
    assert!(
        next_level < slow_ends,
        "the second level waited for the slow step of the first: {log:?}"
    );
}
