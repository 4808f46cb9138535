//! One client turn on the shared upstream session: from the client's first message after
//! `ReadyForQuery` until the upstream's `ReadyForQuery` for its `Sync` or `Query`.
//!
//! Client messages are forwarded as they arrive (statement and portal names made private to the
//! client), except the execution of transaction-control statements, which are mapped onto the
//! savepoint `venom_tx` (see [`super::tx`]), and of the statements that drop prepared statements
//! (`DEALLOCATE`, `DISCARD ALL`), which drop only the client's own. Every forwarded message leaves an [`Entry`] in a
//! queue saying which upstream responses it will get and what to do with them (forward, swallow,
//! rewrite the command tag), so that the proxy's own statements are interleaved invisibly and its
//! own answers come out in order. Like the server, the queue skips to the next `Sync` after an
//! error.

use super::client_io::ClientIo;
use super::names::Names;
use super::sql::{self, Deallocate, Special};
use super::tags::{backend, frontend, target, TxStatus};
use super::tx::{self, Op, Plan, TxState};
use super::upstream::{check_fatal, Upstream};
use super::wire::{self, Msg};
use super::Shared;
use bytes::BytesMut;
use std::collections::VecDeque;
use std::io;

/// What the upstream answers to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Parse,
    Bind,
    Close,
    Describe,
    Execute,
    FunctionCall,
    /// `Sync` or `Query`: everything up to `ReadyForQuery`.
    Ready,
}

impl Kind {
    /// Whether response `tag` is the last one for a message of this kind.
    fn completed_by(self, tag: u8) -> bool {
        match self {
            Kind::Parse => tag == backend::PARSE_COMPLETE,
            Kind::Bind => tag == backend::BIND_COMPLETE,
            Kind::Close => tag == backend::CLOSE_COMPLETE,
            Kind::Describe => matches!(tag, backend::NO_DATA | backend::ROW_DESCRIPTION),
            Kind::Execute => matches!(
                tag,
                backend::COMMAND_COMPLETE
                    | backend::EMPTY_QUERY_RESPONSE
                    | backend::PORTAL_SUSPENDED
            ),
            Kind::FunctionCall => tag == backend::FUNCTION_CALL_RESPONSE,
            Kind::Ready => false,
        }
    }
}

/// What to do with the responses to one message.
#[derive(Debug, Clone)]
struct Act {
    /// Forward them to the client (a client message); otherwise swallow them (the proxy's own),
    /// errors excepted.
    forward: bool,
    /// Report this command tag to the client instead of the upstream's.
    tag: Option<&'static str>,
    /// The client's state once the message succeeded.
    then: TxState,
    /// The client's state if the message fails (unchanged when `None`).
    on_error: Option<TxState>,
    /// Characters to add to error positions (a statement cut out of a longer query string).
    shift: usize,
    /// The upstream name of a statement and the client's name for it, to put back in error
    /// messages (a `DEALLOCATE` renamed for the client).
    rename: Option<(String, String)>,
    /// Hold back the last `CommandComplete` until the implicit commit at the end of the turn
    /// succeeded, as PostgreSQL reports commit errors instead of it.
    hold: bool,
}

#[derive(Debug)]
enum Entry {
    /// The responses of one message sent upstream.
    Reply { kind: Kind, act: Act },
    /// Answers of the proxy itself, sent once everything before them is answered.
    Local {
        msgs: Vec<Msg>,
        error: bool,
        then: TxState,
        /// The `CommandComplete` is held back as [`Act::hold`] says.
        hold: bool,
    },
}

