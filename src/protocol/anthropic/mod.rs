//! Anthropic Messages wire types and their conversions to and from the hub ([`super::ir`]).

pub mod ids;
pub mod request;
pub mod response;
pub mod types;
pub mod stream_decode;
pub mod stream_encode;
