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
failed mid-run; 130 interrupted by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (reports are \
still written, the [server] is stopped)."
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
    /// Start the bundled demo API (orders, payments, refunds; users and notes) and explore it.
    Demo(DemoArgs),
    /// Run the scenario's flows as load (smoke, burst, soak) and check its thresholds.
    Load(Box<LoadArgs>),
    /// Write a scenario generated from the API's OpenAPI document.
    Init(InitArgs),
    /// Merge the JSON reports of the parts of a sharded run (`--shard I/N`) into one.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The JSON reports, one per part (a single report is written as it is).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where to write the merged JSON report.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Exit with status 1 when a violation at or above this severity is in the merged report.
    #[arg(long, value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The OpenAPI document (3.0 or 3.1, JSON or YAML): a file, or the API's URL of it.
    #[arg(long, value_name = "SPEC")]
    pub openapi: String,
    /// The scenario's `base_url` (default: the document's first server).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Write the scenario to FILE (default: standard output). When FILE exists, what changed
    /// is told and FILE is left alone unless --force.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite an existing FILE.
    #[arg(long)]
    pub force: bool,
    /// Also generate negative inputs: bodies and path parameters that break the schema, which
    /// the API must refuse with a 4xx (never a 2xx or a 5xx).
    #[arg(long)]
    pub negative: bool,
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The scenario file (TOML); with --openapi it may be left out, or add invariants, roles
    /// and rollback to the generated scenario.
    #[arg(required_unless_present = "openapi")]
    pub scenario: Option<PathBuf>,
    /// Explore the scenario `venom init --openapi SPEC` would write (in memory), merged into
    /// the scenario file when one is given.
    #[arg(long, value_name = "SPEC")]
    pub openapi: Option<String>,
    /// With --openapi: also explore negative inputs (as `venom init --negative`).
    #[arg(long, requires = "openapi")]
    pub negative: bool,
    #[command(flatten)]
    pub target: TargetOverrides,
    #[command(flatten)]
    pub run: RunOptions,
}

/// Where the API is, overriding the scenario file (to test another copy of it).
#[derive(Debug, Args, Default, Clone)]
pub struct TargetOverrides {
    /// Send the requests to this URL instead of the scenario's `base_url`.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Do not start the scenario's `[server]`: the API is already running.
    #[arg(long)]
    pub no_server: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How the demo's state is rolled back between branches.
    #[arg(long, value_enum, default_value_t = DemoRollback::Sqlite)]
    pub rollback: DemoRollback,
    /// Which bundled scenario to explore.
    #[arg(long, value_enum, default_value_t = DemoScenario::Orders)]
    pub scenario: DemoScenario,
    #[command(flatten)]
    pub run: RunOptions,
}

/// The demo API's bundled scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoScenario {
    /// Orders, payments and refunds (examples/demo.toml): five planted bugs.
    Orders,
    /// Two users and their private notes (examples/notes.toml): a cross-user bug.
    Notes,
    /// A refund sent twice at the same moment (examples/race.toml): a race only a concurrent
    /// step finds.
    Race,
}

