//! One client connection to the proxy: its startup (no authentication; the database must be the
//! upstream's), its turns on the shared upstream session, and its cleanup when it leaves.

use super::client_io::ClientIo;
use super::names::Names;
use super::tags::{self, backend, TxStatus};
use super::turn::Turn;
use super::tx::{self, TxState};
use super::upstream::{check_fatal, Upstream};
use super::wire::{self, Fields, Msg, MsgReader};
use super::Shared;
use bytes::BytesMut;
use postgres_protocol::message::frontend;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedMutexGuard;
use tokio::time::timeout;

/// Protocol 3.0.
const PROTOCOL_3: i32 = 3 << 16;
const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// Serves one client connection until it leaves or the upstream session is lost.
pub(super) async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut io = ClientIo::new(read, write, shared.options.upstream_timeout);
    let wait = shared.options.upstream_timeout;
    let id = match timeout(wait, startup(&shared, &mut io)).await {
        Ok(Ok(Some(id))) => id,
        _ => return io.close().await,
    };
    let mut names = Names::new(id);
    let mut guard: Option<OwnedMutexGuard<Upstream>> = None;
    let mut state = TxState::Idle;
    let mut status = TxStatus::InTransaction;
    loop {
        let first = match io.reader.next().await {
            // The rest of a COPY that failed: the server would drop it too.
            Ok(Some(msg))
                if matches!(
                    msg.tag,
                    tags::frontend::COPY_DATA
                        | tags::frontend::COPY_DONE
                        | tags::frontend::COPY_FAIL
                ) =>
            {
                continue
            }
            Ok(Some(msg)) if msg.tag != tags::frontend::TERMINATE => msg,
            _ => break,
        };
        let up = match guard.as_mut() {
            Some(up) => up,
            None => guard.insert(shared.session.clone().lock_owned().await),
        };
        if let Some(lost) = shared.lost() {
            io.push(&wire::report(
                backend::ERROR_RESPONSE,
                "FATAL",
                "08006",
                &lost,
            ));
            break;
        }
        shared.set_turn(id);
        let outcome = Turn::new(up, &mut io, &mut names, &shared, state, status)
            .run(first)
            .await;
        shared.set_turn(0);
        match outcome {
            Ok(end) => {
                state = end.state;
                status = end.status;
            }
            Err(e) => {
                let lost = shared.lose(&e);
                io.push(&wire::report(
                    backend::ERROR_RESPONSE,
                    "FATAL",
                    "08006",
                    &lost,
                ));
                break;
            }
        }
        if io.closing || io.gone {
            break;
        }
        if state == TxState::Idle {
            guard = None;
            shared.set_holder(None);
        } else {
            shared.set_holder(Some(id));
        }
    }
    let closes = names.close_all();
    if shared.lost().is_none() && (state == TxState::Explicit || !closes.is_empty()) {
        let mut up = match guard.take() {
            Some(up) => up,
            None => shared.session.clone().lock_owned().await,
        };
        if let Err(e) = cleanup(&mut up, &closes, state).await {
            shared.lose(&e);
        }
    }
    shared.set_holder(None);
    drop(guard);
    shared.forget_client(id);
    io.close().await;
}

/// Undoes the client's open transaction and closes its statements and portals (`closes`).
async fn cleanup(up: &mut Upstream, closes: &[Msg], state: TxState) -> io::Result<()> {
    if state == TxState::Explicit {
        up.push_ops(tx::ROLLBACK);
    }
    for close in closes {
        up.push(close);
    }
    up.push(&wire::sync());
    up.flush().await?;
    loop {
        let msg = up.recv().await?;
        match msg.tag {
            backend::ERROR_RESPONSE => check_fatal(&msg)?,
            backend::READY_FOR_QUERY => return Ok(()),
            _ => {}
        }
    }
}

/// Answers the client's startup; returns its id once it is ready for queries, `None` when the
/// connection ends there (a cancel request, a refused startup).
async fn startup(shared: &Shared, io: &mut ClientIo) -> io::Result<Option<i32>> {
    let packet = loop {
        let Some(packet) = io.reader.startup().await? else {
            return Ok(None);
        };
        let mut fields = Fields::from(packet.clone());
        match fields.i32()? {
            SSL_REQUEST | GSSENC_REQUEST => {
                // No TLS and no GSS encryption on the loopback port.
                io.write_raw(b"N").await?;
            }
            CANCEL_REQUEST => {
                let (pid, secret) = (fields.i32()?, fields.i32()?);
                cancel(shared, pid, secret).await;
                return Ok(None);
            }
            _ => break packet,
        }
    };
    let mut fields = Fields::from(packet);
    let version = fields.i32()?;
    if version >> 16 != 3 {
        refuse(
            io,
            "0A000",
            &format!(
                "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                version >> 16,
                version & 0xffff
            ),
        );
        return Ok(None);
    }
    let mut params = HashMap::new();
    loop {
        let name = fields.cstr()?;
        if name.is_empty() {
            break;
        }
        params.insert(name, fields.cstr()?);
    }
    let user = params.get("user").cloned().unwrap_or_default();
    let database = params.get("database").cloned().unwrap_or(user);
    if database != shared.target.database {
        let message = format!(
            "venom's transaction proxy serves database \"{}\" only, not \"{database}\"",
            shared.target.database
        );
        refuse(io, "3D000", &message);
        return Ok(None);
    }
    if let Some(lost) = shared.lost() {
        refuse(io, "08006", &lost);
        return Ok(None);
    }
    let unknown: Vec<String> = params
        .keys()
        .filter(|k| k.starts_with("_pq_."))
        .cloned()
        .collect();
    if version != PROTOCOL_3 || !unknown.is_empty() {
        io.push(&wire::negotiate_protocol_version(&unknown));
    }
    let (id, secret) = shared.register_client();
    io.push(&wire::authentication_ok());
    for (name, value) in shared.params() {
        io.push(&wire::parameter_status(&name, &value));
    }
    io.push(&wire::backend_key_data(id, secret));
    io.push(&wire::ready_for_query(TxStatus::Idle));
    io.flush().await;
    if io.gone {
        shared.forget_client(id);
        return Ok(None);
    }
    Ok(Some(id))
}

/// Refuses a startup with a FATAL error (sent when the connection closes).
fn refuse(io: &mut ClientIo, code: &str, message: &str) {
    io.push(&wire::report(
        backend::ERROR_RESPONSE,
        "FATAL",
        code,
        message,
    ));
}

/// Forwards a cancel request to the upstream server when it comes from the client whose turn is
/// running (the upstream session is then working for it); otherwise it is ignored.
async fn cancel(shared: &Shared, pid: i32, secret: i32) {
    if !shared.may_cancel(pid, secret) {
        return;
    }
    let target = &shared.target;
    let wait = shared.options.upstream_timeout;
    let Ok(Ok(mut stream)) = timeout(
        wait,
        TcpStream::connect((target.host.as_str(), target.port)),
    )
    .await
    else {
        return;
    };
    let mut packet = BytesMut::new();
    let (upstream_pid, upstream_secret) = shared.upstream_key;
    frontend::cancel_request(upstream_pid, upstream_secret, &mut packet);
    let _ = timeout(wait, stream.write_all(&packet)).await;
    // The server closes the connection once the request is read.
    let mut reader = MsgReader::new(stream);
    let _ = timeout(wait, reader.next()).await;
}
