//! Parallel breadth-first exploration: several workers, each driving its own copy of the system
//! under test, share one state graph.
//!
//! The (state, action) pairs are handed out by a job market ([`Market`]): a worker first takes
//! pairs of the states its own world holds a checkpoint of, then pairs of states nobody holds
//! (the initial state, of which every worker keeps a checkpoint), then pairs of the state with
//! the most pairs left, which it restores from the checkpoint its holder lent (see
//! [`World::lend`]) when the world can lend, else by rolling back to its nearest own checkpoint
//! on that state's path and replaying the rest. The explorer's thread records the steps in the
//! order a single breadth-first explorer would have recorded them, and offers a new state's
//! pairs as soon as the step that found it is recorded, so the levels overlap: no worker idles
//! while an earlier step of a narrow level still runs. The states, the paths that discovered
//! them and the violations do not depend on the number of workers, and every state is first
//! reached at its depth: the paths stay shortest.

use super::record::{Keeper, Recorder};
use super::{limit_reached, Explorer, NewCheckpoint, ProgressFn, Run, RunControl, StartError};
use crate::context::Context;
use crate::exploration::{Progress, StopReason, WorkerFigures};
use crate::fingerprint::Fingerprint;
use crate::graph::{StateGraph, StateId};
use crate::step::{Model, StepResult};
use crate::world::{CheckpointId, CheckpointMode, LentCheckpoint, World, WorldError};
use market::{Market, Taken};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

mod market;

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
            (!self.workers.others.is_empty()).then_some(explore_parallel::<W> as ParallelLoop<W>);
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
        let model = Model::of(&self.actions, &self.invariants, &self.config);
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

/// Explores with every worker at once; returns why it stopped.
///
/// The explorer's thread records the steps in the order of their pairs as they come in, and
/// offers the pairs of each new state to the market as soon as the step that found it is
/// recorded: workers start on the next level while the last pairs of the current one still
/// run, so a narrow level does not leave them idle.
fn explore_parallel<W: World + Send>(
    explorer: &mut Explorer<W>,
    run: &mut Run,
    mode: CheckpointMode,
    started: Instant,
) -> StopReason {
    let Explorer {
        world,
        actions,
        invariants,
        config,
        control,
        workers,
    } = explorer;
    let Workers {
        others,
        roots,
        lent,
        figures,
        ..
    } = workers;
    let RunControl {
        interrupt,
        progress,
    } = control;
    let count = 1 + others.len();
    let graph = RwLock::new(std::mem::replace(&mut run.graph, StateGraph::new(0, false)));
    let required = run.required.clone();
    let shared = Shared {
        model: Model::of(actions, invariants, config),
        graph: &graph,
        lent: RwLock::new(std::mem::take(lent)),
        required: &required,
        config,
        mode,
        market: Mutex::new(Market::new(count)),
        wake: Condvar::new(),
        mailboxes: (0..count).map(|_| Mutex::new(Vec::new())).collect(),
        claims: Mutex::new(HashMap::new()),
        fail_fast_at: AtomicUsize::new(usize::MAX),
        interrupt: interrupt.as_deref(),
        deadline: config.time_limit.map(|limit| started + limit),
        mismatch_warned: AtomicBool::new(run.replay_mismatch_warned),
        mismatch: Mutex::new(None),
    };
    let budget = config.max_steps.map_or(usize::MAX, |max| {
        usize::try_from(max.saturating_sub(run.steps)).unwrap_or(usize::MAX)
    });
    let mut coordinator = Coordinator {
        recorder: Recorder {
            actions,
            invariants,
            config,
        },
        shared: &shared,
        budget,
        waiting: BTreeMap::new(),
        next: 0,
        per_worker: vec![0; count],
        progress: progress.as_mut(),
        started,
    };
    let (sender, receiver) = mpsc::channel();
    let (decided, ends) = std::thread::scope(|scope| {
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
        let decided = coordinator.run(run, &receiver);
        shared.halt();
        // The steps that were still running when the run stopped.
        coordinator.keep(receiver.iter());
        let ends: Vec<WorkerEnd> = handles
            .into_iter()
            .enumerate()
            .map(|(worker, handle)| {
                handle.join().unwrap_or_else(|_| WorkerEnd {
                    figures: WorkerFigures::default(),
                    failure: Some(format!("worker {worker} panicked")),
                })
            })
            .collect();
        (decided, ends)
    });
    let mut failure = None;
    for (total, end) in figures.iter_mut().zip(ends) {
        total.steps += end.figures.steps;
        total.replayed += end.figures.replayed;
        total.borrowed += end.figures.borrowed;
        total.busy_secs += end.figures.busy_secs;
        failure = failure.or(end.failure);
    }
    let stop = match decided {
        Some(reason) if !reason.keeps_late_steps() => reason,
        decided => {
            // A run cut short keeps what its workers found: the steps that ran, in order (the
            // positions of those that did not run are skipped).
            let kept = coordinator.record_the_rest(run);
            let interrupted = coordinator.shared.interrupted();
            match (decided, failure, kept) {
                (Some(reason), ..) => reason,
                (None, Some(_), _) if interrupted => StopReason::Interrupted,
                (None, Some(failure), _) => StopReason::Aborted(failure),
                (None, None, Err(e)) => StopReason::Aborted(e.chain()),
                (None, None, Ok(())) => limit_reached(config, interrupted, run, started)
                    .unwrap_or(StopReason::Interrupted),
            }
        }
    };
    let dropped = std::mem::take(&mut coordinator.waiting);
    drop(coordinator);
    let mut release = |worker: u16, checkpoint: CheckpointId| match worker {
        0 => world.release(checkpoint),
        n => others[usize::from(n) - 1].release(checkpoint),
    };
    for done in dropped.into_values() {
        if let Some(checkpoint) = done.checkpoint {
            release(done.worker, checkpoint);
        }
    }
    let Shared {
        lent: lent_now,
        mailboxes,
        mismatch,
        ..
    } = shared;
    for (worker, mailbox) in mailboxes.into_iter().enumerate() {
        for checkpoint in mailbox.into_inner().unwrap_or_else(|e| e.into_inner()) {
            release(worker as u16, checkpoint);
        }
    }
    *lent = lent_now.into_inner().unwrap_or_else(|e| e.into_inner());
    run.graph = graph.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(warning) = mismatch.into_inner().unwrap_or_else(|e| e.into_inner()) {
        if !run.replay_mismatch_warned {
            run.replay_mismatch_warned = true;
            run.warnings.push(warning);
        }
    }
    stop
}

