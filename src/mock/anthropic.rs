//! The Anthropic Messages side of the mock: `POST …/v1/messages` (non-stream and the
//! `event:`/`data:` stream) and `POST …/v1/messages/count_tokens`, with Anthropic's auth
//! (`x-api-key` or Bearer), required `anthropic-version` and `max_tokens`, and its error
//! envelope `{"type":"error","error":{"type","message"},"request_id"}`.
//!
//! Answers follow the shared rules in `text.rs`; on top, `thinking: {type: enabled|adaptive}`
//! prepends a signed thinking block, and the tool answer is a short text block followed by a
//! `tool_use` block, so block indices run 0, 1(, 2) like real mixed answers.

use serde_json::{json, Value};

use super::faults::Faults;
use super::routes::{Incoming, Reply};
use super::text::{
    content_text, mentions_weather, signature, word_count, Words, TOKENS_PER_MESSAGE, TOOL_ARGS, TOOL_CALL_TOKENS,
};

/// Id of the mock `tool_use` block.
const TOOL_USE_ID: &str = "toolu_mock_0";
/// The text block the mock writes before its tool call.
const TOOL_PREAMBLE: &str = "Let me check.";

/// An error in Anthropic's envelope; `kind` is the `error.type`.
#[derive(Debug)]
struct Error {
    status: u16,
    kind: &'static str,
    message: String,
}

impl Error {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Error {
        Error { status, kind, message: message.into() }
    }

    fn invalid(message: impl Into<String>) -> Error {
        Error::new(400, "invalid_request_error", message)
    }

    /// The envelope for an injected status, with the §3.9 error type real Anthropic uses.
    fn for_status(status: u16) -> Error {
        let (kind, message) = match status {
            400 => ("invalid_request_error", "Invalid request (mock fault)."),
            401 => ("authentication_error", "invalid x-api-key"),
            402 => ("billing_error", "Your credit balance is too low."),
            403 => ("permission_error", "Your API key does not have permission to use the specified resource."),
            404 => ("not_found_error", "The requested resource could not be found."),
            413 => ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
            429 => ("rate_limit_error", "Number of requests has exceeded your rate limit (mock fault)."),
            500 => ("api_error", "Internal server error"),
            503 | 529 => ("overloaded_error", "Overloaded"),
            504 => ("timeout_error", "Request timed out"),
            s if s >= 500 => ("api_error", "Internal server error"),
            _ => ("invalid_request_error", "Mock upstream error."),
        };
        Error::new(status, kind, message)
    }

    fn reply(&self, request_id: &str) -> Reply {
        Reply::json(
            self.status,
            &json!({"type": "error",
                    "error": {"type": self.kind, "message": self.message},
                    "request_id": request_id}),
        )
    }
}

/// The refusals before any answer: malformed fault override, wrong or missing key, injected
/// error status.
pub(crate) fn refuse(inc: &Incoming<'_>, faults: &Faults, override_error: Option<String>) -> Option<Reply> {
    if let Some(message) = override_error {
        return Some(Error::invalid(message).reply(inc.request_id));
    }
    let given = inc
        .request
        .header("x-api-key")
        .or_else(|| inc.request.header("authorization").and_then(|a| a.strip_prefix("Bearer ")));
    if let Err(present) = inc.shared.check_key(given) {
        let message = if present { "invalid x-api-key" } else { "x-api-key header is required" };
        return Some(Error::new(401, "authentication_error", message).reply(inc.request_id));
    }
    faults.error_status().map(|s| Error::for_status(s).reply(inc.request_id))
}

/// Answers `…/v1/messages` and `…/v1/messages/count_tokens`.
pub(crate) fn handle(inc: &Incoming<'_>) -> Reply {
    match answer(inc) {
        Ok(reply) => reply,
        Err(e) => e.reply(inc.request_id),
    }
}

