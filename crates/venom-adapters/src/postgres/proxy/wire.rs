//! PostgreSQL wire protocol (version 3) framing: a message is a type byte, a length and a body.
//! Messages are read from and written to sockets as they are; the proxy only decodes and builds
//! the few it rewrites or answers itself.

use super::tags::{backend, field, frontend, TxStatus};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The largest message accepted (PostgreSQL's own limit for a value is 1 GiB).
const MAX_LEN: usize = 1 << 30;

/// The largest startup packet accepted.
const MAX_STARTUP_LEN: usize = 10_000;

/// One protocol message: its type byte and its body (without the length word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Msg {
    pub tag: u8,
    pub body: Bytes,
}

impl Msg {
    /// A message from a type byte and a body being built.
    pub fn new(tag: u8, body: BytesMut) -> Msg {
        Msg {
            tag,
            body: body.freeze(),
        }
    }

    /// Appends the message as it travels on the wire.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u32(self.body.len() as u32 + 4);
        out.put_slice(&self.body);
    }

    /// A reader over the body.
    pub fn fields(&self) -> Fields {
        Fields(self.body.clone())
    }
}

/// Reads the fields of a message body in order.
#[derive(Debug)]
pub(super) struct Fields(Bytes);

impl From<Bytes> for Fields {
    fn from(bytes: Bytes) -> Fields {
        Fields(bytes)
    }
}

impl Fields {
    /// A NUL-terminated string.
    pub fn cstr(&mut self) -> io::Result<String> {
        let end = self
            .0
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed("string without terminator"))?;
        let text = String::from_utf8_lossy(&self.0[..end]).into_owned();
        self.0.advance(end + 1);
        Ok(text)
    }

    pub fn u8(&mut self) -> io::Result<u8> {
        self.need(1)?;
        Ok(self.0.get_u8())
    }

    pub fn i16(&mut self) -> io::Result<i16> {
        self.need(2)?;
        Ok(self.0.get_i16())
    }

    pub fn i32(&mut self) -> io::Result<i32> {
        self.need(4)?;
        Ok(self.0.get_i32())
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> io::Result<Bytes> {
        self.need(len)?;
        Ok(self.0.split_to(len))
    }

    /// Everything not read yet.
    pub fn rest(self) -> Bytes {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn need(&self, len: usize) -> io::Result<()> {
        if self.0.len() < len {
            return Err(malformed("message shorter than its fields"));
        }
        Ok(())
    }
}

/// An `InvalidData` error for a message that does not follow the protocol.
pub(super) fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed message: {what}"),
    )
}

