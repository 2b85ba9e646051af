//! Typed OpenAI Chat Completions request, response and stream chunk, for conversions.
//!
//! Passthrough never uses these (it keeps the client's bytes, see `chat.rs`); they exist for the
//! hub conversions. Every knob is an `Option` so explicit `0`/`false` survive (trap #11), and
//! serialisation skips `None` so nothing the client did not say is invented.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A `POST /v1/chat/completions` body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatCompletionRequest {
    /// Model id.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Output limit including reasoning (preferred over `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Deprecated output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// 0–2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// A string or up to four strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopField>,
    /// Sampling seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Return token log-probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// Alternatives per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Function tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ChatTool>>,
    /// `"none"|"auto"|"required"` or an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Allow several calls per turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Structured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ChatResponseFormat>,
    /// `none|minimal|low|medium|high|xhigh|max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Stream the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// End-user id (deprecated for `safety_identifier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// String tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stop`: one string or a list.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum StopField {
    /// A single sequence.
    One(String),
    /// Several sequences.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct StreamOptions {
    /// Send a final usage chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
}

/// One message, tagged by `role`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    /// System instructions.
    System {
        /// Text or text parts.
        content: ChatContent,
        /// Participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Developer instructions (system for reasoning models).
    Developer {
        /// Text or text parts.
        content: ChatContent,
        /// Participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The end user.
    User {
        /// Text or parts.
        content: ChatContent,
        /// Participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The model.
    Assistant {
        /// Text (or text/refusal parts); may be null with tool calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ChatContent>,
        /// Tool calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ChatToolCall>>,
        /// A refusal message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<String>,
        /// Non-standard reasoning text some clients send back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<String>,
        /// Participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A tool result.
    Tool {
        /// The result text (or text parts).
        content: ChatContent,
        /// The call answered.
        tool_call_id: String,
    },
    /// Deprecated function result; not converted (400).
    Function {
        /// Result.
        #[serde(default)]
        content: Option<String>,
        /// Function name.
        name: String,
    },
}

/// Message content: a string or typed parts.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ChatContent {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<ChatContentPart>),
}

/// One content part.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image by URL or data URL.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// Base64 audio.
    InputAudio {
        /// The audio.
        input_audio: InputAudio,
    },
    /// A file (data URL or file id).
    File {
        /// The file.
        file: FilePart,
    },
    /// An assistant refusal part.
    Refusal {
        /// The refusal text.
        refusal: String,
    },
}

/// `image_url` object.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ImageUrl {
    /// `https://…` or `data:<mime>;base64,…`.
    pub url: String,
    /// `auto|low|high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `input_audio` object.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InputAudio {
    /// Base64 audio.
    pub data: String,
    /// `wav|mp3`.
    pub format: String,
}

/// `file` object.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct FilePart {
    /// `data:<mime>;base64,…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    /// An uploaded file id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A complete tool call (request history and non-stream responses).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ChatToolCall {
    /// Call id.
    pub id: String,
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// Name and JSON-string arguments.
    pub function: ChatFunctionCall,
}

fn function_type() -> String {
    "function".into()
}

/// `function` of a tool call.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ChatFunctionCall {
    /// Function name.
    pub name: String,
    /// JSON text of the arguments.
    #[serde(default)]
    pub arguments: String,
}

/// A tool definition.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ChatTool {
    /// `"function"` (others are not converted).
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ChatFunctionDef>,
}

/// A function definition.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ChatFunctionDef {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `response_format`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// Schema-constrained JSON.
    JsonSchema {
        /// The schema.
        json_schema: JsonSchemaFormat,
    },
}

/// `response_format.json_schema`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct JsonSchemaFormat {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Strict mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A non-stream `chat.completion`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatCompletion {
    /// Response id.
    #[serde(default)]
    pub id: String,
    /// `"chat.completion"`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Choices (Switchyard converts the first).
    #[serde(default)]
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
}

/// One choice.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatChoice {
    /// Choice number.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: ChatResponseMessage,
    /// `stop|length|tool_calls|content_filter|function_call`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Token log-probabilities, when the request asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<ChoiceLogprobs>,
}

/// `choices[].logprobs`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChoiceLogprobs {
    /// One entry per generated content token.
    #[serde(default)]
    pub content: Option<Vec<ChatTokenLogprob>>,
}

/// One token's log-probability with its most likely alternatives.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatTokenLogprob {
    /// The token.
    #[serde(default)]
    pub token: String,
    /// Its log-probability.
    #[serde(default)]
    pub logprob: f64,
    /// UTF-8 bytes of the token.
    #[serde(default)]
    pub bytes: Option<Vec<u8>>,
    /// The most likely tokens here (absent inside `top_logprobs` itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<Vec<ChatTokenLogprob>>,
}

/// The assistant message of a completion.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatResponseMessage {
    /// `"assistant"`.
    #[serde(default)]
    pub role: String,
    /// Text (null with only tool calls).
    #[serde(default)]
    pub content: Option<String>,
    /// Refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Reasoning text (DeepSeek-style extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChatToolCall>>,
}

/// The `usage` object.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatUsage {
    /// Input tokens, cache included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Sum.
    #[serde(default)]
    pub total_tokens: u64,
    /// Cache details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Reasoning details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

/// `prompt_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct PromptTokensDetails {
    /// Read from cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Written to cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

/// `completion_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct CompletionTokensDetails {
    /// Reasoning tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// One `chat.completion.chunk`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChatChunk {
    /// Response id (same on every chunk).
    #[serde(default)]
    pub id: String,
    /// `"chat.completion.chunk"`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// Model.
    #[serde(default)]
    pub model: String,
    /// Choice deltas (`[]` on the usage chunk, trap #6).
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Usage, on the last chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
    /// An in-stream error object (`data: {"error":{…}}`); the SDK raises on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// One choice delta.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChunkChoice {
    /// Choice number.
    #[serde(default)]
    pub index: u32,
    /// The increment.
    #[serde(default)]
    pub delta: ChunkDelta,
    /// Set on the last content chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A message increment; string fields concatenate in the SDK, so each is sent once (trap #3).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChunkDelta {
    /// `"assistant"` on the first delta only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text increment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Reasoning increment (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Refusal increment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool call increments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ChunkToolCall>>,
}

/// A tool call increment; `index` always present (trap #2), id/type/name only on the first.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChunkToolCall {
    /// Tool call number within the choice.
    #[serde(default)]
    pub index: u32,
    /// Call id (first delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"` (first delta).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and argument fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<ChunkFunction>,
}

/// Function part of a tool call increment.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ChunkFunction {
    /// Name (first delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Arguments fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}
