//! The built-in invariants venom adds to a scenario: their names (reserved while they are
//! active) and when they are active. The runner implements their checks.

use crate::model::{ActionSpec, Builtins};

/// A built-in invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Critical: a 5xx answer, or a request without a response (on by default; `[builtins]
    /// no_server_errors = false` turns it off).
    NoServerErrors,
    /// Medium: an action answered a status outside its `expect` list (active when some action
    /// declares `expect`).
    ExpectedStatus,
}

impl Builtin {
    /// Every built-in, in the order they are checked.
    pub const ALL: [Builtin; 2] = [Builtin::NoServerErrors, Builtin::ExpectedStatus];

    /// The invariant's name in reports (and the name a user invariant may not take).
    pub fn name(self) -> &'static str {
        match self {
            Builtin::NoServerErrors => "no_server_errors",
            Builtin::ExpectedStatus => "expected_status",
        }
    }

    /// Whether this built-in is checked for a scenario with `builtins` and `actions`.
    pub fn is_active(self, builtins: &Builtins, actions: &[ActionSpec]) -> bool {
        match self {
            Builtin::NoServerErrors => builtins.no_server_errors,
            Builtin::ExpectedStatus => actions
                .iter()
                .any(|a| a.steps.iter().any(|s| s.expect.is_some())),
        }
    }

    /// How a user frees the name, for the error that refuses it.
    pub(crate) fn how_to_free(self) -> &'static str {
        match self {
            Builtin::NoServerErrors => "or set [builtins] no_server_errors = false",
            Builtin::ExpectedStatus => "it is checked because some action declares `expect`",
        }
    }
}
