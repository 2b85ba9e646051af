//! Gemini response, countTokens and error-envelope wire types.

use super::types::{Content, GenerateContentRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole answer, or one stream event (the stream sends the same shape per chunk).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    /// One per requested candidate; absent when the prompt was blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
    /// Why the prompt itself was refused.
    #[serde(skip_serializing_if = "Option::is_none", alias = "prompt_feedback")]
    pub prompt_feedback: Option<PromptFeedback>,
    /// Token counts; in a stream a cumulative snapshot (trap #10).
    #[serde(skip_serializing_if = "Option::is_none", alias = "usage_metadata")]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model that answered.
    #[serde(skip_serializing_if = "Option::is_none", alias = "model_version")]
    pub model_version: Option<String>,
    /// The response id (base of synthetic call ids, §3.4 d).
    #[serde(skip_serializing_if = "Option::is_none", alias = "response_id")]
    pub response_id: Option<String>,
    /// `createTime`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One candidate answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The generated content (`role: "model"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// Why generation stopped; only on the last stream chunk.
    #[serde(skip_serializing_if = "Option::is_none", alias = "finish_reason")]
    pub finish_reason: Option<String>,
    /// Candidate number (absent means 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Token log-probabilities (request `responseLogprobs`).
    #[serde(skip_serializing_if = "Option::is_none", alias = "logprobs_result")]
    pub logprobs_result: Option<LogprobsResult>,
    /// `safetyRatings`, `citationMetadata`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `candidates[].logprobsResult`: per generated token, the chosen one and the top ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogprobsResult {
    /// Per position, the most likely tokens (request `logprobs` many).
    #[serde(default, alias = "top_candidates")]
    pub top_candidates: Vec<TopCandidates>,
    /// Per position, the token that was generated.
    #[serde(default, alias = "chosen_candidates")]
    pub chosen_candidates: Vec<LogprobCandidate>,
}

/// The top tokens at one position.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopCandidates {
    /// Best first.
    #[serde(default)]
    pub candidates: Vec<LogprobCandidate>,
}

/// One token with its log-probability.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogprobCandidate {
    /// The token text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token id.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "token_id")]
    pub token_id: Option<i64>,
    /// Natural-log probability.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "log_probability")]
    pub log_probability: Option<f64>,
}

/// Feedback on the prompt.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// Set when the prompt was blocked (`SAFETY`, `PROHIBITED_CONTENT`, …).
    #[serde(skip_serializing_if = "Option::is_none", alias = "block_reason")]
    pub block_reason: Option<String>,
    /// `safetyRatings`, …, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Gemini token counts (PROTOCOLS.md §2): prompt ⊇ cached; candidates excludes thoughts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens, cached ones included.
    #[serde(skip_serializing_if = "Option::is_none", alias = "prompt_token_count")]
    pub prompt_token_count: Option<u64>,
    /// Prompt tokens served from the cache.
    #[serde(skip_serializing_if = "Option::is_none", alias = "cached_content_token_count")]
    pub cached_content_token_count: Option<u64>,
    /// Output tokens, thoughts excluded.
    #[serde(skip_serializing_if = "Option::is_none", alias = "candidates_token_count")]
    pub candidates_token_count: Option<u64>,
    /// Thinking tokens.
    #[serde(skip_serializing_if = "Option::is_none", alias = "thoughts_token_count")]
    pub thoughts_token_count: Option<u64>,
    /// Tokens of tool results fed back by built-in tools.
    #[serde(skip_serializing_if = "Option::is_none", alias = "tool_use_prompt_token_count")]
    pub tool_use_prompt_token_count: Option<u64>,
    /// prompt + candidates + toolUse + thoughts.
    #[serde(skip_serializing_if = "Option::is_none", alias = "total_token_count")]
    pub total_token_count: Option<u64>,
    /// Per-modality details, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `models/{id}:countTokens`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensRequest {
    /// Contents alone (the simple form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<Content>>,
    /// A whole request, with tools and system instruction (the complete form).
    #[serde(skip_serializing_if = "Option::is_none", alias = "generate_content_request")]
    pub generate_content_request: Option<GenerateContentRequest>,
}

/// The answer of `countTokens`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensResponse {
    /// Prompt tokens.
    #[serde(skip_serializing_if = "Option::is_none", alias = "total_tokens")]
    pub total_tokens: Option<u64>,
    /// Of which served from cached content.
    #[serde(skip_serializing_if = "Option::is_none", alias = "cached_content_token_count")]
    pub cached_content_token_count: Option<u64>,
    /// Per-modality details, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"error": {...}}`, the envelope of every Gemini error, in a body or in a stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
}

/// The error inside the envelope (google.rpc.Status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Human-readable message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// gRPC status word (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `ErrorInfo` (reason such as `API_KEY_INVALID`), `RetryInfo` (retryDelay), ….
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
}
