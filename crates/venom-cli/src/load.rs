//! `venom load`: run the scenario's flows as load, check its thresholds (and a baseline), write
//! the reports.

use crate::args::{BaselineArgs, LoadArgs, LoadCommand, LoadMergeArgs, LoadMode};
use crate::failure::Failure;
use crate::interrupt;
use crate::load_check::LoadChecker;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use venom_load::{
    CapacityOptions, Control, LoadPlan, LoadSummary, Mode, PlanOptions, Progress, QuotaOptions,
    StopReason,
};
use venom_report::{EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS};
use venom_runner::{choose_port, Processes, ServerProcess};
use venom_scenario::Scenario;

/// A saved run to compare with, and its file.
type Baseline = Option<Box<(PathBuf, LoadSummary)>>;

/// What `venom load` was asked to do.
enum Job {
    /// One run of a plan, with its thresholds and an optional baseline.
    Run {
        plan: LoadPlan,
        tolerance: f64,
        baseline: Baseline,
    },
    /// A capacity search.
    Capacity(CapacityOptions),
    /// The quota checks.
    Quota(QuotaOptions),
}

impl Job {
    /// The job of `args` for `scenario`, its options checked before anything starts.
    fn of(args: &LoadArgs, scenario: &Scenario) -> Result<Job, Failure> {
        let percent = |flag: &str, text: &str| {
            venom_load::parse_percent(text).map_err(|e| Failure::invalid(format!("{flag}: {e}")))
        };
        if args.find_capacity {
            let stage = venom_load::parse_duration(&args.stage_duration)
                .map_err(|e| Failure::invalid(format!("--stage-duration: {e}")))?;
            let rates_ok = args.start_rate.is_finite()
                && args.max_rate.is_finite()
                && args.start_rate > 0.0
                && args.max_rate >= args.start_rate;
            if !rates_ok {
                return Err(Failure::invalid(format!(
                    "--start-rate {} and --max-rate {}: expected 0 < start rate <= max rate",
                    args.start_rate, args.max_rate
                )));
            }
            return Ok(Job::Capacity(CapacityOptions {
                start_rate: args.start_rate,
                max_rate: args.max_rate,
                stage,
                max_stages: args.max_stages as usize,
                tolerance: percent("--capacity-tolerance", &args.capacity_tolerance)?,
                quota_fraction: percent("--quota-fraction", &args.quota_fraction)?,
                ..CapacityOptions::default()
            }));
        }
        if args.check_quota {
            let mut options = QuotaOptions::default();
            if let Some(d) = &args.duration {
                options.duration = venom_load::parse_duration(d)
                    .map_err(|e| Failure::invalid(format!("--duration: {e}")))?;
            }
            return Ok(Job::Quota(options));
        }
        let plan = LoadPlan::resolve(scenario, &options(args)?).map_err(Failure::invalid_from)?;
        let (tolerance, baseline) = baseline(&args.baseline)?;
        Ok(Job::Run {
            plan,
            tolerance,
            baseline,
        })
    }

    fn describe(&self) -> String {
        match self {
            Job::Run { plan, .. } => plan.describe(),
            Job::Capacity(o) => format!(
                "capacity search from {}/s, stages of {}, at most {} stages",
                o.start_rate,
                venom_load::format_duration(o.stage),
                o.max_stages
            ),
            Job::Quota(o) => format!(
                "quota check, {} per action at {}× its quota",
                venom_load::format_duration(o.duration),
                o.overload
            ),
        }
    }
}

/// Runs `venom load` (or `venom load merge`).
pub fn command(args: &LoadArgs) -> Result<i32, Failure> {
    if let Some(LoadCommand::Merge(merge)) = &args.merge {
        return merge_command(merge);
    }
    let Some(path) = &args.scenario else {
        return Err(Failure::invalid("a scenario file is required"));
    };
    let scenario = venom_scenario::load(path).map_err(Failure::invalid_from)?;
    let scenario = crate::target::overridden(scenario, &args.target)?;
    let job = Job::of(args, &scenario)?;

    let processes = Processes::default();
    let interrupt = interrupt::install(&processes);
    let (scenario, port_env) = choose_port(&scenario).map_err(Failure::setup)?;
    let mut server = match &scenario.server {
        Some(spec) => Some(
            ServerProcess::start(spec, &port_env, &processes)
                .map_err(|e| Failure::setup_unless_interrupted(e, &interrupt))?,
        ),
        None => None,
    };
    crate::secrets::install(&scenario);
    eprintln!(
        "venom load: {} against {}",
        job.describe(),
        crate::secrets::redact(&scenario.base_url)
    );
    let control = Control {
        interrupt: Some(Arc::clone(&interrupt)),
        progress: Progress::auto(),
    };
    let result = match job {
        Job::Run {
            plan,
            tolerance,
            baseline,
        } => one_run(
            args,
            (&scenario, &processes),
            &plan,
            (tolerance, baseline),
            control,
        ),
        Job::Capacity(options) => capacity(args, &scenario, &options, &control),
        Job::Quota(options) => quota(args, &scenario, options, &control),
    };
    if let Some(server) = &mut server {
        server.stop();
    }
    result
}

