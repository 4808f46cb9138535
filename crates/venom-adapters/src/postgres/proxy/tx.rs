//! How the transactions of the API's connections map onto savepoints of the proxy's single
//! upstream transaction.
//!
//! Every client statement runs inside the savepoint `venom_tx`: opened before a client's turn
//! when it is outside a transaction (PostgreSQL's implicit transaction), kept while the client's
//! explicit transaction lasts, released at the end of a turn that leaves no transaction open
//! (implicit commit) or rolled back to when the turn failed. A failed statement therefore never
//! aborts venom's outer transaction, and the checkpoints taken between turns stay valid.

use super::sql::Control;
use super::tags::backend;
use super::wire::{self, Msg};

/// Where a client's statements run, as PostgreSQL would see the client's own session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TxState {
    /// Between turns, outside any transaction: `venom_tx` does not exist.
    Idle,
    /// Inside a turn, in the implicit transaction of statements sent outside a transaction
    /// block: `venom_tx` is open and is released at the end of the turn.
    Implicit,
    /// Inside the client's explicit transaction (`BEGIN` … `COMMIT`): `venom_tx` is open and
    /// the client holds the upstream session until the transaction ends.
    Explicit,
}

/// A prepared statement of the proxy itself, prepared on the upstream session at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// Opens the client's transaction.
    SavepointTx,
    /// Commits the client's transaction into venom's outer transaction.
    ReleaseTx,
    /// Undoes the client's transaction, keeping the savepoint open.
    RollbackTx,
    /// The four steps of the deferred-constraint check run before a commit: in a savepoint of
    /// its own, `SET CONSTRAINTS ALL IMMEDIATE` fires every pending deferred check (failing as
    /// the real `COMMIT` would), then the savepoint is rolled back, which restores the constraint
    /// modes and leaves the checks pending for a commit that never comes.
    CheckSavepoint,
    CheckImmediate,
    CheckUndo,
    CheckRelease,
}

impl Op {
    /// Every operation, in preparation order.
    pub const ALL: [Op; 7] = [
        Op::SavepointTx,
        Op::ReleaseTx,
        Op::RollbackTx,
        Op::CheckSavepoint,
        Op::CheckImmediate,
        Op::CheckUndo,
        Op::CheckRelease,
    ];

    /// The name of its prepared statement on the upstream session.
    pub fn statement(self) -> &'static str {
        match self {
            Op::SavepointTx => "venom_op_savepoint_tx",
            Op::ReleaseTx => "venom_op_release_tx",
            Op::RollbackTx => "venom_op_rollback_tx",
            Op::CheckSavepoint => "venom_op_check_savepoint",
            Op::CheckImmediate => "venom_op_check_immediate",
            Op::CheckUndo => "venom_op_check_undo",
            Op::CheckRelease => "venom_op_check_release",
        }
    }

    /// Its SQL.
    pub fn sql(self) -> &'static str {
        match self {
            Op::SavepointTx => "SAVEPOINT venom_tx",
            Op::ReleaseTx => "RELEASE SAVEPOINT venom_tx",
            Op::RollbackTx => "ROLLBACK TO SAVEPOINT venom_tx",
            Op::CheckSavepoint => "SAVEPOINT venom_check",
            Op::CheckImmediate => "SET CONSTRAINTS ALL IMMEDIATE",
            Op::CheckUndo => "ROLLBACK TO SAVEPOINT venom_check",
            Op::CheckRelease => "RELEASE SAVEPOINT venom_check",
        }
    }
}

/// Commits the client's transaction (after the deferred-constraint check).
pub(super) const COMMIT: &[Op] = &[
    Op::CheckSavepoint,
    Op::CheckImmediate,
    Op::CheckUndo,
    Op::CheckRelease,
    Op::ReleaseTx,
];

/// Commits the client's transaction and opens the next one.
const COMMIT_REOPEN: &[Op] = &[
    Op::CheckSavepoint,
    Op::CheckImmediate,
    Op::CheckUndo,
    Op::CheckRelease,
    Op::ReleaseTx,
    Op::SavepointTx,
];

/// Undoes and closes the client's transaction.
pub(super) const ROLLBACK: &[Op] = &[Op::RollbackTx, Op::ReleaseTx];

/// Undoes the client's transaction; its savepoint stays open for the next one.
const ROLLBACK_REOPEN: &[Op] = &[Op::RollbackTx];

/// Opens the client's transaction.
pub(super) const OPEN: &[Op] = &[Op::SavepointTx];

/// What the proxy does when a client executes a transaction-control statement.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Plan {
    /// Send the statement upstream as the client wrote it (e.g. `BEGIN` inside a transaction,
    /// which PostgreSQL answers with its own warning).
    Forward,
    /// Answer without involving the upstream session: the messages (a `CommandComplete` or an
    /// `ErrorResponse`), then the client's state.
    Local {
        msgs: Vec<Msg>,
        error: bool,
        then: TxState,
    },
    /// Run `ops` upstream and report `tag` for them, preceded by `warning` if any.
    Ops {
        ops: &'static [Op],
        warning: Option<Msg>,
        tag: &'static str,
        then: TxState,
        on_error: TxState,
    },
}

