//! Golden fixtures under `tests/fixtures/responses/`.
//!
//! Each file: `{"kind", "input", "expected" | "expected_error", "model"?, "options"?,
//! "expected_status"?, "expected_usage"?, "eof"?}`. Streams list SSE events as `{"event"?, "data"}`
//! (data a JSON value or a raw string); `"eof": true` ends the input without a terminal event.
//! Wall-clock fields (`created`, `created_at`) are ignored. With `SWITCHYARD_BLESS=1`, a fixture
//! without `expected` gets the current output written into it, to be reviewed by hand.

use super::bridge::*;
use super::object::ResponseEcho;
use super::request::parse_responses_request;
use super::response::responses_usage;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{ConvertOptions, Flow, StreamConverter, StreamDecoder, StreamEncoder};
use crate::protocol::sse::{SseDecoder, SseEvent};
use bytes::BytesMut;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Drops wall-clock fields at the top level and in a nested `response` object.
fn strip_clock(mut v: Value) -> Value {
    if let Value::Object(o) = &mut v {
        o.remove("created");
        o.remove("created_at");
        if let Some(r) = o.get_mut("response") {
            *r = strip_clock(r.take());
        }
    }
    v
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

fn sse_out(bytes: &[u8]) -> Vec<Value> {
    let mut d = SseDecoder::new();
    let events = d.feed(bytes);
    assert!(!d.has_partial_event(), "output ends mid-event");
    events
        .into_iter()
        .map(|e| {
            let data = serde_json::from_str::<Value>(&e.data).map(strip_clock).unwrap_or(Value::String(e.data));
            match e.event {
                Some(name) => json!({"event": name, "data": data}),
                None => json!({"data": data}),
            }
        })
        .collect()
}

fn run_stream<D: StreamDecoder, E: StreamEncoder>(conv: &mut StreamConverter<D, E>, f: &Value, name: &str) -> Value {
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
    assert_eq!(status, f["expected_status"], "{name}: status");
    if let Some(u) = f.get("expected_usage") {
        assert_eq!(serde_json::to_value(conv.usage().unwrap()).unwrap(), *u, "{name}: usage");
    }
    Value::Array(sse_out(&out))
}

fn echo(f: &Value) -> ResponseEcho {
    match f.get("client_request") {
        Some(r) => ResponseEcho::from_request(&parse_responses_request(r.to_string().as_bytes()).unwrap()),
        None => ResponseEcho::default(),
    }
}

fn json_body(r: Result<Vec<u8>, ApiError>) -> Result<Value, ApiError> {
    r.map(|b| strip_clock(serde_json::from_slice(&b).unwrap()))
}

fn convert(f: &Value, name: &str) -> Result<Value, ApiError> {
    let model = f["model"].as_str().unwrap_or("m-up");
    let opts = ConvertOptions::default();
    let body = f["input"].to_string().into_bytes();
    match f["kind"].as_str().unwrap() {
        "responses_request_to_chat" => json_body(responses_request_to_chat(&body, model).map(|c| c.value)),
        "responses_request_to_anthropic" => json_body(responses_request_to_anthropic(&body, model, &opts).map(|c| c.value)),
        "chat_request_to_responses" => json_body(chat_request_to_responses(&body, model).map(|c| c.value)),
        "chat_response_to_responses" => json_body(chat_response_to_responses(&body, model, &echo(f), "req_fx")),
        "anthropic_response_to_responses" => json_body(anthropic_response_to_responses(&body, model, &echo(f), "req_fx")),
        "responses_response_to_chat" => json_body(responses_response_to_chat(&body, model, &opts)),
        "responses_usage" => Ok(serde_json::to_value(responses_usage(&body)).unwrap()),
        "anthropic_stream_to_responses" => Ok(run_stream(&mut anthropic_to_responses_stream(model, "req_fx", echo(f)), f, name)),
        "chat_stream_to_responses" => Ok(run_stream(&mut chat_to_responses_stream(model, "req_fx", echo(f)), f, name)),
        "responses_stream_to_chat" => {
            let include_usage = f["include_usage"].as_bool().unwrap_or(false);
            Ok(run_stream(&mut responses_to_chat_stream(model, include_usage, &opts), f, name))
        }
        "responses_stream_to_anthropic" => Ok(run_stream(&mut responses_to_anthropic_stream(model, "msg_fx"), f, name)),
        other => panic!("{name}: unknown kind {other}"),
    }
}

fn bless(path: &Path, f: &Value, got: &Value) {
    let mut f = f.clone();
    f["expected"] = got.clone();
    std::fs::write(path, serde_json::to_string_pretty(&f).unwrap() + "\n").unwrap();
}

fn check(path: &PathBuf) {
    let f: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match (convert(&f, &name), f.get("expected_error")) {
        (Ok(v), None) => match f.get("expected") {
            Some(expected) => {
                let expected = match expected {
                    Value::Array(a) => Value::Array(
                        a.iter()
                            .cloned()
                            .map(|mut fr| {
                                if let Some(d) = fr.get_mut("data") {
                                    *d = strip_clock(d.take());
                                }
                                fr
                            })
                            .collect(),
                    ),
                    other => strip_clock(other.clone()),
                };
                assert_eq!(v, expected, "{name}:\n got: {v}\nwant: {expected}");
            }
            None if std::env::var_os("SWITCHYARD_BLESS").is_some() => bless(path, &f, &v),
            None => panic!("{name}: no `expected`; run with SWITCHYARD_BLESS=1 and review the result"),
        },
        (Err(e), Some(want)) => {
            assert_eq!(e.status, want["status"].as_u64().unwrap() as u16, "{name}");
            assert_eq!(e.param.as_deref(), want["param"].as_str(), "{name}: {}", e.message);
        }
        (Ok(v), Some(_)) => panic!("{name}: expected an error, got {v}"),
        (Err(e), None) => panic!("{name}: unexpected error {e:?}"),
    }
}

#[test]
fn responses_client_fixtures() {
    let files = fixtures();
    assert!(files.len() >= 12, "fixtures missing");
    for p in &files {
        check(p);
    }
}

/// Every Responses stream fixture output must satisfy the SDK helper's rules (§1.4).
#[test]
fn fixture_streams_follow_the_responses_grammar() {
    for p in fixtures() {
        let f: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let kind = f["kind"].as_str().unwrap();
        if !kind.ends_with("_stream_to_responses") {
            continue;
        }
        let frames: Vec<(String, Value)> = f["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|fr| (fr["event"].as_str().unwrap().to_owned(), fr["data"].clone()))
            .collect();
        super::property_tests::assert_grammar(&frames, &p.display().to_string());
    }
}
