//! Property tests: the converters never panic on arbitrary input, and a Gemini request survives
//! Gemini → hub → Gemini with its text, tools and generation settings intact.

use super::types::*;
use super::*;
use crate::protocol::ir::{self, BlockKind, FinishReason, StreamConverter, StreamEvent};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const KEYS: &[&str] = &[
    "contents",
    "role",
    "parts",
    "text",
    "thought",
    "thoughtSignature",
    "inlineData",
    "mimeType",
    "data",
    "fileData",
    "fileUri",
    "functionCall",
    "functionResponse",
    "name",
    "id",
    "args",
    "response",
    "output",
    "error",
    "tools",
    "functionDeclarations",
    "parametersJsonSchema",
    "parameters",
    "toolConfig",
    "functionCallingConfig",
    "mode",
    "allowedFunctionNames",
    "generationConfig",
    "thinkingConfig",
    "thinkingBudget",
    "thinkingLevel",
    "candidates",
    "content",
    "finishReason",
    "index",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "code",
    "message",
    "status",
    "responseId",
    "systemInstruction",
    "promptFeedback",
    "blockReason",
];

const WORDS: &[&str] = &[
    "user",
    "model",
    "STOP",
    "MAX_TOKENS",
    "ANY",
    "AUTO",
    "image/png",
    "text/plain",
    "get",
    "files/a",
    "https://x/y.png",
    "aGk=",
    "",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-zA-Z0-9_ ]{0,6}".prop_map(Value::String),
        proptest::sample::select(WORDS).prop_map(|w| Value::String(w.into())),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// A Gemini-shaped part, so the converters' inner paths are reached, not just serde's errors.
fn arb_part() -> impl Strategy<Value = Value> {
    let sig = proptest::option::of("[A-Za-z0-9+/=]{1,8}");
    prop_oneof![
        ("[a-z ]{0,6}", any::<Option<bool>>(), sig.clone())
            .prop_map(|(t, th, s)| json!({"text": t, "thought": th, "thoughtSignature": s})),
        (proptest::option::of("[a-z0-9_]{1,4}"), "[a-z]{1,3}", sig.clone())
            .prop_map(|(id, n, s)| json!({"functionCall": {"id": id, "name": n, "args": {"a": 1}}, "thoughtSignature": s})),
        (proptest::option::of("[a-z0-9_]{1,4}"), "[a-z]{1,3}", arb_json())
            .prop_map(|(id, n, r)| json!({"functionResponse": {"id": id, "name": n, "response": r}})),
        proptest::sample::select(&["image/png", "audio/mp3", "text/plain", "application/pdf"][..])
            .prop_map(|m| json!({"inlineData": {"mimeType": m, "data": "aGk="}})),
        Just(json!({"fileData": {"fileUri": "https://x/y.png", "mimeType": "image/png"}})),
        Just(json!({"executableCode": {"code": "1"}})),
        sig.prop_map(|s| json!({"thoughtSignature": s})),
    ]
}

fn arb_contents() -> impl Strategy<Value = Value> {
    proptest::collection::vec(
        (proptest::sample::select(&["user", "model", "function", "x"][..]), proptest::collection::vec(arb_part(), 0..4)),
        0..6,
    )
    .prop_map(|cs| Value::Array(cs.into_iter().map(|(r, ps)| json!({"role": r, "parts": ps})).collect()))
}

fn arb_chunk() -> impl Strategy<Value = Value> {
    prop_oneof![
        (proptest::collection::vec(arb_part(), 0..3), proptest::option::of(proptest::sample::select(&["STOP", "MAX_TOKENS", "SAFETY", "OTHER"][..])), proptest::option::of(0u64..100))
            .prop_map(|(ps, f, p)| json!({"candidates": [{"content": {"role": "model", "parts": ps}, "finishReason": f}], "usageMetadata": {"promptTokenCount": p}, "responseId": "r"})),
        Just(json!({"error": {"code": 503, "message": "x", "status": "UNAVAILABLE"}})),
        Just(json!({"promptFeedback": {"blockReason": "SAFETY"}})),
        arb_json(),
    ]
}