/// How the proxy runs a `DEALLOCATE` or `DISCARD ALL` of the client.
#[derive(Debug)]
enum Run {
    /// As the client wrote it: a SQL-level statement, or an error the server reports.
    Forward,
    /// This statement instead (the client's statement renamed); the server's errors name the
    /// upstream statement (first) as the client knows it (second).
    Renamed {
        sql: String,
        rename: (String, String),
    },
    /// These `Close` messages, then the command tag.
    Close { closes: Vec<Msg>, tag: &'static str },
    /// A transaction-control plan, or an error of the proxy's ([`Plan::Local`]).
    Plan(Plan),
}

/// What the upstream prepares for a `Parse` of `DEALLOCATE ALL` or of a name the proxy cannot
/// read: its execution is the proxy's, and would be harmless if it ever reached the server.
const NOT_DEALLOCATE: &str = "DO $$BEGIN NULL; END$$";

/// How a turn ended, when the upstream session survived it.
#[derive(Debug)]
pub(super) struct TurnEnd {
    /// The client's transaction state after the turn.
    pub state: TxState,
    /// The upstream's transaction status after the turn (failed: the client's transaction failed).
    pub status: TxStatus,
}

/// One turn of one client on the upstream session.
pub(super) struct Turn<'a> {
    up: &'a mut Upstream,
    client: &'a mut ClientIo,
    names: &'a mut Names,
    shared: &'a Shared,
    queue: VecDeque<Entry>,
    /// The client's state as the responses received so far left it.
    state: TxState,
    /// The client's state once every message sent so far has succeeded.
    planned: TxState,
    /// The upstream's transaction status at its last `ReadyForQuery`.
    status: TxStatus,
    /// Client messages are read (until its `Sync`, or during `COPY FROM STDIN`).
    reading: bool,
    copy_in: bool,
    /// After an error: the client's messages are dropped until its `Sync`.
    skipping: bool,
    /// The client's explicit transaction is in the failed state (until a control statement).
    failed: bool,
    /// A simple `Query` that arrived in the middle of an extended-protocol turn.
    query: Option<Msg>,
    /// A `CommandComplete` held back until the implicit commit (see [`Act::hold`]).
    held: Option<Msg>,
    /// The proxy answered an error in the implicit transaction, which is rolled back.
    aborted: bool,
}

impl<'a> Turn<'a> {
    pub fn new(
        up: &'a mut Upstream,
        client: &'a mut ClientIo,
        names: &'a mut Names,
        shared: &'a Shared,
        state: TxState,
        status: TxStatus,
    ) -> Self {
        Turn {
            up,
            client,
            names,
            shared,
            queue: VecDeque::new(),
            state,
            planned: state,
            status,
            reading: false,
            copy_in: false,
            skipping: false,
            failed: state == TxState::Explicit && status == TxStatus::Failed,
            query: None,
            held: None,
            aborted: false,
        }
    }

    /// Serves the turn that starts with `first`. Fails only when the upstream connection fails.
    pub async fn run(mut self, first: Msg) -> io::Result<TurnEnd> {
        if self.state == TxState::Idle {
            self.push_ops(tx::OPEN, None, TxState::Implicit);
            self.push_internal_sync();
            self.planned = TxState::Implicit;
        }
        if first.tag == frontend::QUERY {
            self.simple(first).await?;
        } else {
            self.reading = true;
            self.client_msg(first);
            self.relay().await?;
            if let Some(query) = self.query.take() {
                self.simple(query).await?;
            }
        }
        self.finish().await
    }

    /// Ends the turn: the implicit transaction is committed (or rolled back when it failed),
    /// then the client gets its `ReadyForQuery`.
    async fn finish(mut self) -> io::Result<TurnEnd> {
        if self.state == TxState::Implicit {
            // A client that leaves before its Sync does not commit what it started.
            let failed = self.status == TxStatus::Failed || self.aborted || self.client.closing;
            let ops = if failed { tx::ROLLBACK } else { tx::COMMIT };
            self.push_ops(ops, None, TxState::Idle);
            self.push_internal_sync();
            self.relay().await?;
            if self.status == TxStatus::Failed {
                self.held = None;
                if !failed {
                    // The deferred-constraint check failed: the error went to the client.
                    self.push_ops(tx::ROLLBACK, None, TxState::Idle);
                    self.push_internal_sync();
                    self.relay().await?;
                }
            }
            self.state = TxState::Idle;
        }
        let status = match self.state {
            TxState::Explicit => self.status,
            _ => TxStatus::Idle,
        };
        if !self.client.closing {
            self.send(&wire::ready_for_query(status));
        }
        self.client.flush().await;
        Ok(TurnEnd {
            state: self.state,
            status: self.status,
        })
    }

