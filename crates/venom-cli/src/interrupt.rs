//! Interruptions: SIGINT (Ctrl-C), SIGTERM (what `timeout` and CI cancellation send) and SIGHUP.
//!
//! The first one asks the run to stop cleanly — reports are still written and the servers venom
//! started are stopped — and abandons a server start still waiting for readiness; a second one
//! kills those servers and exits at once. The process then exits with 128 + the signal's number
//! (130, 143, 129), the shell's convention for a death by that signal.
//!
//! signal-hook rather than ctrlc: ctrlc's termination feature also catches SIGTERM and SIGHUP but
//! does not say which signal came, which the exit status needs.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use venom_report::EXIT_INTERRUPTED;
use venom_runner::Processes;

/// The first interrupting signal received (0: none). A signal is process-wide, so is this.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Installs the handler for the servers registered in `processes` and returns the flag the run
/// polls.
pub fn install(processes: &Processes) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("venom: warning: interruptions will not stop cleanly: {e}");
            return flag;
        }
    };
    let handler_flag = Arc::clone(&flag);
    let processes = processes.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            if handler_flag.swap(true, Ordering::SeqCst) {
                processes.kill_all();
                std::process::exit(128 + signal);
            }
            processes.abandon_startup();
            eprintln!("\nvenom: stopping after the current step (interrupt again to quit at once)");
        }
    });
    flag
}

/// The exit status for a command that ended with `code`: an interrupted one exits with
/// 128 + the number of the signal that interrupted it.
pub fn exit_status(code: i32) -> i32 {
    match RECEIVED.load(Ordering::SeqCst) {
        signal if code == EXIT_INTERRUPTED && signal > 0 => 128 + signal,
        _ => code,
    }
}
