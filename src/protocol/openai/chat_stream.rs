//! OpenAI Chat streams ⇄ hub stream events.
//!
//! [`ChatStreamDecoder`] reads an upstream chat stream; [`ChatStreamEncoder`] writes one for a
//! chat client, following the SDK's concatenating delta helper: role and tool id/type/name appear
//! once, every tool delta has an `index`, usage comes in its own `choices: []` chunk.

use super::chat_response::{finish_from_chat, finish_to_chat, usage_from_chat, usage_to_chat};
use super::chat_types::*;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{
    malformed_stream_error as malformed, BlockKind, BlockTracker, ConvertOptions, FinishReason, Protocol, StreamDecoder,
    StreamEncoder, StreamEvent,
};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use bytes::{BufMut, BytesMut};

/// Upstream chat SSE → hub events. Chat never says when a block ends, so the decoder closes the
/// text/reasoning block when the other kind or a tool starts, and every block at `finish_reason`.
#[derive(Debug, Default)]
pub struct ChatStreamDecoder {
    started: bool,
    blocks: BlockTracker,
    text: Option<usize>,
    thinking: Option<usize>,
    /// (chat tool index, hub block index)
    tools: Vec<(u32, usize)>,
    finished: bool,
    ended: bool,
    /// The upstream's `finish_reason`, for the log.
    raw_finish: Option<String>,
}

impl ChatStreamDecoder {
    /// A decoder for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn close(slot: &mut Option<usize>, blocks: &mut BlockTracker, out: &mut Vec<StreamEvent>) {
        if let Some(index) = slot.take() {
            blocks.stop(index, out);
        }
    }

    fn finish_all(&mut self, mut reason: FinishReason, out: &mut Vec<StreamEvent>) {
        // Some OpenAI-compatible servers end a tool-calling turn with `stop`: the calls decide.
        if reason == FinishReason::Stop && !self.tools.is_empty() {
            reason = FinishReason::ToolCalls;
        }
        self.text = None;
        self.thinking = None;
        self.blocks.stop_all(out);
        out.push(StreamEvent::Finish { reason, stop_sequence: None });
        self.finished = true;
    }
}

impl StreamDecoder for ChatStreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            if !self.finished {
                self.finish_all(FinishReason::Stop, out);
            }
            self.ended = true;
            out.push(StreamEvent::Done);
            return;
        }
        let chunk: ChatChunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                self.ended = true;
                out.push(StreamEvent::Error(malformed(&e.to_string())));
                return;
            }
        };
        if chunk.error.is_some() {
            self.ended = true;
            out.push(StreamEvent::Error(ApiError::from_upstream(Protocol::OpenAiChat, 200, data.as_bytes(), None)));
            return;
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart { id: chunk.id.clone(), model: chunk.model.clone(), usage: None });
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let d = choice.delta;
            if let Some(r) = d.reasoning_content.filter(|r| !r.is_empty()) {
                Self::close(&mut self.text, &mut self.blocks, out);
                let index = match self.thinking {
                    Some(i) => i,
                    None => *self.thinking.insert(self.blocks.start(BlockKind::Thinking, out)),
                };
                out.push(StreamEvent::ThinkingDelta { index, text: r });
            }
            for t in [d.content, d.refusal].into_iter().flatten().filter(|t| !t.is_empty()) {
                Self::close(&mut self.thinking, &mut self.blocks, out);
                let index = match self.text {
                    Some(i) => i,
                    None => *self.text.insert(self.blocks.start(BlockKind::Text, out)),
                };
                out.push(StreamEvent::TextDelta { index, text: t });
            }
            for tc in d.tool_calls.unwrap_or_default() {
                Self::close(&mut self.thinking, &mut self.blocks, out);
                Self::close(&mut self.text, &mut self.blocks, out);
                let f = tc.function.unwrap_or_default();
                let index = match self.tools.iter().find(|(k, _)| *k == tc.index) {
                    Some((_, i)) => *i,
                    None => {
                        let id = tc.id.unwrap_or_else(|| format!("call_{}", self.tools.len()));
                        let name = f.name.clone().unwrap_or_default();
                        let i = self.blocks.start(BlockKind::ToolUse { id, name }, out);
                        self.tools.push((tc.index, i));
                        i
                    }
                };
                // The first fragment may ride with the tool's start (trap #4): forward it.
                if let Some(args) = f.arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolArgsDelta { index, partial_json: args });
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_all(finish_from_chat(&reason), out);
                self.raw_finish = Some(reason);
            }
        }
        if let Some(u) = chunk.usage.as_ref() {
            out.push(StreamEvent::Usage(usage_from_chat(u)));
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        // A finish_reason means the answer is complete even if `[DONE]` never came.
        if self.finished && !self.ended {
            self.ended = true;
            out.push(StreamEvent::Done);
        }
    }

    fn raw_finish_reason(&self) -> Option<&str> {
        self.raw_finish.as_deref()
    }
}

/// Hub events → chat SSE for a chat client.
#[derive(Debug)]
pub struct ChatStreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    reasoning_content: bool,
    role_sent: bool,
    /// (hub block index, chat tool index)
    tools: Vec<(usize, u32)>,
    finish_sent: bool,
    usage: Option<Usage>,
    ended: bool,
    thinking: Vec<CapturedThinking>,
}

/// A reasoning block the chat client could not carry, kept for the gateway's signature store
/// (PROTOCOLS.md §3.6: OpenAI-protocol clients cannot carry signatures).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapturedThinking {
    /// Hub block index.
    pub index: usize,
    /// Reasoning text.
    pub text: String,
    /// Signature (thinking) or opaque data (redacted thinking).
    pub signature: Option<String>,
    /// True for a redacted block (`signature` then holds its data).
    pub redacted: bool,
}

