//! Anthropic Messages request ⇄ hub request (PROTOCOLS.md §3.1–§3.7).

use super::ids::anthropic_tool_id;
use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{
    self, CacheHint, ConvertOptions, Converted, DocumentSource, Effort, ImageSource, Part, Protocol, Reasoning, ResponseFormat,
    Role, SamplingField, SystemBlock, ToolChoice, Turn, Warning, ANSWER_ROOM,
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
        ApiError::new(ErrorClass::InvalidRequest, format!("invalid request body at `{path}`: {}", e.inner())).with_param(path)
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
    out.system = system_to_ir(req.system)?;
    out.turns = turns_to_ir(req.messages)?;
    out.max_output_tokens = req.max_tokens;
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.top_k = req.top_k;
    out.stop = req.stop_sequences.unwrap_or_default();
    out.stream = req.stream.unwrap_or(false);
    out.tools = tools_to_ir(req.tools.unwrap_or_default())?;
    if let Some(tc) = req.tool_choice {
        out.parallel_tool_calls = tc.disable_parallel_tool_use.map(|d| !d);
        out.tool_choice = Some(tool_choice_to_ir(tc)?);
    }
    let output_config = req.output_config.unwrap_or_default();
    out.reasoning = reasoning_to_ir(req.thinking, output_config.effort.as_deref())?;
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
        out.extra.answer_changing = req.extra.keys().filter(|k| ANSWER_CHANGING.contains(&k.as_str())).cloned().collect();
        out.extra.fields = req.extra;
    }
    Ok(out)
}

fn system_to_ir(system: Option<SystemField>) -> Result<Vec<SystemBlock>, ApiError> {
    match system {
        Some(SystemField::Text(t)) => Ok(vec![SystemBlock { text: t, cache: None }]),
        Some(SystemField::Blocks(blocks)) => blocks
            .into_iter()
            .enumerate()
            .map(|(j, b)| match b {
                ContentBlock::Text { text, cache_control } => Ok(SystemBlock { text, cache: cache_hint(&cache_control) }),
                _ => Err(ApiError::invalid_field(format!("system[{j}]"), "system blocks must be text")),
            })
            .collect(),
        None => Ok(Vec::new()),
    }
}

/// Messages → hub turns; tool results leave their user turn for a [`Role::Tool`] turn in place.
fn turns_to_ir(messages: Vec<Message>) -> Result<Vec<Turn>, ApiError> {
    let mut turns = Vec::with_capacity(messages.len());
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, msg) in messages.into_iter().enumerate() {
        let role = match msg.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "system" => Role::System,
            other => return Err(ApiError::invalid_field(format!("messages[{i}].role"), format!("unknown role `{other}`"))),
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
                    turns.push(std::mem::replace(&mut current, Turn::new(part_role, Vec::new())));
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
            turns.push(current);
        }
    }
    Ok(turns)
}

fn tools_to_ir(tools: Vec<Tool>) -> Result<Vec<ir::Tool>, ApiError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.into_iter().enumerate() {
        match t.kind.as_deref() {
            None | Some("custom") => {}
            Some(k) => {
                return Err(ApiError::invalid_field(
                    format!("tools[{i}].type"),
                    format!("server tool `{k}` cannot be sent to another provider"),
                ))
            }
        }
        out.push(ir::Tool {
            name: t.name,
            description: t.description,
            schema: t.input_schema.unwrap_or_else(|| json!({"type":"object","properties":{}})),
            strict: t.strict,
            cache: cache_hint(&t.cache_control),
        });
    }
    Ok(out)
}

fn tool_choice_to_ir(tc: ToolChoiceParam) -> Result<ToolChoice, ApiError> {
    Ok(match tc.kind.as_str() {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Tool(
            tc.name.ok_or_else(|| ApiError::invalid_field("tool_choice.name", "tool_choice `tool` needs a name"))?,
        ),
        other => return Err(ApiError::invalid_field("tool_choice.type", format!("unknown tool_choice type `{other}`"))),
    })
}

