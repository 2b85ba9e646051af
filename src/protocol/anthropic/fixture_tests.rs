//! Golden fixtures under `tests/fixtures/{openai,anthropic}/` (folder = the client's protocol).
//!
//! Each file: `{"kind", "input", "expected" | "expected_error", "options"?, "model"?}`. Streams
//! list SSE events as `{"event"?, "data"}` (data a JSON value or `"[DONE]"`); `"eof": true`
//! ends the input without a terminal event. `created` is ignored (wall clock). The harness is
//! [`crate::protocol::ir::testutil`]; this file holds the conversion kinds.

use super::bridge::*;
use crate::protocol::ir::testutil::{check_outcome, fixtures, load, run_checked_stream, run_stream};
use crate::protocol::ir::ConvertOptions;
use serde_json::Value;
use std::path::Path;

fn strip_created(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        o.remove("created");
    }
    v
}

fn options(f: &Value) -> ConvertOptions {
    let mut o = ConvertOptions::default();
    if let Some(m) = f["options"]["default_max_tokens"].as_u64() {
        o.default_max_tokens = m as u32;
    }
    if let Some(v) = f["options"]["anthropic_version"].as_str() {
        o.anthropic_version = v.into();
    }
    if let Some(b) = f["options"]["anthropic_system_role"].as_bool() {
        o.anthropic_system_role = b;
    }
    o
}

fn check(path: &Path) {
    let (f, name) = load(path);
    let model = f["model"].as_str().unwrap_or("m-up");
    let opts = options(&f);
    let body = f["input"].to_string().into_bytes();
    let got: Result<Value, crate::protocol::error::ApiError> = match f["kind"].as_str().unwrap() {
        "chat_request_to_anthropic" => {
            chat_request_to_anthropic(&body, model, &opts).map(|c| serde_json::from_slice(&c.value).unwrap())
        }
        "anthropic_request_to_chat" => anthropic_request_to_chat(&body, model).map(|c| serde_json::from_slice(&c.value).unwrap()),
        "anthropic_response_to_chat" => {
            anthropic_response_to_chat(&body, model, &opts).map(|b| strip_created(serde_json::from_slice(&b).unwrap()))
        }
        "chat_response_to_anthropic" => chat_response_to_anthropic(&body, model).map(|b| serde_json::from_slice(&b).unwrap()),
        "anthropic_stream_to_chat" => {
            let mut c = anthropic_to_chat_stream(model, f["include_usage"].as_bool().unwrap_or(false), &opts);
            Ok(run_checked_stream(&mut c, &f, &name, strip_created))
        }
        "chat_stream_to_anthropic" => {
            let mut c = chat_to_anthropic_stream(model, "msg_fallback");
            Ok(run_checked_stream(&mut c, &f, &name, strip_created))
        }
        "anthropic_stream_roundtrip" => {
            let mut c = crate::protocol::ir::StreamConverter::new(
                super::stream_decode::AnthropicStreamDecoder::new(),
                super::stream_encode::AnthropicStreamEncoder::new(model, "msg_fallback"),
            );
            let (frames, status) = run_stream(&mut c, &f, strip_created);
            assert_eq!(status, f["expected_status"], "{name}: status");
            Ok(Value::Array(frames))
        }
        other => panic!("{name}: unknown kind {other}"),
    };
    check_outcome(path, &f, &name, got, strip_created);
}

#[test]
fn openai_client_fixtures() {
    let files = fixtures("openai");
    assert!(files.len() >= 10, "fixtures missing");
    for p in &files {
        check(p);
    }
}

#[test]
fn anthropic_client_fixtures() {
    let files = fixtures("anthropic");
    assert!(files.len() >= 6, "fixtures missing");
    for p in &files {
        check(p);
    }
}
