//! `venom check`: validate a scenario file without running it.

use crate::args::CheckArgs;
use crate::failure::Failure;
use venom_report::EXIT_OK;

/// Runs `venom check`.
pub fn command(args: &CheckArgs) -> Result<i32, Failure> {
    let scenario = venom_scenario::load(&args.scenario).map_err(Failure::invalid)?;
    let builtins = if scenario.builtins.no_server_errors {
        " (+ built-in no_server_errors)"
    } else {
        ""
    };
    println!(
        "{}: ok, {} actions, {} invariants{builtins}, rollback {}",
        args.scenario.display(),
        scenario.actions.len(),
        scenario.invariants.len(),
        match scenario.rollback {
            venom_scenario::RollbackSpec::Reset { .. } => "reset + replay",
            venom_scenario::RollbackSpec::Sqlite(_) => "sqlite snapshots",
        }
    );
    Ok(EXIT_OK)
}
