//! Engine tests on the in-memory counter model.

mod model;

use model::{actions, invariants, shortest_by_brute_force, Counter, Feed, MODULO};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use venom_engine::{
    Action, CheckpointMode, Context, Exploration, Explorer, ExplorerConfig, Invariant, Outcome,
    Precondition, Severity, StartError, StopReason, Strategy, Verdict,
};

fn explore(mode: CheckpointMode, config: ExplorerConfig) -> Exploration {
    let mut explorer =
        Explorer::new(Counter::new(mode), actions(), invariants()).with_config(config);
    explorer.run(Context::new()).expect("setup")
}

fn config(strategy: Strategy) -> ExplorerConfig {
    ExplorerConfig::default().strategy(strategy).seed(42)
}

/// Replays `names` on a fresh counter and returns the final value.
fn simulate(names: &[&str]) -> u32 {
    names.iter().fold(0, |v, name| {
        let f = model::ACTIONS.iter().find(|(n, _)| n == name).unwrap().1;
        f(v) % MODULO
    })
}

fn groups(result: &Exploration) -> HashMap<(String, String), usize> {
    result
        .violations
        .iter()
        .map(|v| {
            (
                (v.invariant.clone(), v.action.clone().unwrap()),
                v.path.len(),
            )
        })
        .collect()
}

#[test]
fn bfs_reports_the_shortest_path_of_every_violation() {
    let result = explore(CheckpointMode::RandomAccess, config(Strategy::Bfs));
    assert_eq!(result.stop, StopReason::Exhausted);
    assert_eq!(
        result.states, MODULO as usize,
        "every counter value is one state"
    );
    let expected = shortest_by_brute_force(MODULO as usize + 1);
    assert!(!expected.is_empty());
    assert_eq!(groups(&result), expected);
    for v in &result.violations {
        let value = simulate(&v.action_names());
        assert_eq!(
            model::broken(value),
            vec![v.invariant.as_str()],
            "path {:?}",
            v.action_names()
        );
        assert_eq!(v.path.last().unwrap().action, v.action.clone().unwrap());
    }
    // Most severe first.
    assert_eq!(result.violations[0].severity, Severity::Critical);
    assert!(result.violations.iter().all(|v| v.proved_shortest));
}

#[test]
fn every_strategy_finds_the_same_violations_with_shortest_paths() {
    let expected = shortest_by_brute_force(MODULO as usize + 1);
    for strategy in Strategy::ALL {
        let mut explorer = Explorer::new(
            Counter::new(CheckpointMode::RandomAccess),
            actions(),
            invariants(),
        )
        .with_config(config(strategy));
        let result = explorer.run(Context::new()).expect("setup");
        assert_eq!(
            explorer.world_mut().held(),
            0,
            "{strategy}: every checkpoint released"
        );
        assert_eq!(result.stop, StopReason::Exhausted, "{strategy}");
        assert_eq!(result.states, MODULO as usize, "{strategy}");
        assert_eq!(groups(&result), expected, "{strategy}");
        // Only a breadth-first run proves its paths shortest; the others say "shortest found".
        for v in &result.violations {
            assert_eq!(v.proved_shortest, strategy == Strategy::Bfs, "{strategy}");
        }
    }
}

#[test]
fn reset_and_replay_and_stack_only_worlds_find_the_same() {
    let expected = shortest_by_brute_force(MODULO as usize + 1);
    let replayed = explore(CheckpointMode::ResetReplay, config(Strategy::Bfs));
    assert_eq!(groups(&replayed), expected);
    assert!(replayed
        .warnings
        .iter()
        .all(|w| !w.contains("different state")));
    let stacked = explore(CheckpointMode::StackOnly, config(Strategy::Dfs));
    assert_eq!(groups(&stacked), expected);
}

