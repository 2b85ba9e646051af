//! Hub stream events → Anthropic SSE for an Anthropic client.
//!
//! Every frame has its `event:` line (both SDKs ignore frames without one); `message_start` comes
//! first; blocks are numbered 0,1,2… in start order and sent one at a time, so a block that
//! starts while another is open (OpenAI interleaves parallel tool calls) is buffered and sent
//! whole when its turn comes. Usage and stop reason go out in `message_delta` once the upstream
//! is done, because an OpenAI upstream reports usage after its finish reason.

use super::response::{finish_to_anthropic, usage_to_anthropic};
use crate::protocol::ir::{write_json_frame, BlockKind, FinishReason, PendingBlocks, StreamEncoder, StreamEvent};
use crate::protocol::usage::Usage;
use bytes::BytesMut;
use serde_json::json;

/// Encoder state for one Anthropic client stream.
#[derive(Debug)]
pub struct AnthropicStreamEncoder {
    model: String,
    fallback_id: String,
    started: bool,
    /// (hub index, Anthropic index) of the block being streamed live.
    live: Option<(usize, usize)>,
    queue: PendingBlocks,
    next_index: usize,
    finish: Option<(FinishReason, Option<String>)>,
    usage: Usage,
    ended: bool,
}

impl AnthropicStreamEncoder {
    /// An encoder showing `public_model`; `fallback_id` names the message if the upstream never
    /// sent a start (e.g. the request id).
    pub fn new(public_model: impl Into<String>, fallback_id: impl Into<String>) -> Self {
        AnthropicStreamEncoder {
            model: public_model.into(),
            fallback_id: fallback_id.into(),
            started: false,
            live: None,
            queue: PendingBlocks::new(),
            next_index: 0,
            finish: None,
            usage: Usage::default(),
            ended: false,
        }
    }

    fn start_message(&mut self, id: &str, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = crate::protocol::ir::client_response_id(super::response::MESSAGE_ID_PREFIX, id, &self.fallback_id);
        let u = usage_to_anthropic(&self.usage);
        let message = json!({
            "type": "message_start",
            "message": {
                "id": id, "type": "message", "role": "assistant", "content": [], "model": self.model,
                "stop_reason": null, "stop_sequence": null, "usage": u,
            }
        });
        write_json_frame(out, "message_start", &message);
        // Anthropic sends a ping right after the start; clients (and proxies' idle timers) see
        // the stream is alive before the first token.
        write_json_frame(out, "ping", &json!({ "type": "ping" }));
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if !self.started {
            let id = self.fallback_id.clone();
            self.start_message(&id, out);
        }
    }

