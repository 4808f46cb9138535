//! `venom demo`: start the bundled demo API in-process and explore it with its scenario.

use crate::args::{DemoArgs, DemoRollback};
use crate::explore::explore;
use crate::failure::Failure;
use std::path::Path;
use venom_demo::{DemoServer, DEMO_SCENARIO};
use venom_report::Target;
use venom_scenario::{RollbackSpec, Scenario, SqliteSpec};

/// Where the demo scenario lives in the repository (used in messages).
const DEMO_SCENARIO_PATH: &str = "examples/demo.toml";

/// Runs `venom demo`.
pub fn command(args: &DemoArgs) -> Result<i32, Failure> {
    let demo = RunningDemo::start(args.rollback)?;
    eprintln!(
        "venom demo: orders API on {} (rollback: {}), scenario {DEMO_SCENARIO_PATH}",
        demo.server.base_url(),
        args.rollback.as_str()
    );
    let target = Target::Demo {
        rollback: args.rollback.as_str().to_string(),
    };
    explore(&demo.scenario, target, &args.run)
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
    /// Starts the demo API on an ephemeral loopback port with `rollback`.
    pub fn start(rollback: DemoRollback) -> Result<RunningDemo, Failure> {
        let folder = tempfile::tempdir()
            .map_err(|e| Failure::setup_because("cannot create a temporary folder", e))?;
        let server = DemoServer::start(&folder.path().join("demo.db"))
            .map_err(|e| Failure::setup_because("cannot start the demo API", e))?;
        let mut scenario = venom_scenario::parse(DEMO_SCENARIO, Path::new(DEMO_SCENARIO_PATH))
            .map_err(Failure::invalid_from)?;
        scenario.base_url = server.base_url();
        // The file in the bundled scenario is the demo server's; its tables are observed in
        // both modes and restored by snapshots only in sqlite mode.
        let sqlite = SqliteSpec {
            path: server.db_path.clone(),
            observe_tables: match scenario.rollback {
                RollbackSpec::Sqlite(spec)
                | RollbackSpec::Reset {
                    observe: Some(spec),
                } => spec.observe_tables,
                RollbackSpec::Reset { observe: None } | RollbackSpec::Postgres(_) => Vec::new(),
            },
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
