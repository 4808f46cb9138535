//! A client connection of the transaction proxy: its socket halves and the answers waiting to
//! be sent.

use super::wire::{Msg, MsgReader};
use bytes::BytesMut;
use std::io;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::timeout;

/// A client connection: its socket halves and the answers waiting to be sent.
#[derive(Debug)]
pub(super) struct ClientIo {
    pub(super) reader: MsgReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    out: BytesMut,
    /// The client closed its connection, or stopped reading: answers are dropped.
    pub(super) gone: bool,
    /// The connection ends after the current turn (the client left, or broke the protocol).
    pub(super) closing: bool,
    write_timeout: Duration,
}

impl ClientIo {
    pub(super) fn new(
        reader: OwnedReadHalf,
        writer: OwnedWriteHalf,
        write_timeout: Duration,
    ) -> Self {
        ClientIo {
            reader: MsgReader::new(reader),
            writer,
            out: BytesMut::with_capacity(8192),
            gone: false,
            closing: false,
            write_timeout,
        }
    }

    /// Queues `msg` for the client.
    pub(super) fn push(&mut self, msg: &Msg) {
        if !self.gone {
            msg.encode(&mut self.out);
        }
    }

    /// Writes `bytes` at once (the answer to an `SSLRequest`).
    pub(super) async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        timeout(self.write_timeout, self.writer.write_all(bytes))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    }

    /// Sends what is queued, then closes the connection gracefully: the client's unread
    /// messages are drained (for a bounded time) so that the close does not reset the
    /// connection and destroy the last answer (typically a FATAL error) before it is read.
    pub(super) async fn close(mut self) {
        self.flush().await;
        if self.gone {
            return;
        }
        let _ = timeout(self.write_timeout, self.writer.shutdown()).await;
        let drain = async { while let Ok(Some(_)) = self.reader.next().await {} };
        let _ = timeout(Duration::from_secs(1), drain).await;
    }

    /// Sends what is queued; a client that cannot take it is considered gone.
    pub(super) async fn flush(&mut self) {
        if self.gone || self.out.is_empty() {
            return;
        }
        let out = self.out.split();
        match timeout(self.write_timeout, self.writer.write_all(&out)).await {
            Ok(Ok(())) => {}
            _ => self.gone = true,
        }
    }
}