/// Reads whole messages from a byte stream, keeping what arrived beyond the current message.
///
/// [`MsgReader::next`] is cancel-safe: bytes read by a cancelled call stay in the buffer.
#[derive(Debug)]
pub(super) struct MsgReader<R> {
    inner: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> MsgReader<R> {
    pub fn new(inner: R) -> MsgReader<R> {
        MsgReader {
            inner,
            buf: BytesMut::with_capacity(8192),
        }
    }

    /// The next message, or `None` when the peer closed the stream between two messages.
    pub async fn next(&mut self) -> io::Result<Option<Msg>> {
        loop {
            if let Some(msg) = self.buffered()? {
                return Ok(Some(msg));
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Whether a whole message is already buffered (so that reading it will not wait).
    pub fn has_message(&self) -> bool {
        self.buf.len() >= 5 && self.buf.len() > be_len(&self.buf[1..5])
    }

    /// The startup packet (length-prefixed, without a type byte) as its body.
    pub async fn startup(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if self.buf.len() >= 4 {
                let len = be_len(&self.buf[..4]);
                if !(8..=MAX_STARTUP_LEN).contains(&len) {
                    return Err(malformed("startup packet length"));
                }
                if self.buf.len() >= len {
                    let mut packet = self.buf.split_to(len);
                    packet.advance(4);
                    return Ok(Some(packet.freeze()));
                }
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn buffered(&mut self) -> io::Result<Option<Msg>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = be_len(&self.buf[1..5]);
        if !(4..=MAX_LEN).contains(&len) {
            return Err(malformed("message length"));
        }
        if self.buf.len() < 1 + len {
            self.buf.reserve(1 + len - self.buf.len());
            return Ok(None);
        }
        let tag = self.buf.get_u8();
        self.buf.advance(4);
        let body = self.buf.split_to(len - 4).freeze();
        Ok(Some(Msg { tag, body }))
    }
}

fn be_len(bytes: &[u8]) -> usize {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

fn put_cstr(out: &mut BytesMut, text: &str) {
    out.put_slice(text.as_bytes());
    out.put_u8(0);
}

/// `CommandComplete` with `tag`.
pub(super) fn command_complete(tag: &str) -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, tag);
    Msg::new(backend::COMMAND_COMPLETE, body)
}

/// `ReadyForQuery` with transaction `status`.
pub(super) fn ready_for_query(status: TxStatus) -> Msg {
    let mut body = BytesMut::new();
    body.put_u8(status.byte());
    Msg::new(backend::READY_FOR_QUERY, body)
}

/// `ParameterStatus`.
pub(super) fn parameter_status(name: &str, value: &str) -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, name);
    put_cstr(&mut body, value);
    Msg::new(backend::PARAMETER_STATUS, body)
}

/// `BackendKeyData`.
pub(super) fn backend_key_data(pid: i32, secret: i32) -> Msg {
    let mut body = BytesMut::new();
    body.put_i32(pid);
    body.put_i32(secret);
    Msg::new(backend::BACKEND_KEY_DATA, body)
}

/// `AuthenticationOk`.
pub(super) fn authentication_ok() -> Msg {
    let mut body = BytesMut::new();
    body.put_i32(0);
    Msg::new(backend::AUTHENTICATION, body)
}

/// `NegotiateProtocolVersion`: the newest minor version served (0) and the options not known.
pub(super) fn negotiate_protocol_version(unknown: &[String]) -> Msg {
    let mut body = BytesMut::new();
    body.put_i32(0);
    body.put_i32(unknown.len() as i32);
    for option in unknown {
        put_cstr(&mut body, option);
    }
    Msg::new(backend::NEGOTIATE_PROTOCOL_VERSION, body)
}

/// `ErrorResponse` (`tag` = `E`) or `NoticeResponse` (`tag` = `N`) with severity, SQLSTATE and
/// message, as PostgreSQL writes them.
pub(super) fn report(tag: u8, severity: &str, code: &str, message: &str) -> Msg {
    let mut body = BytesMut::new();
    for (field, value) in [
        (field::SEVERITY, severity),
        (field::SEVERITY_RAW, severity),
        (field::CODE, code),
        (field::MESSAGE, message),
    ] {
        body.put_u8(field);
        put_cstr(&mut body, value);
    }
    body.put_u8(0);
    Msg::new(tag, body)
}

/// The fields of an `ErrorResponse` or `NoticeResponse`.
pub(super) fn report_fields(msg: &Msg) -> io::Result<Vec<(u8, String)>> {
    let mut fields = msg.fields();
    let mut out = Vec::new();
    loop {
        let code = fields.u8()?;
        if code == 0 {
            return Ok(out);
        }
        out.push((code, fields.cstr()?));
    }
}

/// The value of field `code` in an `ErrorResponse` (e.g. `M` for the message).
pub(super) fn report_field(msg: &Msg, code: u8) -> Option<String> {
    report_fields(msg)
        .ok()?
        .into_iter()
        .find(|(c, _)| *c == code)
        .map(|(_, value)| value)
}

/// `msg` (an `ErrorResponse`) with its cursor position (`P`, in characters) moved by `shift`:
/// the error came from a statement that started `shift` characters into the client's query.
pub(super) fn shift_position(msg: &Msg, shift: usize) -> Msg {
    map_report(msg, |code, value| match (code, value.parse::<usize>()) {
        (field::POSITION, Ok(position)) => (position + shift).to_string(),
        _ => value,
    })
}

/// `msg` (an `ErrorResponse`) with `"from"` replaced by `"to"` in its message: the error names
/// an upstream statement that the client knows as `to`.
pub(super) fn rename_in_message(msg: &Msg, from: &str, to: &str) -> Msg {
    map_report(msg, |code, value| match code {
        field::MESSAGE => value.replace(&format!("\"{from}\""), &format!("\"{to}\"")),
        _ => value,
    })
}

/// `msg` (an `ErrorResponse` or `NoticeResponse`) with each field's value passed through `map`.
fn map_report(msg: &Msg, map: impl Fn(u8, String) -> String) -> Msg {
    let Ok(fields) = report_fields(msg) else {
        return msg.clone();
    };
    let mut body = BytesMut::new();
    for (code, value) in fields {
        body.put_u8(code);
        put_cstr(&mut body, &map(code, value));
    }
    body.put_u8(0);
    Msg::new(msg.tag, body)
}

/// `Query` (simple protocol).
pub(super) fn query(sql: &str) -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, sql);
    Msg::new(frontend::QUERY, body)
}

/// `Parse` of a statement without declared parameter types.
pub(super) fn parse(statement: &str, sql: &str) -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, statement);
    put_cstr(&mut body, sql);
    body.put_i16(0);
    Msg::new(frontend::PARSE, body)
}

/// `msg` (a `Parse`) with its statement name and query text replaced, its parameter types kept.
pub(super) fn replace_parse(msg: &Msg, statement: &str, sql: &str) -> io::Result<Msg> {
    let mut fields = msg.fields();
    fields.cstr()?;
    fields.cstr()?;
    let mut body = BytesMut::new();
    put_cstr(&mut body, statement);
    put_cstr(&mut body, sql);
    body.put_slice(&fields.rest());
    Ok(Msg::new(frontend::PARSE, body))
}

