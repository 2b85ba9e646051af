//! Anthropic Messages (`POST /v1/messages`, `/v1/messages/count_tokens`) as a [`Dialect`].

use crate::protocol::dialect::{
    envelope_event, has_text, BodyInbound, ClientEcho, ClientSpec, Dialect, DynDecoder, DynEncoder, EventRole, InboundRequest,
    Operation, Route,
};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{self, ConvertOptions, Converted, Protocol};
use crate::protocol::listing::ModelInfo;
use crate::protocol::passthrough;
use crate::protocol::sse::SseEvent;
use serde_json::json;

/// The Anthropic API version sent when converting into Anthropic (the converter writes its
/// fields).
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic Messages.
pub struct AnthropicDialect;

fn hub(raw: &[u8], _path_model: Option<&str>, _stream: bool) -> Result<(ir::Request, ClientEcho), ApiError> {
    Ok((super::request::anthropic_request_to_ir(raw)?, ClientEcho::default()))
}

impl Dialect for AnthropicDialect {
    fn protocol(&self) -> Protocol {
        Protocol::Anthropic
    }

    fn route(&self, path: &str) -> Option<Route> {
        match path {
            "/v1/messages" => {
                Some((Operation::Generate { protocol: Protocol::Anthropic, path_model: None, path_stream: false }, "POST"))
            }
            "/v1/messages/count_tokens" => {
                Some((Operation::CountTokens { protocol: Protocol::Anthropic, path_model: None }, "POST"))
            }
            _ => None,
        }
    }

    fn claims_path(&self, path: &str) -> bool {
        path.starts_with("/v1/messages")
    }

    fn claims_listing(&self, has_header: &dyn Fn(&str) -> bool) -> bool {
        // Anthropic SDKs always send `anthropic-version`.
        has_header("anthropic-version")
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
            passthrough::request_with(Protocol::Anthropic, raw, model, opts)
        })?))
    }

    fn count_request(&self, body: &[u8], _path_model: Option<&str>) -> Option<Result<ir::Request, ApiError>> {
        Some(super::request::anthropic_request_to_ir(body))
    }

    fn count_reply(&self, tokens: u64) -> Vec<u8> {
        json!({ "input_tokens": tokens }).to_string().into_bytes()
    }

    fn render_response(&self, resp: &ir::Response, _client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
        Ok(super::response::ir_to_anthropic_response(resp))
    }

    fn stream_encoder(&self, client: &ClientSpec<'_>) -> DynEncoder {
        Box::new(super::stream_encode::AnthropicStreamEncoder::new(client.public_model, client.fallback_id))
    }

    fn error_response(&self, err: &ApiError, request_id: &str) -> (u16, Vec<u8>) {
        (err.status, err.to_anthropic_json(request_id))
    }

    fn stream_error_event(&self, err: &ApiError, request_id: &str) -> SseEvent {
        envelope_event(Some("error"), err.to_anthropic_json(request_id))
    }

    fn model_list(&self, models: &[ModelInfo<'_>]) -> Vec<u8> {
        let data: Vec<_> = models.iter().map(entry).collect();
        let first = models.first().map(|m| m.id);
        let last = models.last().map(|m| m.id);
        json!({ "data": data, "has_more": false, "first_id": first, "last_id": last }).to_string().into_bytes()
    }

    fn model_entry(&self, model: &ModelInfo<'_>) -> Vec<u8> {
        entry(model).to_string().into_bytes()
    }

    fn generation_paths(&self, _model: &str) -> Vec<String> {
        vec!["/v1/messages".to_owned()]
    }

    fn generation_path(&self, base_path: &str, _model: &str, _stream: bool) -> String {
        let base = base_path.strip_suffix("/v1").unwrap_or(base_path);
        format!("{base}/v1/messages")
    }

    fn auth_headers(&self, key: &str) -> Vec<(&'static str, String)> {
        if key.is_empty() {
            Vec::new()
        } else {
            vec![("x-api-key", key.to_owned())]
        }
    }

    fn passthrough_headers(&self) -> &'static [&'static str] {
        &["anthropic-version", "anthropic-beta"]
    }

    /// A passed-through request keeps the client's version and beta flags; a converted one gets
    /// the version whose fields the converter writes, and no betas it did not ask for.
    fn version_headers(&self, client: &[(&'static str, String)], passthrough: bool) -> Vec<(&'static str, String)> {
        let find = |name: &str| client.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).filter(|_| passthrough);
        let mut headers = vec![("anthropic-version", find("anthropic-version").unwrap_or_else(|| ANTHROPIC_VERSION.to_owned()))];
        if let Some(beta) = find("anthropic-beta") {
            headers.push(("anthropic-beta", beta));
        }
        headers
    }

    fn render_request(&self, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
        super::request::ir_to_anthropic_request(req, opts)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ir::Response, ApiError> {
        super::response::anthropic_response_to_ir(body)
    }

    fn stream_decoder(&self) -> DynDecoder {
        Box::new(super::stream_decode::AnthropicStreamDecoder::new())
    }

    fn is_error_event(&self, event: &SseEvent) -> bool {
        event.event.as_deref() == Some("error") || event.data.trim_start().starts_with(r#"{"type":"error""#)
    }

    /// `message_start`, `ping`, the start of an empty text or thinking block and a block's stop
    /// are preamble; a delta or the start of a tool-use block is content; `message_delta` (the
    /// stop reason) and `message_stop` end it.
    fn event_role(&self, event: &SseEvent) -> EventRole {
        if self.is_error_event(event) {
            return EventRole::Error;
        }
        let Ok(data) = serde_json::from_str::<serde_json::Value>(&event.data) else { return EventRole::Content };
        let kind = event.event.as_deref().or_else(|| data["type"].as_str()).unwrap_or_default();
        match kind {
            "content_block_delta" => EventRole::Content,
            "content_block_start" => {
                let block = &data["content_block"];
                let opens_empty = matches!(block["type"].as_str(), Some("text" | "thinking"));
                if opens_empty && !has_text(&block["text"]) && !has_text(&block["thinking"]) {
                    EventRole::Preamble
                } else {
                    EventRole::Content
                }
            }
            "message_delta" | "message_stop" => EventRole::Terminal,
            _ => EventRole::Preamble,
        }
    }

    fn signed_reasoning(&self) -> Option<ir::RestoreAt> {
        Some(ir::RestoreAt::Start)
    }
}

fn entry(model: &ModelInfo<'_>) -> serde_json::Value {
    let mut v = json!({ "type": "model", "id": model.id, "display_name": model.id, "created_at": "1970-01-01T00:00:00Z" });
    model.extend(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_headers_pass_through_only_unconverted() {
        let client = [("anthropic-version", "2024-01-01".to_owned()), ("anthropic-beta", "b1".to_owned())];
        let d = AnthropicDialect;
        assert_eq!(
            d.version_headers(&client, true),
            vec![("anthropic-version", "2024-01-01".to_owned()), ("anthropic-beta", "b1".to_owned())]
        );
        assert_eq!(d.version_headers(&client, false), vec![("anthropic-version", ANTHROPIC_VERSION.to_owned())]);
        assert_eq!(d.generation_path("", "m", true), "/v1/messages");
        assert_eq!(d.generation_path("/v1", "m", false), "/v1/messages");
        assert_eq!(d.auth_headers("k"), vec![("x-api-key", "k".to_owned())]);
    }
}