fn arb_event() -> impl Strategy<Value = StreamEvent> {
    let idx = 0usize..4;
    prop_oneof![
        Just(StreamEvent::MessageStart { id: "m".into(), model: "x".into(), usage: None }),
        (idx.clone(), 0u8..4).prop_map(|(index, k)| StreamEvent::BlockStart {
            index,
            kind: match k {
                0 => BlockKind::Text,
                1 => BlockKind::Thinking,
                2 => BlockKind::RedactedThinking { data: "d".into() },
                _ => BlockKind::ToolUse { id: "t".into(), name: "f".into() },
            }
        }),
        (idx.clone(), "[a-z{}\":]{0,5}").prop_map(|(index, text)| StreamEvent::TextDelta { index, text }),
        (idx.clone(), "[a-z]{0,5}").prop_map(|(index, text)| StreamEvent::ThinkingDelta { index, text }),
        (idx.clone(), "[A-Z]{1,5}").prop_map(|(index, signature)| StreamEvent::SignatureDelta { index, signature }),
        (idx.clone(), "[a-z{}\":1]{0,5}").prop_map(|(index, partial_json)| StreamEvent::ToolArgsDelta { index, partial_json }),
        idx.prop_map(|index| StreamEvent::BlockStop { index }),
        Just(StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None }),
        (0u64..50, 0u64..50).prop_map(|(a, b)| StreamEvent::Usage(Usage {
            in_base: a,
            out_total: b,
            out_reasoning: b / 2,
            ..Default::default()
        })),
        Just(StreamEvent::Done),
    ]
}

fn arb_generation() -> impl Strategy<Value = GenerationConfig> {
    let f = || proptest::option::of((0u32..2000).prop_map(|n| f64::from(n) / 1000.0));
    let thinking = proptest::option::of(
        (
            prop_oneof![Just(Some(0i64)), Just(Some(-1)), (1i64..30000).prop_map(Some), Just(None)],
            any::<Option<bool>>(),
            proptest::option::of(proptest::sample::select(&["LOW", "HIGH", "MINIMAL"][..])),
        )
            .prop_map(|(b, inc, lvl)| ThinkingConfig {
                thinking_budget: b,
                include_thoughts: inc,
                // A level alongside a non-zero budget is refused by Gemini; keep valid requests only.
                thinking_level: if b.is_some() { None } else { lvl.map(str::to_owned) },
                ..Default::default()
            })
            .prop_filter("a config that says something", |t| t.thinking_budget.is_some() || t.thinking_level.is_some()),
    );
    (
        (
            f(),
            f(),
            proptest::option::of((0u32..100).prop_map(f64::from)),
            proptest::option::of(1u32..4),
            proptest::option::of(1u32..9000),
        ),
        (
            proptest::option::of(proptest::collection::vec("[A-Z]{1,4}", 1..3)),
            proptest::option::of(any::<i32>().prop_map(i64::from)),
            f(),
            f(),
        ),
        (any::<Option<bool>>(), proptest::option::of(0u32..5), thinking),
    )
        .prop_map(
            |(
                (temperature, top_p, top_k, candidate_count, max_output_tokens),
                (stop_sequences, seed, presence_penalty, frequency_penalty),
                (response_logprobs, logprobs, thinking_config),
            )| {
                GenerationConfig {
                    temperature,
                    top_p,
                    top_k,
                    candidate_count,
                    max_output_tokens,
                    stop_sequences,
                    seed,
                    presence_penalty,
                    frequency_penalty,
                    response_logprobs,
                    logprobs,
                    thinking_config,
                    ..Default::default()
                }
            },
        )
}

