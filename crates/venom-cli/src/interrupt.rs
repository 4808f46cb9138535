//! Ctrl-C: the first press asks the exploration to stop cleanly (reports are still written) and
//! abandons a server start still waiting for readiness; a second one kills the servers venom
//! started and exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use venom_report::EXIT_INTERRUPTED;

/// Installs the handler and returns the flag the explorer polls.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            venom_http::kill_started_servers();
            std::process::exit(EXIT_INTERRUPTED);
        }
        venom_http::abandon_server_startup();
        eprintln!("\nvenom: stopping after the current step (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("venom: warning: Ctrl-C will not stop cleanly: {e}");
    }
    flag
}
