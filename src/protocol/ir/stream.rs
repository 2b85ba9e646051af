//! Hub stream events and the generic per-stream converter (upstream decoder + inbound encoder).
//!
//! Blocks are numbered 0,1,2… in start order. Several blocks may be open at once (OpenAI Chat
//! interleaves parallel tool-call fragments); encoders whose protocol needs one block at a time
//! (Anthropic) buffer the later ones.

use super::FinishReason;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use bytes::{BufMut, BytesMut};
use serde::Serialize;

/// Writes one named SSE frame, `event: <name>` then `data: <JSON>` on one line. Anthropic and
/// Responses frames both take this form; one writer keeps their framing byte-identical.
pub fn write_json_frame<T: Serialize>(out: &mut BytesMut, name: &str, data: &T) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    // Serialising plain data into memory cannot fail.
    let _ = serde_json::to_writer(out.writer(), data);
    out.put_slice(b"\n\n");
}

/// What a started block holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Text.
    Text,
    /// Visible reasoning (deltas follow, signature last).
    Thinking,
    /// Encrypted reasoning, complete at start.
    RedactedThinking {
        /// Opaque payload.
        data: String,
    },
    /// A tool call whose arguments stream as JSON fragments.
    ToolUse {
        /// Call id.
        id: String,
        /// Function name.
        name: String,
    },
}

/// One hub stream event.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamEvent {
    /// The answer began.
    MessageStart {
        /// Provider's response id.
        id: String,
        /// Model as the upstream named it.
        model: String,
        /// Usage known at the start (Anthropic input tokens, trap #7).
        usage: Option<Usage>,
    },
    /// A block began.
    BlockStart {
        /// Block number, 0,1,2… in start order.
        index: usize,
        /// Its kind.
        kind: BlockKind,
    },
    /// More text for a text block.
    TextDelta {
        /// Block number.
        index: usize,
        /// The increment.
        text: String,
    },
    /// More reasoning text.
    ThinkingDelta {
        /// Block number.
        index: usize,
        /// The increment.
        text: String,
    },
    /// The thinking block's signature; a later one replaces an earlier one.
    SignatureDelta {
        /// Block number.
        index: usize,
        /// The whole signature so far (replaces, never appends).
        signature: String,
    },
    /// A fragment of a tool call's JSON arguments (fragments concatenate).
    ToolArgsDelta {
        /// Block number.
        index: usize,
        /// The fragment.
        partial_json: String,
    },
    /// A block ended.
    BlockStop {
        /// Block number.
        index: usize,
    },
    /// Generation stopped for this reason.
    Finish {
        /// The reason.
        reason: FinishReason,
        /// The matched stop sequence, when known.
        stop_sequence: Option<String>,
    },
    /// A cumulative usage snapshot: the last one wins, never summed (traps #7, #10).
    Usage(Usage),
    /// The upstream failed mid-stream; terminal.
    Error(ApiError),
    /// The stream ended cleanly; terminal.
    Done,
}

/// Turns one upstream protocol's SSE events into hub events.
pub trait StreamDecoder {
    /// Decodes one upstream event, appending hub events to `out`.
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>);
    /// The upstream hit EOF: append `Done` if the answer was complete, else an `Error`.
    fn finish(&mut self, out: &mut Vec<StreamEvent>);
    /// The upstream's own finish reason string (`end_turn`, `STOP`, `length`) once seen, for
    /// the access log; the hub's [`FinishReason`] folds several of them into one.
    fn raw_finish_reason(&self) -> Option<&str> {
        None
    }
}

/// Renders hub events as one inbound protocol's SSE bytes.
pub trait StreamEncoder {
    /// Appends the wire form of `event` to `out` (possibly nothing, possibly several frames).
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut);
}

/// Whether the stream goes on after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// More events expected.
    Continue,
    /// The stream ended cleanly; the terminal frames were written.
    Done,
}

/// One stream's converter: upstream SSE events in, inbound SSE bytes out, running usage kept.
#[derive(Debug)]
pub struct StreamConverter<D, E> {
    decoder: D,
    encoder: E,
    scratch: Vec<StreamEvent>,
    usage: Option<Usage>,
    ended: Option<Result<Flow, ApiError>>,
}

impl<D: StreamDecoder, E: StreamEncoder> StreamConverter<D, E> {
    /// A converter for one stream.
    pub fn new(decoder: D, encoder: E) -> Self {
        StreamConverter { decoder, encoder, scratch: Vec::with_capacity(8), usage: None, ended: None }
    }

    /// Feeds one upstream event, appending inbound bytes to `out`. `Err` means the stream
    /// failed: the inbound in-stream error was already written and the caller should close.
    pub fn feed(&mut self, event: &SseEvent, out: &mut BytesMut) -> Result<Flow, ApiError> {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        self.scratch.clear();
        self.decoder.decode(event, &mut self.scratch);
        self.drain(out)
    }

    /// The upstream reached EOF. A stream without its terminal event becomes the inbound
    /// protocol's in-stream error, never a success.
    pub fn finish(&mut self, out: &mut BytesMut) -> Result<Flow, ApiError> {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        self.scratch.clear();
        self.decoder.finish(&mut self.scratch);
        if !self.scratch.iter().any(|e| matches!(e, StreamEvent::Done | StreamEvent::Error(_))) {
            self.scratch.push(StreamEvent::Error(truncated_stream_error()));
        }
        self.drain(out)
    }

    /// The last usage snapshot the upstream reported.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The upstream's own finish reason string, once the stream reported one (for the log).
    pub fn raw_finish_reason(&self) -> Option<&str> {
        self.decoder.raw_finish_reason()
    }

    /// True once a terminal event (done or error) was handled.
    pub fn is_ended(&self) -> bool {
        self.ended.is_some()
    }

    /// The encoder, for protocol-specific state the gateway reads after the stream (e.g. the
    /// thinking signatures an OpenAI client cannot carry).
    pub fn encoder(&self) -> &E {
        &self.encoder
    }

    fn drain(&mut self, out: &mut BytesMut) -> Result<Flow, ApiError> {
        let mut result = Ok(Flow::Continue);
        for event in self.scratch.drain(..) {
            match &event {
                StreamEvent::Usage(u) => self.usage = Some(*u),
                StreamEvent::MessageStart { usage: Some(u), .. } => self.usage = Some(*u),
                _ => {}
            }
            self.encoder.encode(&event, out);
            match event {
                StreamEvent::Done => {
                    result = Ok(Flow::Done);
                    break;
                }
                StreamEvent::Error(e) => {
                    result = Err(e);
                    break;
                }
                _ => {}
            }
        }
        if !matches!(result, Ok(Flow::Continue)) {
            self.ended = Some(result.clone());
        }
        result
    }
}

/// The error for a stream cut before its terminal event.
pub fn truncated_stream_error() -> ApiError {
    ApiError::new(ErrorClass::Server, "upstream stream ended before the response was complete")
        .with_status(502)
        .with_code("upstream_stream_truncated")
}

/// The error for an upstream event that is not what its protocol allows.
pub fn malformed_stream_error(what: &str) -> ApiError {
    ApiError::new(ErrorClass::Server, format!("upstream sent a malformed stream event: {what}"))
        .with_status(502)
        .with_code("upstream_malformed_stream")
}
