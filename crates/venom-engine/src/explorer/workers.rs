//! Parallel breadth-first exploration: several workers, each driving its own copy of the system
//! under test, share one state graph.
//!
//! The graph grows one level at a time. A level's (state, action) pairs are handed out by a job
//! market ([`Market`]): a worker first takes pairs of the states its own world holds a checkpoint
//! of, then pairs of states nobody holds (the initial state, of which every worker keeps a
//! checkpoint), then pairs of the state with the most pairs left, which it restores from the
//! checkpoint its holder lent (see [`World::lend`]) when the world can lend, else by rolling
//! back to its nearest own checkpoint on that state's path and replaying the rest. No worker
//! idles while pairs are left. The results are recorded in the order a single breadth-first
//! explorer would have recorded them, so the states, the paths that discovered them and the
//! violations do not depend on the number of workers, and every state is first reached at its
//! depth: the paths stay shortest.

use super::{Explorer, NewCheckpoint, Run, StartError};
use crate::context::Context;
use crate::exploration::{Progress, StopReason, WorkerFigures};
use crate::fingerprint::Fingerprint;
use crate::graph::{StateGraph, StateId};
use crate::step::{Model, StepResult};
use crate::world::{CheckpointId, CheckpointMode, LentCheckpoint, World, WorldError};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::Instant;

/// The parallel loop, for an explorer whose worlds may move to other threads.
type ParallelLoop<W> = fn(&mut Explorer<W>, &mut Run, CheckpointMode, Instant) -> StopReason;

/// The worlds of the workers besides the explorer's own, and what they keep between levels.
pub(super) struct Workers<W: World> {
    /// The worlds of workers 1.. (empty: the explorer's own world explores alone).
    pub others: Vec<W>,
    /// The parallel loop, set by [`Explorer::with_workers`] where the worlds are known to be
    /// `Send` (so that [`Explorer::run`] needs no such bound).
    pub parallel_loop: Option<ParallelLoop<W>>,
    /// Each worker's checkpoint of the initial state, kept for the whole run.
    roots: Vec<Option<CheckpointId>>,
    /// The checkpoints their holders lent, by state, while the state has pairs left.
    pub lent: HashMap<StateId, LentCheckpoint>,
    /// What each worker did so far.
    pub figures: Vec<WorkerFigures>,
}

impl<W: World> Default for Workers<W> {
    fn default() -> Self {
        Workers {
            others: Vec::new(),
            parallel_loop: None,
            roots: Vec::new(),
            lent: HashMap::new(),
            figures: Vec::new(),
        }
    }
}

impl<W: World + Send> Explorer<W> {
    /// Explores with more workers: `others` are the worlds of workers 1.., the explorer's own
    /// world is worker 0's. Each must be a copy of the system under test of its own (its own
    /// server, its own database) in the same initial state. Breadth-first only; the result is
    /// the one a single worker finds, with per-worker figures in
    /// [`Exploration::workers`](crate::Exploration::workers).
    pub fn with_workers(mut self, others: Vec<W>) -> Self {
        self.workers.others = others;
        self.workers.parallel_loop =
            (!self.workers.others.is_empty()).then_some(explore_levels::<W> as ParallelLoop<W>);
        self
    }
}