impl StopReason {
    /// Whether a parallel run that stopped for this reason records the steps its workers had
    /// finished but the explorer had not recorded yet: a run cut short keeps what it found;
    /// one stopped by a limit on steps, coverage or a severe violation ends where one worker
    /// would have ended.
    fn keeps_late_steps(&self) -> bool {
        matches!(self, StopReason::Interrupted | StopReason::TimeLimit)
    }
}

/// The explorer's thread during a parallel run: it records the steps in the order of their
/// pairs and offers the pairs of the states they find.
struct Coordinator<'a, 's, W> {
    recorder: Recorder<'a, W>,
    shared: &'s Shared<'a, W>,
    /// The most pairs that may be offered (what `max_steps` leaves).
    budget: usize,
    /// Steps received before some step with an earlier position, by position.
    waiting: BTreeMap<usize, Done>,
    /// The position of the next step to record.
    next: usize,
    /// Steps received from each worker.
    per_worker: Vec<u64>,
    progress: Option<&'a mut (u64, ProgressFn)>,
    started: Instant,
}

impl<W: World> Coordinator<'_, '_, W> {
    /// Records the steps as they come in, in order, until the run must stop; returns why, or
    /// `None` when every worker stopped on its own (a failure, an interrupt, the time limit).
    fn run(&mut self, run: &mut Run, receiver: &mpsc::Receiver<Done>) -> Option<StopReason> {
        self.offer(run);
        loop {
            if self.next == lock(&self.shared.market).offered() {
                // Everything offered is recorded, and recording it offered nothing more.
                let config = self.recorder.config;
                let limit = limit_reached(config, self.shared.interrupted(), run, self.started);
                return Some(limit.unwrap_or(match run.depth_pruned {
                    true => StopReason::DepthLimit,
                    false => StopReason::Exhausted,
                }));
            }
            let done = receiver.recv().ok()?;
            self.per_worker[usize::from(done.worker)] += 1;
            self.waiting.insert(done.index, done);
            while let Some(done) = self.waiting.remove(&self.next) {
                self.next += 1;
                if let Err(e) = self.record(run, done) {
                    return Some(StopReason::Aborted(e.chain()));
                }
                if let Some(invariant) = run.failed_fast.take() {
                    return Some(StopReason::FailFast(invariant));
                }
                let config = self.recorder.config;
                let interrupted = self.shared.interrupted();
                if let Some(reason) = limit_reached(config, interrupted, run, self.started) {
                    return Some(reason);
                }
            }
        }
    }

