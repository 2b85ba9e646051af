//! Anthropic Messages wire types and their conversions to and from the hub ([`super::ir`]).
//!
//! `bridge` holds the Chat ⇄ Anthropic entry points; the other files each do one job.

pub mod bridge;
pub mod dialect;
pub mod ids;
pub mod request;
pub mod response;
pub mod stream_decode;
pub mod stream_encode;
pub mod types;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod stream_props;
#[cfg(test)]
mod unit_tests;
