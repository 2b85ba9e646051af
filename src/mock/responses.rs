//! OpenAI `POST …/responses` (the Responses API), non-stream and stream.
//!
//! Same rules as the rest of the mock (`text.rs`): a `message` item with the echo, or one
//! `function_call` item when tools are declared and the last input is a user message about the
//! weather; `max_output_tokens` truncates and makes the response `incomplete`. The stream is
//! `event:`/`data:` frames with an increasing `sequence_number`, in the order the SDK's stream
//! helper requires, with `usage` only in the terminal `response.completed`/`.incomplete`.

use serde_json::{json, Value};

use super::openai::{first_tool_name, ApiError, TOOL_CALL_ID};
use super::routes::{openai_unparsable, Incoming, Reply};
use super::text::{mentions_weather, words, Words, TOKENS_PER_MESSAGE, TOOL_ARGS, TOOL_ARGUMENTS, TOOL_CALL_TOKENS};

/// Text of a Responses content: a string, or its `input_text`/`output_text`/`text` parts.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| matches!(p.get("type").and_then(Value::as_str), Some("input_text" | "output_text" | "text")))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The text an input item contributes to the prompt.
fn item_text(item: &Value) -> String {
    match item.get("type").and_then(Value::as_str) {
        Some("function_call_output") => match item.get("output") {
            Some(Value::String(s)) => s.clone(),
            other => content_text(other),
        },
        Some("function_call") => String::new(),
        _ => content_text(item.get("content")),
    }
}

fn is_user(item: &Value) -> bool {
    item.get("role").and_then(Value::as_str) == Some("user")
}

/// What the answer's one output item is.
enum Output {
    Message(Words),
    Call(String),
}

/// The decided answer to one Responses request.
struct Answer {
    id: String,
    item_id: String,
    created_at: u64,
    body: Value,
    model: String,
    output: Output,
    input_tokens: u64,
}

/// Answers `…/responses`.
pub(crate) fn handle(inc: &Incoming<'_>) -> Reply {
    let Some(body) = inc.body().filter(|b| b.is_object()) else {
        return openai_unparsable().into();
    };
    let items: Vec<Value> = match body.get("input") {
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        Some(Value::Array(items)) if !items.is_empty() => items.clone(),
        _ => {
            return ApiError::invalid_request(
                "Missing required parameter: 'input'.",
                Some("input"),
                Some("missing_required_parameter"),
            )
            .into()
        }
    };
    let unique = inc.shared.unique();
    let answer = Answer::decide(body, &items, &unique);
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        Reply::Sse(answer.frames())
    } else {
        Reply::json(200, &answer.response(true))
    }
}

impl Answer {
    fn decide(body: &Value, items: &[Value], unique: &str) -> Answer {
        let instructions = match body.get("instructions").and_then(Value::as_str) {
            Some(s) => TOKENS_PER_MESSAGE + words(s),
            None => 0,
        };
        let input_tokens = instructions + items.iter().map(|i| TOKENS_PER_MESSAGE + words(&item_text(i))).sum::<u64>();
        let user_text = items.iter().rev().find(|i| is_user(i)).map(|i| content_text(i.get("content"))).unwrap_or_default();
        let asks_tool = items.last().is_some_and(|i| is_user(i) && mentions_weather(&content_text(i.get("content"))));
        let (output, item_id) = match first_tool_name(body) {
            Some(name) if asks_tool => (Output::Call(name.to_owned()), format!("fc_{unique}")),
            _ => {
                let limit = body.get("max_output_tokens").and_then(Value::as_u64);
                (Output::Message(Words::echo(&user_text, limit)), format!("msg_{unique}"))
            }
        };
        Answer {
            id: format!("resp_{unique}"),
            item_id,
            created_at: super::now(),
            body: body.clone(),
            model: body.get("model").and_then(Value::as_str).unwrap_or("mock-model").to_owned(),
            output,
            input_tokens,
        }
    }

    fn truncated(&self) -> bool {
        matches!(&self.output, Output::Message(w) if w.truncated)
    }

    fn output_tokens(&self) -> u64 {
        match &self.output {
            Output::Message(words) => words.tokens(),
            Output::Call(_) => TOOL_CALL_TOKENS,
        }
    }