impl<W: World> Explorer<W> {
    /// Prepares the other workers' worlds: each starts in the initial state (reset first with
    /// reset + replay) and keeps a checkpoint of it, as worker 0 does.
    pub(super) fn start_workers(
        &mut self,
        mode: CheckpointMode,
        initial: &Context,
        root: Fingerprint,
    ) -> Result<(), StartError> {
        if self.workers.others.is_empty() {
            return Ok(());
        }
        let model = Model {
            actions: &self.actions,
            invariants: &self.invariants,
            state_keys: self.config.state_keys.as_deref(),
        };
        let root_checkpoint = |world: &mut W| match mode {
            CheckpointMode::RandomAccess => world.checkpoint().map(Some),
            _ => Ok(None),
        };
        let mut roots = vec![root_checkpoint(&mut self.world).map_err(StartError::World)?];
        for (i, world) in self.workers.others.iter_mut().enumerate() {
            let worker = i + 1;
            let failed = |source| StartError::WorkerWorld { worker, source };
            if mode == CheckpointMode::ResetReplay {
                world.reset().map_err(failed)?;
            }
            let found = model.fingerprint(initial, &world.observe().map_err(failed)?);
            if found != root {
                return Err(StartError::WorkerDiffers {
                    worker,
                    found,
                    expected: root,
                });
            }
            roots.push(root_checkpoint(world).map_err(failed)?);
        }
        self.workers.figures = (0..roots.len())
            .map(|worker| WorkerFigures {
                worker,
                ..WorkerFigures::default()
            })
            .collect();
        self.workers.roots = roots;
        Ok(())
    }
}

impl<W: World> Explorer<W> {
    /// Releases every worker's checkpoint of the initial state, and drops what is still lent,
    /// at the end of the run.
    pub(super) fn release_worker_roots(&mut self) {
        self.workers.lent.clear();
        let roots = std::mem::take(&mut self.workers.roots);
        for (worker, root) in roots.into_iter().enumerate() {
            if let Some(root) = root {
                self.world_at(worker as u16).release(root);
            }
        }
    }
}

/// Explores level by level with every worker; returns why it stopped.
fn explore_levels<W: World + Send>(
    explorer: &mut Explorer<W>,
    run: &mut Run,
    mode: CheckpointMode,
    started: Instant,
) -> StopReason {
    loop {
        if let Some(reason) = explorer.limit_reached(run, started) {
            return reason;
        }
        let mut level = run.frontier.take_level();
        if let Some(max) = explorer.config.max_steps {
            // The pairs one worker would run before the limit: the level's first ones.
            level.truncate(usize::try_from(max.saturating_sub(run.steps)).unwrap_or(usize::MAX));
        }
        if level.is_empty() {
            return if run.depth_pruned {
                StopReason::DepthLimit
            } else {
                StopReason::Exhausted
            };
        }
        let end = explorer.run_level(run, &level, mode, started);
        if let Some(warning) = end.mismatch {
            if !run.replay_mismatch_warned {
                run.replay_mismatch_warned = true;
                run.warnings.push(warning);
            }
        }
        let mut results = end.results.into_iter();
        for done in results.by_ref() {
            run.over_cap += u64::from(done.over_cap);
            let checkpoint = NewCheckpoint::Taken(done.checkpoint.map(|c| (done.worker, c)));
            match explorer.record(run, mode, done.result, checkpoint) {
                Ok((reached, true)) => {
                    // Lent only while its holder keeps it (a state not expanded gives it back).
                    if let (Some(lent), Some(_)) = (done.lent, run.graph.checkpoint(reached)) {
                        explorer.workers.lent.insert(reached, lent);
                    }
                }
                Ok((_, false)) => {}
                Err(e) => return StopReason::Aborted(e.chain()),
            }
            if run.failed_fast.is_some() {
                // One worker would have stopped here: what ran after it is dropped.
                break;
            }
        }
        for dropped in results {
            let checkpoint = dropped.checkpoint.map(|c| (dropped.worker, c));
            explorer.release_taken(NewCheckpoint::Taken(checkpoint));
        }
        explorer.report_progress(run);
        if let Some(invariant) = run.failed_fast.take() {
            return StopReason::FailFast(invariant);
        }
        if let Some(failure) = end.failure {
            return if explorer.interrupted() {
                StopReason::Interrupted
            } else {
                StopReason::Aborted(failure)
            };
        }
    }
}

/// What one level of a parallel exploration produced.
struct LevelEnd {
    /// The steps that ran, in the order of the level's pairs.
    results: Vec<Done>,
    /// Why a worker stopped early (the first failure), with the worker named.
    failure: Option<String>,
    /// A replay that did not reach the state it replayed to.
    mismatch: Option<String>,
}

