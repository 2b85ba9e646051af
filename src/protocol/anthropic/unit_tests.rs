//! Unit tests for the Anthropic ⇄ hub conversions, one per table row where the table has rows.

use super::request::*;
use super::response::*;
use super::types::*;
use crate::protocol::ir::*;
use crate::protocol::usage::Usage;
use serde_json::json;

fn base() -> Request {
    Request {
        model: "m".into(),
        turns: vec![Turn::new(Role::User, vec![Part::text("hi")])],
        max_output_tokens: Some(2000),
        ..Default::default()
    }
}

fn to_msg(r: &Request) -> Converted<MessagesRequest> {
    ir_to_messages(r, &ConvertOptions::default()).unwrap()
}

#[test]
fn tool_choice_rows() {
    let mut r = base();
    r.tools.push(crate::protocol::ir::Tool {
        name: "x".into(),
        description: None,
        schema: json!({"type":"object"}),
        strict: None,
        cache: None,
    });
    let rows = [
        (ToolChoice::Auto, "auto", None),
        (ToolChoice::None, "none", None),
        (ToolChoice::Required, "any", None),
        (ToolChoice::Tool("x".into()), "tool", Some("x")),
        (ToolChoice::Allowed { names: vec!["x".into()], required: false }, "auto", None),
        (ToolChoice::Allowed { names: vec!["x".into()], required: true }, "any", None),
    ];
    for (choice, kind, name) in rows {
        r.tool_choice = Some(choice);
        let tc = to_msg(&r).value.tool_choice.unwrap();
        assert_eq!((tc.kind.as_str(), tc.name.as_deref()), (kind, name));
    }
    r.tool_choice = None;
    r.parallel_tool_calls = Some(false);
    let tc = to_msg(&r).value.tool_choice.unwrap();
    assert_eq!((tc.kind.as_str(), tc.disable_parallel_tool_use), ("auto", Some(true)));
}

#[test]
fn allowed_tools_send_only_those_tools() {
    let mut r = base();
    for n in ["a", "b"] {
        r.tools.push(crate::protocol::ir::Tool {
            name: n.into(),
            description: None,
            schema: json!({}),
            strict: None,
            cache: None,
        });
    }
    r.tool_choice = Some(ToolChoice::Allowed { names: vec!["b".into()], required: true });
    let m = to_msg(&r).value;
    let tools = m.tools.unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].input_schema, Some(json!({"type":"object"})));
}

#[test]
fn temperature_is_clamped_and_logged() {
    let mut r = base();
    r.temperature = Some(1.7);
    let c = to_msg(&r);
    assert_eq!(c.value.temperature, Some(1.0));
    assert!(c.warnings.contains(&Warning::TemperatureClamped { from: 1.7, to: 1.0 }));
}

#[test]
fn new_api_version_drops_sampling_fields() {
    let mut r = base();
    r.temperature = Some(0.0);
    r.top_k = Some(3);
    let opts = ConvertOptions { anthropic_version: "2026-10-21".into(), ..Default::default() };
    let c = ir_to_messages(&r, &opts).unwrap();
    assert_eq!((c.value.temperature, c.value.top_k), (None, None));
    assert_eq!(c.warnings.len(), 2);
}

#[test]
fn missing_max_tokens_uses_the_default_above_the_budget() {
    let mut r = base();
    r.max_output_tokens = None;
    r.reasoning = Some(Reasoning::Effort(Effort::Medium));
    let opts = ConvertOptions { default_max_tokens: 8000, ..Default::default() };
    let c = ir_to_messages(&r, &opts).unwrap();
    assert_eq!(c.value.max_tokens, Some(8000));
    assert_eq!(c.value.thinking.unwrap().budget_tokens, Some(3200));
    assert!(c.warnings.contains(&Warning::MaxTokensDefaulted(8000)));
}

