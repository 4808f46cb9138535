//! `venom check`: validate a scenario file without running it.

use crate::args::CheckArgs;
use crate::failure::Failure;
use venom_engine::Mechanism;
use venom_report::EXIT_OK;
use venom_scenario::OpenApiSource;

/// Runs `venom check`.
pub fn command(args: &CheckArgs) -> Result<i32, Failure> {
    let scenario = venom_scenario::load(&args.scenario).map_err(Failure::invalid_from)?;
    if let Err(refused) = crate::explore::runnable(&scenario, scenario.explore.strategy) {
        // A scenario written for `venom load` alone need not be explorable.
        if scenario.load.is_none() {
            return Err(refused);
        }
        eprintln!("warning: `venom explore` would refuse it: {refused}");
    }
    let builtins: Vec<&str> = scenario
        .active_builtins()
        .into_iter()
        .map(|b| b.name())
        .collect();
    let builtins = if builtins.is_empty() {
        String::new()
    } else {
        format!(" (+ built-in {})", builtins.join(", "))
    };
    let mut extras = Vec::new();
    if !scenario.roles.is_empty() {
        let names: Vec<&str> = scenario.roles.iter().map(|r| r.name.as_str()).collect();
        extras.push(format!("roles {}", names.join(", ")));
    }
    if !scenario.observations.is_empty() {
        extras.push(format!("{} HTTP observations", scenario.observations.len()));
    }
    match &scenario.openapi {
        // A file is read now; a URL is the running API's, fetched when a run starts.
        Some(source @ OpenApiSource::File(_)) => {
            let spec = venom_runner::load_document(source).map_err(Failure::invalid_from)?;
            extras.push(format!("OpenAPI {} operations", spec.operations.len()));
        }
        Some(source @ OpenApiSource::Url(_)) => {
            extras.push(format!("OpenAPI {source} (read at run time)"))
        }
        None => {}
    }
    let extras: String = extras.iter().map(|e| format!(", {e}")).collect();
    println!(
        "{}: ok, {} actions, {} invariants{builtins}{extras}, rollback {}",
        args.scenario.display(),
        scenario.actions.len(),
        scenario.invariants.len(),
        Mechanism::join(&scenario.mechanisms())
    );
    Ok(EXIT_OK)
}
