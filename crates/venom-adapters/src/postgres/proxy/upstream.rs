//! The proxy's single connection to the real PostgreSQL server: where it is, how it is opened
//! and authenticated (trust, cleartext, md5, SCRAM-SHA-256; no TLS), and reading and writing
//! messages on it with a bound on every wait.

use super::tags::{backend, field};
use super::tx::Op;
use super::wire::{self, Msg, MsgReader};
use bytes::BytesMut;
use postgres::config::{Host, SslMode};
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use postgres_protocol::message::frontend;
use std::io;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use venom_engine::WorldError;

/// The server, credentials and database the proxy connects to.
#[derive(Clone)]
pub(super) struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<Vec<u8>>,
    pub database: String,
    options: Option<String>,
}

impl Target {
    /// Reads a `postgres://` URL or a `key=value` connection string. Only TCP hosts and
    /// connections without TLS are served.
    pub fn from_url(url: &str) -> Result<Target, WorldError> {
        let config = postgres::Config::from_str(url)
            .map_err(|e| WorldError::new(format!("invalid upstream PostgreSQL URL: {e}")))?;
        let host = match config.get_hosts() {
            [] => "localhost".to_string(),
            [Host::Tcp(host)] => host.clone(),
            _ => {
                return Err(WorldError::new(
                    "the transaction proxy needs exactly one TCP host in the upstream URL \
                     (Unix sockets and host lists are not supported)"
                        .to_string(),
                ))
            }
        };
        if config.get_ssl_mode() == SslMode::Require {
            return Err(WorldError::new(
                "the transaction proxy connects upstream without TLS; use sslmode=disable or \
                 sslmode=prefer"
                    .to_string(),
            ));
        }
        let user = config.get_user().map(str::to_string).ok_or_else(|| {
            WorldError::new("the upstream PostgreSQL URL names no user".to_string())
        })?;
        Ok(Target {
            port: config.get_ports().first().copied().unwrap_or(5432),
            database: config.get_dbname().unwrap_or(&user).to_string(),
            password: config.get_password().map(<[u8]>::to_vec),
            options: config.get_options().map(str::to_string),
            host,
            user,
        })
    }

