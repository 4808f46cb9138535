//! Sending several requests at the same moment: the concurrent steps of exploration.
//!
//! Every request gets a connection of its own, opened (TCP and HTTP/1.1 handshake) before any
//! request is sent; then all of them are released together, so that the server sees them
//! within microseconds of each other rather than a connection set-up apart. `https://` APIs go
//! through the pooled client instead, joined (their connections open as they are sent, so the
//! requests are further apart).

use crate::client::{Credentials, HttpClient, Rendered, SendError};
use crate::http1::{Http1Origin, Http1Sender};
use crate::response::CappedBody;
use futures_util::future::join_all;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use std::time::{Duration, Instant};
use venom_engine::{Exchange, RequestRecord, ResponseRecord, SentTogether};
use venom_scenario::{RequestSpec, Vars};

/// One request of a concurrent step: what to send, as whom, with which values.
pub struct TogetherRequest<'a> {
    /// The request.
    pub spec: &'a RequestSpec,
    /// Its credentials.
    pub credentials: Credentials<'a>,
    /// The values its templates read.
    pub vars: Vars<'a>,
}

impl HttpClient {
    /// Sends `requests` at the same moment and captures each exchange, in the order given,
    /// each with its [`SentTogether`] times. A request that got no usable answer is an
    /// exchange without a response (with why); `Err` is a request that cannot be built (then
    /// none is sent).
    pub async fn send_together(
        &self,
        requests: &[TogetherRequest<'_>],
    ) -> Result<Vec<Exchange>, SendError> {
        let rendered = requests
            .iter()
            .map(|r| self.render(r.spec, r.credentials, &r.vars))
            .collect::<Result<Vec<_>, _>>()?;
        let direct = match self.base_url().starts_with("http://") {
            true => Http1Origin::of(self.base_url()).ok(),
            false => None,
        };
        let exchanges = match direct {
            Some(origin) => self.direct_together(&origin, rendered).await,
            None => self.pooled_together(rendered).await,
        };
        Ok(exchanges)
    }

    /// Each request on a connection of its own, opened first, then all sent at once.
    async fn direct_together(
        &self,
        origin: &Http1Origin,
        rendered: Vec<Rendered>,
    ) -> Vec<Exchange> {
        let records: Vec<RequestRecord> = rendered.iter().map(Rendered::record).collect();
        let timeout = self.timeout();
        let mut senders = Vec::with_capacity(rendered.len());
        for _ in &rendered {
            senders.push(connect(origin, timeout).await);
        }
        let requests: Vec<Result<Request<Full<Bytes>>, String>> = rendered
            .into_iter()
            .map(|r| Ok(origin.request(r.into_prepared())?.to_hyper()))
            .collect();
        let released = Instant::now();
        let max_body = self.max_body();
        let sends = senders.into_iter().zip(requests).map(|(sender, request)| {
            let sent = async move {
                let (mut sender, request) = (sender?, request?);
                let started = Instant::now();
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(|e| format!("the exchange failed: {e}"))?;
                read(response, started, max_body).await
            };
            async move {
                let start = released.elapsed();
                let result = match tokio::time::timeout(timeout, sent).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no response within {timeout:?}")),
                };
                (start, released.elapsed(), result)
            }
        });
        let results = join_all(sends).await;
        records
            .into_iter()
            .zip(results)
            .enumerate()
            .map(|(index, (request, (start, end, result)))| {
                together(index, request, (start, end), result)
            })
            .collect()
    }

    /// Through the pooled client, all futures polled together (`https://`).
    async fn pooled_together(&self, rendered: Vec<Rendered>) -> Vec<Exchange> {
        let released = Instant::now();
        let sends = rendered.into_iter().map(|r| async move {
            let start = released.elapsed();
            let request = r.record();
            let exchange = match self.send_rendered(r).await {
                Ok(exchange) => exchange,
                Err(e) => e.into_unanswered().unwrap_or_else(|build| Exchange {
                    request,
                    response: None,
                    error: Some(build.to_string()),
                    together: None,
                }),
            };
            (start, released.elapsed(), exchange)
        });
        join_all(sends)
            .await
            .into_iter()
            .enumerate()
            .map(|(index, (start, end, mut exchange))| {
                exchange.together = Some(Box::new(times(index, start, end)));
                exchange
            })
            .collect()
    }
}

/// A new HTTP/1.1 connection to `origin` within `timeout`, or why not.
async fn connect(origin: &Http1Origin, timeout: Duration) -> Result<Http1Sender, String> {
    match tokio::time::timeout(timeout, origin.connect()).await {
        Ok(connected) => connected.map_err(|e| format!("cannot connect: {e}")),
        Err(_) => Err(format!("cannot connect within {timeout:?}")),
    }
}

/// Reads a response into its record, keeping at most `max_body` bytes of the body.
async fn read(
    response: hyper::Response<hyper::body::Incoming>,
    started: Instant,
    max_body: usize,
) -> Result<ResponseRecord, String> {
    let ttfb_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (parts, mut body) = response.into_parts();
    let mut kept = CappedBody::new(max_body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        if let Ok(chunk) = frame.into_data() {
            if !kept.push(&chunk) {
                break;
            }
        }
    }
    let truncated = kept.truncated();
    Ok(ResponseRecord {
        status: parts.status.as_u16(),
        headers: crate::response::header_pairs(&parts.headers),
        body: kept.into_value(),
        ttfb_ms,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        truncated,
    })
}

/// The exchange of request number `index` of a concurrent step.
fn together(
    index: usize,
    request: RequestRecord,
    (start, end): (Duration, Duration),
    result: Result<ResponseRecord, String>,
) -> Exchange {
    let (response, error) = match result {
        Ok(response) => (Some(response), None),
        Err(why) => (None, Some(why)),
    };
    Exchange {
        request,
        response,
        error,
        together: Some(Box::new(times(index, start, end))),
    }
}

fn times(index: usize, start: Duration, end: Duration) -> SentTogether {
    SentTogether {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        sent_us: u64::try_from(start.as_micros()).unwrap_or(u64::MAX),
        done_us: u64::try_from(end.as_micros()).unwrap_or(u64::MAX),
    }
}