/// A step a worker ran.
struct Done {
    /// Its pair's position in the level.
    index: usize,
    worker: u16,
    result: StepResult,
    /// The checkpoint the worker took of the state reached, when it may be new.
    checkpoint: Option<CheckpointId>,
    /// That checkpoint, lent to the other workers when the world can lend it.
    lent: Option<LentCheckpoint>,
    /// Whether it took none because its checkpoints held its share of the memory cap.
    over_cap: bool,
}

impl<W: World + Send> Explorer<W> {
    /// Runs the pairs of `level` on every worker at once and returns their results in order.
    fn run_level(
        &mut self,
        run: &Run,
        level: &[(StateId, usize)],
        mode: CheckpointMode,
        started: Instant,
    ) -> LevelEnd {
        let Explorer {
            world,
            actions,
            invariants,
            config,
            control,
            workers,
        } = self;
        let Workers {
            others,
            roots,
            lent,
            figures,
            ..
        } = workers;
        let count = 1 + others.len();
        let shared = Shared {
            model: Model {
                actions,
                invariants,
                state_keys: config.state_keys.as_deref(),
            },
            graph: &run.graph,
            lent,
            required: &run.required,
            config,
            mode,
            level,
            market: Mutex::new(Market::new(&run.graph, level, mode, count)),
            claims: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            fail_fast_at: AtomicUsize::new(usize::MAX),
            interrupt: control.interrupt.as_deref(),
            deadline: config.time_limit.map(|limit| started + limit),
            mismatch_warned: AtomicBool::new(run.replay_mismatch_warned),
            mismatch: Mutex::new(None),
        };
        let (sender, receiver) = mpsc::channel();
        let mut results = Vec::with_capacity(level.len());
        let ends: Vec<WorkerEnd> = std::thread::scope(|scope| {
            let handles: Vec<_> = std::iter::once(&mut *world)
                .chain(others.iter_mut())
                .zip(roots.iter().copied())
                .enumerate()
                .map(|(worker, (world, root))| {
                    let sender = sender.clone();
                    let shared = &shared;
                    scope.spawn(move || shared.work(worker as u16, world, root, sender))
                })
                .collect();
            drop(sender);
            let mut per_worker = vec![0u64; count];
            let every = control.progress.as_ref().map_or(0, |(every, _)| *every);
            for done in receiver {
                per_worker[usize::from(done.worker)] += 1;
                results.push(done);
                let step = run.steps + results.len() as u64;
                if let Some((_, show)) = control.progress.as_mut() {
                    if step.is_multiple_of(every) {
                        show(&Progress {
                            step,
                            max_steps: config.max_steps,
                            states: run.graph.len(),
                            coverage: super::coverage(&run.runs),
                            violations: run.hits.distinct(),
                            workers: per_worker.clone(),
                        });
                    }
                }
            }
            handles
                .into_iter()
                .enumerate()
                .map(|(worker, handle)| {
                    handle.join().unwrap_or_else(|_| WorkerEnd {
                        figures: WorkerFigures::default(),
                        failure: Some(format!("worker {worker} panicked")),
                    })
                })
                .collect()
        });
        results.sort_by_key(|done| done.index);
        let mut failure = None;
        for (total, end) in figures.iter_mut().zip(ends) {
            total.steps += end.figures.steps;
            total.replayed += end.figures.replayed;
            total.borrowed += end.figures.borrowed;
            total.busy_secs += end.figures.busy_secs;
            failure = failure.or(end.failure);
        }
        let mismatch = shared
            .mismatch
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        LevelEnd {
            results,
            failure,
            mismatch,
        }
    }
}

/// Whether a worker keeps a checkpoint of the state a step reached.
enum Keep {
    Yes,
    /// The state is known, will not be expanded, or another pair reached it first.
    No,
    /// It would, but the worker's checkpoints hold its share of the memory cap.
    OverCap,
}

