//! Keeping signed reasoning across turns for OpenAI Chat clients, which have no field for it:
//! remembered from the answers (whole or streamed) by tool-call id, restored into the next
//! request's history when it goes back to the provider that signed it.

use crate::protocol::dialect::DynDecoder;
use crate::protocol::ir::{Block, BlockKind, Part, Protocol, Request, Response, Role, StreamDecoder, StreamEvent};
use crate::protocol::sse::SseEvent;
use crate::store::signatures::SignatureStore;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Whether answers from `upstream` to a client of `inbound` need the store.
pub fn needed(inbound: Protocol, upstream: Protocol) -> bool {
    inbound == Protocol::OpenAiChat && matches!(upstream, Protocol::Anthropic | Protocol::Gemini)
}

/// Remembers the reasoning before each tool call of a whole answer.
pub fn remember_response(store: &SignatureStore, issuer: Protocol, resp: &Response) {
    let mut pending = Vec::new();
    for block in &resp.blocks {
        match block {
            Block::Thinking { text, signature } => pending.push(Part::Thinking { text: text.clone(), signature: signature.clone() }),
            Block::RedactedThinking(data) => pending.push(Part::RedactedThinking { data: data.clone() }),
            Block::ToolUse { id, .. } => store.remember(id, issuer, pending.clone()),
            Block::Text(_) => {}
        }
    }
}

/// Puts remembered reasoning back into each assistant turn that calls tools and carries none
/// (Anthropic wants it first in the turn; Gemini right before the call it signed).
pub fn restore(store: &SignatureStore, issuer: Protocol, req: &mut Request) {
    for turn in req.turns.iter_mut().filter(|t| t.role == Role::Assistant) {
        if turn.parts.iter().any(|p| matches!(p, Part::Thinking { .. } | Part::RedactedThinking { .. })) {
            continue;
        }
        let found = turn.parts.iter().enumerate().find_map(|(i, p)| match p {
            Part::ToolUse { id, .. } => store.recall(id, issuer).map(|parts| (i, parts)),
            _ => None,
        });
        if let Some((at, parts)) = found {
            let at = if issuer == Protocol::Anthropic { 0 } else { at };
            turn.parts.splice(at..at, parts);
        }
    }
}

/// A stream decoder that also remembers the reasoning before each tool call it decodes.
pub struct Recording {
    inner: DynDecoder,
    store: Arc<SignatureStore>,
    issuer: Protocol,
    open: BTreeMap<usize, Part>,
    pending: Vec<Part>,
}

impl Recording {
    /// Wraps `inner`, recording into `store` for answers signed by `issuer`.
    pub fn new(inner: DynDecoder, store: Arc<SignatureStore>, issuer: Protocol) -> Self {
        Recording { inner, store, issuer, open: BTreeMap::new(), pending: Vec::new() }
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
                self.store.remember(id, self.issuer, parts);
            }
            _ => {}
        }
    }
}

impl StreamDecoder for Recording {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::Turn;
    use serde_json::json;

    #[test]
    fn a_whole_answer_round_trips_into_the_next_history() {
        let store = SignatureStore::new();
        let resp = Response {
            blocks: vec![
                Block::Thinking { text: "hmm".into(), signature: Some("sig".into()) },
                Block::Text("Let me check.".into()),
                Block::ToolUse { id: "call_1".into(), name: "get".into(), input: json!({}) },
            ],
            ..Response::default()
        };
        remember_response(&store, Protocol::Anthropic, &resp);
        let history = || Request {
            turns: vec![
                Turn::new(Role::User, vec![Part::text("q")]),
                Turn::new(Role::Assistant, vec![Part::text("Let me check."), Part::ToolUse { id: "call_1".into(), name: "get".into(), input: json!({}) }]),
            ],
            ..Request::default()
        };
        let mut anthropic = history();
        restore(&store, Protocol::Anthropic, &mut anthropic);
        assert_eq!(anthropic.turns[1].parts[0], Part::Thinking { text: "hmm".into(), signature: Some("sig".into()) });
        let mut other = history();
        restore(&store, Protocol::Gemini, &mut other);
        assert_eq!(other, history(), "never sent to a provider that did not sign it");
    }
}
