//! Gemini upstream SSE (`:streamGenerateContent?alt=sse`) → hub stream events.
//!
//! Each event is a whole `GenerateContentResponse`: text parts are increments, a functionCall
//! arrives whole (→ one tool block: start, one args delta, stop, §3.5), `usageMetadata` is a
//! cumulative snapshot (merged per field, never summed, trap #10) and `finishReason: STOP`
//! means tool calls if any functionCall appeared earlier in the stream (trap #22). The stream
//! has no terminal event: EOF after a finishReason is success, EOF before one is an error.

use super::error::parse_gemini_error;
use super::finish::{finish_for_block_reason, finish_from_gemini};
use super::ids::{new_response_id, synthetic_call_id};
use super::response_types::{GenerateContentResponse, UsageMetadata};
use super::types::Part;
use super::usage::{merge_snapshot, usage_from_gemini};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{BlockKind, StreamDecoder, StreamEvent};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use serde_json::Value;

/// Which block is open (Gemini streams are sequential: at most one at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    Text(usize),
    Thinking(usize),
}

/// The per-stream state machine; one per upstream stream.
#[derive(Debug, Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    response_id: String,
    next_index: usize,
    open: Option<Open>,
    calls: usize,
    usage: UsageMetadata,
    last_usage: Option<Usage>,
    finished: bool,
    failed: bool,
    /// The upstream's `finishReason` (or prompt `blockReason`), for the log.
    raw_finish: Option<String>,
}

impl GeminiStreamDecoder {
    /// A decoder for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once a functionCall was seen (the finish is then tool calls).
    pub fn saw_function_call(&self) -> bool {
        self.calls > 0
    }

    fn fail(&mut self, err: ApiError, out: &mut Vec<StreamEvent>) {
        self.close(out);
        self.failed = true;
        out.push(StreamEvent::Error(err));
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(Open::Text(index) | Open::Thinking(index)) = self.open.take() {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    fn start(&mut self, kind: BlockKind, out: &mut Vec<StreamEvent>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(StreamEvent::BlockStart { index, kind });
        index
    }

    /// A signature that belonged to a non-thought part: an empty signed thinking block placed
    /// before that part, so it can be re-attached on the way back.
    fn signature_block(&mut self, signature: String, out: &mut Vec<StreamEvent>) {
        let index = self.start(BlockKind::Thinking, out);
        out.push(StreamEvent::SignatureDelta { index, signature });
        out.push(StreamEvent::BlockStop { index });
    }

    fn part(&mut self, p: Part, out: &mut Vec<StreamEvent>) -> Result<(), ApiError> {
        if let Some(k) = p.extra.keys().next() {
            return Err(malformed(&format!("a `{k}` part cannot be converted")));
        }
        if p.inline_data.is_some() || p.file_data.is_some() || p.function_response.is_some() {
            return Err(malformed("media or functionResponse parts cannot be converted"));
        }
        let sig = p.thought_signature;
        if let Some(fc) = p.function_call {
            if let Some(s) = sig {
                self.signature_block(s, out);
            }
            let id = fc.id.filter(|s| !s.is_empty()).unwrap_or_else(|| synthetic_call_id(&self.response_id, self.calls));
            self.calls += 1;
            let index = self.start(BlockKind::ToolUse { id, name: fc.name }, out);
            let args = fc.args.filter(|a| !a.is_null()).unwrap_or_else(|| Value::Object(Default::default()));
            out.push(StreamEvent::ToolArgsDelta { index, partial_json: args.to_string() });
            out.push(StreamEvent::BlockStop { index });
            return Ok(());
        }
        let text = p.text.unwrap_or_default();
        if p.thought == Some(true) {
            let index = match self.open {
                Some(Open::Thinking(i)) => i,
                _ => {
                    let i = self.start(BlockKind::Thinking, out);
                    self.open = Some(Open::Thinking(i));
                    i
                }
            };
            if !text.is_empty() {
                out.push(StreamEvent::ThinkingDelta { index, text });
            }
            if let Some(signature) = sig {
                // A signature ends the reasoning block it signs.
                out.push(StreamEvent::SignatureDelta { index, signature });
                self.close(out);
            }
            return Ok(());
        }
        if let Some(s) = sig {
            self.signature_block(s, out);
        }
        if text.is_empty() {
            return Ok(());
        }
        let index = match self.open {
            Some(Open::Text(i)) => i,
            _ => {
                let i = self.start(BlockKind::Text, out);
                self.open = Some(Open::Text(i));
                i
            }
        };
        out.push(StreamEvent::TextDelta { index, text });
        Ok(())
    }

    fn chunk(&mut self, resp: GenerateContentResponse, out: &mut Vec<StreamEvent>) -> Result<(), ApiError> {
        if !self.started {
            self.started = true;
            self.response_id = resp.response_id.clone().filter(|s| !s.is_empty()).unwrap_or_else(new_response_id);
            out.push(StreamEvent::MessageStart {
                id: self.response_id.clone(),
                model: resp.model_version.clone().unwrap_or_default(),
                usage: None,
            });
        }
        let candidate = resp.candidates.unwrap_or_default().into_iter().find(|c| c.index.unwrap_or(0) == 0);
        let mut finish_word = None;
        if let Some(c) = candidate {
            if !self.finished {
                for p in c.content.map(|c| c.parts).unwrap_or_default() {
                    self.part(p, out)?;
                }
            }
            finish_word = c.finish_reason;
        }
        if !self.finished {
            let finish = match finish_word.as_deref() {
                Some(w) => Some(finish_from_gemini(w, self.saw_function_call())),
                None if resp.prompt_feedback.as_ref().is_some_and(|f| f.block_reason.is_some()) => {
                    Some(finish_for_block_reason())
                }
                None => None,
            };
            if let Some(reason) = finish {
                self.raw_finish = finish_word.or_else(|| resp.prompt_feedback.and_then(|f| f.block_reason));
                self.close(out);
                self.finished = true;
                out.push(StreamEvent::Finish { reason, stop_sequence: None });
            }
        }
        if let Some(m) = resp.usage_metadata {
            merge_snapshot(&mut self.usage, &m);
            let u = usage_from_gemini(&self.usage);
            if self.last_usage != Some(u) {
                self.last_usage = Some(u);
                out.push(StreamEvent::Usage(u));
            }
        }
        Ok(())
    }
}

impl StreamDecoder for GeminiStreamDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.failed {
            return;
        }
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            return;
        }
        let value: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => return self.fail(malformed(&e.to_string()), out),
        };
        if value.get("error").is_some() {
            return self.fail(parse_gemini_error(200, data.as_bytes()), out);
        }
        let result = serde_json::from_value::<GenerateContentResponse>(value)
            .map_err(|e| malformed(&e.to_string()))
            .and_then(|resp| self.chunk(resp, out));
        if let Err(e) = result {
            self.fail(e, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.failed {
            return;
        }
        if self.finished {
            out.push(StreamEvent::Done);
        } else {
            self.fail(
                ApiError::new(ErrorClass::Server, "upstream stream ended before the response was complete")
                    .with_status(502)
                    .with_code("upstream_stream_truncated"),
                out,
            );
        }
    }

    fn raw_finish_reason(&self) -> Option<&str> {
        self.raw_finish.as_deref()
    }
}

