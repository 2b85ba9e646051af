//! Anthropic Messages request ⇄ hub request (PROTOCOLS.md §3.1–§3.7).

use super::ids::anthropic_tool_id;
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, CacheHint, ConvertOptions, Converted, DocumentSource, Effort, ImageSource, Part, Protocol, Reasoning,
    ResponseFormat, Role, SystemBlock, ToolChoice, Turn, Warning,
};
use crate::protocol::openai::chat_request::apply_extra;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Anthropic-only fields that change what the answer is; another protocol must refuse them.
const ANSWER_CHANGING: &[&str] = &["mcp_servers", "container"];

/// Image media types Anthropic accepts inline (§3.2).
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The instruction appended to `system` for `json_object` output (§3.7: Anthropic has no mode).
pub const JSON_OBJECT_INSTRUCTION: &str = "Respond with a single valid JSON object and nothing else.";

/// Parses a Messages request body, naming the offending field path in the 400.
pub fn parse_messages_request(body: &[u8]) -> Result<MessagesRequest, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {}", e.inner()))
            .with_param(path)
    })
}

/// Messages request body → hub request.
pub fn anthropic_request_to_ir(body: &[u8]) -> Result<ir::Request, ApiError> {
    messages_to_ir(parse_messages_request(body)?)
}

fn cache_hint(c: &Option<CacheControl>) -> Option<CacheHint> {
    c.as_ref().map(|c| CacheHint { ttl: c.ttl.clone() })
}

/// Typed Messages request → hub request. Tool results are split out of user turns into
/// [`Role::Tool`] turns (in place), and each result gets its call's name recovered.
pub fn messages_to_ir(req: MessagesRequest) -> Result<ir::Request, ApiError> {
    let mut out = ir::Request { model: req.model, ..Default::default() };
    match req.system {
        Some(SystemField::Text(t)) => out.system.push(SystemBlock { text: t, cache: None }),
        Some(SystemField::Blocks(blocks)) => {
            for (j, b) in blocks.into_iter().enumerate() {
                match b {
                    ContentBlock::Text { text, cache_control } => {
                        out.system.push(SystemBlock { text, cache: cache_hint(&cache_control) })
                    }
                    _ => return Err(ApiError::invalid_field(format!("system[{j}]"), "system blocks must be text")),
                }
            }
        }
        None => {}
    }
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, msg) in req.messages.into_iter().enumerate() {
        let role = match msg.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            other => {
                return Err(ApiError::invalid_field(format!("messages[{i}].role"), format!("unknown role `{other}`")))
            }
        };
        let blocks = match msg.content {
            MessageContent::Text(t) => vec![ContentBlock::Text { text: t, cache_control: None }],
            MessageContent::Blocks(b) => b,
        };
        let mut current = Turn::new(role, Vec::new());
        for (j, b) in blocks.into_iter().enumerate() {
            let field = || format!("messages[{i}].content[{j}]");
            let (part, cache) = block_to_part(b, &field, &mut names)?;
            let part_role = if matches!(part, Part::ToolResult { .. }) { Role::Tool } else { role };
            if part_role != current.role {
                if !current.parts.is_empty() {
                    out.turns.push(std::mem::replace(&mut current, Turn::new(part_role, Vec::new())));
                } else {
                    current.role = part_role;
                }
            }
            current.parts.push(part);
            if cache.is_some() {
                current.cache = cache;
            }
        }
        if !current.parts.is_empty() {
            out.turns.push(current);
        }
    }
    out.max_output_tokens = req.max_tokens;
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.top_k = req.top_k;
    out.stop = req.stop_sequences.unwrap_or_default();
    out.stream = req.stream.unwrap_or(false);
    for (i, t) in req.tools.unwrap_or_default().into_iter().enumerate() {
        match t.kind.as_deref() {
            None | Some("custom") => {}
            Some(k) => {
                return Err(ApiError::invalid_field(
                    format!("tools[{i}].type"),
                    format!("server tool `{k}` cannot be sent to another provider"),
                ))
            }
        }
        out.tools.push(ir::Tool {
            name: t.name,
            description: t.description,
            schema: t.input_schema.unwrap_or_else(|| json!({"type":"object","properties":{}})),
            strict: t.strict,
            cache: cache_hint(&t.cache_control),
        });
    }
    if let Some(tc) = req.tool_choice {
        out.tool_choice = Some(match tc.kind.as_str() {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Tool(
                tc.name.ok_or_else(|| ApiError::invalid_field("tool_choice.name", "tool_choice `tool` needs a name"))?,
            ),
            other => {
                return Err(ApiError::invalid_field("tool_choice.type", format!("unknown tool_choice type `{other}`")))
            }
        });
        out.parallel_tool_calls = tc.disable_parallel_tool_use.map(|d| !d);
    }
    let output_config = req.output_config.unwrap_or_default();
    let effort = match output_config.effort.as_deref() {
        None => None,
        Some(e) => Some(
            Effort::parse(e)
                .ok_or_else(|| ApiError::invalid_field("output_config.effort", format!("unknown effort `{e}`")))?,
        ),
    };
    out.reasoning = match req.thinking {
        Some(t) => Some(match t.kind.as_str() {
            "enabled" => Reasoning::Budget(t.budget_tokens.ok_or_else(|| {
                ApiError::invalid_field("thinking.budget_tokens", "thinking `enabled` needs budget_tokens")
            })?),
            "disabled" => Reasoning::Off,
            "adaptive" => Reasoning::Adaptive(effort),
            other => {
                return Err(ApiError::invalid_field("thinking.type", format!("unknown thinking type `{other}`")))
            }
        }),
        None => effort.map(Reasoning::Effort),
    };
    if let Some(f) = output_config.format.or(req.output_format) {
        if f.kind != "json_schema" {
            return Err(ApiError::invalid_field("output_config.format.type", format!("unknown format `{}`", f.kind)));
        }
        out.response_format = Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            description: None,
            schema: f.schema.unwrap_or_else(|| json!({})),
            strict: Some(true),
        });
    }
    out.metadata.user = req.metadata.and_then(|m| m.user_id);
    if !req.extra.is_empty() {
        out.extra.source = Some(Protocol::Anthropic);
        out.extra.answer_changing =
            req.extra.keys().filter(|k| ANSWER_CHANGING.contains(&k.as_str())).cloned().collect();
        out.extra.fields = req.extra;
    }
    Ok(out)
}