fn reasoning_to_ir(thinking: Option<ThinkingConfig>, effort: Option<&str>) -> Result<Option<Reasoning>, ApiError> {
    let effort = match effort {
        None => None,
        Some(e) => Some(
            Effort::parse(e).ok_or_else(|| ApiError::invalid_field("output_config.effort", format!("unknown effort `{e}`")))?,
        ),
    };
    Ok(match thinking {
        Some(t) => Some(match t.kind.as_str() {
            "enabled" => Reasoning::Budget(
                t.budget_tokens
                    .ok_or_else(|| ApiError::invalid_field("thinking.budget_tokens", "thinking `enabled` needs budget_tokens"))?,
            ),
            "disabled" => Reasoning::Off,
            "adaptive" => Reasoning::Adaptive(effort),
            other => return Err(ApiError::invalid_field("thinking.type", format!("unknown thinking type `{other}`"))),
        }),
        None => effort.map(Reasoning::Effort),
    })
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
        ContentBlock::Thinking { thinking, signature } => (Part::Thinking { text: thinking, signature: Some(signature) }, None),
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
    if req.n.is_some_and(|n| n > 1) {
        return Err(ApiError::invalid_field("n", "Anthropic models return one choice; `n` must be 1"));
    }
    if req.logprobs == Some(true) {
        return Err(ApiError::invalid_field("logprobs", "Anthropic models do not return log-probabilities"));
    }
    let mut w = Vec::new();
    let mut max_tokens = match req.max_output_tokens {
        Some(m) => m,
        None => {
            w.push(Warning::MaxTokensDefaulted(opts.default_max_tokens));
            opts.default_max_tokens
        }
    };
    let messages = render_messages(req, opts, &mut w)?;
    let mut out = MessagesRequest { model: req.model.clone(), messages, ..Default::default() };
    render_system(req, &mut out);
    let thinking_on = render_thinking(req, opts, &mut max_tokens, &mut out, &mut w)?;
    out.max_tokens = Some(max_tokens);
    let (tool_choice, only_tool) = relax_tool_choice(req.tool_choice.clone(), thinking_on, &mut w);
    render_sampling(req, opts, thinking_on, &mut out, &mut w);
    out.stop_sequences = (!req.stop.is_empty()).then(|| req.stop.clone());
    out.stream = req.stream.then_some(true);
    render_tools(req, tool_choice.as_ref(), only_tool.as_deref(), &mut out);
    if let Some(user) = &req.metadata.user {
        out.metadata = Some(RequestMetadata { user_id: Some(user.clone()) });
    }
    if !req.metadata.tags.is_empty() {
        w.push(Warning::FieldDropped { field: "metadata".into(), reason: "Anthropic metadata only holds user_id" });
    }
    let mut extra = Map::new();
    apply_extra(&req.extra, Protocol::Anthropic, &mut extra, &mut w)?;
    out.extra = extra;
    Ok(Converted { value: out, warnings: w })
}

/// True for text Anthropic rejects: empty or whitespace only (trap #19).
fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// The turns as Anthropic messages: same-role turns merged, empty ones left out. A
/// whitespace-only text block is dropped with a warning; a message left with nothing is
/// omitted (its neighbours merge), as Anthropic would refuse it.
fn render_messages(req: &ir::Request, opts: &ConvertOptions, w: &mut Vec<Warning>) -> Result<Vec<Message>, ApiError> {
    let mut ids = IdMap { warnings: w };
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
                if is_blank(&text) {
                    ids.warnings.push(Warning::WhitespaceTextDropped { field: format!("messages[{i}]") });
                } else if opts.anthropic_system_role {
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
                let blocks = assistant_blocks(turn, &field, &mut ids)?;
                mb.push("assistant", blocks);
            }
        }
    }
    Ok(mb.messages)
}

/// An assistant turn's blocks: signed thinking kept byte-exact, unsigned thinking dropped.
fn assistant_blocks(turn: &Turn, field: &dyn Fn(usize) -> String, ids: &mut IdMap<'_>) -> Result<Vec<ContentBlock>, ApiError> {
    let mut blocks = Vec::with_capacity(turn.parts.len());
    for (j, p) in turn.parts.iter().enumerate() {
        match p {
            Part::Thinking { text, signature: Some(sig) } if !sig.is_empty() => {
                blocks.push(ContentBlock::Thinking { thinking: text.clone(), signature: sig.clone() })
            }
            Part::Thinking { .. } => ids
                .warnings
                .push(Warning::FieldDropped { field: field(j), reason: "unsigned reasoning cannot be sent to Anthropic" }),
            Part::RedactedThinking { data } => blocks.push(ContentBlock::RedactedThinking { data: data.clone() }),
            Part::ToolUse { id, name, input } => blocks.push(ContentBlock::ToolUse {
                id: ids.map(id),
                name: name.clone(),
                input: if input.is_object() { input.clone() } else { json!({}) },
                cache_control: None,
            }),
            other => {
                if let Some(b) = part_to_block(other, &|| field(j), ids)? {
                    blocks.push(b);
                }
            }
        }
    }
    set_last_cache(&mut blocks, &turn.cache);
    Ok(blocks)
}

