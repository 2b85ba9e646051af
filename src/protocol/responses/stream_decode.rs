//! Upstream Responses SSE → hub stream events.
//!
//! Each message content part, function call and reasoning item becomes one hub block. A
//! reasoning item's `encrypted_content` is complete only in its `output_item.done`, and whether
//! it is visible thinking or redacted is known only then if no summary streamed, so its block
//! starts at the first summary delta or at that `done`. Usage and finish come from the terminal
//! `response.completed`/`.incomplete` (trap #26); `response.failed` and `error` end the stream
//! with an error; an EOF before a terminal event is an error, never a success.

use super::object::{OutputContent, OutputItem, ResponseObject};
use super::response::{failed_error, finish_from_responses, reasoning_block, usage_from_responses};
use crate::protocol::ir::{
    malformed_stream_error, truncated_stream_error, Block, BlockKind, BlockTracker, StreamDecoder, StreamEvent,
};
use crate::protocol::sse::SseEvent;
use serde_json::Value;

/// A function call item in flight.
#[derive(Debug)]
struct ToolSlot {
    output_index: u64,
    hub: usize,
    /// Arguments already forwarded (so `.done` does not repeat them).
    args_seen: bool,
}

/// A reasoning item in flight; its block starts lazily.
#[derive(Debug)]
struct ReasoningSlot {
    output_index: u64,
    hub: Option<usize>,
    summary_index: u64,
    has_text: bool,
}

