//! OpenAI Chat Completions request ⇄ hub request.

use super::chat_types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, data_url, image_source_from_url, parse_arguments, parse_data_url, Converted, DocumentSource, Part, Protocol, Reasoning,
    ResponseFormat, Role, ToolChoice, Turn, Warning,
};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// OpenAI-only fields that change what the answer is, so another protocol must refuse them.
const ANSWER_CHANGING: &[&str] = &["audio", "web_search_options", "functions", "function_call", "prediction"];

/// Parses a chat request body, naming the offending field path in the 400.
pub fn parse_chat_request(body: &[u8]) -> Result<ChatCompletionRequest, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {}", e.inner())).with_param(path)
    })
}

/// Chat request body → hub request.
pub fn chat_request_to_ir(body: &[u8]) -> Result<ir::Request, ApiError> {
    chat_to_ir(parse_chat_request(body)?)
}

/// Typed chat request → hub request. Refuses (400) what the hub cannot hold: deprecated
/// `function` messages, non-function tools, unknown `reasoning_effort`. An echoed
/// `reasoning_content` becomes unsigned thinking, which the gateway may replace with the signed
/// original ([`ir::restore_signed_reasoning`]).
pub fn chat_to_ir(req: ChatCompletionRequest) -> Result<ir::Request, ApiError> {
    let mut out = ir::Request { model: req.model, ..Default::default() };
    messages_to_ir(req.messages, &mut out)?;
    out.max_output_tokens = req.max_completion_tokens.or(req.max_tokens);
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.n = req.n;
    out.stop = match req.stop {
        Some(StopField::One(s)) => vec![s],
        Some(StopField::Many(v)) => v,
        None => Vec::new(),
    };
    out.seed = req.seed;
    out.presence_penalty = req.presence_penalty;
    out.frequency_penalty = req.frequency_penalty;
    out.logprobs = req.logprobs;
    out.top_logprobs = req.top_logprobs;
    out.tools = tools_from_chat(req.tools.unwrap_or_default())?;
    out.tool_choice = req.tool_choice.map(|v| tool_choice_from_chat(&v)).transpose()?;
    out.parallel_tool_calls = req.parallel_tool_calls;
    out.response_format = req.response_format.map(|f| match f {
        ChatResponseFormat::Text => ResponseFormat::Text,
        ChatResponseFormat::JsonObject => ResponseFormat::JsonObject,
        ChatResponseFormat::JsonSchema { json_schema } => ResponseFormat::JsonSchema {
            name: json_schema.name,
            description: json_schema.description,
            schema: json_schema.schema.unwrap_or_else(|| json!({})),
            strict: json_schema.strict,
        },
    });
    out.reasoning = match req.reasoning_effort.as_deref() {
        None => None,
        Some(e) => Some(
            Reasoning::from_effort_word(e)
                .ok_or_else(|| ApiError::invalid_field("reasoning_effort", format!("unknown reasoning_effort `{e}`")))?,
        ),
    };
    out.stream = req.stream.unwrap_or(false);
    out.include_usage = req.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
    out.metadata.user = req.safety_identifier.or(req.user);
    out.metadata.tags = req.metadata.unwrap_or_default();
    if !req.extra.is_empty() {
        out.extra.source = Some(Protocol::OpenAiChat);
        out.extra.answer_changing = req
            .extra
            .iter()
            .filter(|(k, v)| ANSWER_CHANGING.contains(&k.as_str()) || (k.as_str() == "modalities" && mentions_audio(v)))
            .map(|(k, _)| k.clone())
            .collect();
        out.extra.fields = req.extra;
    }
    Ok(out)
}

/// Chat messages → system blocks and turns; parallel tool results join one turn (§3.4 c).
fn messages_to_ir(messages: Vec<ChatMessage>, out: &mut ir::Request) -> Result<(), ApiError> {
    let mut names: HashMap<String, String> = HashMap::new();
    let mut leading = true;
    for (i, msg) in messages.into_iter().enumerate() {
        match msg {
            ChatMessage::System { content, .. } | ChatMessage::Developer { content, .. } => {
                out.push_system_texts(system_texts(content, i)?, leading);
            }
            ChatMessage::User { content, .. } => {
                leading = false;
                out.turns.push(Turn::new(Role::User, user_parts(content, i)?));
            }
            ChatMessage::Assistant { content, tool_calls, refusal, reasoning_content, .. } => {
                leading = false;
                let parts = assistant_parts(content, tool_calls, refusal, reasoning_content, i, &mut names)?;
                out.turns.push(Turn::new(Role::Assistant, parts));
            }
            ChatMessage::Tool { content, tool_call_id } => {
                leading = false;
                let result = Part::ToolResult {
                    name: names.get(&tool_call_id).cloned(),
                    tool_use_id: tool_call_id,
                    content: tool_content(content, i)?,
                    is_error: false,
                };
                Turn::last_or_new(&mut out.turns, Role::Tool).push(result);
            }
            ChatMessage::Function { .. } => {
                return Err(ApiError::invalid_field(
                    format!("messages[{i}].role"),
                    "deprecated `function` messages are not supported; use `tool` messages",
                ))
            }
        }
    }
    Ok(())
}

