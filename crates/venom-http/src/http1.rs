//! Plain HTTP/1.1 connections of one's own (no pool) to an `http://` origin: what concurrent
//! steps and load runs open when they must control when each connection exists, and the
//! requests written for them.

use crate::client::PreparedRequest;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request, Uri};
use hyper_util::rt::TokioIo;

/// The sending half of a connection opened by [`Http1Origin::connect`].
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

/// An `http://` origin: where to connect, and how its requests are written.
#[derive(Debug, Clone)]
pub struct Http1Origin {
    /// `http://host:port` as written in the base URL (stripped from URLs to get the target).
    origin: String,
    /// Where to connect: `host:port`.
    address: String,
    /// The `Host` header.
    host: HeaderValue,
}

impl Http1Origin {
    /// The origin of `base_url` (`http://host[:port][/path]`, port 80 by default); `Err` says
    /// why it cannot be used.
    pub fn of(base_url: &str) -> Result<Http1Origin, String> {
        let uri: Uri = base_url.parse().map_err(|e| format!("{e}"))?;
        let authority = uri.authority().ok_or_else(|| "no host".to_string())?;
        let origin_len = "http://".len() + authority.as_str().len();
        let origin = base_url.get(..origin_len).unwrap_or(base_url).to_string();
        let address = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let host =
            HeaderValue::from_str(authority.as_str()).map_err(|e| format!("invalid host: {e}"))?;
        Ok(Http1Origin {
            origin,
            address,
            host,
        })
    }

    /// Where connections go: `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Opens a TCP connection (no delay) and an HTTP/1.1 client on it; the connection's
    /// driver runs as a task until the server closes it or the sender is dropped.
    pub async fn connect(&self) -> Result<Http1Sender, ConnectError> {
        let stream = tokio::net::TcpStream::connect(&self.address)
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

    /// The request for `prepared` on a connection to this origin: origin-form target, `Host`,
    /// JSON body with its content type. `Err` says why it cannot be written.
    pub fn request(&self, prepared: PreparedRequest) -> Result<Http1Request, String> {
        let target = prepared
            .url
            .strip_prefix(&self.origin)
            .filter(|t| t.starts_with('/'))
            .unwrap_or("/");
        let uri: Uri = target
            .parse()
            .map_err(|e| format!("invalid request target `{target}`: {e}"))?;
        let body = match &prepared.body {
            Some(value) => Bytes::from(
                serde_json::to_vec(value).map_err(|e| format!("cannot serialize the body: {e}"))?,
            ),
            None => Bytes::new(),
        };
        let mut headers = prepared.headers;
        if !headers.contains_key(HOST) {
            headers.insert(HOST, self.host.clone());
        }
        if prepared.body.is_some() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(Http1Request {
            method: prepared.method,
            uri,
            headers,
            body,
        })
    }
}

/// A request written for an HTTP/1.1 connection, ready to be cloned onto the wire as often
/// as needed.
#[derive(Debug, Clone)]
pub struct Http1Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Http1Request {
    /// A hyper request of it (the body is shared, not copied).
    pub fn to_hyper(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_keep_the_base_path_and_get_host_and_content_type() {
        let origin = Http1Origin::of("http://127.0.0.1:8080/api").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(origin.address(), "127.0.0.1:8080");
        assert_eq!(origin.host, "127.0.0.1:8080");
        let prepared = PreparedRequest {
            method: hyper::Method::POST,
            url: "http://127.0.0.1:8080/api/orders?x=1".into(),
            headers: hyper::HeaderMap::new(),
            body: Some(serde_json::json!({"amount": 1})),
        };
        let r = origin
            .request(prepared)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_hyper();
        assert_eq!(r.uri(), "/api/orders?x=1");
        assert_eq!(r.headers()[HOST], "127.0.0.1:8080");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let origin = Http1Origin::of("http://localhost").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(origin.address(), "localhost:80");
    }
}