/// A capacity search: exit 0 when some rate met every threshold, 1 when none did, 130 when
/// interrupted.
fn capacity(
    args: &LoadArgs,
    scenario: &Scenario,
    options: &CapacityOptions,
    control: &Control,
) -> Result<i32, Failure> {
    let report = venom_load::find_capacity(scenario, args.flow.as_deref(), options, control)
        .map_err(Failure::setup)?;
    let report = crate::secrets::redact_data(&report)?;
    let mut written = Vec::new();
    if let Some(path) = &args.json {
        venom_load::write_json(&report, path).map_err(Failure::invalid_from)?;
        written.push(format!("JSON report {}", path.display()));
    }
    if let Some(path) = &args.html {
        venom_load::write_capacity_html(&report, path).map_err(Failure::invalid_from)?;
        written.push(format!("HTML report {}", path.display()));
    }
    print!("{report}");
    for line in written {
        println!("wrote {line}");
    }
    Ok(searched(control, report.highest_pass.is_some()))
}

/// The exit status of a search venom ran by itself (capacity, quotas): 130 when interrupted,
/// 1 when it found no passing rate or a quota broke, 0 otherwise.
fn searched(control: &Control, passed: bool) -> i32 {
    if control.interrupted() {
        EXIT_INTERRUPTED
    } else if !passed {
        EXIT_VIOLATIONS
    } else {
        EXIT_OK
    }
}

/// The quota checks: exit 1 when one failed.
fn quota(
    args: &LoadArgs,
    scenario: &Scenario,
    options: QuotaOptions,
    control: &Control,
) -> Result<i32, Failure> {
    let report = venom_load::check_quotas(scenario, options, control).map_err(Failure::setup)?;
    let report = crate::secrets::redact_data(&report)?;
    if let Some(path) = &args.json {
        venom_load::write_json(&report, path).map_err(Failure::invalid_from)?;
    }
    print!("{report}");
    Ok(searched(control, report.passed()))
}

/// `venom load merge`: the segments' summaries joined, judged and written like one run's.
fn merge_command(args: &LoadMergeArgs) -> Result<i32, Failure> {
    let summaries = args
        .summaries
        .iter()
        .map(|path| venom_load::read_baseline(path).map_err(Failure::invalid_from))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = venom_load::merge(&summaries).map_err(Failure::invalid_from)?;
    let (tolerance, baseline) = baseline(&args.baseline)?;
    let outputs = Outputs {
        json: Some(args.output.clone()),
        html: args.html.clone(),
        save_baseline: None,
    };
    finish(merged, (tolerance, baseline), &outputs)
}

/// The run to compare with, read, and the tolerance.
fn baseline(args: &BaselineArgs) -> Result<(f64, Baseline), Failure> {
    let tolerance = venom_load::parse_percent(&args.tolerance)
        .map_err(|e| Failure::invalid(format!("--tolerance: {e}")))?;
    let baseline = match &args.baseline {
        Some(path) => Some(Box::new((
            path.clone(),
            venom_load::read_baseline(path).map_err(Failure::invalid_from)?,
        ))),
        None => None,
    };
    Ok((tolerance, baseline))
}

/// Where a run's reports go.
struct Outputs {
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    save_baseline: Option<PathBuf>,
}

