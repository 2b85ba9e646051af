//! The Pingora `ProxyHttp` implementation: orchestration only.
//!
//! Every request is answered inside `request_filter` (PINGORA.md §2): recognise the endpoint,
//! authenticate, read and parse the body, route, run the attempt loop over Pingora's pooled
//! connector, relay the answer. `logging` then records metrics and the access log for every
//! request, failed or not. Pingora's own proxy path (`upstream_peer`) is never used.

pub mod attempt;
pub mod auth;
pub mod body;
pub mod count;
pub mod ctx;
pub mod endpoint;
pub mod forward;
pub mod generate;
pub mod media;
pub mod models;
pub mod relay;
pub mod respond;
pub mod signatures;
pub mod snapshot;

use crate::telemetry::access_log::{self, AccessRecord};
use crate::telemetry::metrics::Metrics;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use attempt::Upstreams;
use bytes::Bytes;
use generate::{Handled, Inbound};
use crate::protocol::ir::Protocol;
use ctx::RequestCtx;
use endpoint::Endpoint;
use pingora::connectors::http::Connector;
use pingora::proxy::{ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use snapshot::Snapshot;
use std::sync::Arc;

/// The gateway service: the current snapshot, the upstream pool and the metrics.
pub struct Gateway {
    snapshot: Arc<ArcSwap<Snapshot>>,
    upstreams: Upstreams,
    metrics: Arc<Metrics>,
}

impl Gateway {
    /// A gateway serving `snapshot`, sending upstream through `connector`.
    pub fn new(snapshot: Arc<ArcSwap<Snapshot>>, connector: Connector, metrics: Arc<Metrics>) -> Self {
        let upstreams = Upstreams { connector, dns: crate::upstream::dns::DnsCache::new(), signatures: Arc::default() };
        Gateway { snapshot, upstreams, metrics }
    }

    async fn serve(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Handled> {
        let snapshot = self.snapshot.load_full();
        ctx.snapshot = Some(snapshot.clone());
        let req = session.req_header();
        ctx.inbound = endpoint::protocol_of_path(req.uri.path());
        let endpoint = endpoint::recognise(req.method.as_str(), req.uri.path())?;
        ctx.endpoint = Some(endpoint.clone());
        if endpoint == Endpoint::Health {
            return respond::json(session, ctx, 200, Bytes::from_static(br#"{"status":"ok"}"#))
                .await
                .map_err(Handled::Downstream);
        }
        let listing = match endpoint {
            Endpoint::Models | Endpoint::Model(_) => models::Listing::for_request(session.req_header()),
            _ => models::Listing::OpenAi,
        };
        if listing == models::Listing::Anthropic {
            ctx.inbound = Protocol::Anthropic;
        }
        let key = auth::authenticate(&snapshot, session.req_header())?;
        ctx.key_name = Some(key.name.clone());
        let inbound = |protocol, path_model, path_stream| Inbound { protocol, path_model, path_stream };
        let body = match endpoint {
            Endpoint::ChatCompletions => {
                return generate::handle(session, ctx, &snapshot, &self.upstreams, inbound(Protocol::OpenAiChat, None, false)).await
            }
            Endpoint::Messages => {
                return generate::handle(session, ctx, &snapshot, &self.upstreams, inbound(Protocol::Anthropic, None, false)).await
            }
            Endpoint::Responses => {
                return generate::handle(session, ctx, &snapshot, &self.upstreams, inbound(Protocol::OpenAiResponses, None, false)).await
            }
            Endpoint::Generate { model, stream } => {
                return generate::handle(session, ctx, &snapshot, &self.upstreams, inbound(Protocol::Gemini, Some(model), stream)).await
            }
            Endpoint::CountTokens { model } => return count::handle(session, ctx, &snapshot, Protocol::Gemini, Some(model)).await,
            Endpoint::CountMessageTokens => return count::handle(session, ctx, &snapshot, Protocol::Anthropic, None).await,
            Endpoint::Embeddings => return forward::handle(session, ctx, &snapshot, &self.upstreams, forward::Forwarded::Embeddings).await,
            Endpoint::Images => return forward::handle(session, ctx, &snapshot, &self.upstreams, forward::Forwarded::Images).await,
            Endpoint::Models => models::list(&snapshot, listing),
            Endpoint::GeminiModels => models::list(&snapshot, models::Listing::Gemini),
            Endpoint::Model(name) => models::one(&snapshot, &name, listing)?,
            Endpoint::Health => return Ok(()),
        };
        respond::json(session, ctx, 200, body).await.map_err(Handled::Downstream)
    }
}

/// The client's `x-request-id` when it is sane (1–128 visible, unambiguous characters),
/// otherwise a new random one.
pub fn request_id(session: &Session) -> String {
    let sane = |v: &str| {
        !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    match session.req_header().headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(v) if sane(v) => v.to_owned(),
        _ => new_request_id(),
    }
}

/// A unique id without a random-number syscall per request: a random per-process prefix and
/// a counter.
fn new_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random::<u64>);
    format!("req_{prefix:016x}{:016x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<bool> {
        ctx.request_id = request_id(session);
        match self.serve(session, ctx).await {
            Ok(()) => {}
            Err(Handled::Api(err)) => {
                if session.response_written().is_none() {
                    respond::error(session, ctx, &err).await?;
                } else {
                    ctx.error = Some(err.message);
                }
            }
            Err(Handled::ClientGone) => {
                ctx.status = 499;
                ctx.error = Some("the client closed the connection before the answer".to_owned());
                return Err(Error::explain(ErrorType::ConnectionClosed, "client closed the connection"));
            }
            Err(Handled::Downstream(e)) => {
                ctx.error = Some(format!("writing to the client failed: {}", e.etype().as_str()));
                return Err(e);
            }
        }
        Ok(true)
    }

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut RequestCtx) -> pingora::Result<Box<HttpPeer>> {
        // Every request is answered in request_filter; reaching Pingora's proxy path is a bug.
        Err(Error::explain(ErrorType::InternalError, "switchyard answers in request_filter"))
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = if ctx.status == 0 { if e.is_some() { 499 } else { 0 } } else { ctx.status };
        let status_text = status.to_string();
        let model = ctx.model.as_deref().unwrap_or("");
        let channel = ctx.channel.as_deref().unwrap_or("");
        let labels = [model, channel, status_text.as_str()];
        let elapsed = ctx.started.elapsed();
        self.metrics.requests.with_label_values(&labels).inc();
        self.metrics.latency.with_label_values(&labels).observe(elapsed.as_secs_f64());
        if let Some(ttft) = ctx.ttft {
            self.metrics.ttft.with_label_values(&labels).observe(ttft.as_secs_f64());
        }
        for a in &ctx.attempts {
            self.metrics.attempts.with_label_values(&[a.channel.as_str(), a.outcome.as_str()]).inc();
        }
        let req = session.req_header();
        access_log::emit(&AccessRecord {
            request_id: &ctx.request_id,
            method: req.method.as_str(),
            path: req.uri.path(),
            endpoint: ctx.endpoint.as_ref().map(Endpoint::name),
            status,
            key: ctx.key_name.as_deref(),
            model: ctx.model.as_deref(),
            channel: ctx.channel.as_deref(),
            attempts: ctx.attempts.len(),
            stream: ctx.stream,
            duration_ms: elapsed.as_secs_f64() * 1000.0,
            ttft_ms: ctx.ttft.map(|d| d.as_secs_f64() * 1000.0),
            input_tokens: ctx.usage.map(|u| u.input_total()),
            output_tokens: ctx.usage.map(|u| u.out_total),
            error: ctx.error.as_deref(),
        });
    }
}