/// Decoder state for one Responses upstream stream.
#[derive(Debug, Default)]
pub struct ResponsesStreamDecoder {
    blocks: BlockTracker,
    started: bool,
    ended: bool,
    called_tools: bool,
    /// (output_index, content_index, hub index) of text parts.
    texts: Vec<(u64, u64, usize)>,
    tools: Vec<ToolSlot>,
    reasonings: Vec<ReasoningSlot>,
    /// The upstream's own finish words, for the log.
    raw_finish: Option<String>,
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl ResponsesStreamDecoder {
    /// A decoder for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn ensure_started(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            let r = v.get("response").unwrap_or(&Value::Null);
            out.push(StreamEvent::MessageStart { id: text(r, "id").into(), model: text(r, "model").into(), usage: None });
        }
    }

    fn text_block(&mut self, oi: u64, ci: u64, out: &mut Vec<StreamEvent>) -> usize {
        if let Some((_, _, hub)) = self.texts.iter().find(|(o, c, _)| *o == oi && *c == ci) {
            return *hub;
        }
        let hub = self.blocks.start(BlockKind::Text, out);
        self.texts.push((oi, ci, hub));
        hub
    }

    fn push_text(&mut self, oi: u64, ci: u64, delta: &str, out: &mut Vec<StreamEvent>) {
        let index = self.text_block(oi, ci, out);
        if !delta.is_empty() && self.blocks.is_open(index) {
            out.push(StreamEvent::TextDelta { index, text: delta.to_owned() });
        }
    }

    fn reasoning_slot(&mut self, oi: u64) -> &mut ReasoningSlot {
        if !self.reasonings.iter().any(|r| r.output_index == oi) {
            self.reasonings.push(ReasoningSlot { output_index: oi, hub: None, summary_index: 0, has_text: false });
        }
        let pos = self.reasonings.iter().position(|r| r.output_index == oi).unwrap_or(0);
        &mut self.reasonings[pos]
    }

    fn push_thinking(&mut self, oi: u64, summary_index: u64, delta: &str, out: &mut Vec<StreamEvent>) {
        let blocks = &mut self.blocks;
        let slot = {
            if !self.reasonings.iter().any(|r| r.output_index == oi) {
                self.reasonings.push(ReasoningSlot { output_index: oi, hub: None, summary_index, has_text: false });
            }
            match self.reasonings.iter_mut().find(|r| r.output_index == oi) {
                Some(s) => s,
                None => return,
            }
        };
        let index = match slot.hub {
            Some(i) => i,
            None => *slot.hub.insert(blocks.start(BlockKind::Thinking, out)),
        };
        if !blocks.is_open(index) {
            return;
        }
        // Later summary parts join the one hub thinking text after a blank line.
        if summary_index != slot.summary_index && slot.has_text {
            out.push(StreamEvent::ThinkingDelta { index, text: "\n\n".into() });
        }
        slot.summary_index = summary_index;
        if !delta.is_empty() {
            slot.has_text = true;
            out.push(StreamEvent::ThinkingDelta { index, text: delta.to_owned() });
        }
    }

    fn item_added(&mut self, oi: u64, item: &Value, out: &mut Vec<StreamEvent>) {
        match text(item, "type") {
            "function_call" => {
                if self.tools.iter().any(|t| t.output_index == oi) {
                    return;
                }
                self.called_tools = true;
                let id = match text(item, "call_id") {
                    "" => text(item, "id"),
                    c => c,
                };
                let kind = BlockKind::ToolUse { id: id.into(), name: text(item, "name").into() };
                let hub = self.blocks.start(kind, out);
                let args = text(item, "arguments");
                if !args.is_empty() {
                    out.push(StreamEvent::ToolArgsDelta { index: hub, partial_json: args.into() });
                }
                self.tools.push(ToolSlot { output_index: oi, hub, args_seen: !args.is_empty() });
            }
            "reasoning" => {
                self.reasoning_slot(oi);
            }
            _ => {}
        }
    }

    fn item_done(&mut self, oi: u64, item: &Value, out: &mut Vec<StreamEvent>) {
        match text(item, "type") {
            "message" => {
                let mut any = false;
                for (o, _, hub) in &self.texts {
                    if *o == oi {
                        any = true;
                        self.blocks.stop(*hub, out);
                    }
                }
                if !any {
                    // No part streamed: the done item is the only copy of the text.
                    let parts = item.get("content").and_then(Value::as_array).cloned().unwrap_or_default();
                    for (ci, part) in parts.iter().enumerate() {
                        let t = match text(part, "type") {
                            "refusal" => text(part, "refusal"),
                            _ => text(part, "text"),
                        };
                        if !t.is_empty() {
                            self.push_text(oi, ci as u64, t, out);
                        }
                    }
                    for (o, _, hub) in &self.texts {
                        if *o == oi {
                            self.blocks.stop(*hub, out);
                        }
                    }
                }
            }
            "function_call" => {
                self.item_added(oi, item, out);
                if let Some(t) = self.tools.iter_mut().find(|t| t.output_index == oi) {
                    let args = text(item, "arguments");
                    if !t.args_seen && !args.is_empty() {
                        t.args_seen = true;
                        out.push(StreamEvent::ToolArgsDelta { index: t.hub, partial_json: args.into() });
                    }
                    self.blocks.stop(t.hub, out);
                }
            }
            "reasoning" => {
                let signature = item.get("encrypted_content").and_then(Value::as_str).map(str::to_owned);
                let started = self.reasoning_slot(oi).hub;
                match started {
                    Some(index) => {
                        if let Some(signature) = signature {
                            if self.blocks.is_open(index) {
                                out.push(StreamEvent::SignatureDelta { index, signature });
                            }
                        }
                        self.blocks.stop(index, out);
                    }
                    None => {
                        let parsed = serde_json::from_value(item.clone()).ok();
                        if let Some(block) = parsed.and_then(reasoning_block) {
                            let hub = self.emit_block(&block, out);
                            self.reasoning_slot(oi).hub = hub;
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Emits a whole block (start, content, stop); returns its hub index.
    fn emit_block(&mut self, block: &Block, out: &mut Vec<StreamEvent>) -> Option<usize> {
        let index = match block {
            Block::Text(t) => {
                let index = self.blocks.start(BlockKind::Text, out);
                out.push(StreamEvent::TextDelta { index, text: t.clone() });
                index
            }
            Block::Thinking { text, signature } => {
                let index = self.blocks.start(BlockKind::Thinking, out);
                if !text.is_empty() {
                    out.push(StreamEvent::ThinkingDelta { index, text: text.clone() });
                }
                if let Some(signature) = signature {
                    out.push(StreamEvent::SignatureDelta { index, signature: signature.clone() });
                }
                index
            }
            Block::RedactedThinking(data) => self.blocks.start(BlockKind::RedactedThinking { data: data.clone() }, out),
            Block::ToolUse { id, name, input } => {
                self.called_tools = true;
                let index = self.blocks.start(BlockKind::ToolUse { id: id.clone(), name: name.clone() }, out);
                let args = crate::protocol::openai::chat_response::arguments_text(input);
                out.push(StreamEvent::ToolArgsDelta { index, partial_json: args });
                index
            }
        };
        self.blocks.stop(index, out);
        Some(index)
    }

    fn terminal(&mut self, v: &Value, out: &mut Vec<StreamEvent>) {
        let response: ResponseObject =
            v.get("response").cloned().and_then(|r| serde_json::from_value(r).ok()).unwrap_or_default();
        if self.blocks.started() == 0 {
            // An upstream that streamed no items: the terminal response is the only copy.
            for item in &response.output {
                for block in item_blocks(item) {
                    self.emit_block(&block, out);
                }
            }
        }
        self.called_tools |= response.output.iter().any(|i| matches!(i, OutputItem::FunctionCall(_)));
        self.blocks.stop_all(out);
        let status = response.status.as_deref().unwrap_or(match text(v, "type") {
            "response.incomplete" => "incomplete",
            _ => "completed",
        });
        let reason = response.incomplete_details.as_ref().and_then(|d| d.reason.as_deref());
        out.push(StreamEvent::Finish { reason: finish_from_responses(status, reason, self.called_tools), stop_sequence: None });
        self.raw_finish = Some(super::response::raw_finish(status, reason));
        if let Some(u) = &response.usage {
            out.push(StreamEvent::Usage(usage_from_responses(u)));
        }
        self.ended = true;
        out.push(StreamEvent::Done);
    }

    fn fail(&mut self, e: crate::protocol::error::ApiError, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }
}

/// The hub blocks of one output item of a terminal response.
fn item_blocks(item: &OutputItem) -> Vec<Block> {
    match item {
        OutputItem::Message(m) => m
            .content
            .iter()
            .filter_map(|c| match c {
                OutputContent::OutputText { text, .. } | OutputContent::Refusal { refusal: text } => {
                    (!text.is_empty()).then(|| Block::Text(text.clone()))
                }
                OutputContent::Other => None,
            })
            .collect(),
        OutputItem::FunctionCall(c) => vec![Block::ToolUse {
            id: if c.call_id.is_empty() { c.id.clone() } else { c.call_id.clone() },
            name: c.name.clone(),
            input: crate::protocol::ir::parse_arguments(&c.arguments),
        }],
        OutputItem::Reasoning(r) => reasoning_block(r.clone()).into_iter().collect(),
        OutputItem::Other => Vec::new(),
    }
}

/// The error an `error` or `response.failed` event carries; `None` for any other event.
fn upstream_error(kind: &str, v: &Value) -> Option<crate::protocol::error::ApiError> {
    match kind {
        "error" => {
            let err = v.get("error").filter(|e| e.is_object()).unwrap_or(v);
            let code = err.get("code").and_then(Value::as_str).or_else(|| err.get("type").and_then(Value::as_str));
            let param = err.get("param").and_then(Value::as_str);
            Some(failed_error(code, text(err, "message"), param))
        }
        "response.failed" => {
            let err = v.get("response").and_then(|r| r.get("error")).unwrap_or(&Value::Null);
            let code = err.get("code").and_then(Value::as_str);
            Some(failed_error(code, text(err, "message"), None))
        }
        _ => None,
    }
}

impl ResponsesStreamDecoder {
    /// `output_text.done`, `refusal.done` or `content_part.done`: the whole text when no delta
    /// came before it; the part's block ends with `content_part.done`.
    fn text_done(&mut self, oi: u64, kind: &str, v: &Value, out: &mut Vec<StreamEvent>) {
        let ci = num(v, "content_index");
        if !self.texts.iter().any(|(o, c, _)| *o == oi && *c == ci) {
            // Only the final text came: it is the whole part.
            let t = match kind {
                "response.output_text.done" => text(v, "text"),
                "response.refusal.done" => text(v, "refusal"),
                _ => {
                    let part = v.get("part").unwrap_or(&Value::Null);
                    if text(part, "type") == "refusal" {
                        text(part, "refusal")
                    } else {
                        text(part, "text")
                    }
                }
            };
            if t.is_empty() {
                return;
            }
            self.push_text(oi, ci, t, out);
        }
        if kind == "response.content_part.done" {
            if let Some((_, _, hub)) = self.texts.iter().find(|(o, c, _)| *o == oi && *c == ci) {
                self.blocks.stop(*hub, out);
            }
        }
    }

    /// A function call's arguments: each delta forwarded, the `.done` text only when no delta
    /// came (so the arguments are never sent twice).
    fn arguments(&mut self, oi: u64, is_done: bool, v: &Value, out: &mut Vec<StreamEvent>) {
        let delta = text(v, if is_done { "arguments" } else { "delta" });
        if let Some(t) = self.tools.iter_mut().find(|t| t.output_index == oi) {
            if !delta.is_empty() && self.blocks.is_open(t.hub) && !(is_done && t.args_seen) {
                t.args_seen = true;
                out.push(StreamEvent::ToolArgsDelta { index: t.hub, partial_json: delta.into() });
            }
        }
    }
}

impl StreamDecoder for ResponsesStreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            return;
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return self.fail(malformed_stream_error("event data is not a JSON object"), out),
            Err(e) => return self.fail(malformed_stream_error(&e.to_string()), out),
        };
        let kind = match v.get("type").and_then(Value::as_str) {
            Some(k) => k.to_owned(),
            None => event.event.clone().unwrap_or_default(),
        };
        if let Some(err) = upstream_error(&kind, &v) {
            return self.fail(err, out);
        }
        self.ensure_started(&v, out);
        let oi = num(&v, "output_index");
        match kind.as_str() {
            "response.output_item.added" => {
                if let Some(item) = v.get("item") {
                    self.item_added(oi, item, out);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = v.get("item") {
                    self.item_done(oi, item, out);
                }
            }
            "response.content_part.added" => {
                let part = v.get("part").unwrap_or(&Value::Null);
                if matches!(text(part, "type"), "output_text" | "refusal") {
                    let t = match text(part, "type") {
                        "refusal" => text(part, "refusal"),
                        _ => text(part, "text"),
                    };
                    self.push_text(oi, num(&v, "content_index"), t, out);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.push_text(oi, num(&v, "content_index"), text(&v, "delta"), out);
            }
            "response.output_text.done" | "response.refusal.done" | "response.content_part.done" => {
                self.text_done(oi, &kind, &v, out);
            }
            "response.function_call_arguments.delta" | "response.function_call_arguments.done" => {
                self.arguments(oi, kind.ends_with("done"), &v, out);
            }
            "response.reasoning_summary_part.added" => {
                self.push_thinking(oi, num(&v, "summary_index"), "", out);
            }
            "response.reasoning_summary_text.delta" => {
                self.push_thinking(oi, num(&v, "summary_index"), text(&v, "delta"), out);
            }
            "response.reasoning_text.delta" => {
                self.push_thinking(oi, num(&v, "content_index"), text(&v, "delta"), out);
            }
            "response.completed" | "response.incomplete" => self.terminal(&v, out),
            _ => {}
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.ended {
            self.ended = true;
            out.push(StreamEvent::Error(truncated_stream_error()));
        }
    }

    fn raw_finish_reason(&self) -> Option<&str> {
        self.raw_finish.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::FinishReason;
    use crate::protocol::usage::Usage;
    use serde_json::json;

    fn decode(frames: &[Value]) -> Vec<StreamEvent> {
        let mut d = ResponsesStreamDecoder::new();
        let mut out = Vec::new();
        for f in frames {
            let ev = SseEvent { event: f["type"].as_str().map(str::to_owned), data: f.to_string() };
            d.decode(&ev, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn text_tool_and_usage_from_completed() {
        let ev = decode(&[
            json!({"type": "response.created", "response": {"id": "resp_1", "model": "gpt", "output": []}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "content": []}}),
            json!({"type": "response.content_part.added", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": ""}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hi"}),
            json!({"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "Hi"}),
            json!({"type": "response.content_part.done", "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "Hi"}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "function_call", "call_id": "c1", "name": "get", "arguments": ""}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{}"}),
            json!({"type": "response.function_call_arguments.done", "output_index": 1, "arguments": "{}"}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"}}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 2}, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1}, "total_tokens": 8}}}),
        ]);
        assert_eq!(
            ev,
            vec![
                StreamEvent::MessageStart { id: "resp_1".into(), model: "gpt".into(), usage: None },
                StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
                StreamEvent::TextDelta { index: 0, text: "Hi".into() },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::BlockStart { index: 1, kind: BlockKind::ToolUse { id: "c1".into(), name: "get".into() } },
                StreamEvent::ToolArgsDelta { index: 1, partial_json: "{}".into() },
                StreamEvent::BlockStop { index: 1 },
                StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
                StreamEvent::Usage(Usage { in_base: 3, in_cache_read: 2, out_total: 3, out_reasoning: 1, ..Usage::default() }),
                StreamEvent::Done,
            ]
        );
    }

    #[test]
    fn reasoning_without_summary_is_redacted_and_with_summary_is_signed() {
        let ev = decode(&[
            json!({"type": "response.created", "response": {"id": "r"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "summary": []}}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "reasoning", "summary": [], "encrypted_content": "E"}}),
            json!({"type": "response.output_item.added", "output_index": 1, "item": {"type": "reasoning", "summary": []}}),
            json!({"type": "response.reasoning_summary_part.added", "output_index": 1, "summary_index": 0}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 1, "summary_index": 0, "delta": "a"}),
            json!({"type": "response.reasoning_summary_part.added", "output_index": 1, "summary_index": 1}),
            json!({"type": "response.reasoning_summary_text.delta", "output_index": 1, "summary_index": 1, "delta": "b"}),
            json!({"type": "response.output_item.done", "output_index": 1, "item": {"type": "reasoning", "encrypted_content": "S"}}),
            json!({"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}),
        ]);
        assert_eq!(ev[1], StreamEvent::BlockStart { index: 0, kind: BlockKind::RedactedThinking { data: "E".into() } });
        let thinking: String = ev
            .iter()
            .filter_map(|e| match e {
                StreamEvent::ThinkingDelta { index: 1, text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(thinking, "a\n\nb");
        assert!(ev.contains(&StreamEvent::SignatureDelta { index: 1, signature: "S".into() }));
        assert!(ev.contains(&StreamEvent::Finish { reason: FinishReason::Length, stop_sequence: None }));
        assert_eq!(ev.last(), Some(&StreamEvent::Done));
    }

    #[test]
    fn failures_and_truncation_are_errors() {
        let ev = decode(&[
            json!({"type": "response.created", "response": {"id": "r"}}),
            json!({"type": "response.failed", "response": {"error": {"code": "server_error", "message": "boom"}}}),
        ]);
        assert!(matches!(ev.last(), Some(StreamEvent::Error(e)) if e.message == "boom"));
        let ev = decode(&[json!({"type": "error", "code": "rate_limit_exceeded", "message": "slow", "param": null})]);
        assert!(matches!(ev.last(), Some(StreamEvent::Error(e)) if e.status == 429 && e.message == "slow"));
        let ev = decode(&[json!({"type": "response.created", "response": {"id": "r"}})]);
        assert!(matches!(ev.last(), Some(StreamEvent::Error(e)) if e.code.as_deref() == Some("upstream_stream_truncated")));
    }

    #[test]
    fn terminal_alone_still_yields_the_content() {
        let ev = decode(&[json!({"type": "response.completed", "response": {"id": "r", "status": "completed", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "x"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{\"a\":1}"}
        ]}})]);
        assert!(ev.contains(&StreamEvent::TextDelta { index: 0, text: "x".into() }));
        assert!(ev.contains(&StreamEvent::ToolArgsDelta { index: 1, partial_json: "{\"a\":1}".into() }));
        assert!(ev.contains(&StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None }));
    }
}
