//! Unit tests for the Chat ⇄ hub conversions, one per table row where the table has rows.

use super::chat_request::*;
use super::chat_response::*;
use super::chat_stream::*;
use super::chat_types::*;
use crate::protocol::ir::*;
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use bytes::BytesMut;
use serde_json::json;

fn ir(body: serde_json::Value) -> Request {
    chat_request_to_ir(body.to_string().as_bytes()).unwrap()
}

#[test]
fn zero_values_and_stop_string_survive() {
    let r = ir(
        json!({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0,"top_p":0,"parallel_tool_calls":false,"stop":"END","seed":0}),
    );
    assert_eq!((r.temperature, r.top_p, r.parallel_tool_calls, r.seed), (Some(0.0), Some(0.0), Some(false), Some(0)));
    assert_eq!(r.stop, vec!["END".to_string()]);
    let back: serde_json::Value = serde_json::from_slice(&ir_to_chat_request(&r).unwrap().value).unwrap();
    assert_eq!(
        (back["temperature"].clone(), back["top_p"].clone(), back["parallel_tool_calls"].clone()),
        (json!(0.0), json!(0.0), json!(false))
    );
}

#[test]
fn tool_choice_rows_round_trip() {
    let rows = [
        (json!("auto"), ToolChoice::Auto),
        (json!("none"), ToolChoice::None),
        (json!("required"), ToolChoice::Required),
        (json!({"type":"function","function":{"name":"x"}}), ToolChoice::Tool("x".into())),
        (
            json!({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"a"}}]}}),
            ToolChoice::Allowed { names: vec!["a".into()], required: true },
        ),
    ];
    for (wire, want) in rows {
        let r = ir(json!({"model":"m","messages":[],"tool_choice":wire.clone()}));
        assert_eq!(r.tool_choice.as_ref(), Some(&want));
        let back = ir_to_chat(&r).unwrap().value;
        assert_eq!(back.tool_choice, Some(wire));
    }
    let bad = chat_request_to_ir(br#"{"model":"m","messages":[],"tool_choice":"sometimes"}"#).unwrap_err();
    assert_eq!(bad.param.as_deref(), Some("tool_choice"));
}

