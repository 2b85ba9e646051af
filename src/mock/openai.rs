//! The OpenAI Chat Completions side of the mock: reading the request, deciding the answer,
//! and rendering it as a `chat.completion`, as `chat.completion.chunk` events, or as an error
//! envelope.
//!
//! The answer is a pure function of the request body so tests can assert exact text and exact
//! token counts, and so the same request always costs the same in billing tests.

use serde::Serialize;
use serde_json::Value;

use super::text::{
    content_text, mentions_weather, word_count, Words, TOKENS_PER_MESSAGE, TOOL_ARGS, TOOL_ARGUMENTS, TOOL_CALL_TOKENS,
};

/// Id of the mock tool call, shared with the Responses API's `call_id`.
pub(crate) const TOOL_CALL_ID: &str = "call_mock_0";
const FINGERPRINT: &str = "fp_mock";

/// An error answered in the OpenAI envelope `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: EnvelopeBody<'a>,
}

#[derive(Serialize)]
struct EnvelopeBody<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    /// A 400 `invalid_request_error`, the API's answer to any request it cannot accept.
    pub fn invalid_request(message: impl Into<String>, param: Option<&'static str>, code: Option<&'static str>) -> ApiError {
        ApiError { status: 400, message: message.into(), kind: "invalid_request_error", param, code }
    }

    /// The API's answer to an unknown path or method.
    pub fn unknown_url(method: &str, path: &str) -> ApiError {
        ApiError {
            status: 404,
            message: format!("Invalid URL ({method} {path})"),
            kind: "invalid_request_error",
            param: None,
            code: None,
        }
    }

    /// 401 for a missing or wrong bearer key, worded like the real API.
    pub fn unauthorized(key_present: bool) -> ApiError {
        let (message, code) = if key_present {
            ("Incorrect API key provided.", Some("invalid_api_key"))
        } else {
            (
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                None,
            )
        };
        ApiError { status: 401, message: message.to_owned(), kind: "invalid_request_error", param: None, code }
    }

    /// The envelope a real provider sends with an injected error status, with the type and
    /// code it uses for that status so the gateway's classifier sees realistic bodies.
    pub fn for_status(status: u16) -> ApiError {
        let (message, kind, code) = match status {
            401 => ("Incorrect API key provided.", "invalid_request_error", Some("invalid_api_key")),
            403 => ("You are not allowed to sample from this model.", "invalid_request_error", None),
            404 => {
                ("The model does not exist or you do not have access to it.", "invalid_request_error", Some("model_not_found"))
            }
            429 => ("Rate limit reached for requests (mock fault).", "requests", Some("rate_limit_exceeded")),
            500 => ("The server had an error while processing your request.", "server_error", None),
            502 => ("Bad gateway.", "server_error", None),
            503 => ("The engine is currently overloaded, please try again later.", "server_error", None),
            504 => ("The server timed out while processing your request.", "server_error", None),
            s if s >= 500 => ("Mock upstream error.", "server_error", None),
            _ => ("Mock upstream error.", "invalid_request_error", None),
        };
        ApiError { status, message: message.to_owned(), kind, param: None, code }
    }

    /// The serialized envelope.
    pub fn body(&self) -> Vec<u8> {
        let envelope =
            Envelope { error: EnvelopeBody { message: &self.message, kind: self.kind, param: self.param, code: self.code } };
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

/// Token usage in the Chat Completions shape; integers because usage is billed.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

/// Usage as the mock reported it in a complete answer (OpenAI chat), for billing tests that
/// compare what was charged with what the upstream said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportedUsage {
    /// `prompt_tokens` (cached ones included).
    pub prompt_tokens: u64,
    /// `completion_tokens` (reasoning included).
    pub completion_tokens: u64,
    /// `prompt_tokens_details.cached_tokens`.
    pub cached_tokens: u64,
    /// `completion_tokens_details.reasoning_tokens`.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// What this usage reports, as plain numbers.
    pub fn reported(&self) -> ReportedUsage {
        ReportedUsage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cached_tokens: self.prompt_tokens_details.cached_tokens,
            reasoning_tokens: self.completion_tokens_details.reasoning_tokens,
        }
    }

    /// Adds cache reads (at most the prompt) and reasoning tokens asked for by the request's
    /// `mock` object.
    fn with_details(mut self, body: &Value) -> Usage {
        let get = |name: &str| body.get("mock").and_then(|m| m.get(name)).and_then(Value::as_u64).unwrap_or(0);
        self.prompt_tokens_details.cached_tokens = get("cached_tokens").min(self.prompt_tokens);
        let reasoning = get("reasoning_tokens");
        self.completion_tokens_details.reasoning_tokens = reasoning;
        self.completion_tokens += reasoning;
        self.total_tokens = self.prompt_tokens + self.completion_tokens;
        self
    }

    fn new(prompt: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            prompt_tokens_details: PromptDetails::default(),
            completion_tokens_details: CompletionDetails::default(),
        }
    }
}

