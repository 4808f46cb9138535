//! `venom check`: validate a scenario file without running it.

use crate::args::CheckArgs;
use crate::failure::Failure;
use venom_report::EXIT_OK;
use venom_scenario::{PgMechanism, RollbackSpec, Scenario};

/// Runs `venom check`.
pub fn command(args: &CheckArgs) -> Result<i32, Failure> {
    let scenario = venom_scenario::load(&args.scenario).map_err(Failure::invalid_from)?;
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
        rollback(&scenario)
    );
    Ok(EXIT_OK)
}

/// The rollback mechanism(s) the scenario declares, as `explore` will name them.
fn rollback(scenario: &Scenario) -> String {
    let database = match &scenario.rollback {
        RollbackSpec::Reset { .. } => return "reset + replay".to_string(),
        RollbackSpec::Sqlite(_) => "sqlite snapshots",
        RollbackSpec::Postgres(spec) => match spec.mechanism {
            PgMechanism::Snapshot { .. } => "postgres snapshots",
            PgMechanism::Proxy { .. } => "postgres transaction proxy",
        },
    };
    match &scenario.redis {
        Some(redis) if redis.rollback => format!("{database} + redis snapshots"),
        _ => database.to_string(),
    }
}