/// `system` blocks (whitespace-only ones left out) and the structured-output request.
fn render_system(req: &ir::Request, out: &mut MessagesRequest) {
    let mut system: Vec<ContentBlock> = req
        .system
        .iter()
        .filter(|b| !is_blank(&b.text))
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
}

/// Anthropic's smallest thinking budget.
const MIN_BUDGET: u32 = 1024;

/// Thinking (§3.6): an effort becomes a budget under `max_tokens`; a client's budget is kept
/// and `max_tokens` raised above it (to budget + [`ANSWER_ROOM`], capped by the model's
/// `max_output_tokens`; a 400 naming `thinking` when even the cap cannot hold it). Unsigned
/// tool history switches thinking off. Returns whether thinking is on.
fn render_thinking(
    req: &ir::Request,
    opts: &ConvertOptions,
    max_tokens: &mut u32,
    out: &mut MessagesRequest,
    w: &mut Vec<Warning>,
) -> Result<bool, ApiError> {
    let mut on = false;
    match &req.reasoning {
        None => {}
        Some(Reasoning::Off) => out.thinking = Some(ThinkingConfig { kind: "disabled".into(), budget_tokens: None }),
        Some(Reasoning::Adaptive(effort)) => {
            on = true;
            out.thinking = Some(ThinkingConfig { kind: "adaptive".into(), budget_tokens: None });
            if let Some(e) = effort {
                out.output_config.get_or_insert_with(OutputConfig::default).effort = Some(anthropic_effort(*e).into());
            }
        }
        Some(Reasoning::Effort(e)) => {
            if *max_tokens <= MIN_BUDGET {
                w.push(Warning::ThinkingDisabled("max_tokens leaves no room for the 1024-token minimum thinking budget"));
            } else {
                on = true;
                let budget = ((f64::from(*max_tokens) * e.budget_ratio()) as u32).clamp(MIN_BUDGET, *max_tokens - 1);
                out.thinking = Some(ThinkingConfig { kind: "enabled".into(), budget_tokens: Some(budget) });
            }
        }
        Some(Reasoning::Budget(b)) => {
            on = true;
            let budget = (*b).max(MIN_BUDGET);
            if budget != *b {
                w.push(Warning::ThinkingBudgetRaised { from: *b, to: budget });
            }
            *max_tokens = max_tokens_for_budget(budget, *max_tokens, opts.max_output_tokens, w)?;
            out.thinking = Some(ThinkingConfig { kind: "enabled".into(), budget_tokens: Some(budget) });
        }
    }
    if on && last_tool_turn_lacks_signature(&req.turns) {
        w.push(Warning::ThinkingDisabled("the last assistant tool call has no signed thinking block (trap #17)"));
        on = false;
        out.thinking = None;
        if let Some(c) = out.output_config.as_mut() {
            c.effort = None;
        }
    }
    Ok(on)
}

/// `max_tokens` for a thinking `budget`: kept when above it, else raised to budget +
/// [`ANSWER_ROOM`] within the model's `cap`. A budget the cap cannot hold is a 400.
fn max_tokens_for_budget(budget: u32, max_tokens: u32, cap: Option<u32>, w: &mut Vec<Warning>) -> Result<u32, ApiError> {
    if budget < max_tokens {
        return Ok(max_tokens);
    }
    let cap = cap.unwrap_or(u32::MAX);
    if budget >= cap {
        return Err(ApiError::invalid_field(
            "thinking",
            format!("a thinking budget of {budget} tokens does not fit this model's {cap} output tokens"),
        ));
    }
    let raised = budget.saturating_add(ANSWER_ROOM).min(cap);
    w.push(Warning::MaxTokensRaised { from: max_tokens, to: raised });
    Ok(raised)
}