fn media_to_image(source: MediaSource, field: &dyn Fn() -> String) -> Result<Part, ApiError> {
    Ok(match source {
        MediaSource::Base64 { media_type, data } => Part::Image { source: ImageSource::Base64 { media_type, data } },
        MediaSource::Url { url } => Part::Image { source: ImageSource::Url(url) },
        MediaSource::File { file_id } => Part::FileRef { issuer: Protocol::Anthropic, file_id },
        MediaSource::Text { .. } => {
            return Err(ApiError::invalid_field(format!("{}.source", field()), "an image cannot have a text source"))
        }
    })
}

fn block_to_part(
    b: ContentBlock,
    field: &dyn Fn() -> String,
    names: &mut HashMap<String, String>,
) -> Result<(Part, Option<CacheHint>), ApiError> {
    Ok(match b {
        ContentBlock::Text { text, cache_control } => (Part::Text { text }, cache_hint(&cache_control)),
        ContentBlock::Image { source, cache_control } => (media_to_image(source, field)?, cache_hint(&cache_control)),
        ContentBlock::Document { source, title, cache_control } => {
            let source = match source {
                MediaSource::Base64 { media_type, data } => DocumentSource::Base64 { media_type, data },
                MediaSource::Url { url } => DocumentSource::Url(url),
                MediaSource::Text { data, .. } => DocumentSource::Text(data),
                MediaSource::File { file_id } => {
                    return Ok((Part::FileRef { issuer: Protocol::Anthropic, file_id }, cache_hint(&cache_control)))
                }
            };
            (Part::Document { source, title }, cache_hint(&cache_control))
        }
        ContentBlock::Thinking { thinking, signature } => {
            (Part::Thinking { text: thinking, signature: Some(signature) }, None)
        }
        ContentBlock::RedactedThinking { data } => (Part::RedactedThinking { data }, None),
        ContentBlock::ToolUse { id, name, input, cache_control } => {
            names.insert(id.clone(), name.clone());
            let input = if input.is_null() { json!({}) } else { input };
            (Part::ToolUse { id, name, input }, cache_hint(&cache_control))
        }
        ContentBlock::ToolResult { tool_use_id, content, is_error, cache_control } => {
            let content = match content {
                None => Vec::new(),
                Some(ToolResultContent::Text(t)) => vec![Part::text(t)],
                Some(ToolResultContent::Blocks(bs)) => {
                    let mut parts = Vec::with_capacity(bs.len());
                    for b in bs {
                        match b {
                            ContentBlock::ToolResult { .. } | ContentBlock::ToolUse { .. } => {
                                return Err(ApiError::invalid_field(
                                    format!("{}.content", field()),
                                    "tool_result content cannot nest tool blocks",
                                ))
                            }
                            other => parts.push(block_to_part(other, field, names)?.0),
                        }
                    }
                    parts
                }
            };
            let name = names.get(&tool_use_id).cloned();
            (Part::ToolResult { tool_use_id, name, content, is_error: is_error.unwrap_or(false) }, cache_hint(&cache_control))
        }
        ContentBlock::Unsupported => {
            return Err(ApiError::invalid_field(field(), "this content block type cannot be sent to another provider"))
        }
    })
}