/// What the mock answers: text (stored once, streamed word by word as slices) or one tool call.
#[derive(Debug)]
enum Output {
    /// Words joined by single spaces, streamed as slices with no allocation per word.
    Text(Words),
    ToolCall {
        name: String,
    },
}

/// The decided answer to one chat request, rendered as a completion or as stream events.
#[derive(Debug)]
pub(crate) struct Answer {
    id: String,
    created: u64,
    model: String,
    output: Output,
    finish_reason: &'static str,
    pub usage: Usage,
    pub stream: bool,
    include_usage: bool,
}

/// Name of the first tool, in the Chat shape (`function.name`) or the flat Responses shape.
pub(crate) fn first_tool_name(body: &Value) -> Option<&str> {
    let tool = body.get("tools")?.as_array()?.first()?;
    tool.get("function").and_then(|f| f.get("name")).or_else(|| tool.get("name")).and_then(Value::as_str)
}

fn role(message: &Value) -> Option<&str> {
    message.get("role").and_then(Value::as_str)
}

/// The request's `messages`, or the 400 OpenAI sends for a missing, empty or mistyped list.
fn messages(body: &Value) -> Result<&Vec<Value>, ApiError> {
    let (message, code) = match body.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => return Ok(m),
        None | Some(Value::Null) => ("Missing required parameter: 'messages'.", "missing_required_parameter"),
        Some(Value::Array(_)) => ("Invalid 'messages': empty array. Expected an array with minimum length 1.", "empty_array"),
        Some(_) => ("Invalid type for 'messages': expected an array of objects.", "invalid_type"),
    };
    Err(ApiError::invalid_request(message, Some("messages"), Some(code)))
}

impl Answer {
    /// Decides the answer to a parsed request body; the error is the 400 the API would send.
    pub fn decide(body: &Value, id: String, created: u64) -> Result<Answer, ApiError> {
        if !body.is_object() {
            return Err(ApiError::invalid_request("The request body must be a JSON object.", None, None));
        }
        let messages = messages(body)?;
        let model = body.get("model").and_then(Value::as_str).unwrap_or("mock-model").to_owned();
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        let include_usage =
            stream && body.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true);
        let prompt_tokens = messages.iter().map(|m| TOKENS_PER_MESSAGE + word_count(m.get("content"))).sum();

        let last = messages.last();
        let last_is_user = last.and_then(role) == Some("user");
        let tool_name = first_tool_name(body);
        if let (true, Some(name), Some(last)) = (last_is_user, tool_name, last) {
            if mentions_weather(&content_text(last.get("content"))) {
                return Ok(Answer {
                    id,
                    created,
                    model,
                    output: Output::ToolCall { name: name.to_owned() },
                    finish_reason: "tool_calls",
                    usage: Usage::new(prompt_tokens, TOOL_CALL_TOKENS),
                    stream,
                    include_usage,
                });
            }
        }