    /// A simple-protocol `Query`. Without special statements it is forwarded whole; otherwise
    /// it runs piece by piece (runs of ordinary statements, then each special statement: control
    /// mapped onto savepoints, `DEALLOCATE`…), stopping at the first error as PostgreSQL does.
    async fn simple(&mut self, msg: Msg) -> io::Result<()> {
        let text = msg.fields().cstr()?;
        let ranges = sql::statements(&text);
        let specials: Vec<Option<Special>> = ranges
            .iter()
            .map(|r| sql::special(&text[r.clone()]))
            .collect();
        if specials.iter().all(Option::is_none) {
            self.up.push(&msg);
            self.push_reply(Kind::Ready, self.client_act(0, true));
            return self.relay().await;
        }
        let mut i = 0;
        let mut stop = false;
        while i < ranges.len() && !stop {
            if i > 0 && (self.status == TxStatus::Failed || self.client.closing) {
                break;
            }
            let last = i + 1 == ranges.len();
            let run = match &specials[i] {
                Some(Special::Control(control)) => {
                    let plan = tx::plan(*control, self.planned, self.failed, last);
                    self.failed &= plan == Plan::Forward;
                    Run::Plan(plan)
                }
                Some(special) => {
                    // Everything before is answered: the status is the transaction's.
                    let failed =
                        self.planned == TxState::Explicit && self.status == TxStatus::Failed;
                    self.drop_statements(special, failed, ranges.len() == 1)
                }
                None => Run::Forward,
            };
            match run {
                Run::Forward | Run::Plan(Plan::Forward) => {
                    let mut end = i + 1;
                    while end < ranges.len() && specials[end].is_none() {
                        end += 1;
                    }
                    let start = ranges[i].start;
                    let chunk = &text[start..ranges[end - 1].end];
                    self.up.push(&wire::query(chunk));
                    let shift = text[..start].chars().count();
                    let hold = end == ranges.len();
                    self.push_reply(Kind::Ready, self.client_act(shift, hold));
                    i = end;
                }
                Run::Plan(Plan::Local { msgs, error, then }) => {
                    self.queue.push_back(Entry::Local {
                        msgs,
                        error,
                        then,
                        hold: false,
                    });
                    self.planned = then;
                    stop = error;
                    i += 1;
                }
                Run::Plan(Plan::Ops {
                    ops,
                    warning,
                    tag,
                    then,
                    on_error,
                }) => {
                    self.push_warning(warning);
                    self.push_ops(ops, Some((tag, on_error)), then);
                    self.push_internal_sync();
                    i += 1;
                }
                Run::Renamed { sql, rename } => {
                    self.up.push(&wire::query(&sql));
                    let act = Act {
                        rename: Some(rename),
                        ..self.client_act(0, last)
                    };
                    self.push_reply(Kind::Ready, act);
                    i += 1;
                }
                Run::Close { closes, tag } => {
                    self.push_closes(closes, tag, last, true);
                    i += 1;
                }
            }
            self.pump();
            self.relay().await?;
        }
        Ok(())
    }

    /// Handles one client message of an extended-protocol turn.
    fn client_msg(&mut self, msg: Msg) {
        if let Err(e) = self.try_client_msg(msg) {
            self.client.push(&wire::report(
                backend::ERROR_RESPONSE,
                "FATAL",
                "08P01",
                &format!("venom proxy: invalid message: {e}"),
            ));
            self.client_left();
        }
    }

