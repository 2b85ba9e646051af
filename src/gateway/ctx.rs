//! The per-request context: everything one request learns on its way, read by `logging`.

use super::snapshot::Snapshot;
use crate::account::RateHeaders;
use crate::config::{Money, Price};
use crate::protocol::dialect::Operation;
use crate::protocol::ir::Protocol;
use crate::protocol::usage::Usage;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::telemetry::access_log::AttemptRecord;

/// State of one request.
pub struct RequestCtx {
    /// When the request head was read.
    pub started: Instant,
    /// The id echoed in `x-request-id` and every error body.
    pub request_id: String,
    /// The snapshot this request uses from start to end.
    pub snapshot: Option<Arc<Snapshot>>,
    /// The recognised operation (`None` for the gateway's own routes and unknown ones).
    pub operation: Option<Operation>,
    /// A stable name of what was asked (`chat_completions`, `health`, …) for logs and metrics.
    pub endpoint: Option<&'static str>,
    /// The client's protocol: its errors are rendered in that protocol's envelope.
    pub inbound: Protocol,
    /// The authenticated key's name.
    pub key_name: Option<String>,
    /// The public model id.
    pub model: Option<String>,
    /// The channel that answered, or the last one tried.
    pub channel: Option<String>,
    /// The provider of that channel.
    pub provider: Option<String>,
    /// Every attempt in order.
    pub attempts: Vec<AttemptRecord>,
    /// Time spent inside upstream attempts, summed (for the gateway-overhead metric).
    pub upstream_time: Duration,
    /// Whether the answer is streamed.
    pub stream: bool,
    /// Status sent to the client.
    pub status: u16,
    /// Time to the first answer byte written to the client.
    pub ttft: Option<Duration>,
    /// Usage the upstream reported.
    pub usage: Option<Usage>,
    /// Why the request failed, with every detail (for the log only).
    pub error: Option<String>,
    /// What conversions changed or dropped (their codes).
    pub warnings: Vec<&'static str>,
    /// The upstream's own finish reason, as it sent it.
    pub finish_reason: Option<String>,
    /// The upstream's own request id (for support tickets with the provider).
    pub upstream_request_id: Option<String>,
    /// The client hung up mid-stream (usage was read from the upstream afterwards).
    pub aborted: bool,
    /// The committed stream failed before its end (a cut, a stall, an in-stream error): held
    /// against the channel's health after the relay.
    pub stream_failed: bool,
    /// The tightest rate limit's figures, sent as `X-RateLimit-*` on every answer once
    /// admission ran (refusals included).
    pub rate_headers: Option<RateHeaders>,
    /// The request is paid from a prepaid balance (a reservation was taken).
    pub billed: bool,
    /// The model's prices for this account's group, when it has any.
    pub price: Option<Price>,
    /// Images the request asks to generate (priced per image).
    pub images: u64,
    /// Output tokens delivered to the client, counted by the tokenizer (billed streams only),
    /// for the estimate when no usage ever arrives.
    pub delivered_tokens: Option<u64>,
    /// What settlement charged.
    pub charge: Option<Money>,
    /// The id a billed request's reservation and usage entry go by: the request id when the
    /// gateway made it, a fresh one when the client sent its own `x-request-id` (a client must
    /// never be able to name another request's settlement).
    pub billing_id: String,
}

impl RequestCtx {
    /// A fresh context for a request whose head was just read.
    pub fn new() -> Self {
        RequestCtx {
            started: Instant::now(),
            request_id: String::new(),
            snapshot: None,
            operation: None,
            endpoint: None,
            inbound: Protocol::OpenAiChat,
            key_name: None,
            model: None,
            channel: None,
            provider: None,
            attempts: Vec::new(),
            upstream_time: Duration::ZERO,
            stream: false,
            status: 0,
            ttft: None,
            usage: None,
            error: None,
            warnings: Vec::new(),
            finish_reason: None,
            upstream_request_id: None,
            aborted: false,
            stream_failed: false,
            rate_headers: None,
            billed: false,
            price: None,
            images: 0,
            delivered_tokens: None,
            charge: None,
            billing_id: String::new(),
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
