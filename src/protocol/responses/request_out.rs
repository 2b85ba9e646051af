//! Hub request → Responses request, for an upstream that speaks only `/v1/responses`.
//!
//! Leading system blocks become `instructions`; each turn becomes items in order (assistant
//! text → `message`, tool calls → `function_call`, results → `function_call_output`). What the
//! Responses API cannot take is refused (400) when it changes the answer (`n > 1`, audio,
//! foreign file ids) and dropped with a warning otherwise (stop sequences, penalties, seed).
//! Reasoning history is dropped with a warning: the hub does not record which provider signed
//! it, and a foreign signature sent as `encrypted_content` would make OpenAI refuse the request.

use super::ids::call_id;
use super::request::extra_object;
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, data_url, Converted, DocumentSource, Part, Protocol, ResponseFormat, Role, ToolChoice, Turn, Warning,
};
use crate::protocol::openai::chat_response::arguments_text;
use serde_json::{json, Map, Value};

/// Hub request → Responses request body.
pub fn ir_to_responses_request(req: &ir::Request) -> Result<Converted<Vec<u8>>, ApiError> {
    let Converted { value, warnings } = ir_to_responses(req)?;
    let body = serde_json::to_vec(&value)
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise responses request: {e}")))?;
    Ok(Converted { value: body, warnings })
}

/// Hub request → typed Responses request.
pub fn ir_to_responses(req: &ir::Request) -> Result<Converted<ResponsesRequest>, ApiError> {
    let mut warnings = Vec::new();
    if req.n.is_some_and(|n| n > 1) {
        return Err(ApiError::invalid_field("n", "this model's provider returns one answer per request; `n` must be 1"));
    }
    if req.logprobs == Some(true) {
        return Err(ApiError::invalid_field("logprobs", "this model's provider does not return log-probabilities here"));
    }
    let mut items = Vec::new();
    let mut dropped_reasoning = false;
    for (i, turn) in req.turns.iter().enumerate() {
        render_turn(turn, i, &mut items, &mut dropped_reasoning)?;
    }
    if dropped_reasoning {
        warnings.push(Warning::FieldDropped {
            field: "reasoning history".into(),
            reason: "signatures from another provider cannot be sent as encrypted_content",
        });
    }
    let instructions = req.system.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n");
    let mut out = ResponsesRequest {
        model: req.model.clone(),
        input: Some(ResponsesInput::Items(items)),
        instructions: (!instructions.is_empty()).then_some(instructions),
        max_output_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_logprobs: req.top_logprobs,
        parallel_tool_calls: req.parallel_tool_calls,
        stream: req.stream.then_some(true),
        user: req.metadata.user.clone(),
        metadata: (!req.metadata.tags.is_empty()).then(|| req.metadata.tags.clone()),
        ..Default::default()
    };
    for (field, set) in [
        ("stop", !req.stop.is_empty()),
        ("top_k", req.top_k.is_some()),
        ("seed", req.seed.is_some()),
        ("presence_penalty", req.presence_penalty.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("logprobs", req.logprobs.is_some()),
    ] {
        if set {
            warnings.push(Warning::FieldDropped { field: field.into(), reason: "the Responses API has no such field" });
        }
    }
    if !req.tools.is_empty() {
        out.tools = Some(
            req.tools
                .iter()
                .map(|t| ResponsesTool {
                    kind: "function".into(),
                    name: Some(t.name.clone()),
                    description: t.description.clone(),
                    parameters: Some(t.schema.clone()),
                    strict: t.strict,
                    rest: Map::new(),
                })
                .collect(),
        );
    }
    out.tool_choice = req.tool_choice.as_ref().map(tool_choice_to_responses);
    let format = req.response_format.as_ref().map(|f| match f {
        ResponseFormat::Text => TextFormat::Text,
        ResponseFormat::JsonObject => TextFormat::JsonObject,
        ResponseFormat::JsonSchema { name, description, schema, strict } => TextFormat::JsonSchema {
            name: name.clone(),
            schema: schema.clone(),
            description: description.clone(),
            strict: *strict,
        },
    });
    let text_rest = extra_object(&req.extra, "text").cloned().unwrap_or_default();
    if format.is_some() || !text_rest.is_empty() {
        out.text = Some(TextConfig { format, rest: text_rest });
    }
    let effort = req
        .reasoning
        .as_ref()
        .and_then(|r| r.effort_word_for(req.max_output_tokens, &mut warnings))
        // The Responses API has no `max`; its top level is `xhigh`.
        .map(|e| if e == "max" { "xhigh" } else { e }.to_owned());
    let reasoning_rest = extra_object(&req.extra, "reasoning").cloned().unwrap_or_default();
    if effort.is_some() || !reasoning_rest.is_empty() {
        let mut r = ReasoningConfig { effort, summary: None, rest: reasoning_rest };
        if let Some(Value::String(s)) = r.rest.remove("summary") {
            r.summary = Some(s);
        }
        out.reasoning = Some(r);
    }
    apply_extra(&req.extra, &mut out, &mut warnings)?;
    Ok(Converted { value: out, warnings })
}

/// Copies `extra` back when it came from a Responses client (`text`/`reasoning` leftovers were
/// merged above); otherwise refuses answer-changing fields and drops the rest with a warning.
fn apply_extra(extra: &ir::Extra, out: &mut ResponsesRequest, warnings: &mut Vec<Warning>) -> Result<(), ApiError> {
    if extra.source == Some(Protocol::OpenAiResponses) {
        for (k, v) in &extra.fields {
            match k.as_str() {
                "text" | "reasoning" => {}
                "store" => out.store = v.as_bool(),
                "include" => out.include = serde_json::from_value(v.clone()).ok(),
                _ => {
                    out.extra.insert(k.clone(), v.clone());
                }
            }
        }
        return Ok(());
    }
    extra.refuse_or_drop(warnings)
}

fn tool_choice_to_responses(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
        ToolChoice::Allowed { names, required } => json!({
            "type": "allowed_tools",
            "mode": if *required { "required" } else { "auto" },
            "tools": names.iter().map(|n| json!({"type": "function", "name": n})).collect::<Vec<_>>(),
        }),
    }
}

