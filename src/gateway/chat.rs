//! `POST /v1/chat/completions`: parse, resolve the model, plan channels, attempt, relay.

use super::attempt::{self, Call, Upstreams};
use super::body;
use super::ctx::RequestCtx;
use super::relay;
use super::snapshot::Snapshot;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::openai::chat::ChatRequest;
use crate::routing::plan::plan;
use pingora::proxy::Session;

/// Serves one chat completion; `Err` is an error to render before anything was sent.
pub async fn handle(session: &mut Session, ctx: &mut RequestCtx, snapshot: &Snapshot, upstreams: &Upstreams) -> Result<(), Handled> {
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let request = ChatRequest::parse(&raw)?;
    ctx.stream = request.info.stream;
    let Some(route) = snapshot.catalog.resolve(&request.info.model) else {
        return Err(ApiError::new(ErrorClass::NotFound, format!("model `{}` does not exist", request.info.model))
            .with_param("model")
            .with_code("model_not_found")
            .into());
    };
    ctx.model = Some(route.id.clone());
    let order = plan(&route.channels, &mut rand::rng());
    let body_for = |channel: &crate::routing::catalog::Channel| request.upstream_body(&channel.upstream_model);
    let call = Call { endpoint: "/chat/completions", stream: request.info.stream, body_for: &body_for };
    let committed = attempt::run(upstreams, snapshot, &order, &call, ctx).await?;
    relay::chat(session, ctx, upstreams, committed, &route.id, request.info.include_usage)
        .await
        .map_err(Handled::Downstream)
}

/// How a handler ended without success.
pub enum Handled {
    /// An error the client must see (nothing was written yet).
    Api(ApiError),
    /// Writing to the client failed; nothing more can be sent.
    Downstream(Box<pingora::Error>),
}

impl From<ApiError> for Handled {
    fn from(e: ApiError) -> Self {
        Handled::Api(e)
    }
}
