//! `venom replay`: re-run reported violations' shortest paths against the API, after a reset
//! (with `--workers N`, on N copies of the system side by side).

use crate::args::{DemoRollback, DemoScenario, ReplayArgs};
use crate::demo::RunningDemo;
use crate::explore::connect_all;
use crate::failure::Failure;
use crate::interrupt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use venom_engine::Violation;
use venom_report::{RunReport, Target, EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS};
use venom_runner::{HttpWorld, Processes, WorkerCopies};
use venom_scenario::Scenario;

/// Runs `venom replay`: exit 1 when a replayed violation still reproduces, 0 when none does,
/// 130 when Ctrl-C stopped it before any reproduced. With `--workers N`, N copies of the system
/// (each its own server and database, as for `venom explore --workers`) replay the violations
/// side by side; the results are printed in the report's order.
pub fn command(args: &ReplayArgs) -> Result<i32, Failure> {
    let report = venom_report::read_json(&args.report).map_err(Failure::invalid_from)?;
    let chosen = chosen(&report, args.violation)?;
    if (args.stay || args.save_state.is_some()) && chosen.len() > 1 {
        return Err(Failure::invalid(format!(
            "--stay and --save-state keep the state of one violation, expected --violation N (the report has {})",
            chosen.len()
        )));
    }
    if chosen.is_empty() {
        println!("{}: no violations to replay", args.report.display());
        return Ok(EXIT_OK);
    }
    // Installed before the API server starts: Ctrl-C must not kill venom and leave the server
    // (in its own process group) running.
    let processes = Processes::default();
    let interrupted = interrupt::install(&processes);
    // More workers than violations would only start servers that replay nothing.
    let workers = usize::from(args.workers).min(chosen.len());
    let (scenario, demos) = target_scenario(args, &report.target, workers)?;
    let scenario = crate::target::overridden(scenario, &args.target)?;
    crate::secrets::install(&scenario);
    let initial = venom_runner::initial_context(&scenario).map_err(Failure::setup)?;
    let made;
    let others: Vec<Scenario> = match demos.as_slice() {
        [] => {
            made = WorkerCopies::prepare(&scenario, workers)?;
            crate::secrets::learn(&made.secrets());
            made.scenarios().to_vec()
        }
        [_, more @ ..] => more.iter().map(|d| d.scenario.clone()).collect(),
    };
    let (world, others) = match connect_all(&scenario, &others, &processes, &interrupted) {
        Ok(worlds) => worlds,
        Err(_) if interrupted.load(Ordering::SeqCst) => {
            let first = chosen.first().map_or(1, |(number, _)| *number);
            println!("interrupted: violation {first} and later ones not replayed");
            return Ok(EXIT_INTERRUPTED);
        }
        Err(e) => return Err(e),
    };
    let mut worlds: Vec<HttpWorld> = std::iter::once(world).chain(others).collect();
    let replayer = Replayer {
        actions: venom_runner::actions(&scenario),
        invariants: venom_runner::invariants(&scenario),
        initial,
        interrupted: &interrupted,
        repeat: args.repeat,
    };
    let replayed = replayer.replay_all(&chosen, &mut worlds);
    let (still_failing, stopped_early) = match replayed {
        Ok(counts) => counts,
        Err(e) => {
            stop_all(&mut worlds);
            return Err(e);
        }
    };
    if !stopped_early {
        keep_state(args, &mut worlds[0], &interrupted, !demos.is_empty())?;
    }
    stop_all(&mut worlds);
    Ok(if still_failing > 0 {
        EXIT_VIOLATIONS
    } else if stopped_early {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    })
}

fn stop_all(worlds: &mut [HttpWorld]) {
    for world in worlds {
        world.stop_server();
        crate::secrets::learn(world.issued_credentials());
    }
}

/// What replaying needs, shared by the workers.
struct Replayer<'a> {
    actions: Vec<venom_engine::Action<HttpWorld>>,
    invariants: Vec<venom_engine::Invariant<HttpWorld>>,
    initial: venom_engine::Context,
    interrupted: &'a AtomicBool,
    /// `--repeat K`, when given.
    repeat: Option<u32>,
}

