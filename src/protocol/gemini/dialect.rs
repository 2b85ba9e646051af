//! Gemini `generateContent` (`/v1beta/models/{model}:{method}`) as a [`Dialect`].

use crate::protocol::dialect::{
    has_text, percent_decode, BodyInbound, ClientEcho, ClientSpec, Dialect, DynDecoder, DynEncoder, EventRole, InboundRequest,
    Operation, Route,
};
use crate::protocol::embeddings;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{self, ConvertOptions, Converted, Protocol};
use crate::protocol::listing::{ModelInfo, ModelKind};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use bytes::Bytes;
use serde_json::json;

/// The Gemini API version used when a provider's base URL names none.
const GEMINI_VERSION: &str = "v1beta";

/// Gemini (Google AI Studio's Developer API).
pub struct GeminiDialect;

fn hub(raw: &[u8], path_model: Option<&str>, stream: bool) -> Result<(ir::Request, ClientEcho), ApiError> {
    let req = super::request_to_ir(raw, path_model.unwrap_or_default(), stream)?;
    let include_thoughts = super::wants_thoughts(&req);
    Ok((req, ClientEcho { include_thoughts, ..ClientEcho::default() }))
}

/// Gemini names the model in the path, so its body passes untouched (but for refused sampling
/// fields).
fn pass(raw: &[u8], upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError> {
    crate::protocol::passthrough::request_with(Protocol::Gemini, raw, upstream_model, opts)
}

/// `/{v1beta|v1}/models/{model}:{method}` with the model possibly percent-encoded.
fn model_method(path: &str) -> Option<Operation> {
    let rest = path.strip_prefix("/v1beta/").or_else(|| path.strip_prefix("/v1/"))?;
    let (model, method) = rest.strip_prefix("models/")?.rsplit_once(':')?;
    let model = percent_decode(model);
    let model = model.strip_prefix("models/").unwrap_or(&model).to_owned();
    if model.is_empty() || model.contains(':') {
        return None;
    }
    let generate = |path_stream| Operation::Generate { protocol: Protocol::Gemini, path_model: Some(model.clone()), path_stream };
    match method {
        "generateContent" => Some(generate(false)),
        "streamGenerateContent" => Some(generate(true)),
        "countTokens" => Some(Operation::CountTokens { protocol: Protocol::Gemini, path_model: Some(model) }),
        _ => None,
    }
}

/// A Gemini model method's path (`…/v1beta/models/{model}:{method}`), the version added when
/// the base URL names none.
pub fn method_path(base_path: &str, model: &str, method: &str) -> String {
    let versioned = base_path.ends_with("/v1beta") || base_path.ends_with("/v1") || base_path.ends_with("/v1alpha");
    let prefix = if versioned { base_path.to_owned() } else { format!("{base_path}/{GEMINI_VERSION}") };
    let model = model.strip_prefix("models/").unwrap_or(model);
    format!("{prefix}/models/{model}:{method}")
}

impl Dialect for GeminiDialect {
    fn protocol(&self) -> Protocol {
        Protocol::Gemini
    }

    fn route(&self, path: &str) -> Option<Route> {
        if let Some(op) = model_method(path) {
            return Some((op, "POST"));
        }
        if path == "/v1beta/models" {
            return Some((Operation::ListModels, "GET"));
        }
        let id = percent_decode(path.strip_prefix("/v1beta/models/").filter(|id| !id.is_empty())?);
        Some((Operation::GetModel(id.strip_prefix("models/").unwrap_or(&id).to_owned()), "GET"))
    }

    fn claims_path(&self, path: &str) -> bool {
        path.starts_with("/v1beta/")
            || [":generateContent", ":streamGenerateContent", ":countTokens"].iter().any(|m| path.contains(m))
    }

    fn claims_listing(&self, has_header: &dyn Fn(&str) -> bool) -> bool {
        has_header("x-goog-api-key")
    }

    fn parse_inbound<'a>(
        &self,
        body: &'a [u8],
        path_model: Option<&str>,
        path_stream: bool,
    ) -> Result<Box<dyn InboundRequest + 'a>, ApiError> {
        Ok(Box::new(BodyInbound::parse(body, path_model, path_stream, hub, pass)?))
    }

    fn count_request(&self, body: &[u8], path_model: Option<&str>) -> Option<Result<ir::Request, ApiError>> {
        Some(super::count_tokens_request_to_ir(body, path_model.unwrap_or_default()))
    }

    fn count_reply(&self, tokens: u64) -> Vec<u8> {
        super::count_tokens_response(tokens, None)
    }

    fn render_response(&self, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
        super::ir_to_response(resp, client.include_thoughts)
    }

    fn stream_encoder(&self, client: &ClientSpec<'_>) -> DynEncoder {
        Box::new(super::GeminiStreamEncoder::new(client.include_thoughts))
    }

    fn error_response(&self, err: &ApiError, _request_id: &str) -> (u16, Vec<u8>) {
        (err.status_for_openai(), super::to_gemini_json(err))
    }

    fn stream_error_event(&self, err: &ApiError, _request_id: &str) -> SseEvent {
        crate::protocol::dialect::envelope_event(None, super::to_gemini_json(err))
    }

    fn model_list(&self, models: &[ModelInfo<'_>]) -> Vec<u8> {
        let data: Vec<_> = models.iter().map(entry).collect();
        json!({ "models": data }).to_string().into_bytes()
    }

    fn model_entry(&self, model: &ModelInfo<'_>) -> Vec<u8> {
        entry(model).to_string().into_bytes()
    }

    fn generation_paths(&self, model: &str) -> Vec<String> {
        vec![format!("/v1beta/models/{model}:generateContent"), format!("/v1beta/models/{model}:streamGenerateContent")]
    }

    fn generation_path(&self, base_path: &str, model: &str, stream: bool) -> String {
        method_path(base_path, model, if stream { "streamGenerateContent?alt=sse" } else { "generateContent" })
    }

    fn auth_headers(&self, key: &str) -> Vec<(&'static str, String)> {
        if key.is_empty() {
            Vec::new()
        } else {
            vec![("x-goog-api-key", key.to_owned())]
        }
    }

    fn render_request(&self, req: &ir::Request, _opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
        super::ir_to_request(req)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ir::Response, ApiError> {
        super::response_to_ir(body)
    }

    fn stream_decoder(&self) -> DynDecoder {
        Box::new(super::GeminiStreamDecoder::new())
    }

    fn is_error_event(&self, event: &SseEvent) -> bool {
        event.data.trim_start().starts_with("{\"error\"")
    }

    /// A chunk with a part carrying text (thoughts included), a function call or any other
    /// non-text part is content; a finish reason or a blocked prompt ends it; a chunk with
    /// neither (usage only, an empty text) is preamble.
    fn event_role(&self, event: &SseEvent) -> EventRole {
        if self.is_error_event(event) {
            return EventRole::Error;
        }
        let Ok(chunk) = serde_json::from_str::<serde_json::Value>(&event.data) else { return EventRole::Content };
        let candidates = chunk["candidates"].as_array().map(Vec::as_slice).unwrap_or_default();
        let content = candidates
            .iter()
            .flat_map(|c| c["content"]["parts"].as_array().map(Vec::as_slice).unwrap_or_default())
            .any(|part| {
                has_text(&part["text"])
                    || part
                        .as_object()
                        .is_some_and(|o| o.keys().any(|k| !matches!(k.as_str(), "text" | "thought" | "thoughtSignature")))
            });
        if content {
            EventRole::Content
        } else if candidates.iter().any(|c| c["finishReason"].is_string()) || chunk["promptFeedback"]["blockReason"].is_string() {
            EventRole::Terminal
        } else {
            EventRole::Preamble
        }
    }

    /// Gemini answers a bad key with 400 `API_KEY_INVALID`: that is the gateway's credential
    /// failing, read as a 401 so the next channel is tried.
    fn upstream_error(&self, status: u16, body: &[u8], retry_after: Option<&str>) -> ApiError {
        let err = super::parse_gemini_error(status, body);
        match retry_after.and_then(crate::protocol::error::parse_retry_after) {
            Some(secs) => err.with_retry_after(Some(secs)),
            None => err,
        }
    }

    fn serves(&self, op: &Operation) -> bool {
        *op == Operation::Embeddings
    }

    /// OpenAI embeddings become one `batchEmbedContents` call.
    fn forward_request(
        &self,
        _op: &Operation,
        raw: &[u8],
        base_path: &str,
        upstream_model: &str,
    ) -> Result<(String, Bytes), ApiError> {
        let req = embeddings::parse_openai(raw)?;
        Ok((
            method_path(base_path, upstream_model, "batchEmbedContents"),
            Bytes::from(embeddings::to_gemini_batch(&req, upstream_model)),
        ))
    }

    /// Gemini reports no usage for embeddings: the inputs are counted.
    fn forward_response(
        &self,
        _op: &Operation,
        raw_request: &[u8],
        body: &[u8],
        public_model: &str,
        count: &dyn Fn(&str) -> u64,
    ) -> Result<(Bytes, Option<Usage>), ApiError> {
        let req = embeddings::parse_openai(raw_request)?;
        let tokens: u64 = req.inputs.iter().map(|t| count(t)).sum();
        let answer = embeddings::from_gemini_batch(body, &req, public_model, tokens)?;
        Ok((Bytes::from(answer), Some(Usage { in_base: tokens, ..Usage::default() })))
    }

    fn needs_inline_media(&self) -> bool {
        true
    }

    fn signed_reasoning(&self) -> Option<ir::RestoreAt> {
        Some(ir::RestoreAt::BeforeFirstToolCall)
    }
}

fn entry(model: &ModelInfo<'_>) -> serde_json::Value {
    let methods: &[&str] = match model.kind {
        ModelKind::Embedding => &["embedContent", "batchEmbedContents"],
        ModelKind::Image => &[],
        ModelKind::Chat => &["generateContent", "streamGenerateContent", "countTokens"],
    };
    let mut v = json!({ "name": format!("models/{}", model.id), "displayName": model.id, "supportedGenerationMethods": methods });
    model.extend(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_paths_follow_the_sdk_base_url() {
        let d = GeminiDialect;
        assert_eq!(d.generation_path("", "models/g-1", true), "/v1beta/models/g-1:streamGenerateContent?alt=sse");
        assert_eq!(d.generation_path("/v1", "g-1", false), "/v1/models/g-1:generateContent");
        assert_eq!(d.auth_headers("k"), vec![("x-goog-api-key", "k".to_owned())]);
    }

    #[test]
    fn a_bad_key_reads_as_the_gateway_credential_failing() {
        let body = br#"{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert_eq!(GeminiDialect.upstream_error(400, body, None).status, 401);
    }
}
