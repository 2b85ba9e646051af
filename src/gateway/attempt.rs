//! The attempt loop: try each planned channel until one answers, before any byte reaches the
//! client, so failover is invisible to it.
//!
//! A connect error, a timeout, 429, 5xx (and 401/403 on the channel's own credentials) move on
//! to the next channel. A stream is committed only after its first event arrived and was not an
//! error, so a provider that fails at the start of a stream is failed over too. Once something
//! is returned from here, it goes to the client: nothing is ever replayed after that.

use super::ctx::{AttemptRecord, RequestCtx};
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::Protocol;
use crate::protocol::sse::{SseDecoder, SseEvent};
use crate::routing::catalog::Channel;
use crate::upstream::dns::DnsCache;
use crate::upstream::exchange::{self, Deadlines, Exchange, OutgoingRequest};
use crate::upstream::outcome::{status_is_retryable, AttemptError};
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;

/// The most of an upstream error body kept for the client's message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The largest non-stream upstream response accepted.
const RESPONSE_LIMIT: usize = 64 * 1024 * 1024;

/// Shared upstream plumbing: one connection pool and one DNS cache for every request.
pub struct Upstreams {
    /// Pingora's pooled connector.
    pub connector: Connector,
    /// Async DNS with TTL cache.
    pub dns: DnsCache,
    /// Signed reasoning kept for clients that cannot carry it.
    pub signatures: std::sync::Arc<crate::store::signatures::SignatureStore>,
}

/// One channel's upstream request, built by the endpoint handler.
pub struct Prepared {
    /// The protocol the upstream speaks.
    pub protocol: Protocol,
    /// Path and query below the provider's host.
    pub path: String,
    /// The body.
    pub body: Bytes,
    /// Auth and protocol headers (`authorization`, `x-api-key`, `anthropic-version`, …).
    pub headers: Vec<(&'static str, String)>,
}

/// What one upstream request needs besides the channel.
pub struct Call<'a> {
    /// Whether a stream is expected.
    pub stream: bool,
    /// Builds the upstream request for a channel (model id, protocol and path differ per channel).
    pub prepare: &'a (dyn Fn(&Channel, &ProviderRuntime) -> Result<Prepared, ApiError> + Sync),
}

/// The answer a channel committed to.
pub enum Committed {
    /// A whole 2xx body.
    Whole {
        /// The upstream's protocol.
        protocol: Protocol,
        /// The upstream response head.
        head: ResponseHeader,
        /// The body.
        body: Bytes,
    },
    /// A stream whose first events have arrived.
    Stream {
        /// The upstream's protocol.
        protocol: Protocol,
        /// The open exchange, positioned after `first`.
        exchange: Box<Exchange>,
        /// The peer, to release the connection to the pool at the end.
        peer: Box<HttpPeer>,
        /// The decoder, holding any partial event.
        decoder: SseDecoder,
        /// Events read before committing.
        first: Vec<SseEvent>,
    },
    /// A non-retryable error from the upstream (a 4xx about the request itself).
    Rejected(ApiError),
}

enum LastFailure {
    None,
    Transport,
    Status { protocol: Protocol, status: u16, body: Bytes, retry_after: Option<String> },
}

/// Tries `plan` in order; returns the first committed answer or the error for the client.
pub async fn run(
    upstreams: &Upstreams,
    snapshot: &Snapshot,
    plan: &[&Channel],
    call: &Call<'_>,
    ctx: &mut RequestCtx,
) -> Result<Committed, ApiError> {
    let mut last = LastFailure::None;
    let mut summary = Vec::with_capacity(plan.len());
    for channel in plan {
        let Some(provider) = snapshot.providers.get(channel.provider) else { continue };
        ctx.channel = Some(channel.label.clone());
        let prepared = (call.prepare)(channel, provider)?;
        let outcome = attempt(upstreams, provider, call.stream, prepared).await;
        let label = match &outcome {
            Ok(AttemptResult::Committed(_)) => "ok".to_owned(),
            Ok(AttemptResult::RetryableStatus { status, .. }) => format!("status_{status}"),
            Err(e) => e.label().to_owned(),
        };
        ctx.attempts.push(AttemptRecord { channel: channel.label.clone(), outcome: label });
        match outcome {
            Ok(AttemptResult::Committed(c)) => return Ok(c),
            Ok(AttemptResult::RetryableStatus { protocol, status, body, retry_after }) => {
                summary.push(format!("{}: HTTP {status}", channel.label));
                last = LastFailure::Status { protocol, status, body, retry_after };
            }
            Err(e) => {
                summary.push(format!("{}: {e}", channel.label));
                last = LastFailure::Transport;
            }
        }
    }
    Err(exhausted(ctx.model.as_deref().unwrap_or(""), last, &summary))
}

// Built and moved once per attempt: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum AttemptResult {
    Committed(Committed),
    RetryableStatus { protocol: Protocol, status: u16, body: Bytes, retry_after: Option<String> },
}

