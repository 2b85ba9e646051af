//! The OpenAI Chat ⇄ Anthropic Messages entry points the gateway calls, each going through the
//! hub: parse the source protocol into [`ir`](crate::protocol::ir), render the target.

use super::request::{anthropic_request_to_ir, ir_to_anthropic_request};
use super::response::{anthropic_response_to_ir, ir_to_anthropic_response};
use super::stream_decode::AnthropicStreamDecoder;
use super::stream_encode::AnthropicStreamEncoder;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{ConvertOptions, Converted, StreamConverter};
use crate::protocol::openai::chat_request::{chat_request_to_ir, ir_to_chat_request};
use crate::protocol::openai::chat_response::{chat_response_to_ir, ir_to_chat_response};
use crate::protocol::openai::chat_stream::{ChatStreamDecoder, ChatStreamEncoder};

/// Anthropic upstream answering an OpenAI Chat client, streamed.
pub type AnthropicToChatStream = StreamConverter<AnthropicStreamDecoder, ChatStreamEncoder>;
/// OpenAI Chat upstream answering an Anthropic client, streamed.
pub type ChatToAnthropicStream = StreamConverter<ChatStreamDecoder, AnthropicStreamEncoder>;

/// Chat client request body → Anthropic upstream body (`model` is the upstream's model id).
pub fn chat_request_to_anthropic(body: &[u8], model: &str, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = chat_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_anthropic_request(&req, opts)
}

/// Anthropic client request body → Chat upstream body.
pub fn anthropic_request_to_chat(body: &[u8], model: &str) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = anthropic_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_chat_request(&req)
}

/// Anthropic upstream response body → Chat client body (`model` is the public model id).
pub fn anthropic_response_to_chat(body: &[u8], model: &str, opts: &ConvertOptions) -> Result<Vec<u8>, ApiError> {
    let mut resp = anthropic_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_chat_response(&resp, opts))
}

/// Chat upstream response body → Anthropic client body.
pub fn chat_response_to_anthropic(body: &[u8], model: &str) -> Result<Vec<u8>, ApiError> {
    let mut resp = chat_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_anthropic_response(&resp))
}

/// A stream converter for an Anthropic upstream and a Chat client that asked (or not) for the
/// usage chunk.
pub fn anthropic_to_chat_stream(public_model: &str, include_usage: bool, opts: &ConvertOptions) -> AnthropicToChatStream {
    StreamConverter::new(AnthropicStreamDecoder::new(), ChatStreamEncoder::new(public_model, include_usage, opts))
}

/// A stream converter for a Chat upstream and an Anthropic client; `fallback_id` names the
/// message if the upstream never identified it.
pub fn chat_to_anthropic_stream(public_model: &str, fallback_id: &str) -> ChatToAnthropicStream {
    StreamConverter::new(ChatStreamDecoder::new(), AnthropicStreamEncoder::new(public_model, fallback_id))
}