/// With thinking on Anthropic refuses forced tool use: the choice becomes `auto` (a forced
/// single tool keeps only that tool on offer). Returns the choice and that tool.
fn relax_tool_choice(
    choice: Option<ToolChoice>,
    thinking_on: bool,
    w: &mut Vec<Warning>,
) -> (Option<ToolChoice>, Option<Vec<String>>) {
    const WHY: &str = "forced tool use + thinking → auto";
    if !thinking_on {
        return (choice, None);
    }
    match choice {
        Some(ToolChoice::Required) => {
            w.push(Warning::ToolChoiceRelaxed(WHY));
            (Some(ToolChoice::Auto), None)
        }
        Some(ToolChoice::Tool(name)) => {
            w.push(Warning::ToolChoiceRelaxed(WHY));
            (Some(ToolChoice::Auto), Some(vec![name]))
        }
        Some(ToolChoice::Allowed { names, required: true }) => {
            w.push(Warning::ToolChoiceRelaxed(WHY));
            (Some(ToolChoice::Allowed { names, required: false }), None)
        }
        other => (other, None),
    }
}

/// Sampling (§1.1 rule): clamp temperature, drop what the version or thinking refuses and
/// what Anthropic has no field for.
fn render_sampling(req: &ir::Request, opts: &ConvertOptions, thinking_on: bool, out: &mut MessagesRequest, w: &mut Vec<Warning>) {
    let dropped = |field: SamplingField, reason: &'static str| Warning::SamplingFieldDropped { field, reason };
    if opts.anthropic_rejects_sampling() {
        for (f, present) in [
            (SamplingField::Temperature, req.temperature.is_some()),
            (SamplingField::TopP, req.top_p.is_some()),
            (SamplingField::TopK, req.top_k.is_some()),
        ] {
            if present {
                w.push(dropped(f, "this anthropic-version refuses sampling fields"));
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
                w.push(dropped(SamplingField::Temperature, "Anthropic refuses temperature with thinking on"));
            }
            if out.top_k.take().is_some() {
                w.push(dropped(SamplingField::TopK, "Anthropic refuses top_k with thinking on"));
            }
        }
    }
    for (f, present) in [
        (SamplingField::Seed, req.seed.is_some()),
        (SamplingField::PresencePenalty, req.presence_penalty.is_some()),
        (SamplingField::FrequencyPenalty, req.frequency_penalty.is_some()),
    ] {
        if present {
            w.push(dropped(f, "Anthropic has no such field"));
        }
    }
    if req.top_logprobs.is_some() {
        w.push(Warning::FieldDropped { field: "top_logprobs".into(), reason: "Anthropic has no such field" });
    }
}

/// Tools and tool choice (§3.3): only the allowed tools are offered.
fn render_tools(req: &ir::Request, tool_choice: Option<&ToolChoice>, only_tool: Option<&[String]>, out: &mut MessagesRequest) {
    let allowed: Option<&[String]> = match tool_choice {
        Some(ToolChoice::Allowed { names, .. }) => Some(names),
        _ => only_tool,
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
    out.tool_choice = match tool_choice {
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
        Part::Text { text } if is_blank(text) => {
            ids.warnings.push(Warning::WhitespaceTextDropped { field: field() });
            return Ok(None);
        }
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
        Part::FileRef { issuer: Protocol::Anthropic, file_id } => {
            ContentBlock::Document { source: MediaSource::File { file_id: file_id.clone() }, title: None, cache_control: None }
        }
        Part::FileRef { .. } => return Err(ApiError::invalid_field(field(), "file ids cannot be used with another provider")),
        // Reasoning in a user turn has no meaning; signed reasoning is handled in assistant turns.
        Part::Thinking { .. } | Part::RedactedThinking { .. } => return Ok(None),
        Part::ToolUse { .. } => return Err(ApiError::invalid_field(field(), "tool calls belong in assistant turns")),
        Part::ToolResult { tool_use_id, content, is_error, .. } => {
            let mut blocks = Vec::with_capacity(content.len());
            for c in content {
                match c {
                    Part::Text { .. } | Part::Image { .. } | Part::Document { .. } => {
                        if let Some(b) = part_to_block(c, field, ids)? {
                            blocks.push(b);
                        }
                    }
                    _ => return Err(ApiError::invalid_field(field(), "tool results may only hold text, images and documents")),
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