/// How many times a path with a concurrent step is replayed when `--repeat` is not given.
const RACE_REPEATS: u32 = 10;

/// One violation replayed: what to print, and whether it reproduced.
struct Replayed {
    lines: Vec<String>,
    reproduced: bool,
}

impl Replayer<'_> {
    /// Replays `chosen` on `worlds`, each world taking the next violation when it is free, and
    /// prints each result in the report's order; returns how many reproduced and whether
    /// Ctrl-C stopped it early.
    fn replay_all(
        &self,
        chosen: &[(usize, &Violation)],
        worlds: &mut [HttpWorld],
    ) -> Result<(usize, bool), Failure> {
        let next = AtomicUsize::new(0);
        let (sender, receiver) = mpsc::channel::<(usize, Result<Replayed, Failure>)>();
        std::thread::scope(|scope| {
            for world in worlds.iter_mut() {
                let (sender, next) = (sender.clone(), &next);
                scope.spawn(move || loop {
                    let position = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(number, violation)) = chosen.get(position) else {
                        break;
                    };
                    if self.interrupted.load(Ordering::SeqCst) {
                        break;
                    }
                    let result = self.replay_one(world, number, violation);
                    let failed = result.is_err();
                    if sender.send((position, result)).is_err() || failed {
                        break;
                    }
                });
            }
            drop(sender);
            self.print_in_order(chosen, receiver)
        })
    }

    /// Prints the results as they come, in the report's order; stops at the first failure.
    fn print_in_order(
        &self,
        chosen: &[(usize, &Violation)],
        results: mpsc::Receiver<(usize, Result<Replayed, Failure>)>,
    ) -> Result<(usize, bool), Failure> {
        let mut waiting: BTreeMap<usize, Replayed> = BTreeMap::new();
        let mut printed = 0;
        let mut reproduced = 0;
        for (position, result) in results {
            waiting.insert(position, result?);
            while let Some(done) = waiting.remove(&printed) {
                for line in &done.lines {
                    println!("{line}");
                }
                reproduced += usize::from(done.reproduced);
                printed += 1;
            }
        }
        if let Some(&(number, _)) = chosen.get(printed) {
            println!("interrupted: violation {number} and later ones not replayed");
            return Ok((reproduced, true));
        }
        Ok((reproduced, false))
    }

    /// Replays one violation on `world`.
    fn replay_one(
        &self,
        world: &mut HttpWorld,
        number: usize,
        violation: &Violation,
    ) -> Result<Replayed, Failure> {
        let invariant = self
            .invariants
            .iter()
            .find(|i| i.name == violation.invariant)
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "violation {number}: the scenario has no invariant `{}` any more",
                    violation.invariant
                ))
            })?;
        let names: Vec<String> = violation.path.iter().map(|s| s.action.clone()).collect();
        let mut lines = vec![format!(
            "violation {number} [{}] {}: {}",
            violation.severity.as_str().to_uppercase(),
            violation.invariant,
            display_path(&names)
        )];
        let concurrent = violation
            .path
            .iter()
            .any(|step| step.exchange.as_ref().is_some_and(|e| e.together.is_some()));
        let tries = self
            .repeat
            .unwrap_or(if concurrent { RACE_REPEATS } else { 1 });
        let mut reproductions = 0;
        let mut shown = None;
        for _ in 0..tries {
            if self.interrupted.load(Ordering::SeqCst) {
                break;
            }
            let outcome = venom_engine::replay(
                world,
                &self.actions,
                invariant,
                &names,
                self.initial.clone(),
            )
            .map_err(|e| Failure::setup_because(format!("replaying violation {number}"), e))?;
            crate::secrets::learn(world.issued_credentials());
            if let Some(message) = outcome.message.filter(|_| outcome.reproduced) {
                reproductions += 1;
                shown.get_or_insert_with(|| {
                    crate::secrets::redact_learning(&message, &outcome.steps)
                });
            }
        }
        let reproduced = reproductions > 0;
        lines.push(match (shown, tries) {
            (Some(shown), 1) => format!("  reproduced: {shown}"),
            (Some(shown), _) => format!("  reproduced {reproductions} of {tries} times: {shown}"),
            (None, 1) => "  no longer reproduces".into(),
            (None, _) => format!("  no longer reproduces (0 of {tries} times)"),
        });
        Ok(Replayed { lines, reproduced })
    }
}