    /// Keeps `late` steps with those waiting for their turn.
    fn keep(&mut self, late: impl Iterator<Item = Done>) {
        for done in late {
            self.waiting.insert(done.index, done);
        }
    }

    /// Records every step still waiting, in order.
    fn record_the_rest(&mut self, run: &mut Run) -> Result<(), WorldError> {
        while let Some((_, done)) = self.waiting.pop_first() {
            self.record(run, done)?;
        }
        Ok(())
    }

    /// Records one step in the graph (the workers read it meanwhile, behind its lock), lends
    /// the checkpoint of the new state it found, and offers that state's pairs.
    fn record(&mut self, run: &mut Run, done: Done) -> Result<(), WorldError> {
        let shared = self.shared;
        run.over_cap += u64::from(done.over_cap);
        let fingerprint = done.result.fingerprint;
        let checkpoint = NewCheckpoint::Taken(done.checkpoint.map(|c| (done.worker, c)));
        let mut graph = write(shared.graph);
        std::mem::swap(&mut run.graph, &mut graph);
        let recorded = self.recorder.record(
            run,
            shared.mode,
            done.result,
            checkpoint,
            &mut Mailboxes(shared),
        );
        if let (Ok((reached, true)), Some(lent)) = (&recorded, done.lent) {
            // Lent only while its holder keeps it (a state not expanded gives it back).
            if run.graph.checkpoint(*reached).is_some() {
                write(&shared.lent).insert(*reached, lent);
            }
        }
        lock(&shared.claims).remove(&fingerprint);
        self.offer(run);
        self.show_progress(run);
        std::mem::swap(&mut run.graph, &mut graph);
        recorded.map(|_| ())
    }

    /// Offers the pairs the frontier queued (within the budget of steps) and wakes the
    /// workers that wait for some.
    fn offer(&mut self, run: &mut Run) {
        let pairs = run.frontier.take_queued();
        if pairs.is_empty() {
            return;
        }
        let mut market = lock(&self.shared.market);
        let room = self.budget.saturating_sub(market.offered());
        market.offer(&run.graph, pairs.into_iter().take(room), self.shared.mode);
        drop(market);
        self.shared.wake.notify_all();
    }

    fn show_progress(&mut self, run: &Run) {
        if let Some((every, show)) = self.progress.as_deref_mut() {
            if run.steps.is_multiple_of(*every) {
                show(&Progress {
                    step: run.steps,
                    max_steps: self.recorder.config.max_steps,
                    states: run.graph.len(),
                    coverage: super::coverage(&run.runs),
                    violations: run.hits.distinct(),
                    workers: self.per_worker.clone(),
                });
            }
        }
    }
}

/// The keeper of checkpoints while workers explore: the explorer's thread holds no world, so
/// what recording frees goes to the holder's mailbox, and the holder frees it before its next
/// pair.
struct Mailboxes<'s, 'a, W>(&'s Shared<'a, W>);

impl<W> Keeper for Mailboxes<'_, '_, W> {
    fn checkpoint_now(&mut self) -> Result<CheckpointId, WorldError> {
        Err(WorldError::new(
            "internal error: the explorer's thread holds no world while its workers explore",
        ))
    }

    fn checkpoint_bytes(&self) -> Option<u64> {
        None
    }

