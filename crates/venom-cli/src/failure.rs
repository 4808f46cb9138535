//! Why a command failed, and the exit status that says so.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use venom_report::{EXIT_INTERRUPTED, EXIT_INVALID_INPUT, EXIT_SETUP};

/// A failure that ends a command before it produced a result.
#[derive(Debug)]
pub enum Failure {
    /// The scenario, report or a flag is invalid.
    Invalid(String),
    /// The API, its server or its database could not be set up.
    Setup(String),
    /// The user interrupted the command before it produced a result.
    Interrupted(String),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => EXIT_INVALID_INPUT,
            Failure::Setup(_) => EXIT_SETUP,
            Failure::Interrupted(_) => EXIT_INTERRUPTED,
        }
    }

    pub fn invalid(message: impl fmt::Display) -> Self {
        Failure::Invalid(message.to_string())
    }

    pub fn setup(message: impl fmt::Display) -> Self {
        Failure::Setup(message.to_string())
    }

    /// A setup failure, or an interruption when the user pressed Ctrl-C during the setup (which
    /// makes a server start give up).
    pub fn setup_unless_interrupted(message: impl fmt::Display, interrupted: &AtomicBool) -> Self {
        if interrupted.load(Ordering::SeqCst) {
            Failure::Interrupted(message.to_string())
        } else {
            Failure::setup(message)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Invalid(message) => f.write_str(message),
            Failure::Setup(message) => write!(f, "setup failed: {message}"),
            Failure::Interrupted(message) => write!(f, "interrupted: {message}"),
        }
    }
}

impl From<venom_engine::SetupError> for Failure {
    fn from(err: venom_engine::SetupError) -> Self {
        match err {
            venom_engine::SetupError::World(_) => Failure::setup(err),
            other => Failure::invalid(other),
        }
    }
}
