//! `venom explore`: run an exploration of a scenario and write its reports.

use crate::args::{ExploreArgs, RunOptions};
use crate::failure::Failure;
use crate::interrupt;
use crate::progress::ProgressOutput;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use venom_engine::{Explorer, ExplorerConfig, Mechanism, StartError, Strategy};
use venom_report::{InvariantInfo, RunReport, Target};
use venom_runner::{HttpWorld, Processes, WorkerCopies};
use venom_scenario::{RollbackSpec, Scenario};

/// The step limit used when neither the scenario nor the command line sets a step or time limit.
pub const DEFAULT_MAX_STEPS: u64 = 1000;

/// Runs `venom explore`.
pub fn command(args: &ExploreArgs) -> Result<i32, Failure> {
    let user = args
        .scenario
        .as_deref()
        .map(venom_scenario::load)
        .transpose()
        .map_err(Failure::invalid_from)?;
    let (scenario, path) = match (&args.openapi, &args.scenario) {
        (None, Some(path)) => (user.expect("a scenario file was read"), path.clone()),
        (Some(openapi), path) => {
            let file = path
                .clone()
                .unwrap_or_else(|| generated_file(openapi, &args.run));
            let scenario = crate::init::generated_scenario(
                (openapi, args.negative),
                args.target.base_url.as_deref(),
                user,
                (&file, args.run.json.is_some()),
            )?;
            (scenario, file)
        }
        (None, None) => {
            return Err(Failure::invalid(
                "expected a scenario file or --openapi SPEC",
            ))
        }
    };
    let scenario = crate::target::overridden(scenario, &args.target)?;
    explore(
        &scenario,
        Copies::Made,
        Target::Scenario { path },
        &args.run,
    )
}

/// Where the scenario generated for `--openapi` alone is said to be: beside the JSON report
/// (named after it, and written there so that `venom replay` finds it) when there is one,
/// else in the current folder (not written).
fn generated_file(openapi: &str, options: &RunOptions) -> PathBuf {
    match &options.json {
        Some(json) => json.with_extension("scenario.toml"),
        None => {
            let name = Path::new(openapi)
                .file_stem()
                .and_then(|s| s.to_str())
                .filter(|s| !s.is_empty() && !openapi.contains("://"))
                .unwrap_or("openapi");
            PathBuf::from(format!("{name}.venom.toml"))
        }
    }
}

/// Where the copies of the system that workers 1.. explore come from (`--workers N`).
pub enum Copies<'a> {
    /// Made from the scenario before anything starts ([`WorkerCopies`]).
    Made,
    /// Given: the scenarios of systems already running, one per worker after the first.
    Given(&'a [Scenario]),
}

/// Explores `scenario`, writes the requested reports, prints the summary and returns the exit
/// status. Reports are written even when the run was interrupted or the API failed mid-run.
/// With `--workers N`, workers 1.. explore the `copies` at the same time.
pub fn explore(
    scenario: &Scenario,
    copies: Copies<'_>,
    target: Target,
    options: &RunOptions,
) -> Result<i32, Failure> {
    crate::secrets::install(scenario);
    let config = config(scenario, options)?;
    runnable(scenario, Some(config.strategy))?;
    several_workers_fit(options, config.strategy)?;
    let made;
    let others = match copies {
        Copies::Given(others) => others,
        Copies::Made => {
            made = WorkerCopies::prepare(scenario, usize::from(options.workers))?;
            crate::secrets::learn(&made.secrets());
            made.scenarios()
        }
    };
    // The copies outlive the worlds: the databases are dropped once the servers stopped.
    explore_copies(scenario, others, target, (config, options))
}

/// Refuses several workers for a strategy that explores one path at a time, before any copy
/// is made.
fn several_workers_fit(options: &RunOptions, strategy: Strategy) -> Result<(), Failure> {
    if options.workers > 1 && strategy != Strategy::Bfs {
        return Err(StartError::WorkersNeedBfs(strategy).into());
    }
    Ok(())
}

