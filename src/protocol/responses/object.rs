//! The Responses `response` object, its output items and usage, as sent to clients and read from
//! an upstream.
//!
//! Serialisation writes every field the SDK's `Response` model requires (nulls included), so
//! strict clients that deserialise into typed structs accept it; deserialisation defaults every
//! field, so an upstream that omits some is still read.

use super::types::{ReasoningItem, ResponsesRequest, TextFormat};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};

/// A `response` object (`object: "response"`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ResponseObject {
    /// `resp_…`.
    #[serde(default)]
    pub id: String,
    /// Always `response`.
    #[serde(default = "response_word")]
    pub object: String,
    /// Unix seconds (the SDK types it as a float; integers are what OpenAI sends).
    #[serde(default, deserialize_with = "lenient_secs")]
    pub created_at: u64,
    /// `in_progress|completed|incomplete|failed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Set when `status` is `failed`.
    #[serde(default)]
    pub error: Option<ResponseError>,
    /// Set when `status` is `incomplete`.
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    /// Model that answered (the public id towards a client).
    #[serde(default)]
    pub model: String,
    /// Output items in order.
    #[serde(default)]
    pub output: Vec<OutputItem>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<ResponsesUsage>,
    /// Request settings echoed back, as OpenAI does.
    #[serde(flatten)]
    pub echo: ResponseEcho,
}

fn response_word() -> String {
    "response".to_owned()
}

/// Accepts an integer or a float number of seconds (anything else is 0).
fn lenient_secs<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)).unwrap_or(0),
        _ => 0,
    })
}

/// `error` of a failed response (also the payload of `response.failed`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ResponseError {
    /// Machine-readable code.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
}

/// `incomplete_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter` (null for other stops).
    #[serde(default)]
    pub reason: Option<String>,
}

/// The request settings a response object repeats. The client's own values when the gateway
/// has its request ([`ResponseEcho::from_request`]), neutral defaults otherwise.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ResponseEcho {
    /// `instructions` as sent.
    #[serde(default)]
    pub instructions: Option<Value>,
    /// `max_output_tokens` as sent.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// `parallel_tool_calls` (default true).
    #[serde(default = "yes")]
    pub parallel_tool_calls: bool,
    /// Always null: stored responses are not supported when converting.
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// `reasoning` as sent.
    #[serde(default)]
    pub reasoning: Option<Value>,
    /// `store` as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// `temperature` as sent.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// `text` as sent.
    #[serde(default)]
    pub text: Option<Value>,
    /// `tool_choice` as sent (default `auto`).
    #[serde(default = "auto")]
    pub tool_choice: Value,
    /// `tools` as sent.
    #[serde(default)]
    pub tools: Vec<Value>,
    /// `top_p` as sent.
    #[serde(default)]
    pub top_p: Option<f64>,
    /// `truncation` as sent.
    #[serde(default)]
    pub truncation: Option<String>,
    /// `user` as sent.
    #[serde(default)]
    pub user: Option<String>,
    /// `metadata` as sent (default `{}`).
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

fn yes() -> bool {
    true
}

fn auto() -> Value {
    Value::String("auto".into())
}

impl Default for ResponseEcho {
    fn default() -> Self {
        ResponseEcho {
            instructions: None,
            max_output_tokens: None,
            parallel_tool_calls: true,
            previous_response_id: None,
            reasoning: None,
            store: None,
            temperature: None,
            text: Some(json!({"format": {"type": "text"}})),
            tool_choice: auto(),
            tools: Vec::new(),
            top_p: None,
            truncation: None,
            user: None,
            metadata: Map::new(),
        }
    }
}

impl ResponseEcho {
    /// The echo of a client's request, as OpenAI repeats it in the response object.
    pub fn from_request(req: &ResponsesRequest) -> Self {
        let mut text = req.text.as_ref().and_then(|t| serde_json::to_value(t).ok());
        if let Some(Value::Object(t)) = &mut text {
            if !t.contains_key("format") {
                let _ = serde_json::to_value(TextFormat::Text).map(|f| t.insert("format".into(), f));
            }
        }
        ResponseEcho {
            instructions: req.instructions.clone().map(Value::String),
            max_output_tokens: req.max_output_tokens,
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            previous_response_id: None,
            reasoning: req.reasoning.as_ref().and_then(|r| serde_json::to_value(r).ok()),
            store: req.store,
            temperature: req.temperature,
            text: text.or_else(|| ResponseEcho::default().text),
            tool_choice: req.tool_choice.clone().unwrap_or_else(auto),
            tools: req.tools.iter().flatten().filter_map(|t| serde_json::to_value(t).ok()).collect(),
            top_p: req.top_p,
            truncation: req.extra.get("truncation").and_then(Value::as_str).map(str::to_owned),
            user: req.user.clone(),
            metadata: req.metadata.clone().unwrap_or_default(),
        }
    }
}