/// An assistant message's parts: echoed reasoning first (unsigned: Chat cannot carry the
/// signature), then text and refusal, then tool calls, whose names are noted for the results.
fn assistant_parts(
    content: Option<ChatContent>,
    tool_calls: Option<Vec<ChatToolCall>>,
    refusal: Option<String>,
    reasoning_content: Option<String>,
    i: usize,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Part>, ApiError> {
    let mut parts = Vec::new();
    if let Some(text) = reasoning_content.filter(|t| !t.is_empty()) {
        parts.push(Part::Thinking { text, signature: None });
    }
    match content {
        Some(ChatContent::Text(t)) => parts.push(Part::text(t)),
        Some(ChatContent::Parts(ps)) => {
            for (j, p) in ps.into_iter().enumerate() {
                match p {
                    ChatContentPart::Text { text } => parts.push(Part::text(text)),
                    ChatContentPart::Refusal { refusal } => parts.push(Part::text(refusal)),
                    _ => {
                        return Err(ApiError::invalid_field(
                            format!("messages[{i}].content[{j}]"),
                            "assistant content may only hold text and refusal parts",
                        ))
                    }
                }
            }
        }
        None => {}
    }
    if let Some(r) = refusal.filter(|r| !r.is_empty()) {
        parts.push(Part::text(r));
    }
    for call in tool_calls.unwrap_or_default() {
        names.insert(call.id.clone(), call.function.name.clone());
        parts.push(Part::ToolUse { id: call.id, name: call.function.name, input: parse_arguments(&call.function.arguments) });
    }
    Ok(parts)
}

fn tools_from_chat(tools: Vec<ChatTool>) -> Result<Vec<ir::Tool>, ApiError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.into_iter().enumerate() {
        let f = match (tool.kind.as_str(), tool.function) {
            ("function", Some(f)) => f,
            _ => {
                return Err(ApiError::invalid_field(
                    format!("tools[{i}].type"),
                    format!("tool type `{}` cannot be converted; only function tools can", tool.kind),
                ))
            }
        };
        out.push(ir::Tool {
            name: f.name,
            description: f.description,
            schema: f.parameters.unwrap_or_else(|| json!({"type":"object","properties":{}})),
            strict: f.strict,
            cache: None,
        });
    }
    Ok(out)
}

fn mentions_audio(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().any(|m| m.as_str() == Some("audio")))
}

fn system_texts(content: ChatContent, i: usize) -> Result<Vec<String>, ApiError> {
    match content {
        ChatContent::Text(t) => Ok(vec![t]),
        ChatContent::Parts(ps) => ps
            .into_iter()
            .enumerate()
            .map(|(j, p)| match p {
                ChatContentPart::Text { text } => Ok(text),
                _ => Err(ApiError::invalid_field(
                    format!("messages[{i}].content[{j}]"),
                    "system messages may only hold text parts",
                )),
            })
            .collect(),
    }
}

fn user_parts(content: ChatContent, i: usize) -> Result<Vec<Part>, ApiError> {
    match content {
        ChatContent::Text(t) => Ok(vec![Part::text(t)]),
        ChatContent::Parts(ps) => {
            ps.into_iter().enumerate().map(|(j, p)| part_from_chat(p, &format!("messages[{i}].content[{j}]"))).collect()
        }
    }
}

fn tool_content(content: ChatContent, i: usize) -> Result<Vec<Part>, ApiError> {
    user_parts(content, i)
}

fn part_from_chat(p: ChatContentPart, field: &str) -> Result<Part, ApiError> {
    Ok(match p {
        ChatContentPart::Text { text } => Part::text(text),
        ChatContentPart::Refusal { refusal } => Part::text(refusal),
        ChatContentPart::ImageUrl { image_url } => Part::Image {
            source: image_source_from_url(image_url.url)
                .ok_or_else(|| ApiError::invalid_field(format!("{field}.image_url.url"), "data URLs must be base64"))?,
        },
        ChatContentPart::InputAudio { input_audio } => Part::Audio { format: input_audio.format, data: input_audio.data },
        ChatContentPart::File { file } => match (file.file_data, file.file_id) {
            (Some(d), _) => match parse_data_url(&d) {
                Some((media_type, data)) => Part::Document {
                    source: DocumentSource::Base64 { media_type: media_type.into(), data: data.into() },
                    title: file.filename,
                },
                None => {
                    return Err(ApiError::invalid_field(format!("{field}.file.file_data"), "file_data must be a base64 data URL"))
                }
            },
            (None, Some(id)) => Part::FileRef { issuer: Protocol::OpenAiChat, file_id: id },
            (None, None) => return Err(ApiError::invalid_field(format!("{field}.file"), "file needs file_data or file_id")),
        },
    })
}