/// Hub request → Messages body for an Anthropic upstream.
pub fn ir_to_anthropic_request(req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    let Converted { value, warnings } = ir_to_messages(req, opts)?;
    let body = serde_json::to_vec(&value)
        .map_err(|e| ApiError::new(ErrorClass::Server, format!("could not serialise Anthropic request: {e}")))?;
    Ok(Converted { value: body, warnings })
}

/// Builds the message list, merging same-role turns and dropping empty ones (§3.1, trap #19).
struct MessageBuilder {
    messages: Vec<Message>,
}

impl MessageBuilder {
    fn push(&mut self, role: &str, blocks: Vec<ContentBlock>) {
        if blocks.is_empty() {
            return;
        }
        if let Some(Message { role: r, content: MessageContent::Blocks(prev) }) = self.messages.last_mut() {
            if r == role {
                // Tool results must lead a user turn: they go before earlier user text.
                let results_first = blocks.iter().all(|b| matches!(b, ContentBlock::ToolResult { .. }));
                if results_first && role == "user" {
                    let at = prev.iter().take_while(|b| matches!(b, ContentBlock::ToolResult { .. })).count();
                    prev.splice(at..at, blocks);
                } else {
                    prev.extend(blocks);
                }
                return;
            }
        }
        self.messages.push(Message { role: role.into(), content: MessageContent::Blocks(blocks) });
    }
}

fn cache_control(h: &Option<CacheHint>) -> Option<CacheControl> {
    h.as_ref().map(|h| CacheControl { kind: "ephemeral".into(), ttl: h.ttl.clone() })
}

/// Puts a turn's cache hint on its last block that can carry one.
fn set_last_cache(blocks: &mut [ContentBlock], hint: &Option<CacheHint>) {
    if hint.is_none() {
        return;
    }
    for b in blocks.iter_mut().rev() {
        match b {
            ContentBlock::Text { cache_control, .. }
            | ContentBlock::Image { cache_control, .. }
            | ContentBlock::Document { cache_control, .. }
            | ContentBlock::ToolUse { cache_control, .. }
            | ContentBlock::ToolResult { cache_control, .. } => {
                *cache_control = self::cache_control(hint);
                return;
            }
            _ => {}
        }
    }
}

