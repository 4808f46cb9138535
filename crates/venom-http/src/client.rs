//! The pooled HTTP client that sends scenario requests and captures each exchange.

use crate::response::read_response;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use std::time::{Duration, Instant};
use venom_engine::{Exchange, RequestRecord};
use venom_scenario::{AuthSpec, Defaults, RequestSpec, Vars};

/// The connection pool behind a client. Redirects are answers: a step that answered 302 is
/// reported as 302, never as the status of a hop the client took silently.
fn pool(timeout: Duration, max_idle: usize) -> Result<reqwest::Client, SendError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .build()
        .map_err(|e| SendError::Build(format!("cannot create the HTTP client: {e}")))
}

/// Header values shown in reports instead of secrets.
const REDACTED: &str = "<redacted>";

/// Why a request could not produce a response. Exhaustive on purpose: callers (load mode's
/// error kinds) classify every variant.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request could not be built: a template or expression failed, or an environment
    /// variable holding a secret is missing.
    #[error("{0}")]
    Build(String),
    /// Nothing listens at the address, or the connection was refused or reset before a response.
    #[error("{} {}: cannot connect", request.method, request.url)]
    Connect {
        /// The request as it would have been sent.
        request: RequestRecord,
        /// The client's error (without the URL, said above).
        #[source]
        source: reqwest::Error,
    },
    /// No complete response arrived within the timeout; the request as sent is kept.
    #[error("{} {}: no response within {timeout:?}", request.method, request.url)]
    Timeout {
        /// The request as sent.
        request: RequestRecord,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// Any other transport failure: an invalid answer, a connection closed mid-answer, a body
    /// cut short.
    #[error("{} {}: the exchange failed", request.method, request.url)]
    Transport {
        /// The request as sent.
        request: RequestRecord,
        /// The client's error (without the URL, said above).
        #[source]
        source: reqwest::Error,
    },
}

impl SendError {
    /// The exchange of a request that got no usable answer (it could not connect, timed out,
    /// or the answer was invalid or cut short), with why in [`Exchange::error`]; `Err(self)`
    /// for a request that could not be built.
    pub fn into_unanswered(self) -> Result<Exchange, SendError> {
        let (request, error) = match self {
            SendError::Timeout { request, timeout } => {
                (request, format!("no response within {timeout:?}"))
            }
            SendError::Connect { request, source } => {
                let error = format!("cannot connect: {}", venom_engine::one_line(&source));
                (request, error)
            }
            SendError::Transport { request, source } => {
                let error = venom_engine::one_line(&source);
                (request, error)
            }
            build @ SendError::Build(_) => return Err(build),
        };
        Ok(Exchange {
            request,
            response: None,
            error: Some(error),
            together: None,
        })
    }
}

/// Whether `error` is a connection that closed before any byte of the answer arrived: what a
/// kept-alive connection gives when the server closed it as the request went out.
fn closed_before_answer(error: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            return hyper.is_incomplete_message();
        }
        next = e.source();
    }
    false
}

/// Nothing answers at the API's `base_url`.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot reach the API at base_url {base_url} (is it running? declare [server] to let venom \
     start it)"
)]
pub struct Unreachable {
    /// The API's base URL.
    pub base_url: String,
    /// Why the probe got no answer.
    #[source]
    pub source: reqwest::Error,
}

/// How long an idle connection is kept for reuse: below the keep-alive timeouts servers
/// commonly use (Node 5 s, gunicorn 2 s), so that the client seldom reuses one the server is
/// closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// A pooled client bound to one API: base URL, default headers, authentication and timeout.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_idle: usize,
    base_url: String,
    defaults: Defaults,
}

impl HttpClient {
    /// A client for the API at `base_url` with the scenario's request `defaults`.
    pub fn new(base_url: &str, defaults: &Defaults) -> Result<HttpClient, SendError> {
        Self::with_pool(base_url, defaults, 64)
    }

    /// [`HttpClient::new`] keeping up to `max_idle` idle connections open for reuse (a load run
    /// keeps one per concurrent user, so that no request pays for a new connection).
    pub fn with_pool(
        base_url: &str,
        defaults: &Defaults,
        max_idle: usize,
    ) -> Result<HttpClient, SendError> {
        Ok(HttpClient {
            client: pool(defaults.timeout, max_idle)?,
            max_idle,
            base_url: base_url.trim_end_matches('/').to_string(),
            defaults: defaults.clone(),
        })
    }