#[test]
fn thinking_budget_rules() {
    let mut r = base();
    r.reasoning = Some(Reasoning::Budget(100));
    let c = to_msg(&r);
    assert_eq!(c.value.thinking.unwrap().budget_tokens, Some(1024));
    assert_eq!(c.warnings, vec![Warning::ThinkingBudgetRaised { from: 100, to: 1024 }]);
    // A budget at or above max_tokens raises max_tokens; the budget is kept as sent.
    r.reasoning = Some(Reasoning::Budget(5000));
    let c = to_msg(&r);
    assert_eq!((c.value.thinking.unwrap().budget_tokens, c.value.max_tokens), (Some(5000), Some(5000 + ANSWER_ROOM)));
    assert_eq!(c.warnings, vec![Warning::MaxTokensRaised { from: 2000, to: 5000 + ANSWER_ROOM }]);
    assert_eq!(c.warnings[0].code(), "max_tokens_raised");
    // An effort still fits under a small max_tokens, or switches thinking off.
    r.max_output_tokens = Some(1000);
    r.reasoning = Some(Reasoning::Effort(Effort::High));
    let c = to_msg(&r);
    assert!(c.value.thinking.is_none());
    assert!(matches!(c.warnings[0], Warning::ThinkingDisabled(_)));
    r.reasoning = Some(Reasoning::Off);
    assert_eq!(to_msg(&r).value.thinking.unwrap().kind, "disabled");
    r.reasoning = Some(Reasoning::Adaptive(Some(Effort::XHigh)));
    let m = to_msg(&r).value;
    assert_eq!((m.thinking.unwrap().kind.as_str(), m.output_config.unwrap().effort.as_deref()), ("adaptive", Some("max")));
}

#[test]
fn the_models_ceiling_caps_a_raised_max_tokens_or_refuses_the_budget() {
    let mut r = base();
    r.reasoning = Some(Reasoning::Budget(8000));
    let opts = ConvertOptions::for_model(Some(8500), &[]);
    let c = ir_to_messages(&r, &opts).unwrap();
    assert_eq!((c.value.max_tokens, c.value.thinking.unwrap().budget_tokens), (Some(8500), Some(8000)));
    let opts = ConvertOptions::for_model(Some(8000), &[]);
    let e = ir_to_messages(&r, &opts).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, Some("thinking")));
    // No client max_tokens: the model's own ceiling is the default, above the budget.
    r.max_output_tokens = None;
    let opts = ConvertOptions::for_model(Some(32000), &[]);
    let c = ir_to_messages(&r, &opts).unwrap();
    assert_eq!(c.value.max_tokens, Some(32000));
    assert_eq!(c.warnings, vec![Warning::MaxTokensDefaulted(32000)]);
}

#[test]
fn whitespace_only_text_is_never_sent() {
    let mut r = base();
    r.system.push(SystemBlock { text: " \n".into(), cache: None });
    r.turns = vec![
        Turn::new(Role::User, vec![Part::text("  "), Part::text("hi")]),
        Turn::new(Role::Assistant, vec![Part::text("\n\n")]),
        Turn::new(Role::User, vec![Part::text("more")]),
    ];
    let c = to_msg(&r);
    assert!(c.value.system.is_none());
    // The blank assistant message is left out and the user turns around it merge.
    assert_eq!(c.value.messages.len(), 1);
    let MessageContent::Blocks(b) = &c.value.messages[0].content else { panic!("blocks") };
    let texts: Vec<_> = b
        .iter()
        .map(|b| match b {
            ContentBlock::Text { text, .. } => text.as_str(),
            _ => "?",
        })
        .collect();
    assert_eq!(texts, vec!["hi", "more"]);
    let fields: Vec<_> = c.warnings.iter().map(|w| (w.code(), w.field().unwrap_or_default().to_owned())).collect();
    assert_eq!(
        fields,
        vec![
            ("whitespace_text_dropped", "messages[0].content[0]".to_owned()),
            ("whitespace_text_dropped", "messages[1].content[0]".to_owned()),
        ]
    );
}

#[test]
fn refused_and_version_dropped_sampling_fields_are_warned_by_name() {
    let mut r = base();
    r.seed = Some(7);
    r.top_p = Some(0.5);
    let opts = ConvertOptions { anthropic_version: "2026-10-21".into(), ..Default::default() };
    let c = ir_to_messages(&r, &opts).unwrap();
    let fields: Vec<_> = c.warnings.iter().filter_map(Warning::field).collect();
    assert_eq!(fields, vec!["top_p", "seed"]);
}

#[test]
fn anthropic_clients_see_msg_ids_and_the_raw_stop_reason_is_kept() {
    let body = br#"{"id":"msg_01X","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#;
    let r = anthropic_response_to_ir(body).unwrap();
    assert_eq!(r.raw_finish_reason.as_deref(), Some("end_turn"));
    let mut foreign = r.clone();
    foreign.id = "chatcmpl-abc".into();
    let out: serde_json::Value = serde_json::from_slice(&ir_to_anthropic_response(&foreign)).unwrap();
    assert_eq!(out["id"], "msg_chatcmpl-abc");
    let out: serde_json::Value = serde_json::from_slice(&ir_to_anthropic_response(&r)).unwrap();
    assert_eq!(out["id"], "msg_01X", "an Anthropic id is kept byte-exact");
}

