//! Upstream Anthropic SSE → hub stream events.
//!
//! Input usage comes from `message_start` and `message_delta` usage is cumulative, so both are
//! merged field by field into one running snapshot (trap #7); `ping` is ignored; an `error`
//! frame ends the stream.

use super::response::{finish_from_anthropic, merge_usage, usage_from_anthropic};
use super::types::*;
use crate::protocol::error::ApiError;
use crate::protocol::ir::{malformed_stream_error, BlockKind, BlockTracker, Protocol, StreamDecoder, StreamEvent};
use crate::protocol::sse::SseEvent;

/// Decoder state for one Anthropic stream.
#[derive(Debug, Default)]
pub struct AnthropicStreamDecoder {
    blocks: BlockTracker,
    /// (Anthropic block index, hub block index)
    map: Vec<(u64, usize)>,
    usage: AnthropicUsage,
    started: bool,
    ended: bool,
    /// The upstream's `stop_reason`, for the log.
    raw_finish: Option<String>,
}

impl AnthropicStreamDecoder {
    /// A decoder for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn hub_index(&self, index: u64) -> Option<usize> {
        self.map.iter().find(|(a, _)| *a == index).map(|(_, h)| *h)
    }

    fn fail(&mut self, e: ApiError, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }

    /// A `content_block_start`: a hub block opens, with any content the start already carries
    /// as its first delta.
    fn block_start(&mut self, index: u64, content_block: ContentBlock, out: &mut Vec<StreamEvent>) {
        let (kind, initial) = match content_block {
            ContentBlock::Text { text, .. } => (BlockKind::Text, Some(text)),
            ContentBlock::Thinking { thinking, .. } => (BlockKind::Thinking, Some(thinking)),
            ContentBlock::RedactedThinking { data } => (BlockKind::RedactedThinking { data }, None),
            ContentBlock::ToolUse { id, name, input, .. } => {
                // Normally `{}` with the arguments in deltas; a non-empty start input is
                // forwarded as the first fragment rather than lost.
                let first = match &input {
                    serde_json::Value::Object(o) if !o.is_empty() => Some(input.to_string()),
                    _ => None,
                };
                (BlockKind::ToolUse { id, name }, first)
            }
            // Server-tool blocks have no hub form; their deltas are ignored by index.
            _ => return,
        };
        let is_tool = matches!(kind, BlockKind::ToolUse { .. });
        let is_thinking = matches!(kind, BlockKind::Thinking);
        let hub = self.blocks.start(kind, out);
        self.map.push((index, hub));
        if let Some(text) = initial.filter(|t| !t.is_empty()) {
            out.push(if is_tool {
                StreamEvent::ToolArgsDelta { index: hub, partial_json: text }
            } else if is_thinking {
                StreamEvent::ThinkingDelta { index: hub, text }
            } else {
                StreamEvent::TextDelta { index: hub, text }
            });
        }
    }

    /// A `message_delta`: cumulative usage merged, every block closed, the finish reported.
    fn message_delta(&mut self, delta: MessageDeltaBody, usage: Option<AnthropicUsage>, out: &mut Vec<StreamEvent>) {
        if let Some(u) = usage {
            merge_usage(&mut self.usage, &u);
        }
        self.blocks.stop_all(out);
        if let Some(reason) = delta.stop_reason {
            out.push(StreamEvent::Finish { reason: finish_from_anthropic(&reason), stop_sequence: delta.stop_sequence });
            self.raw_finish = Some(reason);
        }
        out.push(StreamEvent::Usage(usage_from_anthropic(&self.usage)));
    }
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let frame: StreamFrame = match serde_json::from_str(&event.data) {
            Ok(f) => f,
            Err(e) => {
                if event.event.as_deref() == Some("error") {
                    let err = ApiError::from_upstream(Protocol::Anthropic, 200, event.data.as_bytes(), None);
                    return self.fail(err, out);
                }
                return self.fail(malformed_stream_error(&e.to_string()), out);
            }
        };
        match frame {
            StreamFrame::MessageStart { message } => {
                merge_usage(&mut self.usage, &message.usage);
                self.started = true;
                out.push(StreamEvent::MessageStart {
                    id: message.id,
                    model: message.model,
                    usage: Some(usage_from_anthropic(&self.usage)),
                });
            }
            StreamFrame::ContentBlockStart { index, content_block } => self.block_start(index, content_block, out),
            StreamFrame::ContentBlockDelta { index, delta } => {
                let Some(hub) = self.hub_index(index) else { return };
                out.push(match delta {
                    BlockDelta::TextDelta { text } => StreamEvent::TextDelta { index: hub, text },
                    BlockDelta::ThinkingDelta { thinking } => StreamEvent::ThinkingDelta { index: hub, text: thinking },
                    BlockDelta::SignatureDelta { signature } => StreamEvent::SignatureDelta { index: hub, signature },
                    BlockDelta::InputJsonDelta { partial_json } => StreamEvent::ToolArgsDelta { index: hub, partial_json },
                    BlockDelta::Unknown => return,
                });
            }
            StreamFrame::ContentBlockStop { index } => {
                if let Some(hub) = self.hub_index(index) {
                    self.blocks.stop(hub, out);
                }
            }
            StreamFrame::MessageDelta { delta, usage } => self.message_delta(delta, usage, out),
            StreamFrame::MessageStop => {
                self.blocks.stop_all(out);
                self.ended = true;
                out.push(StreamEvent::Done);
            }
            StreamFrame::Ping | StreamFrame::Unknown => {}
            StreamFrame::Error { .. } => {
                let err = ApiError::from_upstream(Protocol::Anthropic, 200, event.data.as_bytes(), None);
                self.fail(err, out);
            }
        }
    }

    fn finish(&mut self, _out: &mut Vec<StreamEvent>) {
        // Without `message_stop` the answer is incomplete: the converter reports truncation.
    }

    fn raw_finish_reason(&self) -> Option<&str> {
        self.raw_finish.as_deref()
    }
}
