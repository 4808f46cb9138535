//! The built-in invariants venom adds to a scenario: their names (reserved while they are
//! active) and when they are active. The runner implements their checks.

use crate::model::{ActionSpec, Builtins};
use venom_engine::Severity;

/// A built-in invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Critical: a 5xx answer, or a request without a response (on by default; `[builtins]
    /// no_server_errors = false` turns it off).
    NoServerErrors,
    /// Medium: an action answered a status outside its `expect` list (active when some action
    /// declares `expect`).
    ExpectedStatus,
    /// High, with `[openapi]`: an answer's status is not documented for its operation, or its
    /// JSON body does not validate against the documented schema.
    ResponseSchema,
    /// High, with `[openapi]`: after a DELETE answered 2xx, a GET of the same resource still
    /// answers 2xx.
    UseAfterFree,
    /// Medium, with `[openapi]`: a create answered 2xx with an id, yet reading that id back
    /// fails.
    CreateThenRead,
    /// High, with `[openapi]`: a create answered 4xx, yet the collection grew, or the id it
    /// answered can be read.
    FailedCreateLeavesNothing,
    /// Critical, with `[openapi]`: an operation that requires credentials answered 2xx to a
    /// request sent without any.
    AuthEnforced,
}

impl Builtin {
    /// Every built-in, in the order they are checked.
    pub const ALL: [Builtin; 7] = [
        Builtin::NoServerErrors,
        Builtin::ExpectedStatus,
        Builtin::ResponseSchema,
        Builtin::UseAfterFree,
        Builtin::CreateThenRead,
        Builtin::FailedCreateLeavesNothing,
        Builtin::AuthEnforced,
    ];

    /// The invariant's name in reports (and the name a user invariant may not take).
    pub fn name(self) -> &'static str {
        match self {
            Builtin::NoServerErrors => "no_server_errors",
            Builtin::ExpectedStatus => "expected_status",
            Builtin::ResponseSchema => "response_schema",
            Builtin::UseAfterFree => "use_after_free",
            Builtin::CreateThenRead => "create_then_read",
            Builtin::FailedCreateLeavesNothing => "failed_create_leaves_nothing",
            Builtin::AuthEnforced => "auth_enforced",
        }
    }

    /// How bad a violation is.
    pub fn severity(self) -> Severity {
        match self {
            Builtin::NoServerErrors | Builtin::AuthEnforced => Severity::Critical,
            Builtin::ResponseSchema | Builtin::UseAfterFree => Severity::High,
            Builtin::FailedCreateLeavesNothing => Severity::High,
            Builtin::ExpectedStatus | Builtin::CreateThenRead => Severity::Medium,
        }
    }

    /// Whether it reads the scenario's OpenAPI document (and is active only with one).
    pub fn needs_openapi(self) -> bool {
        !matches!(self, Builtin::NoServerErrors | Builtin::ExpectedStatus)
    }

    /// Whether this built-in is checked for a scenario with `builtins` and `actions`, which
    /// has an `[openapi]` document when `openapi`.
    pub fn is_active(self, builtins: &Builtins, actions: &[ActionSpec], openapi: bool) -> bool {
        if self.needs_openapi() && !openapi {
            return false;
        }
        match self {
            Builtin::NoServerErrors => builtins.no_server_errors,
            Builtin::ExpectedStatus => actions
                .iter()
                .any(|a| a.steps.iter().any(|s| s.expect.is_some())),
            Builtin::ResponseSchema => builtins.response_schema,
            Builtin::UseAfterFree => builtins.use_after_free,
            Builtin::CreateThenRead => builtins.create_then_read,
            Builtin::FailedCreateLeavesNothing => builtins.failed_create_leaves_nothing,
            Builtin::AuthEnforced => builtins.auth_enforced,
        }
    }

    /// How a user frees the name, for the error that refuses it.
    pub(crate) fn how_to_free(self) -> String {
        match self {
            Builtin::ExpectedStatus => "it is checked because some action declares `expect`".into(),
            other => format!("or set [builtins] {} = false", other.name()),
        }
    }
}
