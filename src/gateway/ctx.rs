//! The per-request context: everything one request learns on its way, read by `logging`.

use super::endpoint::Endpoint;
use super::snapshot::Snapshot;
use crate::protocol::ir::Protocol;
use crate::protocol::usage::Usage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One upstream attempt as it ended.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    /// The channel label.
    pub channel: String,
    /// `ok`, `status_503`, `connect_error`, …
    pub outcome: String,
}

/// State of one request.
pub struct RequestCtx {
    /// When the request head was read.
    pub started: Instant,
    /// The id echoed in `x-request-id` and every error body.
    pub request_id: String,
    /// The snapshot this request uses from start to end.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The recognised endpoint.
    pub endpoint: Option<Endpoint>,
    /// The client's protocol: its errors are rendered in that protocol's envelope.
    pub inbound: Protocol,
    /// The authenticated key's name.
    pub key_name: Option<String>,
    /// The public model id.
    pub model: Option<String>,
    /// The channel that answered, or the last one tried.
    pub channel: Option<String>,
    /// Every attempt in order.
    pub attempts: Vec<AttemptRecord>,
    /// Whether the answer is streamed.
    pub stream: bool,
    /// Status sent to the client.
    pub status: u16,
    /// Time to the first answer byte written to the client.
    pub ttft: Option<Duration>,
    /// Usage the upstream reported.
    pub usage: Option<Usage>,
    /// Why the request failed (message of the error sent, or of a broken stream).
    pub error: Option<String>,
}

impl RequestCtx {
    /// A fresh context for a request whose head was just read.
    pub fn new() -> Self {
        RequestCtx {
            started: Instant::now(),
            request_id: String::new(),
            snapshot: None,
            endpoint: None,
            inbound: Protocol::OpenAiChat,
            key_name: None,
            model: None,
            channel: None,
            attempts: Vec::new(),
            stream: false,
            status: 0,
            ttft: None,
            usage: None,
            error: None,
        }
    }

    /// Marks the first answer byte as sent now (only the first call counts).
    pub fn mark_first_byte(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.started.elapsed());
        }
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