        let user_text = messages
            .iter()
            .rev()
            .find(|m| role(m) == Some("user"))
            .map(|m| content_text(m.get("content")))
            .unwrap_or_default();
        let limit = body
            .get("max_completion_tokens")
            .and_then(Value::as_u64)
            .or_else(|| body.get("max_tokens").and_then(Value::as_u64));
        let words = Words::echo(&user_text, limit);
        Ok(Answer {
            id,
            created,
            model,
            finish_reason: if words.truncated { "length" } else { "stop" },
            usage: Usage::new(prompt_tokens, words.tokens()).with_details(body),
            output: Output::Text(words),
            stream,
            include_usage,
        })
    }

    /// The non-stream `chat.completion` body.
    pub fn completion_body(&self) -> Vec<u8> {
        let (content, tool_calls) = match &self.output {
            Output::Text(words) => (Some(words.as_str()), None),
            Output::ToolCall { name } => (
                None,
                Some([ToolCall {
                    id: TOOL_CALL_ID,
                    kind: "function",
                    function: FunctionCall { name, arguments: TOOL_ARGUMENTS },
                }]),
            ),
        };
        let completion = Completion {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: &self.model,
            choices: [Choice {
                index: 0,
                message: Message { role: "assistant", content, refusal: None, tool_calls, annotations: &[] },
                logprobs: None,
                finish_reason: self.finish_reason,
            }],
            usage: self.usage,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
        };
        serde_json::to_vec(&completion).unwrap_or_default()
    }

    /// Whether the stream ends with a usage chunk.
    pub fn reports_usage(&self) -> bool {
        self.include_usage
    }

    /// Number of JSON data events in the stream (`[DONE]` not included).
    pub fn event_count(&self) -> usize {
        let body = match &self.output {
            Output::Text(words) => words.len(),
            Output::ToolCall { .. } => TOOL_ARGS.len(),
        };
        // role chunk + body + finish chunk (+ usage chunk)
        2 + body + usize::from(self.include_usage)
    }

    /// The JSON of stream event `i` (0-based), `None` past the end.
    pub fn event(&self, i: usize) -> Option<Vec<u8>> {
        let body_events = self.event_count() - 2 - usize::from(self.include_usage);
        let usage_slot = if self.include_usage { Some(None) } else { None };
        let delta = if i == 0 {
            match &self.output {
                Output::Text(_) => {
                    Delta { role: Some("assistant"), content: Some(Some("")), refusal: Some(()), ..Delta::default() }
                }
                Output::ToolCall { name } => Delta {
                    role: Some("assistant"),
                    content: Some(None),
                    refusal: Some(()),
                    tool_calls: Some([StreamToolCall {
                        index: 0,
                        id: Some(TOOL_CALL_ID),
                        kind: Some("function"),
                        function: StreamFunction { name: Some(name), arguments: "" },
                    }]),
                },
            }
        } else if i <= body_events {
            match &self.output {
                Output::Text(words) => Delta { content: Some(Some(words.piece(i - 1))), ..Delta::default() },
                Output::ToolCall { .. } => Delta {
                    tool_calls: Some([StreamToolCall {
                        index: 0,
                        id: None,
                        kind: None,
                        function: StreamFunction { name: None, arguments: TOOL_ARGS[i - 1] },
                    }]),
                    ..Delta::default()
                },
            }
        } else if i == body_events + 1 {
            return Some(self.chunk(
                &[ChunkChoice { index: 0, delta: Delta::default(), logprobs: None, finish_reason: Some(self.finish_reason) }],
                usage_slot,
            ));
        } else if i == body_events + 2 && self.include_usage {
            return Some(self.chunk(&[], Some(Some(&self.usage))));
        } else {
            return None;
        };
        Some(self.chunk(&[ChunkChoice { index: 0, delta, logprobs: None, finish_reason: None }], usage_slot))
    }

    fn chunk(&self, choices: &[ChunkChoice<'_>], usage: Option<Option<&Usage>>) -> Vec<u8> {
        let chunk = Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        };
        serde_json::to_vec(&chunk).unwrap_or_default()
    }
}