fn answer(inc: &Incoming<'_>) -> Result<Reply, Error> {
    if inc.request.method != "POST" {
        return Err(Error::new(404, "not_found_error", "Not Found"));
    }
    if inc.request.header("anthropic-version").is_none() {
        return Err(Error::invalid("anthropic-version: header is required"));
    }
    let body = match inc.json {
        Some(Ok(v)) if v.is_object() => v,
        Some(Err(e)) => return Err(Error::invalid(format!("The request body is not valid JSON: {e}"))),
        _ => return Err(Error::invalid("The request body must be a JSON object.")),
    };
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(Error::invalid("messages: Field required")),
        Some(Value::Array(m)) if m.is_empty() => return Err(Error::invalid("messages: at least one message is required")),
        Some(Value::Array(m)) => m,
        Some(_) => return Err(Error::invalid("messages: Input should be a valid list")),
    };
    let input_tokens = prompt_tokens(body, messages);
    if inc.request.path().ends_with("/count_tokens") {
        return Ok(Reply::json(200, &json!({"input_tokens": input_tokens})));
    }
    let Some(max_tokens) = body.get("max_tokens") else {
        return Err(Error::invalid("max_tokens: Field required"));
    };
    let Some(max_tokens) = max_tokens.as_u64() else {
        return Err(Error::invalid("max_tokens: Input should be a valid integer"));
    };
    let message = Message::decide(body, messages, max_tokens, input_tokens, format!("msg_{}", inc.shared.unique()));
    Ok(if body.get("stream").and_then(Value::as_bool) == Some(true) {
        Reply::Sse(message.frames())
    } else {
        Reply::json(200, &message.body())
    })
}

/// Input tokens: each message and the system prompt (string or blocks) by the shared rule.
fn prompt_tokens(body: &Value, messages: &[Value]) -> u64 {
    let system = match body.get("system") {
        None | Some(Value::Null) => 0,
        s => TOKENS_PER_MESSAGE + word_count(s),
    };
    system + messages.iter().map(|m| TOKENS_PER_MESSAGE + word_count(m.get("content"))).sum::<u64>()
}

fn is_user(message: &Value) -> bool {
    message.get("role").and_then(Value::as_str) == Some("user")
}

/// Whether a content holds user-written text (a string, or at least one text block).
fn has_text(content: Option<&Value>) -> bool {
    match content {
        Some(Value::String(_)) => true,
        Some(Value::Array(blocks)) => blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("text")),
        _ => false,
    }
}

fn has_tool_result(content: Option<&Value>) -> bool {
    content
        .and_then(Value::as_array)
        .is_some_and(|blocks| blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result")))
}

/// One content block of the answer.
#[derive(Debug)]
enum Block {
    Thinking { text: Words, signature: String },
    Text(Words),
    ToolUse { name: String },
}

/// The decided answer to one Messages request.
#[derive(Debug)]
struct Message {
    id: String,
    model: String,
    blocks: Vec<Block>,
    stop_reason: &'static str,
    input_tokens: u64,
    output_tokens: u64,
}

impl Message {
    fn decide(body: &Value, messages: &[Value], max_tokens: u64, input_tokens: u64, id: String) -> Message {
        let model = body.get("model").and_then(Value::as_str).unwrap_or("mock-model").to_owned();
        // The last user turn with text: a turn holding only tool results answers a tool call,
        // like an OpenAI `tool` message, and is not what the echo repeats.
        let user_text = messages
            .iter()
            .rev()
            .find(|m| is_user(m) && has_text(m.get("content")))
            .map(|m| content_text(m.get("content")))
            .unwrap_or_default();
        let tool_name = body
            .get("tools")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str);
        let asks_tool = messages.last().is_some_and(|m| {
            is_user(m) && !has_tool_result(m.get("content")) && mentions_weather(&content_text(m.get("content")))
        });
        let thinking =
            matches!(body.get("thinking").and_then(|t| t.get("type")).and_then(Value::as_str), Some("enabled" | "adaptive"));

        let mut blocks = Vec::with_capacity(3);
        if thinking {
            let text = Words::thinking(&user_text);
            let signature = signature(&text);
            blocks.push(Block::Thinking { text, signature });
        }
        let stop_reason = match tool_name {
            Some(name) if asks_tool => {
                blocks.push(Block::Text(Words::new(TOOL_PREAMBLE, None)));
                blocks.push(Block::ToolUse { name: name.to_owned() });
                "tool_use"
            }
            _ => {
                let words = Words::echo(&user_text, Some(max_tokens));
                let truncated = words.truncated;
                blocks.push(Block::Text(words));
                if truncated {
                    "max_tokens"
                } else {
                    "end_turn"
                }
            }
        };
        let output_tokens = blocks
            .iter()
            .map(|b| match b {
                Block::Thinking { text, .. } | Block::Text(text) => text.tokens(),
                Block::ToolUse { .. } => TOOL_CALL_TOKENS,
            })
            .sum();
        Message { id, model, blocks, stop_reason, input_tokens, output_tokens }
    }

    fn usage(&self, output_tokens: u64) -> Value {
        json!({"input_tokens": self.input_tokens,
               "cache_creation_input_tokens": 0,
               "cache_read_input_tokens": 0,
               "output_tokens": output_tokens})
    }

    /// The message object; `content` empty and no stop reason for `message_start`.
    fn envelope(&self, content: Vec<Value>, stop_reason: Option<&str>, output_tokens: u64) -> Value {
        json!({"id": self.id, "type": "message", "role": "assistant", "model": self.model,
               "content": content, "stop_reason": stop_reason, "stop_sequence": null,
               "usage": self.usage(output_tokens)})
    }

    /// The non-stream response body.
    fn body(&self) -> Value {
        let content = self
            .blocks
            .iter()
            .map(|b| match b {
                Block::Thinking { text, signature } => {
                    json!({"type": "thinking", "thinking": text.as_str(), "signature": signature})
                }
                Block::Text(words) => json!({"type": "text", "text": words.as_str()}),
                Block::ToolUse { name } => json!({"type": "tool_use", "id": TOOL_USE_ID,
                    "name": name, "input": {"city": "Paris"}}),
            })
            .collect();
        self.envelope(content, Some(self.stop_reason), self.output_tokens)
    }

    /// The stream, one SSE event per element, in the order of PROTOCOLS §1.4.
    fn frames(&self) -> Vec<Vec<u8>> {
        let mut out = vec![
            frame("message_start", &json!({"type": "message_start", "message": self.envelope(Vec::new(), None, 1)})),
            frame("ping", &json!({"type": "ping"})),
        ];
        for (index, block) in self.blocks.iter().enumerate() {
            let start = match block {
                Block::Thinking { .. } => {
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                }
                Block::Text(_) => json!({"type": "text", "text": ""}),
                Block::ToolUse { name } => {
                    json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}})
                }
            };
            out.push(frame(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": start}),
            ));
            let delta =
                |d: Value| frame("content_block_delta", &json!({"type": "content_block_delta", "index": index, "delta": d}));
            match block {
                Block::Thinking { text, signature } => {
                    out.extend(text.pieces().map(|p| delta(json!({"type": "thinking_delta", "thinking": p}))));
                    out.push(delta(json!({"type": "signature_delta", "signature": signature})));
                }
                Block::Text(words) => {
                    out.extend(words.pieces().map(|p| delta(json!({"type": "text_delta", "text": p}))));
                }
                Block::ToolUse { .. } => {
                    out.extend(TOOL_ARGS.iter().map(|p| delta(json!({"type": "input_json_delta", "partial_json": p}))));
                }
            }
            out.push(frame("content_block_stop", &json!({"type": "content_block_stop", "index": index})));
        }
        out.push(frame(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
                    "usage": {"output_tokens": self.output_tokens}}),
        ));
        out.push(frame("message_stop", &json!({"type": "message_stop"})));
        out
    }
}

