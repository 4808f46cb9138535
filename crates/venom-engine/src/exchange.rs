//! Captured request/response pairs, kept for reports and replays.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request sent to the system and the response it got (if any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// What was sent.
    pub request: RequestRecord,
    /// What came back; `None` when no response arrived.
    pub response: Option<ResponseRecord>,
    /// Why no response arrived (a timeout, a connection closed mid-answer, an invalid answer…).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Set on the requests of a concurrent step (sent together): which one it was and when it
    /// went out and ended.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub together: Option<Box<SentTogether>>,
}

/// When a request of a concurrent step went out and when its exchange ended, in microseconds
/// since the step released its requests together (their connections already open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentTogether {
    /// Its place among the step's requests (0-based).
    pub index: u32,
    /// When it was handed to its connection.
    pub sent_us: u64,
    /// When its answer was read (or it failed).
    pub done_us: u64,
}

/// A request as it was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// HTTP method (or another protocol's verb).
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers in the order they were sent (secrets redacted by the sender).
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub body: Option<Value>,
}

/// A response as it was received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// Status code.
    pub status: u16,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// JSON body, or the text as a JSON string when it is not JSON, or null when empty.
    pub body: Value,
    /// Time from sending the request to the response headers (time to first byte).
    pub ttfb_ms: f64,
    /// Time from sending the request to the end of the body.
    pub elapsed_ms: f64,
    /// Whether the body was longer than the client keeps (`[defaults] max_body_bytes`): `body`
    /// then holds its beginning only, as text.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub truncated: bool,
}