/// Explores `scenario` with one more worker per scenario of `others` (each reaching a copy of
/// the system of its own), as [`explore`] does.
fn explore_copies(
    scenario: &Scenario,
    others: &[Scenario],
    target: Target,
    (config, options): (ExplorerConfig, &RunOptions),
) -> Result<i32, Failure> {
    let progress = ProgressOutput::new(config.max_steps);
    let progress_every = progress
        .every(options.progress_every.or(scenario.explore.progress_every))
        .unwrap_or(0);
    let processes = Processes::default();
    let interrupted = interrupt::install(&processes);
    let initial = venom_runner::initial_context(scenario).map_err(Failure::setup)?;

    let (world, others) = connect_all(scenario, others, &processes, &interrupted)?;
    let actions = venom_runner::actions(scenario);
    let invariants = venom_runner::invariants(scenario);
    let invariant_infos = invariants
        .iter()
        .map(|i| InvariantInfo {
            name: i.name.clone(),
            severity: i.severity,
        })
        .collect();
    let shown = progress.clone();
    let mut explorer = Explorer::new(world, actions, invariants)
        .with_config(config)
        .with_workers(others)
        .interrupt_on(Arc::clone(&interrupted))
        .on_progress(progress_every, move |p| shown.show(p));
    let result = explorer.run(initial);
    progress.finish();
    for world in explorer.worlds_mut() {
        world.stop_server();
        crate::secrets::learn(world.issued_credentials());
    }
    let exploration = result?;

    let report = crate::secrets::redact_data(&RunReport {
        format: venom_report::REPORT_FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        target,
        invariants: invariant_infos,
        exploration,
    })?;
    write_reports(&report, options)?;
    print!(
        "{}",
        venom_report::render_console(&report, options.fail_on, options.json.as_deref())
    );
    Ok(venom_report::exit_code(&report, options.fail_on))
}

