//! Hub stream events → Gemini SSE for a Gemini client.
//!
//! Each frame is `data: <GenerateContentResponse>\n\n`, with no `event:` line and no `[DONE]`
//! (google-genai reads only `data: ` lines and stops at EOF). Tool arguments are buffered and
//! sent as one whole functionCall, as Gemini does. Every frame carries the running
//! `usageMetadata`; the last one carries the finishReason. An upstream failure becomes
//! `data: {"error":{…}}`, which the SDK raises on.

use super::error::to_gemini_envelope;
use super::finish::finish_to_gemini;
use super::response_types::{Candidate, GenerateContentResponse};
use super::signatures::signature_part;
use super::types::{Content, FunctionCall, Part};
use super::usage::usage_to_gemini;
use crate::protocol::ir::{parse_arguments, BlockKind, FinishReason, StreamEncoder, StreamEvent};
use crate::protocol::usage::Usage;
use bytes::{BufMut, BytesMut};
use std::collections::HashMap;

/// State of a block the encoder has seen start.
#[derive(Debug)]
enum Block {
    Text,
    Thinking { had_text: bool, signature: Option<String> },
    Tool { id: String, name: String, args: String },
    Skipped,
}

/// The per-stream encoder; one per client stream.
#[derive(Debug)]
pub struct GeminiStreamEncoder {
    include_thoughts: bool,
    response_id: Option<String>,
    model: Option<String>,
    usage: Option<Usage>,
    blocks: HashMap<usize, Block>,
    /// A signature waiting for the next part (it belonged to that part upstream).
    pending_signature: Option<String>,
    /// The last thought increment, held back one event so its signature can ride on it.
    held_thought: Option<(usize, String)>,
    finish: Option<FinishReason>,
    ended: bool,
}

impl GeminiStreamEncoder {
    /// An encoder for one stream. `include_thoughts` is the client's `includeThoughts`
    /// ([`super::wants_thoughts`]): without it thought text is withheld, signatures are not.
    pub fn new(include_thoughts: bool) -> Self {
        GeminiStreamEncoder {
            include_thoughts,
            response_id: None,
            model: None,
            usage: None,
            blocks: HashMap::new(),
            pending_signature: None,
            held_thought: None,
            finish: None,
            ended: false,
        }
    }

    fn frame(&self, parts: Vec<Part>, finish: Option<String>, out: &mut BytesMut) {
        let resp = GenerateContentResponse {
            candidates: Some(vec![Candidate {
                content: Some(Content { role: Some("model".into()), parts }),
                finish_reason: finish,
                index: Some(0),
                logprobs_result: None,
                extra: Default::default(),
            }]),
            prompt_feedback: None,
            usage_metadata: self.usage.as_ref().map(usage_to_gemini),
            model_version: self.model.clone(),
            response_id: self.response_id.clone(),
            extra: Default::default(),
        };
        write_data(&resp, out);
    }

    /// Sends a non-thought part, giving it the pending signature.
    fn emit(&mut self, mut part: Part, out: &mut BytesMut) {
        self.flush_thought(None, out);
        if let Some(sig) = self.pending_signature.take() {
            part.thought_signature = Some(sig);
        }
        self.frame(vec![part], None, out);
    }

    fn flush_thought(&mut self, signature: Option<String>, out: &mut BytesMut) {
        if let Some((_, text)) = self.held_thought.take() {
            let part = Part { text: Some(text), thought: Some(true), thought_signature: signature, ..Default::default() };
            self.frame(vec![part], None, out);
        }
    }

