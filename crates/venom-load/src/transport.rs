//! Sending a load run's requests.
//!
//! Requests are rendered by venom-http ([`HttpClient::prepare`]: templates, default headers,
//! authentication), so they are exactly what exploration sends; a request without any
//! placeholder or authentication is rendered once and cloned. Plain `http://` APIs are then
//! reached over HTTP/1.1 keep-alive connections (hyper): each virtual user keeps its own, like a
//! `wrk` connection (the open model's iterations borrow idle ones). The generic pooled client
//! costs about three times more CPU per request, which on a shared machine is taken from the
//! server under test. `https://` APIs go through venom-http's pooled client (rustls).

use crate::flow::request_of;
use crate::metrics::ErrorKind;
use crate::run::LoadError;
use crate::stream::{StreamMeasure, StreamReader};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use venom_engine::{Context, ResponseRecord};
use venom_http::CappedBody;
use venom_http::{
    ConnectError, Http1Origin, Http1Request, Http1Sender, HttpClient, PreparedRequest, SendError,
};
use venom_scenario::{ActionSpec, Defaults, Scenario, Vars};

/// Why a request produced no usable response.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The kind counted in the statistics.
    pub kind: ErrorKind,
    /// A one-line description.
    pub message: String,
}

/// A response as the load run needs it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The status.
    pub status: u16,
    /// From the send to the response headers.
    pub ttfb: Duration,
    /// The full response (headers, JSON body) when it was asked for: extraction needs it.
    pub record: Option<ResponseRecord>,
    /// Its chunks and their gaps, when the response was a stream (`http://` APIs).
    pub stream: Option<StreamMeasure>,
}

/// How requests reach the API.
#[derive(Debug)]
pub(crate) struct Transport {
    client: HttpClient,
    direct: Option<Direct>,
    /// By action index: the request, built once, of actions whose request has no placeholder
    /// and no authentication (read from the environment at each request otherwise).
    fixed: Vec<Option<Http1Request>>,
}

impl Transport {
    /// A transport for `client`'s API and `scenario`'s actions: direct connections for
    /// `http://`, the client for `https://`.
    pub(crate) fn new(client: HttpClient, scenario: &Scenario) -> Result<Transport, LoadError> {
        let direct = if client.base_url().starts_with("http://") {
            Some(Direct::new(client.base_url(), &scenario.defaults)?)
        } else {
            None
        };
        let fixed = scenario
            .actions
            .iter()
            .map(|spec| {
                let direct = direct.as_ref()?;
                if !is_fixed(spec, &scenario.defaults) {
                    return None;
                }
                let ctx = Context::new();
                let request = &request_of(spec).request;
                let prepared = client.prepare(request, None, &Vars::new(&ctx)).ok()?;
                direct.parts(prepared).ok()
            })
            .collect();
        Ok(Transport {
            client,
            direct,
            fixed,
        })
    }

    /// Sends `spec` (action number `action`) rendered with `vars` on `connection` (a new one
    /// when it has none or it was closed); `record` asks for the full response.
    pub(crate) async fn send(
        &self,
        (spec, action): (&ActionSpec, usize),
        vars: &Vars<'_>,
        record: bool,
        connection: &mut Connection,
    ) -> Result<Reply, Failure> {
        let Some(direct) = &self.direct else {
            return self.send_with_client(spec, vars, record).await;
        };
        let request = match self.fixed.get(action).and_then(Option::as_ref) {
            Some(fixed) => fixed.to_hyper(),
            None => {
                let prepared = self
                    .client
                    .prepare(&request_of(spec).request, spec.auth.as_ref(), vars)
                    .map_err(failure)?;
                direct.parts(prepared)?.to_hyper()
            }
        };
        direct.send(request, record, connection).await
    }

    /// An idle connection for a new user (or an empty slot, filled at the first request).
    pub(crate) fn checkout(&self) -> Connection {
        Connection(
            self.direct
                .as_ref()
                .and_then(|d| d.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()),
        )
    }

    /// Keeps `connection` for a later user.
    pub(crate) fn checkin(&self, connection: Connection) {
        if let (Some(direct), Some(sender)) = (&self.direct, connection.0) {
            direct
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(sender);
        }
    }

    async fn send_with_client(
        &self,
        spec: &ActionSpec,
        vars: &Vars<'_>,
        record: bool,
    ) -> Result<Reply, Failure> {
        let exchange = self
            .client
            .send(&request_of(spec).request, spec.auth.as_ref(), vars)
            .await
            .map_err(failure)?;
        let response = exchange.response.ok_or_else(|| Failure {
            kind: ErrorKind::Transport,
            message: "no response".into(),
        })?;
        Ok(Reply {
            status: response.status,
            ttfb: Duration::from_secs_f64(response.ttfb_ms.max(0.0) / 1000.0),
            record: record.then_some(response),
            stream: None,
        })
    }
}

/// Whether `spec` always sends the same request: no placeholder in its path, headers (its own
/// and the defaults) or body, and no authentication.
fn is_fixed(spec: &ActionSpec, defaults: &Defaults) -> bool {
    let request = &request_of(spec).request;
    request.path.is_literal()
        && request
            .headers
            .iter()
            .chain(&defaults.headers)
            .all(|(_, t)| t.is_literal())
        && request.body.as_ref().is_none_or(|b| b.is_constant())
        && spec.auth.is_none()
        && defaults.auth.is_none()
}

fn failure(e: SendError) -> Failure {
    let kind = match &e {
        SendError::Build(_) => ErrorKind::Build,
        SendError::Connect { source, .. } if out_of_descriptors(source) => ErrorKind::Client,
        SendError::Connect { .. } => ErrorKind::Connect,
        SendError::Timeout { .. } => ErrorKind::Timeout,
        SendError::Transport { .. } => ErrorKind::Transport,
    };
    Failure {
        kind,
        message: venom_engine::one_line(&e),
    }
}

