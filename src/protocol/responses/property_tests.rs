//! Property tests: the decoder and encoder never panic on arbitrary input, and whatever hub
//! events arrive, the encoder's output keeps the Responses stream grammar the SDK helper relies
//! on (PROTOCOLS.md §1.4, trap #26).

use super::stream_decode::ResponsesStreamDecoder;
use super::stream_encode::ResponsesStreamEncoder;
use super::{request::responses_request_to_ir, response::responses_response_to_ir};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{BlockKind, FinishReason, StreamDecoder, StreamEncoder, StreamEvent};
use crate::protocol::sse::{SseDecoder, SseEvent};
use crate::protocol::usage::Usage;
use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Checks one encoded stream against the grammar; `name` labels failures.
pub(super) fn assert_grammar(frames: &[(String, Value)], name: &str) {
    let terminal = |k: &str| matches!(k, "response.completed" | "response.incomplete" | "response.failed" | "error");
    let mut added: HashMap<u64, String> = HashMap::new();
    let mut done: HashSet<u64> = HashSet::new();
    let mut parts: HashSet<(u64, u64)> = HashSet::new();
    let mut id: Option<String> = None;
    for (i, (kind, data)) in frames.iter().enumerate() {
        assert_eq!(data["sequence_number"].as_u64(), Some(i as u64), "{name}: frame {i} ({kind}) numbering");
        assert_eq!(data["type"].as_str(), Some(kind.as_str()), "{name}: frame {i} type");
        if i == 0 && kind != "error" {
            assert_eq!(kind, "response.created", "{name}: first frame");
        }
        if terminal(kind) {
            assert_eq!(i, frames.len() - 1, "{name}: {kind} is not last");
        }
        if let Some(rid) = data["response"]["id"].as_str() {
            let first = id.get_or_insert_with(|| rid.to_owned());
            assert_eq!(first, rid, "{name}: response id changed");
        }
        let oi = data["output_index"].as_u64();
        match kind.as_str() {
            "response.output_item.added" => {
                let oi = oi.unwrap_or(u64::MAX);
                assert_eq!(oi, added.len() as u64, "{name}: output_index out of order");
                added.insert(oi, data["item"]["type"].as_str().unwrap_or_default().to_owned());
            }
            "response.output_item.done" => {
                let oi = oi.unwrap_or(u64::MAX);
                assert!(added.contains_key(&oi), "{name}: done before added");
                assert!(done.insert(oi), "{name}: item {oi} done twice");
                assert_eq!(
                    data["item"]["id"],
                    frames
                        .iter()
                        .find(|(k, d)| k == "response.output_item.added" && d["output_index"].as_u64() == Some(oi))
                        .map(|(_, d)| d["item"]["id"].clone())
                        .unwrap_or_default(),
                    "{name}: item id changed"
                );
            }
            "response.content_part.added" => {
                let oi = oi.unwrap_or(u64::MAX);
                assert_eq!(added.get(&oi).map(String::as_str), Some("message"), "{name}: part outside a message");
                parts.insert((oi, data["content_index"].as_u64().unwrap_or(u64::MAX)));
            }
            "response.output_text.delta" | "response.output_text.done" | "response.content_part.done" => {
                let key = (oi.unwrap_or(u64::MAX), data["content_index"].as_u64().unwrap_or(u64::MAX));
                assert!(parts.contains(&key), "{name}: {kind} before its content part");
                assert!(!done.contains(&key.0), "{name}: {kind} after its item was done");
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                let oi = oi.unwrap_or(u64::MAX);
                assert_eq!(added.get(&oi).map(String::as_str), Some("function_call"), "{name}: {kind} outside a call");
                assert!(!done.contains(&oi), "{name}: {kind} after done");
            }
            k if k.starts_with("response.reasoning_summary") => {
                let oi = oi.unwrap_or(u64::MAX);
                assert_eq!(added.get(&oi).map(String::as_str), Some("reasoning"), "{name}: {kind} outside reasoning");
                assert!(!done.contains(&oi), "{name}: {kind} after done");
            }
            "response.completed" | "response.incomplete" => {
                assert_eq!(done.len(), added.len(), "{name}: items still open at {kind}");
                let output = data["response"]["output"].as_array().map(Vec::len);
                assert_eq!(output, Some(added.len()), "{name}: output does not list every item");
                assert!(data["response"]["usage"]["total_tokens"].is_u64(), "{name}: {kind} without usage");
            }
            _ => {}
        }
    }
}

fn encode(events: &[StreamEvent]) -> Vec<(String, Value)> {
    let mut enc = ResponsesStreamEncoder::new("pub", "req");
    let mut out = BytesMut::new();
    for e in events {
        enc.encode(e, &mut out);
    }
    let mut d = SseDecoder::new();
    let frames = d.feed(&out);
    assert!(!d.has_partial_event());
    frames
        .into_iter()
        .map(|e| (e.event.unwrap_or_default(), serde_json::from_str(&e.data).unwrap_or(Value::Null)))
        .collect()
}

