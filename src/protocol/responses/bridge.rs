//! The Responses ⇄ OpenAI Chat and Responses ⇄ Anthropic entry points the gateway calls, each
//! going through the hub: parse the source protocol into [`ir`](crate::protocol::ir), render the
//! target. `model` is the upstream's model id for requests and the public id for answers.

use super::object::ResponseEcho;
use super::request::responses_request_to_ir;
use super::request_out::ir_to_responses_request;
use super::response::{ir_to_responses_response, responses_response_to_ir};
use super::stream_decode::ResponsesStreamDecoder;
use super::stream_encode::ResponsesStreamEncoder;
use crate::protocol::anthropic::request::{anthropic_request_to_ir, ir_to_anthropic_request};
use crate::protocol::anthropic::response::{anthropic_response_to_ir, ir_to_anthropic_response};
use crate::protocol::anthropic::stream_decode::AnthropicStreamDecoder;
use crate::protocol::anthropic::stream_encode::AnthropicStreamEncoder;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{ConvertOptions, Converted, StreamConverter};
use crate::protocol::openai::chat_request::{chat_request_to_ir, ir_to_chat_request};
use crate::protocol::openai::chat_response::{chat_response_to_ir, ir_to_chat_response};
use crate::protocol::openai::chat_stream::{ChatStreamDecoder, ChatStreamEncoder};

/// OpenAI Chat upstream answering a Responses client, streamed.
pub type ChatToResponsesStream = StreamConverter<ChatStreamDecoder, ResponsesStreamEncoder>;
/// Anthropic upstream answering a Responses client, streamed.
pub type AnthropicToResponsesStream = StreamConverter<AnthropicStreamDecoder, ResponsesStreamEncoder>;
/// Responses upstream answering a Chat client, streamed.
pub type ResponsesToChatStream = StreamConverter<ResponsesStreamDecoder, ChatStreamEncoder>;
/// Responses upstream answering an Anthropic client, streamed.
pub type ResponsesToAnthropicStream = StreamConverter<ResponsesStreamDecoder, AnthropicStreamEncoder>;

/// Responses client request body → Chat upstream body.
pub fn responses_request_to_chat(body: &[u8], model: &str) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = responses_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_chat_request(&req)
}

/// Responses client request body → Anthropic upstream body.
pub fn responses_request_to_anthropic(body: &[u8], model: &str, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = responses_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_anthropic_request(&req, opts)
}

/// Chat client request body → Responses upstream body.
pub fn chat_request_to_responses(body: &[u8], model: &str) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = chat_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_responses_request(&req)
}

/// Anthropic client request body → Responses upstream body.
pub fn anthropic_request_to_responses(body: &[u8], model: &str) -> Result<Converted<Vec<u8>>, ApiError> {
    let mut req = anthropic_request_to_ir(body)?;
    req.model = model.to_owned();
    ir_to_responses_request(&req)
}

/// Chat upstream response body → Responses client body; `echo` repeats the client's settings,
/// `fallback_id` names the response if the upstream did not.
pub fn chat_response_to_responses(body: &[u8], model: &str, echo: &ResponseEcho, fallback_id: &str) -> Result<Vec<u8>, ApiError> {
    let mut resp = chat_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_responses_response(&resp, echo, fallback_id))
}

/// Anthropic upstream response body → Responses client body.
pub fn anthropic_response_to_responses(
    body: &[u8],
    model: &str,
    echo: &ResponseEcho,
    fallback_id: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut resp = anthropic_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_responses_response(&resp, echo, fallback_id))
}

/// Responses upstream response body → Chat client body.
pub fn responses_response_to_chat(body: &[u8], model: &str, opts: &ConvertOptions) -> Result<Vec<u8>, ApiError> {
    let mut resp = responses_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_chat_response(&resp, opts))
}

/// Responses upstream response body → Anthropic client body.
pub fn responses_response_to_anthropic(body: &[u8], model: &str) -> Result<Vec<u8>, ApiError> {
    let mut resp = responses_response_to_ir(body)?;
    resp.model = model.to_owned();
    Ok(ir_to_anthropic_response(&resp))
}

/// A stream converter for a Chat upstream and a Responses client.
pub fn chat_to_responses_stream(public_model: &str, fallback_id: &str, echo: ResponseEcho) -> ChatToResponsesStream {
    StreamConverter::new(ChatStreamDecoder::new(), ResponsesStreamEncoder::new(public_model, fallback_id).with_echo(echo))
}

/// A stream converter for an Anthropic upstream and a Responses client.
pub fn anthropic_to_responses_stream(public_model: &str, fallback_id: &str, echo: ResponseEcho) -> AnthropicToResponsesStream {
    StreamConverter::new(AnthropicStreamDecoder::new(), ResponsesStreamEncoder::new(public_model, fallback_id).with_echo(echo))
}

/// A stream converter for a Responses upstream and a Chat client that asked (or not) for the
/// usage chunk.
pub fn responses_to_chat_stream(public_model: &str, include_usage: bool, opts: &ConvertOptions) -> ResponsesToChatStream {
    StreamConverter::new(ResponsesStreamDecoder::new(), ChatStreamEncoder::new(public_model, include_usage, opts))
}

/// A stream converter for a Responses upstream and an Anthropic client.
pub fn responses_to_anthropic_stream(public_model: &str, fallback_id: &str) -> ResponsesToAnthropicStream {
    StreamConverter::new(ResponsesStreamDecoder::new(), AnthropicStreamEncoder::new(public_model, fallback_id))
}