fn malformed(what: &str) -> ApiError {
    ApiError::new(ErrorClass::Server, format!("upstream sent a malformed Gemini stream event: {what}"))
        .with_status(502)
        .with_code("upstream_malformed_stream")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::FinishReason;
    use serde_json::json;

    fn run(chunks: &[Value]) -> Vec<StreamEvent> {
        let mut d = GeminiStreamDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.decode(&SseEvent::data(c.to_string()), &mut out);
        }
        d.finish(&mut out);
        out
    }

    fn chunk(parts: Value) -> Value {
        json!({"candidates":[{"content":{"role":"model","parts":parts},"index":0}],"responseId":"R"})
    }

    #[test]
    fn text_increments_one_block() {
        let ev = run(&[
            chunk(json!([{"text":"Hel"}])),
            chunk(json!([{"text":"lo"}])),
            json!({"candidates":[{"content":{"parts":[{"text":""}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}),
        ]);
        assert_eq!(
            ev,
            vec![
                StreamEvent::MessageStart { id: "R".into(), model: String::new(), usage: None },
                StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
                StreamEvent::TextDelta { index: 0, text: "Hel".into() },
                StreamEvent::TextDelta { index: 0, text: "lo".into() },
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Finish { reason: FinishReason::Stop, stop_sequence: None },
                StreamEvent::Usage(Usage { in_base: 3, out_total: 2, ..Default::default() }),
                StreamEvent::Done,
            ]
        );
    }

    #[test]
    fn stop_after_an_earlier_function_call_is_tool_calls() {
        let ev = run(&[
            chunk(json!([{"functionCall":{"name":"get","args":{"q":1}}}])),
            chunk(json!([{"text":"calling"}])),
            json!({"candidates":[{"finishReason":"STOP"}]}),
        ]);
        assert!(ev.contains(&StreamEvent::BlockStart {
            index: 0,
            kind: BlockKind::ToolUse { id: "call_R_0".into(), name: "get".into() }
        }));
        assert!(ev.contains(&StreamEvent::ToolArgsDelta { index: 0, partial_json: r#"{"q":1}"#.into() }));
        assert!(ev.contains(&StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None }));
    }

    #[test]
    fn usage_snapshots_overwrite() {
        let ev = run(&[
            json!({"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":10}}),
            json!({"candidates":[{"content":{"parts":[{"text":"b"}]}}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":1}}),
            json!({"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":2,"thoughtsTokenCount":7}}),
        ]);
        let last = ev.iter().rev().find_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        });
        assert_eq!(last, Some(Usage { in_base: 10, out_total: 9, out_reasoning: 7, ..Default::default() }));
        assert_eq!(ev.iter().filter(|e| matches!(e, StreamEvent::Usage(_))).count(), 3);
    }

    #[test]
    fn eof_before_finish_is_an_error() {
        let ev = run(&[chunk(json!([{"text":"Hel"}]))]);
        assert!(matches!(ev.as_slice(), [.., StreamEvent::BlockStop { index: 0 }, StreamEvent::Error(e)] if e.status == 502));
    }

    #[test]
    fn in_stream_error_is_terminal() {
        let ev = run(&[
            chunk(json!([{"text":"a"}])),
            json!({"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}),
            chunk(json!([{"text":"b"}])),
        ]);
        let Some(StreamEvent::Error(e)) = ev.last() else { panic!("{ev:?}") };
        assert_eq!((e.status, e.message.as_str()), (503, "overloaded"));
        assert_eq!(ev.iter().filter(|e| matches!(e, StreamEvent::Error(_))).count(), 1);
    }

    #[test]
    fn malformed_event_is_a_502() {
        let mut d = GeminiStreamDecoder::new();
        let mut out = Vec::new();
        d.decode(&SseEvent::data("{not json"), &mut out);
        assert!(matches!(out.as_slice(), [StreamEvent::Error(e)] if e.status == 502));
    }

    #[test]
    fn blocked_prompt_finishes_with_content_filter() {
        let ev = run(&[json!({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"responseId":"R"})]);
        assert!(ev.contains(&StreamEvent::Finish { reason: FinishReason::ContentFilter, stop_sequence: None }));
        assert_eq!(ev.last(), Some(&StreamEvent::Done));
    }
}