    /// `postgres://user@host:port/database`, without the password.
    pub fn describe(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

/// An open, authenticated upstream connection.
#[derive(Debug)]
pub(super) struct Upstream {
    reader: MsgReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    out: BytesMut,
    timeout: Duration,
    /// The `ParameterStatus` values reported at connection start.
    pub params: Vec<(String, String)>,
    /// The server's `BackendKeyData` (process id, secret), for cancel requests.
    pub key: (i32, i32),
}

/// The outcome of one simple query run by the proxy for itself.
#[derive(Debug)]
pub(super) struct SimpleOutcome {
    pub rows: Vec<Vec<Option<String>>>,
    /// The server's error message, if the query failed.
    pub error: Option<String>,
}

impl Upstream {
    /// Connects, authenticates and waits for the server to be ready, each step within `wait`.
    pub async fn connect(target: &Target, wait: Duration) -> io::Result<Upstream> {
        let stream = timeout(
            wait,
            TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| timed_out("connecting"))??;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        let mut upstream = Upstream {
            reader: MsgReader::new(read),
            writer,
            out: BytesMut::new(),
            timeout: wait,
            params: Vec::new(),
            key: (0, 0),
        };
        let mut params = vec![
            ("user", target.user.as_str()),
            ("database", target.database.as_str()),
            ("application_name", "venom-proxy"),
            ("client_encoding", "UTF8"),
        ];
        if let Some(options) = &target.options {
            params.push(("options", options));
        }
        frontend::startup_message(params, &mut upstream.out)?;
        upstream.flush().await?;
        upstream.authenticate(target).await?;
        loop {
            let msg = upstream.recv().await?;
            match msg.tag {
                backend::PARAMETER_STATUS => {
                    let mut fields = msg.fields();
                    let name = fields.cstr()?;
                    upstream.params.push((name, fields.cstr()?));
                }
                backend::BACKEND_KEY_DATA => {
                    let mut fields = msg.fields();
                    upstream.key = (fields.i32()?, fields.i32()?);
                }
                backend::READY_FOR_QUERY => return Ok(upstream),
                backend::ERROR_RESPONSE => return Err(server_error(&msg)),
                _ => {}
            }
        }
    }

    async fn authenticate(&mut self, target: &Target) -> io::Result<()> {
        let password = || {
            target.password.clone().ok_or_else(|| {
                io::Error::other("the server asks for a password and the upstream URL has none")
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let msg = self.recv().await?;
            if msg.tag == backend::ERROR_RESPONSE {
                return Err(server_error(&msg));
            }
            if msg.tag != backend::AUTHENTICATION {
                return Err(wire::malformed("expected an authentication request"));
            }
            let mut fields = msg.fields();
            match fields.i32()? {
                0 => return Ok(()),
                3 => frontend::password_message(&password()?, &mut self.out)?,
                5 => {
                    let salt = fields.bytes(4)?;
                    let hash = md5_hash(
                        target.user.as_bytes(),
                        &password()?,
                        [salt[0], salt[1], salt[2], salt[3]],
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.out)?;
                }
                10 => {
                    let mut mechanisms = Vec::new();
                    while !fields.is_empty() {
                        mechanisms.push(fields.cstr()?);
                    }
                    if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                        return Err(io::Error::other(format!(
                            "the server offers SASL mechanisms {mechanisms:?}, not {SCRAM_SHA_256}"
                        )));
                    }
                    let client = ScramSha256::new(&password()?, ChannelBinding::unsupported());
                    frontend::sasl_initial_response(
                        SCRAM_SHA_256,
                        client.message(),
                        &mut self.out,
                    )?;
                    scram = Some(client);
                }
                11 => {
                    let client = scram
                        .as_mut()
                        .ok_or_else(|| wire::malformed("SASL order"))?;
                    client.update(&fields.rest())?;
                    frontend::sasl_response(client.message(), &mut self.out)?;
                }
                12 => {
                    let client = scram
                        .as_mut()
                        .ok_or_else(|| wire::malformed("SASL order"))?;
                    client.finish(&fields.rest())?;
                    continue;
                }
                other => {
                    return Err(io::Error::other(format!(
                        "unsupported authentication method (code {other}); the proxy supports \
                         trust, password, md5 and SCRAM-SHA-256"
                    )))
                }
            }
            self.flush().await?;
        }
    }

    /// Queues `msg` to be sent by the next [`Upstream::flush`].
    pub fn push(&mut self, msg: &Msg) {
        msg.encode(&mut self.out);
    }

    /// Queues a `Bind` and an `Execute` of each of the proxy's own statements in `ops`.
    pub fn push_ops(&mut self, ops: &[Op]) {
        for op in ops {
            self.push(&wire::bind_unnamed(op.statement()));
            self.push(&wire::execute_unnamed());
        }
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = self.out.split();
        timeout(self.timeout, self.writer.write_all(&out))
            .await
            .map_err(|_| timed_out("sending to the server"))?
    }

    /// The next message from the server; the server closing the connection is an error.
    pub async fn recv(&mut self) -> io::Result<Msg> {
        match timeout(self.timeout, self.reader.next()).await {
            Err(_) => Err(timed_out("waiting for the server")),
            Ok(Ok(Some(msg))) => Ok(msg),
            Ok(Ok(None)) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Whether a whole message from the server is already buffered.
    pub fn has_message(&self) -> bool {
        self.reader.has_message()
    }

    /// Opens venom's outer transaction and prepares the proxy's own statements.
    pub async fn begin(&mut self) -> io::Result<()> {
        self.push(&wire::query("BEGIN"));
        for op in Op::ALL {
            self.push(&wire::parse(op.statement(), op.sql()));
        }
        self.push(&wire::sync());
        self.flush().await?;
        let mut ready = 0;
        while ready < 2 {
            let msg = self.recv().await?;
            match msg.tag {
                backend::ERROR_RESPONSE => return Err(server_error(&msg)),
                backend::READY_FOR_QUERY => ready += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Runs each query of `batch` (simple query protocol, sent at once) and collects the rows
    /// and the error of each. A failed query leaves the session in the failed state until the
    /// caller rolls back to a savepoint.
    pub async fn simple(&mut self, batch: &[&str]) -> io::Result<Vec<SimpleOutcome>> {
        for sql in batch {
            self.push(&wire::query(sql));
        }
        self.flush().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut outcome = SimpleOutcome {
            rows: Vec::new(),
            error: None,
        };
        while outcomes.len() < batch.len() {
            let msg = self.recv().await?;
            match msg.tag {
                backend::DATA_ROW => outcome.rows.push(wire::data_row(&msg)?),
                backend::ERROR_RESPONSE => {
                    check_fatal(&msg)?;
                    outcome.error = Some(describe_error(&msg));
                }
                backend::READY_FOR_QUERY => outcomes.push(std::mem::replace(
                    &mut outcome,
                    SimpleOutcome {
                        rows: Vec::new(),
                        error: None,
                    },
                )),
                // The copy sub-protocols would wait for data that venom does not send.
                backend::COPY_IN_RESPONSE
                | backend::COPY_OUT_RESPONSE
                | backend::COPY_BOTH_RESPONSE => {
                    return Err(io::Error::other("a COPY statement cannot be run by venom"))
                }
                _ => {}
            }
        }
        Ok(outcomes)
    }

    /// Sends `Terminate` without waiting (the connection is closing).
    pub async fn terminate(&mut self) {
        self.push(&wire::terminate());
        let _ = self.flush().await;
    }
}

/// Fails when `msg` (an `ErrorResponse`) is FATAL or PANIC: the server is closing the session.
pub(super) fn check_fatal(msg: &Msg) -> io::Result<()> {
    match wire::report_field(msg, field::SEVERITY_RAW)
        .or_else(|| wire::report_field(msg, field::SEVERITY))
    {
        Some(severity) if severity == "FATAL" || severity == "PANIC" => {
            Err(io::Error::other(describe_error(msg)))
        }
        _ => Ok(()),
    }
}

/// `SEVERITY: message (SQLSTATE)` of an `ErrorResponse`.
pub(super) fn describe_error(msg: &Msg) -> String {
    let value = |code| wire::report_field(msg, code).unwrap_or_default();
    format!(
        "{}: {} ({})",
        value(field::SEVERITY),
        value(field::MESSAGE),
        value(field::CODE)
    )
}

fn server_error(msg: &Msg) -> io::Error {
    io::Error::other(describe_error(msg))
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {what}"))
}