    fn release(&mut self, holder: u16, checkpoint: CheckpointId) {
        lock(&self.0.mailboxes[usize::from(holder)]).push(checkpoint);
    }

    fn unlend(&mut self, state: StateId) {
        write(&self.0.lent).remove(&state);
    }
}

/// A step a worker ran.
struct Done {
    /// Its pair's position in the order one breadth-first explorer runs the pairs.
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

/// Whether a worker keeps a checkpoint of the state a step reached.
enum Keep {
    Yes,
    /// The state is known, will not be expanded, or another pair reached it first.
    No,
    /// It would, but the worker's checkpoints hold its share of the memory cap.
    OverCap,
}

/// What the workers and the explorer's thread share during a parallel run.
struct Shared<'a, W> {
    model: Model<'a, W>,
    /// The graph: the explorer's thread writes each step, the workers read the states' paths,
    /// contexts and checkpoints.
    graph: &'a RwLock<StateGraph>,
    /// The checkpoints lent by their holders, by state.
    lent: RwLock<HashMap<StateId, LentCheckpoint>>,
    required: &'a [Vec<usize>],
    config: &'a crate::config::ExplorerConfig,
    mode: CheckpointMode,
    market: Mutex<Market>,
    /// Wakes the workers waiting for pairs (more offered, or the run ends).
    wake: Condvar,
    /// Per worker, the checkpoints of its world to free (their states need them no more).
    mailboxes: Vec<Mutex<Vec<CheckpointId>>>,
    /// For each fingerprint reached and not yet in the graph, the first pair (by position)
    /// known to reach it: the one whose worker keeps a checkpoint of it.
    claims: Mutex<HashMap<Fingerprint, usize>>,
    /// The first pair (by position) known to break an invariant severe enough to stop the run:
    /// the pairs after it are not run, those before it are (as one worker would have).
    fail_fast_at: AtomicUsize,
    interrupt: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
    /// Whether a replay that missed its state was already reported.
    mismatch_warned: AtomicBool,
    mismatch: Mutex<Option<String>>,
}

/// How one worker's part of the run ended.
struct WorkerEnd {
    figures: WorkerFigures,
    /// Why it stopped early, with the worker named.
    failure: Option<String>,
}