    /// Drops every kept connection: after the server restarted or stayed idle (a slow reset
    /// command), the next request opens a fresh one.
    pub fn reconnect(&mut self) -> Result<(), SendError> {
        self.client = pool(self.defaults.timeout, self.max_idle)?;
        Ok(())
    }

    /// The API's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Renders `spec` with `vars`, sends it (with `auth`, or the default authentication) and
    /// captures the exchange. Statuses of any value are responses, not errors.
    pub async fn send(
        &self,
        spec: &RequestSpec,
        auth: Option<&AuthSpec>,
        vars: &Vars<'_>,
    ) -> Result<Exchange, SendError> {
        self.send_as(spec, Credentials::Auth(auth), vars).await
    }

    /// [`HttpClient::send`] with `credentials`: an authentication, or the headers of a role's
    /// session (secret: redacted in the exchange, like authentication).
    pub async fn send_as(
        &self,
        spec: &RequestSpec,
        credentials: Credentials<'_>,
        vars: &Vars<'_>,
    ) -> Result<Exchange, SendError> {
        let rendered = self.render(spec, credentials, vars)?;
        self.send_rendered(rendered).await
    }

    /// Sends a rendered request and captures the exchange.
    pub(crate) async fn send_rendered(&self, request: Rendered) -> Result<Exchange, SendError> {
        let record = request.record();
        let mut builder = self
            .client
            .request(request.method.clone(), &request.url)
            .headers(request.headers);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let request = builder
            .build()
            .map_err(|e| self.classify(e, record.clone()))?;
        let retry = request.try_clone();
        let mut started = Instant::now();
        let response = match (self.client.execute(request).await, retry) {
            // Sent once more, on a new connection: the server closed the one reused.
            (Err(e), Some(retry)) if closed_before_answer(&e) => {
                started = Instant::now();
                self.client.execute(retry).await
            }
            (answered, _) => answered,
        }
        .map_err(|e| self.classify(e, record.clone()))?;
        let response = read_response(response, started, self.defaults.max_body_bytes)
            .await
            .map_err(|e| self.classify(e, record.clone()))?;
        Ok(Exchange {
            request: record,
            response: Some(response),
            error: None,
            together: None,
        })
    }

    /// How long a request may wait for its whole answer.
    pub(crate) fn timeout(&self) -> Duration {
        self.defaults.timeout
    }

    /// How much of a response body is kept.
    pub(crate) fn max_body(&self) -> usize {
        self.defaults.max_body_bytes
    }

    /// Renders `spec` with `vars` and `auth` (or the default authentication) into the request
    /// [`HttpClient::send`] would send, for callers that bring their own transport (load runs).
    pub fn prepare(
        &self,
        spec: &RequestSpec,
        auth: Option<&AuthSpec>,
        vars: &Vars<'_>,
    ) -> Result<PreparedRequest, SendError> {
        Ok(self
            .render(spec, Credentials::Auth(auth), vars)?
            .into_prepared())
    }

    /// Sends `GET /` and fails when nothing answers at the base URL: a connection that cannot
    /// be made or breaks before a response. Any status, a timeout or a request that cannot be
    /// built (a default header's template) count as reachable.
    pub async fn probe(&self) -> Result<(), Unreachable> {
        let probe = RequestSpec {
            method: "GET".into(),
            path: venom_scenario::Template::literal("/"),
            body: None,
            headers: Vec::new(),
        };
        let ctx = venom_engine::Context::new();
        match self.send(&probe, None, &Vars::new(&ctx)).await {
            Ok(_) | Err(SendError::Timeout { .. }) | Err(SendError::Build(_)) => Ok(()),
            Err(SendError::Connect { source, .. }) | Err(SendError::Transport { source, .. }) => {
                Err(Unreachable {
                    base_url: self.base_url.clone(),
                    source,
                })
            }
        }
    }

    fn classify(&self, err: reqwest::Error, request: RequestRecord) -> SendError {
        let source = err.without_url();
        if source.is_timeout() {
            SendError::Timeout {
                request,
                timeout: self.defaults.timeout,
            }
        } else if source.is_connect() {
            SendError::Connect { request, source }
        } else {
            SendError::Transport { request, source }
        }
    }