/// One SSE event: `event: <name>` and `data: <json>`.
fn frame(name: &str, data: &Value) -> Vec<u8> {
    let json = serde_json::to_string(data).unwrap_or_default();
    format!("event: {name}\ndata: {json}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(body: Value) -> Message {
        let messages = body["messages"].as_array().unwrap().clone();
        let input = prompt_tokens(&body, &messages);
        let max = body["max_tokens"].as_u64().unwrap();
        Message::decide(&body, &messages, max, input, "msg_t".into())
    }

    #[test]
    fn system_blocks_and_user_blocks_count() {
        let m = decide(json!({"max_tokens": 100, "system": [{"type": "text", "text": "be brief"}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi  there"}]}]}));
        let body = m.body();
        assert_eq!(body["content"], json!([{"type": "text", "text": "Echo: hi there"}]));
        assert_eq!(body["usage"]["input_tokens"], 3 + 2 + 3 + 2);
        assert_eq!(body["usage"]["output_tokens"], 3);
        assert_eq!(body["stop_reason"], "end_turn");
    }

    #[test]
    fn tool_result_turn_echoes_earlier_text() {
        let m = decide(json!({"max_tokens": 100, "tools": [{"name": "get_weather"}],
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_mock_0", "name": "get_weather", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_mock_0", "content": "sunny"}]}]}));
        assert_eq!(m.body()["content"][0]["text"], "Echo: weather?");
        assert_eq!(m.stop_reason, "end_turn");
    }

    #[test]
    fn stream_frames_are_event_and_data() {
        let m = decide(json!({"max_tokens": 1, "messages": [{"role": "user", "content": "a b"}]}));
        let frames: Vec<String> = m.frames().into_iter().map(|f| String::from_utf8(f).unwrap()).collect();
        assert!(frames[0].starts_with("event: message_start\ndata: {"));
        assert!(frames.iter().all(|f| f.ends_with("}\n\n")));
        assert_eq!(frames.len(), 2 + 3 + 2);
        assert!(frames[5].contains("\"stop_reason\":\"max_tokens\""));
    }
}
