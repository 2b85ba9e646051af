//! Typed Anthropic Messages request, response and stream events, for conversions.
//!
//! Knobs are `Option` so explicit zeros survive (trap #11); serialisation skips `None`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A `POST /v1/messages` body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct MessagesRequest {
    /// Model id.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Output limit (required by the API, thinking included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemField>,
    /// 0–1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoiceParam>,
    /// Extended thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
    /// Structured output and effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// Beta structured output (SDK 0.75 `output_format`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// `{user_id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RequestMetadata>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system`: a string or text blocks.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum SystemField {
    /// One string.
    Text(String),
    /// Text blocks.
    Blocks(Vec<ContentBlock>),
}

/// One message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Message {
    /// `user`, `assistant` or (2.x) `system`.
    pub role: String,
    /// A string or blocks.
    pub content: MessageContent,
}

/// Message content.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<ContentBlock>),
}

/// `cache_control`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct CacheControl {
    /// `"ephemeral"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `"5m"|"1h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
}

/// A content block (requests and responses).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Cache breakpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// An image.
    Image {
        /// Its source.
        source: MediaSource,
        /// Cache breakpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A document.
    Document {
        /// Its source.
        source: MediaSource,
        /// Title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        /// Cache breakpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// Visible thinking with its signature.
    Thinking {
        /// Reasoning text.
        thinking: String,
        /// Opaque signature (byte-exact).
        #[serde(default)]
        signature: String,
    },
    /// Encrypted thinking.
    RedactedThinking {
        /// Opaque payload.
        data: String,
    },
    /// A tool call.
    ToolUse {
        /// Call id (`^[a-zA-Z0-9_-]+$`).
        id: String,
        /// Function name.
        name: String,
        /// Arguments.
        #[serde(default)]
        input: Value,
        /// Cache breakpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A tool result (user turns).
    ToolResult {
        /// The call answered.
        tool_use_id: String,
        /// Result content.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        /// The tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        /// Cache breakpoint.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// Any block type Switchyard does not convert (server tools, search results, …).
    #[serde(other)]
    Unsupported,
}

/// `tool_result.content`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Text.
    Text(String),
    /// Blocks.
    Blocks(Vec<ContentBlock>),
}

/// Image/document `source`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaSource {
    /// Inline base64.
    Base64 {
        /// MIME type.
        media_type: String,
        /// Payload.
        data: String,
    },
    /// Remote URL.
    Url {
        /// The URL.
        url: String,
    },
    /// Plain text document.
    Text {
        /// `text/plain`.
        #[serde(default = "text_plain")]
        media_type: String,
        /// The text.
        data: String,
    },
    /// An uploaded file.
    File {
        /// File id.
        file_id: String,
    },
}

fn text_plain() -> String {
    "text/plain".into()
}

/// A tool definition (custom tools; server tools carry another `type`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Tool {
    /// `None`/`"custom"` for client tools; anything else is a server tool.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema (`type: object`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Cache breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

/// `tool_choice`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ToolChoiceParam {
    /// `auto|any|none|tool`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Tool name for `tool`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// One call per turn at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `thinking`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ThinkingConfig {
    /// `enabled|disabled|adaptive`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Budget for `enabled` (≥1024, < max_tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
}

/// `output_config`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct OutputConfig {
    /// Structured output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    /// `low…max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

/// `{type:"json_schema", schema}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct OutputFormat {
    /// `"json_schema"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

/// `metadata`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct RequestMetadata {
    /// Opaque end-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A non-stream message (also `message_start.message`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct MessagesResponse {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// `"message"`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `"assistant"`.
    #[serde(default)]
    pub role: String,
    /// Content blocks.
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// `end_turn|max_tokens|stop_sequence|tool_use|pause_turn|refusal|…`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The matched stop sequence.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: AnthropicUsage,
}

/// Anthropic `usage`: input excludes cache reads and writes (§2). Optional fields keep "not
/// reported" apart from 0, so stream snapshots merge per field.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AnthropicUsage {
    /// Tokens after the last cache breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens written to cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Tokens read from cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// 5m/1h split of the cache writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
    /// Output tokens, thinking included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Breakdown of the output (API 2.x): the thinking tokens among `output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
}

/// `usage.output_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct OutputTokensDetails {
    /// Thinking tokens, a subset of `output_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_tokens: Option<u64>,
}

/// `usage.cache_creation`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct CacheCreation {
    /// 5-minute writes.
    #[serde(default)]
    pub ephemeral_5m_input_tokens: u64,
    /// 1-hour writes.
    #[serde(default)]
    pub ephemeral_1h_input_tokens: u64,
}

/// One stream event's `data`, tagged by `type`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamFrame {
    /// First event: the message shell with input usage.
    MessageStart {
        /// The shell.
        message: MessagesResponse,
    },
    /// A block begins.
    ContentBlockStart {
        /// Block index.
        index: u64,
        /// The block's initial form.
        content_block: ContentBlock,
    },
    /// A block grows.
    ContentBlockDelta {
        /// Block index.
        index: u64,
        /// The increment.
        delta: BlockDelta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block index.
        index: u64,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        delta: MessageDeltaBody,
        /// Cumulative usage (trap #7).
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    /// Last event.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// In-stream error.
    Error {
        /// `{type, message}`.
        error: ErrorBody,
    },
    /// Anything newer.
    #[serde(other)]
    Unknown,
}

/// A block increment.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text.
    TextDelta {
        /// Increment.
        text: String,
    },
    /// Thinking text.
    ThinkingDelta {
        /// Increment.
        thinking: String,
    },
    /// Signature (replaces).
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// Tool argument fragment.
    InputJsonDelta {
        /// The fragment.
        partial_json: String,
    },
    /// Citations and newer deltas, not converted.
    #[serde(other)]
    Unknown,
}

/// `message_delta.delta`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct MessageDeltaBody {
    /// Stop reason.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Matched stop sequence.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// `error` object.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ErrorBody {
    /// `overloaded_error`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Message.
    #[serde(default)]
    pub message: String,
}