/// Hub request → typed Messages request. Refuses (400) what Anthropic cannot do: `n > 1`,
/// `logprobs`, audio input, foreign file ids, answer-changing foreign fields.
pub fn ir_to_messages(req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<MessagesRequest>, ApiError> {
    let mut w = Vec::new();
    if req.n.is_some_and(|n| n > 1) {
        return Err(ApiError::invalid_field("n", "Anthropic models return one choice; `n` must be 1"));
    }
    if req.logprobs == Some(true) {
        return Err(ApiError::invalid_field("logprobs", "Anthropic models do not return log-probabilities"));
    }
    let max_tokens = match req.max_output_tokens {
        Some(m) => m,
        None => {
            w.push(Warning::MaxTokensDefaulted(opts.default_max_tokens));
            opts.default_max_tokens
        }
    };
    let mut ids = IdMap { warnings: &mut w };
    let mut mb = MessageBuilder { messages: Vec::new() };
    for (i, turn) in req.turns.iter().enumerate() {
        let field = |j: usize| format!("messages[{i}].content[{j}]");
        match turn.role {
            Role::System => {
                let text: String = turn
                    .parts
                    .iter()
                    .filter_map(|p| if let Part::Text { text } = p { Some(text.as_str()) } else { None })
                    .collect();
                if opts.anthropic_system_role {
                    mb.push("system", vec![ContentBlock::Text { text, cache_control: None }]);
                } else {
                    mb.push("user", vec![ContentBlock::Text { text: format!("<system>{text}</system>"), cache_control: None }]);
                }
            }
            Role::User | Role::Tool => {
                let mut blocks = Vec::with_capacity(turn.parts.len());
                for (j, p) in turn.parts.iter().enumerate() {
                    if let Some(b) = part_to_block(p, &|| field(j), &mut ids)? {
                        blocks.push(b);
                    }
                }
                set_last_cache(&mut blocks, &turn.cache);
                mb.push("user", blocks);
            }
            Role::Assistant => {
                let mut blocks = Vec::with_capacity(turn.parts.len());
                for (j, p) in turn.parts.iter().enumerate() {
                    match p {
                        Part::Thinking { text, signature: Some(sig) } if !sig.is_empty() => {
                            blocks.push(ContentBlock::Thinking { thinking: text.clone(), signature: sig.clone() })
                        }
                        Part::Thinking { .. } => ids.warnings.push(Warning::FieldDropped {
                            field: field(j),
                            reason: "unsigned reasoning cannot be sent to Anthropic",
                        }),
                        Part::RedactedThinking { data } => blocks.push(ContentBlock::RedactedThinking { data: data.clone() }),
                        Part::ToolUse { id, name, input } => blocks.push(ContentBlock::ToolUse {
                            id: ids.map(id),
                            name: name.clone(),
                            input: if input.is_object() { input.clone() } else { json!({}) },
                            cache_control: None,
                        }),
                        other => {
                            if let Some(b) = part_to_block(other, &|| field(j), &mut ids)? {
                                blocks.push(b);
                            }
                        }
                    }
                }
                set_last_cache(&mut blocks, &turn.cache);
                mb.push("assistant", blocks);
            }
        }
    }
    let mut out = MessagesRequest { model: req.model.clone(), max_tokens: Some(max_tokens), ..Default::default() };

    let mut system: Vec<ContentBlock> = req
        .system
        .iter()
        .filter(|b| !b.text.is_empty())
        .map(|b| ContentBlock::Text { text: b.text.clone(), cache_control: cache_control(&b.cache) })
        .collect();
    match &req.response_format {
        Some(ResponseFormat::JsonObject) => {
            system.push(ContentBlock::Text { text: JSON_OBJECT_INSTRUCTION.into(), cache_control: None })
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            out.output_config = Some(OutputConfig {
                format: Some(OutputFormat { kind: "json_schema".into(), schema: Some(schema.clone()) }),
                effort: None,
            })
        }
        Some(ResponseFormat::Text) | None => {}
    }
    if !system.is_empty() {
        out.system = Some(SystemField::Blocks(system));
    }

    // Thinking (§3.6): effort → budget; forced tools and unsigned tool history switch it off/down.
    let mut thinking_on = false;
    let mut tool_choice = req.tool_choice.clone();
    let mut only_tool: Option<Vec<String>> = None;
    match &req.reasoning {
        None => {}
        Some(Reasoning::Off) => out.thinking = Some(ThinkingConfig { kind: "disabled".into(), budget_tokens: None }),
        Some(Reasoning::Adaptive(effort)) => {
            thinking_on = true;
            out.thinking = Some(ThinkingConfig { kind: "adaptive".into(), budget_tokens: None });
            if let Some(e) = effort {
                out.output_config.get_or_insert_with(OutputConfig::default).effort = Some(anthropic_effort(*e).into());
            }
        }
        Some(r @ (Reasoning::Effort(_) | Reasoning::Budget(_))) => {
            let wanted = match r {
                Reasoning::Effort(e) => (f64::from(max_tokens) * e.budget_ratio()) as u32,
                Reasoning::Budget(b) => *b,
                _ => 0,
            };
            if max_tokens <= 1024 {
                w.push(Warning::ThinkingDisabled("max_tokens leaves no room for the 1024-token minimum thinking budget"));
            } else {
                thinking_on = true;
                let budget = wanted.clamp(1024, max_tokens - 1);
                out.thinking = Some(ThinkingConfig { kind: "enabled".into(), budget_tokens: Some(budget) });
            }
        }
    }
    if thinking_on && last_tool_turn_lacks_signature(&req.turns) {
        w.push(Warning::ThinkingDisabled("the last assistant tool call has no signed thinking block (trap #17)"));
        thinking_on = false;
        out.thinking = None;
        if let Some(c) = out.output_config.as_mut() {
            c.effort = None;
        }
    }
    if thinking_on {
        match &tool_choice {
            Some(ToolChoice::Required) => {
                w.push(Warning::FieldDropped { field: "tool_choice".into(), reason: "forced tool use + thinking → auto" });
                tool_choice = Some(ToolChoice::Auto);
            }
            Some(ToolChoice::Tool(name)) => {
                w.push(Warning::FieldDropped { field: "tool_choice".into(), reason: "forced tool use + thinking → auto" });
                only_tool = Some(vec![name.clone()]);
                tool_choice = Some(ToolChoice::Auto);
            }
            Some(ToolChoice::Allowed { names, required: true }) => {
                w.push(Warning::FieldDropped { field: "tool_choice".into(), reason: "forced tool use + thinking → auto" });
                tool_choice = Some(ToolChoice::Allowed { names: names.clone(), required: false });
            }
            _ => {}
        }
    }

    // Sampling (§1.1 rule): clamp temperature, drop what the version or thinking refuses.
    let drop_sampling = |field: &str, reason: &'static str, w: &mut Vec<Warning>| {
        w.push(Warning::FieldDropped { field: field.into(), reason });
    };
    if opts.anthropic_rejects_sampling() {
        for (f, present) in [("temperature", req.temperature.is_some()), ("top_p", req.top_p.is_some()), ("top_k", req.top_k.is_some())] {
            if present {
                drop_sampling(f, "this anthropic-version refuses sampling fields", &mut w);
            }
        }
    } else {
        out.top_p = req.top_p;
        out.temperature = req.temperature.map(|t| {
            if t > 1.0 {
                w.push(Warning::TemperatureClamped { from: t, to: 1.0 });
                1.0
            } else {
                t
            }
        });
        out.top_k = req.top_k;
        if thinking_on {
            if out.temperature.take().is_some() {
                drop_sampling("temperature", "Anthropic refuses temperature with thinking on", &mut w);
            }
            if out.top_k.take().is_some() {
                drop_sampling("top_k", "Anthropic refuses top_k with thinking on", &mut w);
            }
        }
    }
    for (f, present) in [
        ("seed", req.seed.is_some()),
        ("presence_penalty", req.presence_penalty.is_some()),
        ("frequency_penalty", req.frequency_penalty.is_some()),
        ("top_logprobs", req.top_logprobs.is_some()),
    ] {
        if present {
            drop_sampling(f, "Anthropic has no such field", &mut w);
        }
    }
    out.stop_sequences = (!req.stop.is_empty()).then(|| req.stop.clone());
    out.stream = req.stream.then_some(true);

    // Tools and tool choice (§3.3).
    let allowed: Option<&Vec<String>> = match &tool_choice {
        Some(ToolChoice::Allowed { names, .. }) => Some(names),
        _ => only_tool.as_ref(),
    };
    let tools: Vec<Tool> = req
        .tools
        .iter()
        .filter(|t| allowed.is_none_or(|names| names.contains(&t.name)))
        .map(|t| Tool {
            kind: None,
            name: t.name.clone(),
            description: t.description.clone(),
            input_schema: Some(object_schema(&t.schema)),
            strict: t.strict,
            cache_control: cache_control(&t.cache),
        })
        .collect();
    if !tools.is_empty() {
        out.tools = Some(tools);
    }
    let disable_parallel = req.parallel_tool_calls.map(|p| !p);
    out.tool_choice = match &tool_choice {
        None => disable_parallel.filter(|d| *d).map(|_| choice("auto", None, Some(true))),
        Some(ToolChoice::Auto) => Some(choice("auto", None, disable_parallel)),
        Some(ToolChoice::None) => Some(choice("none", None, None)),
        Some(ToolChoice::Required) => Some(choice("any", None, disable_parallel)),
        Some(ToolChoice::Tool(n)) => Some(choice("tool", Some(n.clone()), disable_parallel)),
        Some(ToolChoice::Allowed { required, .. }) => {
            Some(choice(if *required { "any" } else { "auto" }, None, disable_parallel))
        }
    };
    if out.tools.is_none() && matches!(out.tool_choice.as_ref().map(|c| c.kind.as_str()), Some("auto" | "any" | "tool")) {
        out.tool_choice = None;
    }

    if let Some(user) = &req.metadata.user {
        out.metadata = Some(RequestMetadata { user_id: Some(user.clone()) });
    }
    if !req.metadata.tags.is_empty() {
        w.push(Warning::FieldDropped { field: "metadata".into(), reason: "Anthropic metadata only holds user_id" });
    }
    out.messages = mb.messages;
    let mut extra = Map::new();
    apply_extra(&req.extra, Protocol::Anthropic, &mut extra, &mut w)?;
    out.extra = extra;
    Ok(Converted { value: out, warnings: w })
}