    fn emit_start(&mut self, hub: usize, kind: &BlockKind, out: &mut BytesMut) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        let block = match kind {
            BlockKind::Text => json!({"type":"text","text":""}),
            BlockKind::Thinking => json!({"type":"thinking","thinking":"","signature":""}),
            BlockKind::RedactedThinking { data } => json!({"type":"redacted_thinking","data":data}),
            BlockKind::ToolUse { id, name } => json!({"type":"tool_use","id":id,"name":name,"input":{}}),
        };
        write_json_frame(out, "content_block_start", &json!({"type":"content_block_start","index":index,"content_block":block}));
        self.live = Some((hub, index));
        index
    }

    fn emit_delta(index: usize, kind: &BlockKind, text: &str, out: &mut BytesMut) {
        let delta = match kind {
            BlockKind::Text => json!({"type":"text_delta","text":text}),
            BlockKind::Thinking => json!({"type":"thinking_delta","thinking":text}),
            BlockKind::ToolUse { .. } => json!({"type":"input_json_delta","partial_json":text}),
            BlockKind::RedactedThinking { .. } => return,
        };
        write_json_frame(out, "content_block_delta", &json!({"type":"content_block_delta","index":index,"delta":delta}));
    }

    fn emit_signature(index: usize, signature: &str, out: &mut BytesMut) {
        let delta = json!({"type":"signature_delta","signature":signature});
        write_json_frame(out, "content_block_delta", &json!({"type":"content_block_delta","index":index,"delta":delta}));
    }

    fn emit_stop(&mut self, out: &mut BytesMut) {
        if let Some((_, index)) = self.live.take() {
            write_json_frame(out, "content_block_stop", &json!({"type":"content_block_stop","index":index}));
        }
    }

    /// Sends queued blocks until one is still open upstream (it becomes live) or none is left.
    fn promote(&mut self, out: &mut BytesMut) {
        while self.live.is_none() {
            let Some(p) = self.queue.pop_front() else { return };
            let index = self.emit_start(p.hub, &p.kind, out);
            if !p.buf.is_empty() {
                Self::emit_delta(index, &p.kind, &p.buf, out);
            }
            if let Some(sig) = &p.signature {
                Self::emit_signature(index, sig, out);
            }
            if p.stopped {
                self.emit_stop(out);
            }
        }
    }

    /// Routes a delta: live block → sent now; queued block → buffered; anything else dropped
    /// (a delta for a block never started is an upstream bug, not content).
    fn delta(&mut self, hub: usize, kind: BlockKind, text: &str, out: &mut BytesMut) {
        if text.is_empty() {
            return;
        }
        match self.live {
            Some((h, index)) if h == hub => Self::emit_delta(index, &kind, text, out),
            _ => {
                if let Some(p) = self.queue.find_mut(hub) {
                    p.buf.push_str(text);
                }
            }
        }
    }

    fn close_everything(&mut self, out: &mut BytesMut) {
        self.emit_stop(out);
        self.queue.stop_all();
        self.promote(out);
    }
}

impl StreamEncoder for AnthropicStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, usage, .. } => {
                if let Some(u) = usage {
                    self.usage = *u;
                }
                self.start_message(id, out);
            }
            StreamEvent::BlockStart { index, kind } => {
                self.ensure_started(out);
                if self.live.is_none() && self.queue.is_empty() {
                    self.emit_start(*index, kind, out);
                } else {
                    self.queue.push(*index, kind);
                }
            }
            StreamEvent::TextDelta { index, text } => self.delta(*index, BlockKind::Text, text, out),
            StreamEvent::ThinkingDelta { index, text } => self.delta(*index, BlockKind::Thinking, text, out),
            StreamEvent::ToolArgsDelta { index, partial_json } => {
                let kind = BlockKind::ToolUse { id: String::new(), name: String::new() };
                self.delta(*index, kind, partial_json, out)
            }
            StreamEvent::SignatureDelta { index, signature } => match self.live {
                Some((h, i)) if h == *index => Self::emit_signature(i, signature, out),
                _ => {
                    if let Some(p) = self.queue.find_mut(*index) {
                        p.signature = Some(signature.clone());
                    }
                }
            },
            StreamEvent::BlockStop { index } => match self.live {
                Some((h, _)) if h == *index => {
                    self.emit_stop(out);
                    self.promote(out);
                }
                _ => {
                    if let Some(p) = self.queue.find_mut(*index) {
                        p.stopped = true;
                    }
                }
            },
            StreamEvent::Finish { reason, stop_sequence } => {
                self.finish = Some((reason.clone(), stop_sequence.clone()));
            }
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Done => {
                self.ensure_started(out);
                self.close_everything(out);
                let (reason, seq) = self.finish.take().unwrap_or((FinishReason::Stop, None));
                let delta = json!({
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": finish_to_anthropic(&reason, seq.as_deref()),
                        "stop_sequence": seq,
                    },
                    "usage": usage_to_anthropic(&self.usage),
                });
                write_json_frame(out, "message_delta", &delta);
                write_json_frame(out, "message_stop", &json!({"type":"message_stop"}));
                self.ended = true;
            }
            StreamEvent::Error(e) => {
                // Exactly `event: error` + `{"type":"error","error":{type,message}}` (trap #25).
                let body = json!({"type":"error","error":{"type":e.anthropic_type(),"message":e.message}});
                write_json_frame(out, "error", &body);
                self.ended = true;
            }
        }
    }
}