    fn try_client_msg(&mut self, msg: Msg) -> io::Result<()> {
        if self.skipping && msg.tag != frontend::SYNC {
            return Ok(());
        }
        let kind = match msg.tag {
            frontend::PARSE => {
                let mut fields = msg.fields();
                let name = fields.cstr()?;
                let text = fields.cstr()?;
                let ranges = sql::statements(&text);
                let special = match ranges.as_slice() {
                    [only] => sql::special(&text[only.clone()]),
                    _ => None,
                };
                // What the server prepares instead of a DEALLOCATE of the client's statements.
                let (special, replace) = match special {
                    Some(Special::Deallocate(Deallocate::Name(target))) => {
                        if self.names.owns(&target) {
                            let upstream = sql::quote_ident(&self.names.upstream(&target));
                            let sql = format!("DEALLOCATE {upstream}");
                            (
                                Some(Special::Deallocate(Deallocate::Name(target))),
                                Some(sql),
                            )
                        } else {
                            (None, None)
                        }
                    }
                    Some(special @ Special::Deallocate(_)) => {
                        (Some(special), Some(NOT_DEALLOCATE.to_string()))
                    }
                    special => (special, None),
                };
                let upstream = self.names.upstream(&name);
                self.names.statements.insert(name, special);
                if let Some(sql) = replace {
                    self.up.push(&wire::replace_parse(&msg, &upstream, &sql)?);
                    self.push_reply(Kind::Parse, self.client_act(0, false));
                    return Ok(());
                }
                Some(Kind::Parse)
            }
            frontend::BIND => {
                let mut fields = msg.fields();
                let portal = fields.cstr()?;
                let statement = fields.cstr()?;
                let special = self.names.statements.get(&statement).cloned().flatten();
                self.names.portals.insert(portal, special);
                Some(Kind::Bind)
            }
            frontend::DESCRIBE => Some(Kind::Describe),
            frontend::CLOSE => {
                let mut fields = msg.fields();
                let kind = fields.u8()?;
                let name = fields.cstr()?;
                if kind == target::STATEMENT {
                    self.names.statements.remove(&name);
                } else {
                    self.names.portals.remove(&name);
                }
                Some(Kind::Close)
            }
            frontend::EXECUTE => {
                let portal = msg.fields().cstr()?;
                match self.names.portals.get(&portal).cloned().flatten() {
                    Some(Special::Control(control)) => {
                        let plan = tx::plan(control, self.planned, self.failed, false);
                        if plan != Plan::Forward {
                            self.failed = false;
                            self.apply(plan);
                            return Ok(());
                        }
                    }
                    Some(Special::Deallocate(Deallocate::Name(target))) => {
                        // Its Parse was renamed: the client's own statement (see Parse).
                        let upstream = self.names.upstream(&target);
                        if !self.failed {
                            self.names.statements.remove(&target);
                        }
                        self.up
                            .push(&wire::rename(&msg, |name| self.names.upstream(name))?);
                        let act = Act {
                            rename: Some((upstream, target)),
                            ..self.client_act(0, false)
                        };
                        self.push_reply(Kind::Execute, act);
                        return Ok(());
                    }
                    Some(special) => match self.drop_statements(&special, self.failed, true) {
                        Run::Forward | Run::Renamed { .. } => {}
                        Run::Plan(plan) => {
                            self.apply(plan);
                            return Ok(());
                        }
                        Run::Close { closes, tag } => {
                            self.push_closes(closes, tag, false, false);
                            return Ok(());
                        }
                    },
                    None => {}
                }
                Some(Kind::Execute)
            }
            frontend::SYNC if self.copy_in => {
                // The server ignores Sync during COPY FROM STDIN.
                self.up.push(&msg);
                return Ok(());
            }
            frontend::SYNC => {
                self.skipping = false;
                self.reading = false;
                self.up.push(&msg);
                self.push_reply(Kind::Ready, self.client_act(0, false));
                return Ok(());
            }
            frontend::FUNCTION_CALL => {
                self.reading = false;
                self.up.push(&msg);
                self.push_reply(Kind::FunctionCall, self.client_act(0, false));
                self.push_reply(Kind::Ready, self.client_act(0, false));
                return Ok(());
            }
            frontend::QUERY => {
                self.reading = false;
                self.query = Some(msg);
                return Ok(());
            }
            frontend::COPY_DONE | frontend::COPY_FAIL => {
                self.copy_in = false;
                None
            }
            frontend::FLUSH | frontend::COPY_DATA => None,
            frontend::TERMINATE => {
                self.client_vanished();
                return Ok(());
            }
            other => {
                return Err(io::Error::other(format!(
                    "unexpected message type {:?}",
                    other as char
                )))
            }
        };
        let names = &self.names;
        self.up
            .push(&wire::rename(&msg, |name| names.upstream(name))?);
        if let Some(kind) = kind {
            self.push_reply(kind, self.client_act(0, false));
        }
        Ok(())
    }