impl<W: World> Shared<'_, W> {
    /// Takes pairs from the market and runs them until the run ends.
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
        let mut failure = None;
        loop {
            self.free_mail(worker, world);
            let Some(taken) = self.next_pair(worker) else {
                break;
            };
            if let Some(left) = adopted.take_if(|a| a.state != taken.state) {
                world.release(left.checkpoint);
            }
            let started = Instant::now();
            let ran = self.run_pair(worker, (world, root), &taken, &mut adopted, &mut figures);
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
                    self.halt();
                    failure = Some(format!("worker {worker}: {}", e.chain()));
                    break;
                }
            }
        }
        if let Some(left) = adopted.take() {
            world.release(left.checkpoint);
        }
        self.free_mail(worker, world);
        WorkerEnd { figures, failure }
    }

    /// Frees the checkpoints of `world` that recording no longer needs.
    fn free_mail(&self, worker: u16, world: &mut W) {
        let mail = std::mem::take(&mut *lock(&self.mailboxes[usize::from(worker)]));
        for checkpoint in mail {
            world.release(checkpoint);
        }
    }

    /// Ends the run for every worker: none takes another pair.
    fn halt(&self) {
        lock(&self.market).closed = true;
        self.wake.notify_all();
    }

    fn interrupted(&self) -> bool {
        self.interrupt
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// The next pair for `worker`, waiting for one while others still run, unless the run
    /// must stop.
    fn next_pair(&self, worker: u16) -> Option<Taken> {
        let mut market = lock(&self.market);
        loop {
            let late = self.deadline.is_some_and(|d| Instant::now() >= d);
            if market.closed || late || self.interrupted() {
                return None;
            }
            match market.take(usize::from(worker)) {
                Some(taken) if taken.index < self.fail_fast_at.load(Ordering::SeqCst) => {
                    return Some(taken)
                }
                Some(_) => {}
                None => {
                    // Woken when pairs are offered or the run ends; the timeout re-reads the
                    // interrupt flag and the clock.
                    market = self
                        .wake
                        .wait_timeout(market, Duration::from_millis(50))
                        .map_or_else(|e| e.into_inner().0, |(market, _)| market);
                }
            }
        }
    }

    /// Restores the state of the pair taken, runs its action and checkpoints the state
    /// reached when it may be new.
    fn run_pair(
        &self,
        worker: u16,
        (world, root): (&mut W, Option<CheckpointId>),
        taken: &Taken,
        adopted: &mut Option<Adopted>,
        figures: &mut WorkerFigures,
    ) -> Result<Done, WorldError> {
        let (index, state, action) = (taken.index, taken.state, taken.action);
        let ctx = match adopted {
            Some(held) if held.state == state => {
                world.rollback(held.checkpoint)?;
                read(self.graph).ctx(state).clone()
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
        let known_broken = read(self.graph).broken(state).to_vec();
        let result = self
            .model
            .execute(world, (state, &known_broken), action, ctx)?;
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
        if self.mode != CheckpointMode::RandomAccess {
            return Keep::No;
        }
        let calls = {
            let graph = read(self.graph);
            if graph.find(result.fingerprint).is_some()
                || !self.config.expands_at(graph.depth(result.state) + 1)
            {
                return Keep::No;
            }
            graph.child_calls(result.state, result.action)
        };
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
        let share = self.checkpoint_share();
        match (share, world.checkpoint_bytes()) {
            (Some(cap), Some(held)) if held > cap => Keep::OverCap,
            _ => Keep::Yes,
        }
    }

    /// The memory one worker's checkpoints may hold: an equal share of the cap.
    fn checkpoint_share(&self) -> Option<u64> {
        let workers = self.mailboxes.len() as u64;
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
        let (from, path, mut ctx, expected) = {
            let graph = read(self.graph);
            let (start, path, from) = if self.mode == CheckpointMode::ResetReplay {
                let (start, path) = graph.path_to(state, |_| false);
                (start, path, From::Reset)
            } else {
                let lent = read(&self.lent);
                let own = |id: StateId| match id {
                    0 => root,
                    _ => graph
                        .checkpoint(id)
                        .and_then(|(checkpoint, holder)| (holder == worker).then_some(checkpoint)),
                };
                let (start, path) = graph.path_to(state, |id| {
                    id != 0 && (own(id).is_some() || lent.contains_key(&id))
                });
                let from = match (own(start), lent.get(&start)) {
                    (Some(checkpoint), _) => From::Own(checkpoint),
                    (None, Some(lent)) => From::Lent(lent.clone()),
                    (None, None) => {
                        return Err(WorldError::new(format!(
                            "internal error: worker {worker} holds no checkpoint of state {start}"
                        )))
                    }
                };
                (start, path, from)
            };
            (
                from,
                path,
                graph.ctx(start).clone(),
                graph.fingerprint(state),
            )
        };
        match from {
            From::Reset => world.reset()?,
            From::Own(checkpoint) => world.rollback(checkpoint)?,
            From::Lent(lent) => {
                world.restore_lent(&lent)?;
                figures.borrowed += 1;
            }
        }
        for &action in &path {
            self.model.actions[action].run(world, &mut ctx)?;
        }
        figures.replayed += path.len() as u64;
        if !path.is_empty() && !self.mismatch_warned.load(Ordering::Relaxed) {
            let observation = world.observe()?;
            if self.model.fingerprint(&ctx, &observation) != expected
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

/// Where a worker restores a state from before replaying the rest of its path.
enum From {
    /// A reset (reset + replay).
    Reset,
    /// A checkpoint its own world holds.
    Own(CheckpointId),
    /// A checkpoint another worker lent.
    Lent(LentCheckpoint),
}

/// A checkpoint a worker took of a state it reached by replay, kept while it runs more of that
/// state's pairs (and released when it moves on).
struct Adopted {
    state: StateId,
    checkpoint: CheckpointId,
}

/// Locks `mutex`, also after another worker panicked while holding it (what it guards stays
/// consistent: every change is one call).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads behind `lock`, as [`lock`] does.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

/// Writes behind `lock`, as [`lock`] does.
fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
