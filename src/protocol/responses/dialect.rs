//! OpenAI Responses (`POST /v1/responses`) as a [`Dialect`].

use crate::protocol::dialect::{
    BodyInbound, ClientEcho, ClientSpec, Dialect, DynDecoder, DynEncoder, EventRole, InboundRequest, Operation, Route,
};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{self, ConvertOptions, Converted, Protocol};
use crate::protocol::listing::ModelInfo;
use crate::protocol::openai::dialect::{bearer, ChatDialect};
use crate::protocol::passthrough;
use crate::protocol::sse::SseEvent;
use serde_json::json;

/// OpenAI Responses.
pub struct ResponsesDialect;

fn hub(raw: &[u8], _path_model: Option<&str>, _stream: bool) -> Result<(ir::Request, ClientEcho), ApiError> {
    let (req, responses) = super::responses_request_to_ir_with_echo(raw)?;
    Ok((req, ClientEcho { responses, ..ClientEcho::default() }))
}

impl Dialect for ResponsesDialect {
    fn protocol(&self) -> Protocol {
        Protocol::OpenAiResponses
    }

    fn route(&self, path: &str) -> Option<Route> {
        matches!(path, "/v1/responses" | "/responses")
            .then(|| (Operation::Generate { protocol: Protocol::OpenAiResponses, path_model: None, path_stream: false }, "POST"))
    }

    fn claims_path(&self, path: &str) -> bool {
        path.starts_with("/v1/responses")
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
        Ok(Box::new(BodyInbound::parse(body, None, false, hub, |raw, model, opts| {
            passthrough::request_with(Protocol::OpenAiResponses, raw, model, opts)
        })?))
    }

    fn count_reply(&self, tokens: u64) -> Vec<u8> {
        ChatDialect.count_reply(tokens)
    }

    fn render_response(&self, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
        Ok(super::ir_to_responses_response(resp, &client.responses_echo, client.fallback_id))
    }

    fn stream_encoder(&self, client: &ClientSpec<'_>) -> DynEncoder {
        Box::new(
            super::ResponsesStreamEncoder::new(client.public_model, client.fallback_id).with_echo(client.responses_echo.clone()),
        )
    }

    fn error_response(&self, err: &ApiError, request_id: &str) -> (u16, Vec<u8>) {
        ChatDialect.error_response(err, request_id)
    }

    fn stream_error_event(&self, err: &ApiError, _request_id: &str) -> SseEvent {
        let data = json!({"type": "error", "code": err.code, "message": err.message, "param": err.param});
        SseEvent { event: Some("error".into()), data: data.to_string() }
    }

    fn model_list(&self, models: &[ModelInfo<'_>]) -> Vec<u8> {
        ChatDialect.model_list(models)
    }

    fn model_entry(&self, model: &ModelInfo<'_>) -> Vec<u8> {
        ChatDialect.model_entry(model)
    }

    fn generation_paths(&self, _model: &str) -> Vec<String> {
        vec!["/v1/responses".to_owned()]
    }

    fn generation_path(&self, base_path: &str, _model: &str, _stream: bool) -> String {
        format!("{base_path}/responses")
    }

    fn auth_headers(&self, key: &str) -> Vec<(&'static str, String)> {
        bearer(key)
    }

    fn render_request(&self, req: &ir::Request, _opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
        super::ir_to_responses_request(req)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ir::Response, ApiError> {
        super::responses_response_to_ir(body)
    }

    fn stream_decoder(&self) -> DynDecoder {
        Box::new(super::ResponsesStreamDecoder::new())
    }

    fn is_error_event(&self, event: &SseEvent) -> bool {
        let data = event.data.trim_start();
        matches!(event.event.as_deref(), Some("error" | "response.failed"))
            || data.starts_with(r#"{"type":"error""#)
            || data.starts_with(r#"{"type":"response.failed""#)
    }

    /// `response.created`, `response.in_progress` and the opening of an output message or a
    /// content part are preamble; any delta, a finished item or part, and the opening of a
    /// function call are content; `response.completed` / `response.incomplete` end it.
    fn event_role(&self, event: &SseEvent) -> EventRole {
        if self.is_error_event(event) {
            return EventRole::Error;
        }
        let Ok(data) = serde_json::from_str::<serde_json::Value>(&event.data) else { return EventRole::Content };
        let kind = event.event.as_deref().or_else(|| data["type"].as_str()).unwrap_or_default();
        match kind {
            "response.completed" | "response.incomplete" => EventRole::Terminal,
            "response.output_item.added" => match data["item"]["type"].as_str() {
                Some("message" | "reasoning") => EventRole::Preamble,
                _ => EventRole::Content,
            },
            k if k.ends_with(".delta") || k.ends_with(".done") => EventRole::Content,
            _ => EventRole::Preamble,
        }
    }
}
