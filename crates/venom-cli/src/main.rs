//! `venom`: finds the bugs that only show up after a sequence of API calls.
//!
//! Subcommands: `explore` a scenario, `replay` a reported violation, `check` a scenario file,
//! `demo` (explore the bundled demo API) and `load` (run the scenario's flows as load). Exit
//! codes are documented in [`venom_report`]: 0 ok, 1 violations at or above `--fail-on` (load: a
//! threshold or baseline failed), 2 invalid input, 3 setup failure, 130 interrupted (143 by SIGTERM, 129 by
//! SIGHUP).

mod args;
mod check;
mod demo;
mod explore;
mod failure;
mod interrupt;
mod load;
mod progress;
mod replay;
mod secrets;

use args::{Cli, Command};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explore(args) => explore::command(&args),
        Command::Replay(args) => replay::command(&args),
        Command::Check(args) => check::command(&args),
        Command::Demo(args) => demo::command(&args),
        Command::Load(args) => load::command(&args),
    };
    let code = result.unwrap_or_else(|failure| {
        failure::print(&failure);
        failure.exit_code()
    });
    std::process::exit(interrupt::exit_status(code));
}