async fn attempt(upstreams: &Upstreams, provider: &ProviderRuntime, stream: bool, prepared: Prepared) -> Result<AttemptResult, AttemptError> {
    let target = &provider.target;
    let addr = upstreams.dns.resolve(&target.host, target.port).await.map_err(|e| AttemptError::Connect(e.to_string()))?;
    let peer = Box::new(exchange::peer(addr, &provider.target, provider.timeouts.connect));
    let protocol = prepared.protocol;
    let header = request_head(provider, stream, &prepared).map_err(|e| AttemptError::Send(e.to_string()))?;
    let request = OutgoingRequest { header, body: prepared.body };
    let deadlines = Deadlines { first_byte: provider.timeouts.first_byte, idle: provider.timeouts.idle };
    let mut ex = exchange::send(&upstreams.connector, &peer, &request, deadlines).await?;
    let status = ex.status();
    if status_is_retryable(status) {
        let retry_after = ex.header_str("retry-after").map(str::to_owned);
        let body = ex.read_to_end(ERROR_BODY_LIMIT).await.unwrap_or_default();
        ex.release(&upstreams.connector, &peer).await;
        return Ok(AttemptResult::RetryableStatus { protocol, status, body, retry_after });
    }
    if !(200..300).contains(&status) {
        let retry_after = ex.header_str("retry-after").map(str::to_owned);
        let body = ex.read_to_end(ERROR_BODY_LIMIT).await?;
        ex.release(&upstreams.connector, &peer).await;
        let err = ApiError::from_upstream(protocol, status, &body, retry_after.as_deref());
        return Ok(AttemptResult::Committed(Committed::Rejected(err)));
    }
    if stream {
        let mut decoder = SseDecoder::new();
        let mut first = Vec::new();
        while first.is_empty() {
            match ex.read_chunk().await? {
                Some(chunk) => decoder.feed_with(&chunk, |e| first.push(e)),
                None => return Err(AttemptError::Read("the stream ended before its first event".into())),
            }
        }
        if let Some(err) = first.first().filter(|e| is_error_event(e)) {
            return Err(AttemptError::Read(format!("the stream began with an error: {}", err.data)));
        }
        return Ok(AttemptResult::Committed(Committed::Stream { protocol, exchange: Box::new(ex), peer, decoder, first }));
    }
    let body = ex.read_to_end(RESPONSE_LIMIT).await?;
    let Some(head) = ex.header().cloned() else {
        return Err(AttemptError::Read("no response head".into()));
    };
    ex.release(&upstreams.connector, &peer).await;
    Ok(AttemptResult::Committed(Committed::Whole { protocol, head, body }))
}

fn is_error_event(event: &SseEvent) -> bool {
    event.data.trim_start().starts_with("{\"error\"") || event.event.as_deref() == Some("error")
}

fn request_head(provider: &ProviderRuntime, stream: bool, prepared: &Prepared) -> pingora::Result<RequestHeader> {
    let mut head = RequestHeader::build_no_case("POST", prepared.path.as_bytes(), Some(6 + prepared.headers.len()))?;
    head.insert_header("host", provider.target.authority.as_str())?;
    head.insert_header("content-type", "application/json")?;
    head.insert_header("content-length", prepared.body.len())?;
    head.insert_header("accept", if stream { "text/event-stream" } else { "application/json" })?;
    head.insert_header("user-agent", concat!("switchyard/", env!("CARGO_PKG_VERSION")))?;
    for (name, value) in &prepared.headers {
        head.insert_header(*name, value.as_str())?;
    }
    Ok(head)
}

fn exhausted(model: &str, last: LastFailure, summary: &[String]) -> ApiError {
    let tried = summary.join("; ");
    match last {
        LastFailure::Status { protocol, status, body, retry_after } => {
            let upstream = ApiError::from_upstream(protocol, status, &body, retry_after.as_deref());
            if status == 401 || status == 403 {
                // The gateway's own provider credentials were refused: not the client's fault.
                return ApiError::new(ErrorClass::Server, format!("upstream refused the gateway's credentials ({tried})"))
                    .with_status(502)
                    .with_code("upstream_auth_failed");
            }
            // The status is kept (529 included); each inbound renderer maps it for its clients.
            ApiError { message: format!("{} (tried: {tried})", upstream.message), ..upstream }
        }
        LastFailure::Transport | LastFailure::None => {
            let message = if summary.is_empty() {
                format!("no available channel for model `{model}`")
            } else {
                format!("no available channel for model `{model}`: every channel failed ({tried})")
            };
            ApiError::new(ErrorClass::Unavailable, message).with_code("no_available_channel")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausted_keeps_last_status_or_says_no_channel() {
        let e = exhausted("m", LastFailure::Status { protocol: Protocol::OpenAiChat, status: 429, body: Bytes::new(), retry_after: Some("3".into()) }, &["a: HTTP 429".into()]);
        assert_eq!((e.status, e.retry_after), (429, Some(3)));
        let e = exhausted("m", LastFailure::Status { protocol: Protocol::Anthropic, status: 529, body: Bytes::from_static(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#), retry_after: None }, &[]);
        assert_eq!((e.status, e.status_for_openai(), e.class), (529, 503, ErrorClass::Unavailable));
        assert!(e.message.starts_with("Overloaded"));
        let e = exhausted("m", LastFailure::Transport, &["a: connect failed: refused".into()]);
        assert_eq!((e.status, e.code.as_deref()), (503, Some("no_available_channel")));
        assert!(e.message.contains("refused"));
        let e = exhausted("m", LastFailure::Status { protocol: Protocol::OpenAiChat, status: 401, body: Bytes::new(), retry_after: None }, &[]);
        assert_eq!(e.status, 502);
    }
}