    /// How the client's `special` statement (a `DEALLOCATE` or `DISCARD ALL`) runs: it drops
    /// the client's own prepared statements only, never the proxy's nor the other clients'.
    /// `failed`: the client's transaction is in the failed state; `alone`: the statement is the
    /// whole query string (`DISCARD ALL` cannot run in a multi-statement one).
    fn drop_statements(&mut self, special: &Special, failed: bool, alone: bool) -> Run {
        let error = |code, message: &str| {
            Run::Plan(Plan::Local {
                msgs: vec![wire::report(
                    backend::ERROR_RESPONSE,
                    "ERROR",
                    code,
                    message,
                )],
                error: true,
                then: self.planned,
            })
        };
        match special {
            Special::Control(_) => Run::Forward,
            Special::Deallocate(Deallocate::Name(name)) if self.names.owns(name) => {
                let upstream = self.names.upstream(name);
                if !failed {
                    self.names.statements.remove(name);
                }
                Run::Renamed {
                    sql: format!("DEALLOCATE {}", sql::quote_ident(&upstream)),
                    rename: (upstream, name.clone()),
                }
            }
            // A SQL-level prepared statement, shared by the session.
            Special::Deallocate(Deallocate::Name(_)) => Run::Forward,
            Special::Deallocate(Deallocate::All) if failed => error(
                "25P02",
                "current transaction is aborted, commands ignored until end of transaction block",
            ),
            Special::Deallocate(Deallocate::All) => Run::Close {
                closes: self.names.close_named(false),
                tag: "DEALLOCATE ALL",
            },
            Special::Deallocate(Deallocate::Unicode) => error(
                "0A000",
                "venom's transaction proxy does not support Unicode-escaped names (U&\"…\") in \
                 DEALLOCATE",
            ),
            // Outside a transaction block, it resets what is the client's own: its prepared
            // statements and portals. Inside one, the server reports the error as PostgreSQL.
            Special::DiscardAll if alone && self.planned == TxState::Implicit => Run::Close {
                closes: self.names.close_named(true),
                tag: "DISCARD ALL",
            },
            Special::DiscardAll => Run::Forward,
        }
    }

    /// Closes `closes` upstream silently (then `Sync`s when `sync`), then answers `tag` (held
    /// back like the last statement of a query string when `hold`).
    fn push_closes(&mut self, closes: Vec<Msg>, tag: &'static str, hold: bool, sync: bool) {
        let any = !closes.is_empty();
        for close in &closes {
            self.up.push(close);
            self.push_reply(Kind::Close, self.silent_act());
        }
        if sync && any {
            self.push_internal_sync();
        }
        self.queue.push_back(Entry::Local {
            msgs: vec![wire::command_complete(tag)],
            error: false,
            then: self.planned,
            hold,
        });
        self.pump();
    }

    /// Runs the plan for a transaction-control `Execute` of the extended protocol.
    fn apply(&mut self, plan: Plan) {
        match plan {
            Plan::Forward => {}
            Plan::Local { msgs, error, then } => {
                self.queue.push_back(Entry::Local {
                    msgs,
                    error,
                    then,
                    hold: false,
                });
                self.planned = then;
                self.skipping = error;
                self.pump();
            }
            Plan::Ops {
                ops,
                warning,
                tag,
                then,
                on_error,
            } => {
                self.push_warning(warning);
                self.push_ops(ops, Some((tag, on_error)), then);
            }
        }
    }

    /// The client's connection ended (or it sent `Terminate`) in the middle of the turn.
    fn client_vanished(&mut self) {
        self.client.gone = true;
        self.client_left();
    }

