//! The attempt loop: try each planned channel until one answers, before any byte reaches the
//! client, so failover is invisible to it.
//!
//! A connect error, a timeout, 429, 5xx (and 401/403 on the channel's own credentials) move on
//! to the next channel. A stream is committed only at its first event that carries content or
//! ends it; the events before (role chunk, `message_start`, `ping`) are held, so an error, a cut
//! or a stall before that point is failed over too. Once an answer is returned from here, it goes
//! to the client: nothing is ever replayed after that. Every attempt reports its verdict to the
//! channel health book; the plan, the attempt budget and the first-byte deadline bound the loop.
//!
//! What is expected back is a type ([`Whole`] or [`Streamed`]), so a caller that asked for a whole
//! answer can never be handed a stream.

use super::ctx::{AttemptRecord, RequestCtx};
use super::failure::{logged_body, Failure, UpstreamError};
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::protocol::dialect::{Dialect, EventRole};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::Warning;
use crate::protocol::sse::{SseDecoder, SseEvent};
use crate::routing::catalog::Channel;
use crate::routing::health::{HealthBook, Transition, Verdict};
use crate::routing::plan::Plan;
use crate::upstream::exchange::{self, Deadlines, Exchange, OutgoingRequest};
use crate::upstream::outcome::{self, status_is_retryable, AttemptError};
use crate::upstream::pool::Upstreams;
use crate::upstream::target::Target;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::upstreams::peer::HttpPeer;
use std::future::Future;
use std::time::Instant;

/// The most of an upstream error body read.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The most stream bytes held back before the first content; past it the stream is committed.
const HOLD_LIMIT: usize = 64 * 1024;
/// The largest non-stream upstream response accepted.
const RESPONSE_LIMIT: usize = 64 * 1024 * 1024;

/// One channel's upstream request.
pub struct Prepared {
    /// The protocol the upstream is called in.
    pub dialect: &'static dyn Dialect,
    /// Path and query below the provider's host.
    pub path: String,
    /// The body.
    pub body: Bytes,
    /// Auth and protocol headers.
    pub headers: Vec<(&'static str, String)>,
    /// What the conversion for this channel changed or dropped.
    pub warnings: Vec<Warning>,
}

/// Builds each channel's upstream request from one client request (model id, protocol and path
/// differ per channel).
pub trait UpstreamCall: Sync {
    /// The request for `channel` of `provider`; an error here goes to the client as is.
    fn prepare(&self, channel: &Channel, provider: &ProviderRuntime) -> impl Future<Output = Result<Prepared, Failure>> + Send;
}

/// What a caller expects back from a channel, and how it is read before committing.
pub trait Expect {
    /// The committed answer.
    type Answer: Send;
    /// Whether the request asks for a stream (sets `Accept`).
    const STREAM: bool;
    /// Reads a 2xx answer far enough to commit to it.
    fn accept(
        upstreams: &Upstreams,
        dialect: &'static dyn Dialect,
        exchange: Exchange,
        peer: Box<HttpPeer>,
        max_event_bytes: usize,
    ) -> impl Future<Output = Result<Self::Answer, AttemptError>> + Send;
}

/// A whole answer is expected.
pub struct Whole;
/// A stream is expected.
pub struct Streamed;

/// A whole 2xx answer.
pub struct WholeAnswer {
    /// The upstream's protocol.
    pub dialect: &'static dyn Dialect,
    /// The upstream response head.
    pub head: ResponseHeader,
    /// The body.
    pub body: Bytes,
}

/// A stream whose first events have arrived.
pub struct StreamAnswer {
    /// The upstream's protocol.
    pub dialect: &'static dyn Dialect,
    /// The open exchange, positioned after `first`.
    pub exchange: Box<Exchange>,
    /// The peer, to release the connection to the pool at the end.
    pub peer: Box<HttpPeer>,
    /// The decoder, holding any partial event.
    pub decoder: SseDecoder,
    /// Events read before committing.
    pub first: Vec<SseEvent>,
}

impl Expect for Whole {
    type Answer = WholeAnswer;
    const STREAM: bool = false;

    async fn accept(
        upstreams: &Upstreams,
        dialect: &'static dyn Dialect,
        mut ex: Exchange,
        peer: Box<HttpPeer>,
        _max_event_bytes: usize,
    ) -> Result<WholeAnswer, AttemptError> {
        let body = ex.read_to_end(RESPONSE_LIMIT).await?;
        let Some(head) = ex.header().cloned() else {
            return Err(AttemptError::Read("no response head".into()));
        };
        ex.release(&upstreams.connector, &peer).await;
        Ok(WholeAnswer { dialect, head, body })
    }
}

impl Expect for Streamed {
    type Answer = StreamAnswer;
    const STREAM: bool = true;

