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
    // A client that hangs up while the upstream is still thinking must not keep a generation
    // (and later, its bill) running: watch the client while the attempts run.
    let attempted = tokio::select! {
        r = attempt::run(upstreams, snapshot, &order, &call, ctx) => Some(r),
        () = client_gone(session) => None,
    };
    let Some(committed) = attempted else {
        return Err(Handled::ClientGone);
    };
    let committed = committed?;
    relay::chat(session, ctx, upstreams, committed, &route.id, request.info.include_usage)
        .await
        .map_err(Handled::Downstream)
}

/// Resolves when the client closes its connection (HTTP/1 FIN, h2 reset); pending otherwise.
async fn client_gone(session: &mut Session) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            Ok(Some(_)) => continue,
            Ok(None) => return std::future::pending().await,
        }
    }
}

/// How a handler ended without success.
pub enum Handled {
    /// An error the client must see (nothing was written yet).
    Api(ApiError),
    /// Writing to the client failed; nothing more can be sent.
    Downstream(Box<pingora::Error>),
    /// The client closed the connection before an answer was ready.
    ClientGone,
}

impl From<ApiError> for Handled {
    fn from(e: ApiError) -> Self {
        Handled::Api(e)
    }
}