    /// The client stops being served in the middle of the turn: the upstream is brought back
    /// to a request boundary (`COPY` aborted, `Sync` sent) and the turn is finished.
    fn client_left(&mut self) {
        self.client.closing = true;
        self.skipping = false;
        if self.copy_in {
            let mut body = BytesMut::new();
            body.extend_from_slice(b"client disconnected\0");
            self.up.push(&Msg::new(frontend::COPY_FAIL, body));
            self.copy_in = false;
        }
        if self.reading {
            self.reading = false;
            self.up.push(&wire::sync());
            self.push_reply(Kind::Ready, self.client_act(0, false));
        }
    }

    /// Forwards responses (and, while [`Turn::reading`], client messages) until everything
    /// sent upstream is answered.
    async fn relay(&mut self) -> io::Result<()> {
        loop {
            self.up.flush().await?;
            if !self.up.has_message() {
                self.client.flush().await;
            }
            let read_client = self.reading || self.copy_in;
            if self.queue.is_empty() && !read_client {
                return Ok(());
            }
            if self.queue.is_empty() {
                // Only the client can move things on.
                match self.client.reader.next().await {
                    Ok(Some(msg)) => self.client_msg(msg),
                    _ => self.client_vanished(),
                }
                continue;
            }
            let event = tokio::select! {
                biased;
                msg = self.up.recv() => Ok(msg?),
                msg = self.client.reader.next(), if read_client => Err(msg),
            };
            match event {
                Ok(msg) => self.upstream_msg(msg)?,
                Err(Ok(Some(msg))) => self.client_msg(msg),
                Err(_) => self.client_vanished(),
            }
        }
    }

    /// Handles one upstream response.
    fn upstream_msg(&mut self, msg: Msg) -> io::Result<()> {
        match msg.tag {
            backend::NOTICE_RESPONSE | backend::NOTIFICATION_RESPONSE => self.send(&msg),
            backend::PARAMETER_STATUS => {
                let mut fields = msg.fields();
                let name = fields.cstr()?;
                self.shared.set_param(name, fields.cstr()?);
                self.send(&msg);
            }
            backend::ERROR_RESPONSE => {
                check_fatal(&msg)?;
                self.upstream_error(&msg)?;
            }
            backend::READY_FOR_QUERY => {
                let Some(Entry::Reply {
                    kind: Kind::Ready, ..
                }) = self.queue.pop_front()
                else {
                    return Err(unexpected(&msg));
                };
                self.status = TxStatus::from_byte(msg.body.first().copied());
            }
            tag => {
                let Some(Entry::Reply { kind, act }) = self.queue.front() else {
                    return Err(unexpected(&msg));
                };
                let (kind, act) = (*kind, act.clone());
                if tag == backend::COPY_IN_RESPONSE {
                    self.copy_in = true;
                    if kind == Kind::Execute {
                        // The server ignores the Syncs it reads during the copy (clients send
                        // one before the data without knowing the statement was a COPY); the
                        // client's Sync after the data ends the turn.
                        self.queue.truncate(1);
                        self.reading = true;
                    }
                }
                match act.tag {
                    Some(tag) if msg.tag == backend::COMMAND_COMPLETE => {
                        self.send(&wire::command_complete(tag));
                    }
                    _ if act.forward && act.hold && tag == backend::COMMAND_COMPLETE => {
                        self.hold(msg.clone())
                    }
                    _ if act.forward => self.send(&msg),
                    _ => {}
                }
                if kind.completed_by(tag) {
                    self.state = act.then;
                    self.queue.pop_front();
                }
            }
        }
        self.pump();
        Ok(())
    }

