//! Property tests: converters and parsers never panic on arbitrary input, and stream output keeps
//! each client protocol's grammar whatever event sequence the upstream sends.

use super::bridge::*;
use super::request::{anthropic_request_to_ir, ir_to_messages};
use super::response::anthropic_response_to_ir;
use crate::protocol::ir::ConvertOptions;
use crate::protocol::openai::chat_request::{chat_request_to_ir, ir_to_chat};
use crate::protocol::openai::chat_response::chat_response_to_ir;
use crate::protocol::sse::{SseDecoder, SseEvent};
use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;

/// JSON trees whose keys and strings come from the protocols' vocabularies, so random inputs
/// reach deep into the parsers instead of failing at the first field.
fn arb_json() -> impl Strategy<Value = Value> {
    let words = prop::sample::select(vec![
        "model",
        "messages",
        "role",
        "content",
        "type",
        "text",
        "user",
        "assistant",
        "system",
        "tool",
        "developer",
        "tool_calls",
        "id",
        "function",
        "name",
        "arguments",
        "tool_call_id",
        "image_url",
        "url",
        "file",
        "file_data",
        "tool_use",
        "tool_result",
        "tool_use_id",
        "input",
        "thinking",
        "signature",
        "redacted_thinking",
        "data",
        "image",
        "document",
        "source",
        "base64",
        "media_type",
        "max_tokens",
        "temperature",
        "tools",
        "tool_choice",
        "auto",
        "any",
        "none",
        "required",
        "stop",
        "n",
        "stream",
        "choices",
        "message",
        "finish_reason",
        "usage",
        "data:image/png;base64,AA",
        "input_schema",
        "parameters",
        "reasoning_effort",
        "high",
        "output_config",
        "format",
        "json_schema",
        "schema",
        "response_format",
        "allowed_tools",
        "mode",
        "is_error",
        "cache_control",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..5000).prop_map(|n| json!(n)),
        (-1.0f64..3.0).prop_map(|f| json!(f)),
        words.clone().prop_map(|s| json!(s)),
        ".{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((words.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z\"{}:,]{1,6}".prop_map(|s| s)]
}

/// One Anthropic stream frame with random indices, kinds and payloads.
fn arb_anthropic_event() -> impl Strategy<Value = SseEvent> {
    let idx = 0u64..4;
    prop_oneof![
        (0u64..50, 0u64..50).prop_map(|(i, o)| json!({"type":"message_start","message":{"id":"m","model":"x","content":[],"usage":{"input_tokens":i,"output_tokens":o}}})),
        (idx.clone(), prop::sample::select(vec!["text", "thinking", "tool_use", "redacted_thinking", "server_tool_use"]), arb_text())
            .prop_map(|(i, k, t)| json!({"type":"content_block_start","index":i,"content_block":{"type":k,"text":t,"thinking":t,"signature":"","id":format!("t{i}"),"name":"f","input":{},"data":"d"}})),
        (idx.clone(), prop::sample::select(vec!["text_delta", "thinking_delta", "signature_delta", "input_json_delta", "citations_delta"]), arb_text())
            .prop_map(|(i, k, t)| json!({"type":"content_block_delta","index":i,"delta":{"type":k,"text":t,"thinking":t,"signature":t,"partial_json":t}})),
        idx.prop_map(|i| json!({"type":"content_block_stop","index":i})),
        (prop::option::of(prop::sample::select(vec!["end_turn", "tool_use", "max_tokens", "refusal", "pause_turn"])), 0u64..99)
            .prop_map(|(r, o)| json!({"type":"message_delta","delta":{"stop_reason":r},"usage":{"output_tokens":o}})),
        Just(json!({"type":"message_stop"})),
        Just(json!({"type":"ping"})),
        Just(json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})),
        Just(json!("garbage")),
    ]
    .prop_map(|v| {
        let name = v["type"].as_str().map(str::to_owned);
        SseEvent { event: name, data: if v.is_string() { "{not json".into() } else { v.to_string() } }
    })
}

