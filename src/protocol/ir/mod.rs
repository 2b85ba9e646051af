//! The hub representation every protocol converts into and out of.
//!
//! Converting N protocols pairwise would need N² converters that each lose something different;
//! going through one superset needs 2N and loses nothing one side can carry (thinking signatures,
//! redacted thinking, documents, cache hints, late system messages, streamed tool arguments).
//! It is deliberately not OpenAI Chat in disguise: parts, turns and blocks are modelled on what
//! all protocols have in common, with the richest shape kept.
//!
//! Stability: the Gemini and Responses converters build on these types, so fields are only added.

mod convert;
mod ids;
mod media;
mod pending;
mod request;
mod response;
mod restore;
mod sampling;
pub mod signatures;
mod stream;
#[cfg(test)]
pub(crate) mod testutil;
mod tracker;

pub use convert::{refuse_stream_extras, ConvertOptions, Converted, SamplingField, Warning, ANSWER_ROOM, FALLBACK_MAX_TOKENS};
pub use ids::client_response_id;
pub use media::{data_url, image_source_from_url, parse_arguments, parse_data_url};
pub use pending::{PendingBlock, PendingBlocks};
pub use request::{
    CacheHint, DocumentSource, Effort, Extra, ImageSource, Metadata, Part, Reasoning, Request, ResponseFormat, Role, SystemBlock,
    Tool, ToolChoice, Turn,
};
pub use response::{Block, Choice, FinishReason, Response, TokenLogprob};
pub use restore::{has_signed_reasoning, restore_signed_reasoning, RestoreAt};
pub use sampling::{drop_rejected_sampling, has_rejected_sampling};
pub use stream::{
    malformed_stream_error, truncated_stream_error, write_json_frame, BlockKind, Flow, StreamConverter, StreamDecoder,
    StreamEncoder, StreamEvent,
};
pub use tracker::BlockTracker;

/// The wire protocols Switchyard speaks; used to tag protocol-specific leftovers ([`Extra`]) and
/// to pick an upstream error parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OpenAI Chat Completions.
    OpenAiChat,
    /// OpenAI Responses.
    OpenAiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini generateContent.
    Gemini,
}
