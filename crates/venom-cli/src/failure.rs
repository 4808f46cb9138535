//! Why a command failed, and the exit status that says so.

use std::fmt;
use venom_report::{EXIT_INVALID_INPUT, EXIT_SETUP};

/// A failure that ends a command before it produced a result.
#[derive(Debug)]
pub enum Failure {
    /// The scenario, report or a flag is invalid.
    Invalid(String),
    /// The API, its server or its database could not be set up.
    Setup(String),
}

impl Failure {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => EXIT_INVALID_INPUT,
            Failure::Setup(_) => EXIT_SETUP,
        }
    }

    pub fn invalid(message: impl fmt::Display) -> Self {
        Failure::Invalid(message.to_string())
    }

    pub fn setup(message: impl fmt::Display) -> Self {
        Failure::Setup(message.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Invalid(message) => f.write_str(message),
            Failure::Setup(message) => write!(f, "setup failed: {message}"),
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
