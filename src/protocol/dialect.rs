//! The table of protocols: one place that maps a wire protocol to its parser, renderer, stream
//! decoder/encoder and error envelope, so the gateway can serve any inbound protocol from any
//! upstream protocol without knowing a single field of either.
//!
//! Adding a protocol is a new folder under `protocol/` plus one arm per function here.

use super::error::ApiError;
use super::ir::{self, ConvertOptions, Converted, Protocol, StreamDecoder, StreamEncoder, StreamEvent};
use super::sse::SseEvent;
use super::{anthropic, gemini, openai, responses};
use bytes::{Bytes, BytesMut};

/// A stream decoder chosen at run time.
pub type DynDecoder = Box<dyn StreamDecoder + Send + Sync>;
/// A stream encoder chosen at run time.
pub type DynEncoder = Box<dyn StreamEncoder + Send + Sync>;

impl StreamDecoder for DynDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        (**self).decode(event, out)
    }
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        (**self).finish(out)
    }
    fn raw_finish_reason(&self) -> Option<&str> {
        (**self).raw_finish_reason()
    }
}

impl StreamEncoder for DynEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        (**self).encode(event, out)
    }
}

/// Parses an inbound request body into the hub; `path_model` and `path_stream` are what a
/// Gemini path says (its body names neither).
pub fn request_to_ir(p: Protocol, body: &[u8], path_model: Option<&str>, path_stream: bool) -> Result<ir::Request, ApiError> {
    match p {
        Protocol::OpenAiChat => openai::chat_request::chat_request_to_ir(body),
        Protocol::Anthropic => anthropic::request::anthropic_request_to_ir(body),
        Protocol::Gemini => gemini::request_to_ir(body, path_model.unwrap_or_default(), path_stream),
        Protocol::OpenAiResponses => responses::responses_request_to_ir(body),
    }
}

/// Renders a hub request as an upstream body (the caller has set `req.model`). Sampling fields
/// the model refuses (`opts.rejected_sampling`) are dropped first, each with a warning.
pub fn ir_to_request(p: Protocol, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    if ir::has_rejected_sampling(req, opts) {
        let mut stripped = req.clone();
        let mut warnings = Vec::new();
        ir::drop_rejected_sampling(&mut stripped, opts, &mut warnings);
        let mut converted = render_request(p, &stripped, opts)?;
        warnings.append(&mut converted.warnings);
        converted.warnings = warnings;
        return Ok(converted);
    }
    render_request(p, req, opts)
}

fn render_request(p: Protocol, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    match p {
        Protocol::OpenAiChat => openai::chat_request::ir_to_chat_request(req),
        Protocol::Anthropic => anthropic::request::ir_to_anthropic_request(req, opts),
        Protocol::Gemini => gemini::ir_to_request(req),
        Protocol::OpenAiResponses => responses::ir_to_responses_request(req),
    }
}

/// Parses a whole upstream response into the hub.
pub fn response_to_ir(p: Protocol, body: &[u8]) -> Result<ir::Response, ApiError> {
    match p {
        Protocol::OpenAiChat => openai::chat_response::chat_response_to_ir(body),
        Protocol::Anthropic => anthropic::response::anthropic_response_to_ir(body),
        Protocol::Gemini => gemini::response_to_ir(body),
        Protocol::OpenAiResponses => responses::responses_response_to_ir(body),
    }
}

/// Renders a hub response for the client (the caller has set `resp.model` to the public id).
pub fn ir_to_response(p: Protocol, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
    match p {
        Protocol::OpenAiChat => Ok(openai::chat_response::ir_to_chat_response(resp, client.opts)),
        Protocol::Anthropic => Ok(anthropic::response::ir_to_anthropic_response(resp)),
        Protocol::Gemini => gemini::ir_to_response(resp, client.include_thoughts),
        Protocol::OpenAiResponses => Ok(responses::ir_to_responses_response(resp, &client.responses_echo, client.fallback_id)),
    }
}

