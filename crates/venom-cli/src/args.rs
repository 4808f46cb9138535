//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use venom_engine::{Severity, Strategy};

/// Finds the bugs that only show up after a sequence of API calls.
#[derive(Debug, Parser)]
#[command(name = "venom", version, about, long_about = None)]
#[command(
    after_help = "Exit status: 0 no violation at or above --fail-on; 1 violations found \
(replay: still reproduces); 2 invalid input; 3 the API or its database could not be set up or \
failed mid-run; 130 interrupted (reports are still written)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explore the state space of the API a scenario file describes.
    Explore(ExploreArgs),
    /// Re-run the shortest path of reported violations and say whether they still fail.
    Replay(ReplayArgs),
    /// Validate a scenario file without running it.
    Check(CheckArgs),
    /// Start the bundled demo API (orders, payments, refunds) and explore it.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    #[command(flatten)]
    pub run: RunOptions,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How the demo's state is rolled back between branches.
    #[arg(long, value_enum, default_value_t = DemoRollback::Sqlite)]
    pub rollback: DemoRollback,
    #[command(flatten)]
    pub run: RunOptions,
}

/// Rollback mechanisms the demo can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoRollback {
    /// Snapshot the SQLite file with the online backup API and restore it in place.
    Sqlite,
    /// Reset the API, then replay the path (the universal fallback).
    Reset,
}

impl DemoRollback {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DemoRollback::Sqlite => "sqlite",
            DemoRollback::Reset => "reset",
        }
    }
}

/// Limits and outputs of an exploration; flags override the scenario's `[explore]` table.
#[derive(Debug, Args)]
pub struct RunOptions {
    /// Exploration strategy: bfs, dfs, random, coverage, weighted.
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// Stop after this many actions.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Do not go deeper than this many actions.
    #[arg(long)]
    pub max_depth: Option<u32>,
    /// Stop once this fraction (0 < F <= 1) of the actions has run.
    #[arg(long, value_name = "F")]
    pub coverage_target: Option<f64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Seed of the random and weighted strategies.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print a progress line every N steps (a progress bar is shown anyway in a terminal).
    #[arg(long, value_name = "N")]
    pub progress_every: Option<u64>,
    /// Write the full result (violations, paths, HTTP exchanges, coverage) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML file, one test case per invariant.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Exit with status 1 when a violation at or above this severity is found.
    #[arg(long, value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A JSON report written by `venom explore --json` or `venom demo --json`.
    pub report: PathBuf,
    /// Replay only this violation (1-based, as numbered in the report); default: all.
    #[arg(long, value_name = "N")]
    pub violation: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
}