#[test]
fn random_access_strategy_on_a_stack_only_world_is_refused_up_front() {
    for strategy in [
        Strategy::Bfs,
        Strategy::Random,
        Strategy::Coverage,
        Strategy::Weighted,
        Strategy::Mcts,
    ] {
        let mut explorer = Explorer::new(
            Counter::new(CheckpointMode::StackOnly),
            actions(),
            invariants(),
        )
        .with_config(config(strategy));
        let err = explorer.run(Context::new()).unwrap_err();
        assert!(matches!(err, StartError::StackOnlyWorld { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(strategy.as_str()) && text.contains("StackOnly"),
            "{text}"
        );
        assert_eq!(
            explorer.world_mut().executed,
            0,
            "nothing ran before the refusal"
        );
    }
}

#[test]
fn depth_first_takes_no_checkpoint_of_a_state_with_one_action() {
    // One action: depth-first search runs it from where the world is, never restoring.
    let one = || actions().into_iter().take(1).collect::<Vec<_>>();
    for (strategy, mode, taken) in [
        (Strategy::Dfs, CheckpointMode::RandomAccess, 0),
        (Strategy::Dfs, CheckpointMode::StackOnly, 0),
        (Strategy::Bfs, CheckpointMode::RandomAccess, MODULO as u64),
    ] {
        let mut explorer =
            Explorer::new(Counter::new(mode), one(), invariants()).with_config(config(strategy));
        let result = explorer.run(Context::new()).expect("setup");
        assert_eq!(result.stop, StopReason::Exhausted, "{strategy}");
        assert_eq!(result.states, MODULO as usize, "{strategy}");
        assert_eq!(
            result.violations.len(),
            2,
            "{strategy}: {:?}",
            result.violations
        );
        assert_eq!(
            explorer.world_mut().taken(),
            taken,
            "{strategy} {mode:?}: checkpoints taken"
        );
    }
}

#[test]
fn a_world_that_feeds_its_fingerprint_explores_alike_and_is_observed_only_for_reports() {
    let run = |feed: Feed| {
        let mut world = Counter::new(CheckpointMode::RandomAccess);
        world.feed = feed;
        let mut explorer =
            Explorer::new(world, actions(), invariants()).with_config(config(Strategy::Bfs));
        let result = explorer.run(Context::new());
        (result, explorer.world_mut().observed)
    };
    let (plain, plain_observed) = run(Feed::Off);
    let (fed, fed_observed) = run(Feed::Value);
    let (plain, fed) = (plain.expect("setup"), fed.expect("setup"));
    assert_eq!(
        (fed.states, fed.transitions, fed.steps),
        (plain.states, plain.transitions, plain.steps)
    );
    assert_eq!(groups(&fed), groups(&plain));
    for (f, p) in fed.violations.iter().zip(&plain.violations) {
        assert_eq!(f.state.observation, p.state.observation, "{}", f.invariant);
        assert_eq!(f.state.fingerprint, p.state.fingerprint, "{}", f.invariant);
    }
    // Observed once for the initial state, then after each step, or only after the steps
    // that broke an invariant (their reports show the state).
    assert_eq!(u64::from(plain_observed), 1 + plain.steps);
    let hit_steps: u64 = fed.violations.iter().map(|v| v.occurrences).sum();
    assert!(
        (1..=1 + hit_steps).contains(&u64::from(fed_observed)),
        "{fed_observed} observations, {hit_steps} hits"
    );

    let (wrong, _) = run(Feed::Wrong);
    match wrong {
        Err(e @ StartError::ObserveIntoDiffers { .. }) => {
            assert!(
                e.to_string().contains("observe_into and observe disagree"),
                "{e}"
            )
        }
        other => panic!("expected a refusal, got {:?}", other.map(|r| r.stop)),
    }
}

#[test]
fn random_strategy_is_reproducible_for_a_seed() {
    let run = |seed| {
        let mut cfg = config(Strategy::Random);
        cfg.seed = seed;
        cfg.max_steps = Some(10);
        let r = explore(CheckpointMode::RandomAccess, cfg);
        r.actions.iter().map(|a| a.runs).collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    let distinct: BTreeSet<_> = (0..20).map(run).collect();
    assert!(distinct.len() > 1, "different seeds explore differently");
}

#[test]
fn equal_fingerprints_merge_states() {
    // `tag` writes a counter into the context, but only `phase` identifies the state.
    let tag = Action::new("tag", |_: &mut Counter, ctx: &mut Context| {
        let n = ctx.get("n").and_then(|v| v.as_u64()).unwrap_or(0);
        ctx.set("n", n + 1);
        ctx.set("phase", "tagged");
        Ok(Outcome::default())
    })
    .max_calls(5);
    let mut cfg = config(Strategy::Bfs);
    cfg.state_keys = Some(vec!["phase".into()]);
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![tag],
        vec![],
    )
    .with_config(cfg);
    let merged = explorer.run(Context::new()).unwrap();
    assert_eq!(merged.states, 2, "initial + tagged");

    let tag_all = Action::new("tag", |_: &mut Counter, ctx: &mut Context| {
        let n = ctx.get("n").and_then(|v| v.as_u64()).unwrap_or(0);
        ctx.set("n", n + 1);
        Ok(Outcome::default())
    })
    .max_calls(5);
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![tag_all],
        vec![],
    )
    .with_config(config(Strategy::Bfs));
    let distinct = explorer.run(Context::new()).unwrap();
    assert_eq!(
        distinct.states, 6,
        "n = 0..=5 are distinct when every key counts"
    );
}

#[test]
fn limits_stop_the_run() {
    let mut cfg = config(Strategy::Bfs);
    cfg.max_steps = Some(5);
    let r = explore(CheckpointMode::RandomAccess, cfg);
    assert_eq!((r.stop.clone(), r.steps), (StopReason::MaxSteps, 5));

    let mut cfg = config(Strategy::Coverage);
    cfg.coverage_target = Some(0.6);
    let r = explore(CheckpointMode::RandomAccess, cfg);
    assert_eq!(r.stop, StopReason::CoverageTarget);
    assert_eq!(
        r.steps, 2,
        "coverage-guided runs two distinct actions first"
    );
    assert!(r.coverage >= 0.6);

    let mut cfg = config(Strategy::Bfs);
    cfg.time_limit = Some(Duration::ZERO);
    let r = explore(CheckpointMode::RandomAccess, cfg);
    assert_eq!((r.stop.clone(), r.steps), (StopReason::TimeLimit, 0));

    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        actions(),
        invariants(),
    )
    .with_config(config(Strategy::Bfs))
    .interrupt_on(Arc::new(AtomicBool::new(true)));
    let r = explorer.run(Context::new()).expect("setup");
    assert_eq!(r.stop, StopReason::Interrupted);

    let mut cfg = config(Strategy::Bfs);
    cfg.max_depth = Some(1);
    let r = explore(CheckpointMode::RandomAccess, cfg);
    // Not "exhausted": states at depth 1 had actions left.
    assert_eq!(r.stop, StopReason::DepthLimit);
    assert_eq!(
        r.stop.to_string(),
        "depth limit reached (all states within it explored)"
    );
    assert_eq!(r.max_depth, 1);
    assert_eq!(r.steps, 3, "only the initial state is expanded");
}