/// A decoder for an upstream stream of protocol `p`.
pub fn stream_decoder(p: Protocol) -> Result<DynDecoder, ApiError> {
    match p {
        Protocol::OpenAiChat => Ok(Box::new(openai::chat_stream::ChatStreamDecoder::new())),
        Protocol::Anthropic => Ok(Box::new(anthropic::stream_decode::AnthropicStreamDecoder::new())),
        Protocol::Gemini => Ok(Box::new(gemini::GeminiStreamDecoder::new())),
        Protocol::OpenAiResponses => Ok(Box::new(responses::ResponsesStreamDecoder::new())),
    }
}

/// What a renderer needs to know about the client.
pub struct ClientSpec<'a> {
    /// The model id the client sees.
    pub public_model: &'a str,
    /// The client asked for usage in the stream (OpenAI `include_usage`).
    pub include_usage: bool,
    /// The client asked to see thought text (Gemini `includeThoughts`).
    pub include_thoughts: bool,
    /// The Responses client's settings, which every Responses answer repeats.
    pub responses_echo: responses::ResponseEcho,
    /// An id for the answer if the upstream gives none (the request id).
    pub fallback_id: &'a str,
    /// Conversion options.
    pub opts: &'a ConvertOptions,
}

/// An encoder rendering hub events for a client of protocol `p`.
pub fn stream_encoder(p: Protocol, spec: &ClientSpec<'_>) -> Result<DynEncoder, ApiError> {
    match p {
        Protocol::OpenAiChat => Ok(Box::new(openai::chat_stream::ChatStreamEncoder::new(spec.public_model, spec.include_usage, spec.opts))),
        Protocol::Anthropic => Ok(Box::new(anthropic::stream_encode::AnthropicStreamEncoder::new(spec.public_model, spec.fallback_id))),
        Protocol::Gemini => Ok(Box::new(gemini::GeminiStreamEncoder::new(spec.include_thoughts))),
        Protocol::OpenAiResponses => {
            Ok(Box::new(responses::ResponsesStreamEncoder::new(spec.public_model, spec.fallback_id).with_echo(spec.responses_echo.clone())))
        }
    }
}

/// The status and body of an error for a client of protocol `p`.
pub fn error_response(p: Protocol, err: &ApiError, request_id: &str) -> (u16, Vec<u8>) {
    match p {
        Protocol::Anthropic => (err.status, err.to_anthropic_json(request_id)),
        Protocol::Gemini => (err.status_for_openai(), gemini::to_gemini_json(err)),
        Protocol::OpenAiChat | Protocol::OpenAiResponses => (err.status_for_openai(), err.to_openai_json(request_id)),
    }
}

/// The in-stream error frame for a client of protocol `p` (after a 200 was sent).
pub fn stream_error_frame(p: Protocol, err: &ApiError, request_id: &str) -> Bytes {
    let mut out = BytesMut::new();
    let event = match p {
        Protocol::Anthropic => SseEvent { event: Some("error".into()), data: String::from_utf8_lossy(&err.to_anthropic_json(request_id)).into_owned() },
        Protocol::OpenAiResponses => {
            let data = serde_json::json!({"type": "error", "code": err.code, "message": err.message, "param": err.param});
            SseEvent { event: Some("error".into()), data: data.to_string() }
        }
        Protocol::Gemini => SseEvent::data(String::from_utf8_lossy(&gemini::to_gemini_json(err)).into_owned()),
        Protocol::OpenAiChat => SseEvent::data(String::from_utf8_lossy(&err.to_openai_json(request_id)).into_owned()),
    };
    event.encode_into(&mut out);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorClass;

    #[test]
    fn error_envelopes_per_protocol() {
        let e = ApiError::new(ErrorClass::Unavailable, "overloaded").with_status(529);
        let (s, b) = error_response(Protocol::OpenAiChat, &e, "r1");
        assert_eq!(s, 503);
        assert!(String::from_utf8_lossy(&b).contains("\"request_id\":\"r1\""));
        let (s, b) = error_response(Protocol::Anthropic, &e, "r1");
        assert_eq!(s, 529);
        assert!(String::from_utf8_lossy(&b).contains("overloaded_error"));
        let (s, b) = error_response(Protocol::Gemini, &e, "r1");
        assert_eq!(s, 503);
        assert!(String::from_utf8_lossy(&b).contains("\"status\":\"UNAVAILABLE\""));
        let frame = stream_error_frame(Protocol::Anthropic, &e, "r1");
        assert!(frame.starts_with(b"event: error\ndata: {"));
    }
}
