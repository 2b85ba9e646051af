//! Keeping signed reasoning across turns for clients whose protocol has no field for it (OpenAI
//! Chat): remembered from the answers (whole or streamed) by tool-call id, restored into the
//! next request's history when it goes back to the provider that signed it. Where the values
//! are kept is the caller's business ([`SignatureSink`] and the recall function).

use super::{
    has_signed_reasoning, restore_signed_reasoning, Block, BlockKind, Part, Request, Response, RestoreAt, Role, StreamDecoder,
    StreamEvent,
};
use crate::protocol::dialect::DynDecoder;
use crate::protocol::sse::SseEvent;
use std::collections::BTreeMap;

/// Where remembered reasoning goes.
pub trait SignatureSink: Send + Sync {
    /// Keeps `parts`, the reasoning that preceded tool call `id`.
    fn remember(&self, id: &str, parts: Vec<Part>);
}

/// Remembers the reasoning before each tool call of a whole answer.
pub fn remember_response(sink: &impl SignatureSink, resp: &Response) {
    let mut pending = Vec::new();
    for block in &resp.blocks {
        match block {
            Block::Thinking { text, signature } => {
                pending.push(Part::Thinking { text: text.clone(), signature: signature.clone() })
            }
            Block::RedactedThinking(data) => pending.push(Part::RedactedThinking { data: data.clone() }),
            Block::ToolUse { id, .. } if !pending.is_empty() => sink.remember(id, pending.clone()),
            Block::ToolUse { .. } | Block::Text(_) => {}
        }
    }
}

/// Puts remembered reasoning back into each assistant turn that calls tools and carries no
/// signed reasoning (an unsigned echo is replaced), where the issuer wants it (`at`).
pub fn restore(req: &mut Request, at: RestoreAt, recall: impl Fn(&str) -> Option<Vec<Part>>) {
    for turn in req.turns.iter_mut().filter(|t| t.role == Role::Assistant) {
        if has_signed_reasoning(&turn.parts) {
            continue;
        }
        let recalled = turn.parts.iter().find_map(|p| match p {
            Part::ToolUse { id, .. } => recall(id),
            _ => None,
        });
        if let Some(parts) = recalled {
            restore_signed_reasoning(&mut turn.parts, parts, at);
        }
    }
}

/// A stream decoder that also remembers the reasoning before each tool call it decodes.
pub struct Recording<S> {
    inner: DynDecoder,
    sink: S,
    open: BTreeMap<usize, Part>,
    pending: Vec<Part>,
}

impl<S: SignatureSink> Recording<S> {
    /// Wraps `inner`, recording into `sink`.
    pub fn new(inner: DynDecoder, sink: S) -> Self {
        Recording { inner, sink, open: BTreeMap::new(), pending: Vec::new() }
    }

    fn observe(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::BlockStart { index, kind: BlockKind::Thinking } => {
                self.open.insert(*index, Part::Thinking { text: String::new(), signature: None });
            }
            StreamEvent::BlockStart { kind: BlockKind::RedactedThinking { data }, .. } => {
                self.pending.push(Part::RedactedThinking { data: data.clone() });
            }
            StreamEvent::ThinkingDelta { index, text: more } => {
                if let Some(Part::Thinking { text, .. }) = self.open.get_mut(index) {
                    text.push_str(more);
                }
            }
            StreamEvent::SignatureDelta { index, signature: sig } => {
                if let Some(Part::Thinking { signature, .. }) = self.open.get_mut(index) {
                    *signature = Some(sig.clone());
                }
            }
            StreamEvent::BlockStop { index } => {
                if let Some(part) = self.open.remove(index) {
                    self.pending.push(part);
                }
            }
            StreamEvent::BlockStart { kind: BlockKind::ToolUse { id, .. }, .. } => {
                // A thinking block still open (Gemini signs the call itself) counts too.
                let mut parts = self.pending.clone();
                parts.extend(self.open.values().cloned());
                if !parts.is_empty() {
                    self.sink.remember(id, parts);
                }
            }
            _ => {}
        }
    }
}

impl<S: SignatureSink> StreamDecoder for Recording<S> {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        let from = out.len();
        self.inner.decode(event, out);
        for e in &out[from..] {
            self.observe(e);
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.inner.finish(out)
    }

    fn raw_finish_reason(&self) -> Option<&str> {
        self.inner.raw_finish_reason()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::Turn;
    use serde_json::json;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory(Mutex<Vec<(String, Vec<Part>)>>);

    impl Memory {
        fn recall(&self, id: &str) -> Option<Vec<Part>> {
            self.0.lock().unwrap().iter().find(|(k, _)| k == id).map(|(_, v)| v.clone())
        }
    }

    impl SignatureSink for &Memory {
        fn remember(&self, id: &str, parts: Vec<Part>) {
            self.0.lock().unwrap().push((id.to_owned(), parts));
        }
    }

    #[test]
    fn a_whole_answer_round_trips_into_the_next_history() {
        let store = Memory::default();
        let resp = Response {
            blocks: vec![
                Block::Thinking { text: "hmm".into(), signature: Some("sig".into()) },
                Block::Text("Let me check.".into()),
                Block::ToolUse { id: "call_1".into(), name: "get".into(), input: json!({}) },
            ],
            ..Response::default()
        };
        remember_response(&&store, &resp);
        let history = || Request {
            turns: vec![
                Turn::new(Role::User, vec![Part::text("q")]),
                Turn::new(
                    Role::Assistant,
                    vec![
                        Part::text("Let me check."),
                        Part::ToolUse { id: "call_1".into(), name: "get".into(), input: json!({}) },
                    ],
                ),
            ],
            ..Request::default()
        };
        let mut anthropic = history();
        restore(&mut anthropic, RestoreAt::Start, |id| store.recall(id));
        assert_eq!(anthropic.turns[1].parts[0], Part::Thinking { text: "hmm".into(), signature: Some("sig".into()) });
        let mut other = history();
        restore(&mut other, RestoreAt::BeforeFirstToolCall, |_| None);
        assert_eq!(other, history(), "nothing recalled, nothing added");
    }

    #[test]
    fn echoed_unsigned_reasoning_is_replaced_by_the_signed_original() {
        let store = Memory::default();
        let signed = Part::Thinking { text: "hmm".into(), signature: Some("sig".into()) };
        (&store).remember("call_1", vec![signed.clone()]);
        let mut req = Request {
            turns: vec![Turn::new(
                Role::Assistant,
                vec![
                    Part::Thinking { text: "hmm".into(), signature: None },
                    Part::ToolUse { id: "call_1".into(), name: "get".into(), input: json!({}) },
                ],
            )],
            ..Request::default()
        };
        restore(&mut req, RestoreAt::Start, |id| store.recall(id));
        assert_eq!(req.turns[0].parts.len(), 2);
        assert_eq!(req.turns[0].parts[0], signed);
    }
}