    /// An `ErrorResponse`: forwarded; the failed message's state applies and, outside a simple
    /// query, the messages up to the next `Sync` are skipped, as the server skips them.
    fn upstream_error(&mut self, msg: &Msg) -> io::Result<()> {
        let Some(Entry::Reply { kind, act }) = self.queue.front() else {
            return Err(unexpected(msg));
        };
        let mut shifted = match act.shift {
            0 => msg.clone(),
            shift => wire::shift_position(msg, shift),
        };
        if let Some((upstream, client)) = &act.rename {
            shifted = wire::rename_in_message(&shifted, upstream, client);
        }
        if !act.forward {
            // The implicit commit failed: PostgreSQL reports the error instead of the
            // command's completion.
            self.held = None;
        }
        if let Some(state) = act.on_error {
            self.state = state;
        }
        // An error ends a COPY FROM STDIN: the server drops the rest of the data.
        self.copy_in = false;
        let kind = *kind;
        self.send(&shifted);
        if kind != Kind::Ready {
            self.skip_to_sync();
        }
        Ok(())
    }

    /// Drops the expectations up to the next `Sync`: the server skips those messages after an
    /// error. When the client has not sent its `Sync` yet, its messages are dropped until then.
    fn skip_to_sync(&mut self) {
        while let Some(entry) = self.queue.front() {
            if matches!(
                entry,
                Entry::Reply {
                    kind: Kind::Ready,
                    ..
                }
            ) {
                return;
            }
            self.queue.pop_front();
        }
        self.skipping = self.reading;
    }

    /// Holds back `msg` (a `CommandComplete`), sending the one held before, if any.
    fn hold(&mut self, msg: Msg) {
        if let Some(previous) = self.held.replace(msg) {
            self.client.push(&previous);
        }
    }

    /// Queues `msg` for the client, after the `CommandComplete` held back, if any.
    fn send(&mut self, msg: &Msg) {
        if let Some(held) = self.held.take() {
            self.client.push(&held);
        }
        self.client.push(msg);
    }

    /// Sends the proxy's own answers that are due (everything before them answered).
    fn pump(&mut self) {
        while let Some(Entry::Local { .. }) = self.queue.front() {
            let Some(Entry::Local {
                msgs,
                error,
                then,
                hold,
            }) = self.queue.pop_front()
            else {
                return;
            };
            for msg in msgs {
                if hold && msg.tag == backend::COMMAND_COMPLETE {
                    self.hold(msg);
                } else {
                    self.send(&msg);
                }
            }
            self.state = then;
            if error {
                // As the server's errors, it ends the implicit transaction.
                self.aborted |= then == TxState::Implicit;
                self.skip_to_sync();
            }
        }
    }

    fn client_act(&self, shift: usize, hold: bool) -> Act {
        Act {
            forward: true,
            tag: None,
            then: self.planned,
            on_error: None,
            shift,
            rename: None,
            hold,
        }
    }

    /// For a message of the proxy's own whose answers the client does not see.
    fn silent_act(&self) -> Act {
        Act {
            forward: false,
            ..self.client_act(0, false)
        }
    }

    fn push_reply(&mut self, kind: Kind, act: Act) {
        self.queue.push_back(Entry::Reply { kind, act });
    }

    /// Queues the proxy's statements `ops`; the last one reports `tag` (else all are silent).
    fn push_ops(&mut self, ops: &[Op], report: Option<(&'static str, TxState)>, then: TxState) {
        self.up.push_ops(ops);
        for (i, _) in ops.iter().enumerate() {
            let last = i + 1 == ops.len();
            let bind = Act {
                on_error: report.map(|(_, on_error)| on_error),
                ..self.silent_act()
            };
            let execute = Act {
                tag: report.filter(|_| last).map(|(tag, _)| tag),
                then: if last { then } else { self.planned },
                ..bind.clone()
            };
            self.push_reply(Kind::Bind, bind);
            self.push_reply(Kind::Execute, execute);
        }
        self.planned = then;
    }

    fn push_warning(&mut self, warning: Option<Msg>) {
        if let Some(warning) = warning {
            self.queue.push_back(Entry::Local {
                msgs: vec![warning],
                error: false,
                then: self.planned,
                hold: false,
            });
        }
    }

    fn push_internal_sync(&mut self) {
        self.up.push(&wire::sync());
        self.push_reply(Kind::Ready, self.silent_act());
    }
}

fn unexpected(msg: &Msg) -> io::Error {
    io::Error::other(format!(
        "unexpected message {:?} from the server",
        msg.tag as char
    ))
}