#[test]
fn preconditions_and_max_calls_restrict_paths() {
    let open = Action::new("open", |_: &mut Counter, ctx: &mut Context| {
        ctx.set("open", true);
        Ok(Outcome::default())
    })
    .max_calls(1);
    let close = Action::new("close", |_: &mut Counter, ctx: &mut Context| {
        ctx.set("closed", true);
        Ok(Outcome::default())
    })
    .requires(Precondition::ActionsRun(vec!["open".into()]))
    .requires(Precondition::KeysPresent(vec!["open".into()]))
    .requires(Precondition::Check(Arc::new(|ctx: &Context| {
        !ctx.has("closed")
    })));
    let closed_before_open = Invariant::new(
        "closed_implies_open",
        Severity::High,
        |_: &mut Counter, view: &venom_engine::StepView<'_>| {
            Ok(if view.ctx.has("closed") && !view.ctx.has("open") {
                Verdict::broken("closed before open")
            } else {
                Verdict::Holds
            })
        },
    );
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![open, close],
        vec![closed_before_open],
    )
    .with_config(config(Strategy::Bfs));
    let r = explorer.run(Context::new()).unwrap();
    assert!(r.violations.is_empty());
    assert_eq!(r.states, 3, "initial, open, open+closed");
    assert_eq!(r.steps, 2, "open once, close once, nothing else enabled");
}