/// What every worker of one level reads (the graph does not change during a level).
struct Shared<'a, W> {
    model: Model<'a, W>,
    graph: &'a StateGraph,
    /// The checkpoints lent by their holders, by state.
    lent: &'a HashMap<StateId, LentCheckpoint>,
    required: &'a [Vec<usize>],
    config: &'a crate::config::ExplorerConfig,
    mode: CheckpointMode,
    level: &'a [(StateId, usize)],
    market: Mutex<Market>,
    /// For each fingerprint reached in this level and not in the graph, the first pair (by
    /// position) known to reach it: the one whose worker keeps a checkpoint of it.
    claims: Mutex<HashMap<Fingerprint, usize>>,
    /// Set when a worker failed: the others stop taking pairs.
    stop: AtomicBool,
    /// The first pair (by position) known to break an invariant severe enough to stop the run:
    /// the pairs after it are not run, those before it are (as one worker would have).
    fail_fast_at: AtomicUsize,
    interrupt: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    /// Whether a replay that missed its state was already reported.
    mismatch_warned: AtomicBool,
    mismatch: Mutex<Option<String>>,
}

/// How one worker's part of a level ended.
struct WorkerEnd {
    figures: WorkerFigures,
    /// Why it stopped early, with the worker named.
    failure: Option<String>,
}