    /// Reads and holds events until the first one that carries content or ends the answer (the
    /// dialect judges each): an error, a cut or a stall before that point fails the attempt, so
    /// the next channel is tried without the client seeing a byte. At most [`HOLD_LIMIT`] bytes
    /// are held; past them the stream is committed as it is.
    async fn accept(
        _upstreams: &Upstreams,
        dialect: &'static dyn Dialect,
        mut ex: Exchange,
        peer: Box<HttpPeer>,
        max_event_bytes: usize,
    ) -> Result<StreamAnswer, AttemptError> {
        let mut decoder = SseDecoder::with_limit(max_event_bytes);
        let mut first: Vec<SseEvent> = Vec::new();
        let mut held = 0usize;
        let mut committed = false;
        while !committed {
            let Some(chunk) = ex.read_chunk().await? else {
                return Err(AttemptError::Read("the stream ended before its first content".into()));
            };
            let mut fresh = Vec::new();
            decoder.feed_with(&chunk, |e| fresh.push(e)).map_err(|_| AttemptError::TooLarge(max_event_bytes))?;
            for event in fresh {
                if !committed {
                    match dialect.event_role(&event) {
                        EventRole::Error => return Err(AttemptError::StreamError(event.data)),
                        EventRole::Content | EventRole::Terminal => committed = true,
                        EventRole::Preamble => {}
                    }
                }
                held += event.data.len();
                first.push(event);
            }
            committed |= held > HOLD_LIMIT;
        }
        Ok(StreamAnswer { dialect, exchange: Box::new(ex), peer, decoder, first })
    }
}

/// The committed answer and what the relay needs to know about how it was reached.
pub struct Answered<A> {
    /// The answer.
    pub answer: A,
    /// What the answering channel's conversion changed.
    pub warnings: Vec<Warning>,
}

enum Tried<A> {
    Committed(A),
    /// A non-2xx answer: retryable (try the next channel) or about the request (give up).
    Status {
        status: u16,
        body: Bytes,
        retry_after: Option<String>,
        dialect: &'static dyn Dialect,
    },
}

enum LastFailure {
    None,
    Transport(AttemptError),
    Status { status: u16, body: Bytes, retry_after: Option<String>, dialect: &'static dyn Dialect, secret: String },
}

/// Where a request may go: its plan and the health book every attempt reports to.
pub struct Routed<'a> {
    /// The channels in attempt order.
    pub plan: Plan<'a>,
    /// Passive health, told how each attempt ended.
    pub health: &'a HealthBook,
    /// When the first byte must have arrived, every attempt together; past it the client gets
    /// 504 and no further channel is tried.
    pub deadline: tokio::time::Instant,
}

/// Tries the plan in order; returns the first committed answer or why every channel failed.
/// A channel the health book no longer lets through (another request took its half-open probe)
/// is skipped without counting as an attempt.
pub async fn run<E: Expect, C: UpstreamCall>(
    upstreams: &Upstreams,
    snapshot: &Snapshot,
    routed: &Routed<'_>,
    call: &C,
    ctx: &mut RequestCtx,
) -> Result<Answered<E::Answer>, Failure> {
    let mut last = LastFailure::None;
    let policy = &snapshot.config.routing;
    for channel in &routed.plan.order {
        if tokio::time::Instant::now() >= routed.deadline {
            // Spent before this channel was called: nothing to hold against it.
            return Err(past_deadline(ctx));
        }
        let Some(provider) = snapshot.providers.get(channel.provider) else { continue };
        let Some(ticket) = routed.health.begin(&channel.label, provider.key_fingerprint, Instant::now(), routed.plan.fallback)
        else {
            continue;
        };
        ctx.channel = Some(channel.label.clone());
        ctx.model = Some(channel.public_model.to_string());
        ctx.provider = Some(provider.name.clone());
        let started = Instant::now();
        let max_event_bytes = snapshot.config.limits.sse_max_event_bytes;
        let work = async {
            let prepared = call.prepare(channel, provider).await?;
            let warnings = prepared.warnings.clone();
            Ok::<_, Failure>((attempt::<E>(upstreams, provider, prepared, max_event_bytes).await, warnings))
        };
        let Ok(done) = tokio::time::timeout_at(routed.deadline, work).await else {
            // The deadline passed inside this attempt: the channel did not answer in time.
            let transition = ticket.finish(Verdict::Failure, Instant::now(), policy);
            record(ctx, &channel.label, "deadline_exceeded".to_owned(), started.elapsed(), transition);
            return Err(past_deadline(ctx));
        };
        let (tried, warnings) = done?;
        let (outcome, verdict) = match &tried {
            Ok(Tried::Committed(_)) => ("ok".to_owned(), Verdict::Success),
            Ok(Tried::Status { status, retry_after, .. }) => {
                let wait = retry_after.as_deref().and_then(|v| outcome::retry_after(v, std::time::SystemTime::now()));
                (format!("status_{status}"), Verdict::of_status(*status, wait))
            }
            Err(e) => (e.label().to_owned(), Verdict::Failure),
        };
        let transition = ticket.finish(verdict, Instant::now(), policy);
        record(ctx, &channel.label, outcome, started.elapsed(), transition);
        match tried {
            Ok(Tried::Committed(answer)) => return Ok(Answered { answer, warnings }),
            Ok(Tried::Status { status, body, retry_after, dialect }) => {
                let secret = provider.api_key.expose().to_owned();
                if !status_is_retryable(status) {
                    // About the request itself: another channel would refuse it too.
                    let failure = LastFailure::Status { status, body, retry_after, dialect, secret };
                    return Err(exhausted(ctx, failure));
                }
                last = LastFailure::Status { status, body, retry_after, dialect, secret };
            }
            Err(e) => last = LastFailure::Transport(e),
        }
    }
    Err(exhausted(ctx, last))
}

/// The 504 when the first-byte deadline passed before any channel answered.
fn past_deadline(ctx: &RequestCtx) -> Failure {
    let summary = ctx.attempts.iter().map(|a| format!("{}: {}", a.channel, a.outcome)).collect::<Vec<_>>().join("; ");
    let model = ctx.model.as_deref().unwrap_or("");
    let client = ApiError::new(ErrorClass::Timeout, format!("no upstream for model `{model}` answered within its deadline"))
        .with_code("deadline_exceeded");
    Failure::Upstream(Box::new(UpstreamError { client, status: None, body: String::new(), summary, source: None }))
}

/// Adds one finished attempt to the request's record (access log, metrics, overhead).
fn record(ctx: &mut RequestCtx, channel: &str, outcome: String, took: std::time::Duration, transition: Option<Transition>) {
    log_transition(ctx, channel, transition);
    ctx.upstream_time += took;
    ctx.attempts.push(AttemptRecord {
        channel: channel.to_owned(),
        outcome,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        health: transition.map(Transition::label),
    });
}

/// A channel leaving or rejoining the rotation is worth a line of its own for the operator.
fn log_transition(ctx: &RequestCtx, channel: &str, transition: Option<Transition>) {
    match transition {
        Some(Transition::Recovered) => tracing::info!(request_id = %ctx.request_id, channel, "channel back in rotation"),
        Some(Transition::Disabled) => {
            tracing::warn!(request_id = %ctx.request_id, channel, "channel disabled: the provider refused its credentials")
        }
        Some(t) => tracing::warn!(request_id = %ctx.request_id, channel, change = t.label(), "channel out of rotation"),
        None => {}
    }
}

async fn attempt<E: Expect>(
    upstreams: &Upstreams,
    provider: &ProviderRuntime,
    prepared: Prepared,
    max_event_bytes: usize,
) -> Result<Tried<E::Answer>, AttemptError> {
    let (addr, target) = provider.peers.select().await.map_err(|e| AttemptError::Connect(e.to_string()))?;
    let peer = Box::new(exchange::peer(addr, target, provider.timeouts.connect));
    let dialect = prepared.dialect;
    let header = request_head(target, E::STREAM, &prepared).map_err(|e| AttemptError::Send(e.to_string()))?;
    let request = OutgoingRequest { header, body: prepared.body };
    let deadlines = Deadlines { first_byte: provider.timeouts.first_byte, idle: provider.timeouts.idle };
    let mut ex = exchange::send(&upstreams.connector, &peer, &request, deadlines).await?;
    let status = ex.status();
    if !(200..300).contains(&status) {
        let retry_after = ex.header_str("retry-after").map(str::to_owned);
        let body = ex.read_to_end(ERROR_BODY_LIMIT).await.unwrap_or_default();
        ex.release(&upstreams.connector, &peer).await;
        // A provider that refuses the key with another status (Gemini: 400 `API_KEY_INVALID`)
        // refused the channel's credentials all the same, as its protocol tells.
        let refused_key = status == 400 && dialect.upstream_error(status, &body, None).class == ErrorClass::Authentication;
        let status = if refused_key { 401 } else { status };
        return Ok(Tried::Status { status, body, retry_after, dialect });
    }
    E::accept(upstreams, dialect, ex, peer, max_event_bytes).await.map(Tried::Committed)
}

fn request_head(target: &Target, stream: bool, prepared: &Prepared) -> pingora::Result<RequestHeader> {
    let mut head = RequestHeader::build_no_case("POST", prepared.path.as_bytes(), Some(6 + prepared.headers.len()))?;
    head.insert_header("host", target.authority.as_str())?;
    head.insert_header("content-type", "application/json")?;
    head.insert_header("content-length", prepared.body.len())?;
    head.insert_header("accept", if stream { "text/event-stream" } else { "application/json" })?;
    head.insert_header("user-agent", concat!("switchyard/", env!("CARGO_PKG_VERSION")))?;
    for (name, value) in &prepared.headers {
        head.insert_header(*name, value.as_str())?;
    }
    Ok(head)
}

/// The failure after the last attempt: what the client sees is built from the upstream's own
/// error envelope (redacted) or a plain sentence; the attempt list stays in the log.
fn exhausted(ctx: &RequestCtx, last: LastFailure) -> Failure {
    let summary = ctx.attempts.iter().map(|a| format!("{}: {}", a.channel, a.outcome)).collect::<Vec<_>>().join("; ");
    let model = ctx.model.as_deref().unwrap_or("");
    let (client, status, body, source) = match last {
        LastFailure::Status { status, body, retry_after, dialect, secret } => {
            let client = if status == 401 || status == 403 {
                // The gateway's own provider credentials were refused: not the client's fault.
                ApiError::new(ErrorClass::Server, "the upstream refused the gateway's credentials")
                    .with_status(502)
                    .with_code("upstream_auth_failed")
            } else {
                // The status is kept (529 included); each inbound renderer maps it for its clients.
                dialect.upstream_error(status, &body, retry_after.as_deref()).redacted(&[secret.as_str()])
            };
            (client, Some(status), crate::protocol::error::redact(&logged_body(&body), &[secret.as_str()]), None)
        }
        LastFailure::Transport(e) => {
            let message = match e {
                AttemptError::FirstByteTimeout(_) | AttemptError::IdleTimeout(_) => {
                    format!("no upstream for model `{model}` answered in time")
                }
                _ => format!("no upstream could serve model `{model}` right now"),
            };
            let client = ApiError::new(ErrorClass::Unavailable, message).with_code("no_available_channel");
            (client, None, String::new(), Some(e))
        }
        LastFailure::None => {
            let client = ApiError::new(ErrorClass::Unavailable, format!("no available channel for model `{model}`"))
                .with_code("no_available_channel");
            (client, None, String::new(), None)
        }
    };
    Failure::Upstream(Box::new(UpstreamError { client, status, body, summary, source }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::dialect;
    use crate::protocol::ir::Protocol;

    fn ctx_with(attempts: &[(&str, &str)]) -> RequestCtx {
        let mut ctx = RequestCtx::new();
        ctx.model = Some("m".into());
        ctx.attempts = attempts
            .iter()
            .map(|(c, o)| AttemptRecord { channel: (*c).into(), outcome: (*o).into(), duration_ms: 1, health: None })
            .collect();
        ctx
    }

    fn status(p: Protocol, status: u16, body: &'static [u8], retry_after: Option<&str>) -> LastFailure {
        LastFailure::Status {
            status,
            body: Bytes::from_static(body),
            retry_after: retry_after.map(str::to_owned),
            dialect: dialect::of(p),
            secret: "prov-key-123".into(),
        }
    }

    #[test]
    fn exhausted_keeps_last_status_or_says_no_channel() {
        let ctx = ctx_with(&[("backup/m#0", "status_429")]);
        let e = exhausted(&ctx, status(Protocol::OpenAiChat, 429, b"", Some("3"))).client_view();
        assert_eq!((e.status, e.retry_after), (429, Some(3)));
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = exhausted(&ctx, status(Protocol::Anthropic, 529, body, None)).client_view();
        assert_eq!((e.status, e.status_for_openai(), e.class), (529, 503, ErrorClass::Unavailable));
        assert_eq!(e.message, "Overloaded");
        let f = exhausted(&ctx, LastFailure::Transport(AttemptError::Connect("refused by 10.0.0.9".into())));
        let e = f.client_view();
        assert_eq!((e.status, e.code.as_deref()), (503, Some("no_available_channel")));
        assert!(!e.message.contains("10.0.0.9") && !e.message.contains("backup"), "{}", e.message);
        assert!(f.log_detail().contains("backup/m#0"), "{}", f.log_detail());
        let e = exhausted(&ctx, status(Protocol::OpenAiChat, 401, b"", None)).client_view();
        assert_eq!(e.status, 502);
    }

    #[test]
    fn an_upstream_message_echoing_the_provider_key_is_redacted() {
        let body = br#"{"error":{"message":"Incorrect API key provided: prov-key-123","type":"invalid_request_error"}}"#;
        let e = exhausted(&ctx_with(&[]), status(Protocol::OpenAiChat, 400, body, None)).client_view();
        assert_eq!(e.status, 400);
        assert!(!e.message.contains("prov-key-123"), "{}", e.message);
    }
}
