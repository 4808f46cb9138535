//! The exploration loop: run an action, observe, fingerprint, check invariants, branch, roll back.

use crate::action::{Action, Precondition};
use crate::config::ExplorerConfig;
use crate::context::Context;
use crate::exchange::Exchange;
use crate::exploration::{
    ActionCoverage, Exploration, PathStep, Progress, RunLimits, Shard, ShardGraph, StateSnapshot,
    StopReason, Violation,
};
use crate::fingerprint::Fingerprint;
use crate::frontier::{Frontier, MAX_ACTIONS};
use crate::graph::{NewState, StateGraph, StateId};
use crate::invariant::{Invariant, StepView, Timing};
use crate::observation::Observation;
use crate::shrink::{Shrinker, Shrinking, SHRINK_BUDGET, SHRINK_TIME};
use crate::step::{broken_at, set_bit, Model};
use crate::strategy::Strategy;
use crate::world::{CheckpointId, CheckpointMode, World, WorldError};
use record::{Alone, Recorder};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use workers::Workers;

mod record;
mod workers;

/// Why an exploration could not start: the actions, invariants or strategy do not fit the
/// world, or the world failed while preparing the initial state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The strategy jumps between states but the world can only roll back along a stack.
    #[error("strategy `{strategy}` needs random-access checkpoints, but {mechanism} only supports stack-only rollback: use `--strategy dfs`, or a random-access mechanism")]
    StackOnlyWorld {
        /// The refused strategy.
        strategy: Strategy,
        /// The world's mechanism.
        mechanism: String,
    },
    /// Two actions or two invariants share a name.
    #[error("duplicate {kind} name `{name}`")]
    DuplicateName {
        /// "action" or "invariant".
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// A precondition names an action that does not exist.
    #[error("action `{action}` requires unknown action `{required}`")]
    UnknownRequiredAction {
        /// The action with the precondition.
        action: String,
        /// The unknown name.
        required: String,
    },
    /// There is nothing to explore.
    #[error("no actions to explore")]
    NoActions,
    /// The world's [`World::observe_into`] feeds other values than its [`World::observe`]
    /// returns.
    #[error("the {mechanism} world's observe_into and observe disagree on the initial state (fingerprints {fed} and {observed}): observe_into must feed, in name order, the values observe returns")]
    ObserveIntoDiffers {
        /// The world's mechanism.
        mechanism: String,
        /// The fingerprint with what `observe_into` fed.
        fed: Fingerprint,
        /// The fingerprint with what `observe` returned.
        observed: Fingerprint,
    },
    /// More actions than an exploration can tell apart.
    #[error("{count} actions: an exploration explores at most {max}")]
    TooManyActions {
        /// How many were given.
        count: usize,
        /// The most allowed.
        max: usize,
    },
    /// The world failed while preparing the initial state.
    #[error("could not prepare the initial state")]
    World(#[source] WorldError),
    /// Several workers were given, but the strategy explores one path at a time.
    #[error("strategy `{0}` explores with one worker; several workers explore breadth-first only (use `--strategy bfs`)")]
    WorkersNeedBfs(Strategy),
    /// A worker's copy of the system does not start in the initial state of the first one.
    #[error("worker {worker}'s copy of the system does not start in the same state as worker 0's (fingerprint {found}, expected {expected}): the copies must start alike")]
    WorkerDiffers {
        /// The worker (from 1).
        worker: usize,
        /// Its initial fingerprint.
        found: Fingerprint,
        /// Worker 0's.
        expected: Fingerprint,
    },
    /// A worker's world failed while preparing its initial state.
    #[error("worker {worker} could not prepare its initial state")]
    WorkerWorld {
        /// The worker (from 1).
        worker: usize,
        /// Why.
        #[source]
        source: WorldError,
    },
}

/// Where a new state's checkpoint comes from.
enum NewCheckpoint {
    /// Take it now, from the explorer's own world (one world explores).
    TakeNow,
    /// Taken by a worker when it reached the state (`None`: none was taken), held by its world.
    Taken(Option<(u16, CheckpointId)>),
}

type ProgressFn = Box<dyn FnMut(&Progress)>;

/// Explores the states reachable by sequences of actions and checks every invariant after each
/// step (VenomQA's `Agent`).
pub struct Explorer<W: World> {
    world: W,
    actions: Vec<Action<W>>,
    invariants: Vec<Invariant<W>>,
    config: ExplorerConfig,
    control: RunControl,
    workers: Workers<W>,
}

/// How a run is driven from outside, apart from its limits: an interrupt flag and a progress
/// callback.
#[derive(Default)]
struct RunControl {
    /// Set from outside (Ctrl-C) to stop cleanly.
    interrupt: Option<Arc<AtomicBool>>,
    /// Called every this many steps (and once at the end).
    progress: Option<(u64, ProgressFn)>,
}

/// A transition that broke an invariant which held in its source state.
struct Hit {
    /// The state the breaking step started from (`None`: the initial state itself). For an
    /// invariant checked before each action, the state it was broken in.
    from: Option<StateId>,
    to: StateId,
    message: String,
    evidence: Option<Box<Exchange>>,
    observation: Observation,
}

/// Hits grouped by (invariant, last action); the report keeps the shortest of each group.
#[derive(Default)]
struct Hits {
    order: Vec<(usize, Option<usize>)>,
    groups: HashMap<(usize, Option<usize>), Vec<Hit>>,
}

impl Hits {
    fn add(&mut self, invariant: usize, action: Option<usize>, hit: Hit) {
        let key = (invariant, action);
        let group = self.groups.entry(key).or_default();
        if group.is_empty() {
            self.order.push(key);
        }
        group.push(hit);
    }

    fn distinct(&self) -> usize {
        self.order.len()
    }
}

/// Mutable bookkeeping of one run.
struct Run {
    graph: StateGraph,
    frontier: Frontier,
    hits: Hits,
    runs: Vec<u64>,
    self_loops: Vec<u32>,
    warnings: Vec<String>,
    steps: u64,
    /// The state the world is in now, if known.
    current: Option<StateId>,
    replay_mismatch_warned: bool,
    /// For every action, the actions it requires to have run (by index).
    required: Vec<Vec<usize>>,
    /// Whether `max_depth` kept some state's enabled actions from running.
    depth_pruned: bool,
    /// States that keep no checkpoint because checkpoints held the most memory allowed.
    over_cap: u64,
    /// The first invariant at or above the `fail_fast` severity that broke.
    failed_fast: Option<String>,
    /// The enabled actions of the state expanded last (a buffer reused by every expansion).
    enabled: Vec<usize>,
}

impl<W: World> Explorer<W> {
    /// An explorer over `world` with these actions and invariants and the default configuration.
    pub fn new(world: W, actions: Vec<Action<W>>, invariants: Vec<Invariant<W>>) -> Self {
        Explorer {
            world,
            actions,
            invariants,
            config: ExplorerConfig::default(),
            control: RunControl::default(),
            workers: Workers::default(),
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: ExplorerConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `f` every `every` steps and once at the end (never when `every` is 0).
    pub fn on_progress(mut self, every: u64, f: impl FnMut(&Progress) + 'static) -> Self {
        if every > 0 {
            self.control.progress = Some((every, Box::new(f)));
        }
        self
    }

    /// Stops the run cleanly, with what it found so far, once `flag` is set (e.g. by Ctrl-C).
    pub fn interrupt_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.control.interrupt = Some(flag);
        self
    }

    /// The world, e.g. to stop the system afterwards.
    pub fn world_mut(&mut self) -> &mut W {
        &mut self.world
    }

    /// Every worker's world, the explorer's own first (one world unless
    /// [`Explorer::with_workers`] gave more).
    pub fn worlds_mut(&mut self) -> impl Iterator<Item = &mut W> {
        std::iter::once(&mut self.world).chain(self.workers.others.iter_mut())
    }

    /// Checks that the exploration can run at all: names, preconditions, strategy vs mechanism.
    pub fn validate(&self) -> Result<(), StartError> {
        self.required_actions().map(|_| ())
    }

    /// For every action, the indices of the actions its `ActionsRun` preconditions require,
    /// resolved once; fails like [`Explorer::validate`].
    fn required_actions(&self) -> Result<Vec<Vec<usize>>, StartError> {
        if self.actions.is_empty() {
            return Err(StartError::NoActions);
        }
        if self.actions.len() > MAX_ACTIONS {
            return Err(StartError::TooManyActions {
                count: self.actions.len(),
                max: MAX_ACTIONS,
            });
        }
        let mode = self.world.checkpoint_mode();
        if !self.config.strategy.fits(mode) {
            return Err(StartError::StackOnlyWorld {
                strategy: self.config.strategy,
                mechanism: self.world.mechanism(),
            });
        }
        if !self.workers.others.is_empty() && self.config.strategy != Strategy::Bfs {
            return Err(StartError::WorkersNeedBfs(self.config.strategy));
        }
        unique_names("action", self.actions.iter().map(|a| a.name.as_str()))?;
        unique_names("invariant", self.invariants.iter().map(|i| i.name.as_str()))?;
        let index = |name: &str| self.actions.iter().position(|a| a.name == name);
        let mut required = Vec::with_capacity(self.actions.len());
        for action in &self.actions {
            let mut indices = Vec::new();
            for pre in &action.preconditions {
                if let Precondition::ActionsRun(names) = pre {
                    for name in names {
                        let found =
                            index(name).ok_or_else(|| StartError::UnknownRequiredAction {
                                action: action.name.clone(),
                                required: name.clone(),
                            })?;
                        indices.push(found);
                    }
                }
            }
            required.push(indices);
        }
        Ok(required)
    }

    /// Runs the exploration from `initial`. Setup problems are errors; a failure of the world during
    /// the run ends it with [`StopReason::Aborted`] and keeps everything found so far.
    pub fn run(&mut self, initial: Context) -> Result<Exploration, StartError> {
        let required = self.required_actions()?;
        let started = Instant::now();
        let mode = self.world.checkpoint_mode();
        let n_actions = self.actions.len();
        let mut run = Run {
            graph: StateGraph::with_layout(
                n_actions,
                self.tracks_calls(&required),
                self.config.strategy.release_order(),
            ),
            frontier: Frontier::new(
                self.config.strategy,
                n_actions,
                self.config.seed,
                self.config.mcts_exploration,
            ),
            hits: Hits::default(),
            runs: vec![0; n_actions],
            self_loops: vec![0; n_actions],
            warnings: Vec::new(),
            steps: 0,
            current: None,
            replay_mismatch_warned: false,
            required,
            depth_pruned: false,
            over_cap: 0,
            failed_fast: None,
            enabled: Vec::new(),
        };

        if mode == CheckpointMode::ResetReplay {
            self.world.reset().map_err(StartError::World)?;
        }
        let (fp, observation) = self.observe_initial(&initial)?;
        let view = StepView {
            ctx: &initial,
            action: None,
            exchange: None,
            earlier: &[],
        };
        let hits = broken_at(&self.invariants, Timing::AfterStep, &mut self.world, &view)
            .map_err(StartError::World)?;
        let mut broken = Vec::new();
        for hit in hits {
            set_bit(&mut broken, hit.invariant);
            run.hits.add(
                hit.invariant,
                None,
                Hit {
                    from: None,
                    to: 0,
                    message: hit.message,
                    evidence: hit.evidence,
                    observation: observation.clone(),
                },
            );
        }
        self.start_workers(mode, &initial, fp)?;
        let root = NewState {
            fingerprint: fp,
            parent: None,
            ctx: initial,
            broken,
        };
        let root_id = run
            .graph
            .add(root)
            .ok_or_else(|| StartError::World(full_graph()))?;
        run.current = Some(root_id);
        let expanded = self.recorder_alone(|recorder, keeper| {
            recorder.expand(&mut run, root_id, mode, NewCheckpoint::TakeNow, keeper)
        });
        let stop = match expanded {
            Ok(()) => match self.workers.parallel_loop {
                Some(explore) => explore(self, &mut run, mode, started),
                None => self.explore(&mut run, mode, started),
            },
            Err(e) => StopReason::Aborted(e.chain()),
        };
        Ok(self.finish(run, stop, started))
    }

    /// The fingerprint and the observation of the initial state, with `initial` as context;
    /// fails when the world's [`World::observe_into`] and [`World::observe`] disagree on it.
    fn observe_initial(
        &mut self,
        initial: &Context,
    ) -> Result<(Fingerprint, Observation), StartError> {
        let (model, world) = self.model_and_world();
        let (fp, observed) = model
            .observe_fingerprint(world, initial)
            .map_err(StartError::World)?;
        if let Some(observation) = observed {
            return Ok((fp, observation));
        }
        // Fed through `observe_into`: the report of the initial state shows `observe`'s.
        let observation = world.observe().map_err(StartError::World)?;
        let observed = model.fingerprint(initial, &observation);
        if observed != fp {
            return Err(StartError::ObserveIntoDiffers {
                mechanism: world.mechanism(),
                fed: fp,
                observed,
            });
        }
        Ok((fp, observation))
    }

    /// The actions, invariants and state keys, as a step sees them.
    fn model(&self) -> Model<'_, W> {
        Model::of(&self.actions, &self.invariants, &self.config)
    }

    /// The model and the explorer's own world, borrowed together.
    fn model_and_world(&mut self) -> (Model<'_, W>, &mut W) {
        let model = Model::of(&self.actions, &self.invariants, &self.config);
        (model, &mut self.world)
    }

    /// The main loop; returns why it stopped.
    fn explore(&mut self, run: &mut Run, mode: CheckpointMode, started: Instant) -> StopReason {
        let weights: Vec<f64> = self.actions.iter().map(|a| a.weight).collect();
        loop {
            if let Some(reason) = self.limit_reached(run, started) {
                return reason;
            }
            let Some((state, action)) = run.frontier.pop(&run.runs, &weights) else {
                return if run.depth_pruned {
                    StopReason::DepthLimit
                } else {
                    StopReason::Exhausted
                };
            };
            let stepped = self.step(run, mode, state, action);
            if let Some(invariant) = run.failed_fast.take() {
                return StopReason::FailFast(invariant);
            }
            if let Err(e) = stepped {
                // A world that gave up its step because the user interrupted is not broken.
                return if self.interrupted() {
                    StopReason::Interrupted
                } else {
                    StopReason::Aborted(e.chain())
                };
            }
            if let Some((every, _)) = &self.control.progress {
                if run.steps.is_multiple_of(*every) {
                    self.report_progress(run);
                }
            }
        }
    }

    /// Whether the interrupt flag is set.
    fn interrupted(&self) -> bool {
        self.control
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    fn limit_reached(&self, run: &Run, started: Instant) -> Option<StopReason> {
        limit_reached(&self.config, self.interrupted(), run, started)
    }

    /// Runs `action` from `state`: restore, execute, observe, check, record.
    fn step(
        &mut self,
        run: &mut Run,
        mode: CheckpointMode,
        state: StateId,
        action: usize,
    ) -> Result<(), WorldError> {
        let ctx = if run.current == Some(state) {
            run.graph.ctx(state).clone()
        } else {
            self.restore(run, mode, state)?
        };
        run.current = None;
        let (model, world) = self.model_and_world();
        let known_broken = run.graph.broken(state);
        let result = model.execute(world, (state, known_broken), action, ctx)?;
        let (target, new) = self.recorder_alone(|recorder, keeper| {
            recorder.record(run, mode, result, NewCheckpoint::TakeNow, keeper)
        })?;
        // A known state only fingerprints like the world now; its concrete state may differ in
        // what the fingerprint does not see, so the next step from it restores it first.
        run.current = new.then_some(target);
        Ok(())
    }

    /// Whether a precondition reads how often actions ran on a path (`max_calls`, or an
    /// action required to have run), so the graph keeps the counts.
    fn tracks_calls(&self, required: &[Vec<usize>]) -> bool {
        self.actions.iter().any(|a| a.max_calls.is_some()) || required.iter().any(|r| !r.is_empty())
    }

    /// Calls `f` with the recorder and the explorer's own world as the keeper of checkpoints.
    fn recorder_alone<T>(&mut self, f: impl FnOnce(&Recorder<'_, W>, &mut Alone<'_, W>) -> T) -> T {
        let recorder = Recorder {
            actions: &self.actions,
            invariants: &self.invariants,
            config: &self.config,
        };
        f(&recorder, &mut Alone(&mut self.world))
    }

    /// The world of worker `worker` (0: the explorer's own world).
    fn world_at(&mut self, worker: u16) -> &mut W {
        match worker {
            0 => &mut self.world,
            n => &mut self.workers.others[usize::from(n) - 1],
        }
    }

    /// Puts the world back into `state` and returns the context to continue with.
    fn restore(
        &mut self,
        run: &mut Run,
        mode: CheckpointMode,
        state: StateId,
    ) -> Result<Context, WorldError> {
        match (mode, run.graph.checkpoint(state)) {
            (CheckpointMode::ResetReplay, _) => {}
            (_, Some((checkpoint, _))) => {
                self.world.rollback(checkpoint)?;
                return Ok(run.graph.ctx(state).clone());
            }
            (CheckpointMode::RandomAccess, None) if run.over_cap > 0 => {}
            (_, None) => {
                return Err(WorldError::new(format!(
                    "internal error: state {state} has no checkpoint"
                )))
            }
        }
        // Reset, then replay the path that discovered the state.
        let (_, path) = run.graph.path_to(state, |_| false);
        self.world.reset().map_err(|e| {
            if mode == CheckpointMode::ResetReplay {
                e
            } else {
                WorldError::caused(
                    "the checkpoints hold the most memory allowed, so this state is restored by \
                     reset + replay, and the reset failed (declare a [reset], or raise \
                     --max-checkpoint-mb)",
                    e,
                )
            }
        })?;
        let mut ctx = run.graph.ctx(0).clone();
        for action in path {
            self.actions[action].run(&mut self.world, &mut ctx)?;
        }
        if !run.replay_mismatch_warned {
            let observation = self.world.observe()?;
            if self.model().fingerprint(&ctx, &observation) != run.graph.fingerprint(state) {
                run.replay_mismatch_warned = true;
                run.warnings.push(format!(
                    "replaying the path to state {state} after a reset reached a different state: \
                     the reset does not restore everything, or the API is not deterministic"
                ));
            }
        }
        Ok(ctx)
    }

    fn report_progress(&mut self, run: &Run) {
        if let Some((_, f)) = self.control.progress.as_mut() {
            f(&Progress {
                step: run.steps,
                max_steps: self.config.max_steps,
                states: run.graph.len(),
                coverage: coverage(&run.runs),
                violations: run.hits.distinct(),
                workers: Vec::new(),
            });
        }
    }

    /// Builds the result: for each (invariant, action) group the hit with the shortest path.
    fn finish(&mut self, mut run: Run, stop: StopReason, started: Instant) -> Exploration {
        self.release_worker_roots();
        if self.world.checkpoint_mode() == CheckpointMode::RandomAccess {
            // States left unexplored by a limit still hold theirs.
            for (checkpoint, holder) in run.graph.take_checkpoints() {
                self.world_at(holder).release(checkpoint);
            }
        }
        self.report_progress(&run);
        let tree = run
            .graph
            .shortest_tree(self.config.strategy == Strategy::Bfs);
        let mut violations = Vec::new();
        for key in &run.hits.order {
            let group = run.hits.groups.remove(key).unwrap_or_default();
            let occurrences = group.len() as u64;
            let best = group
                .into_iter()
                .min_by_key(|hit| hit.from.map_or(0, |from| tree.distance(from) as u64 + 1));
            if let Some(hit) = best {
                let mut violation = self.violation(&run.graph, &tree, key, hit, occurrences);
                // One part of a split proves nothing about the paths of the other parts.
                violation.proved_shortest = self.config.strategy == Strategy::Bfs
                    && matches!(stop, StopReason::Exhausted | StopReason::DepthLimit)
                    && self.config.shard.is_none_or(|s| s.count == 1);
                violations.push((key.0, violation));
            }
        }
        if !matches!(
            stop,
            StopReason::Interrupted | StopReason::Aborted(_) | StopReason::FailFast(_)
        ) {
            self.shrink_all(&mut run, &mut violations);
        }
        let mut violations: Vec<Violation> = violations.into_iter().map(|(_, v)| v).collect();
        violations.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.path.len().cmp(&b.path.len()))
        });
        let actions = self
            .actions
            .iter()
            .zip(&run.runs)
            .enumerate()
            .map(|(index, (a, &runs))| ActionCoverage {
                action: a.name.clone(),
                runs,
                never_run: (runs == 0).then(|| self.never_run_reason(&run, index, &stop)),
            })
            .collect();
        let contexts = run.graph.contexts();
        for warning in crate::identity::churning_keys(contexts, self.config.state_keys.as_deref()) {
            run.warnings.push(warning);
        }
        run.warnings.extend(self.world.take_warnings());
        if run.over_cap > 0 {
            let cap = self.config.max_checkpoint_bytes.unwrap_or_default();
            run.warnings.push(format!(
                "the checkpoints reached the memory cap of {} MiB: {} states kept no checkpoint \
                 and were restored by {} (slower; --max-checkpoint-mb raises the cap)",
                cap >> 20,
                run.over_cap,
                match self.workers.others.is_empty() {
                    true => "reset + replay",
                    false => "replay from an earlier checkpoint",
                }
            ));
        }
        Exploration {
            strategy: self.config.strategy,
            mechanism: self.world.mechanism(),
            stop,
            steps: run.steps,
            states: run.graph.len(),
            transitions: run.graph.edge_count(),
            max_depth: run.graph.max_depth(),
            coverage: coverage(&run.runs),
            actions,
            violations,
            warnings: std::mem::take(&mut run.warnings),
            duration_secs: started.elapsed().as_secs_f64(),
            shard: self.config.shard.map(|shard| self.shard_graph(&run, shard)),
            workers: std::mem::take(&mut self.workers.figures),
            graph: Some(crate::graph_view::view(
                &run.graph,
                &self
                    .actions
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>(),
                self.config.state_keys.as_deref(),
            )),
            limits: Some(RunLimits {
                seed: self.config.seed,
                max_steps: self.config.max_steps,
                max_depth: self.config.max_depth,
                coverage_target: self.config.coverage_target,
                time_limit_secs: self.config.time_limit.map(|t| t.as_secs_f64()),
            }),
        }
    }

    /// The states and transitions of a sharded run, by fingerprint.
    fn shard_graph(&self, run: &Run, shard: Shard) -> ShardGraph {
        let graph = &run.graph;
        ShardGraph {
            shard,
            states: (0..graph.len())
                .map(|s| graph.fingerprint(s).to_string())
                .collect(),
            transitions: (0..graph.len())
                .flat_map(|from| {
                    graph.out(from).map(move |(action, to)| {
                        format!(
                            "{} {} {}",
                            graph.fingerprint(from),
                            self.actions[action].name,
                            graph.fingerprint(to)
                        )
                    })
                })
                .collect(),
        }
    }

    /// Shrinks by replay every path not proved shortest (within [`SHRINK_BUDGET`] replays and
    /// [`SHRINK_TIME`]); a world that cannot reset ends shrinking, with a warning.
    fn shrink_all(&mut self, run: &mut Run, violations: &mut [(usize, Violation)]) {
        let mut budget = SHRINK_BUDGET;
        let deadline = Instant::now() + SHRINK_TIME;
        let initial = run.graph.ctx(0).clone();
        for (invariant, violation) in violations.iter_mut() {
            // An invariant checked before actions is not re-checked by replay: its path is
            // the shortest known way to a state where it is broken.
            let before = self.invariants[*invariant].timing == Timing::BeforeAction;
            if before || violation.proved_shortest || violation.path.len() < 2 {
                continue;
            }
            let path: Option<Vec<usize>> = violation
                .path
                .iter()
                .map(|step| self.actions.iter().position(|a| a.name == step.action))
                .collect();
            let Some(path) = path else { continue };
            let mut shrinker = Shrinker {
                world: &mut self.world,
                actions: &self.actions,
                required: &run.required,
                initial: &initial,
                budget: &mut budget,
                deadline,
            };
            let (one_minimal, shrunk) = match shrinker.shrink(&self.invariants[*invariant], &path) {
                Ok(Shrinking::OneMinimal(shrunk)) => (true, shrunk),
                Ok(Shrinking::Unfinished(shrunk)) => (false, shrunk),
                Err(e) => {
                    run.warnings
                        .push(format!("paths were not shrunk by replay: {}", e.chain()));
                    return;
                }
            };
            violation.one_minimal = one_minimal;
            if let Some(shrunk) = shrunk {
                violation.shrunk_from = Some(violation.path.len());
                violation.path = shrunk.steps;
                violation.message = shrunk.message;
            }
        }
    }

    /// Why `action` never ran: the first of its preconditions that no explored state met, or
    /// that the run stopped (`stop`) while it was still to come.
    fn never_run_reason(&self, run: &Run, action: usize, stop: &StopReason) -> String {
        let graph = &run.graph;
        if let Some(&missing) = run.required[action].iter().find(|&&r| run.runs[r] == 0) {
            let name = &self.actions[missing].name;
            return format!("requires action `{name}`, which never ran");
        }
        for precondition in &self.actions[action].preconditions {
            match precondition {
                Precondition::ActionsRun(_) => {}
                Precondition::KeysPresent(keys) => {
                    if let Some(key) = keys.iter().find(|k| !graph.contexts().any(|c| c.has(k))) {
                        return format!(
                            "requires context key `{key}`, which no explored state has"
                        );
                    }
                }
                Precondition::Check(predicate) => {
                    if !graph.contexts().any(|c| predicate(c)) {
                        return "its precondition was false in every explored state".into();
                    }
                }
            }
        }
        let recorder = Recorder {
            actions: &self.actions,
            invariants: &self.invariants,
            config: &self.config,
        };
        let enabled = (0..graph.len()).any(|s| recorder.enabled(action, run, s));
        if enabled {
            format!("enabled, but not reached before the run stopped ({stop})")
        } else {
            "its preconditions never held together in one explored state".into()
        }
    }

    fn violation(
        &self,
        graph: &StateGraph,
        tree: &crate::graph::ShortestTree<'_>,
        &(invariant, action): &(usize, Option<usize>),
        hit: Hit,
        occurrences: u64,
    ) -> Violation {
        let step = |from: StateId, action: usize| {
            let recorded = graph.recorded(from, action);
            PathStep {
                action: self.actions[action].name.clone(),
                exchange: recorded.map(|r| r.last.clone()),
                earlier: recorded.map(|r| r.earlier.clone()).unwrap_or_default(),
            }
        };
        let mut path: Vec<PathStep> = match hit.from {
            Some(from) => tree
                .path(from)
                .into_iter()
                .map(|(s, a)| step(s, a))
                .collect(),
            None => Vec::new(),
        };
        if let (Some(from), Some(action)) = (hit.from, action) {
            path.push(step(from, action));
        }
        let inv = &self.invariants[invariant];
        Violation {
            invariant: inv.name.clone(),
            severity: inv.severity,
            message: hit.message,
            action: action.map(|a| self.actions[a].name.clone()),
            path,
            state: StateSnapshot {
                fingerprint: graph.fingerprint(hit.to).to_string(),
                context: graph.ctx(hit.to).clone(),
                observation: hit.observation,
            },
            evidence: hit.evidence.map(|e| *e),
            occurrences,
            proved_shortest: false,
            one_minimal: false,
            shrunk_from: None,
        }
    }
}