#[test]
fn system_messages_leading_and_late() {
    let r = ir(json!({"model":"m","messages":[
        {"role":"system","content":"a"},{"role":"developer","content":[{"type":"text","text":"b"}]},
        {"role":"user","content":"u"},{"role":"system","content":"late"}]}));
    assert_eq!(r.system.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(r.turns[1], Turn::new(Role::System, vec![Part::text("late")]));
}

#[test]
fn tool_results_group_and_recover_names() {
    let r = ir(json!({"model":"m","messages":[
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},
            {"id":"c2","type":"function","function":{"name":"g","arguments":"not json"}}]},
        {"role":"tool","tool_call_id":"c1","content":"1"},
        {"role":"tool","tool_call_id":"c2","content":"2"}]}));
    assert_eq!(r.turns.len(), 2);
    assert!(matches!(&r.turns[0].parts[1], Part::ToolUse { input, .. } if input == &json!({"_raw_arguments":"not json"})));
    let names: Vec<_> = r.turns[1]
        .parts
        .iter()
        .map(|p| match p {
            Part::ToolResult { name, .. } => name.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(names, [Some("f".to_string()), Some("g".to_string())]);
    // Back to chat: the raw text is sent as it came.
    let back = ir_to_chat(&r).unwrap().value;
    let ChatMessage::Assistant { tool_calls: Some(calls), .. } = &back.messages[0] else { panic!() };
    assert_eq!(calls[1].function.arguments, "not json");
}

#[test]
fn refusals_name_the_field() {
    let e = chat_request_to_ir(br#"{"model":"m","messages":[{"role":"function","name":"f","content":"x"}]}"#).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    let e = chat_request_to_ir(br#"{"model":"m","messages":[],"reasoning_effort":"huge"}"#).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("reasoning_effort"));
    let e = chat_request_to_ir(br#"{"model":"m","messages":[],"tools":[{"type":"custom","custom":{}}]}"#).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("tools[0].type"));
    let e = chat_request_to_ir(br#"{"model":"m","messages":[{"role":"user","content":5}]}"#).unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.param.unwrap().starts_with("messages[0]"));
}

#[test]
fn reasoning_effort_rows() {
    assert_eq!(ir(json!({"model":"m","messages":[],"reasoning_effort":"none"})).reasoning, Some(Reasoning::Off));
    assert_eq!(
        ir(json!({"model":"m","messages":[],"reasoning_effort":"xhigh"})).reasoning,
        Some(Reasoning::Effort(Effort::XHigh))
    );
}

#[test]
fn finish_reason_rows() {
    for (chat, hub) in [
        ("stop", FinishReason::Stop),
        ("length", FinishReason::Length),
        ("tool_calls", FinishReason::ToolCalls),
        ("content_filter", FinishReason::ContentFilter),
    ] {
        assert_eq!(finish_from_chat(chat), hub);
        assert_eq!(finish_to_chat(&hub), chat);
    }
    assert_eq!(finish_from_chat("function_call"), FinishReason::ToolCalls);
    assert_eq!(finish_to_chat(&FinishReason::Other("pause_turn".into())), "stop");
}

#[test]
fn usage_rows() {
    let u = usage_from_chat(&ChatUsage {
        prompt_tokens: 100,
        completion_tokens: 50,
        total_tokens: 150,
        prompt_tokens_details: Some(PromptTokensDetails { cached_tokens: Some(30), cache_write_tokens: Some(10) }),
        completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: Some(20) }),
    });
    assert_eq!(
        u,
        Usage {
            in_base: 60,
            in_cache_read: 30,
            in_cache_write_other: 10,
            out_total: 50,
            out_reasoning: 20,
            ..Default::default()
        }
    );
    let back = usage_to_chat(&u);
    assert_eq!((back.prompt_tokens, back.completion_tokens, back.total_tokens), (100, 50, 150));
}

#[test]
fn ir_to_chat_moves_tool_result_images_to_a_user_turn() {
    let mut r = Request { model: "m".into(), ..Default::default() };
    r.turns.push(Turn::new(
        Role::Tool,
        vec![Part::ToolResult {
            tool_use_id: "t".into(),
            name: None,
            content: vec![Part::text("see"), Part::Image { source: ImageSource::Url("https://x/i.png".into()) }],
            is_error: false,
        }],
    ));
    let out = ir_to_chat(&r).unwrap().value;
    assert_eq!(out.messages.len(), 2);
    assert!(matches!(&out.messages[1], ChatMessage::User { content: ChatContent::Parts(p), .. } if p.len() == 2));
}

#[test]
fn foreign_extra_fields_are_refused_or_dropped() {
    let mut r = Request { model: "m".into(), ..Default::default() };
    r.extra.source = Some(Protocol::Anthropic);
    r.extra.fields.insert("service_tier".into(), json!("auto"));
    let c = ir_to_chat(&r).unwrap();
    assert!(c.value.extra.is_empty());
    assert!(matches!(&c.warnings[0], Warning::FieldDropped { field, .. } if field == "service_tier"));
    r.extra.answer_changing.push("service_tier".into());
    assert_eq!(ir_to_chat(&r).unwrap_err().param.as_deref(), Some("service_tier"));
    // Same protocol: passed back verbatim.
    let same = ir(json!({"model":"m","messages":[],"logit_bias":{"1":-100}}));
    assert_eq!(ir_to_chat(&same).unwrap().value.extra.get("logit_bias"), Some(&json!({"1":-100})));
}

#[test]
fn chat_decoder_reports_usage_and_finish_without_done_is_complete() {
    let mut conv =
        StreamConverter::new(ChatStreamDecoder::new(), ChatStreamEncoder::new("pub", false, &ConvertOptions::default()));
    let mut out = BytesMut::new();
    conv.feed(&SseEvent::data(r#"{"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}"#), &mut out)
        .unwrap();
    conv.feed(&SseEvent::data(r#"{"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#), &mut out)
        .unwrap();
    assert_eq!(conv.usage().map(|u| u.out_total), Some(1));
    assert_eq!(conv.finish(&mut out), Ok(Flow::Done));
    let text = String::from_utf8(out.to_vec()).unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert!(!text.contains("\"usage\""), "usage chunk only when asked");
}

#[test]
fn chat_encoder_captures_signatures_for_the_store() {
    let mut enc = ChatStreamEncoder::new("pub", false, &ConvertOptions::default());
    let mut out = BytesMut::new();
    for e in [
        StreamEvent::BlockStart { index: 0, kind: BlockKind::Thinking },
        StreamEvent::ThinkingDelta { index: 0, text: "t".into() },
        StreamEvent::SignatureDelta { index: 0, signature: "s1".into() },
        StreamEvent::SignatureDelta { index: 0, signature: "s2".into() },
        StreamEvent::BlockStart { index: 1, kind: BlockKind::RedactedThinking { data: "r".into() } },
    ] {
        enc.encode(&e, &mut out);
    }
    let got = enc.captured_thinking();
    assert_eq!((got[0].text.as_str(), got[0].signature.as_deref()), ("t", Some("s2")));
    assert!(got[1].redacted);
    // The first frame is the role delta (trap #29).
    assert!(String::from_utf8_lossy(&out).starts_with("data: {\"id\":\"\",\"object\":\"chat.completion.chunk\""));
    assert!(String::from_utf8_lossy(&out).contains("\"delta\":{\"role\":\"assistant\",\"content\":\"\"}"));
}

#[test]
fn chat_response_without_choices_is_a_502() {
    assert_eq!(chat_response_to_ir(br#"{"id":"x","choices":[]}"#).unwrap_err().status, 502);
    assert_eq!(chat_response_to_ir(b"nope").unwrap_err().status, 502);
}
