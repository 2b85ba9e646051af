//! OpenAI Chat Completions as a [`Dialect`], plus the OpenAI-only routes beside it (embeddings,
//! images, the model list) that every OpenAI-compatible server shares.

use super::chat::ChatRequest;
use super::{chat_request, chat_response, chat_stream};
use crate::protocol::dialect::{
    has_text, ClientEcho, ClientSpec, Dialect, DynDecoder, DynEncoder, EventRole, InboundRequest, Operation, Route,
};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{self, ConvertOptions, Converted, Protocol};
use crate::protocol::listing::ModelInfo;
use crate::protocol::sse::SseEvent;
use bytes::Bytes;
use serde_json::json;

/// OpenAI Chat Completions (`POST /v1/chat/completions`).
pub struct ChatDialect;

impl InboundRequest for ChatRequest<'_> {
    fn model(&self) -> &str {
        &self.info.model
    }
    fn stream(&self) -> bool {
        self.info.stream
    }
    fn include_usage(&self) -> bool {
        self.info.include_usage
    }
    fn passthrough_body(&self, upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError> {
        self.upstream_body_with(upstream_model, opts)
    }
    fn to_hub(&self) -> Result<(ir::Request, ClientEcho), ApiError> {
        Ok((chat_request::chat_request_to_ir(self.raw())?, ClientEcho::default()))
    }
}

impl Dialect for ChatDialect {
    fn protocol(&self) -> Protocol {
        Protocol::OpenAiChat
    }

    fn route(&self, path: &str) -> Option<Route> {
        let op = match path {
            "/v1/chat/completions" | "/chat/completions" => {
                Operation::Generate { protocol: Protocol::OpenAiChat, path_model: None, path_stream: false }
            }
            "/v1/embeddings" | "/embeddings" => Operation::Embeddings,
            "/v1/images/generations" | "/images/generations" => Operation::Images,
            "/v1/models" | "/models" => return Some((Operation::ListModels, "GET")),
            _ => {
                let id = path.strip_prefix("/v1/models/").filter(|id| !id.is_empty())?;
                return Some((Operation::GetModel(crate::protocol::dialect::percent_decode(id)), "GET"));
            }
        };
        Some((op, "POST"))
    }

    fn claims_path(&self, _path: &str) -> bool {
        // The default protocol: whatever no other dialect claims.
        false
    }

    fn fallback(&self, body: &[u8]) -> Result<Option<crate::protocol::fallback::Fallback>, ApiError> {
        crate::protocol::fallback::split(body)
    }

    fn parse_inbound<'a>(
        &self,
        body: &'a [u8],
        _path_model: Option<&str>,
        _path_stream: bool,
    ) -> Result<Box<dyn InboundRequest + 'a>, ApiError> {
        Ok(Box::new(ChatRequest::parse(body)?))
    }

    fn count_reply(&self, tokens: u64) -> Vec<u8> {
        json!({ "input_tokens": tokens }).to_string().into_bytes()
    }

    fn render_response(&self, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
        Ok(chat_response::ir_to_chat_response(resp, client.opts))
    }

    fn stream_encoder(&self, client: &ClientSpec<'_>) -> DynEncoder {
        Box::new(chat_stream::ChatStreamEncoder::new(client.public_model, client.include_usage, client.opts))
    }

    fn error_response(&self, err: &ApiError, request_id: &str) -> (u16, Vec<u8>) {
        (err.status_for_openai(), err.to_openai_json(request_id))
    }

    fn stream_error_event(&self, err: &ApiError, request_id: &str) -> SseEvent {
        crate::protocol::dialect::envelope_event(None, err.to_openai_json(request_id))
    }

    fn model_list(&self, models: &[ModelInfo<'_>]) -> Vec<u8> {
        let data: Vec<_> = models.iter().map(entry).collect();
        json!({ "object": "list", "data": data }).to_string().into_bytes()
    }

    fn model_entry(&self, model: &ModelInfo<'_>) -> Vec<u8> {
        entry(model).to_string().into_bytes()
    }

    fn generation_paths(&self, _model: &str) -> Vec<String> {
        vec!["/v1/chat/completions".to_owned()]
    }

    fn carries_signed_reasoning(&self) -> bool {
        false
    }

    fn generation_path(&self, base_path: &str, _model: &str, _stream: bool) -> String {
        format!("{base_path}/chat/completions")
    }

    fn auth_headers(&self, key: &str) -> Vec<(&'static str, String)> {
        bearer(key)
    }

    fn render_request(&self, req: &ir::Request, _opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
        chat_request::ir_to_chat_request(req)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ir::Response, ApiError> {
        chat_response::chat_response_to_ir(body)
    }

    fn stream_decoder(&self) -> DynDecoder {
        Box::new(chat_stream::ChatStreamDecoder::new())
    }

    fn serves(&self, op: &Operation) -> bool {
        forward_path(op).is_some()
    }

    fn forward_request(
        &self,
        op: &Operation,
        raw: &[u8],
        base_path: &str,
        upstream_model: &str,
    ) -> Result<(String, Bytes), ApiError> {
        let path = forward_path(op).unwrap_or_default();
        Ok((format!("{base_path}{path}"), crate::protocol::passthrough::with_model(raw, upstream_model)?))
    }

    fn is_error_event(&self, event: &SseEvent) -> bool {
        event.data.trim_start().starts_with("{\"error\"") || event.event.as_deref() == Some("error")
    }

    /// The role chunk (`delta.role` with `content: ""`) is preamble; a non-empty content,
    /// refusal or reasoning delta, or any tool call, is content; a finish reason, `[DONE]` or the
    /// usage chunk ends it.
    fn event_role(&self, event: &SseEvent) -> EventRole {
        if self.is_error_event(event) {
            return EventRole::Error;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            return EventRole::Terminal;
        }
        let Ok(chunk) = serde_json::from_str::<serde_json::Value>(data) else {
            // Not ours to judge: the relay reports what it cannot read.
            return EventRole::Content;
        };
        let choices = chunk["choices"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut role = if choices.is_empty() && chunk["usage"].is_object() { EventRole::Terminal } else { EventRole::Preamble };
        for choice in choices {
            let delta = &choice["delta"];
            let content = ["content", "refusal", "reasoning_content", "reasoning"].iter().any(|f| has_text(&delta[*f]))
                || delta["tool_calls"].as_array().is_some_and(|calls| !calls.is_empty())
                || delta["function_call"].is_object();
            if content {
                return EventRole::Content;
            }
            if choice["finish_reason"].is_string() {
                role = EventRole::Terminal;
            }
        }
        role
    }
}

/// `Authorization: Bearer <key>`, the credential of every OpenAI-style API.
pub fn bearer(key: &str) -> Vec<(&'static str, String)> {
    if key.is_empty() {
        Vec::new()
    } else {
        vec![("authorization", format!("Bearer {key}"))]
    }
}

fn entry(model: &ModelInfo<'_>) -> serde_json::Value {
    let mut v = json!({ "id": model.id, "object": "model", "created": 0, "owned_by": "switchyard" });
    model.extend(&mut v);
    v
}

/// The OpenAI path of a forwarded (non-generation) operation below the base path.
pub fn forward_path(op: &Operation) -> Option<&'static str> {
    match op {
        Operation::Embeddings => Some("/embeddings"),
        Operation::Images => Some("/images/generations"),
        _ => None,
    }
}