fn tool_choice_from_chat(v: &Value) -> Result<ToolChoice, ApiError> {
    let bad = || ApiError::invalid_field("tool_choice", "unsupported tool_choice");
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(bad()),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function") => o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .map(|n| ToolChoice::Tool(n.to_owned()))
                .ok_or_else(bad),
            Some("allowed_tools") => {
                let at = o.get("allowed_tools").ok_or_else(bad)?;
                let required = match at.get("mode").and_then(Value::as_str) {
                    Some("auto") | None => false,
                    Some("required") => true,
                    Some(_) => return Err(bad()),
                };
                let names = at
                    .get("tools")
                    .and_then(Value::as_array)
                    .ok_or_else(bad)?
                    .iter()
                    .map(|t| t.get("function").and_then(|f| f.get("name")).and_then(Value::as_str).map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(bad)?;
                Ok(ToolChoice::Allowed { names, required })
            }
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// Hub request → chat request body, for an OpenAI-compatible upstream.
pub fn ir_to_chat_request(req: &ir::Request) -> Result<Converted<Vec<u8>>, ApiError> {
    let Converted { value, warnings } = ir_to_chat(req)?;
    let body = serde_json::to_vec(&value)
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise chat request: {e}")))?;
    Ok(Converted { value: body, warnings })
}

/// Hub request → typed chat request. Streams always ask for usage upstream (trap #5).
pub fn ir_to_chat(req: &ir::Request) -> Result<Converted<ChatCompletionRequest>, ApiError> {
    // Only Gemini clients send several candidates or logprobs into the hub towards Chat.
    ir::refuse_stream_extras(req, "candidateCount", "responseLogprobs")?;
    let mut warnings = Vec::new();
    let mut messages = Vec::new();
    for b in &req.system {
        messages.push(ChatMessage::System { content: ChatContent::Text(b.text.clone()), name: None });
    }
    for (i, turn) in req.turns.iter().enumerate() {
        render_turn(turn, i, &mut messages, &mut warnings)?;
    }
    let mut out = ChatCompletionRequest {
        model: req.model.clone(),
        messages,
        max_completion_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        n: req.n,
        stop: (!req.stop.is_empty()).then(|| StopField::Many(req.stop.clone())),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        logprobs: req.logprobs,
        top_logprobs: req.top_logprobs,
        parallel_tool_calls: req.parallel_tool_calls,
        stream: req.stream.then_some(true),
        stream_options: req.stream.then_some(StreamOptions { include_usage: Some(true) }),
        user: req.metadata.user.clone(),
        metadata: (!req.metadata.tags.is_empty()).then(|| req.metadata.tags.clone()),
        ..Default::default()
    };
    if req.top_k.is_some() {
        warnings.push(Warning::FieldDropped { field: "top_k".into(), reason: "OpenAI Chat has no top_k" });
    }
    if !req.tools.is_empty() {
        out.tools = Some(
            req.tools
                .iter()
                .map(|t| ChatTool {
                    kind: "function".into(),
                    function: Some(ChatFunctionDef {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        parameters: Some(t.schema.clone()),
                        strict: t.strict,
                    }),
                })
                .collect(),
        );
    }
    out.tool_choice = req.tool_choice.as_ref().map(tool_choice_to_chat);
    out.response_format = req.response_format.as_ref().map(|f| match f {
        ResponseFormat::Text => ChatResponseFormat::Text,
        ResponseFormat::JsonObject => ChatResponseFormat::JsonObject,
        ResponseFormat::JsonSchema { name, description, schema, strict } => ChatResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: name.clone(),
                description: description.clone(),
                schema: Some(schema.clone()),
                strict: *strict,
            },
        },
    });
    out.reasoning_effort = req
        .reasoning
        .as_ref()
        .and_then(|r| r.effort_word_for(req.max_output_tokens, &mut warnings))
        .map(str::to_owned);
    apply_extra(&req.extra, Protocol::OpenAiChat, &mut out.extra, &mut warnings)?;
    Ok(Converted { value: out, warnings })
}