#[test]
fn thinking_off_when_tool_history_lacks_signature_and_kept_when_signed() {
    let mut r = base();
    r.reasoning = Some(Reasoning::Budget(1500));
    r.turns
        .push(Turn::new(Role::Assistant, vec![Part::ToolUse { id: "t1".into(), name: "f".into(), input: json!({}) }]));
    r.turns.push(Turn::new(
        Role::Tool,
        vec![Part::ToolResult { tool_use_id: "t1".into(), name: None, content: vec![Part::text("ok")], is_error: false }],
    ));
    let c = to_msg(&r);
    assert!(c.value.thinking.is_none());
    assert!(matches!(c.warnings[0], Warning::ThinkingDisabled(_)));
    r.turns[1].parts.insert(0, Part::Thinking { text: "why".into(), signature: Some("sig".into()) });
    let m = to_msg(&r).value;
    assert!(m.thinking.is_some());
    let MessageContent::Blocks(b) = &m.messages[1].content else { panic!() };
    assert_eq!(b[0], ContentBlock::Thinking { thinking: "why".into(), signature: "sig".into() });
}

#[test]
fn json_object_becomes_a_system_instruction() {
    let mut r = base();
    r.response_format = Some(ResponseFormat::JsonObject);
    let Some(SystemField::Blocks(b)) = to_msg(&r).value.system else { panic!() };
    assert_eq!(b.last(), Some(&ContentBlock::Text { text: JSON_OBJECT_INSTRUCTION.into(), cache_control: None }));
}

#[test]
fn refusals_name_the_field() {
    let mut r = base();
    r.logprobs = Some(true);
    assert_eq!(ir_to_messages(&r, &ConvertOptions::default()).unwrap_err().param.as_deref(), Some("logprobs"));
    let mut r = base();
    r.turns[0]
        .parts
        .push(Part::Image { source: ImageSource::Base64 { media_type: "image/tiff".into(), data: "x".into() } });
    assert_eq!(ir_to_messages(&r, &ConvertOptions::default()).unwrap_err().param.as_deref(), Some("messages[0].content[1]"));
    let e = anthropic_request_to_ir(br#"{"model":"m","messages":[{"role":"user","content":[{"type":"search_result","x":1}]}]}"#)
        .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("messages[0].content[0]"));
}