/// `Bind` of the unnamed portal to `statement`, without parameters, results in text.
pub(super) fn bind_unnamed(statement: &str) -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, "");
    put_cstr(&mut body, statement);
    body.put_i16(0);
    body.put_i16(0);
    body.put_i16(0);
    Msg::new(frontend::BIND, body)
}

/// `Execute` of the unnamed portal, every row.
pub(super) fn execute_unnamed() -> Msg {
    let mut body = BytesMut::new();
    put_cstr(&mut body, "");
    body.put_i32(0);
    Msg::new(frontend::EXECUTE, body)
}

/// `Close` of a statement (`kind` = `S`) or portal (`P`).
pub(super) fn close(kind: u8, name: &str) -> Msg {
    let mut body = BytesMut::new();
    body.put_u8(kind);
    put_cstr(&mut body, name);
    Msg::new(frontend::CLOSE, body)
}

/// `Sync`.
pub(super) fn sync() -> Msg {
    Msg::new(frontend::SYNC, BytesMut::new())
}

/// `Terminate`.
pub(super) fn terminate() -> Msg {
    Msg::new(frontend::TERMINATE, BytesMut::new())
}

/// `Parse`, `Bind`, `Describe`, `Close` or `Execute` with its statement and portal names passed
/// through `rename`; other messages unchanged.
pub(super) fn rename(msg: &Msg, rename: impl Fn(&str) -> String) -> io::Result<Msg> {
    let mut fields = msg.fields();
    let mut body = BytesMut::with_capacity(msg.body.len() + 16);
    match msg.tag {
        // Parse: statement name, then the rest as is.
        frontend::PARSE => put_cstr(&mut body, &rename(&fields.cstr()?)),
        // Bind: portal and statement names.
        frontend::BIND => {
            put_cstr(&mut body, &rename(&fields.cstr()?));
            put_cstr(&mut body, &rename(&fields.cstr()?));
        }
        // Describe and Close: kind, then the name.
        frontend::DESCRIBE | frontend::CLOSE => {
            body.put_u8(fields.u8()?);
            put_cstr(&mut body, &rename(&fields.cstr()?));
        }
        // Execute: portal name, then the row limit.
        frontend::EXECUTE => put_cstr(&mut body, &rename(&fields.cstr()?)),
        _ => return Ok(msg.clone()),
    }
    body.put_slice(&fields.rest());
    Ok(Msg::new(msg.tag, body))
}

/// The values of a `DataRow` as text (`None` for NULL).
pub(super) fn data_row(msg: &Msg) -> io::Result<Vec<Option<String>>> {
    let mut fields = msg.fields();
    let count = fields.i16()?;
    (0..count)
        .map(|_| {
            let len = fields.i32()?;
            if len < 0 {
                return Ok(None);
            }
            let value = fields.bytes(len as usize)?;
            Ok(Some(String::from_utf8_lossy(&value).into_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_are_framed_across_reads() {
        let mut wire = BytesMut::new();
        query("SELECT 1").encode(&mut wire);
        sync().encode(&mut wire);
        let mut reader = MsgReader::new(&wire[..]);
        assert!(!reader.has_message());
        assert_eq!(reader.next().await.unwrap(), Some(query("SELECT 1")));
        assert!(reader.has_message());
        assert_eq!(reader.next().await.unwrap(), Some(sync()));
        assert_eq!(reader.next().await.unwrap(), None);
    }

    #[test]
    fn renaming_touches_only_names() {
        let parsed = rename(&parse("s1", "SELECT $1"), |n| format!("c7_{n}")).unwrap();
        assert_eq!(parsed, parse("c7_s1", "SELECT $1"));
        let bound = rename(&bind_unnamed("s1"), |n| {
            if n.is_empty() {
                String::new()
            } else {
                format!("c7_{n}")
            }
        })
        .unwrap();
        assert_eq!(bound, bind_unnamed("c7_s1"));
    }

    #[test]
    fn error_positions_shift() {
        let mut body = BytesMut::new();
        for (code, value) in [(b'S', "ERROR"), (b'P', "8"), (b'M', "boom")] {
            body.put_u8(code);
            put_cstr(&mut body, value);
        }
        body.put_u8(0);
        let shifted = shift_position(&Msg::new(b'E', body), 10);
        assert_eq!(report_field(&shifted, b'P').as_deref(), Some("18"));
        assert_eq!(report_field(&shifted, b'M').as_deref(), Some("boom"));
    }

    #[test]
    fn messages_and_parses_are_rewritten() {
        let error = report(
            b'E',
            "ERROR",
            "26000",
            "prepared statement \"c1_x\" does not exist",
        );
        let renamed = rename_in_message(&error, "c1_x", "x");
        assert_eq!(
            report_field(&renamed, b'M').as_deref(),
            Some("prepared statement \"x\" does not exist")
        );
        assert_eq!(report_field(&renamed, b'C').as_deref(), Some("26000"));
        let replaced = replace_parse(&parse("s", "DEALLOCATE x"), "c1_s", "SELECT 1").unwrap();
        assert_eq!(replaced, parse("c1_s", "SELECT 1"));
    }
}