/// Copies `extra` back when it came from `target`; otherwise refuses answer-changing fields
/// (400) and drops the rest with a warning.
pub(crate) fn apply_extra(
    extra: &ir::Extra,
    target: Protocol,
    into: &mut Map<String, Value>,
    warnings: &mut Vec<Warning>,
) -> Result<(), ApiError> {
    if extra.source == Some(target) {
        into.extend(extra.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        return Ok(());
    }
    extra.refuse_or_drop(warnings)
}

fn tool_choice_to_chat(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Tool(name) => json!({"type":"function","function":{"name":name}}),
        ToolChoice::Allowed { names, required } => json!({
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": if *required { "required" } else { "auto" },
                "tools": names.iter().map(|n| json!({"type":"function","function":{"name":n}})).collect::<Vec<_>>(),
            }
        }),
    }
}

fn render_turn(turn: &Turn, i: usize, messages: &mut Vec<ChatMessage>, warnings: &mut Vec<Warning>) -> Result<(), ApiError> {
    match turn.role {
        Role::System => {
            let text = joined_text(&turn.parts);
            messages.push(ChatMessage::System { content: ChatContent::Text(text), name: None });
        }
        Role::User => {
            let content = content_for_chat(&turn.parts, i)?;
            messages.push(ChatMessage::User { content, name: None });
        }
        Role::Assistant => {
            let mut text = String::new();
            let mut calls = Vec::new();
            for p in &turn.parts {
                match p {
                    Part::Text { text: t } => text.push_str(t),
                    Part::ToolUse { id, name, input } => calls.push(ChatToolCall {
                        id: id.clone(),
                        kind: "function".into(),
                        function: ChatFunctionCall { name: name.clone(), arguments: super::chat_response::arguments_text(input) },
                    }),
                    // Reasoning cannot travel in Chat; the gateway keeps signatures server-side.
                    Part::Thinking { .. } | Part::RedactedThinking { .. } => {
                        let note = Warning::FieldDropped {
                            field: "reasoning history".into(),
                            reason: "OpenAI Chat cannot take earlier reasoning blocks",
                        };
                        if !warnings.contains(&note) {
                            warnings.push(note);
                        }
                    }
                    _ => {
                        return Err(ApiError::invalid_field(
                            format!("messages[{i}].content"),
                            "assistant turns sent to OpenAI Chat may only hold text and tool calls",
                        ))
                    }
                }
            }
            messages.push(ChatMessage::Assistant {
                content: (!text.is_empty() || calls.is_empty()).then_some(ChatContent::Text(text)),
                tool_calls: (!calls.is_empty()).then_some(calls),
                refusal: None,
                reasoning_content: None,
                name: None,
            });
        }
        Role::Tool => {
            // Chat tool messages carry text only; images from a result follow as a user turn.
            let mut media = Vec::new();
            for p in &turn.parts {
                let Part::ToolResult { tool_use_id, content, is_error, .. } = p else {
                    continue;
                };
                let mut text = if *is_error { String::from("Error: ") } else { String::new() };
                for c in content {
                    match c {
                        Part::Text { text: t } => text.push_str(t),
                        other => media.push(other.clone()),
                    }
                }
                messages.push(ChatMessage::Tool { content: ChatContent::Text(text), tool_call_id: tool_use_id.clone() });
            }
            if !media.is_empty() {
                media.insert(0, Part::text("Attachments returned by the tool calls above:"));
                messages.push(ChatMessage::User { content: content_for_chat(&media, i)?, name: None });
            }
        }
    }
    Ok(())
}

fn joined_text(parts: &[Part]) -> String {
    let mut s = String::new();
    for p in parts {
        if let Part::Text { text } = p {
            s.push_str(text);
        }
    }
    s
}

fn content_for_chat(parts: &[Part], i: usize) -> Result<ChatContent, ApiError> {
    if let [Part::Text { text }] = parts {
        return Ok(ChatContent::Text(text.clone()));
    }
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        let field = || format!("messages[{i}].content[{j}]");
        out.push(match p {
            Part::Text { text } => ChatContentPart::Text { text: text.clone() },
            Part::Image { source } => ChatContentPart::ImageUrl { image_url: ImageUrl { url: source.to_url(), detail: None } },
            Part::Document { source, title } => match source {
                DocumentSource::Base64 { media_type, data } => ChatContentPart::File {
                    file: FilePart { file_data: Some(data_url(media_type, data)), file_id: None, filename: title.clone() },
                },
                DocumentSource::Text(t) => ChatContentPart::Text { text: t.clone() },
                DocumentSource::Url(_) => {
                    return Err(ApiError::invalid_field(field(), "OpenAI Chat cannot take a document by URL"))
                }
            },
            Part::Audio { format, data } => {
                ChatContentPart::InputAudio { input_audio: InputAudio { data: data.clone(), format: format.clone() } }
            }
            Part::FileRef { issuer: Protocol::OpenAiChat | Protocol::OpenAiResponses, file_id } => {
                ChatContentPart::File { file: FilePart { file_data: None, file_id: Some(file_id.clone()), filename: None } }
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
    Ok(ChatContent::Parts(out))
}