/// One output item.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// An assistant message.
    Message(OutputMessage),
    /// A tool call.
    FunctionCall(OutputFunctionCall),
    /// Reasoning (summary and/or encrypted content): the same item a client sends back as input.
    Reasoning(ReasoningItem),
    /// Built-in tool calls and anything newer: skipped when read, never written.
    #[serde(other)]
    Other,
}

/// An assistant `message` item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct OutputMessage {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// Always `assistant`.
    #[serde(default = "assistant")]
    pub role: String,
    /// `in_progress|completed|incomplete`.
    #[serde(default)]
    pub status: Option<String>,
    /// Text and refusal parts.
    #[serde(default)]
    pub content: Vec<OutputContent>,
}

fn assistant() -> String {
    "assistant".to_owned()
}

/// A part of an assistant message.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    /// Text.
    OutputText {
        /// The text.
        #[serde(default)]
        text: String,
        /// Citations (none from a converted answer).
        #[serde(default)]
        annotations: Vec<Value>,
    },
    /// A refusal.
    Refusal {
        /// The refusal text.
        #[serde(default)]
        refusal: String,
    },
    /// Anything newer: skipped.
    #[serde(other)]
    Other,
}

impl OutputContent {
    /// An `output_text` part without annotations.
    pub fn text(text: impl Into<String>) -> Self {
        OutputContent::OutputText { text: text.into(), annotations: Vec::new() }
    }
}

/// A `function_call` item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct OutputFunctionCall {
    /// `fc_…`.
    #[serde(default)]
    pub id: String,
    /// The id the client answers with `function_call_output`.
    #[serde(default)]
    pub call_id: String,
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default)]
    pub arguments: String,
    /// `in_progress|completed|incomplete`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Responses `usage`: input includes cached, output includes reasoning (PROTOCOLS.md §2).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ResponsesUsage {
    /// Every input token.
    #[serde(default)]
    pub input_tokens: u64,
    /// Cache share of `input_tokens`.
    #[serde(default)]
    pub input_tokens_details: InputTokensDetails,
    /// Every output token, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Reasoning share of `output_tokens`.
    #[serde(default)]
    pub output_tokens_details: OutputTokensDetails,
    /// Input plus output.
    #[serde(default)]
    pub total_tokens: u64,
}

/// `input_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct InputTokensDetails {
    /// Read from the prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// Written to a cache (only when non-zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

/// `output_tokens_details`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct OutputTokensDetails {
    /// Reasoning tokens.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_every_required_field() {
        let v = serde_json::to_value(ResponseObject { id: "resp_1".into(), model: "m".into(), ..Default::default() }).unwrap();
        for key in [
            "id",
            "object",
            "created_at",
            "error",
            "incomplete_details",
            "instructions",
            "metadata",
            "model",
            "output",
            "parallel_tool_calls",
            "temperature",
            "tool_choice",
            "tools",
            "top_p",
            "usage",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["tool_choice"], "auto");
    }

    #[test]
    fn reads_sparse_upstream_objects_and_skips_unknown_items() {
        let o: ResponseObject = serde_json::from_value(json!({
            "id": "resp_x", "created_at": 1.5e9, "status": "completed",
            "output": [{"type": "web_search_call", "id": "ws"}, {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]
        }))
        .unwrap();
        assert_eq!(o.created_at, 1_500_000_000);
        assert_eq!(o.output[0], OutputItem::Other);
        assert!(matches!(&o.output[1], OutputItem::Message(m) if m.content == vec![OutputContent::text("hi")]));
    }

    #[test]
    fn echo_repeats_the_request() {
        let req: ResponsesRequest = serde_json::from_value(json!({
            "model": "m", "temperature": 0, "parallel_tool_calls": false, "tool_choice": "required",
            "text": {"verbosity": "low"}, "metadata": {"a": "b"}
        }))
        .unwrap();
        let e = ResponseEcho::from_request(&req);
        assert_eq!(e.temperature, Some(0.0));
        assert!(!e.parallel_tool_calls);
        assert_eq!(e.text, Some(json!({"format": {"type": "text"}, "verbosity": "low"})));
        assert_eq!(e.metadata["a"], "b");
    }
}