    fn stop(&mut self, index: usize, out: &mut BytesMut) {
        match self.blocks.remove(&index) {
            Some(Block::Thinking { had_text, signature }) => {
                let held = self.held_thought.as_ref().is_some_and(|(i, _)| *i == index);
                match signature {
                    Some(sig) if held => self.flush_thought(Some(sig), out),
                    Some(sig) if had_text && self.include_thoughts => {
                        self.flush_thought(None, out);
                        let part = Part {
                            text: Some(String::new()),
                            thought: Some(true),
                            thought_signature: Some(sig),
                            ..Default::default()
                        };
                        self.frame(vec![part], None, out);
                    }
                    Some(sig) => {
                        if let Some(prev) = self.pending_signature.replace(sig) {
                            self.frame(vec![signature_part(prev)], None, out);
                        }
                    }
                    None => self.flush_thought(None, out),
                }
            }
            Some(Block::Tool { id, name, args }) => {
                let part = Part {
                    function_call: Some(FunctionCall { id: Some(id), name, args: Some(parse_arguments(&args)) }),
                    ..Default::default()
                };
                self.emit(part, out);
            }
            Some(Block::Text | Block::Skipped) | None => {}
        }
    }

    fn done(&mut self, out: &mut BytesMut) {
        self.flush_thought(None, out);
        let parts = vec![match self.pending_signature.take() {
            Some(sig) => signature_part(sig),
            // An empty text part, as Gemini's own last chunk has, so `chunk.text` is "" not None.
            None => Part::text(""),
        }];
        let finish = finish_to_gemini(self.finish.as_ref().unwrap_or(&FinishReason::Stop));
        self.frame(parts, Some(finish), out);
    }
}

impl StreamEncoder for GeminiStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, model, usage } => {
                self.response_id = (!id.is_empty()).then(|| id.clone());
                self.model = (!model.is_empty()).then(|| model.clone());
                if usage.is_some() {
                    self.usage = *usage;
                }
            }
            StreamEvent::BlockStart { index, kind } => {
                let block = match kind {
                    BlockKind::Text => Block::Text,
                    BlockKind::Thinking => Block::Thinking { had_text: false, signature: None },
                    BlockKind::RedactedThinking { .. } => Block::Skipped,
                    BlockKind::ToolUse { id, name } => Block::Tool { id: id.clone(), name: name.clone(), args: String::new() },
                };
                self.blocks.insert(*index, block);
            }
            StreamEvent::TextDelta { text, .. } => {
                if !text.is_empty() || self.pending_signature.is_some() {
                    self.emit(Part::text(text.clone()), out);
                }
            }
            StreamEvent::ThinkingDelta { index, text } => {
                if let Some(Block::Thinking { had_text, .. }) = self.blocks.get_mut(index) {
                    *had_text |= !text.is_empty();
                }
                if self.include_thoughts && !text.is_empty() {
                    self.flush_thought(None, out);
                    self.held_thought = Some((*index, text.clone()));
                }
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if let Some(Block::Thinking { signature: slot, .. }) = self.blocks.get_mut(index) {
                    *slot = Some(signature.clone());
                }
            }
            StreamEvent::ToolArgsDelta { index, partial_json } => {
                if let Some(Block::Tool { args, .. }) = self.blocks.get_mut(index) {
                    args.push_str(partial_json);
                }
            }
            StreamEvent::BlockStop { index } => self.stop(*index, out),
            StreamEvent::Finish { reason, .. } => {
                // Blocks a sloppy upstream never stopped still reach the client.
                let mut open: Vec<usize> = self.blocks.keys().copied().collect();
                open.sort_unstable();
                for i in open {
                    self.stop(i, out);
                }
                self.finish = Some(reason.clone());
            }
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Error(e) => {
                self.flush_thought(None, out);
                write_data(&to_gemini_envelope(e), out);
                self.ended = true;
            }
            StreamEvent::Done => {
                self.done(out);
                self.ended = true;
            }
        }
    }
}

