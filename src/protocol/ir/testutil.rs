//! Test-only harness for the golden fixtures under `tests/fixtures/<client protocol>/`, shared by
//! the Anthropic and Responses fixture tests so that both read, run and judge a fixture the same
//! way; each keeps only its own table of conversion kinds.
//!
//! A fixture: `{"kind", "input", "expected" | "expected_error", ...}`. Streams list SSE events as
//! `{"event"?, "data"}` (data a JSON value or a raw string); `"eof": true` ends the input without
//! a terminal event. Wall-clock fields are removed by the caller's `strip` before comparing.

use super::{Flow, StreamConverter, StreamDecoder, StreamEncoder};
use crate::protocol::error::ApiError;
use crate::protocol::sse::{SseDecoder, SseEvent};
use bytes::BytesMut;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The `*.json` files in `tests/fixtures/<dir>`, sorted by name.
pub fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// A fixture's JSON and its file name (for assertion messages).
pub fn load(path: &Path) -> (Value, String) {
    let f: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    (f, name)
}

/// The fixture's `input` as SSE events.
pub fn sse_in(f: &Value) -> Vec<SseEvent> {
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

/// Decodes produced SSE bytes back into `{"event"?, "data"}` values for comparison, passing
/// JSON data through `strip`.
pub fn sse_out(bytes: &[u8], strip: fn(Value) -> Value) -> Vec<Value> {
    let mut d = SseDecoder::new();
    let events = d.feed(bytes);
    assert!(!d.has_partial_event(), "output ends mid-event");
    events
        .into_iter()
        .map(|e| {
            let data = serde_json::from_str::<Value>(&e.data).map(strip).unwrap_or(Value::String(e.data));
            match e.event {
                Some(name) => json!({"event": name, "data": data}),
                None => json!({"data": data}),
            }
        })
        .collect()
}

/// Feeds the fixture's events to `conv` (then `finish` when `"eof": true`); returns the output
/// frames and the end state: `"done"`, `"open"` or `{"error_status": n}`.
pub fn run_stream<D: StreamDecoder, E: StreamEncoder>(
    conv: &mut StreamConverter<D, E>,
    f: &Value,
    strip: fn(Value) -> Value,
) -> (Vec<Value>, Value) {
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
    (sse_out(&out, strip), status)
}

/// [`run_stream`], asserting `expected_status` and, when the fixture has it, `expected_usage`;
/// returns the frames as one array.
pub fn run_checked_stream<D: StreamDecoder, E: StreamEncoder>(
    conv: &mut StreamConverter<D, E>,
    f: &Value,
    name: &str,
    strip: fn(Value) -> Value,
) -> Value {
    let (frames, status) = run_stream(conv, f, strip);
    assert_eq!(status, f["expected_status"], "{name}: status");
    if let Some(u) = f.get("expected_usage") {
        assert_eq!(serde_json::to_value(conv.usage().unwrap()).unwrap(), *u, "{name}: usage");
    }
    Value::Array(frames)
}

/// Judges a conversion's outcome: a value must equal `expected` (stripped; for a list of frames,
/// each frame's `data`), an error must match `expected_error`'s status and param. A fixture with
/// neither fails, unless `SWITCHYARD_BLESS=1`, which writes the current output into it for review.
pub fn check_outcome(path: &Path, f: &Value, name: &str, got: Result<Value, ApiError>, strip: fn(Value) -> Value) {
    match (got, f.get("expected_error")) {
        (Ok(v), None) => match f.get("expected") {
            Some(expected) => {
                let expected = match expected {
                    Value::Array(a) => Value::Array(
                        a.iter()
                            .cloned()
                            .map(|mut fr| {
                                if let Some(d) = fr.get_mut("data") {
                                    *d = strip(d.take());
                                }
                                fr
                            })
                            .collect(),
                    ),
                    other => strip(other.clone()),
                };
                assert_eq!(v, expected, "{name}:\n got: {v}\nwant: {expected}");
            }
            None if std::env::var_os("SWITCHYARD_BLESS").is_some() => bless(path, f, &v),
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

fn bless(path: &Path, f: &Value, got: &Value) {
    let mut f = f.clone();
    f["expected"] = got.clone();
    std::fs::write(path, serde_json::to_string_pretty(&f).unwrap() + "\n").unwrap();
}
