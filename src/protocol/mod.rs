//! Pure wire-format code: no I/O, no Pingora. Everything here is unit- and property-tested on its
//! own, so the gateway can treat a protocol as a table of functions.

pub mod anthropic;
pub mod dialect;
pub mod embeddings;
pub mod error;
pub mod fallback;
pub mod gemini;
pub mod ir;
pub mod json;
pub mod listing;
#[cfg(test)]
mod loss_tests;
pub mod openai;
pub mod passthrough;
pub mod provider_route;
pub mod responses;
pub mod sse;
pub mod usage;
