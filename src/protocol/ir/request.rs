//! The hub request: everything any supported protocol can ask of a model.
//!
//! Every optional knob is an `Option` so that an explicit `0`, `0.0` or `false` from the client
//! survives to the upstream (PROTOCOLS.md trap #11); `None` means "the client did not say".

use super::Protocol;
use serde_json::{Map, Value};

/// One model request in Switchyard's own terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// The model id as the upstream should see it (the caller rewrites it before rendering).
    pub model: String,
    /// Leading system/developer instructions, in order. Later ones live in `turns` as
    /// [`Role::System`] turns so their position is kept (PROTOCOLS.md §3.1).
    pub system: Vec<SystemBlock>,
    /// The conversation, in order.
    pub turns: Vec<Turn>,
    /// Function tools the model may call.
    pub tools: Vec<Tool>,
    /// How the model must use `tools`; `None` = protocol default (auto when tools are given).
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)` forbids several calls in one turn; `None` = provider default.
    pub parallel_tool_calls: Option<bool>,
    /// Upper bound on generated tokens (reasoning included, as every protocol counts it).
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature as the client sent it (range differs per protocol).
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Top-k sampling (Anthropic, Gemini).
    pub top_k: Option<u32>,
    /// Stop sequences (a single OpenAI string becomes a one-element list).
    pub stop: Vec<String>,
    /// Number of choices/candidates; only OpenAI and Gemini can return more than one.
    pub n: Option<u32>,
    /// Deterministic sampling seed (OpenAI, Gemini).
    pub seed: Option<i64>,
    /// Presence penalty (OpenAI, Gemini).
    pub presence_penalty: Option<f64>,
    /// Frequency penalty (OpenAI, Gemini).
    pub frequency_penalty: Option<f64>,
    /// Token log-probabilities wanted in the answer (changes the answer's shape).
    pub logprobs: Option<bool>,
    /// How many alternatives per token with `logprobs`.
    pub top_logprobs: Option<u32>,
    /// Structured output.
    pub response_format: Option<ResponseFormat>,
    /// Thinking / reasoning control.
    pub reasoning: Option<Reasoning>,
    /// The client wants a stream.
    pub stream: bool,
    /// The client asked for usage in the stream (OpenAI `stream_options.include_usage`).
    pub include_usage: bool,
    /// End-user tags.
    pub metadata: Metadata,
    /// Fields of the source protocol with no hub equivalent; sent only back to that protocol.
    pub extra: Extra,
}

/// One system instruction block.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SystemBlock {
    /// The instruction text.
    pub text: String,
    /// Anthropic prompt-cache breakpoint after this block.
    pub cache: Option<CacheHint>,
}

/// A prompt-cache breakpoint (Anthropic `cache_control`); dropped by protocols without one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheHint {
    /// `"5m"` / `"1h"` when the client chose a lifetime.
    pub ttl: Option<String>,
}

/// Who speaks a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A system/developer message that came after the conversation started (§3.1).
    System,
    /// The end user.
    User,
    /// The model (history, or a final prefill).
    Assistant,
    /// Results of tool calls; holds only [`Part::ToolResult`] parts.
    Tool,
}

/// One turn of the conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// The speaker.
    pub role: Role,
    /// The content, in order.
    pub parts: Vec<Part>,
    /// Prompt-cache breakpoint after the last part of this turn.
    pub cache: Option<CacheHint>,
}

impl Turn {
    /// A turn without a cache hint.
    pub fn new(role: Role, parts: Vec<Part>) -> Self {
        Turn { role, parts, cache: None }
    }
}

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A remote `http(s)` URL (fetching it is the gateway's job, not the converter's).
    Url(String),
    /// Inline bytes, still base64 as every protocol carries them.
    Base64 {
        /// e.g. `image/png`.
        media_type: String,
        /// Base64 payload without the `data:` prefix.
        data: String,
    },
}

/// Where a document (PDF, plain text) comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocumentSource {
    /// Inline base64 bytes.
    Base64 {
        /// e.g. `application/pdf`.
        media_type: String,
        /// Base64 payload.
        data: String,
    },
    /// A remote URL.
    Url(String),
    /// Plain text content.
    Text(String),
}

/// One piece of content.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Plain text.
    Text {
        /// The text (converters drop empty ones where a protocol rejects them, trap #19).
        text: String,
    },
    /// An image.
    Image {
        /// Its bytes or URL.
        source: ImageSource,
    },
    /// A document such as a PDF.
    Document {
        /// Its bytes, URL or text.
        source: DocumentSource,
        /// A title or file name when the client gave one.
        title: Option<String>,
    },
    /// Input audio (OpenAI `input_audio`); Anthropic cannot take it (400).
    Audio {
        /// Format as sent (`wav`, `mp3`).
        format: String,
        /// Base64 payload.
        data: String,
    },
    /// A provider-side file id; ids never cross providers (400 elsewhere).
    FileRef {
        /// The protocol whose provider issued the id.
        issuer: Protocol,
        /// The id.
        file_id: String,
    },
    /// Model reasoning. The signature is opaque and returned byte-exact to its issuer only.
    Thinking {
        /// The visible reasoning text.
        text: String,
        /// Issuer's signature, if any.
        signature: Option<String>,
    },
    /// Encrypted reasoning the provider would not show.
    RedactedThinking {
        /// Opaque payload, byte-exact.
        data: String,
    },
    /// A tool call made by the assistant.
    ToolUse {
        /// The call id (rewritten per protocol when its alphabet differs, §3.4d).
        id: String,
        /// Function name.
        name: String,
        /// Arguments as JSON (invalid JSON from OpenAI becomes `{"_raw_arguments": …}`).
        input: Value,
    },
    /// The result of a tool call.
    ToolResult {
        /// The id of the call this answers.
        tool_use_id: String,
        /// The function name, recovered from the matching call when the protocol lacks it.
        name: Option<String>,
        /// The result content (text, images).
        content: Vec<Part>,
        /// The tool failed.
        is_error: bool,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq)]
pub struct Tool {
    /// Function name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of the arguments (default `{"type":"object","properties":{}}`).
    pub schema: Value,
    /// Strict schema adherence.
    pub strict: Option<bool>,
    /// Prompt-cache breakpoint after this tool.
    pub cache: Option<CacheHint>,
}

/// How the model must use the tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This one function.
    Tool(String),
    /// Only these functions; `required` forces a call among them.
    Allowed {
        /// Permitted function names.
        names: Vec<String>,
        /// A call is mandatory.
        required: bool,
    },
}

/// Structured output.
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseFormat {
    /// Free text (the default, made explicit).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// Schema name (OpenAI requires one).
        name: String,
        /// Description of the schema.
        description: Option<String>,
        /// The JSON Schema.
        schema: Value,
        /// Strict adherence.
        strict: Option<bool>,
    },
}

/// Reasoning effort levels shared by OpenAI, Anthropic and Gemini.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// OpenAI `minimal`, Gemini `MINIMAL`.
    Minimal,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// OpenAI `xhigh`, Gemini `XHIGH`.
    XHigh,
    /// `max` (Anthropic, OpenAI).
    Max,
}

impl Effort {
    /// Parses a lowercase effort word; `none` is not an effort but [`Reasoning::Off`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "minimal" => Effort::Minimal,
            "low" => Effort::Low,
            "medium" => Effort::Medium,
            "high" => Effort::High,
            "xhigh" => Effort::XHigh,
            "max" => Effort::Max,
            _ => return None,
        })
    }

    /// The lowercase word OpenAI and Anthropic use.
    pub fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// Share of `max_tokens` given to a thinking budget (PROTOCOLS.md §3.6 policy).
    pub fn budget_ratio(self) -> f64 {
        match self {
            Effort::Minimal => 0.1,
            Effort::Low => 0.2,
            Effort::Medium => 0.4,
            Effort::High => 0.6,
            Effort::XHigh => 0.8,
            Effort::Max => 0.9,
        }
    }
}

/// Thinking control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reasoning {
    /// No thinking (OpenAI `none`, Anthropic `disabled`, Gemini budget 0).
    Off,
    /// Think with this effort.
    Effort(Effort),
    /// Think with this token budget (Anthropic `budget_tokens`, Gemini `thinkingBudget`).
    Budget(u32),
    /// The model decides how much (Anthropic `adaptive`, Gemini budget −1), optionally hinted.
    Adaptive(Option<Effort>),
}

/// End-user tags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// A stable end-user id (OpenAI `user`/`safety_identifier`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
    /// Free-form string tags (OpenAI `metadata`, Gemini `labels`).
    pub tags: Map<String, Value>,
}

/// Source-protocol fields with no hub equivalent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// The protocol these fields belong to (`None` when there are none).
    pub source: Option<Protocol>,
    /// The fields, verbatim.
    pub fields: Map<String, Value>,
    /// Names among `fields` that change the answer's shape: another protocol must refuse (400)
    /// rather than drop them.
    pub answer_changing: Vec<String>,
}