/// The plan for `control` executed in `state` (`Implicit` or `Explicit`), `failed` telling
/// whether the explicit transaction is in the failed state. `last`: nothing of the turn follows
/// (a simple query's last statement), so the next transaction need not be opened.
pub(super) fn plan(control: Control, state: TxState, failed: bool, last: bool) -> Plan {
    let explicit = state == TxState::Explicit;
    match control {
        Control::Begin { .. } | Control::Savepoint { .. } if explicit => Plan::Forward,
        Control::Begin { tag } => Plan::Local {
            msgs: vec![wire::command_complete(tag)],
            error: false,
            then: TxState::Explicit,
        },
        Control::Savepoint { command } => Plan::Local {
            msgs: vec![wire::report(
                backend::ERROR_RESPONSE,
                "ERROR",
                "25P01",
                &format!("{command} can only be used in transaction blocks"),
            )],
            error: true,
            then: state,
        },
        Control::Prepare => Plan::Local {
            msgs: vec![wire::report(
                backend::ERROR_RESPONSE,
                "ERROR",
                "0A000",
                "PREPARE TRANSACTION is not supported through venom's transaction proxy",
            )],
            error: true,
            then: state,
        },
        Control::Commit { chain } | Control::Rollback { chain } => {
            let commit = matches!(control, Control::Commit { .. }) && !failed;
            let chain = chain && explicit;
            let reopen = chain || !last;
            let ops = match (commit, reopen) {
                (true, true) => COMMIT_REOPEN,
                (true, false) => COMMIT,
                (false, true) => ROLLBACK_REOPEN,
                (false, false) => ROLLBACK,
            };
            Plan::Ops {
                ops,
                warning: (!explicit).then(|| {
                    wire::report(
                        backend::NOTICE_RESPONSE,
                        "WARNING",
                        "25P01",
                        "there is no transaction in progress",
                    )
                }),
                tag: if commit { "COMMIT" } else { "ROLLBACK" },
                then: match (chain, reopen) {
                    (true, _) => TxState::Explicit,
                    (false, true) => TxState::Implicit,
                    (false, false) => TxState::Idle,
                },
                on_error: TxState::Implicit,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(plan: Plan) -> (&'static [Op], &'static str, TxState, bool) {
        match plan {
            Plan::Ops {
                ops,
                tag,
                then,
                warning,
                ..
            } => (ops, tag, then, warning.is_some()),
            other => panic!("not ops: {other:?}"),
        }
    }

    #[test]
    fn begin_is_local_outside_and_forwarded_inside_a_transaction() {
        let begin = Control::Begin { tag: "BEGIN" };
        assert!(matches!(
            plan(begin, TxState::Implicit, false, true),
            Plan::Local {
                then: TxState::Explicit,
                error: false,
                ..
            }
        ));
        assert_eq!(plan(begin, TxState::Explicit, false, true), Plan::Forward);
    }

    #[test]
    fn commit_and_rollback_map_onto_the_savepoint() {
        let commit = Control::Commit { chain: false };
        let rollback = Control::Rollback { chain: false };
        assert_eq!(
            ops(plan(commit, TxState::Explicit, false, true)),
            (COMMIT, "COMMIT", TxState::Idle, false)
        );
        assert_eq!(
            ops(plan(commit, TxState::Explicit, false, false)),
            (COMMIT_REOPEN, "COMMIT", TxState::Implicit, false)
        );
        assert_eq!(
            ops(plan(commit, TxState::Explicit, true, true)),
            (ROLLBACK, "ROLLBACK", TxState::Idle, false)
        );
        assert_eq!(
            ops(plan(rollback, TxState::Explicit, false, false)),
            (ROLLBACK_REOPEN, "ROLLBACK", TxState::Implicit, false)
        );
        assert_eq!(
            ops(plan(rollback, TxState::Implicit, false, true)),
            (ROLLBACK, "ROLLBACK", TxState::Idle, true)
        );
        assert_eq!(
            ops(plan(
                Control::Commit { chain: true },
                TxState::Explicit,
                false,
                true
            )),
            (COMMIT_REOPEN, "COMMIT", TxState::Explicit, false)
        );
    }

    #[test]
    fn savepoints_need_a_transaction() {
        let savepoint = Control::Savepoint {
            command: "SAVEPOINT",
        };
        assert!(matches!(
            plan(savepoint, TxState::Implicit, false, true),
            Plan::Local { error: true, .. }
        ));
        assert_eq!(
            plan(savepoint, TxState::Explicit, false, true),
            Plan::Forward
        );
    }
}