    pub(crate) fn render(
        &self,
        spec: &RequestSpec,
        credentials: Credentials<'_>,
        vars: &Vars<'_>,
    ) -> Result<Rendered, SendError> {
        let method = reqwest::Method::from_bytes(spec.method.as_bytes())
            .map_err(|e| SendError::Build(format!("invalid method `{}`: {e}", spec.method)))?;
        let path = spec
            .path
            .render(vars)
            .map_err(|e| SendError::Build(format!("rendering the path: {e}")))?;
        let url = format!("{}{}", self.base_url, path);
        let mut rendered = Rendered {
            method,
            url,
            headers: reqwest::header::HeaderMap::new(),
            secret_headers: Vec::new(),
            body: None,
        };
        for (name, template) in self.defaults.headers.iter().chain(&spec.headers) {
            let value = template
                .render(vars)
                .map_err(|e| SendError::Build(format!("rendering header `{name}`: {e}")))?;
            rendered.insert(name, &value, false)?;
        }
        match credentials {
            Credentials::Auth(auth) => {
                if let Some(auth) = auth.or(self.defaults.auth.as_ref()) {
                    let (name, value) = auth_header(auth)?;
                    rendered.insert(&name, &value, true)?;
                }
            }
            Credentials::Session(headers) => {
                for (name, value) in headers {
                    rendered.insert(name, value, true)?;
                }
            }
        }
        if let Some(body) = &spec.body {
            rendered.body = Some(
                body.render(vars)
                    .map_err(|e| SendError::Build(format!("rendering the body: {e}")))?,
            );
        }
        Ok(rendered)
    }
}

/// What identifies the sender of a request. Not `Debug`: a session's headers are secrets.
#[derive(Clone, Copy)]
pub enum Credentials<'a> {
    /// An authentication (`None`: the scenario's default one, if any).
    Auth(Option<&'a AuthSpec>),
    /// The headers of a role's session, in place of any authentication.
    Session(&'a [(String, String)]),
}

/// A rendered request: method, absolute URL, default and action headers with authentication,
/// and the JSON body (sent with `content-type: application/json`).
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// The method.
    pub method: reqwest::Method,
    /// The absolute URL (`base_url` + rendered path).
    pub url: String,
    /// Headers, secrets included.
    pub headers: reqwest::header::HeaderMap,
    /// The JSON body, if any.
    pub body: Option<serde_json::Value>,
}

/// A request ready to send.
pub(crate) struct Rendered {
    method: reqwest::Method,
    url: String,
    headers: reqwest::header::HeaderMap,
    secret_headers: Vec<HeaderName>,
    body: Option<serde_json::Value>,
}

impl Rendered {
    /// Sets header `name` (replacing an earlier value of the same name).
    fn insert(&mut self, name: &str, value: &str, secret: bool) -> Result<(), SendError> {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| SendError::Build(format!("invalid header name `{name}`: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| SendError::Build(format!("invalid value for header `{name}`: {e}")))?;
        if secret {
            self.secret_headers.push(header.clone());
        }
        self.headers.insert(header, value);
        Ok(())
    }

    /// The request itself, for a transport of the caller's.
    pub(crate) fn into_prepared(self) -> PreparedRequest {
        PreparedRequest {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
        }
    }

    /// What the report shows of the request: secrets redacted.
    pub(crate) fn record(&self) -> RequestRecord {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if self.secret_headers.contains(name) {
                    REDACTED.to_string()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_string(), shown)
            })
            .collect();
        if self.body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        RequestRecord {
            method: self.method.as_str().to_string(),
            url: self.url.clone(),
            headers,
            body: self.body.clone(),
        }
    }
}

/// The header carrying `auth`, with its secret read from the environment.
fn auth_header(auth: &AuthSpec) -> Result<(String, String), SendError> {
    Ok(match auth {
        AuthSpec::Bearer { env } => ("authorization".into(), format!("Bearer {}", secret(env)?)),
        AuthSpec::Basic {
            user_env,
            password_env,
        } => {
            let credentials = format!("{}:{}", secret(user_env)?, secret(password_env)?);
            (
                "authorization".into(),
                format!("Basic {}", BASE64.encode(credentials)),
            )
        }
        AuthSpec::Header { header, value_env } => (header.clone(), secret(value_env)?),
    })
}

fn secret(var: &str) -> Result<String, SendError> {
    std::env::var(var).map_err(|_| {
        SendError::Build(format!(
            "environment variable `{var}` (used for authentication) is not set"
        ))
    })
}
