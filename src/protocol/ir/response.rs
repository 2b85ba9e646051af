//! The hub response: one complete (non-stream) answer.

use crate::protocol::usage::Usage;
use serde_json::Value;

/// A complete model answer (one choice; `n > 1` is not converted across protocols).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// Provider's response id.
    pub id: String,
    /// Model that answered, as the upstream named it.
    pub model: String,
    /// Content in order.
    pub blocks: Vec<Block>,
    /// Why generation stopped.
    pub finish: FinishReason,
    /// The stop sequence that matched, when the provider says.
    pub stop_sequence: Option<String>,
    /// Token counts, normalised.
    pub usage: Usage,
    /// Creation time (Unix seconds) when the provider gave one.
    pub created: Option<u64>,
}

/// One block of an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Text.
    Text(String),
    /// Visible reasoning with its opaque signature (byte-exact).
    Thinking {
        /// Reasoning text.
        text: String,
        /// Issuer's signature.
        signature: Option<String>,
    },
    /// Encrypted reasoning.
    RedactedThinking(String),
    /// A tool call.
    ToolUse {
        /// Call id.
        id: String,
        /// Function name.
        name: String,
        /// Arguments.
        input: Value,
    },
}

/// Why generation stopped (PROTOCOLS.md §3.8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    #[default]
    Stop,
    /// Output token limit or context window.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Refusal or safety filter.
    ContentFilter,
    /// Anything else, raw value kept for logs.
    Other(String),
}
