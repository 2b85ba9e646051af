//! OpenAI endpoints served only by OpenAI-protocol channels: `POST /v1/embeddings` and
//! `POST /v1/images/generations`. The body passes with the channel's model id; the answer comes
//! back with the public id. Failover works as for chat.

use super::attempt::{self, Call, Committed, Prepared, Upstreams};
use super::body;
use super::ctx::RequestCtx;
use super::generate::{client_gone, Handled};
use super::respond;
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::Protocol;
use crate::protocol::passthrough;
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
}

/// Serves one forwarded request.
pub async fn handle(session: &mut Session, ctx: &mut RequestCtx, snapshot: &Snapshot, upstreams: &Upstreams, kind: Forwarded) -> Result<(), Handled> {
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let obj = crate::protocol::json::RawObject::parse(&raw).map_err(|e| {
        ApiError::new(ErrorClass::InvalidRequest, format!("request body is not a valid JSON object: {e}")).with_code("invalid_json")
    })?;
    let model = match obj.get_str("model") {
        Some(m) if !m.is_empty() => m.into_owned(),
        _ => return Err(ApiError::new(ErrorClass::InvalidRequest, "missing required field `model`").with_param("model").into()),
    };
    let Some(route) = snapshot.catalog.resolve(&model) else {
        return Err(ApiError::new(ErrorClass::NotFound, format!("model `{model}` does not exist")).with_param("model").with_code("model_not_found").into());
    };
    ctx.model = Some(route.id.clone());
    let capable: Vec<&Channel> = plan(&route.channels, &mut rand::rng())
        .into_iter()
        .filter(|c| snapshot.providers.get(c.provider).is_some_and(|p| p.protocol.wire() == Protocol::OpenAiChat))
        .collect();
    if capable.is_empty() {
        return Err(ApiError::new(ErrorClass::InvalidRequest, format!("model `{}` has no OpenAI-protocol channel that serves /v1{}", route.id, kind.path()))
            .with_param("model")
            .with_code("unsupported_endpoint")
            .into());
    }
    let prepare = |channel: &Channel, provider: &ProviderRuntime| -> Result<Prepared, ApiError> {
        Ok(Prepared {
            protocol: Protocol::OpenAiChat,
            path: provider.target.path_for(kind.path()),
            body: passthrough::with_model(&raw, &channel.upstream_model)?,
            headers: wire::auth_headers(Protocol::OpenAiChat, provider.api_key.expose()),
        })
    };
    let call = Call { stream: false, prepare: &prepare };
    let attempted = tokio::select! {
        r = attempt::run(upstreams, snapshot, &capable, &call, ctx) => Some(r),
        () = client_gone(session) => None,
    };
    let committed = attempted.ok_or(Handled::ClientGone)??;
    let result = match committed {
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
