//! `venom replay`: re-run reported violations' shortest paths against the API, after a reset.

use crate::args::{DemoRollback, DemoScenario, ReplayArgs};
use crate::demo::RunningDemo;
use crate::failure::Failure;
use crate::interrupt;
use std::sync::atomic::Ordering;
use venom_engine::Violation;
use venom_report::{RunReport, Target, EXIT_INTERRUPTED, EXIT_OK, EXIT_VIOLATIONS};
use venom_runner::{HttpWorld, Processes};
use venom_scenario::Scenario;

/// Runs `venom replay`: exit 1 when a replayed violation still reproduces, 0 when none does,
/// 130 when Ctrl-C stopped it before any reproduced.
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
    let (scenario, demo) = target_scenario(args, &report.target)?;
    let scenario = crate::target::overridden(scenario, &args.target)?;
    crate::secrets::install(&scenario);
    let initial = venom_runner::initial_context(&scenario).map_err(Failure::setup)?;
    let mut world = match HttpWorld::connect(&scenario, &processes) {
        Ok(world) => world,
        Err(_) if interrupted.load(Ordering::SeqCst) => {
            let first = chosen.first().map_or(1, |(number, _)| *number);
            println!("interrupted: violation {first} and later ones not replayed");
            return Ok(EXIT_INTERRUPTED);
        }
        Err(e) => return Err(Failure::setup(e)),
    };
    let actions = venom_runner::actions(&scenario);
    let invariants = venom_runner::invariants(&scenario);
    let mut still_failing = 0;
    let mut stopped_early = false;
    for (number, violation) in chosen {
        if interrupted.load(Ordering::SeqCst) {
            println!("interrupted: violation {number} and later ones not replayed");
            stopped_early = true;
            break;
        }
        let invariant = invariants
            .iter()
            .find(|i| i.name == violation.invariant)
            .ok_or_else(|| {
                Failure::invalid(format!(
                    "violation {number}: the scenario has no invariant `{}` any more",
                    violation.invariant
                ))
            })?;
        let names: Vec<String> = violation.path.iter().map(|s| s.action.clone()).collect();
        println!(
            "violation {number} [{}] {}: {}",
            violation.severity.as_str().to_uppercase(),
            violation.invariant,
            display_path(&names)
        );
        let outcome =
            venom_engine::replay(&mut world, &actions, invariant, &names, initial.clone())
                .map_err(|e| Failure::setup_because(format!("replaying violation {number}"), e))?;
        match outcome.message {
            Some(message) if outcome.reproduced => {
                still_failing += 1;
                let shown = crate::secrets::redact_learning(&message, &outcome.steps);
                println!("  reproduced: {shown}");
            }
            _ => println!("  no longer reproduces"),
        }
        crate::secrets::learn(world.issued_credentials());
    }
    if !stopped_early {
        keep_state(args, &mut world, &interrupted, demo.is_some())?;
    }
    world.stop_server();
    Ok(if still_failing > 0 {
        EXIT_VIOLATIONS
    } else if stopped_early {
        EXIT_INTERRUPTED
    } else {
        EXIT_OK
    })
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
/// report's folder, or as recorded); for the demo, a fresh demo server kept alive by the caller.
fn target_scenario(
    args: &ReplayArgs,
    target: &Target,
) -> Result<(Scenario, Option<RunningDemo>), Failure> {
    if let Some(path) = &args.scenario {
        let scenario = venom_scenario::load(path).map_err(Failure::invalid_from)?;
        return Ok((scenario, None));
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
            Ok((scenario, None))
        }
        Target::Demo { rollback, scenario } => {
            let rollback = match rollback.as_str() {
                "reset" => DemoRollback::Reset,
                _ => DemoRollback::Sqlite,
            };
            let which = match scenario.as_deref() {
                Some("notes") => DemoScenario::Notes,
                _ => DemoScenario::Orders,
            };
            let demo = RunningDemo::start(rollback, which)?;
            Ok((demo.scenario.clone(), Some(demo)))
        }
    }
}

fn display_path(names: &[String]) -> String {
    if names.is_empty() {
        return "(initial state)".into();
    }
    names.join(" -> ")
}
