//! The Pingora `ProxyHttp` implementation: orchestration only. It names no field, path or
//! header of any LLM protocol; each protocol's [`Dialect`](crate::protocol::dialect::Dialect)
//! does.
//!
//! Every request is answered inside `request_filter` by the [`pipeline`] (recognise →
//! authenticate → read body → resolve and plan → admit → attempt → relay → settle), over
//! Pingora's pooled connector. `logging` then records metrics and the access log for every
//! request, failed or not. Pingora's own proxy path (`upstream_peer`) is never used.

pub mod attempt;
pub mod auth;
pub mod body;
mod choose;
pub mod ctx;
pub mod failure;
pub mod forward;
pub mod generate;
pub mod media;
pub mod models;
mod pipeline;
pub mod provider_pass;
pub mod relay;
pub mod respond;
pub mod snapshot;
pub mod upkeep;

use crate::drain::Draining;
use crate::protocol::ir::{Part, Protocol};
use crate::routing::health::HealthBook;
use crate::routing::latency::LatencyBoard;
use crate::store::signatures::SignatureStore;
use crate::telemetry::access_log::{self, AccessRecord};
use crate::telemetry::metrics::{AttemptObservation, Metrics, Observation, TokenCounts};
use crate::upstream::pool::Upstreams;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use ctx::RequestCtx;
use pingora::connectors::http::Connector;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use relay::Exit;
use snapshot::Snapshot;
use std::sync::Arc;

/// Signed reasoning kept for clients whose protocol cannot carry it, by issuing protocol.
pub type Signatures = SignatureStore<Protocol, Vec<Part>>;

/// The gateway service: the current snapshot, the upstream pool and the metrics.
pub struct Gateway {
    snapshot: Arc<ArcSwap<Snapshot>>,
    upstreams: Upstreams,
    signatures: Arc<Signatures>,
    metrics: Arc<Metrics>,
    /// Passive channel health: outside the snapshot, so a reload keeps it.
    health: Arc<HealthBook>,
    /// Each model's measured time to first token, for `model: "auto"`.
    latency: LatencyBoard,
    draining: Draining,
}

impl Gateway {
    /// A gateway serving `snapshot`, sending upstream through `connector`, keeping channel
    /// health in `health` (shared with the admin API), closing connections after each answer
    /// once `draining` is set.
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        connector: Connector,
        metrics: Arc<Metrics>,
        health: Arc<HealthBook>,
        draining: Draining,
    ) -> Self {
        Gateway {
            snapshot,
            upstreams: Upstreams::new(connector),
            signatures: Arc::default(),
            metrics,
            health,
            latency: LatencyBoard::default(),
            draining,
        }
    }
}

impl Gateway {
    /// Hands one finished request to the metrics, as plain labels and durations.
    fn record_metrics(&self, ctx: &RequestCtx, status: u16, elapsed: std::time::Duration) {
        let attempts: Vec<AttemptObservation<'_>> = ctx
            .attempts
            .iter()
            .map(|a| AttemptObservation { channel: &a.channel, outcome: &a.outcome, health: a.health })
            .collect();
        self.metrics.record(&Observation {
            endpoint: ctx.endpoint.unwrap_or(""),
            inbound: protocol_label(ctx.inbound),
            model: ctx.model.as_deref().unwrap_or(""),
            provider: ctx.provider.as_deref().unwrap_or(""),
            channel: ctx.channel.as_deref().unwrap_or(""),
            status,
            stream: ctx.stream,
            total: elapsed,
            ttft: ctx.ttft,
            upstream: ctx.upstream_time,
            attempts: &attempts,
            tokens: ctx.usage.map(|u| TokenCounts {
                input: u.input_total(),
                output: u.out_total,
                cache_read: u.in_cache_read,
                cache_write: u.cache_write_total(),
                reasoning: u.out_reasoning,
            }),
        });
    }
}

/// The `inbound` metric label of a client protocol.
fn protocol_label(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::OpenAiChat => "openai_chat",
        Protocol::OpenAiResponses => "openai_responses",
        Protocol::Anthropic => "anthropic",
        Protocol::Gemini => "gemini",
    }
}

