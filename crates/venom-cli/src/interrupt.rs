//! Ctrl-C: the first press asks the run to stop cleanly (reports are still written) and
//! abandons a server start still waiting for readiness; a second one kills the servers venom
//! started and exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use venom_report::EXIT_INTERRUPTED;
use venom_runner::Processes;

/// Installs the handler for the servers registered in `processes` and returns the flag the run
/// polls.
pub fn install(processes: &Processes) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    let processes = processes.clone();
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            processes.kill_all();
            std::process::exit(EXIT_INTERRUPTED);
        }
        processes.abandon_startup();
        eprintln!("\nvenom: stopping after the current step (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("venom: warning: Ctrl-C will not stop cleanly: {e}");
    }
    flag
}