#[test]
fn an_action_without_effect_is_reported_as_a_possible_loop() {
    let mut acts = actions();
    acts.push(Action::new("noop", |_: &mut Counter, _: &mut Context| {
        Ok(Outcome::default())
    }));
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        acts,
        invariants(),
    )
    .with_config(config(Strategy::Bfs));
    let r = explorer.run(Context::new()).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("`noop`") && r.warnings[0].contains("precondition"));
}

#[test]
fn a_world_failure_ends_the_run_but_keeps_the_findings() {
    let mut world = Counter::new(CheckpointMode::RandomAccess);
    world.fail_after = Some(20);
    let mut explorer =
        Explorer::new(world, actions(), invariants()).with_config(config(Strategy::Bfs));
    let r = explorer.run(Context::new()).unwrap();
    assert_eq!(r.stop, StopReason::Aborted("connection refused".into()));
    assert_eq!(r.steps, 20);
    assert!(
        !r.violations.is_empty(),
        "violations found before the failure are kept"
    );
}

#[test]
fn unknown_required_action_and_duplicates_are_setup_errors() {
    let a = Action::new("a", |_: &mut Counter, _: &mut Context| {
        Ok(Outcome::default())
    })
    .requires(Precondition::ActionsRun(vec!["nope".into()]));
    let err = Explorer::new(Counter::new(CheckpointMode::RandomAccess), vec![a], vec![])
        .run(Context::new())
        .unwrap_err();
    assert_eq!(err.to_string(), "action `a` requires unknown action `nope`");

    let mut acts = actions();
    acts.extend(actions());
    let err = Explorer::new(Counter::new(CheckpointMode::RandomAccess), acts, vec![])
        .run(Context::new())
        .unwrap_err();
    assert_eq!(err.to_string(), "duplicate action name `add1`");

    let many: Vec<Action<Counter>> = (0..=1usize << 16)
        .map(|i| {
            Action::new(format!("a{i}"), |_: &mut Counter, _: &mut Context| {
                Ok(Outcome::default())
            })
        })
        .collect();
    let err = Explorer::new(Counter::new(CheckpointMode::RandomAccess), many, vec![])
        .run(Context::new())
        .unwrap_err();
    assert!(
        matches!(
            err,
            StartError::TooManyActions {
                count: 65537,
                max: 65536
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "65537 actions: an exploration explores at most 65536"
    );
}

#[test]
fn progress_is_reported_every_n_steps() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut cfg = config(Strategy::Bfs);
    cfg.max_steps = Some(30);
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        actions(),
        invariants(),
    )
    .with_config(cfg)
    .on_progress(10, move |p| sink.lock().unwrap().push(p.to_string()));
    explorer.run(Context::new()).unwrap();
    let lines = seen.lock().unwrap();
    assert_eq!(
        lines.len(),
        4,
        "steps 10, 20, 30 and the final line: {lines:?}"
    );
    assert!(lines[0].starts_with("step 10/30 | states "), "{}", lines[0]);
    assert!(
        lines[0].contains("| coverage 100% | violations "),
        "{}",
        lines[0]
    );
}

#[test]
fn a_self_loop_that_breaks_an_invariant_is_not_called_an_action_without_effect() {
    // `crash` never changes the counter but breaks `no_crash` (a 500 that changes nothing);
    // `noop` changes nothing and breaks nothing.
    let crash = Action::new("crash", |_: &mut Counter, ctx: &mut Context| {
        ctx.set("crashed", true);
        Ok(Outcome::default())
    });
    let noop = Action::new("noop", |_: &mut Counter, _: &mut Context| {
        Ok(Outcome::default())
    });
    let no_crash = Invariant::new(
        "no_crash",
        Severity::Critical,
        |_: &mut Counter, view: &venom_engine::StepView<'_>| {
            Ok(if view.action == Some("crash") {
                Verdict::broken("the API answered 500")
            } else {
                Verdict::Holds
            })
        },
    );
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![crash, noop],
        vec![no_crash],
    )
    .with_config(
        config(Strategy::Bfs)
            .state_keys(Vec::new())
            .max_depth(6)
            .loop_threshold(1),
    );
    let result = explorer.run(Context::new()).expect("setup");
    assert_eq!(result.violations.len(), 1, "{:?}", result.violations);
    let warned = |name: &str| {
        result
            .warnings
            .iter()
            .any(|w| w.starts_with(&format!("action `{name}` left the state unchanged")))
    };
    assert!(warned("noop"), "{:?}", result.warnings);
    assert!(!warned("crash"), "{:?}", result.warnings);
}

