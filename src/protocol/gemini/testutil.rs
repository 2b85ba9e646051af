//! Test-only JSON projections of hub values, so golden fixtures can state the expected hub form
//! as plain JSON (the hub types deliberately do not implement serde).

use crate::protocol::ir::{self, Block, DocumentSource, ImageSource, Part, Role, StreamEvent};
use crate::protocol::usage::Usage;
use serde_json::{json, Map, Value};

pub fn usage_json(u: &Usage) -> Value {
    serde_json::to_value(u).unwrap_or(Value::Null)
}

pub fn part_json(p: &Part) -> Value {
    match p {
        Part::Text { text } => json!({ "text": text }),
        Part::Image { source: ImageSource::Base64 { media_type, data } } => {
            json!({"image": {"media_type": media_type, "data": data}})
        }
        Part::Image { source: ImageSource::Url(u) } => json!({"image": {"url": u}}),
        Part::Document { source, title } => {
            let src = match source {
                DocumentSource::Base64 { media_type, data } => json!({"media_type": media_type, "data": data}),
                DocumentSource::Url(u) => json!({"url": u}),
                DocumentSource::Text(t) => json!({"text": t}),
            };
            json!({"document": src, "title": title})
        }
        Part::Audio { format, data } => json!({"audio": {"format": format, "data": data}}),
        Part::FileRef { issuer, file_id } => json!({"file_ref": {"issuer": format!("{issuer:?}"), "file_id": file_id}}),
        Part::Thinking { text, signature } => json!({"thinking": text, "signature": signature}),
        Part::RedactedThinking { data } => json!({ "redacted_thinking": data }),
        Part::ToolUse { id, name, input } => json!({"tool_use": {"id": id, "name": name, "input": input}}),
        Part::ToolResult { tool_use_id, name, content, is_error } => json!({"tool_result": {
            "tool_use_id": tool_use_id, "name": name, "content": content.iter().map(part_json).collect::<Vec<_>>(), "is_error": is_error
        }}),
    }
}

fn role(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// Only the fields that are set, so fixtures stay short.
pub fn request_json(r: &ir::Request) -> Value {
    let mut o = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            o.insert(k.into(), v);
        }
    };
    put("model", json!(r.model));
    if !r.system.is_empty() {
        put("system", json!(r.system.iter().map(|b| b.text.clone()).collect::<Vec<_>>()));
    }
    put(
        "turns",
        json!(r
            .turns
            .iter()
            .map(|t| json!({"role": role(t.role), "parts": t.parts.iter().map(part_json).collect::<Vec<_>>()}))
            .collect::<Vec<_>>()),
    );
    if !r.tools.is_empty() {
        put(
            "tools",
            json!(r
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "schema": t.schema}))
                .collect::<Vec<_>>()),
        );
    }
    put("tool_choice", r.tool_choice.as_ref().map_or(Value::Null, |c| json!(format!("{c:?}"))));
    put("max_output_tokens", json!(r.max_output_tokens));
    put("temperature", json!(r.temperature));
    put("top_p", json!(r.top_p));
    put("top_k", json!(r.top_k));
    put("n", json!(r.n));
    put("seed", json!(r.seed));
    if !r.stop.is_empty() {
        put("stop", json!(r.stop));
    }
    put("response_format", r.response_format.as_ref().map_or(Value::Null, |f| json!(format!("{f:?}"))));
    put("reasoning", r.reasoning.as_ref().map_or(Value::Null, |x| json!(format!("{x:?}"))));
    if r.stream {
        put("stream", json!(true));
    }
    if !r.metadata.tags.is_empty() {
        put("tags", Value::Object(r.metadata.tags.clone()));
    }
    if !r.extra.fields.is_empty() || !r.extra.answer_changing.is_empty() {
        put("extra", json!({"fields": r.extra.fields, "answer_changing": r.extra.answer_changing}));
    }
    Value::Object(o)
}

pub fn block_json(b: &Block) -> Value {
    match b {
        Block::Text(t) => json!({ "text": t }),
        Block::Thinking { text, signature } => json!({"thinking": text, "signature": signature}),
        Block::RedactedThinking(d) => json!({ "redacted_thinking": d }),
        Block::ToolUse { id, name, input } => json!({"tool_use": {"id": id, "name": name, "input": input}}),
    }
}

pub fn response_json(r: &ir::Response) -> Value {
    json!({
        "id": r.id,
        "model": r.model,
        "blocks": r.blocks.iter().map(block_json).collect::<Vec<_>>(),
        "finish": format!("{:?}", r.finish),
        "usage": usage_json(&r.usage),
    })
}

/// The hub blocks of a response as the parts of the assistant turn that replays it.
pub fn blocks_as_parts(blocks: &[Block]) -> Vec<Part> {
    blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) => Part::text(t.clone()),
            Block::Thinking { text, signature } => Part::Thinking { text: text.clone(), signature: signature.clone() },
            Block::RedactedThinking(d) => Part::RedactedThinking { data: d.clone() },
            Block::ToolUse { id, name, input } => Part::ToolUse { id: id.clone(), name: name.clone(), input: input.clone() },
        })
        .collect()
}

pub fn event_json(e: &StreamEvent) -> Value {
    match e {
        StreamEvent::MessageStart { id, model, usage } => {
            json!({"message_start": {"id": id, "model": model, "usage": usage.as_ref().map(usage_json)}})
        }
        StreamEvent::BlockStart { index, kind } => {
            json!({"block_start": {"index": index, "kind": format!("{kind:?}")}})
        }
        StreamEvent::TextDelta { index, text } => json!({"text_delta": {"index": index, "text": text}}),
        StreamEvent::ThinkingDelta { index, text } => json!({"thinking_delta": {"index": index, "text": text}}),
        StreamEvent::SignatureDelta { index, signature } => {
            json!({"signature_delta": {"index": index, "signature": signature}})
        }
        StreamEvent::ToolArgsDelta { index, partial_json } => {
            json!({"tool_args_delta": {"index": index, "partial_json": partial_json}})
        }
        StreamEvent::BlockStop { index } => json!({ "block_stop": index }),
        StreamEvent::Finish { reason, .. } => json!({ "finish": format!("{reason:?}") }),
        StreamEvent::Usage(u) => json!({ "usage": usage_json(u) }),
        StreamEvent::Error(err) => json!({"error": {"status": err.status, "message": err.message}}),
        StreamEvent::Done => json!("done"),
    }
}