fn write_data<T: serde::Serialize>(value: &T, out: &mut BytesMut) {
    out.put_slice(b"data: ");
    // Serialising these types cannot fail (string keys, finite numbers).
    let _ = serde_json::to_writer(out.writer(), value);
    out.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::{ApiError, ErrorClass};
    use crate::protocol::sse::SseDecoder;
    use serde_json::{json, Value};

    fn frames(include_thoughts: bool, events: &[StreamEvent]) -> Vec<Value> {
        let mut enc = GeminiStreamEncoder::new(include_thoughts);
        let mut out = BytesMut::new();
        for e in events {
            enc.encode(e, &mut out);
        }
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert!(!text.contains("[DONE]") && !text.contains("event:"));
        SseDecoder::new().feed(text.as_bytes()).into_iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
    }

    fn parts(frames: &[Value]) -> Vec<Value> {
        frames
            .iter()
            .flat_map(|f| f["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn start() -> StreamEvent {
        StreamEvent::MessageStart {
            id: "msg_1".into(),
            model: "claude".into(),
            usage: Some(Usage { in_base: 7, ..Default::default() }),
        }
    }

    #[test]
    fn text_stream_with_running_usage_and_final_finish() {
        let f = frames(
            false,
            &[
                start(),
                StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
                StreamEvent::TextDelta { index: 0, text: "Hi".into() },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None },
                StreamEvent::Usage(Usage { in_base: 7, out_total: 3, ..Default::default() }),
                StreamEvent::Done,
            ],
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["candidates"][0]["content"]["parts"], json!([{"text":"Hi"}]));
        assert_eq!(f[0]["usageMetadata"]["promptTokenCount"], 7);
        assert_eq!((f[0]["responseId"].clone(), f[0]["modelVersion"].clone()), (json!("msg_1"), json!("claude")));
        assert_eq!(f[1]["candidates"][0]["finishReason"], "STOP");
        assert_eq!(f[1]["usageMetadata"], json!({"promptTokenCount":7,"candidatesTokenCount":3,"totalTokenCount":10}));
    }

    #[test]
    fn tool_args_are_buffered_into_one_call() {
        let f = frames(
            false,
            &[
                start(),
                StreamEvent::BlockStart { index: 0, kind: BlockKind::ToolUse { id: "toolu_1".into(), name: "get".into() } },
                StreamEvent::ToolArgsDelta { index: 0, partial_json: "{\"q\":".into() },
                StreamEvent::ToolArgsDelta { index: 0, partial_json: "1}".into() },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
                StreamEvent::Done,
            ],
        );
        assert_eq!(parts(&f)[0], json!({"functionCall":{"id":"toolu_1","name":"get","args":{"q":1}}}));
        assert_eq!(f.last().unwrap()["candidates"][0]["finishReason"], "STOP");
    }

    #[test]
    fn thoughts_carry_their_signature_on_the_last_increment() {
        let events = [
            start(),
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Thinking },
            StreamEvent::ThinkingDelta { index: 0, text: "a".into() },
            StreamEvent::ThinkingDelta { index: 0, text: "b".into() },
            StreamEvent::SignatureDelta { index: 0, signature: "SIG".into() },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 1, text: "x".into() },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None },
            StreamEvent::Done,
        ];
        assert_eq!(
            parts(&frames(true, &events)),
            vec![
                json!({"text":"a","thought":true}),
                json!({"text":"b","thought":true,"thoughtSignature":"SIG"}),
                json!({"text":"x"}),
                json!({"text":""})
            ]
        );
        // Without includeThoughts the text is withheld but the signature rides on the next part.
        assert_eq!(parts(&frames(false, &events)), vec![json!({"text":"x","thoughtSignature":"SIG"}), json!({"text":""})]);
    }

    #[test]
    fn error_frame_is_the_gemini_envelope() {
        let f =
            frames(false, &[start(), StreamEvent::Error(ApiError::new(ErrorClass::Unavailable, "Overloaded").with_status(529))]);
        assert_eq!(f, vec![json!({"error":{"code":503,"message":"Overloaded","status":"UNAVAILABLE"}})]);
    }
}