fn arb_kind() -> impl Strategy<Value = BlockKind> {
    prop_oneof![
        Just(BlockKind::Text),
        Just(BlockKind::Thinking),
        ".{0,8}".prop_map(|data| BlockKind::RedactedThinking { data }),
        (".{0,70}", "[a-z]{0,6}").prop_map(|(id, name)| BlockKind::ToolUse { id, name }),
    ]
}

fn arb_event() -> impl Strategy<Value = StreamEvent> {
    let idx = 0usize..4;
    prop_oneof![
        ".{0,8}".prop_map(|id| StreamEvent::MessageStart { id, model: "up".into(), usage: None }),
        (idx.clone(), arb_kind()).prop_map(|(index, kind)| StreamEvent::BlockStart { index, kind }),
        (idx.clone(), ".{0,6}").prop_map(|(index, text)| StreamEvent::TextDelta { index, text }),
        (idx.clone(), ".{0,6}").prop_map(|(index, text)| StreamEvent::ThinkingDelta { index, text }),
        (idx.clone(), ".{0,6}").prop_map(|(index, signature)| StreamEvent::SignatureDelta { index, signature }),
        (idx.clone(), ".{0,6}").prop_map(|(index, partial_json)| StreamEvent::ToolArgsDelta { index, partial_json }),
        idx.prop_map(|index| StreamEvent::BlockStop { index }),
        prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ContentFilter),
            Just(FinishReason::ToolCalls)
        ]
        .prop_map(|reason| StreamEvent::Finish { reason, stop_sequence: None }),
        (0u64..1000, 0u64..1000).prop_map(|(a, b)| StreamEvent::Usage(Usage { in_base: a, out_total: b, ..Usage::default() })),
    ]
}

fn arb_sse() -> impl Strategy<Value = SseEvent> {
    let kinds = prop::sample::select(vec![
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "error",
        "response.refusal.delta",
    ]);
    let item = prop_oneof![Just("message"), Just("function_call"), Just("reasoning"), Just("web_search_call")];
    let structured = (kinds.clone(), item, 0u64..3, 0u64..2, ".{0,6}", any::<bool>()).prop_map(|(kind, item, oi, ci, text, enc)| {
        let data = serde_json::json!({
            "type": kind, "output_index": oi, "content_index": ci, "summary_index": ci, "delta": text, "text": text,
            "arguments": text, "part": {"type": "output_text", "text": text},
            "item": {"type": item, "call_id": text, "name": "f", "arguments": text, "summary": [{"type": "summary_text", "text": text}],
                     "encrypted_content": if enc { Value::String(text.clone()) } else { Value::Null },
                     "content": [{"type": "output_text", "text": text}]},
            "response": {"id": "r", "status": if enc { "incomplete" } else { "completed" }, "output": [],
                         "usage": {"input_tokens": oi, "output_tokens": ci}}
        });
        SseEvent { event: Some(kind.to_owned()), data: data.to_string() }
    });
    let raw =
        (proptest::option::of(kinds), ".{0,60}").prop_map(|(event, data)| SseEvent { event: event.map(str::to_owned), data });
    prop_oneof![structured, raw]
}

proptest! {
    #[test]
    fn encoder_keeps_the_grammar_for_any_hub_events(mut events in proptest::collection::vec(arb_event(), 0..30), end in 0u8..3) {
        match end {
            0 => events.push(StreamEvent::Done),
            1 => events.push(StreamEvent::Error(ApiError::new(ErrorClass::Server, "x"))),
            _ => {}
        }
        let frames = encode(&events);
        assert_grammar(&frames, "prop");
        if end == 0 {
            let last = frames.last().map(|(k, _)| k.as_str());
            prop_assert!(matches!(last, Some("response.completed" | "response.incomplete")));
        }
    }

    #[test]
    fn decoder_never_panics_and_always_terminates(events in proptest::collection::vec(arb_sse(), 0..20)) {
        let mut d = ResponsesStreamDecoder::new();
        let mut out = Vec::new();
        for e in &events {
            d.decode(e, &mut out);
        }
        d.finish(&mut out);
        let terminals = out.iter().filter(|e| matches!(e, StreamEvent::Done | StreamEvent::Error(_))).count();
        prop_assert_eq!(terminals, 1);
        prop_assert!(matches!(out.last(), Some(StreamEvent::Done | StreamEvent::Error(_))));
        // Whatever the upstream sent, the re-encoded stream keeps the grammar.
        assert_grammar(&encode(&out), "decoded");
    }

    #[test]
    fn parsers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), text in ".{0,200}") {
        let _ = responses_request_to_ir(&body);
        let _ = responses_request_to_ir(text.as_bytes());
        let _ = responses_response_to_ir(&body);
        let _ = responses_response_to_ir(text.as_bytes());
    }
}

#[test]
fn encoder_and_decoder_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ResponsesStreamEncoder>();
    check::<ResponsesStreamDecoder>();
}