    fn text_part(text: &str) -> Value {
        json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    }

    /// The output item, complete or as first announced (`done == false`).
    fn item(&self, done: bool) -> Value {
        let status = if done { "completed" } else { "in_progress" };
        match &self.output {
            Output::Message(words) => {
                let content = if done { vec![Answer::text_part(words.as_str())] } else { Vec::new() };
                json!({"id": self.item_id, "type": "message", "status": status,
                       "role": "assistant", "content": content})
            }
            Output::Call(name) => json!({"id": self.item_id, "type": "function_call",
                "status": status, "arguments": if done { TOOL_ARGUMENTS } else { "" },
                "call_id": TOOL_CALL_ID, "name": name}),
        }
    }

    /// The response object: final, or the in-progress snapshot of `response.created`.
    fn response(&self, done: bool) -> Value {
        let (status, incomplete, output, usage) = if done {
            let output_tokens = self.output_tokens();
            let usage = json!({"input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": self.input_tokens + output_tokens});
            if self.truncated() {
                ("incomplete", json!({"reason": "max_output_tokens"}), vec![self.item(true)], usage)
            } else {
                ("completed", Value::Null, vec![self.item(true)], usage)
            }
        } else {
            ("in_progress", Value::Null, Vec::new(), Value::Null)
        };
        let get = |k: &str| self.body.get(k).cloned().unwrap_or(Value::Null);
        json!({"id": self.id, "object": "response", "created_at": self.created_at,
            "status": status, "error": null, "incomplete_details": incomplete,
            "instructions": get("instructions"), "max_output_tokens": get("max_output_tokens"),
            "model": self.model, "output": output, "parallel_tool_calls": true,
            "previous_response_id": null, "reasoning": {"effort": null, "summary": null},
            "store": false, "temperature": 1.0, "text": {"format": {"type": "text"}},
            "tool_choice": self.body.get("tool_choice").cloned().unwrap_or_else(|| json!("auto")),
            "tools": self.body.get("tools").cloned().unwrap_or_else(|| json!([])),
            "top_p": 1.0, "truncation": "disabled", "usage": usage, "user": null,
            "metadata": {}})
    }

    /// The stream events, numbered by `sequence_number`.
    fn frames(&self) -> Vec<Vec<u8>> {
        let mut events: Vec<(&str, Value)> = vec![
            ("response.created", json!({"response": self.response(false)})),
            ("response.in_progress", json!({"response": self.response(false)})),
            ("response.output_item.added", json!({"output_index": 0, "item": self.item(false)})),
        ];
        let at = |extra: Value| {
            let mut v = json!({"item_id": self.item_id, "output_index": 0});
            if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), extra) {
                map.extend(extra);
            }
            v
        };
        match &self.output {
            Output::Message(words) => {
                events.push(("response.content_part.added", at(json!({"content_index": 0, "part": Answer::text_part("")}))));
                for piece in words.pieces() {
                    events.push(("response.output_text.delta", at(json!({"content_index": 0, "delta": piece, "logprobs": []}))));
                }
                events
                    .push(("response.output_text.done", at(json!({"content_index": 0, "text": words.as_str(), "logprobs": []}))));
                events.push((
                    "response.content_part.done",
                    at(json!({"content_index": 0, "part": Answer::text_part(words.as_str())})),
                ));
            }
            Output::Call(_) => {
                for piece in TOOL_ARGS {
                    events.push(("response.function_call_arguments.delta", at(json!({"delta": piece}))));
                }
                events.push(("response.function_call_arguments.done", at(json!({"arguments": TOOL_ARGUMENTS}))));
            }
        }
        events.push(("response.output_item.done", json!({"output_index": 0, "item": self.item(true)})));
        let terminal = if self.truncated() { "response.incomplete" } else { "response.completed" };
        events.push((terminal, json!({"response": self.response(true)})));
        events
            .into_iter()
            .enumerate()
            .map(|(n, (kind, mut data))| {
                if let Some(map) = data.as_object_mut() {
                    map.insert("type".into(), kind.into());
                    map.insert("sequence_number".into(), n.into());
                }
                let json = serde_json::to_string(&data).unwrap_or_default();
                format!("event: {kind}\ndata: {json}\n\n").into_bytes()
            })
            .collect()
    }
}