impl DemoScenario {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DemoScenario::Orders => "orders",
            DemoScenario::Notes => "notes",
            DemoScenario::Race => "race",
        }
    }
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
    /// Exploration strategy: bfs, dfs, random, coverage, weighted, mcts.
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
    /// Seed of the random, weighted and mcts strategies.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The UCT exploration constant of `--strategy mcts` (default √2 ≈ 1.41): higher tries more
    /// unvisited branches, lower follows the rewarding ones.
    #[arg(long, value_name = "C")]
    pub mcts_exploration: Option<f64>,
    /// Print a progress line every N steps (default: a bar in a terminal, else a line with the
    /// rate and, under a step limit, the time left, every 10 s).
    #[arg(long, value_name = "N")]
    pub progress_every: Option<u64>,
    /// The most memory checkpoints (database snapshots) may hold, in MiB; past it, new states
    /// are restored by reset + replay instead (0: only the initial state keeps one).
    #[arg(long, value_name = "MIB", default_value_t = venom_engine::DEFAULT_MAX_CHECKPOINT_BYTES >> 20, value_parser = clap::value_parser!(u64).range(0..=1 << 24))]
    pub max_checkpoint_mb: u64,
    /// Write the full result (violations, paths, HTTP exchanges, coverage) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML file, one test case per invariant.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a short Markdown summary (violations with their shortest paths, coverage, stop
    /// reason), fit for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Write the state graph for Graphviz (`dot -Tsvg FILE`): states by depth, transitions by
    /// action, the violations' shortest paths in red.
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Write a self-contained HTML report: the state graph laid out by depth with the
    /// violations' shortest paths on it, each step's request and response, coverage, the run's
    /// settings and the replay commands.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit with status 1 when a violation at or above this severity is found.
    #[arg(long, value_name = "SEVERITY", default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// Stop at the first violation at or above this severity (the reports are still written).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_fast: Option<Severity>,
    /// Explore only part I (from 0) of N of a deterministic split: the paths whose first
    /// action's index is I modulo N; `venom merge` joins the parts' JSON reports.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<venom_engine::Shard>,
    /// Explore breadth-first with N workers, each driving a copy of the system of its own (its
    /// own `[server]` on its own `${VENOM_PORT}`, its own copy of the database), sharing one state
    /// graph; the result is the one a single worker finds.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS))]
    pub workers: u16,
}

/// The most workers `--workers` accepts (each starts a server and holds a database copy).
pub const MAX_WORKERS: i64 = 64;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A JSON report written by `venom explore --json` or `venom demo --json`.
    pub report: PathBuf,
    /// Replay only this violation (1-based, as numbered in the report); default: all.
    #[arg(long, value_name = "N")]
    pub violation: Option<usize>,
    /// The scenario file to replay with (default: the report's, found relative to the report).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// After replaying the violation, leave the API in that state (its URL is printed) until
    /// Ctrl-C, to look at it.
    #[arg(long)]
    pub stay: bool,
    /// After replaying the violation, write the database state of that moment into DIR (a
    /// copy of the SQLite file, a pg_dump, the Redis keys).
    #[arg(long, value_name = "DIR")]
    pub save_state: Option<PathBuf>,
    /// Replay the violations with N workers side by side, each on a copy of the system of its
    /// own (as `venom explore --workers`); the results are printed in the report's order.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS))]
    pub workers: u16,
    /// Replay each violation K times, each from a reset, and say how often it reproduced
    /// (races are probabilistic). Default: 10 for a path with a concurrent step, else 1.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    #[command(flatten)]
    pub target: TargetOverrides,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
}

