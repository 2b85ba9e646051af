//! Anthropic Messages response ⇄ hub response, stop reasons (§3.8) and usage (§2).

use super::types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, Block, FinishReason};
use crate::protocol::usage::Usage;
use serde_json::json;

/// Prefix of the ids Anthropic clients see (`msg_…`).
pub const MESSAGE_ID_PREFIX: &str = "msg_";

/// Anthropic usage → disjoint buckets. Input excludes cache; a write without the 5m/1h split
/// counts as 5m (trap #9), and any part of the total the split does not explain does too.
pub fn usage_from_anthropic(u: &AnthropicUsage) -> Usage {
    let creation = u.cache_creation_input_tokens.unwrap_or(0);
    let (w5m, w1h) = match &u.cache_creation {
        Some(c) => {
            let split = c.ephemeral_5m_input_tokens.saturating_add(c.ephemeral_1h_input_tokens);
            (c.ephemeral_5m_input_tokens.saturating_add(creation.saturating_sub(split)), c.ephemeral_1h_input_tokens)
        }
        None => (creation, 0),
    };
    Usage {
        in_base: u.input_tokens.unwrap_or(0),
        in_cache_read: u.cache_read_input_tokens.unwrap_or(0),
        in_cache_write_5m: w5m,
        in_cache_write_1h: w1h,
        out_total: u.output_tokens.unwrap_or(0),
        out_reasoning: u
            .output_tokens_details
            .as_ref()
            .and_then(|d| d.thinking_tokens)
            .unwrap_or(0)
            .min(u.output_tokens.unwrap_or(0)),
        ..Usage::default()
    }
}

/// Disjoint buckets → Anthropic usage (every field present, split included).
pub fn usage_to_anthropic(u: &Usage) -> AnthropicUsage {
    AnthropicUsage {
        input_tokens: Some(u.in_base.saturating_add(u.in_tool_use)),
        cache_creation_input_tokens: Some(u.cache_write_total()),
        cache_read_input_tokens: Some(u.in_cache_read),
        cache_creation: Some(CacheCreation {
            ephemeral_5m_input_tokens: u.in_cache_write_5m.saturating_add(u.in_cache_write_other),
            ephemeral_1h_input_tokens: u.in_cache_write_1h,
        }),
        output_tokens: Some(u.out_total),
        // Not written for clients: the breakdown is API 2.x only and older SDKs do not expect it.
        output_tokens_details: None,
    }
}

/// Merges a later usage report into a running one, field by field: the last reported value wins
/// and nothing is summed (message_delta usage is cumulative, trap #7).
pub fn merge_usage(running: &mut AnthropicUsage, later: &AnthropicUsage) {
    if later.input_tokens.is_some() {
        running.input_tokens = later.input_tokens;
    }
    if later.cache_creation_input_tokens.is_some() {
        running.cache_creation_input_tokens = later.cache_creation_input_tokens;
    }
    if later.cache_read_input_tokens.is_some() {
        running.cache_read_input_tokens = later.cache_read_input_tokens;
    }
    if later.cache_creation.is_some() {
        running.cache_creation.clone_from(&later.cache_creation);
    }
    if later.output_tokens.is_some() {
        running.output_tokens = later.output_tokens;
    }
    if let Some(t) = later.output_tokens_details.as_ref().and_then(|d| d.thinking_tokens) {
        running.output_tokens_details = Some(OutputTokensDetails { thinking_tokens: Some(t) });
    }
}

/// Anthropic `stop_reason` → hub.
pub fn finish_from_anthropic(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Hub → Anthropic `stop_reason`; a known stop sequence makes `stop_sequence`.
pub fn finish_to_anthropic(reason: &FinishReason, stop_sequence: Option<&str>) -> &'static str {
    match reason {
        FinishReason::Stop if stop_sequence.is_some() => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(raw) if raw == "pause_turn" => "pause_turn",
        FinishReason::Other(_) => "end_turn",
    }
}

/// Upstream Anthropic message body → hub response. Server-tool blocks are skipped (their
/// results reach the answer as text); signatures are kept byte-exact.
pub fn anthropic_response_to_ir(body: &[u8]) -> Result<ir::Response, ApiError> {
    let m: MessagesResponse = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("upstream returned an unreadable Anthropic message: {e}")).with_status(502)
    })?;
    Ok(message_to_ir(m))
}

/// Typed message → hub response.
pub fn message_to_ir(m: MessagesResponse) -> ir::Response {
    let mut blocks = Vec::with_capacity(m.content.len());
    for b in m.content {
        match b {
            ContentBlock::Text { text, .. } => blocks.push(Block::Text(text)),
            ContentBlock::Thinking { thinking, signature } => {
                blocks.push(Block::Thinking { text: thinking, signature: Some(signature) })
            }
            ContentBlock::RedactedThinking { data } => blocks.push(Block::RedactedThinking(data)),
            ContentBlock::ToolUse { id, name, input, .. } => {
                blocks.push(Block::ToolUse { id, name, input: if input.is_null() { json!({}) } else { input } })
            }
            _ => {}
        }
    }
    ir::Response {
        id: m.id,
        model: m.model,
        blocks,
        finish: m.stop_reason.as_deref().map(finish_from_anthropic).unwrap_or_default(),
        raw_finish_reason: m.stop_reason.clone(),
        stop_sequence: m.stop_sequence,
        usage: usage_from_anthropic(&m.usage),
        ..Default::default()
    }
}

/// Hub response → typed Anthropic message for an Anthropic client. Empty text is dropped
/// (trap #19); unsigned thinking (from OpenAI upstreams) gets an empty signature.
pub fn ir_to_message(resp: &ir::Response) -> MessagesResponse {
    let mut content = Vec::with_capacity(resp.blocks.len());
    for b in &resp.blocks {
        content.push(match b {
            Block::Text(t) if t.is_empty() => continue,
            Block::Text(t) => ContentBlock::Text { text: t.clone(), cache_control: None },
            Block::Thinking { text, signature } => {
                ContentBlock::Thinking { thinking: text.clone(), signature: signature.clone().unwrap_or_default() }
            }
            Block::RedactedThinking(data) => ContentBlock::RedactedThinking { data: data.clone() },
            Block::ToolUse { id, name, input } => {
                ContentBlock::ToolUse { id: id.clone(), name: name.clone(), input: input.clone(), cache_control: None }
            }
        });
    }
    MessagesResponse {
        id: ir::client_response_id(MESSAGE_ID_PREFIX, &resp.id, ""),
        kind: "message".into(),
        role: "assistant".into(),
        content,
        model: resp.model.clone(),
        stop_reason: Some(finish_to_anthropic(&resp.finish, resp.stop_sequence.as_deref()).into()),
        stop_sequence: resp.stop_sequence.clone(),
        usage: usage_to_anthropic(&resp.usage),
    }
}

/// Hub response → Anthropic message body.
pub fn ir_to_anthropic_response(resp: &ir::Response) -> Vec<u8> {
    // Serialising plain data into memory cannot fail.
    serde_json::to_vec(&ir_to_message(resp)).unwrap_or_default()
}