impl<W: World> Shared<'_, W> {
    /// Takes pairs from the market and runs them until none is left or the run must stop.
    fn work(
        &self,
        worker: u16,
        world: &mut W,
        root: Option<CheckpointId>,
        sender: mpsc::Sender<Done>,
    ) -> WorkerEnd {
        let mut figures = WorkerFigures {
            worker: usize::from(worker),
            ..WorkerFigures::default()
        };
        let mut adopted: Option<Adopted> = None;
        while let Some(taken) = self.next_pair(worker) {
            let state = self.level[taken.index].0;
            if let Some(left) = adopted.take_if(|a| a.state != state) {
                world.release(left.checkpoint);
            }
            let started = Instant::now();
            let ran = self.run_pair(worker, (world, root), taken, &mut adopted, &mut figures);
            figures.busy_secs += started.elapsed().as_secs_f64();
            match ran {
                Ok(done) => {
                    if self.fails_fast(&done.result) {
                        self.fail_fast_at.fetch_min(done.index, Ordering::SeqCst);
                    }
                    if sender.send(done).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    self.stop.store(true, Ordering::SeqCst);
                    if let Some(left) = adopted.take() {
                        world.release(left.checkpoint);
                    }
                    return WorkerEnd {
                        figures,
                        failure: Some(format!("worker {worker}: {}", e.chain())),
                    };
                }
            }
        }
        if let Some(left) = adopted.take() {
            world.release(left.checkpoint);
        }
        WorkerEnd {
            figures,
            failure: None,
        }
    }

    /// The next pair for `worker`, unless the run must stop.
    fn next_pair(&self, worker: u16) -> Option<Taken> {
        let interrupted = self
            .interrupt
            .is_some_and(|flag| flag.load(Ordering::Relaxed));
        let late = self.deadline.is_some_and(|d| Instant::now() >= d);
        if interrupted || late || self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let mut market = lock(&self.market);
        loop {
            let taken = market.take(usize::from(worker))?;
            if taken.index < self.fail_fast_at.load(Ordering::SeqCst) {
                return Some(taken);
            }
        }
    }

    /// Restores the state of pair `index`, runs its action and checkpoints the state reached
    /// when it may be new.
    fn run_pair(
        &self,
        worker: u16,
        (world, root): (&mut W, Option<CheckpointId>),
        taken: Taken,
        adopted: &mut Option<Adopted>,
        figures: &mut WorkerFigures,
    ) -> Result<Done, WorldError> {
        let index = taken.index;
        let (state, action) = self.level[index];
        let ctx = match adopted {
            Some(held) if held.state == state => {
                world.rollback(held.checkpoint)?;
                self.graph.ctx(state).clone()
            }
            _ => {
                let (ctx, replayed) = self.restore(worker, world, root, state, figures)?;
                if replayed && taken.more && self.mode == CheckpointMode::RandomAccess {
                    // Reached by replay, and more of its pairs follow: replay once, not each time.
                    let checkpoint = world.checkpoint()?;
                    *adopted = Some(Adopted { state, checkpoint });
                }
                ctx
            }
        };
        let known_broken = self.graph.broken(state);
        let result = self
            .model
            .execute(world, (state, known_broken), action, ctx)?;
        figures.steps += 1;
        let (checkpoint, over_cap) = match self.keeps_checkpoint(world, index, &result) {
            Keep::Yes => (Some(world.checkpoint()?), false),
            Keep::No => (None, false),
            Keep::OverCap => (None, true),
        };
        let lent = checkpoint.and_then(|checkpoint| world.lend(checkpoint));
        Ok(Done {
            index,
            worker,
            result,
            checkpoint,
            lent,
            over_cap,
        })
    }

    /// Whether the worker that ran pair `index` keeps a checkpoint of the state it reached: a
    /// state not in the graph, whose actions will be explored, first reached by this pair as
    /// far as is known, while the worker's checkpoints are within its share of the memory cap.
    fn keeps_checkpoint(&self, world: &W, index: usize, result: &StepResult) -> Keep {
        if self.mode != CheckpointMode::RandomAccess
            || self.graph.find(result.fingerprint).is_some()
        {
            return Keep::No;
        }
        if !self.config.expands_at(self.graph.depth(result.state) + 1) {
            return Keep::No;
        }
        let calls = self.graph.child_calls(result.state, result.action);
        let actions = self.model.actions;
        let expands = (0..actions.len())
            .any(|a| crate::shrink::allowed(actions, a, &result.ctx, &calls, &self.required[a]));
        if !expands {
            return Keep::No;
        }
        {
            let mut claims = lock(&self.claims);
            match claims.get(&result.fingerprint) {
                Some(&first) if first < index => return Keep::No,
                _ => claims.insert(result.fingerprint, index),
            };
        }
        let share = self.level_share();
        match (share, world.checkpoint_bytes()) {
            (Some(cap), Some(held)) if held > cap => Keep::OverCap,
            _ => Keep::Yes,
        }
    }

    /// The memory one worker's checkpoints may hold: an equal share of the cap.
    fn level_share(&self) -> Option<u64> {
        let workers = lock(&self.market).workers as u64;
        self.config.max_checkpoint_bytes.map(|cap| cap / workers)
    }

    /// Puts `world` into `state`: restores the nearest checkpoint on the state's path that this
    /// worker holds or another worker lent (the initial state's at worst) and replays the rest;
    /// with reset + replay, resets and replays the whole path. Returns the context and whether
    /// steps were replayed.
    fn restore(
        &self,
        worker: u16,
        world: &mut W,
        root: Option<CheckpointId>,
        state: StateId,
        figures: &mut WorkerFigures,
    ) -> Result<(Context, bool), WorldError> {
        let graph = self.graph;
        let (start, path) = if self.mode == CheckpointMode::ResetReplay {
            world.reset()?;
            graph.path_to(state, |_| false)
        } else {
            let own = |id: StateId| match id {
                0 => root,
                _ => graph
                    .checkpoint(id)
                    .and_then(|(checkpoint, holder)| (holder == worker).then_some(checkpoint)),
            };
            let (start, path) = graph.path_to(state, |id| {
                id != 0 && (own(id).is_some() || self.lent.contains_key(&id))
            });
            match (own(start), self.lent.get(&start)) {
                (Some(checkpoint), _) => world.rollback(checkpoint)?,
                (None, Some(lent)) => {
                    world.restore_lent(lent)?;
                    figures.borrowed += 1;
                }
                (None, None) => {
                    return Err(WorldError::new(format!(
                        "internal error: worker {worker} holds no checkpoint of state {start}"
                    )))
                }
            }
            (start, path)
        };
        let mut ctx = graph.ctx(start).clone();
        for &action in &path {
            self.model.actions[action].run(world, &mut ctx)?;
        }
        figures.replayed += path.len() as u64;
        if !path.is_empty() && !self.mismatch_warned.load(Ordering::Relaxed) {
            let observation = world.observe()?;
            if self.model.fingerprint(&ctx, &observation) != graph.fingerprint(state)
                && !self.mismatch_warned.swap(true, Ordering::SeqCst)
            {
                let how = match self.mode {
                    CheckpointMode::ResetReplay => "after a reset",
                    _ => "from an earlier checkpoint",
                };
                *lock(&self.mismatch) = Some(format!(
                    "replaying the path to state {state} {how} reached a different state on \
                     worker {worker}: the reset does not restore everything, or the API is not \
                     deterministic"
                ));
            }
        }
        Ok((ctx, !path.is_empty()))
    }

    /// Whether `result` broke an invariant severe enough to stop the run.
    fn fails_fast(&self, result: &StepResult) -> bool {
        let Some(min) = self.config.fail_fast else {
            return false;
        };
        let invariants = self.model.invariants;
        result
            .before
            .iter()
            .chain(&result.new_hits)
            .any(|hit| invariants[hit.invariant].severity >= min)
    }
}

