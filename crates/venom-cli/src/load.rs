//! `venom load`: run the scenario's flows as load, check its thresholds (and a baseline), write
//! the reports.

use crate::args::{LoadArgs, LoadMode};
use crate::failure::Failure;
use crate::interrupt;
use std::path::Path;
use venom_load::{Control, LoadPlan, Mode, PlanOptions, Progress, StopReason};
use venom_report::{EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, EXIT_VIOLATIONS};
use venom_runner::{choose_port, Processes, ServerProcess};

/// Runs `venom load`.
pub fn command(args: &LoadArgs) -> Result<i32, Failure> {
    let scenario = venom_scenario::load(&args.scenario).map_err(Failure::invalid_from)?;
    let scenario = crate::target::overridden(scenario, &args.target)?;
    let plan = LoadPlan::resolve(&scenario, &options(args)?).map_err(Failure::invalid_from)?;
    let tolerance = venom_load::parse_percent(&args.tolerance)
        .map_err(|e| Failure::invalid(format!("--tolerance: {e}")))?;
    let baseline = match &args.baseline {
        Some(path) => Some((
            path,
            venom_load::read_baseline(path).map_err(Failure::invalid_from)?,
        )),
        None => None,
    };

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
        plan.describe(),
        crate::secrets::redact(&scenario.base_url)
    );
    let control = Control {
        interrupt: Some(interrupt),
        progress: Progress::auto(),
    };
    let result = venom_load::run(&scenario, &plan, control);
    if let Some(server) = &mut server {
        server.stop();
    }
    let mut summary = result.map_err(Failure::setup)?;
    if let Some((path, base)) = &baseline {
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
    write(&args.json, "JSON summary", venom_load::write_json)?;
    write(&args.html, "HTML report", venom_load::write_html)?;
    write(&args.save_baseline, "baseline", venom_load::write_json)?;
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
    })
}
