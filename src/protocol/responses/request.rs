//! Responses request → hub request.
//!
//! Items are regrouped into hub turns: an assistant message, the `reasoning` before it and the
//! `function_call`s after it form one assistant turn; consecutive `function_call_output`s form one
//! tool turn (PROTOCOLS.md §3.4 c). What needs state kept by OpenAI (`previous_response_id`,
//! `conversation`, `item_reference`) cannot be converted and is refused with a 400 naming the
//! field, never silently dropped.

use super::object::ResponseEcho;
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, image_source_from_url, parse_arguments, parse_data_url, DocumentSource, Part, Protocol, Reasoning, ResponseFormat,
    Role, SystemBlock, ToolChoice, Turn,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Responses-only fields that change what the answer is, so another protocol must refuse them.
const ANSWER_CHANGING: &[&str] = &["prompt", "background", "conversation"];

/// Parses a Responses request body, naming the offending field path in the 400.
pub fn parse_responses_request(body: &[u8]) -> Result<ResponsesRequest, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner().to_string();
        let mut path = e.path().to_string();
        // A missing top-level field is reported at `.`; name the field itself.
        if path == "." {
            if let Some(field) = inner.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                path = field.to_owned();
            }
        }
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {inner}")).with_param(path)
    })
}

/// Responses request body → hub request.
pub fn responses_request_to_ir(body: &[u8]) -> Result<ir::Request, ApiError> {
    responses_to_ir(parse_responses_request(body)?)
}

/// Responses request body → hub request plus the echo of the client's settings that every
/// response object repeats (see [`ResponseEcho`]); one parse serves both.
pub fn responses_request_to_ir_with_echo(body: &[u8]) -> Result<(ir::Request, ResponseEcho), ApiError> {
    let req = parse_responses_request(body)?;
    let echo = ResponseEcho::from_request(&req);
    Ok((responses_to_ir(req)?, echo))
}

/// Typed Responses request → hub request. Refuses (400) what the hub cannot hold: stored
/// state, non-function tools, item types other than message/function_call/function_call_output/
/// reasoning, unknown roles and efforts.
pub fn responses_to_ir(req: ResponsesRequest) -> Result<ir::Request, ApiError> {
    if req.previous_response_id.is_some() {
        return Err(ApiError::invalid_field(
            "previous_response_id",
            "`previous_response_id` needs responses stored by the provider and cannot be used with this model; \
             send the whole conversation in `input` instead",
        ));
    }
    if req.extra.get("conversation").is_some_and(|v| !v.is_null()) {
        return Err(ApiError::invalid_field(
            "conversation",
            "`conversation` needs state stored by the provider and cannot be used with this model; \
             send the whole conversation in `input` instead",
        ));
    }
    let mut out = ir::Request { model: req.model, ..Default::default() };
    if let Some(text) = req.instructions.filter(|t| !t.is_empty()) {
        out.system.push(SystemBlock { text, cache: None });
    }
    match req.input {
        None => {}
        Some(ResponsesInput::Text(t)) => out.turns.push(Turn::new(Role::User, vec![Part::text(t)])),
        Some(ResponsesInput::Items(items)) => convert_items(items, &mut out)?,
    }
    for (i, tool) in req.tools.unwrap_or_default().into_iter().enumerate() {
        out.tools.push(tool_from_responses(tool, i)?);
    }
    out.tool_choice = req.tool_choice.map(|v| tool_choice_from_responses(&v)).transpose()?;
    out.parallel_tool_calls = req.parallel_tool_calls;
    out.max_output_tokens = req.max_output_tokens;
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.top_logprobs = req.top_logprobs;
    let mut extra = req.extra;
    if let Some(text) = req.text {
        out.response_format = text.format.map(format_from_responses);
        if !text.rest.is_empty() {
            extra.insert("text".into(), Value::Object(text.rest));
        }
    }
    if let Some(r) = req.reasoning {
        out.reasoning = match r.effort.as_deref() {
            None => None,
            Some(e) => Some(
                Reasoning::from_effort_word(e)
                    .ok_or_else(|| ApiError::invalid_field("reasoning.effort", format!("unknown reasoning effort `{e}`")))?,
            ),
        };
        let mut rest = r.rest;
        if let Some(s) = r.summary {
            rest.insert("summary".into(), Value::String(s));
        }
        if !rest.is_empty() {
            extra.insert("reasoning".into(), Value::Object(rest));
        }
    }
    out.stream = req.stream.unwrap_or(false);
    // A Responses stream always ends with usage in `response.completed`.
    out.include_usage = out.stream;
    out.metadata.user = req.safety_identifier.or(req.user);
    out.metadata.tags = req.metadata.unwrap_or_default();
    if let Some(store) = req.store {
        extra.insert("store".into(), Value::Bool(store));
    }
    if let Some(include) = req.include {
        extra.insert("include".into(), json!(include));
    }
    if !extra.is_empty() {
        out.extra.source = Some(Protocol::OpenAiResponses);
        out.extra.answer_changing = extra
            .iter()
            .filter(|(k, v)| ANSWER_CHANGING.contains(&k.as_str()) && !v.is_null() && **v != Value::Bool(false))
            .map(|(k, _)| k.clone())
            .collect();
        out.extra.fields = extra;
    }
    Ok(out)
}