/// Why the run must stop now, if it must: interrupted, or a limit of the configuration reached.
fn limit_reached(
    config: &ExplorerConfig,
    interrupted: bool,
    run: &Run,
    started: Instant,
) -> Option<StopReason> {
    if interrupted {
        return Some(StopReason::Interrupted);
    }
    if config.max_steps.is_some_and(|max| run.steps >= max) {
        return Some(StopReason::MaxSteps);
    }
    if config
        .coverage_target
        .is_some_and(|target| coverage(&run.runs) >= target)
    {
        return Some(StopReason::CoverageTarget);
    }
    if config
        .time_limit
        .is_some_and(|limit| started.elapsed() >= limit)
    {
        return Some(StopReason::TimeLimit);
    }
    None
}

fn unique_names<'a>(
    kind: &'static str,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), StartError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(StartError::DuplicateName {
                kind,
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

fn coverage(runs: &[u64]) -> f64 {
    if runs.is_empty() {
        return 0.0;
    }
    runs.iter().filter(|&&r| r > 0).count() as f64 / runs.len() as f64
}

/// The error of a graph that holds the most states it can.
fn full_graph() -> WorldError {
    WorldError::new(format!(
        "the state graph holds the most states it can ({}); set --max-steps or --max-depth",
        StateGraph::MAX_STATES
    ))
}