/// Connects the world of `scenario` and those of `others` side by side (each starts its own
/// server); fails with the first failure, naming its worker when there are several.
pub(crate) fn connect_all(
    scenario: &Scenario,
    others: &[Scenario],
    processes: &Processes,
    interrupted: &AtomicBool,
) -> Result<(HttpWorld, Vec<HttpWorld>), Failure> {
    let failed = |worker: usize, e: venom_runner::SetupError| {
        if others.is_empty() || interrupted.load(Ordering::SeqCst) {
            Failure::setup_unless_interrupted(e, interrupted)
        } else {
            Failure::setup_because(format!("worker {worker} could not start"), e)
        }
    };
    if others.is_empty() {
        let world = HttpWorld::connect(scenario, processes).map_err(|e| failed(0, e))?;
        return Ok((world, Vec::new()));
    }
    let worlds: Vec<Result<HttpWorld, _>> = std::thread::scope(|scope| {
        let handles: Vec<_> = std::iter::once(scenario)
            .chain(others)
            .map(|s| scope.spawn(move || HttpWorld::connect(s, processes)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut connected = Vec::with_capacity(worlds.len());
    for (worker, world) in worlds.into_iter().enumerate() {
        connected.push(world.map_err(|e| failed(worker, e))?);
    }
    let first = connected.remove(0);
    Ok((first, connected))
}

/// Refuses, before anything starts, a scenario the explorer would refuse: reset + replay
/// without a `[reset]`, or a `strategy` its rollback cannot serve. `venom check` asks too,
/// with the scenario's own strategy if it names one (a flag may choose it otherwise).
pub fn runnable(scenario: &Scenario, strategy: Option<Strategy>) -> Result<(), Failure> {
    if matches!(scenario.rollback, RollbackSpec::Reset { .. }) && scenario.reset.is_none() {
        return Err(Failure::invalid(format!(
            "{}: the rollback is reset + replay (the default), which needs a [reset] request or \
             command to restore the initial state; declare [reset], or a [rollback] mode that \
             snapshots the database",
            scenario.file.display()
        )));
    }
    let Some(strategy) = strategy else {
        return Ok(());
    };
    if !strategy.fits(scenario.checkpoint_mode()) {
        // Refused before the proxy and the server start, as the explorer would refuse it.
        return Err(Failure::invalid(format!(
            "{}: {} (in the scenario: mechanism = \"snapshot\" in [rollback] works with every \
             strategy)",
            scenario.file.display(),
            StartError::StackOnlyWorld {
                strategy,
                mechanism: Mechanism::join(&scenario.mechanisms()),
            }
        )));
    }
    Ok(())
}

fn write_reports(report: &RunReport, options: &RunOptions) -> Result<(), Failure> {
    if let Some(path) = &options.json {
        // The scenario is named relative to the report, so that `venom replay` finds it from
        // any folder (and after both are moved together).
        let mut portable = report.clone();
        if let Target::Scenario { path: scenario } = &mut portable.target {
            if let Some(relative) = relative_path(path, scenario) {
                *scenario = relative;
            }
        }
        venom_report::write_json(&portable, path)
            .map_err(|e| Failure::write("JSON report", path, e))?;
    }
    if let Some(path) = &options.junit {
        venom_report::write_junit(report, path, options.json.as_deref())
            .map_err(Failure::invalid_from)?;
    }
    if let Some(path) = &options.markdown {
        venom_report::write_markdown(report, path, options.fail_on, options.json.as_deref())
            .map_err(Failure::invalid_from)?;
    }
    if let Some(path) = &options.dot {
        venom_report::write_dot(report, path).map_err(Failure::invalid_from)?;
    }
    if let Some(path) = &options.html {
        venom_report::write_html(report, path, options.fail_on, options.json.as_deref())
            .map_err(Failure::invalid_from)?;
    }
    Ok(())
}

/// The path of `target` from the folder of the file `report` (both resolved), when both can be
/// resolved.
fn relative_path(report: &Path, target: &Path) -> Option<PathBuf> {
    let folder = report.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = std::fs::canonicalize(folder.unwrap_or(Path::new("."))).ok()?;
    let target = std::fs::canonicalize(target).ok()?;
    let common = folder
        .components()
        .zip(target.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative: PathBuf = folder.components().skip(common).map(|_| "..").collect();
    relative.extend(target.components().skip(common));
    Some(relative)
}

/// The explorer configuration: command-line flags over the scenario's `[explore]` table.
fn config(scenario: &Scenario, options: &RunOptions) -> Result<ExplorerConfig, Failure> {
    let defaults = &scenario.explore;
    if let Some(f) = options.coverage_target {
        if !(f > 0.0 && f <= 1.0) {
            return Err(Failure::invalid(format!(
                "--coverage-target {f}: expected a fraction in (0, 1]"
            )));
        }
    }
    let time_limit = match options.time_limit {
        Some(s) => match Duration::try_from_secs_f64(s) {
            Ok(limit) if !limit.is_zero() => Some(limit),
            _ => {
                return Err(Failure::invalid(format!(
                    "--time-limit {s}: expected a positive number of seconds that fits a \
                     duration (at most about 1.8e19)"
                )))
            }
        },
        None => defaults.time_limit,
    };
    if let Some(c) = options.mcts_exploration {
        if !(c.is_finite() && c >= 0.0) {
            return Err(Failure::invalid(format!(
                "--mcts-exploration {c}: expected a finite number >= 0"
            )));
        }
    }
    let mut max_steps = options.max_steps.or(defaults.max_steps);
    if max_steps.is_none() && time_limit.is_none() {
        max_steps = Some(DEFAULT_MAX_STEPS);
    }
    let base = ExplorerConfig::default();
    let loop_threshold = defaults.loop_threshold.unwrap_or(base.loop_threshold);
    let strategy = options
        .strategy
        .or(defaults.strategy)
        .unwrap_or(base.strategy);
    let seed = options.seed.or(defaults.seed).unwrap_or(base.seed);
    let mcts_exploration = options.mcts_exploration.unwrap_or(base.mcts_exploration);
    Ok(base
        .mcts_exploration(mcts_exploration)
        .strategy(strategy)
        .max_steps(max_steps)
        .max_depth(options.max_depth.or(defaults.max_depth))
        .coverage_target(options.coverage_target.or(defaults.coverage_target))
        .time_limit(time_limit)
        .seed(seed)
        .loop_threshold(loop_threshold)
        .max_checkpoint_bytes(options.max_checkpoint_mb << 20)
        .fail_fast(options.fail_fast)
        .shard(options.shard)
        .state_keys(scenario.state_from_context.clone()))
}
