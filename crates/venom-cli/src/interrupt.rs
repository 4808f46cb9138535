//! Ctrl-C: the first press asks the exploration to stop cleanly (reports are still written),
//! a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use venom_report::EXIT_INTERRUPTED;

/// Installs the handler and returns the flag the explorer polls.
pub fn install() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED);
        }
        eprintln!("\nvenom: stopping after the current step (Ctrl-C again to quit at once)");
    });
    if let Err(e) = installed {
        eprintln!("venom: warning: Ctrl-C will not stop cleanly: {e}");
    }
    flag
}