/// A pair handed to a worker.
struct Taken {
    /// Its position in the level.
    index: usize,
    /// Whether more pairs of its state are queued for the same worker.
    more: bool,
}

/// A checkpoint a worker took of a state it reached by replay, kept while it runs more of that
/// state's pairs (and released when it moves on).
struct Adopted {
    state: StateId,
    checkpoint: CheckpointId,
}

/// The pairs of one level, grouped by state, and who takes which.
struct Market {
    /// Each state's pairs still to take (positions in the level).
    groups: Vec<VecDeque<usize>>,
    /// For each worker, the groups of the states its world holds a checkpoint of.
    own: Vec<VecDeque<usize>>,
    /// The groups of states no worker holds a checkpoint of.
    anyone: VecDeque<usize>,
    workers: usize,
}

impl Market {
    fn new(
        graph: &StateGraph,
        level: &[(StateId, usize)],
        mode: CheckpointMode,
        workers: usize,
    ) -> Market {
        let mut market = Market {
            groups: Vec::new(),
            own: vec![VecDeque::new(); workers],
            anyone: VecDeque::new(),
            workers,
        };
        let mut group_of: HashMap<StateId, usize> = HashMap::new();
        for (index, &(state, _)) in level.iter().enumerate() {
            let group = *group_of.entry(state).or_insert_with(|| {
                let group = market.groups.len();
                market.groups.push(VecDeque::new());
                match (mode, graph.checkpoint(state)) {
                    (CheckpointMode::RandomAccess, Some((_, holder))) if state != 0 => {
                        market.own[usize::from(holder)].push_back(group)
                    }
                    _ => market.anyone.push_back(group),
                }
                group
            });
            market.groups[group].push_back(index);
        }
        market
    }

    /// The next pair for `worker`: of the states it has queued (those it holds a checkpoint
    /// of, and those it took) first; else it takes a whole group nobody holds, else the last
    /// untouched group of the worker with the most pairs queued, else the back half of the
    /// largest group left: a worker that has to replay its way to a state then runs several
    /// of its pairs from there.
    fn take(&mut self, worker: usize) -> Option<Taken> {
        loop {
            if let Some(&group) = self.own[worker].front() {
                match self.groups[group].pop_front() {
                    Some(index) => {
                        let more = !self.groups[group].is_empty();
                        return Some(Taken { index, more });
                    }
                    None => {
                        self.own[worker].pop_front();
                        continue;
                    }
                }
            }
            let group = self
                .anyone
                .pop_front()
                .or_else(|| self.steal_group(worker))
                .or_else(|| self.split_largest())?;
            self.own[worker].push_back(group);
        }
    }

