//! Golden fixtures under `tests/fixtures/gemini/`: each file states a Gemini wire value, the
//! hub form it must convert to (as the JSON projection in [`super::testutil`]) and what must
//! come back out.

use super::testutil::{blocks_as_parts, event_json, request_json, response_json, usage_json};
use super::*;
use crate::protocol::ir::{self, Part, Role, StreamConverter, Turn};
use crate::protocol::sse::{SseDecoder, SseEvent};
use bytes::BytesMut;
use serde_json::Value;

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

macro_rules! load {
    ($name:literal) => {
        fixture(include_str!(concat!("../../../tests/fixtures/gemini/", $name)))
    };
}

/// Gemini request → ir (compared with `ir`) → Gemini (compared with `back`).
fn request_round_trip(f: &Value) {
    let body = f["gemini"].to_string();
    let model = f["model"].as_str().unwrap();
    let ir = request_to_ir(body.as_bytes(), model, false).unwrap();
    assert_eq!(request_json(&ir), f["ir"], "{}", f["description"]);
    let back = ir_to_gemini(&ir).unwrap();
    assert_eq!(serde_json::to_value(&back.value).unwrap(), f["back"], "{}", f["description"]);
}

#[test]
fn request_text() {
    request_round_trip(&load!("request_text.json"));
}

#[test]
fn request_system_multiturn() {
    request_round_trip(&load!("request_system_multiturn.json"));
}

#[test]
fn request_image_base64() {
    request_round_trip(&load!("request_image_base64.json"));
}

#[test]
fn request_parallel_calls() {
    request_round_trip(&load!("request_parallel_calls.json"));
}

/// The next turn an OpenAI-style client sends after a Gemini answer: its question, the answer
/// replayed as an assistant turn, and tool results known only by call id.
fn next_request(f: &Value, answer: &ir::Response) -> ir::Request {
    let results = f["next_tool_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Part::ToolResult {
            tool_use_id: r["tool_use_id"].as_str().unwrap().into(),
            name: None,
            content: vec![Part::text(r["text"].as_str().unwrap())],
            is_error: false,
        })
        .collect();
    ir::Request {
        model: "gemini-x".into(),
        turns: vec![
            Turn::new(Role::User, vec![Part::text(f["next_user_text"].as_str().unwrap())]),
            Turn::new(Role::Assistant, blocks_as_parts(&answer.blocks)),
            Turn::new(Role::Tool, results),
        ],
        ..Default::default()
    }
}

fn response_then_next_turn(f: &Value) -> ir::Response {
    let answer = response_to_ir(f["response"].to_string().as_bytes()).unwrap();
    assert_eq!(response_json(&answer), f["ir"], "{}", f["description"]);
    let next = ir_to_gemini(&next_request(f, &answer)).unwrap();
    assert_eq!(serde_json::to_value(&next.value).unwrap(), f["next_gemini"], "{}", f["description"]);
    answer
}

#[test]
fn response_tool_call_without_id_then_result_with_recovered_name() {
    response_then_next_turn(&load!("response_tool_call_no_id.json"));
}

#[test]
fn response_thought_signature_round_trip() {
    let f = load!("response_thought_signature.json");
    let answer = response_then_next_turn(&f);
    let to_client = ir_to_gemini_response(&answer, true);
    assert_eq!(serde_json::to_value(&to_client).unwrap(), f["to_gemini_client"]);
}

#[test]
fn stream_stop_after_function_call() {
    let f = load!("stream_stop_after_function_call.json");
    let mut wire = String::new();
    for c in f["chunks"].as_array().unwrap() {
        wire.push_str(&format!("data: {c}\r\n\r\n"));
    }
    // Decode: upstream bytes (split awkwardly) → SSE events → hub events.
    let mut sse = SseDecoder::new();
    let mut decoder = GeminiStreamDecoder::new();
    let mut events = Vec::new();
    for piece in wire.as_bytes().chunks(7) {
        for e in sse.feed(piece) {
            ir::StreamDecoder::decode(&mut decoder, &e, &mut events);
        }
    }
    ir::StreamDecoder::finish(&mut decoder, &mut events);
    assert_eq!(Value::Array(events.iter().map(event_json).collect()), f["events"]);

    // Re-encode for a Gemini client through the generic converter.
    let mut conv = StreamConverter::new(GeminiStreamDecoder::new(), GeminiStreamEncoder::new(true));
    let mut out = BytesMut::new();
    for e in SseDecoder::new().feed(wire.as_bytes()) {
        conv.feed(&e, &mut out).unwrap();
    }
    assert_eq!(conv.finish(&mut out), Ok(ir::Flow::Done));
    let frames: Vec<Value> =
        SseDecoder::new().feed(&out).into_iter().map(|e: SseEvent| serde_json::from_str(&e.data).unwrap()).collect();
    let parts: Vec<Value> = frames
        .iter()
        .flat_map(|fr| fr["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(Value::Array(parts), f["reencoded_parts"]);
    let last = frames.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], f["reencoded_last"]["finishReason"]);
    assert_eq!(last["usageMetadata"], f["reencoded_last"]["usageMetadata"]);
    assert_eq!(usage_json(&conv.usage().unwrap())["out_total"], 45);
}

#[test]
fn usage_cache_and_thoughts() {
    let f = load!("usage_cache_thoughts.json");
    let meta: UsageMetadata = serde_json::from_value(f["usageMetadata"].clone()).unwrap();
    let u = usage_from_gemini(&meta);
    assert_eq!(usage_json(&u), f["usage"]);
    assert_eq!(serde_json::to_value(usage_to_gemini(&u)).unwrap(), f["usageMetadata"]);
}