/// The client's `x-request-id` when it is sane (1–128 visible, unambiguous characters),
/// otherwise a new one.
pub fn request_id(session: &Session) -> String {
    let sane = |v: &str| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    match session.req_header().headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(v) if sane(v) => v.to_owned(),
        _ => new_request_id(),
    }
}

/// A unique id without a random-number syscall per request: a random per-process prefix and
/// a counter.
pub(crate) fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u64>);
    format!("req_{prefix:016x}{:016x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Whether a Pingora error is an ordinary client disconnect (logged below ERROR).
fn is_client_disconnect(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectionClosed
            | ErrorType::ReadError
            | ErrorType::WriteError
            | ErrorType::ReadTimedout
            | ErrorType::WriteTimedout
    ) || matches!(e.esource(), pingora::ErrorSource::Downstream)
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<bool> {
        ctx.request_id = request_id(session);
        match pipeline::serve(self, session, ctx).await {
            Ok(()) => {}
            Err(Exit::Failed(failure)) => {
                ctx.error = Some(failure.log_detail());
                if session.response_written().is_none() {
                    respond::error(session, ctx, &failure.client_view()).await?;
                }
            }
            Err(Exit::ClientGone) => {
                ctx.status = 499;
                ctx.error = Some("the client closed the connection before the answer".to_owned());
                return Err(Error::explain(ErrorType::ConnectionClosed, "client closed the connection"));
            }
            Err(Exit::Downstream(e)) => {
                // A relay that already logged why it broke the connection keeps its reason.
                if ctx.error.is_none() {
                    ctx.error = Some(format!("writing to the client failed: {}", e.etype().as_str()));
                }
                return Err(e);
            }
        }
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> pingora::Result<Box<HttpPeer>> {
        // Every request is answered in request_filter; reaching Pingora's proxy path is a bug.
        Err(Error::explain(ErrorType::InternalError, "switchyard answers in request_filter"))
    }

    /// What Pingora's own error lines say about a request: method and path only, never the
    /// query (a Gemini client's `?key=` would otherwise be logged).
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        let req = session.req_header();
        format!("{} {} request_id={}", req.method, req.uri.path(), ctx.request_id)
    }

    /// A client that goes away is ordinary traffic: it is in the access log, not an ERROR line.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, error: &Error) -> bool {
        if is_client_disconnect(error) {
            tracing::debug!(target: "switchyard::gateway", "client disconnected: {}", error.etype().as_str());
            return true;
        }
        false
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = if ctx.status == 0 {
            if e.is_some() {
                499
            } else {
                0
            }
        } else {
            ctx.status
        };
        let elapsed = ctx.started.elapsed();
        self.record_metrics(ctx, status, elapsed);
        // Only answers that came from an upstream measure a model (local answers such as token
        // counts would make it look instant).
        let answered = (200..300).contains(&status) && !ctx.attempts.is_empty();
        if let (true, Some(model), Some(ttft)) = (answered, ctx.model.as_deref(), ctx.ttft) {
            self.latency.observe(model, ttft);
        }
        let req = session.req_header();
        access_log::emit(&AccessRecord {
            request_id: &ctx.request_id,
            method: req.method.as_str(),
            path: req.uri.path(),
            endpoint: ctx.endpoint,
            status,
            key: ctx.key_name.as_deref(),
            model: ctx.model.as_deref(),
            channel: ctx.channel.as_deref(),
            provider: ctx.provider.as_deref(),
            attempts: ctx.attempts.len(),
            tried: &ctx.attempts,
            warnings: &ctx.warnings,
            finish_reason: ctx.finish_reason.as_deref(),
            upstream_request_id: ctx.upstream_request_id.as_deref(),
            aborted: ctx.aborted,
            stream: ctx.stream,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            ttft_ms: ctx.ttft.map(|d| d.as_secs_f64() * 1000.0),
            input_tokens: ctx.usage.map(|u| u.input_total()),
            output_tokens: ctx.usage.map(|u| u.out_total),
            charge: ctx.charge.map(|c| c.usd()),
            error: ctx.error.as_deref(),
        });
    }
}