/// One run of `plan` (its invariants checked under load with `--check`): its reports, and the
/// exit status of its thresholds, baseline and checks.
fn one_run(
    args: &LoadArgs,
    (scenario, processes): (&Scenario, &Processes),
    plan: &LoadPlan,
    baseline: (f64, Baseline),
    control: Control,
) -> Result<i32, Failure> {
    let every = args
        .check_every
        .as_deref()
        .map(venom_load::parse_duration)
        .transpose()
        .map_err(|e| Failure::invalid(format!("--check-every: {e}")))?;
    let mut checker = match args.check {
        true => Some(LoadChecker::connect(scenario, processes)?),
        false => None,
    };
    for line in checker.iter().flat_map(|c| &c.left_out) {
        eprintln!("warning: {line}");
    }
    if checker.as_ref().is_some_and(LoadChecker::is_empty) {
        eprintln!("warning: --check: the scenario has no invariant to check under load");
    }
    let done = AtomicBool::new(false);
    let (run, during) = std::thread::scope(|scope| {
        let periodic = match (every, checker.as_mut()) {
            (Some(every), Some(checker)) => {
                let done = &done;
                Some(scope.spawn(move || checker.check_until(every, done)))
            }
            _ => None,
        };
        let run = venom_load::run(scenario, plan, control);
        done.store(true, Ordering::SeqCst);
        let during = periodic.map(|p| {
            p.join()
                .unwrap_or_else(|_| Err(Failure::setup("the invariant checks panicked")))
        });
        (run, during)
    });
    let mut summary = run.map_err(Failure::setup)?;
    if let Some(during) = during {
        summary.checks = during?;
    }
    if let Some(checker) = &mut checker {
        summary.checks.extend(checker.check()?);
    }
    let outputs = Outputs {
        json: args.json.clone(),
        html: args.html.clone(),
        save_baseline: args.save_baseline.clone(),
    };
    finish(summary, baseline, &outputs)
}

/// Compares `summary` with the baseline, writes the reports and prints the console summary;
/// the exit status of its thresholds and baseline.
fn finish(
    mut summary: LoadSummary,
    (tolerance, baseline): (f64, Baseline),
    outputs: &Outputs,
) -> Result<i32, Failure> {
    if let Some((path, base)) = baseline.as_deref() {
        summary.baseline = Some(venom_load::compare(
            &summary,
            base,
            &path.display().to_string(),
            tolerance,
        ));
    }
    let summary = crate::secrets::redact_data(&summary)?;

    let mut written = Vec::new();
    let mut write =
        |path: &Option<std::path::PathBuf>,
         what: &str,
         f: fn(&venom_load::LoadSummary, &Path) -> Result<(), venom_load::FileError>|
         -> Result<(), Failure> {
            if let Some(path) = path {
                f(&summary, path).map_err(Failure::invalid_from)?;
                written.push(format!("{what} {}", path.display()));
            }
            Ok(())
        };
    write(&outputs.json, "JSON summary", venom_load::write_json)?;
    write(&outputs.html, "HTML report", venom_load::write_html)?;
    write(&outputs.save_baseline, "baseline", venom_load::write_json)?;
    print!("{}", venom_load::render_console(&summary, &written));

    // Same precedence as explore: interrupted, then an API that died, then failed thresholds.
    Ok(if summary.stop == StopReason::Interrupted {
        EXIT_INTERRUPTED
    } else if matches!(summary.stop, StopReason::ApiGone(_)) {
        eprintln!("error: {}", summary.stop);
        EXIT_SETUP
    } else if !summary.passed() {
        EXIT_VIOLATIONS
    } else {
        EXIT_OK
    })
}

/// The plan's knobs from the command line.
fn options(args: &LoadArgs) -> Result<PlanOptions, Failure> {
    let duration = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(venom_load::parse_duration)
            .transpose()
            .map_err(|e| Failure::invalid(format!("{flag}: {e}")))
    };
    Ok(PlanOptions {
        mode: Some(match args.mode {
            LoadMode::Smoke => Mode::Smoke,
            LoadMode::Burst => Mode::Burst,
            LoadMode::Soak => Mode::Soak,
        }),
        vus: args.vus,
        rate: args.rate,
        stages: args
            .stages
            .as_deref()
            .map(venom_load::parse_stages)
            .transpose()
            .map_err(|e| Failure::invalid(format!("--stages: {e}")))?,
        duration: duration("--duration", &args.duration)?,
        iterations: args.iterations,
        max_in_flight: args.max_in_flight,
        interval: duration("--interval", &args.interval)?,
        flow: args.flow.clone(),
        segment: args.segment,
    })
}
