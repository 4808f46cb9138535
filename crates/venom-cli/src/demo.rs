//! `venom demo`: start the bundled demo API in-process and explore it with one of its scenarios.

use crate::args::{DemoArgs, DemoRollback, DemoScenario};
use crate::explore::{explore, Copies};
use crate::failure::Failure;
use std::path::Path;
use venom_demo::{DemoServer, DEMO_SCENARIO, NOTES_SCENARIO, RACE_SCENARIO};
use venom_report::Target;
use venom_scenario::{RollbackSpec, Scenario, SqliteSpec};

/// Runs `venom demo`.
/// With `--workers N`, N demo APIs run side by side, each on a database of its own.
pub fn command(args: &DemoArgs) -> Result<i32, Failure> {
    let demos = (0..args.run.workers)
        .map(|_| RunningDemo::start(args.rollback, args.scenario))
        .collect::<Result<Vec<_>, _>>()?;
    let urls: Vec<String> = demos.iter().map(|d| d.server.base_url()).collect();
    eprintln!(
        "venom demo: {} API on {} (rollback: {}), scenario {}",
        args.scenario.as_str(),
        urls.join(", "),
        args.rollback.as_str(),
        path_of(args.scenario)
    );
    let target = Target::Demo {
        rollback: args.rollback.as_str().to_string(),
        scenario: match args.scenario {
            DemoScenario::Orders => None,
            other => Some(other.as_str().to_string()),
        },
    };
    let others: Vec<Scenario> = demos[1..].iter().map(|d| d.scenario.clone()).collect();
    explore(
        &demos[0].scenario,
        Copies::Given(&others),
        target,
        &args.run,
    )
}

/// Where a bundled scenario lives in the repository (used in messages and errors).
fn path_of(scenario: DemoScenario) -> &'static str {
    match scenario {
        DemoScenario::Orders => "examples/demo.toml",
        DemoScenario::Notes => "examples/notes.toml",
        DemoScenario::Race => "examples/race.toml",
    }
}

/// The demo API serving a fresh database in a temporary folder, and its scenario pointed at it.
pub struct RunningDemo {
    /// The scenario with `base_url` and the rollback set for this server.
    pub scenario: Scenario,
    /// The server; it stops when dropped.
    pub server: DemoServer,
    _folder: tempfile::TempDir,
}

impl RunningDemo {
    /// Starts the demo API on an ephemeral loopback port with `rollback`, for `which` scenario.
    pub fn start(rollback: DemoRollback, which: DemoScenario) -> Result<RunningDemo, Failure> {
        let folder = tempfile::tempdir()
            .map_err(|e| Failure::setup_because("cannot create a temporary folder", e))?;
        let server = DemoServer::start(&folder.path().join("demo.db"))
            .map_err(|e| Failure::setup_because("cannot start the demo API", e))?;
        let text = match which {
            DemoScenario::Orders => DEMO_SCENARIO,
            DemoScenario::Notes => NOTES_SCENARIO,
            DemoScenario::Race => RACE_SCENARIO,
        };
        let mut scenario = venom_scenario::parse(text, Path::new(path_of(which)))
            .map_err(Failure::invalid_from)?;
        scenario.base_url = server.base_url();
        // The file in the bundled scenario is the demo server's; what it observes there is
        // observed in both modes and restored by snapshots only in sqlite mode.
        let declared = match scenario.rollback {
            RollbackSpec::Sqlite(spec)
            | RollbackSpec::Reset {
                observe: Some(spec),
            } => spec,
            RollbackSpec::Reset { observe: None } | RollbackSpec::Postgres(_) => SqliteSpec {
                path: Default::default(),
                observe_tables: Vec::new(),
                observe_queries: Vec::new(),
            },
        };
        let sqlite = SqliteSpec {
            path: server.db_path.clone(),
            ..declared
        };
        scenario.rollback = match rollback {
            DemoRollback::Sqlite => RollbackSpec::Sqlite(sqlite),
            DemoRollback::Reset => RollbackSpec::Reset {
                observe: Some(sqlite),
            },
        };
        Ok(RunningDemo {
            scenario,
            server,
            _folder: folder,
        })
    }
}