fn arb_request() -> impl Strategy<Value = GenerateContentRequest> {
    let texts = proptest::collection::vec(proptest::collection::vec("[a-zA-Z ,.]{1,12}", 1..3), 1..5);
    let decls = proptest::collection::vec(
        ("[a-z_]{1,8}", proptest::option::of("[a-z ]{1,10}"), proptest::collection::vec("[a-z]{1,5}", 0..3)),
        0..3,
    );
    (texts, decls, proptest::option::of(arb_generation()), proptest::collection::vec("[a-z ]{1,8}", 0..2)).prop_map(|(turns, decls, gc, system)| {
        GenerateContentRequest {
            // Alternating roles: consecutive same-role contents would (correctly) be merged.
            contents: turns
                .into_iter()
                .enumerate()
                .map(|(i, ts)| Content {
                    role: Some(if i % 2 == 0 { "user" } else { "model" }.into()),
                    parts: ts.into_iter().map(Part::text).collect(),
                })
                .collect(),
            system_instruction: (!system.is_empty()).then(|| Content { role: None, parts: system.into_iter().map(Part::text).collect() }),
            tools: (!decls.is_empty()).then(|| {
                vec![Tool {
                    function_declarations: Some(
                        decls
                            .into_iter()
                            .map(|(name, description, props)| FunctionDeclaration {
                                name,
                                description,
                                parameters_json_schema: Some(json!({
                                    "type": "object",
                                    "properties": props.iter().map(|p| (p.clone(), json!({"type": "string"}))).collect::<Map<_, _>>(),
                                })),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    extra: Map::new(),
                }]
            }),
            generation_config: gc,
            ..Default::default()
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_conversion_never_panics(v in arb_json(), contents in arb_contents()) {
        let _ = request_to_ir(v.to_string().as_bytes(), "m", false);
        let _ = count_tokens::count_tokens_request_to_ir(v.to_string().as_bytes(), "m");
        if let Ok(ir) = request_to_ir(json!({"contents": contents}).to_string().as_bytes(), "m", true) {
            // Whatever the hub accepted, the way back either renders or refuses with a 4xx.
            match ir_to_request(&ir) {
                Ok(_) => {}
                Err(e) => prop_assert!((400..500).contains(&e.status), "{e:?}"),
            }
        }
    }

    #[test]
    fn response_conversion_never_panics(v in arb_json(), parts in proptest::collection::vec(arb_part(), 0..5)) {
        let _ = response_to_ir(v.to_string().as_bytes());
        let body = json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]});
        if let Ok(r) = response_to_ir(body.to_string().as_bytes()) {
            let _ = ir_to_response(&r, true);
        }
    }

    #[test]
    fn stream_conversion_never_panics(chunks in proptest::collection::vec(arb_chunk(), 0..8)) {
        let mut conv = StreamConverter::new(GeminiStreamDecoder::new(), GeminiStreamEncoder::new(true));
        let mut out = BytesMut::new();
        for c in &chunks {
            let _ = conv.feed(&SseEvent::data(c.to_string()), &mut out);
        }
        let end = conv.finish(&mut out);
        prop_assert!(conv.is_ended());
        // Every frame is `data: <json>`.
        for e in crate::protocol::sse::SseDecoder::new().feed(&out) {
            prop_assert!(serde_json::from_str::<Value>(&e.data).is_ok());
        }
        let _ = end;
    }

    #[test]
    fn encoder_never_panics_on_any_event_order(events in proptest::collection::vec(arb_event(), 0..20), thoughts in any::<bool>()) {
        let mut enc = GeminiStreamEncoder::new(thoughts);
        let mut out = BytesMut::new();
        for e in &events {
            ir::StreamEncoder::encode(&mut enc, e, &mut out);
        }
        for e in crate::protocol::sse::SseDecoder::new().feed(&out) {
            prop_assert!(serde_json::from_str::<GenerateContentResponse>(&e.data).is_ok());
        }
    }

    #[test]
    fn gemini_request_round_trips_through_the_hub(req in arb_request()) {
        let body = serde_json::to_vec(&req).unwrap();
        let ir = request_to_ir(&body, "models/gemini-2.5-pro", false).unwrap();
        let back = ir_to_gemini(&ir).unwrap().value;
        prop_assert_eq!(&back.contents, &req.contents);
        prop_assert_eq!(&back.system_instruction, &req.system_instruction);
        prop_assert_eq!(&back.tools, &req.tools);
        // An empty `generationConfig: {}` says nothing and is (rightly) not sent back.
        prop_assert_eq!(back.generation_config.unwrap_or_default(), req.generation_config.clone().unwrap_or_default());
    }
}