fn message(role: &str, content: MessageContent) -> InputItem {
    InputItem::Message(InputMessage { role: role.into(), content, id: None, status: None })
}

fn render_turn(turn: &Turn, i: usize, items: &mut Vec<InputItem>, dropped: &mut bool) -> Result<(), ApiError> {
    match turn.role {
        Role::System => {
            let text: String = turn
                .parts
                .iter()
                .filter_map(|p| if let Part::Text { text } = p { Some(text.as_str()) } else { None })
                .collect();
            items.push(message("system", MessageContent::Text(text)));
        }
        Role::User => items.push(message("user", MessageContent::Parts(input_parts(&turn.parts, i)?))),
        Role::Assistant => {
            let mut text: Vec<ContentPart> = Vec::new();
            let flush = |text: &mut Vec<ContentPart>, items: &mut Vec<InputItem>| {
                if !text.is_empty() {
                    items.push(message("assistant", MessageContent::Parts(std::mem::take(text))));
                }
            };
            for p in &turn.parts {
                match p {
                    Part::Text { text: t } if !t.is_empty() => {
                        text.push(ContentPart::OutputText { text: t.clone(), annotations: Vec::new() })
                    }
                    Part::Text { .. } => {}
                    Part::ToolUse { id, name, input } => {
                        flush(&mut text, items);
                        items.push(InputItem::FunctionCall(FunctionCallItem {
                            call_id: call_id(id).into_owned(),
                            name: name.clone(),
                            arguments: arguments_text(input),
                            id: None,
                            status: None,
                        }));
                    }
                    Part::Thinking { .. } | Part::RedactedThinking { .. } => *dropped = true,
                    _ => {
                        return Err(ApiError::invalid_field(
                            format!("messages[{i}].content"),
                            "assistant turns sent to the Responses API may only hold text and tool calls",
                        ))
                    }
                }
            }
            flush(&mut text, items);
        }
        Role::Tool => {
            for p in &turn.parts {
                let Part::ToolResult { tool_use_id, content, is_error, .. } = p else {
                    continue;
                };
                let output = match content.as_slice() {
                    [] => MessageContent::Text(if *is_error { "Error".into() } else { String::new() }),
                    parts if parts.iter().all(|c| matches!(c, Part::Text { .. })) => {
                        let mut s = if *is_error { String::from("Error: ") } else { String::new() };
                        for c in parts {
                            if let Part::Text { text } = c {
                                s.push_str(text);
                            }
                        }
                        MessageContent::Text(s)
                    }
                    parts => {
                        let mut v = input_parts(parts, i)?;
                        if *is_error {
                            v.insert(0, ContentPart::InputText { text: "Error:".into() });
                        }
                        MessageContent::Parts(v)
                    }
                };
                items.push(InputItem::FunctionCallOutput(FunctionCallOutputItem {
                    call_id: call_id(tool_use_id).into_owned(),
                    output,
                    id: None,
                    status: None,
                }));
            }
        }
    }
    Ok(())
}