/// Walks the items in order, building turns.
fn convert_items(items: Vec<InputItem>, out: &mut ir::Request) -> Result<(), ApiError> {
    // call_id → function name, for tool results (Gemini needs the name, §3.4 b).
    let mut names: HashMap<String, String> = HashMap::new();
    let mut leading = true;
    for (i, item) in items.into_iter().enumerate() {
        match item {
            InputItem::Message(m) => match m.role.as_str() {
                "system" | "developer" => {
                    out.push_system_texts(system_texts(m.content, i)?, leading);
                }
                "user" => {
                    leading = false;
                    out.turns.push(Turn::new(Role::User, user_parts(m.content, &format!("input[{i}].content"))?));
                }
                "assistant" => {
                    leading = false;
                    let parts = assistant_parts(m.content, i)?;
                    assistant_turn(out).extend(parts);
                }
                other => return Err(ApiError::invalid_field(format!("input[{i}].role"), format!("unknown role `{other}`"))),
            },
            InputItem::FunctionCall(c) => {
                leading = false;
                names.insert(c.call_id.clone(), c.name.clone());
                let part = Part::ToolUse { id: c.call_id, name: c.name, input: parse_arguments(&c.arguments) };
                assistant_turn(out).push(part);
            }
            InputItem::FunctionCallOutput(o) => {
                leading = false;
                let result = Part::ToolResult {
                    name: names.get(&o.call_id).cloned(),
                    content: user_parts(o.output, &format!("input[{i}].output"))?,
                    tool_use_id: o.call_id,
                    is_error: false,
                };
                Turn::last_or_new(&mut out.turns, Role::Tool).push(result);
            }
            InputItem::Reasoning(r) => {
                leading = false;
                if let Some(part) = reasoning_part(r) {
                    assistant_turn(out).push(part);
                }
            }
            InputItem::Other { kind, .. } if kind == "item_reference" => {
                return Err(ApiError::invalid_field(
                    format!("input[{i}]"),
                    "`item_reference` items need items stored by the provider and cannot be used with this model",
                ))
            }
            InputItem::Other { kind, .. } => {
                return Err(ApiError::invalid_field(
                    format!("input[{i}].type"),
                    format!(
                        "`{kind}` items cannot be converted for this model; only message, function_call, \
                         function_call_output and reasoning items can"
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// The assistant turn to append to: the last turn when it is one, else a new one.
fn assistant_turn(out: &mut ir::Request) -> &mut Vec<Part> {
    Turn::last_or_new(&mut out.turns, Role::Assistant)
}

/// A reasoning item → thinking. A summary (or raw reasoning text) makes a visible
/// [`Part::Thinking`] whose signature is the `encrypted_content`; encrypted content alone is
/// [`Part::RedactedThinking`]; an empty item carries nothing and is dropped.
pub(crate) fn reasoning_part(r: ReasoningItem) -> Option<Part> {
    let summary = !r.summary.is_empty();
    let mut text = join_texts(&r.summary);
    if !summary {
        text = join_texts(r.content.as_deref().unwrap_or_default());
    }
    match (summary || !text.is_empty(), r.encrypted_content) {
        (true, signature) => Some(Part::Thinking { text, signature }),
        (false, Some(data)) => Some(Part::RedactedThinking { data }),
        (false, None) => None,
    }
}

/// Summary parts joined by a blank line (the hub has one text per thinking block).
pub(crate) fn join_texts(parts: &[SummaryText]) -> String {
    let mut s = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            s.push_str("\n\n");
        }
        s.push_str(&p.text);
    }
    s
}

fn system_texts(content: MessageContent, i: usize) -> Result<Vec<String>, ApiError> {
    match content {
        MessageContent::Text(t) => Ok(vec![t]),
        MessageContent::Parts(ps) => ps
            .into_iter()
            .enumerate()
            .map(|(j, p)| match p {
                ContentPart::InputText { text } => Ok(text),
                _ => Err(ApiError::invalid_field(
                    format!("input[{i}].content[{j}]"),
                    "system and developer messages may only hold input_text parts",
                )),
            })
            .collect(),
    }
}

fn assistant_parts(content: MessageContent, i: usize) -> Result<Vec<Part>, ApiError> {
    match content {
        MessageContent::Text(t) => Ok(vec![Part::text(t)]),
        MessageContent::Parts(ps) => ps
            .into_iter()
            .enumerate()
            .map(|(j, p)| match p {
                ContentPart::OutputText { text, .. } | ContentPart::InputText { text } => Ok(Part::text(text)),
                ContentPart::Refusal { refusal } => Ok(Part::text(refusal)),
                _ => Err(ApiError::invalid_field(
                    format!("input[{i}].content[{j}]"),
                    "assistant messages may only hold output_text and refusal parts",
                )),
            })
            .collect(),
    }
}

/// User content (also a tool's output): text, images, files, audio.
fn user_parts(content: MessageContent, field: &str) -> Result<Vec<Part>, ApiError> {
    match content {
        MessageContent::Text(t) => Ok(vec![Part::text(t)]),
        MessageContent::Parts(ps) => {
            ps.into_iter().enumerate().map(|(j, p)| part_from_responses(p, &format!("{field}[{j}]"))).collect()
        }
    }
}

fn part_from_responses(p: ContentPart, field: &str) -> Result<Part, ApiError> {
    Ok(match p {
        ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => Part::text(text),
        ContentPart::Refusal { refusal } => Part::text(refusal),
        ContentPart::InputImage { image_url: Some(url), .. } => Part::Image {
            source: image_source_from_url(url)
                .ok_or_else(|| ApiError::invalid_field(format!("{field}.image_url"), "data URLs must be base64"))?,
        },
        ContentPart::InputImage { image_url: None, file_id: Some(id), .. } => {
            Part::FileRef { issuer: Protocol::OpenAiResponses, file_id: id }
        }
        ContentPart::InputImage { .. } => {
            return Err(ApiError::invalid_field(field.to_owned(), "input_image needs image_url or file_id"))
        }
        ContentPart::InputFile { file_data: Some(d), filename, .. } => match parse_data_url(&d) {
            Some((media_type, data)) => Part::Document {
                source: DocumentSource::Base64 { media_type: media_type.into(), data: data.into() },
                title: filename,
            },
            None => return Err(ApiError::invalid_field(format!("{field}.file_data"), "file_data must be a base64 data URL")),
        },
        ContentPart::InputFile { file_url: Some(url), filename, .. } => {
            Part::Document { source: DocumentSource::Url(url), title: filename }
        }
        ContentPart::InputFile { file_id: Some(id), .. } => Part::FileRef { issuer: Protocol::OpenAiResponses, file_id: id },
        ContentPart::InputFile { .. } => {
            return Err(ApiError::invalid_field(field.to_owned(), "input_file needs file_data, file_url or file_id"))
        }
        ContentPart::InputAudio { input_audio } => Part::Audio { format: input_audio.format, data: input_audio.data },
    })
}

fn tool_from_responses(tool: ResponsesTool, i: usize) -> Result<ir::Tool, ApiError> {
    if tool.kind != "function" {
        return Err(ApiError::invalid_field(
            format!("tools[{i}].type"),
            format!("tool type `{}` cannot be converted for this model; only function tools can", tool.kind),
        ));
    }
    let name = tool
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid_field(format!("tools[{i}].name"), "function tools need a name"))?;
    Ok(ir::Tool {
        name,
        description: tool.description,
        schema: tool.parameters.filter(|p| !p.is_null()).unwrap_or_else(|| json!({"type":"object","properties":{}})),
        strict: tool.strict,
        cache: None,
    })
}

fn tool_choice_from_responses(v: &Value) -> Result<ToolChoice, ApiError> {
    let bad = || {
        ApiError::invalid_field("tool_choice", "unsupported tool_choice; use auto, none, required, a function or allowed_tools")
    };
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => o.get("name").and_then(Value::as_str).map(|n| ToolChoice::Tool(n.to_owned())).ok_or_else(bad),
            Some("allowed_tools") => {
                let required = match o.get("mode").and_then(Value::as_str) {
                    Some("auto") | None => false,
                    Some("required") => true,
                    Some(_) => return Err(bad()),
                };
                let names = o
                    .get("tools")
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|t| match (t.get("type").and_then(Value::as_str), t.get("name").and_then(Value::as_str)) {
                        (Some("function"), Some(n)) => Some(n.to_owned()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                Ok(ToolChoice::Allowed { names, required })
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn format_from_responses(f: TextFormat) -> ResponseFormat {
    match f {
        TextFormat::Text => ResponseFormat::Text,
        TextFormat::JsonObject => ResponseFormat::JsonObject,
        TextFormat::JsonSchema { name, schema, description, strict } => {
            ResponseFormat::JsonSchema { name, description, schema, strict }
        }
    }
}

/// Leftover subfields of `text`/`reasoning` kept in `extra`, for merging back (see `request_out`).
pub(crate) fn extra_object<'a>(extra: &'a ir::Extra, key: &str) -> Option<&'a Map<String, Value>> {
    match extra.fields.get(key) {
        Some(Value::Object(o)) if extra.source == Some(Protocol::OpenAiResponses) => Some(o),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::{Effort, ImageSource};

    fn conv(v: Value) -> Result<ir::Request, ApiError> {
        responses_request_to_ir(v.to_string().as_bytes())
    }

    #[test]
    fn string_input_and_instructions() {
        let r = conv(json!({"model": "m", "instructions": "Be brief.", "input": "hi", "temperature": 0, "top_p": 0})).unwrap();
        assert_eq!(r.system, vec![SystemBlock { text: "Be brief.".into(), cache: None }]);
        assert_eq!(r.turns, vec![Turn::new(Role::User, vec![Part::text("hi")])]);
        assert_eq!((r.temperature, r.top_p), (Some(0.0), Some(0.0)));
        assert!(r.extra.source.is_none());
    }

    #[test]
    fn leading_system_items_join_instructions_and_late_ones_stay_in_place() {
        let r = conv(json!({"model": "m", "instructions": "A", "input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "B"}]},
            {"role": "user", "content": "q"},
            {"role": "system", "content": "C"}
        ]}))
        .unwrap();
        assert_eq!(r.system.iter().map(|b| b.text.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(r.turns[1], Turn::new(Role::System, vec![Part::text("C")]));
    }

    #[test]
    fn calls_and_outputs_group_into_turns() {
        let r = conv(json!({"model": "m", "input": [
            {"role": "user", "content": "weather?"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC"},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{\"q\":1}"},
            {"type": "function_call", "call_id": "c2", "name": "get", "arguments": "{bad"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "rain"}]}
        ]}))
        .unwrap();
        assert_eq!(r.turns.len(), 3);
        assert_eq!(
            r.turns[1].parts,
            vec![
                Part::RedactedThinking { data: "ENC".into() },
                Part::ToolUse { id: "c1".into(), name: "get".into(), input: json!({"q": 1}) },
                Part::ToolUse { id: "c2".into(), name: "get".into(), input: json!({"_raw_arguments": "{bad"}) },
            ]
        );
        assert_eq!(r.turns[2].role, Role::Tool);
        assert!(
            matches!(&r.turns[2].parts[1], Part::ToolResult { name: Some(n), tool_use_id, .. } if n == "get" && tool_use_id == "c2")
        );
    }

    #[test]
    fn reasoning_summary_keeps_encrypted_content_as_signature() {
        let p = reasoning_part(ReasoningItem {
            summary: vec![SummaryText::new("a"), SummaryText::new("b")],
            encrypted_content: Some("sig".into()),
            ..Default::default()
        });
        assert_eq!(p, Some(Part::Thinking { text: "a\n\nb".into(), signature: Some("sig".into()) }));
        assert_eq!(reasoning_part(ReasoningItem::default()), None);
    }

    #[test]
    fn tools_choice_format_reasoning_and_extra() {
        let r = conv(json!({"model": "m", "input": "x",
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": false,
            "text": {"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}, "strict": true}, "verbosity": "low"},
            "reasoning": {"effort": "high", "summary": "auto"}, "store": false, "max_output_tokens": 5,
            "metadata": {"k": "v"}, "user": "u", "service_tier": "flex"
        }))
        .unwrap();
        assert_eq!(r.tools[0].strict, Some(true));
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert!(matches!(r.response_format, Some(ResponseFormat::JsonSchema { ref name, .. }) if name == "s"));
        assert_eq!(r.reasoning, Some(Reasoning::Effort(Effort::High)));
        assert_eq!(r.max_output_tokens, Some(5));
        assert_eq!(r.metadata.user.as_deref(), Some("u"));
        assert_eq!(r.extra.source, Some(Protocol::OpenAiResponses));
        assert_eq!(r.extra.fields["text"], json!({"verbosity": "low"}));
        assert_eq!(r.extra.fields["reasoning"], json!({"summary": "auto"}));
        assert_eq!(r.extra.fields["store"], json!(false));
        assert!(r.extra.answer_changing.is_empty());
        let none = conv(json!({"model": "m", "input": "x", "reasoning": {"effort": "none"}, "background": true})).unwrap();
        assert_eq!(none.reasoning, Some(Reasoning::Off));
        assert_eq!(none.extra.answer_changing, vec!["background".to_owned()]);
    }

    #[test]
    fn media_parts() {
        let r = conv(json!({"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_image", "image_url": "https://x/y.png", "detail": "high"},
            {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
            {"type": "input_file", "file_id": "file-1"}
        ]}]}))
        .unwrap();
        let p = &r.turns[0].parts;
        assert_eq!(p[0], Part::Image { source: ImageSource::Base64 { media_type: "image/png".into(), data: "AAAA".into() } });
        assert_eq!(p[1], Part::Image { source: ImageSource::Url("https://x/y.png".into()) });
        assert!(matches!(&p[2], Part::Document { title: Some(t), .. } if t == "a.pdf"));
        assert_eq!(p[3], Part::FileRef { issuer: Protocol::OpenAiResponses, file_id: "file-1".into() });
    }

    #[test]
    fn refusals_name_the_field() {
        let param = |v: Value| conv(v).unwrap_err().param;
        assert_eq!(
            param(json!({"model": "m", "input": "x", "previous_response_id": "resp_1"})).as_deref(),
            Some("previous_response_id")
        );
        assert_eq!(param(json!({"model": "m", "conversation": "conv_1"})).as_deref(), Some("conversation"));
        assert_eq!(param(json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]})).as_deref(), Some("input[0]"));
        assert_eq!(
            param(json!({"model": "m", "input": [{"role": "user", "content": "a"}, {"type": "web_search_call", "id": "x"}]}))
                .as_deref(),
            Some("input[1].type")
        );
        assert_eq!(param(json!({"model": "m", "tools": [{"type": "web_search"}]})).as_deref(), Some("tools[0].type"));
        assert_eq!(param(json!({"model": "m", "input": [{"role": "robot", "content": "a"}]})).as_deref(), Some("input[0].role"));
        assert_eq!(param(json!({"model": "m", "tool_choice": {"type": "file_search"}})).as_deref(), Some("tool_choice"));
        assert_eq!(param(json!({"model": "m", "reasoning": {"effort": "huge"}})).as_deref(), Some("reasoning.effort"));
        assert_eq!(param(json!({"model": "m", "temperature": "hot"})).as_deref(), Some("temperature"));
        assert_eq!(param(json!({"input": "x"})).as_deref(), Some("model"));
        assert_eq!(
            param(json!({"model": "m", "input": [{"role": "user", "content": [{"type": "nope"}]}]})).as_deref(),
            Some("input[0]")
        );
    }
}
