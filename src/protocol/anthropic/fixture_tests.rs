//! Golden fixtures under `tests/fixtures/{openai,anthropic}/` (folder = the client's protocol).
//!
//! Each file: `{"kind", "input", "expected" | "expected_error", "options"?, "model"?}`. Streams
//! list SSE events as `{"event"?, "data"}` (data a JSON value or `"[DONE]"`); `"eof": true`
//! ends the input without a terminal event. `created` is ignored (wall clock).

use super::bridge::*;
use crate::protocol::ir::{ConvertOptions, Flow};
use crate::protocol::sse::{SseDecoder, SseEvent};
use bytes::BytesMut;
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

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

fn sse_in(f: &Value) -> Vec<SseEvent> {
    f["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| SseEvent {
            event: e["event"].as_str().map(str::to_owned),
            data: match &e["data"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

/// Decodes produced SSE bytes back into `{"event"?, "data"}` values for comparison.
pub(crate) fn sse_out(bytes: &[u8]) -> Vec<Value> {
    let mut d = SseDecoder::new();
    let events = d.feed(bytes);
    assert!(!d.has_partial_event(), "output ends mid-event");
    events
        .into_iter()
        .map(|e| {
            let data = serde_json::from_str::<Value>(&e.data).map(strip_created).unwrap_or(Value::String(e.data));
            match e.event {
                Some(name) => json!({"event": name, "data": data}),
                None => json!({"data": data}),
            }
        })
        .collect()
}

fn run_stream<D, E>(conv: &mut crate::protocol::ir::StreamConverter<D, E>, f: &Value) -> (Vec<Value>, Value)
where
    D: crate::protocol::ir::StreamDecoder,
    E: crate::protocol::ir::StreamEncoder,
{
    let mut out = BytesMut::new();
    let mut result = Ok(Flow::Continue);
    for e in sse_in(f) {
        result = conv.feed(&e, &mut out);
    }
    if f["eof"].as_bool() == Some(true) {
        result = conv.finish(&mut out);
    }
    let status = match result {
        Ok(Flow::Done) => json!("done"),
        Ok(Flow::Continue) => json!("open"),
        Err(e) => json!({"error_status": e.status}),
    };
    (sse_out(&out), status)
}

fn check(path: &PathBuf) {
    let f: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let model = f["model"].as_str().unwrap_or("m-up");
    let opts = options(&f);
    let body = f["input"].to_string().into_bytes();
    let got: Result<Value, crate::protocol::error::ApiError> = match f["kind"].as_str().unwrap() {
        "chat_request_to_anthropic" => chat_request_to_anthropic(&body, model, &opts)
            .map(|c| serde_json::from_slice(&c.value).unwrap()),
        "anthropic_request_to_chat" => {
            anthropic_request_to_chat(&body, model).map(|c| serde_json::from_slice(&c.value).unwrap())
        }
        "anthropic_response_to_chat" => anthropic_response_to_chat(&body, model, &opts)
            .map(|b| strip_created(serde_json::from_slice(&b).unwrap())),
        "chat_response_to_anthropic" => {
            chat_response_to_anthropic(&body, model).map(|b| serde_json::from_slice(&b).unwrap())
        }
        "anthropic_stream_to_chat" => {
            let mut c = anthropic_to_chat_stream(model, f["include_usage"].as_bool().unwrap_or(false), &opts);
            let (frames, status) = run_stream(&mut c, &f);
            assert_eq!(status, f["expected_status"], "{name}: status");
            if let Some(u) = f.get("expected_usage") {
                assert_eq!(serde_json::to_value(c.usage().unwrap()).unwrap(), *u, "{name}: usage");
            }
            Ok(Value::Array(frames))
        }
        "chat_stream_to_anthropic" => {
            let mut c = chat_to_anthropic_stream(model, "msg_fallback");
            let (frames, status) = run_stream(&mut c, &f);
            assert_eq!(status, f["expected_status"], "{name}: status");
            if let Some(u) = f.get("expected_usage") {
                assert_eq!(serde_json::to_value(c.usage().unwrap()).unwrap(), *u, "{name}: usage");
            }
            Ok(Value::Array(frames))
        }
        "anthropic_stream_roundtrip" => {
            let mut c = crate::protocol::ir::StreamConverter::new(
                super::stream_decode::AnthropicStreamDecoder::new(),
                super::stream_encode::AnthropicStreamEncoder::new(model, "msg_fallback"),
            );
            let (frames, status) = run_stream(&mut c, &f);
            assert_eq!(status, f["expected_status"], "{name}: status");
            Ok(Value::Array(frames))
        }
        other => panic!("{name}: unknown kind {other}"),
    };
    match (got, f.get("expected_error")) {
        (Ok(v), None) => {
            let expected = match &f["expected"] {
                Value::Array(a) => Value::Array(a.iter().cloned().map(|mut fr| {
                    if let Some(d) = fr.get_mut("data") {
                        *d = strip_created(d.take());
                    }
                    fr
                }).collect()),
                other => strip_created(other.clone()),
            };
            assert_eq!(v, expected, "{name}:\n got: {}\nwant: {}", v, expected);
        }
        (Err(e), Some(want)) => {
            assert_eq!(e.status, want["status"].as_u64().unwrap() as u16, "{name}");
            assert_eq!(e.param.as_deref(), want["param"].as_str(), "{name}: {}", e.message);
        }
        (Ok(v), Some(_)) => panic!("{name}: expected an error, got {v}"),
        (Err(e), None) => panic!("{name}: unexpected error {e:?}"),
    }
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
