//! Recording a step in the run's books: the invariants it broke, the state it reached (queued
//! for exploration when new) and the edge. One home for it, whether one world explores alone or
//! several workers hand their steps to the explorer's thread.

use super::{full_graph, Hit, NewCheckpoint, Run};
use crate::action::Action;
use crate::config::ExplorerConfig;
use crate::graph::{NewState, StateId};
use crate::invariant::Invariant;
use crate::mcts::Findings;
use crate::step::StepResult;
use crate::strategy::Strategy;
use crate::world::{CheckpointId, CheckpointMode, World, WorldError};

/// Where recording takes and frees checkpoints: the explorer's own world when it explores
/// alone, the workers' worlds (through their mailboxes) when several explore.
pub(super) trait Keeper {
    /// Takes a checkpoint of the state the step reached (one world explores alone).
    fn checkpoint_now(&mut self) -> Result<CheckpointId, WorldError>;
    /// The bytes the checkpoints hold, when the world knows.
    fn checkpoint_bytes(&self) -> Option<u64>;
    /// Frees `checkpoint`, held by worker `holder`'s world.
    fn release(&mut self, holder: u16, checkpoint: CheckpointId);
    /// Forgets what was lent of `state`'s checkpoint (its pairs are all taken).
    fn unlend(&mut self, state: StateId);
}

/// The explorer's own world, exploring alone: it takes and frees every checkpoint.
pub(super) struct Alone<'a, W>(pub &'a mut W);

impl<W: World> Keeper for Alone<'_, W> {
    fn checkpoint_now(&mut self) -> Result<CheckpointId, WorldError> {
        self.0.checkpoint()
    }

    fn checkpoint_bytes(&self) -> Option<u64> {
        self.0.checkpoint_bytes()
    }

    fn release(&mut self, holder: u16, checkpoint: CheckpointId) {
        debug_assert_eq!(holder, 0, "one world holds every checkpoint");
        self.0.release(checkpoint);
    }

    fn unlend(&mut self, _state: StateId) {}
}

/// What recording reads of the explorer: its actions, invariants and configuration.
pub(super) struct Recorder<'a, W> {
    pub actions: &'a [Action<W>],
    pub invariants: &'a [Invariant<W>],
    pub config: &'a ExplorerConfig,
}

