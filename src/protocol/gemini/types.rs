//! Gemini `generateContent` request wire types.
//!
//! Every scalar is an `Option` so an explicit `0`/`false` from the client survives (trap #11) and
//! absent fields stay absent when re-rendered. Proto-JSON parsers accept both lowerCamelCase and
//! the proto's snake_case names, and Google's own curl examples use snake_case, so both are read;
//! camelCase is written. Fields Switchyard has no use for are kept verbatim in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The body of `models/{id}:generateContent` and `:streamGenerateContent`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// Only inside `countTokens`' `generateContentRequest`; the model normally comes from the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation, oldest first.
    #[serde(default)]
    pub contents: Vec<Content>,
    /// Instructions placed before the conversation.
    #[serde(skip_serializing_if = "Option::is_none", alias = "system_instruction")]
    pub system_instruction: Option<Content>,
    /// Function declarations and built-in tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model must use the tools.
    #[serde(skip_serializing_if = "Option::is_none", alias = "tool_config")]
    pub tool_config: Option<ToolConfig>,
    /// Sampling, limits, structured output and thinking.
    #[serde(skip_serializing_if = "Option::is_none", alias = "generation_config")]
    pub generation_config: Option<GenerationConfig>,
    /// Safety thresholds; only meaningful to Gemini, passed through Gemini → Gemini.
    #[serde(skip_serializing_if = "Option::is_none", alias = "safety_settings")]
    pub safety_settings: Option<Vec<Value>>,
    /// A Gemini cached-content resource name; it stands for a prompt prefix only Gemini holds.
    #[serde(skip_serializing_if = "Option::is_none", alias = "cached_content")]
    pub cached_content: Option<String>,
    /// Billing labels (string → string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Map<String, Value>>,
    /// Any other top-level field, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One turn: a role and its parts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// `user` or `model` (absent means `user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts, in order.
    #[serde(default)]
    pub parts: Vec<Part>,
}

/// One piece of content. Exactly one data field is set; `thought` and `thoughtSignature` may
/// accompany any of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Text (an increment in streams).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The text is a thought summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque base64 signature, returned byte-exact and only to Gemini.
    #[serde(skip_serializing_if = "Option::is_none", alias = "thought_signature")]
    pub thought_signature: Option<String>,
    /// Inline bytes.
    #[serde(skip_serializing_if = "Option::is_none", alias = "inline_data")]
    pub inline_data: Option<Blob>,
    /// A file by URI (Files API or a public URL).
    #[serde(skip_serializing_if = "Option::is_none", alias = "file_data")]
    pub file_data: Option<FileData>,
    /// A call the model made.
    #[serde(skip_serializing_if = "Option::is_none", alias = "function_call")]
    pub function_call: Option<FunctionCall>,
    /// The result of a call.
    #[serde(skip_serializing_if = "Option::is_none", alias = "function_response")]
    pub function_response: Option<FunctionResponse>,
    /// Other part kinds (executableCode, videoMetadata, …), verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Part {
    /// A plain text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part { text: Some(text.into()), ..Default::default() }
    }
}

/// Inline bytes, base64 in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// IANA media type.
    #[serde(alias = "mime_type")]
    pub mime_type: String,
    /// Base64 payload.
    pub data: String,
}

/// A file referenced by URI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    /// IANA media type, when given.
    #[serde(skip_serializing_if = "Option::is_none", alias = "mime_type")]
    pub mime_type: Option<String>,
    /// `files/…`, a Files API URL, or a public URL.
    #[serde(alias = "file_uri")]
    pub file_uri: String,
}

/// A function call; `args` arrive whole (partial args are Vertex-only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Call id; Gemini often omits it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Function name.
    pub name: String,
    /// Arguments object (absent for a call without arguments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
}

/// A function's result. Gemini needs `name` even when `id` is present (trap #13).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionResponse {
    /// The id of the call it answers, when the call had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Function name.
    pub name: String,
    /// Result object, conventionally `{"output": …}` or `{"error": …}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// Multimodal result parts (Gemini 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<Part>>,
    /// `willContinue`, `scheduling`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One tools entry: function declarations and/or one built-in tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    /// Functions the model may call.
    #[serde(skip_serializing_if = "Option::is_none", alias = "function_declarations")]
    pub function_declarations: Option<Vec<FunctionDeclaration>>,
    /// Built-in tools (googleSearch, codeExecution, urlContext, …), verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function the model may call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    /// Function name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Arguments as Gemini's OpenAPI-subset `Schema`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Arguments as plain JSON Schema (what Switchyard sends, trap #23).
    #[serde(skip_serializing_if = "Option::is_none", alias = "parameters_json_schema")]
    pub parameters_json_schema: Option<Value>,
    /// `response`, `behavior`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Tool configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// Function-calling mode.
    #[serde(skip_serializing_if = "Option::is_none", alias = "function_calling_config")]
    pub function_calling_config: Option<FunctionCallingConfig>,
    /// `retrievalConfig`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `AUTO` / `ANY` / `NONE` / `VALIDATED`, optionally restricted to some names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// The mode word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Functions the model may call in `ANY`/`VALIDATED` mode.
    #[serde(skip_serializing_if = "Option::is_none", alias = "allowed_function_names")]
    pub allowed_function_names: Option<Vec<String>>,
}

/// `generationConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none", alias = "top_p")]
    pub top_p: Option<f64>,
    /// Top-k; a number because the Python SDK types it as float.
    #[serde(skip_serializing_if = "Option::is_none", alias = "top_k")]
    pub top_k: Option<f64>,
    /// Number of candidates (OpenAI `n`).
    #[serde(skip_serializing_if = "Option::is_none", alias = "candidate_count")]
    pub candidate_count: Option<u32>,
    /// Output limit; in practice it caps thinking too.
    #[serde(skip_serializing_if = "Option::is_none", alias = "max_output_tokens")]
    pub max_output_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Option::is_none", alias = "stop_sequences")]
    pub stop_sequences: Option<Vec<String>>,
    /// `application/json`, `text/plain`, `text/x.enum`.
    #[serde(skip_serializing_if = "Option::is_none", alias = "response_mime_type")]
    pub response_mime_type: Option<String>,
    /// Output schema in Gemini's OpenAPI subset.
    #[serde(skip_serializing_if = "Option::is_none", alias = "response_schema")]
    pub response_schema: Option<Value>,
    /// Output schema as JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none", alias = "response_json_schema")]
    pub response_json_schema: Option<Value>,
    /// Sampling seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none", alias = "presence_penalty")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none", alias = "frequency_penalty")]
    pub frequency_penalty: Option<f64>,
    /// Return log-probabilities.
    #[serde(skip_serializing_if = "Option::is_none", alias = "response_logprobs")]
    pub response_logprobs: Option<bool>,
    /// How many alternatives per token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Thinking control.
    #[serde(skip_serializing_if = "Option::is_none", alias = "thinking_config")]
    pub thinking_config: Option<ThinkingConfig>,
    /// `responseModalities`, `speechConfig`, `mediaResolution`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `thinkingConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    /// Return thought summaries as `thought: true` parts.
    #[serde(skip_serializing_if = "Option::is_none", alias = "include_thoughts")]
    pub include_thoughts: Option<bool>,
    /// 0 = off, −1 = dynamic, n = budget.
    #[serde(skip_serializing_if = "Option::is_none", alias = "thinking_budget")]
    pub thinking_budget: Option<i64>,
    /// `MINIMAL` … `XHIGH` (Gemini 3).
    #[serde(skip_serializing_if = "Option::is_none", alias = "thinking_level")]
    pub thinking_level: Option<String>,
    /// Anything newer, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