#[test]
fn the_coverage_says_why_an_action_never_ran() {
    let noop = |_: &mut Counter, _: &mut Context| Ok(Outcome::default());
    let start = Action::new("start", noop).max_calls(1);
    // Requires a key nothing sets (an `extract` that matched nothing, say).
    let use_token =
        Action::new("use_token", noop).requires(Precondition::KeysPresent(vec!["token".into()]));
    // Requires an action that never runs.
    let after =
        Action::new("after", noop).requires(Precondition::ActionsRun(vec!["use_token".into()]));
    // A guard that is false everywhere.
    let guarded =
        Action::new("guarded", noop).requires(Precondition::Check(Arc::new(|ctx: &Context| {
            ctx.has("never")
        })));
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![start, use_token, after, guarded],
        Vec::new(),
    )
    .with_config(config(Strategy::Bfs));
    let r = explorer.run(Context::new()).unwrap();
    let why = |name: &str| {
        r.actions
            .iter()
            .find(|a| a.action == name)
            .and_then(|a| a.never_run.clone())
    };
    assert_eq!(why("start"), None, "it ran");
    assert_eq!(
        why("use_token").as_deref(),
        Some("requires context key `token`, which no explored state has")
    );
    assert_eq!(
        why("after").as_deref(),
        Some("requires action `use_token`, which never ran")
    );
    assert_eq!(
        why("guarded").as_deref(),
        Some("its precondition was false in every explored state")
    );
}

#[test]
fn past_the_checkpoint_memory_cap_states_are_restored_by_replay_with_the_same_findings() {
    // Breadth-first keeps its checkpoints in a map, depth-first in a stack: both look up
    // states that keep none.
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        capped_like_uncapped(strategy);
    }
}

fn capped_like_uncapped(strategy: Strategy) {
    let uncapped = explore(CheckpointMode::RandomAccess, config(strategy));
    // 100 bytes per checkpoint: at most 3 held at once, the rest restored by reset + replay.
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        actions(),
        invariants(),
    )
    .with_config(config(strategy).max_checkpoint_bytes(250));
    let capped = explorer.run(Context::new()).expect("setup");
    assert_eq!(capped.stop, StopReason::Exhausted);
    assert_eq!(capped.states, uncapped.states);
    assert_eq!(groups(&capped), groups(&uncapped));
    assert!(explorer.world_mut().resets > 0, "some states were replayed");
    assert!(
        capped
            .warnings
            .iter()
            .any(|w| w.starts_with("the checkpoints reached the memory cap")),
        "{:?}",
        capped.warnings
    );
    assert!(uncapped.warnings.iter().all(|w| !w.contains("memory cap")));
}

#[test]
fn paths_not_proved_shortest_are_shrunk_by_replay_to_one_minimal() {
    // A depth-first run cut short: its paths are long detours.
    let cfg = config(Strategy::Dfs).max_steps(40);
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        actions(),
        invariants(),
    )
    .with_config(cfg);
    let r = explorer.run(Context::new()).expect("setup");
    assert!(!r.violations.is_empty());
    for v in &r.violations {
        let names = v.action_names();
        assert!(!v.proved_shortest);
        assert!(v.one_minimal, "{names:?}");
        // It still breaks the invariant, with the same last action…
        assert_eq!(
            model::broken(simulate(&names)),
            vec![v.invariant.as_str()],
            "{names:?}"
        );
        assert_eq!(names.last().copied(), v.action.as_deref());
        // …and dropping any one of the other steps does not.
        for drop in 0..names.len() - 1 {
            let mut shorter = names.clone();
            shorter.remove(drop);
            assert!(
                !model::broken(simulate(&shorter)).contains(&v.invariant.as_str()),
                "{names:?} without step {drop} still breaks {}",
                v.invariant
            );
        }
        assert_eq!(
            v.shrunk_from, None,
            "the explored graph's paths are already short"
        );
    }

    // A detour the run never saw around: `touch` first (depth first), then `seven`, then the
    // step limit. Replay shows `touch` is not needed.
    let touch = Action::new("touch", |_: &mut Counter, ctx: &mut Context| {
        ctx.set("touched", true);
        Ok(Outcome::default())
    })
    .max_calls(1);
    let seven = Action::new("seven", |w: &mut Counter, _: &mut Context| w.apply(|_| 7));
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![touch, seven],
        invariants(),
    )
    .with_config(config(Strategy::Dfs).max_steps(2));
    let r = explorer.run(Context::new()).expect("setup");
    let v = &r.violations[0];
    assert_eq!(v.action_names(), ["seven"], "{v:?}");
    assert_eq!(
        (v.shrunk_from, v.one_minimal, v.proved_shortest),
        (Some(2), true, false)
    );
    assert_eq!(v.message, "value is 7");
}

