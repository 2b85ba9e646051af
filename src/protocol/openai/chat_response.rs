//! OpenAI Chat Completions response ⇄ hub response, finish reasons and usage (§2, §3.8).

use super::chat_types::*;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, parse_arguments, Block, Choice, ConvertOptions, FinishReason, TokenLogprob};

/// Prefix of the ids Chat clients see (`chatcmpl-…`).
pub const CHAT_ID_PREFIX: &str = "chatcmpl-";
use crate::protocol::usage::Usage;
use serde_json::Value;

/// Chat `usage` → disjoint buckets: prompt includes cached and written tokens (§2).
pub fn usage_from_chat(u: &ChatUsage) -> Usage {
    let details = u.prompt_tokens_details.clone().unwrap_or_default();
    let read = details.cached_tokens.unwrap_or(0);
    let write = details.cache_write_tokens.unwrap_or(0);
    let reasoning = u.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens).unwrap_or(0);
    Usage {
        in_base: u.prompt_tokens.saturating_sub(read.saturating_add(write)),
        in_cache_read: read,
        in_cache_write_other: write,
        out_total: u.completion_tokens,
        out_reasoning: reasoning.min(u.completion_tokens),
        ..Usage::default()
    }
}

/// Disjoint buckets → chat `usage`: every input bucket counts into `prompt_tokens`.
pub fn usage_to_chat(u: &Usage) -> ChatUsage {
    let writes = u.cache_write_total();
    ChatUsage {
        prompt_tokens: u.input_total(),
        completion_tokens: u.out_total,
        total_tokens: u.total(),
        prompt_tokens_details: Some(PromptTokensDetails {
            cached_tokens: Some(u.in_cache_read),
            cache_write_tokens: (writes > 0).then_some(writes),
        }),
        completion_tokens_details: Some(CompletionTokensDetails { reasoning_tokens: Some(u.out_reasoning) }),
    }
}

/// Chat `finish_reason` → hub.
pub fn finish_from_chat(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Hub → chat `finish_reason` (unknown reasons become `stop`, §3.8 `pause_turn` row).
pub fn finish_to_chat(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Other(_) => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// Upstream chat completion body → hub response: every choice (`n > 1`), in index order.
pub fn chat_response_to_ir(body: &[u8]) -> Result<ir::Response, ApiError> {
    let c: ChatCompletion = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("upstream returned an unreadable chat completion: {e}")).with_status(502)
    })?;
    if c.choices.is_empty() {
        return Err(ApiError::new(ErrorClass::Server, "upstream chat completion has no choices").with_status(502));
    }
    let mut choices = c.choices;
    choices.sort_by_key(|ch| ch.index);
    let mut resp = ir::Response {
        id: c.id,
        model: c.model,
        usage: c.usage.as_ref().map(usage_from_chat).unwrap_or_default(),
        created: (c.created > 0).then_some(c.created),
        ..Default::default()
    };
    resp.set_choices(choices.into_iter().map(choice_from_chat).collect());
    Ok(resp)
}

fn choice_from_chat(choice: ChatChoice) -> Choice {
    let m = choice.message;
    let mut blocks = Vec::new();
    if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
        blocks.push(Block::Thinking { text: r, signature: None });
    }
    if let Some(t) = m.content.filter(|t| !t.is_empty()) {
        blocks.push(Block::Text(t));
    }
    if let Some(r) = m.refusal.filter(|r| !r.is_empty()) {
        blocks.push(Block::Text(r));
    }
    for call in m.tool_calls.unwrap_or_default() {
        blocks.push(Block::ToolUse { id: call.id, name: call.function.name, input: parse_arguments(&call.function.arguments) });
    }
    let mut finish = choice.finish_reason.as_deref().map(finish_from_chat).unwrap_or_default();
    // Some OpenAI-compatible servers end a tool-calling turn with `stop`: the calls decide.
    if finish == FinishReason::Stop && blocks.iter().any(|b| matches!(b, Block::ToolUse { .. })) {
        finish = FinishReason::ToolCalls;
    }
    Choice {
        blocks,
        finish,
        raw_finish_reason: choice.finish_reason,
        logprobs: choice.logprobs.and_then(|l| l.content).map(|c| c.iter().map(logprob_from_chat).collect()),
    }
}

fn logprob_from_chat(t: &ChatTokenLogprob) -> TokenLogprob {
    TokenLogprob {
        token: t.token.clone(),
        logprob: t.logprob,
        top: t.top_logprobs.iter().flatten().map(|a| (a.token.clone(), a.logprob)).collect(),
    }
}

fn logprob_to_chat(t: &TokenLogprob) -> ChatTokenLogprob {
    ChatTokenLogprob {
        token: t.token.clone(),
        logprob: t.logprob,
        bytes: Some(t.token.as_bytes().to_vec()),
        top_logprobs: Some(
            t.top
                .iter()
                .map(|(token, logprob)| ChatTokenLogprob {
                    token: token.clone(),
                    logprob: *logprob,
                    bytes: Some(token.as_bytes().to_vec()),
                    top_logprobs: None,
                })
                .collect(),
        ),
    }
}

/// The JSON text of tool arguments; a kept `{"_raw_arguments": s}` goes back as `s` itself.
pub(crate) fn arguments_text(input: &Value) -> String {
    if let Value::Object(o) = input {
        if let (1, Some(Value::String(raw))) = (o.len(), o.get("_raw_arguments")) {
            return raw.clone();
        }
    }
    input.to_string()
}

/// Hub response → typed chat completion for an OpenAI client: one chat choice per hub choice.
pub fn ir_to_chat_completion(resp: &ir::Response, opts: &ConvertOptions) -> ChatCompletion {
    let choices = resp
        .choices()
        .iter()
        .enumerate()
        .map(|(i, c)| ChatChoice {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            message: message_to_chat(&c.blocks, opts),
            finish_reason: Some(finish_to_chat(&c.finish).into()),
            logprobs: c.logprobs.as_ref().map(|l| ChoiceLogprobs { content: Some(l.iter().map(logprob_to_chat).collect()) }),
        })
        .collect();
    ChatCompletion {
        id: ir::client_response_id(CHAT_ID_PREFIX, &resp.id, ""),
        object: "chat.completion".into(),
        created: resp.created.unwrap_or_else(now_secs),
        model: resp.model.clone(),
        choices,
        usage: Some(usage_to_chat(&resp.usage)),
    }
}

fn message_to_chat(blocks: &[Block], opts: &ConvertOptions) -> ChatResponseMessage {
    let mut content = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b {
            Block::Text(t) => content.push_str(t),
            Block::Thinking { text, .. } => reasoning.push_str(text),
            Block::RedactedThinking(_) => {}
            Block::ToolUse { id, name, input } => calls.push(ChatToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: ChatFunctionCall { name: name.clone(), arguments: arguments_text(input) },
            }),
        }
    }
    ChatResponseMessage {
        role: "assistant".into(),
        content: (!content.is_empty() || calls.is_empty()).then_some(content),
        refusal: None,
        reasoning_content: (opts.chat_reasoning_content && !reasoning.is_empty()).then_some(reasoning),
        tool_calls: (!calls.is_empty()).then_some(calls),
    }
}

/// Hub response → chat completion body.
pub fn ir_to_chat_response(resp: &ir::Response, opts: &ConvertOptions) -> Vec<u8> {
    // Serialising plain data structures cannot fail.
    serde_json::to_vec(&ir_to_chat_completion(resp, opts)).unwrap_or_default()
}

/// Wall-clock seconds, for `created` when the upstream gave none.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