impl ChatStreamEncoder {
    /// An encoder showing `public_model` to the client; `include_usage` is what the client
    /// asked for (the usage chunk is sent only then, trap #6).
    pub fn new(public_model: impl Into<String>, include_usage: bool, opts: &ConvertOptions) -> Self {
        ChatStreamEncoder {
            id: String::new(),
            model: public_model.into(),
            created: super::chat_response::now_secs(),
            include_usage,
            reasoning_content: opts.chat_reasoning_content,
            role_sent: false,
            tools: Vec::new(),
            finish_sent: false,
            usage: None,
            ended: false,
            thinking: Vec::new(),
        }
    }

    /// Fixes `created` (tests and replays).
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    /// Reasoning blocks seen, with their signatures, for server-side storage.
    pub fn captured_thinking(&self) -> &[CapturedThinking] {
        &self.thinking
    }

    /// Tool call ids sent to the client, in order (keys for the signature store).
    pub fn tool_call_count(&self) -> usize {
        self.tools.len()
    }

    fn chunk(&self, delta: ChunkDelta, finish_reason: Option<String>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice { index: 0, delta, finish_reason }],
            usage: None,
            error: None,
        }
    }

    fn write(out: &mut BytesMut, chunk: &ChatChunk) {
        out.put_slice(b"data: ");
        // Serialising plain data into memory cannot fail.
        let _ = serde_json::to_writer(out.writer(), chunk);
        out.put_slice(b"\n\n");
    }

    fn ensure_role(&mut self, out: &mut BytesMut) {
        if !self.role_sent {
            self.role_sent = true;
            let delta = ChunkDelta { role: Some("assistant".into()), content: Some(String::new()), ..Default::default() };
            Self::write(out, &self.chunk(delta, None));
        }
    }

    fn send_delta(&mut self, delta: ChunkDelta, out: &mut BytesMut) {
        self.ensure_role(out);
        Self::write(out, &self.chunk(delta, None));
    }

    fn send_finish(&mut self, reason: &FinishReason, out: &mut BytesMut) {
        if !self.finish_sent {
            self.finish_sent = true;
            self.ensure_role(out);
            Self::write(out, &self.chunk(ChunkDelta::default(), Some(finish_to_chat(reason).into())));
        }
    }

    fn thinking_slot(&mut self, index: usize) -> Option<&mut CapturedThinking> {
        self.thinking.iter_mut().rev().find(|t| t.index == index)
    }
}

impl StreamEncoder for ChatStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, usage, .. } => {
                self.id = crate::protocol::ir::client_response_id(super::chat_response::CHAT_ID_PREFIX, id, "");
                if usage.is_some() {
                    self.usage = *usage;
                }
                self.ensure_role(out);
            }
            StreamEvent::BlockStart { index, kind } => match kind {
                BlockKind::Text => {}
                BlockKind::Thinking => self.thinking.push(CapturedThinking { index: *index, ..Default::default() }),
                BlockKind::RedactedThinking { data } => self.thinking.push(CapturedThinking {
                    index: *index,
                    text: String::new(),
                    signature: Some(data.clone()),
                    redacted: true,
                }),
                BlockKind::ToolUse { id, name } => {
                    let k = u32::try_from(self.tools.len()).unwrap_or(u32::MAX);
                    self.tools.push((*index, k));
                    let call = ChunkToolCall {
                        index: k,
                        id: Some(id.clone()),
                        kind: Some("function".into()),
                        function: Some(ChunkFunction { name: Some(name.clone()), arguments: Some(String::new()) }),
                    };
                    self.send_delta(ChunkDelta { tool_calls: Some(vec![call]), ..Default::default() }, out);
                }
            },
            StreamEvent::TextDelta { text, .. } => {
                if !text.is_empty() {
                    self.send_delta(ChunkDelta { content: Some(text.clone()), ..Default::default() }, out);
                }
            }
            StreamEvent::ThinkingDelta { index, text } => {
                if let Some(slot) = self.thinking_slot(*index) {
                    slot.text.push_str(text);
                }
                if self.reasoning_content && !text.is_empty() {
                    self.send_delta(ChunkDelta { reasoning_content: Some(text.clone()), ..Default::default() }, out);
                }
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if let Some(slot) = self.thinking_slot(*index) {
                    slot.signature = Some(signature.clone());
                }
            }
            StreamEvent::ToolArgsDelta { index, partial_json } => {
                let Some(&(_, k)) = self.tools.iter().find(|(i, _)| i == index) else {
                    return;
                };
                if partial_json.is_empty() {
                    return;
                }
                let call = ChunkToolCall {
                    index: k,
                    function: Some(ChunkFunction { name: None, arguments: Some(partial_json.clone()) }),
                    ..Default::default()
                };
                self.send_delta(ChunkDelta { tool_calls: Some(vec![call]), ..Default::default() }, out);
            }
            StreamEvent::BlockStop { .. } => {}
            StreamEvent::Finish { reason, .. } => self.send_finish(reason, out),
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Done => {
                self.send_finish(&FinishReason::Stop, out);
                if self.include_usage {
                    if let Some(u) = &self.usage {
                        let mut chunk = self.chunk(ChunkDelta::default(), None);
                        chunk.choices.clear();
                        chunk.usage = Some(usage_to_chat(u));
                        Self::write(out, &chunk);
                    }
                }
                out.put_slice(b"data: [DONE]\n\n");
                self.ended = true;
            }
            StreamEvent::Error(e) => {
                let body = serde_json::json!({
                    "error": { "message": e.message, "type": e.openai_type(), "param": e.param, "code": e.code }
                });
                out.put_slice(b"data: ");
                out.put_slice(body.to_string().as_bytes());
                out.put_slice(b"\n\n");
                self.ended = true;
            }
        }
    }
}
