//! Plain HTTP/1.1 connections of one's own (no pool): what concurrent steps and load runs open
//! when they must control when each connection exists.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// The sending half of a connection opened by [`connect_http1`].
pub type Http1Sender = SendRequest<Full<Bytes>>;

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection failed (refused, unreachable, out of file descriptors…).
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The HTTP/1.1 handshake failed.
    #[error("{0}")]
    Handshake(#[source] hyper::Error),
}

/// Opens a TCP connection to `address` (`host:port`, no delay) and an HTTP/1.1 client on it;
/// the connection's driver runs as a task until the server closes it or the sender is dropped.
pub async fn connect_http1(address: &str) -> Result<Http1Sender, ConnectError> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(ConnectError::Io)?;
    stream.set_nodelay(true).map_err(ConnectError::Io)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ConnectError::Handshake)?;
    tokio::spawn(async move {
        // The connection ends when the server closes it or the sender is dropped.
        let _ = connection.await;
    });
    Ok(sender)
}
