//! `venom`: finds the bugs that only show up after a sequence of API calls.
//!
//! Subcommands: `explore` a scenario, `replay` a reported violation, `check` a scenario file,
//! and `demo` (explore the bundled demo API). Exit codes are documented in [`venom_report`]:
//! 0 ok, 1 violations at or above `--fail-on`, 2 invalid input, 3 setup failure, 130 interrupted.

mod args;
mod check;
mod demo;
mod explore;
mod failure;
mod interrupt;
mod progress;
mod replay;

use args::{Cli, Command};
use clap::Parser;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explore(args) => explore::command(&args),
        Command::Replay(args) => replay::command(&args),
        Command::Check(args) => check::command(&args),
        Command::Demo(args) => demo::command(&args),
    };
    let code = result.unwrap_or_else(|failure| {
        eprintln!("error: {failure}");
        failure.exit_code()
    });
    std::process::exit(code);
}