/// Whether `error` (or one of its causes) is this process running out of file descriptors.
fn out_of_descriptors(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

type Sender = Http1Sender;

/// The keep-alive connection a user sends its requests on, one request at a time (empty until
/// the first request, or after a failure closed it).
#[derive(Default)]
pub(crate) struct Connection(Option<Sender>);

/// Keep-alive HTTP/1.1 connections to one `http://` origin.
struct Direct {
    /// Where connections go and how requests are written.
    origin: Http1Origin,
    /// Connections of users that ended (open model: of finished iterations).
    idle: Mutex<Vec<Sender>>,
    timeout: Duration,
    /// How much of a body is read (`[defaults] max_body_bytes`).
    max_body: usize,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("address", &self.origin.address())
            .finish_non_exhaustive()
    }
}

impl Direct {
    fn new(base_url: &str, defaults: &Defaults) -> Result<Direct, LoadError> {
        let origin = Http1Origin::of(base_url).map_err(|reason| LoadError::BaseUrl {
            base_url: base_url.to_string(),
            reason,
        })?;
        Ok(Direct {
            origin,
            idle: Mutex::new(Vec::new()),
            timeout: defaults.timeout,
            max_body: defaults.max_body_bytes,
        })
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
        record: bool,
        connection: &mut Connection,
    ) -> Result<Reply, Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(request, record, connection)).await {
            Ok(result) => result.map_err(|(kind, message)| Failure { kind, message }),
            Err(_) => Err(Failure {
                kind: ErrorKind::Timeout,
                message: format!("no response within {:?}", self.timeout),
            }),
        }
    }

    /// The request for `prepared` on this origin's connections.
    fn parts(&self, prepared: PreparedRequest) -> Result<Http1Request, Failure> {
        self.origin.request(prepared).map_err(|message| Failure {
            kind: ErrorKind::Build,
            message,
        })
    }

    /// Sends `request` on `connection` (or a new one) and reads the whole response; a request
    /// that a stale kept-alive connection refused before sending is retried once on a new one.
    /// The connection goes back into `connection` only when the exchange completed.
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        record: bool,
        connection: &mut Connection,
    ) -> Result<Reply, (ErrorKind, String)> {
        let kept = match connection.0.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let (mut sender, reused) = match kept {
            Some(sender) => (sender, true),
            None => (self.connect().await?, false),
        };
        let started = Instant::now();
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut e) => match e.take_message() {
                Some(request) if reused => {
                    sender = self.connect().await?;
                    sender
                        .send_request(request)
                        .await
                        .map_err(|e| (ErrorKind::Transport, e.to_string()))?
                }
                _ => return Err((ErrorKind::Transport, e.into_error().to_string())),
            },
        };
        let ttfb = started.elapsed();
        let (parts, mut body) = response.into_parts();
        let mut kept = CappedBody::new(self.max_body);
        // A stream is read to its end, its chunks counted, its bytes beyond the cap dropped.
        let mut stream = StreamReader::of(&parts.headers, started);
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| (ErrorKind::Transport, format!("reading the body: {e}")))?;
            if let Ok(chunk) = frame.into_data() {
                let room = kept.push(&chunk);
                match &mut stream {
                    Some(reader) => reader.frame(&chunk, Instant::now()),
                    None if !room => break,
                    None => {}
                }
            }
        }
        // A connection whose body was left unread cannot carry the next request.
        if stream.is_some() || !kept.truncated() {
            connection.0 = Some(sender);
        }
        let stream = stream.map(|reader| reader.finish(Instant::now()));
        let truncated = kept.truncated();
        let status = parts.status.as_u16();
        Ok(Reply {
            status,
            ttfb,
            record: record.then(|| ResponseRecord {
                status,
                headers: parts
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_string(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: kept.into_value(),
                ttfb_ms: ttfb.as_secs_f64() * 1000.0,
                elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
                truncated,
            }),
            stream,
        })
    }

    /// A new connection (its driver runs as a task until the connection closes).
    async fn connect(&self) -> Result<Sender, (ErrorKind, String)> {
        self.origin.connect().await.map_err(|e| match &e {
            ConnectError::Io(io) if out_of_descriptors(io) => (
                ErrorKind::Client,
                format!("venom cannot open a connection: {e}"),
            ),
            _ => (
                ErrorKind::Connect,
                format!("cannot connect to {}: {e}", self.origin.address()),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{CONTENT_TYPE, HOST};

    #[test]
    fn direct_requests_are_written_for_the_base_url_and_refuse_what_cannot_be() {
        let d = Direct::new("http://127.0.0.1:8080/api", &Defaults::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let prepared = PreparedRequest {
            method: hyper::Method::POST,
            url: "http://127.0.0.1:8080/api/orders?x=1".into(),
            headers: hyper::HeaderMap::new(),
            body: Some(serde_json::json!({"amount": 1})),
        };
        let r = d
            .parts(prepared)
            .unwrap_or_else(|e| panic!("{}", e.message))
            .to_hyper();
        assert_eq!(r.uri(), "/api/orders?x=1");
        assert_eq!(r.headers()[HOST], "127.0.0.1:8080");
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        assert!(matches!(
            Direct::new("http:///nohost", &Defaults::default()),
            Err(LoadError::BaseUrl { .. })
        ));
    }

    #[test]
    fn running_out_of_file_descriptors_is_recognised() {
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert!(out_of_descriptors(&emfile));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!out_of_descriptors(&refused));
    }
}