fn choice(kind: &str, name: Option<String>, disable_parallel: Option<bool>) -> ToolChoiceParam {
    ToolChoiceParam { kind: kind.into(), name, disable_parallel_tool_use: disable_parallel }
}

/// Anthropic has no `minimal`/`xhigh` effort: use the nearest level.
fn anthropic_effort(e: Effort) -> &'static str {
    match e {
        Effort::Minimal | Effort::Low => "low",
        Effort::Medium => "medium",
        Effort::High => "high",
        Effort::XHigh | Effort::Max => "max",
    }
}

/// `input_schema` must be an object schema; a schema without `type` gets `"object"`.
fn object_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(o) if o.contains_key("type") => schema.clone(),
        Value::Object(o) => {
            let mut o = o.clone();
            o.insert("type".into(), json!("object"));
            Value::Object(o)
        }
        _ => json!({"type":"object","properties":{}}),
    }
}

/// True when the last assistant turn calls tools without starting with signed thinking: with
/// thinking on, Anthropic refuses that history (trap #17) unless the gateway re-injected it.
fn last_tool_turn_lacks_signature(turns: &[Turn]) -> bool {
    let Some(turn) = turns.iter().rev().find(|t| t.role == Role::Assistant) else {
        return false;
    };
    if !turn.parts.iter().any(|p| matches!(p, Part::ToolUse { .. })) {
        return false;
    }
    match turn.parts.first() {
        Some(Part::Thinking { signature: Some(s), .. }) => s.is_empty(),
        Some(Part::RedactedThinking { .. }) => false,
        _ => true,
    }
}