impl<W> Recorder<'_, W> {
    /// Records a step in the graph: the invariants it found broken, the state it reached (a new
    /// one is expanded, with `checkpoint`) and the edge; returns the state reached and whether
    /// it is new.
    #[inline]
    pub fn record(
        &self,
        run: &mut Run,
        mode: CheckpointMode,
        result: StepResult,
        checkpoint: NewCheckpoint,
        keeper: &mut impl Keeper,
    ) -> Result<(StateId, bool), WorldError> {
        let StepResult {
            state,
            action,
            before,
            before_observation,
            sent,
            warnings,
            ctx,
            observation,
            fingerprint: fp,
            broken,
            new_hits,
        } = result;
        for hit in before {
            if !run.graph.mark_broken(state, hit.invariant) {
                continue;
            }
            self.note_fail_fast(run, hit.invariant);
            run.hits.add(
                hit.invariant,
                None,
                Hit {
                    from: Some(state),
                    to: state,
                    message: hit.message,
                    evidence: hit.evidence,
                    observation: before_observation.clone(),
                },
            );
        }
        for warning in warnings {
            if !run.warnings.contains(&warning) {
                run.warnings.push(warning);
            }
        }
        run.steps += 1;
        run.runs[action] += 1;
        let first_run = run.runs[action] == 1;
        self.release_if_done(run, mode, state, keeper);
        // A step that broke an invariant had an effect worth seeing, whatever the state says.
        let step_broke = broken.iter().any(|&word| word != 0);

        let known = run.graph.find(fp);
        let target = match known {
            Some(existing) => {
                release_taken(checkpoint, keeper);
                existing
            }
            None => {
                let node = NewState {
                    fingerprint: fp,
                    parent: Some((state, action)),
                    ctx,
                    broken,
                };
                let id = run.graph.add(node).ok_or_else(full_graph)?;
                self.expand(run, id, mode, checkpoint, keeper)?;
                id
            }
        };
        run.frontier.record(
            state,
            action,
            target,
            Findings {
                new_state: known.is_none(),
                new_action: first_run,
                violation: !new_hits.is_empty(),
            },
        );
        run.graph.add_edge(state, action, target, sent);
        for hit in new_hits {
            self.note_fail_fast(run, hit.invariant);
            run.hits.add(
                hit.invariant,
                Some(action),
                Hit {
                    from: Some(state),
                    to: target,
                    message: hit.message,
                    evidence: hit.evidence,
                    observation: observation.clone(),
                },
            );
        }
        if target == state && !step_broke {
            self.note_self_loop(run, action);
        }
        Ok((target, known.is_none()))
    }

    /// Remembers invariant `i` as the reason to stop when it is severe enough to fail fast.
    fn note_fail_fast(&self, run: &mut Run, i: usize) {
        let invariant = &self.invariants[i];
        if run.failed_fast.is_none()
            && self
                .config
                .fail_fast
                .is_some_and(|min| invariant.severity >= min)
        {
            run.failed_fast = Some(invariant.name.clone());
        }
    }

    /// Queues the enabled actions of a new state and gives it `checkpoint` if it will be
    /// revisited (one taken by another worker is released when it will not be).
    pub fn expand(
        &self,
        run: &mut Run,
        id: StateId,
        mode: CheckpointMode,
        checkpoint: NewCheckpoint,
        keeper: &mut impl Keeper,
    ) -> Result<(), WorldError> {
        if !self.config.expands_at(run.graph.depth(id)) {
            release_taken(checkpoint, keeper);
            // Asked once per run: does the limit hold back an action that could run here?
            if !run.depth_pruned {
                run.depth_pruned = (0..self.actions.len()).any(|a| self.enabled(a, run, id));
            }
            return Ok(());
        }
        // The buffer of the last expansion, reused: most steps find a new state to expand.
        let mut enabled = std::mem::take(&mut run.enabled);
        enabled.clear();
        enabled.extend((0..self.actions.len()).filter(|&a| self.enabled(a, run, id)));
        let expanded = self.queue(run, id, mode, &mut enabled, checkpoint, keeper);
        run.enabled = enabled;
        expanded
    }

    /// Queues the pairs of `id` for its `enabled` actions (narrowed to its part of a split at
    /// the initial state) and gives it `checkpoint` if it will be revisited.
    fn queue(
        &self,
        run: &mut Run,
        id: StateId,
        mode: CheckpointMode,
        enabled: &mut Vec<usize>,
        checkpoint: NewCheckpoint,
        keeper: &mut impl Keeper,
    ) -> Result<(), WorldError> {
        if let (0, Some(shard)) = (id, self.config.shard) {
            // A part of a split explores the paths that start with its actions only.
            let all = enabled.len();
            enabled.retain(|&a| shard.starts_with(a));
            if enabled.is_empty() && all > 0 {
                run.warnings.push(format!(
                    "part {shard} has no path to explore: the initial state enables {all} \
                     action(s), and the parts split them by index modulo {}; use fewer parts",
                    shard.count
                ));
            }
        }
        if enabled.is_empty() {
            release_taken(checkpoint, keeper);
            return Ok(());
        }
        match checkpoint {
            _ if mode == CheckpointMode::ResetReplay => {}
            // Depth-first search runs a new state's first action next, from where the world
            // already is: only the actions after it restore the state.
            NewCheckpoint::TakeNow
                if self.config.strategy == Strategy::Dfs && enabled.len() == 1 => {}
            NewCheckpoint::TakeNow => {
                let checkpoint = keeper.checkpoint_now()?;
                if mode == CheckpointMode::RandomAccess
                    && id != 0
                    && self.over_checkpoint_cap(keeper)
                {
                    // Restored by reset + replay instead (the initial state always keeps one).
                    keeper.release(0, checkpoint);
                    run.over_cap += 1;
                } else {
                    run.graph.set_checkpoint(id, checkpoint, 0);
                }
            }
            NewCheckpoint::Taken(taken) => {
                if let Some((worker, taken)) = taken {
                    run.graph.set_checkpoint(id, taken, worker);
                }
            }
        }
        run.graph.set_pending(id, enabled.len());
        run.frontier.push_state(id, enabled);
        Ok(())
    }

    /// Whether the checkpoints now hold more memory than the configured cap.
    fn over_checkpoint_cap(&self, keeper: &impl Keeper) -> bool {
        match (self.config.max_checkpoint_bytes, keeper.checkpoint_bytes()) {
            (Some(cap), Some(held)) => held > cap,
            _ => false,
        }
    }

    /// Whether `action` may run in `state`.
    pub fn enabled(&self, action: usize, run: &Run, state: StateId) -> bool {
        let (graph, required) = (&run.graph, &run.required[action]);
        crate::shrink::allowed(
            self.actions,
            action,
            graph.ctx(state),
            graph.calls(state),
            required,
        )
    }

    /// Frees the checkpoint of a state whose pairs have all been taken from the frontier.
    fn release_if_done(
        &self,
        run: &mut Run,
        mode: CheckpointMode,
        state: StateId,
        keeper: &mut impl Keeper,
    ) {
        if mode == CheckpointMode::RandomAccess {
            if let Some((checkpoint, holder)) = run.graph.take_pending(state) {
                keeper.unlend(state);
                keeper.release(holder, checkpoint);
            }
        }
    }

    /// Counts a step that left its state unchanged, and warns once the action did so from
    /// `loop_threshold` states.
    fn note_self_loop(&self, run: &mut Run, action: usize) {
        run.self_loops[action] += 1;
        if run.self_loops[action] == self.config.loop_threshold {
            run.warnings.push(format!(
                "action `{}` left the state unchanged from {} states; consider a precondition \
                 (`requires`) that disables it where it has no effect",
                self.actions[action].name, self.config.loop_threshold
            ));
        }
    }
}

/// Releases a checkpoint a worker took of a state that needs none.
fn release_taken(checkpoint: NewCheckpoint, keeper: &mut impl Keeper) {
    if let NewCheckpoint::Taken(Some((worker, taken))) = checkpoint {
        keeper.release(worker, taken);
    }
}
