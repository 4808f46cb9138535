//! Why a command failed, the exit status that says so, and the one printer of errors.
//!
//! Every failure of every subcommand becomes a [`Failure`]; [`Failure::exit_code`] is the only
//! place that maps a kind of failure to an exit status, and [`print()`] the only place that
//! writes an error for the user: `error: …` then one `caused by: …` line per cause.

use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use venom_report::{EXIT_INTERRUPTED, EXIT_INVALID_INPUT, EXIT_SETUP};

/// An error with its causes, as the CLI keeps them.
type Cause = Box<dyn Error + Send + Sync + 'static>;

/// A failure that ends a command before it produced a result.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The scenario, a report or a flag is invalid, or an output cannot be written.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Why, when another error says it.
        #[source]
        source: Option<Cause>,
    },
    /// The API, its server or its database could not be set up, or failed.
    #[error("{message}")]
    Setup {
        /// What could not be done.
        message: String,
        /// Why.
        #[source]
        source: Option<Cause>,
    },
    /// The user interrupted the command before it produced a result.
    #[error("interrupted")]
    Interrupted(#[source] Cause),
}

impl Failure {
    /// The process exit status for this failure: the one mapping from kinds to statuses.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid { .. } => EXIT_INVALID_INPUT,
            Failure::Setup { .. } => EXIT_SETUP,
            Failure::Interrupted(_) => EXIT_INTERRUPTED,
        }
    }

    /// Invalid input, said by `message` alone.
    pub fn invalid(message: impl fmt::Display) -> Self {
        Failure::Invalid {
            message: message.to_string(),
            source: None,
        }
    }

    /// Invalid input: `err` says what (with its causes).
    pub fn invalid_from(err: impl Into<Cause>) -> Self {
        Failure::Invalid {
            message: String::new(),
            source: Some(err.into()),
        }
    }

    /// An output that cannot be written: `what` and `path`, then why.
    pub fn write(what: &str, path: &std::path::Path, err: impl Into<Cause>) -> Self {
        Failure::Invalid {
            message: format!("cannot write the {what} {}", path.display()),
            source: Some(err.into()),
        }
    }

    /// A setup failure: `err` says what (with its causes).
    pub fn setup(err: impl Into<Cause>) -> Self {
        Failure::Setup {
            message: String::new(),
            source: Some(err.into()),
        }
    }

    /// A setup failure: `message` says what could not be done, `err` why.
    pub fn setup_because(message: impl fmt::Display, err: impl Into<Cause>) -> Self {
        Failure::Setup {
            message: message.to_string(),
            source: Some(err.into()),
        }
    }

    /// A setup failure, or an interruption when the user pressed Ctrl-C during the setup (which
    /// makes a server start give up).
    pub fn setup_unless_interrupted(err: impl Into<Cause>, interrupted: &AtomicBool) -> Self {
        if interrupted.load(Ordering::SeqCst) {
            Failure::Interrupted(err.into())
        } else {
            Failure::setup(err)
        }
    }
}

impl From<venom_engine::StartError> for Failure {
    fn from(err: venom_engine::StartError) -> Self {
        use venom_engine::StartError;
        match err {
            StartError::World(_)
            | StartError::WorkerWorld { .. }
            | StartError::WorkerDiffers { .. } => Failure::setup(err),
            other => Failure::invalid_from(other),
        }
    }
}

impl From<venom_runner::CopyError> for Failure {
    /// A system venom cannot copy is refused as invalid input; a copy that failed is a setup
    /// failure.
    fn from(err: venom_runner::CopyError) -> Self {
        use venom_runner::CopyError;
        match err {
            CopyError::Copy { .. } | CopyError::Url { .. } => Failure::setup(err),
            other => Failure::invalid_from(other),
        }
    }
}

/// Writes `failure` to stderr: `error: ` and the first message, then `caused by: ` and each
/// cause on its own line. Wrappers without a message of their own, and causes the line before
/// already says, are skipped, so each fact is said once.
pub fn print(failure: &Failure) {
    eprint!("{}", render(failure));
}

/// What [`print()`] writes.
fn render(failure: &Failure) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut current: Option<&(dyn Error + 'static)> = Some(failure);
    while let Some(err) = current {
        let text = err.to_string();
        // Errors that also say their cause in their own message (`path: cause`) would repeat it.
        let said = lines.last().is_some_and(|last| last.contains(&text));
        if !text.is_empty() && !said {
            lines.push(text);
        }
        current = err.source();
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let label = if i == 0 { "error" } else { "caused by" };
        out.push_str(&format!("{label}: {}\n", crate::secrets::redact(line)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open {what}")]
    struct Outer {
        what: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_one_line_and_empty_wrappers_are_skipped() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let failure = Failure::setup(Outer {
            what: "rollback sqlite",
            source: io,
        });
        assert_eq!(
            render(&failure),
            "error: cannot open rollback sqlite\ncaused by: no such file\n"
        );
        assert_eq!(failure.exit_code(), EXIT_SETUP);
    }

    /// An error that says its cause in its own message too (as `path: cause` errors do).
    #[derive(Debug, thiserror::Error)]
    #[error("report.xml: {source}")]
    struct SaysItsCause {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_said_by_the_line_before_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let failure = Failure::invalid_from(SaysItsCause { source: io });
        assert_eq!(render(&failure), "error: report.xml: no such file\n");
    }

    #[test]
    fn interruptions_say_so_first() {
        let failure = Failure::Interrupted("waiting for the server".into());
        assert_eq!(
            render(&failure),
            "error: interrupted\ncaused by: waiting for the server\n"
        );
        assert_eq!(failure.exit_code(), EXIT_INTERRUPTED);
    }
}