/// What `--save-state` and `--stay` do with the state the replay left: write it to a folder,
/// and leave the API in it until Ctrl-C when venom runs it (its `[server]`, or the demo
/// `in_process`); an API venom did not start stays as it is when venom exits.
fn keep_state(
    args: &ReplayArgs,
    world: &mut HttpWorld,
    interrupted: &std::sync::atomic::AtomicBool,
    in_process: bool,
) -> Result<(), Failure> {
    if let Some(dir) = &args.save_state {
        let files = world
            .save_state(dir)
            .map_err(|e| Failure::setup_because("saving the state", e))?;
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        match names.as_slice() {
            [] => println!("  no database state to save (the scenario observes no store)"),
            _ => println!("  state saved: {}", names.join(", ")),
        }
    }
    if !args.stay {
        return Ok(());
    }
    let url = crate::secrets::redact(world.base_url());
    if !world.owns_server() && !in_process {
        println!("  the API at {url} is left in this state");
        return Ok(());
    }
    eprintln!("venom replay: the API at {url} stays in this state; Ctrl-C stops it");
    while !interrupted.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

/// The violations to replay with their 1-based numbers.
fn chosen(report: &RunReport, only: Option<usize>) -> Result<Vec<(usize, &Violation)>, Failure> {
    let all = report.exploration.violations.iter().enumerate();
    let numbered: Vec<(usize, &Violation)> = all.map(|(i, v)| (i + 1, v)).collect();
    match only {
        None => Ok(numbered),
        Some(n) => numbered
            .into_iter()
            .find(|(number, _)| *number == n)
            .map(|found| vec![found])
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "--violation {n}: the report has {} violation(s), numbered from 1",
                    report.exploration.violations.len()
                ))
            }),
    }
}

/// The scenario to replay against: `--scenario`, else the report's (its path relative to the
/// report's folder, or as recorded); for the demo, fresh demo servers (one per worker) kept
/// alive by the caller.
fn target_scenario(
    args: &ReplayArgs,
    target: &Target,
    workers: usize,
) -> Result<(Scenario, Vec<RunningDemo>), Failure> {
    if let Some(path) = &args.scenario {
        let scenario = venom_scenario::load(path).map_err(Failure::invalid_from)?;
        return Ok((scenario, Vec::new()));
    }
    match target {
        Target::Scenario { path } => {
            let beside_report = args
                .report
                .parent()
                .map(|folder| folder.join(path))
                .filter(|p| path.is_relative() && p.is_file());
            let path = beside_report.as_deref().unwrap_or(path);
            let scenario = venom_scenario::load(path).map_err(|e| {
                Failure::invalid(format!(
                    "{e} (the report's scenario; give another with --scenario FILE)"
                ))
            })?;
            Ok((scenario, Vec::new()))
        }
        Target::Demo { rollback, scenario } => {
            let rollback = match rollback.as_str() {
                "reset" => DemoRollback::Reset,
                _ => DemoRollback::Sqlite,
            };
            let which = match scenario.as_deref() {
                Some("notes") => DemoScenario::Notes,
                Some("race") => DemoScenario::Race,
                _ => DemoScenario::Orders,
            };
            // One demo API per worker, each on a database of its own.
            let demos = (0..workers.max(1))
                .map(|_| RunningDemo::start(rollback, which))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((demos[0].scenario.clone(), demos))
        }
    }
}

fn display_path(names: &[String]) -> String {
    if names.is_empty() {
        return "(initial state)".into();
    }
    names.join(" -> ")
}
