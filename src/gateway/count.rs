//! Count-tokens endpoints answered locally (Gemini `:countTokens`, Anthropic
//! `/v1/messages/count_tokens`): the request is parsed into the hub and counted with the local
//! tokenizer, no upstream call and no charge.

use super::body;
use super::ctx::RequestCtx;
use super::generate::Handled;
use super::respond;
use super::snapshot::Snapshot;
use crate::protocol::ir::Protocol;
use crate::protocol::json::RawObject;
use crate::protocol::{anthropic, gemini};
use crate::usage::tokenizer;
use bytes::Bytes;
use pingora::proxy::Session;

/// Serves a count-tokens request of protocol `p` (`path_model` for Gemini).
pub async fn handle(session: &mut Session, ctx: &mut RequestCtx, snapshot: &Snapshot, p: Protocol, path_model: Option<String>) -> Result<(), Handled> {
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let model = match path_model {
        Some(m) => m,
        None => RawObject::parse_body(&raw)?.model()?,
    };
    let route = snapshot.catalog.resolve_or_404(&model)?;
    ctx.model = Some(route.id.clone());
    let body = match p {
        Protocol::Gemini => {
            let req = gemini::count_tokens_request_to_ir(&raw, &model)?;
            gemini::count_tokens_response(tokenizer::count_request(&req), None)
        }
        _ => {
            let req = anthropic::request::anthropic_request_to_ir(&raw)?;
            serde_json::json!({ "input_tokens": tokenizer::count_request(&req) }).to_string().into_bytes()
        }
    };
    respond::json(session, ctx, 200, Bytes::from(body)).await.map_err(Handled::Downstream)
}