/// Rewrites tool ids to Anthropic's alphabet, noting each rewrite once.
struct IdMap<'a> {
    warnings: &'a mut Vec<Warning>,
}

impl IdMap<'_> {
    fn map(&mut self, id: &str) -> String {
        let mapped = anthropic_tool_id(id).into_owned();
        if mapped != id {
            let note = Warning::ToolIdRewritten { from: id.to_owned(), to: mapped.clone() };
            if !self.warnings.contains(&note) {
                self.warnings.push(note);
            }
        }
        mapped
    }
}

fn part_to_block(p: &Part, field: &dyn Fn() -> String, ids: &mut IdMap<'_>) -> Result<Option<ContentBlock>, ApiError> {
    Ok(Some(match p {
        Part::Text { text } if text.is_empty() => return Ok(None),
        Part::Text { text } => ContentBlock::Text { text: text.clone(), cache_control: None },
        Part::Image { source } => ContentBlock::Image {
            source: match source {
                ImageSource::Url(url) => MediaSource::Url { url: url.clone() },
                ImageSource::Base64 { media_type, data } => {
                    if !IMAGE_TYPES.contains(&media_type.as_str()) {
                        return Err(ApiError::invalid_field(
                            field(),
                            format!("image type `{media_type}` is not supported (jpeg, png, gif, webp)"),
                        ));
                    }
                    MediaSource::Base64 { media_type: media_type.clone(), data: data.clone() }
                }
            },
            cache_control: None,
        },
        Part::Document { source, title } => ContentBlock::Document {
            source: match source {
                DocumentSource::Base64 { media_type, data } if media_type == "application/pdf" => {
                    MediaSource::Base64 { media_type: media_type.clone(), data: data.clone() }
                }
                DocumentSource::Base64 { media_type, .. } => {
                    return Err(ApiError::invalid_field(
                        field(),
                        format!("document type `{media_type}` is not supported inline (application/pdf only)"),
                    ))
                }
                DocumentSource::Url(url) => MediaSource::Url { url: url.clone() },
                DocumentSource::Text(t) => MediaSource::Text { media_type: "text/plain".into(), data: t.clone() },
            },
            title: title.clone(),
            cache_control: None,
        },
        Part::Audio { .. } => return Err(ApiError::invalid_field(field(), "Anthropic models do not accept audio input")),
        Part::FileRef { issuer: Protocol::Anthropic, file_id } => ContentBlock::Document {
            source: MediaSource::File { file_id: file_id.clone() },
            title: None,
            cache_control: None,
        },
        Part::FileRef { .. } => {
            return Err(ApiError::invalid_field(field(), "file ids cannot be used with another provider"))
        }
        // Reasoning in a user turn has no meaning; signed reasoning is handled in assistant turns.
        Part::Thinking { .. } | Part::RedactedThinking { .. } => return Ok(None),
        Part::ToolUse { .. } => {
            return Err(ApiError::invalid_field(field(), "tool calls belong in assistant turns"))
        }
        Part::ToolResult { tool_use_id, content, is_error, .. } => {
            let mut blocks = Vec::with_capacity(content.len());
            for c in content {
                match c {
                    Part::Text { .. } | Part::Image { .. } | Part::Document { .. } => {
                        if let Some(b) = part_to_block(c, field, ids)? {
                            blocks.push(b);
                        }
                    }
                    _ => {
                        return Err(ApiError::invalid_field(
                            field(),
                            "tool results may only hold text, images and documents",
                        ))
                    }
                }
            }
            let content = match blocks.as_slice() {
                [] => None,
                [ContentBlock::Text { text, .. }] => Some(ToolResultContent::Text(text.clone())),
                _ => Some(ToolResultContent::Blocks(blocks)),
            };
            ContentBlock::ToolResult {
                tool_use_id: ids.map(tool_use_id),
                content,
                is_error: is_error.then_some(true),
                cache_control: None,
            }
        }
    }))
}