// Wire structs. Field order follows the real API's so captured bodies read the same.

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: Message<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    annotations: &'static [()],
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'static str,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent without `include_usage`, `null` on every chunk but the last with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<&'a Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

/// A stream delta; `None` fields are omitted, `Some(None)`/`Some(())` are explicit nulls.
#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[StreamToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct StreamToolCall<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: StreamFunction<'a>,
}

#[derive(Serialize)]
struct StreamFunction<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decide(body: Value) -> Answer {
        Answer::decide(&body, "chatcmpl-t".into(), 7).unwrap()
    }

    fn events(a: &Answer) -> Vec<Value> {
        (0..a.event_count()).map(|i| serde_json::from_slice(&a.event(i).unwrap()).unwrap()).collect()
    }

    #[test]
    fn echo_text_parts_and_counts() {
        let a = decide(json!({"model": "m", "messages": [
            {"role": "system", "content": "be   brief"},
            {"role": "user", "content": [{"type": "text", "text": "hi  there"},
                                         {"type": "image_url", "image_url": {"url": "x"}},
                                         {"type": "text", "text": "friend"}]}
        ]}));
        let body: Value = serde_json::from_slice(&a.completion_body()).unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "Echo: hi there friend");
        assert_eq!(body["usage"]["prompt_tokens"], 2 + 3 + 3 + 3);
        assert_eq!(body["usage"]["completion_tokens"], 4);
        assert_eq!(body["usage"]["total_tokens"], 15);
    }

    #[test]
    fn truncation_sets_length() {
        let a = decide(json!({"messages": [{"role": "user", "content": "a b c d"}],
                              "max_tokens": 9, "max_completion_tokens": 2}));
        let body: Value = serde_json::from_slice(&a.completion_body()).unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "Echo: a");
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(body["model"], "mock-model");
    }

    #[test]
    fn stream_words_concatenate_to_content() {
        let a = decide(json!({"messages": [{"role": "user", "content": "one two"}], "stream": true}));
        let ev = events(&a);
        assert_eq!(ev.len(), 5);
        let text: String = ev[1..4].iter().map(|e| e["choices"][0]["delta"]["content"].as_str().unwrap()).collect();
        assert_eq!(text, "Echo: one two");
        assert_eq!(ev[4]["choices"][0]["finish_reason"], "stop");
        assert!(ev.iter().all(|e| e.get("usage").is_none()));
        assert!(a.event(5).is_none());
    }

    #[test]
    fn tool_call_only_when_last_is_user_asking_weather() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]);
        let a = decide(json!({"tools": tools, "stream": true, "stream_options": {"include_usage": true},
                              "messages": [{"role": "user", "content": "Weather in Paris?"}]}));
        let ev = events(&a);
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "get_weather");
        let args: String = ev[1..3]
            .iter()
            .map(|e| e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str().unwrap())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        assert_eq!(ev[3]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(ev[4]["usage"]["completion_tokens"], 10);

        let a = decide(json!({"tools": tools, "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "tool", "tool_call_id": "call_mock_0", "content": "sunny"}]}));
        let body: Value = serde_json::from_slice(&a.completion_body()).unwrap();
        assert_eq!(body["choices"][0]["message"]["content"], "Echo: weather?");
        assert!(!mentions_weather("weatherman"));
    }

    #[test]
    fn invalid_requests() {
        let err = Answer::decide(&json!({"model": "m"}), String::new(), 0).unwrap_err();
        assert_eq!((err.status, err.param), (400, Some("messages")));
        assert!(Answer::decide(&json!([1]), String::new(), 0).is_err());
        assert!(Answer::decide(&json!({"messages": "x"}), String::new(), 0).is_err());
        let body: Value = serde_json::from_slice(&err.body()).unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["param"], "messages");
    }
}
