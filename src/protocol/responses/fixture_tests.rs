//! Golden fixtures under `tests/fixtures/responses/`.
//!
//! Each file: `{"kind", "input", "expected" | "expected_error", "model"?, "options"?,
//! "expected_status"?, "expected_usage"?, "eof"?}`. Streams list SSE events as `{"event"?, "data"}`
//! (data a JSON value or a raw string); `"eof": true` ends the input without a terminal event.
//! Wall-clock fields (`created`, `created_at`) are ignored. With `SWITCHYARD_BLESS=1`, a fixture
//! without `expected` gets the current output written into it, to be reviewed by hand. The
//! harness is [`crate::protocol::ir::testutil`]; this file holds the conversion kinds.

use super::bridge::*;
use super::object::ResponseEcho;
use super::request::parse_responses_request;
use super::response::responses_usage;
use crate::protocol::error::ApiError;
use crate::protocol::ir::testutil::{check_outcome, fixtures, load, run_checked_stream};
use crate::protocol::ir::{ConvertOptions, StreamConverter, StreamDecoder, StreamEncoder};
use serde_json::Value;
use std::path::Path;

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

fn run_stream<D: StreamDecoder, E: StreamEncoder>(conv: &mut StreamConverter<D, E>, f: &Value, name: &str) -> Value {
    run_checked_stream(conv, f, name, strip_clock)
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

fn check(path: &Path) {
    let (f, name) = load(path);
    check_outcome(path, &f, &name, convert(&f, &name), strip_clock);
}

#[test]
fn responses_client_fixtures() {
    let files = fixtures("responses");
    assert!(files.len() >= 12, "fixtures missing");
    for p in &files {
        check(p);
    }
}

/// Every Responses stream fixture output must satisfy the SDK helper's rules (§1.4).
#[test]
fn fixture_streams_follow_the_responses_grammar() {
    for p in fixtures("responses") {
        let (f, _) = load(&p);
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
