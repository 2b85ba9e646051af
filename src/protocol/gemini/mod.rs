//! Gemini Developer API (`generateContent`) wire types and their conversions to and from the
//! hub ([`super::ir`]).
//!
//! Lets a google-genai client reach any upstream, and any client reach a Gemini upstream:
//! - requests: [`request_to_ir`] (Gemini client) and [`ir_to_request`] (Gemini upstream, with
//!   [`upstream_path`] for the URL, since Gemini carries the model in the path);
//! - whole answers: [`response_to_ir`] (Gemini upstream) and [`ir_to_response`] (Gemini client);
//! - streams: [`GeminiStreamDecoder`] (upstream SSE → hub events) and [`GeminiStreamEncoder`]
//!   (hub events → client SSE), both plugged into [`super::ir::StreamConverter`];
//! - errors: [`to_gemini_json`] and [`parse_gemini_error`]; `countTokens` in [`count_tokens`].
//!
//! Same protocol in and out never comes here: the gateway passes Gemini bytes through.

pub mod count_tokens;
pub mod dialect;
mod error;
mod finish;
mod ids;
mod media;
mod path;
mod request_in;
mod request_out;
mod response;
pub mod response_types;
mod schema;
mod signatures;
mod stream_decode;
mod stream_encode;
pub mod types;
mod usage;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod props;
#[cfg(test)]
mod testutil;

pub use count_tokens::{
    count_tokens_request_to_ir, count_tokens_response, ir_to_count_tokens_request, parse_count_tokens_response,
};
pub use error::{gemini_status, parse_gemini_error, to_gemini_envelope, to_gemini_json};
pub use finish::{finish_from_gemini, finish_to_gemini};
pub use ids::synthetic_call_id;
pub use path::{model_id, parse_model_path, upstream_path, GeminiMethod};
pub use request_in::{gemini_to_ir, parse_request, request_to_ir, wants_thoughts};
pub use request_out::{ir_to_gemini, ir_to_request};
pub use response::{gemini_response_to_ir, ir_to_gemini_response, ir_to_response, parse_response, response_to_ir};
pub use response_types::{CountTokensRequest, CountTokensResponse, ErrorEnvelope, GenerateContentResponse, UsageMetadata};
pub use schema::openapi_to_json_schema;
pub use signatures::SKIP_SIGNATURE;
pub use stream_decode::GeminiStreamDecoder;
pub use stream_encode::GeminiStreamEncoder;
pub use types::GenerateContentRequest;
pub use usage::{merge_snapshot, usage_from_gemini, usage_to_gemini};