/// `venom load`: presets, explicit knobs (which override them) and outputs.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every threshold holds (and no baseline regression); 1 a threshold \
failed or a baseline metric regressed; 2 invalid input; 3 the API could not be set up; 130 \
interrupted by Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (reports are still written).",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct LoadArgs {
    /// Join the JSON summaries of a run's segments (`--segment I/N`) into one.
    #[command(subcommand)]
    pub merge: Option<LoadCommand>,
    /// The scenario file (TOML); its `[load]` table has the flows and thresholds.
    #[arg(required = true)]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetOverrides,
    /// Preset: smoke (1 user, 5 iterations), burst (50 users, 20s), soak (10 users, 10m,
    /// 10s intervals).
    #[arg(long, value_enum, default_value_t = LoadMode::Smoke)]
    pub mode: LoadMode,
    /// Closed model: this many virtual users running flows back to back.
    #[arg(long, value_name = "N", conflicts_with_all = ["rate", "stages"])]
    pub vus: Option<usize>,
    /// Open model: start this many flow iterations per second (latency counts from each
    /// intended start); with --stages, the rate the first stage ramps from.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Open model: rate ramps DURATION:RATE,... (`10s:50,30s:200`), each linear from the
    /// previous rate.
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
    /// Stop starting iterations after this long (`30s`, `10m`).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Stop after this many flow iterations in total.
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,
    /// Open model: at most this many iterations in flight; later ones wait and count as late.
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<usize>,
    /// Length of the per-interval statistics (and of progress lines).
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Run only this `[load]` flow, or a comma-separated list of actions as one flow.
    #[arg(long, value_name = "NAME")]
    pub flow: Option<String>,
    /// Run only part I (from 0) of N of the plan: its share of the virtual users, of the
    /// arrival rate and of the iterations, so that N machines together run the whole plan;
    /// `venom load merge` joins their `--json` summaries.
    #[arg(long, value_name = "I/N", conflicts_with_all = ["find_capacity", "check_quota"])]
    pub segment: Option<venom_load::Segment>,
    /// Write the JSON summary (also usable as a baseline).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a static HTML report with latency and throughput plots.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    /// Save this run as a baseline.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Instead of one run: step the open-model rate (doubling, then bisecting) with short
    /// stages until a threshold breaks, and report the highest rate that met every threshold,
    /// the first that broke one, the curve per stage and a suggested quota.
    #[arg(long, conflicts_with_all = ["vus", "rate", "stages", "check_quota", "baseline", "save_baseline"])]
    pub find_capacity: bool,
    /// Capacity search: the first stage's rate (iterations/s).
    #[arg(
        long,
        value_name = "R",
        default_value_t = 10.0,
        requires = "find_capacity"
    )]
    pub start_rate: f64,
    /// Capacity search: no stage above this rate.
    #[arg(
        long,
        value_name = "R",
        default_value_t = 100_000.0,
        requires = "find_capacity"
    )]
    pub max_rate: f64,
    /// Capacity search: the length of each stage.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5s",
        requires = "find_capacity"
    )]
    pub stage_duration: String,
    /// Capacity search: the most stages run.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100), requires = "find_capacity")]
    pub max_stages: u32,
    /// Capacity search: stop when the first failing rate is within this much above the highest
    /// passing one.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value = "10%",
        requires = "find_capacity"
    )]
    pub capacity_tolerance: String,
    /// Capacity search: the suggested quota as a share of the highest passing rate.
    #[arg(
        long,
        value_name = "PERCENT",
        default_value = "70%",
        requires = "find_capacity"
    )]
    pub quota_fraction: String,
    /// Check the scenario's invariants against the API after the run (those that do not read
    /// an exploration step's answer: HTTP checks, SQL on SQLite); one that breaks fails the run.
    #[arg(long, conflicts_with_all = ["find_capacity", "check_quota"])]
    pub check: bool,
    /// With --check: also check them every DURATION while the load runs.
    #[arg(long, value_name = "DURATION", requires = "check")]
    pub check_every: Option<String>,
    /// Instead of one run: send each action that declares `quota = "N/s"` alone at twice its
    /// quota, and check that the accepted rate stays within its tolerance and the excess
    /// answers 429.
    #[arg(long, conflicts_with_all = ["vus", "rate", "stages", "baseline", "save_baseline"])]
    pub check_quota: bool,
}

/// What `venom load` does besides a run.
#[derive(Debug, Subcommand)]
pub enum LoadCommand {
    /// Merge the JSON summaries of the segments of one run (`--segment I/N` on N machines):
    /// counts added up, percentiles from the merged histograms, thresholds (and a baseline)
    /// evaluated on the result; the exit status of `venom load`.
    Merge(LoadMergeArgs),
}

/// `venom load merge`.
#[derive(Debug, Args)]
pub struct LoadMergeArgs {
    /// The JSON summaries (`venom load --segment I/N --json F`), one per segment.
    #[arg(required = true)]
    pub summaries: Vec<PathBuf>,
    /// Where to write the merged JSON summary.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the merged run's HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub baseline: BaselineArgs,
}

/// A saved run to compare with.
#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// Compare with a saved run (`--json` or `--save-baseline` output); a regression fails.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Allowed worsening against the baseline.
    #[arg(long, value_name = "PERCENT", default_value = "10%")]
    pub tolerance: String,
}

/// Load presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadMode {
    /// 1 virtual user, 5 iterations: checks that every flow works.
    Smoke,
    /// 50 virtual users for 20 s.
    Burst,
    /// 10 virtual users for 10 minutes, statistics every 10 s.
    Soak,
}
