//! OpenAI Responses API (`POST /v1/responses`) wire types and their conversions to and from the
//! hub ([`super::ir`]).
//!
//! A provider with a native `/responses` gets the client's bytes passed through; everything here
//! is for the other providers, converted through the hub like every other protocol. `bridge`
//! holds the entry points the gateway calls for Chat and Anthropic upstreams; each other file
//! does one job.

pub mod bridge;
pub mod dialect;
pub mod ids;
pub mod object;
pub mod request;
pub mod request_out;
pub mod response;
pub mod stream_decode;
pub mod stream_encode;
pub mod types;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod property_tests;

pub use object::{ResponseEcho, ResponseObject, ResponsesUsage};
pub use request::{parse_responses_request, responses_request_to_ir, responses_request_to_ir_with_echo, responses_to_ir};
pub use request_out::{ir_to_responses, ir_to_responses_request};
pub use response::{
    ir_to_response_object, ir_to_responses_response, response_object_to_ir, responses_response_to_ir, responses_usage,
    usage_from_responses, usage_to_responses,
};
pub use stream_decode::ResponsesStreamDecoder;
pub use stream_encode::ResponsesStreamEncoder;
pub use types::ResponsesRequest;