#[test]
fn an_invariant_checked_before_each_action_sees_the_action_about_to_run_and_reports_the_path_to_its_state(
) {
    // Broken when `double` is about to run on the value 4: reached at best by add1 add3.
    let before = Invariant::new(
        "no_double_at_four",
        Severity::High,
        |w: &mut Counter, view: &venom_engine::StepView<'_>| {
            assert!(view.exchange.is_none(), "nothing ran yet");
            Ok(if w.value == 4 && view.action == Some("double") {
                Verdict::broken("doubling 4")
            } else {
                Verdict::Holds
            })
        },
    )
    .before_each_action();
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        actions(),
        vec![before],
    )
    .with_config(config(Strategy::Bfs));
    let result = explorer.run(Context::new()).expect("setup");
    let found: Vec<_> = result
        .violations
        .iter()
        .filter(|v| v.invariant == "no_double_at_four")
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one violation, not one per action: {found:?}"
    );
    let violation = found[0];
    assert_eq!(violation.message, "before `double`: doubling 4");
    assert_eq!(simulate(&violation.action_names()), 4);
    assert_eq!(violation.path.len(), 2, "{:?}", violation.action_names());
    assert_eq!(
        violation.action, None,
        "no action broke it: it was broken before one ran"
    );
    assert_eq!(
        violation.state.observation.get("value"),
        Some(&serde_json::json!(4)),
        "the state it was broken in"
    );
}

#[test]
fn fail_fast_stops_at_the_first_violation_at_or_above_its_severity() {
    // Critical `never_seven` needs 3 steps at best, medium `never_ten` 4 (add3 add3 add1 ...).
    let full = explore(CheckpointMode::RandomAccess, config(Strategy::Bfs));
    let at_high = explore(
        CheckpointMode::RandomAccess,
        config(Strategy::Bfs).fail_fast(Severity::High),
    );
    assert_eq!(
        at_high.stop,
        StopReason::FailFast("never_seven".into()),
        "the first critical violation stops the run"
    );
    assert!(
        at_high.steps < full.steps,
        "{} < {}",
        at_high.steps,
        full.steps
    );
    assert!(at_high
        .violations
        .iter()
        .any(|v| v.invariant == "never_seven"));
    let below = explore(
        CheckpointMode::RandomAccess,
        config(Strategy::Bfs).fail_fast(Severity::Critical),
    );
    assert_eq!(below.stop, StopReason::FailFast("never_seven".into()));
    let never = explore(
        CheckpointMode::RandomAccess,
        config(Strategy::Bfs).fail_fast(None),
    );
    assert_eq!(never.stop, StopReason::Exhausted);
}

#[test]
fn a_context_key_new_in_almost_every_state_is_named_in_the_warnings() {
    // `stamp` takes the number of steps so far: a new value after every step.
    let stamp = Action::new("stamp", |w: &mut Counter, ctx: &mut Context| {
        ctx.set("stamp", w.executed);
        w.apply(|v| v + 1)
    });
    let mut explorer = Explorer::new(
        Counter::new(CheckpointMode::RandomAccess),
        vec![stamp],
        vec![],
    )
    .with_config(config(Strategy::Bfs).max_steps(30));
    let result = explorer.run(Context::new()).expect("setup");
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.starts_with("context key `stamp` has a different value in")),
        "{:?}",
        result.warnings
    );
}