fn input_parts(parts: &[Part], i: usize) -> Result<Vec<ContentPart>, ApiError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        let field = || format!("messages[{i}].content[{j}]");
        out.push(match p {
            Part::Text { text } => ContentPart::InputText { text: text.clone() },
            Part::Image { source } => {
                ContentPart::InputImage { image_url: Some(source.to_url()), file_id: None, detail: Some("auto".into()) }
            }
            Part::Document { source, title } => match source {
                DocumentSource::Base64 { media_type, data } => ContentPart::InputFile {
                    file_data: Some(data_url(media_type, data)),
                    file_id: None,
                    file_url: None,
                    filename: Some(title.clone().unwrap_or_else(|| "document".into())),
                },
                DocumentSource::Url(u) => {
                    ContentPart::InputFile { file_data: None, file_id: None, file_url: Some(u.clone()), filename: title.clone() }
                }
                DocumentSource::Text(t) => ContentPart::InputText { text: t.clone() },
            },
            Part::Audio { .. } => return Err(ApiError::invalid_field(field(), "the Responses API cannot take audio input")),
            Part::FileRef { issuer: Protocol::OpenAiChat | Protocol::OpenAiResponses, file_id } => {
                ContentPart::InputFile { file_data: None, file_id: Some(file_id.clone()), file_url: None, filename: None }
            }
            Part::FileRef { .. } => {
                return Err(ApiError::invalid_field(field(), "file ids cannot be used with another provider"))
            }
            Part::Thinking { .. } | Part::RedactedThinking { .. } => continue,
            Part::ToolUse { .. } | Part::ToolResult { .. } => {
                return Err(ApiError::invalid_field(field(), "tool blocks are not allowed in user content"))
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::{ImageSource, Reasoning};
    use crate::protocol::responses::request::responses_request_to_ir;

    fn round_trip(v: Value) -> Value {
        let ir = responses_request_to_ir(v.to_string().as_bytes()).unwrap();
        serde_json::from_slice(&ir_to_responses_request(&ir).unwrap().value).unwrap()
    }

    #[test]
    fn a_responses_request_survives_the_hub() {
        let req = json!({
            "model": "m", "instructions": "Be brief.",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking.", "annotations": []}]},
                {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"q\":1}"},
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
            ],
            "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": "required", "parallel_tool_calls": false, "temperature": 0.0, "top_p": 0.0,
            "max_output_tokens": 100, "text": {"format": {"type": "json_object"}, "verbosity": "low"},
            "reasoning": {"effort": "low", "summary": "auto"}, "store": false, "include": ["reasoning.encrypted_content"],
            "metadata": {"k": "v"}, "user": "u", "service_tier": "flex", "stream": true
        });
        assert_eq!(round_trip(req.clone()), req);
    }

    #[test]
    fn foreign_fields_are_refused_or_dropped_with_warnings() {
        let mut ir = ir::Request { model: "m".into(), n: Some(2), ..Default::default() };
        assert_eq!(ir_to_responses(&ir).unwrap_err().param.as_deref(), Some("n"));
        ir.n = None;
        ir.stop = vec!["END".into()];
        ir.reasoning = Some(Reasoning::Budget(2000));
        ir.max_output_tokens = Some(10000);
        ir.turns = vec![Turn::new(
            Role::Assistant,
            vec![Part::Thinking { text: "t".into(), signature: Some("s".into()) }, Part::text("a")],
        )];
        let c = ir_to_responses(&ir).unwrap();
        assert!(c.warnings.iter().any(|w| matches!(w, Warning::FieldDropped { field, .. } if field == "stop")));
        assert!(c.warnings.iter().any(|w| matches!(w, Warning::FieldDropped { field, .. } if field == "reasoning history")));
        assert_eq!(c.value.reasoning.and_then(|r| r.effort).as_deref(), Some("low"));
        assert!(c.warnings.contains(&Warning::ThinkingBudgetApproximated { budget: 2000, effort: "low" }));
        let v = serde_json::to_value(&c.value.input).unwrap();
        assert_eq!(
            v,
            json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a", "annotations": []}]}])
        );
        ir.turns = vec![Turn::new(Role::User, vec![Part::Audio { format: "wav".into(), data: "x".into() }])];
        assert_eq!(ir_to_responses(&ir).unwrap_err().param.as_deref(), Some("messages[0].content[0]"));
    }

    #[test]
    fn tool_results_with_errors_and_images() {
        let ir = ir::Request {
            model: "m".into(),
            turns: vec![Turn::new(
                Role::Tool,
                vec![
                    Part::ToolResult { tool_use_id: "a".into(), name: None, content: vec![Part::text("bad")], is_error: true },
                    Part::ToolResult {
                        tool_use_id: "b".into(),
                        name: None,
                        content: vec![Part::Image { source: ImageSource::Url("https://x".into()) }],
                        is_error: false,
                    },
                ],
            )],
            ..Default::default()
        };
        let v = serde_json::to_value(ir_to_responses(&ir).unwrap().value.input).unwrap();
        assert_eq!(v[0], json!({"type": "function_call_output", "call_id": "a", "output": "Error: bad"}));
        assert_eq!(v[1]["output"][0], json!({"type": "input_image", "image_url": "https://x", "detail": "auto"}));
    }
}
