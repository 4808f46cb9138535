//! `venom`: finds the bugs that only show up after a sequence of API calls.
//!
//! Subcommands: `explore` a scenario, `replay` a reported violation, `check` a scenario file,
//! `demo` (explore the bundled demo API), `load` (run the scenario's flows as load) and `init`
//! (a scenario generated from an OpenAPI document), `merge` (the parts of a sharded run). Exit
//! codes are documented in [`venom_report`]: 0 ok, 1 violations at or above `--fail-on` (load: a
//! threshold or baseline failed), 2 invalid input, 3 setup failure, 130 interrupted (143 by SIGTERM, 129 by
//! SIGHUP).

mod args;
mod check;
mod demo;
mod explore;
mod failure;
mod init;
mod interrupt;
mod load;
mod load_check;
mod merge;
mod progress;
mod replay;
mod secrets;
mod target;

use args::{Cli, Command};
use clap::Parser;

/// The stack of the thread every command runs on. The parsers and the evaluator of scenario
/// expressions recurse on nesting; the scenario's limits (`venom_scenario::MAX_NESTING`…) keep
/// the deepest accepted input within a quarter of this even in a debug build.
const COMMAND_STACK_BYTES: usize = 64 << 20;

fn main() {
    let cli = Cli::parse();
    let code = std::thread::Builder::new()
        .name("venom".into())
        .stack_size(COMMAND_STACK_BYTES)
        .spawn(move || run(cli))
        .and_then(|command| {
            command
                .join()
                .map_err(|_| std::io::Error::other("the command panicked"))
        })
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            101
        });
    std::process::exit(interrupt::exit_status(code));
}

/// Runs the command `cli` names; its exit status.
fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Explore(args) => explore::command(&args),
        Command::Replay(args) => replay::command(&args),
        Command::Check(args) => check::command(&args),
        Command::Demo(args) => demo::command(&args),
        Command::Load(args) => load::command(&args),
        Command::Init(args) => init::command(&args),
        Command::Merge(args) => merge::command(&args),
    };
    result.unwrap_or_else(|failure| {
        failure::print(&failure);
        failure.exit_code()
    })
}