/// A lock opened by one sequence of 8 actions out of 6: the right action moves `progress` on,
/// any other stirs `noise` (a new state almost every time) and sends `progress` back to 0.
fn deep_lock() -> (Vec<Action<model::Counter>>, Vec<Invariant<model::Counter>>) {
    const SECRET: [i64; 8] = [3, 1, 4, 1, 5, 2, 0, 5];
    let actions = (0..6)
        .map(|k: i64| {
            Action::new(
                format!("a{k}"),
                move |_: &mut model::Counter, ctx: &mut Context| {
                    let progress = ctx.get("progress").and_then(|v| v.as_i64()).unwrap_or(0);
                    let noise = ctx.get("noise").and_then(|v| v.as_i64()).unwrap_or(0);
                    if progress < 8 && SECRET[progress as usize] == k {
                        ctx.set("progress", progress + 1);
                    } else {
                        ctx.set("progress", 0);
                        ctx.set("noise", (noise * 6 + k + 1) % 97);
                    }
                    Ok(Outcome::default())
                },
            )
        })
        .collect();
    let invariants = vec![Invariant::new(
        "lock_stays_shut",
        Severity::Critical,
        |_: &mut model::Counter, view: &venom_engine::StepView<'_>| {
            let open = view.ctx.get("progress").and_then(|v| v.as_i64()) == Some(8);
            Ok(match open {
                true => Verdict::Broken {
                    message: "opened".into(),
                    evidence: None,
                },
                false => Verdict::Holds,
            })
        },
    )];
    (actions, invariants)
}

#[test]
fn mcts_finds_a_deep_bug_and_is_reproducible_by_seed() {
    let run = |seed: u64| {
        let (actions, invariants) = deep_lock();
        let mut cfg = config(Strategy::Mcts).fail_fast(Severity::Critical);
        cfg.seed = seed;
        cfg.max_steps = Some(200_000);
        let mut explorer = Explorer::new(
            model::Counter::new(CheckpointMode::RandomAccess),
            actions,
            invariants,
        )
        .with_config(cfg);
        explorer.run(Context::new()).expect("setup")
    };
    let first = run(3);
    assert!(
        matches!(first.stop, StopReason::FailFast(_)),
        "{:?}",
        first.stop
    );
    let path = first.violations[0].action_names();
    assert_eq!(path, ["a3", "a1", "a4", "a1", "a5", "a2", "a0", "a5"]);
    let again = run(3);
    assert_eq!((again.steps, again.states), (first.steps, first.states));
    let others: BTreeSet<u64> = (4..10).map(|seed| run(seed).steps).collect();
    assert!(others.len() > 1, "seeds explore differently: {others:?}");
}

/// The run's graph view holds every state and transition found: the initial state first at
/// depth 0, each transition one level deeper at most, each (state, action) once.
#[test]
fn the_graph_view_holds_every_state_and_transition() {
    let result = explore(CheckpointMode::RandomAccess, config(Strategy::Bfs));
    let graph = result.graph.as_ref().expect("a view");
    assert_eq!(graph.states.len(), result.states);
    assert_eq!(graph.edges.len(), result.transitions);
    assert_eq!(graph.omitted_states, 0);
    assert_eq!(graph.states[0].depth, 0);
    let mut seen = BTreeSet::new();
    for edge in &graph.edges {
        let (from, to) = (edge.from as usize, edge.to as usize);
        assert!(
            graph.states[to].depth <= graph.states[from].depth + 1,
            "{edge:?}"
        );
        assert!(seen.insert((from, edge.action.clone())), "{edge:?} twice");
    }
    assert!(graph.states.iter().skip(1).all(|s| s.depth > 0));
}

/// What the world advises ends among the run's warnings.
#[test]
fn the_worlds_advice_ends_among_the_warnings() {
    let mut counter = Counter::new(CheckpointMode::RandomAccess);
    counter.advice = vec!["use WAL mode".to_string()];
    let mut explorer =
        Explorer::new(counter, actions(), invariants()).with_config(config(Strategy::Bfs));
    let result = explorer.run(Context::new()).expect("setup");
    assert_eq!(
        result
            .warnings
            .iter()
            .filter(|w| *w == "use WAL mode")
            .count(),
        1,
        "{:?}",
        result.warnings
    );
}
