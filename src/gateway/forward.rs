//! OpenAI endpoints beside generation: `POST /v1/embeddings` (OpenAI channels pass through,
//! Gemini channels are converted to `batchEmbedContents`) and `POST /v1/images/generations`
//! (OpenAI channels only). Failover works as for chat.

use super::attempt::{self, Call, Committed, Prepared, Upstreams};
use super::body;
use super::ctx::RequestCtx;
use super::generate::{client_gone, Handled};
use super::respond;
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::Protocol;
use crate::protocol::passthrough;
use crate::protocol::embeddings;
use crate::protocol::usage::Usage;
use crate::usage::tokenizer;
use bytes::Bytes;
use crate::routing::catalog::Channel;
use crate::routing::plan::plan;
use crate::upstream::dialect as wire;
use pingora::proxy::Session;

/// Which OpenAI endpoint is forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// `/embeddings`.
    Embeddings,
    /// `/images/generations`.
    Images,
}

impl Forwarded {
    fn path(self) -> &'static str {
        match self {
            Forwarded::Embeddings => "/embeddings",
            Forwarded::Images => "/images/generations",
        }
    }

    /// Whether a provider of this protocol can serve the endpoint.
    fn served_by(self, p: Protocol) -> bool {
        match self {
            Forwarded::Embeddings => matches!(p, Protocol::OpenAiChat | Protocol::Gemini),
            Forwarded::Images => p == Protocol::OpenAiChat,
        }
    }
}

/// Serves one forwarded request.
pub async fn handle(session: &mut Session, ctx: &mut RequestCtx, snapshot: &Snapshot, upstreams: &Upstreams, kind: Forwarded) -> Result<(), Handled> {
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let model = crate::protocol::json::RawObject::parse_body(&raw)?.model()?;
    let route = snapshot.catalog.resolve_or_404(&model)?;
    ctx.model = Some(route.id.clone());
    let capable: Vec<&Channel> = plan(&route.channels, &mut rand::rng())
        .into_iter()
        .filter(|c| snapshot.providers.get(c.provider).is_some_and(|p| kind.served_by(p.protocol.wire())))
        .collect();
    if capable.is_empty() {
        return Err(ApiError::new(ErrorClass::InvalidRequest, format!("model `{}` has no channel whose provider serves /v1{}", route.id, kind.path()))
            .with_param("model")
            .with_code("unsupported_endpoint")
            .into());
    }
    // Parsed only when a Gemini channel may need it.
    let gemini_request = match capable.iter().any(|c| snapshot.providers.get(c.provider).is_some_and(|p| p.protocol.wire() == Protocol::Gemini)) {
        true => Some(embeddings::parse_openai(&raw)?),
        false => None,
    };
    let prepare = |channel: &Channel, provider: &ProviderRuntime| -> Result<Prepared, ApiError> {
        let up = provider.protocol.wire();
        let headers = wire::auth_headers(up, provider.api_key.expose());
        match (&gemini_request, up) {
            (Some(req), Protocol::Gemini) => Ok(Prepared {
                protocol: up,
                path: wire::gemini_method_path(&provider.target.base_path, &channel.upstream_model, "batchEmbedContents"),
                body: Bytes::from(embeddings::to_gemini_batch(req, &channel.upstream_model)),
                headers,
            }),
            _ => Ok(Prepared {
                protocol: Protocol::OpenAiChat,
                path: provider.target.path_for(kind.path()),
                body: passthrough::with_model(&raw, &channel.upstream_model)?,
                headers,
            }),
        }
    };
    let call = Call { stream: false, prepare: &prepare };
    let attempted = tokio::select! {
        r = attempt::run(upstreams, snapshot, &capable, &call, ctx) => Some(r),
        () = client_gone(session) => None,
    };
    let committed = attempted.ok_or(Handled::ClientGone)??;
    let result = match committed {
        Committed::Whole { protocol: Protocol::Gemini, body, .. } => match &gemini_request {
            Some(req) => {
                let tokens: u64 = req.inputs.iter().map(|t| tokenizer::count_text(t)).sum();
                ctx.usage = Some(Usage { in_base: tokens, ..Usage::default() });
                match embeddings::from_gemini_batch(&body, req, &route.id, tokens) {
                    Ok(answer) => respond::json(session, ctx, 200, Bytes::from(answer)).await,
                    Err(err) => respond::error(session, ctx, &err).await,
                }
            }
            None => respond::error(session, ctx, &ApiError::new(ErrorClass::Server, "unexpected Gemini answer").with_status(502)).await,
        },
        Committed::Whole { head, body, .. } => {
            let (body, usage) = passthrough::response(Protocol::OpenAiChat, &body, &route.id);
            ctx.usage = usage;
            let mut resp = respond::head(head.status.as_u16(), "application/json", &ctx.request_id).map_err(Handled::Downstream)?;
            respond::copy_upstream_headers(&head, &mut resp).map_err(Handled::Downstream)?;
            respond::whole(session, ctx, resp, body).await
        }
        Committed::Rejected(err) => respond::error(session, ctx, &err).await,
        Committed::Stream { .. } => respond::error(session, ctx, &ApiError::new(ErrorClass::Server, "unexpected stream").with_status(502)).await,
    };
    result.map_err(Handled::Downstream)
}