#[test]
fn anthropic_request_splits_tool_results_and_keeps_signatures() {
    let r = anthropic_request_to_ir(
        br#"{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},"output_config":{"effort":"low"},"messages":[
        {"role":"assistant","content":[{"type":"thinking","thinking":"a","signature":"S/+="},{"type":"tool_use","id":"t","name":"f","input":{}}]},
        {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"r"},{"type":"text","text":"next","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}"#,
    )
    .unwrap();
    assert_eq!(r.reasoning, Some(Reasoning::Adaptive(Some(Effort::Low))));
    assert_eq!(r.turns.iter().map(|t| t.role).collect::<Vec<_>>(), [Role::Assistant, Role::Tool, Role::User]);
    assert_eq!(r.turns[0].parts[0], Part::Thinking { text: "a".into(), signature: Some("S/+=".into()) });
    assert!(matches!(&r.turns[1].parts[0], Part::ToolResult { name: Some(n), .. } if n == "f"));
    assert_eq!(r.turns[2].cache, Some(CacheHint { ttl: Some("1h".into()) }));
    // And back to Anthropic: one user turn, results first, cache hint on the last block.
    let m = to_msg(&r).value;
    assert_eq!(m.messages.len(), 2);
    let MessageContent::Blocks(b) = &m.messages[1].content else { panic!() };
    assert!(matches!(b[0], ContentBlock::ToolResult { .. }));
    assert!(matches!(&b[1], ContentBlock::Text { cache_control: Some(c), .. } if c.ttl.as_deref() == Some("1h")));
}

#[test]
fn stop_reason_rows() {
    let rows = [
        ("end_turn", FinishReason::Stop, "stop"),
        ("stop_sequence", FinishReason::Stop, "stop"),
        ("max_tokens", FinishReason::Length, "length"),
        ("model_context_window_exceeded", FinishReason::Length, "length"),
        ("tool_use", FinishReason::ToolCalls, "tool_calls"),
        ("refusal", FinishReason::ContentFilter, "content_filter"),
        ("pause_turn", FinishReason::Other("pause_turn".into()), "stop"),
    ];
    for (a, hub, chat) in rows {
        assert_eq!(finish_from_anthropic(a), hub, "{a}");
        assert_eq!(crate::protocol::openai::chat_response::finish_to_chat(&hub), chat, "{a}");
    }
    assert_eq!(finish_to_anthropic(&FinishReason::Stop, Some("END")), "stop_sequence");
    assert_eq!(finish_to_anthropic(&FinishReason::Stop, None), "end_turn");
    assert_eq!(finish_to_anthropic(&FinishReason::ContentFilter, None), "refusal");
    assert_eq!(finish_to_anthropic(&FinishReason::Other("OTHER".into()), None), "end_turn");
}

#[test]
fn usage_rows() {
    // No split: every write is 5m (trap #9).
    let u = usage_from_anthropic(&AnthropicUsage {
        input_tokens: Some(3),
        cache_creation_input_tokens: Some(100),
        cache_read_input_tokens: Some(7),
        cache_creation: None,
        output_tokens: Some(9),
        output_tokens_details: None,
    });
    assert_eq!(u, Usage { in_base: 3, in_cache_read: 7, in_cache_write_5m: 100, out_total: 9, ..Default::default() });
    // Split: 1h kept apart; totals match the Chat view (§5 item 19).
    let u = usage_from_anthropic(&AnthropicUsage {
        input_tokens: Some(3),
        cache_creation_input_tokens: Some(12304),
        cache_read_input_tokens: Some(0),
        cache_creation: Some(CacheCreation { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 12304 }),
        output_tokens: Some(550),
        output_tokens_details: None,
    });
    assert_eq!((u.in_cache_write_1h, u.input_total()), (12304, 12307));
    let back = usage_to_anthropic(&u);
    assert_eq!((back.input_tokens, back.cache_creation_input_tokens), (Some(3), Some(12304)));
    // Gemini-style tool-use tokens count as Anthropic input.
    let g = Usage { in_base: 200, in_cache_read: 800, in_tool_use: 5, out_total: 250, ..Default::default() };
    assert_eq!(usage_to_anthropic(&g).input_tokens, Some(205));
}

#[test]
fn stream_usage_merges_last_value_per_field() {
    let mut running = AnthropicUsage { input_tokens: Some(25), output_tokens: Some(1), ..Default::default() };
    merge_usage(&mut running, &AnthropicUsage { output_tokens: Some(10), ..Default::default() });
    merge_usage(&mut running, &AnthropicUsage { output_tokens: Some(25), ..Default::default() });
    assert_eq!((running.input_tokens, running.output_tokens), (Some(25), Some(25)));
}

#[test]
fn thinking_tokens_become_reasoning_usage_whole_and_streamed() {
    let whole: AnthropicUsage =
        serde_json::from_str(r#"{"input_tokens":5,"output_tokens":40,"output_tokens_details":{"thinking_tokens":30}}"#).unwrap();
    let u = usage_from_anthropic(&whole);
    assert_eq!((u.out_total, u.out_reasoning), (40, 30));
    let mut running: AnthropicUsage = serde_json::from_str(r#"{"input_tokens":5,"output_tokens":1}"#).unwrap();
    let delta: AnthropicUsage =
        serde_json::from_str(r#"{"output_tokens":50,"output_tokens_details":{"thinking_tokens":35}}"#).unwrap();
    merge_usage(&mut running, &delta);
    assert_eq!(usage_from_anthropic(&running).out_reasoning, 35);
    // Never more reasoning than output, whatever the upstream claims.
    let odd: AnthropicUsage =
        serde_json::from_str(r#"{"output_tokens":3,"output_tokens_details":{"thinking_tokens":9}}"#).unwrap();
    assert_eq!(usage_from_anthropic(&odd).out_reasoning, 3);
}

#[test]
fn response_round_trip_keeps_signatures_byte_exact() {
    let body = br#"{"id":"msg","type":"message","role":"assistant","model":"c","content":[{"type":"thinking","thinking":"t","signature":"A+/=\u00e9"},{"type":"redacted_thinking","data":"R=="},{"type":"server_tool_use","id":"s","name":"web_search","input":{}},{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":2}}"#;
    let r = anthropic_response_to_ir(body).unwrap();
    assert_eq!(r.blocks.len(), 3);
    let out: serde_json::Value = serde_json::from_slice(&ir_to_anthropic_response(&r)).unwrap();
    assert_eq!(out["content"][0]["signature"], "A+/=\u{e9}");
    assert_eq!(out["content"][1], json!({"type":"redacted_thinking","data":"R=="}));
}