/// One Chat stream chunk with random deltas, tool indices and finish reasons.
fn arb_chat_event() -> impl Strategy<Value = SseEvent> {
    prop_oneof![
        4 => (prop::option::of(arb_text()), prop::option::of(arb_text()), prop::option::of((0u32..3, prop::option::of("[a-z]{1,3}"), prop::option::of(arb_text()))), prop::option::of(prop::sample::select(vec!["stop", "length", "tool_calls", "content_filter", "weird"])))
            .prop_map(|(content, reasoning, tool, finish)| {
                let mut delta = json!({});
                if let Some(c) = content { delta["content"] = json!(c); }
                if let Some(r) = reasoning { delta["reasoning_content"] = json!(r); }
                if let Some((i, id, args)) = tool {
                    delta["tool_calls"] = json!([{"index": i, "id": id, "function": {"name": "f", "arguments": args}}]);
                }
                SseEvent::data(json!({"id":"c","model":"x","choices":[{"index":0,"delta":delta,"finish_reason":finish}]}).to_string())
            }),
        1 => (0u64..99, 0u64..99).prop_map(|(p, c)| SseEvent::data(json!({"id":"c","choices":[],"usage":{"prompt_tokens":p,"completion_tokens":c}}).to_string())),
        1 => Just(SseEvent::data("[DONE]")),
        1 => Just(SseEvent::data(r#"{"error":{"message":"boom","type":"server_error"}}"#)),
        1 => Just(SseEvent::data("{truncated")),
    ]
}

fn decode_all(bytes: &[u8]) -> Vec<SseEvent> {
    let mut d = SseDecoder::new();
    let events = d.feed(bytes);
    assert!(!d.has_partial_event());
    events
}

/// The Anthropic client grammar: named frames, message_start first, blocks 0,1,2… opened one at
/// a time, deltas only into the open block, nothing after message_stop or error.
fn check_anthropic_grammar(events: &[SseEvent]) -> Result<(), TestCaseError> {
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    let mut ended = false;
    for (n, e) in events.iter().enumerate() {
        prop_assert!(!ended, "frame after the end");
        let name = e.event.clone().unwrap_or_default();
        let v: Value = serde_json::from_str(&e.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(v["type"].as_str(), Some(name.as_str()));
        if n == 0 {
            prop_assert!(name == "message_start" || name == "error");
        }
        match name.as_str() {
            "content_block_start" => {
                prop_assert_eq!(open, None);
                prop_assert_eq!(v["index"].as_u64(), Some(next));
                open = Some(next);
                next += 1;
            }
            "content_block_delta" => prop_assert_eq!(v["index"].as_u64(), open),
            "content_block_stop" => {
                prop_assert_eq!(v["index"].as_u64(), open);
                open = None;
            }
            "message_delta" => prop_assert_eq!(open, None),
            "message_stop" | "error" => ended = true,
            _ => {}
        }
    }
    Ok(())
}

/// The Chat client grammar the SDK helper needs (traps #1–#4, #29).
fn check_chat_grammar(events: &[SseEvent]) -> Result<(), TestCaseError> {
    let mut ended = false;
    let mut ids: HashSet<u64> = HashSet::new();
    for (n, e) in events.iter().enumerate() {
        prop_assert!(!ended, "chunk after the end");
        prop_assert!(e.event.is_none());
        if e.data == "[DONE]" {
            ended = true;
            continue;
        }
        let v: Value = serde_json::from_str(&e.data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if v.get("error").is_some() {
            ended = true;
            continue;
        }
        let delta = &v["choices"][0]["delta"];
        if n == 0 {
            prop_assert_eq!(delta, &json!({"role":"assistant","content":""}));
        } else {
            prop_assert!(delta.get("role").is_none(), "role repeated");
        }
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = tc["index"].as_u64();
            prop_assert!(index.is_some(), "tool delta without index");
            if tc.get("id").is_some() {
                prop_assert!(ids.insert(index.unwrap_or(0)), "id repeated");
            } else {
                prop_assert!(ids.contains(&index.unwrap_or(0)), "args before the tool start");
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn request_and_response_parsers_never_panic(v in arb_json(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let body = v.to_string();
        let opts = ConvertOptions::default();
        for b in [body.as_bytes(), &bytes[..]] {
            if let Ok(r) = chat_request_to_ir(b) {
                let _ = ir_to_messages(&r, &opts);
                let _ = ir_to_chat(&r);
            }
            if let Ok(r) = anthropic_request_to_ir(b) {
                let _ = ir_to_chat(&r);
                let _ = ir_to_messages(&r, &opts);
            }
            let _ = chat_response_to_ir(b);
            let _ = anthropic_response_to_ir(b);
            let _ = anthropic_response_to_chat(b, "m", &opts);
            let _ = chat_response_to_anthropic(b, "m");
        }
    }

    #[test]
    fn anthropic_to_chat_stream_keeps_the_chat_grammar(events in prop::collection::vec(arb_anthropic_event(), 0..24), usage in any::<bool>(), eof in any::<bool>()) {
        let mut c = anthropic_to_chat_stream("pub", usage, &ConvertOptions::default());
        let mut out = BytesMut::new();
        for e in &events {
            if c.feed(e, &mut out).is_err() { break; }
        }
        if eof { let _ = c.finish(&mut out); }
        check_chat_grammar(&decode_all(&out))?;
    }

    #[test]
    fn chat_to_anthropic_stream_keeps_the_anthropic_grammar(events in prop::collection::vec(arb_chat_event(), 0..24), eof in any::<bool>()) {
        let mut c = chat_to_anthropic_stream("pub", "msg_x");
        let mut out = BytesMut::new();
        for e in &events {
            if c.feed(e, &mut out).is_err() { break; }
        }
        if eof { let _ = c.finish(&mut out); }
        check_anthropic_grammar(&decode_all(&out))?;
    }

    #[test]
    fn anthropic_roundtrip_stream_keeps_the_anthropic_grammar(events in prop::collection::vec(arb_anthropic_event(), 0..24)) {
        let mut c = crate::protocol::ir::StreamConverter::new(
            super::stream_decode::AnthropicStreamDecoder::new(),
            super::stream_encode::AnthropicStreamEncoder::new("pub", "msg_x"),
        );
        let mut out = BytesMut::new();
        for e in &events {
            let _ = c.feed(e, &mut out);
        }
        let _ = c.finish(&mut out);
        check_anthropic_grammar(&decode_all(&out))?;
        prop_assert!(c.is_ended(), "finish always ends the stream");
    }
}