    /// The last group, not yet started, of the worker with the most pairs queued after the
    /// group it is on.
    fn steal_group(&mut self, thief: usize) -> Option<usize> {
        let waiting = |market: &Market, w: usize| -> usize {
            let queue = &market.own[w];
            queue.iter().skip(1).map(|&g| market.groups[g].len()).sum()
        };
        let victim = (0..self.workers)
            .filter(|&w| w != thief && self.own[w].len() > 1)
            .max_by_key(|&w| waiting(self, w))?;
        if waiting(self, victim) == 0 {
            return None;
        }
        self.own[victim].pop_back()
    }

    /// A new group of the back half of the largest group (its last pair when it has one).
    fn split_largest(&mut self) -> Option<usize> {
        let largest = (0..self.groups.len()).max_by_key(|&g| self.groups[g].len())?;
        let left = self.groups[largest].len();
        if left == 0 {
            return None;
        }
        let half = self.groups[largest].split_off(left - left.div_ceil(2));
        self.groups.push(half);
        Some(self.groups.len() - 1)
    }
}

/// Locks `mutex`, also after another worker panicked while holding it (what it guards stays
/// consistent: every change is one call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::Market;
    use std::collections::VecDeque;

    /// A market of `groups` (pair positions per state), queued for their owners (`None`:
    /// nobody holds the state).
    fn market(groups: &[(&[usize], Option<usize>)], workers: usize) -> Market {
        let mut market = Market {
            groups: Vec::new(),
            own: vec![VecDeque::new(); workers],
            anyone: VecDeque::new(),
            workers,
        };
        for (group, &(pairs, owner)) in groups.iter().enumerate() {
            market.groups.push(pairs.iter().copied().collect());
            match owner {
                Some(w) => market.own[w].push_back(group),
                None => market.anyone.push_back(group),
            }
        }
        market
    }

    /// The next `most` pairs `worker` takes (fewer when the market runs out), as (pair, more
    /// of its state).
    fn drain(market: &mut Market, worker: usize, most: usize) -> Vec<(usize, bool)> {
        std::iter::from_fn(|| market.take(worker))
            .take(most)
            .map(|t| (t.index, t.more))
            .collect()
    }

    #[test]
    fn a_worker_runs_its_own_states_then_takes_unheld_states_whole() {
        let mut m = market(&[(&[0, 1], Some(0)), (&[2, 3, 4], None)], 2);
        let taken = drain(&mut m, 0, 10);
        assert_eq!(
            taken,
            [(0, true), (1, false), (2, true), (3, true), (4, false)]
        );
    }

    #[test]
    fn an_idle_worker_steals_a_whole_untouched_state_from_the_busiest() {
        let mut m = market(
            &[
                (&[0, 1], Some(0)),
                (&[2, 3], Some(0)),
                (&[4, 5, 6], Some(0)),
                (&[7], Some(1)),
            ],
            3,
        );
        assert_eq!(
            m.take(0).map(|t| t.index),
            Some(0),
            "worker 0 starts on its first"
        );
        // Worker 2 has nothing: it takes worker 0's last state, all three pairs of it.
        assert_eq!(drain(&mut m, 2, 3), [(4, true), (5, true), (6, false)]);
        assert_eq!(drain(&mut m, 0, 3), [(1, false), (2, true), (3, false)]);
        assert_eq!(drain(&mut m, 1, 10), [(7, false)]);
        assert!(m.take(0).is_none() && m.take(2).is_none());
    }

    #[test]
    fn with_no_untouched_state_left_an_idle_worker_takes_half_of_the_largest() {
        let mut m = market(&[(&[0, 1, 2, 3, 4, 5], Some(0)), (&[6], Some(1))], 2);
        assert_eq!(m.take(0).map(|t| t.index), Some(0));
        assert_eq!(m.take(1).map(|t| t.index), Some(6));
        // Five pairs left in worker 0's state: worker 1 takes the back three.
        assert_eq!(drain(&mut m, 1, 3), [(3, true), (4, true), (5, false)]);
        assert_eq!(drain(&mut m, 0, 10), [(1, true), (2, false)]);
        assert!(m.take(0).is_none() && m.take(1).is_none());
    }
}
