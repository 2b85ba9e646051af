//! Hub stream events → Responses SSE for a Responses client.
//!
//! Every frame is `event: <type>` + `data: {"type", …, "sequence_number"}` with numbers 0,1,2…
//! (trap #26). The openai-python stream helper needs `response.created` first, one response id,
//! each item's `output_item.added` before its deltas and every item done before
//! `response.completed` (PROTOCOLS.md §1.4), so each hub block becomes one output item that is
//! opened on its start and closed on its stop (or, at the latest, before the terminal event).
//! Items go out one at a time, as OpenAI sends them: a block that starts while another is open
//! (a Chat upstream interleaves parallel tool calls) is buffered and sent when its turn comes,
//! so clients that follow only "the current item" work too.
//! Usage and finish arrive in any order before the upstream ends, so `response.completed` (or
//! `.incomplete`) is written only on [`StreamEvent::Done`], last, carrying the full response
//! with usage.

use super::ids::{call_id, item_id, response_id};
use super::object::{OutputItem, ResponseEcho, ResponseObject};
use super::response::{finish_to_responses, now_secs, usage_to_responses};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{write_json_frame, BlockKind, FinishReason, PendingBlock, PendingBlocks, StreamEncoder, StreamEvent};
use crate::protocol::usage::Usage;
use bytes::BytesMut;
use serde_json::{json, Value};

/// One output item being streamed.
#[derive(Debug)]
struct Item {
    hub: usize,
    id: String,
    kind: BlockKind,
    /// Text, reasoning summary or arguments so far.
    buf: String,
    signature: Option<String>,
    /// The final item, once `output_item.done` was sent.
    done: Option<OutputItem>,
}

/// Encoder state for one Responses client stream.
#[derive(Debug)]
pub struct ResponsesStreamEncoder {
    model: String,
    fallback_id: String,
    created: u64,
    echo: ResponseEcho,
    id: String,
    started: bool,
    seq: u64,
    items: Vec<Item>,
    queue: PendingBlocks,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    ended: bool,
}

impl ResponsesStreamEncoder {
    /// An encoder showing `public_model`; `fallback_id` names the response if the upstream never
    /// identified it (e.g. the request id).
    pub fn new(public_model: impl Into<String>, fallback_id: impl Into<String>) -> Self {
        ResponsesStreamEncoder {
            model: public_model.into(),
            fallback_id: fallback_id.into(),
            created: now_secs(),
            echo: ResponseEcho::default(),
            id: String::new(),
            started: false,
            seq: 0,
            items: Vec::new(),
            queue: PendingBlocks::new(),
            finish: None,
            usage: None,
            ended: false,
        }
    }

    /// Repeats the client's request settings in every response object, as OpenAI does.
    pub fn with_echo(mut self, echo: ResponseEcho) -> Self {
        self.echo = echo;
        self
    }

    /// Fixes `created_at` (tests and replays).
    pub fn with_created(mut self, created: u64) -> Self {
        self.created = created;
        self
    }

    /// The `resp_…` id the client sees (empty before the stream started).
    pub fn response_id(&self) -> &str {
        &self.id
    }

    /// Writes one frame, numbering it.
    fn emit(&mut self, out: &mut BytesMut, kind: &str, mut data: Value) {
        if let Value::Object(o) = &mut data {
            o.insert("type".into(), Value::String(kind.into()));
            o.insert("sequence_number".into(), Value::from(self.seq));
        }
        self.seq += 1;
        write_json_frame(out, kind, &data);
    }

    fn snapshot(&self) -> ResponseObject {
        ResponseObject::new(self.id.clone(), self.model.clone(), self.created, self.echo.clone())
    }

    fn start(&mut self, upstream_id: &str, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = response_id(upstream_id, &self.fallback_id);
        let response = serde_json::to_value(self.snapshot()).unwrap_or(Value::Null);
        self.emit(out, "response.created", json!({ "response": response }));
        self.emit(out, "response.in_progress", json!({ "response": response }));
    }

    /// Position (= output_index) of the open item for hub block `hub`.
    fn open_item(&self, hub: usize) -> Option<usize> {
        self.items.iter().position(|it| it.hub == hub && it.done.is_none())
    }

    fn queued(&mut self, hub: usize) -> Option<&mut PendingBlock> {
        self.queue.open_mut(hub)
    }

    /// A block started: announce it now, or queue it while another item is live.
    fn begin(&mut self, hub: usize, kind: &BlockKind, out: &mut BytesMut) {
        if self.open_item(hub).is_some() || self.queued(hub).is_some() {
            return;
        }
        if self.items.iter().any(|it| it.done.is_none()) || !self.queue.is_empty() {
            self.queue.push(hub, kind);
            return;
        }
        self.announce(hub, kind, out);
    }

    /// A block stopped: close its item, then let the queued blocks through in order until one
    /// is still streaming.
    fn end(&mut self, hub: usize, out: &mut BytesMut) {
        if let Some(p) = self.queued(hub) {
            p.stopped = true;
            return;
        }
        if let Some(n) = self.open_item(hub) {
            self.close(n, out);
        }
        self.release(false, out);
    }

    /// Announces queued blocks in order with what they buffered; closes the stopped ones (all
    /// of them when `all`, at the end of the stream) and stops at the first still streaming.
    fn release(&mut self, all: bool, out: &mut BytesMut) {
        while self.items.iter().all(|it| it.done.is_some()) {
            let Some(p) = self.queue.pop_front() else {
                return;
            };
            self.announce(p.hub, &p.kind, out);
            self.delta(p.hub, &p.buf, |_| true, out);
            if let (Some(n), Some(sig)) = (self.open_item(p.hub), p.signature) {
                if let Some(item) = self.items.get_mut(n) {
                    item.signature = Some(sig);
                }
            }
            if p.stopped || all {
                if let Some(n) = self.open_item(p.hub) {
                    self.close(n, out);
                }
            }
        }
    }

    fn announce(&mut self, hub: usize, kind: &BlockKind, out: &mut BytesMut) {
        let n = self.items.len();
        let (prefix, item) = match kind {
            BlockKind::Text => ("msg", json!({"type": "message", "status": "in_progress", "role": "assistant", "content": []})),
            BlockKind::ToolUse { id, name } => (
                "fc",
                json!({"type": "function_call", "status": "in_progress", "call_id": call_id(id), "name": name, "arguments": ""}),
            ),
            BlockKind::Thinking | BlockKind::RedactedThinking { .. } => ("rs", json!({"type": "reasoning", "summary": []})),
        };
        let id = item_id(prefix, &self.id, n);
        let mut item = item;
        if let Value::Object(o) = &mut item {
            o.insert("id".into(), Value::String(id.clone()));
        }
        self.items
            .push(Item { hub, id: id.clone(), kind: kind.clone(), buf: String::new(), signature: None, done: None });
        self.emit(out, "response.output_item.added", json!({"output_index": n, "item": item}));
        match kind {
            BlockKind::Text => self.emit(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": n, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            ),
            BlockKind::Thinking => self.emit(
                out,
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": n, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}),
            ),
            _ => {}
        }
    }

    /// Appends a delta to the open item of `hub` when it is of the kind `accepts` allows.
    fn delta(&mut self, hub: usize, text: &str, accepts: fn(&BlockKind) -> bool, out: &mut BytesMut) {
        if let Some(p) = self.queued(hub) {
            if accepts(&p.kind) {
                p.buf.push_str(text);
            }
            return;
        }
        let Some(n) = self.open_item(hub) else {
            return;
        };
        let Some(item) = self.items.get_mut(n) else {
            return;
        };
        if text.is_empty() || !accepts(&item.kind) {
            return;
        }
        item.buf.push_str(text);
        let id = item.id.clone();
        let (kind, data) = match item.kind {
            BlockKind::Text => (
                "response.output_text.delta",
                json!({"item_id": id, "output_index": n, "content_index": 0, "delta": text, "logprobs": []}),
            ),
            BlockKind::ToolUse { .. } => {
                ("response.function_call_arguments.delta", json!({"item_id": id, "output_index": n, "delta": text}))
            }
            _ => (
                "response.reasoning_summary_text.delta",
                json!({"item_id": id, "output_index": n, "summary_index": 0, "delta": text}),
            ),
        };
        self.emit(out, kind, data);
    }

    fn close(&mut self, n: usize, out: &mut BytesMut) {
        let Some(item) = self.items.get(n).filter(|it| it.done.is_none()) else {
            return;
        };
        let (id, text) = (item.id.clone(), item.buf.clone());
        let done = match &item.kind {
            BlockKind::Text => OutputItem::message(id.clone(), &text, "completed"),
            BlockKind::ToolUse { id: call, name } => OutputItem::function_call(id.clone(), call, name, &text, "completed"),
            BlockKind::Thinking => OutputItem::reasoning(id.clone(), Some(&text), item.signature.as_deref()),
            BlockKind::RedactedThinking { data } => OutputItem::reasoning(id.clone(), None, Some(data)),
        };
        match &item.kind {
            BlockKind::Text => {
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": n, "content_index": 0, "part": part}),
                );
            }
            BlockKind::ToolUse { name, .. } => {
                let name = name.clone();
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": n, "name": name, "arguments": text}),
                );
            }
            BlockKind::Thinking => {
                self.emit(
                    out,
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": n, "summary_index": 0, "text": text}),
                );
                self.emit(
                    out,
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": n, "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
                );
            }
            BlockKind::RedactedThinking { .. } => {}
        }
        let value = serde_json::to_value(&done).unwrap_or(Value::Null);
        self.emit(out, "response.output_item.done", json!({"output_index": n, "item": value}));
        if let Some(item) = self.items.get_mut(n) {
            item.done = Some(done);
        }
    }

    fn complete(&mut self, out: &mut BytesMut) {
        self.start("", out);
        for n in 0..self.items.len() {
            self.close(n, out);
        }
        self.release(true, out);
        let reason = self.finish.clone().unwrap_or_default();
        let mut response = self.snapshot();
        response.set_finish(&reason);
        let incomplete = finish_to_responses(&reason).0 == "incomplete";
        response.output = self.items.iter().filter_map(|it| it.done.clone()).collect();
        if incomplete {
            for item in &mut response.output {
                if let OutputItem::Message(m) = item {
                    m.status = Some("incomplete".into());
                }
            }
        }
        response.usage = Some(usage_to_responses(&self.usage.unwrap_or_default()));
        let kind = if incomplete { "response.incomplete" } else { "response.completed" };
        let response = serde_json::to_value(response).unwrap_or(Value::Null);
        self.emit(out, kind, json!({ "response": response }));
    }

    fn fail(&mut self, e: &ApiError, out: &mut BytesMut) {
        let code = e.code.clone().unwrap_or_else(|| e.openai_type().to_owned());
        // `code`/`message`/`param` are the documented fields; the nested `error` makes the
        // openai-python stream raise `APIError` instead of yielding the event (§5 item 23).
        self.emit(
            out,
            "error",
            json!({
                "code": code, "message": e.message, "param": e.param,
                "error": {"type": e.openai_type(), "code": code, "message": e.message, "param": e.param},
            }),
        );
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::MessageStart { id, usage, .. } => {
                if usage.is_some() {
                    self.usage = *usage;
                }
                self.start(id, out);
            }
            StreamEvent::BlockStart { index, kind } => {
                self.start("", out);
                self.begin(*index, kind, out);
            }
            StreamEvent::TextDelta { index, text } => {
                self.delta(*index, text, |k| matches!(k, BlockKind::Text), out);
            }
            StreamEvent::ThinkingDelta { index, text } => {
                self.delta(*index, text, |k| matches!(k, BlockKind::Thinking), out);
            }
            StreamEvent::ToolArgsDelta { index, partial_json } => {
                self.delta(*index, partial_json, |k| matches!(k, BlockKind::ToolUse { .. }), out);
            }
            StreamEvent::SignatureDelta { index, signature } => {
                if let Some(p) = self.queued(*index) {
                    p.signature = Some(signature.clone());
                } else if let Some(n) = self.open_item(*index) {
                    if let Some(item) = self.items.get_mut(n) {
                        item.signature = Some(signature.clone());
                    }
                }
            }
            StreamEvent::BlockStop { index } => self.end(*index, out),
            StreamEvent::Finish { reason, .. } => self.finish = Some(reason.clone()),
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Done => {
                self.complete(out);
                self.ended = true;
            }
            StreamEvent::Error(e) => {
                self.fail(e, out);
                self.ended = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sse::SseDecoder;

    pub(crate) fn frames(bytes: &[u8]) -> Vec<(String, Value)> {
        let mut d = SseDecoder::new();
        let events = d.feed(bytes);
        assert!(!d.has_partial_event());
        events.into_iter().map(|e| (e.event.unwrap_or_default(), serde_json::from_str(&e.data).unwrap())).collect()
    }

    fn run(events: &[StreamEvent]) -> Vec<(String, Value)> {
        let mut enc = ResponsesStreamEncoder::new("pub", "req_1").with_created(5);
        let mut out = BytesMut::new();
        for e in events {
            enc.encode(e, &mut out);
        }
        frames(&out)
    }

    fn text_and_tool() -> Vec<StreamEvent> {
        let usage = Usage { in_base: 7, in_cache_read: 3, out_total: 12, out_reasoning: 2, ..Usage::default() };
        vec![
            StreamEvent::MessageStart { id: "msg_1".into(), model: "up".into(), usage: None },
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 0, text: "Hel".into() },
            StreamEvent::TextDelta { index: 0, text: "lo".into() },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::ToolUse { id: "toolu_1".into(), name: "get".into() } },
            StreamEvent::ToolArgsDelta { index: 1, partial_json: "{\"q\":".into() },
            StreamEvent::ToolArgsDelta { index: 1, partial_json: "1}".into() },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::Finish { reason: FinishReason::ToolCalls, stop_sequence: None },
            StreamEvent::Usage(usage),
            StreamEvent::Done,
        ]
    }

    #[test]
    fn text_and_tool_follow_the_grammar_with_increasing_numbers_and_usage_last() {
        let f = run(&text_and_tool());
        let kinds: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (k, d)) in f.iter().enumerate() {
            assert_eq!(d["sequence_number"], i as u64, "{k}");
            assert_eq!(d["type"], k.as_str());
        }
        let (_, last) = f.last().unwrap();
        let r = &last["response"];
        assert_eq!(r["id"], "resp_msg_1");
        assert_eq!(f[0].1["response"]["id"], "resp_msg_1");
        assert_eq!(r["status"], "completed");
        assert_eq!(r["usage"]["input_tokens"], 10);
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 3);
        assert_eq!(r["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
        assert_eq!(r["usage"]["total_tokens"], 22);
        assert_eq!(r["output"][0]["content"][0]["text"], "Hello");
        assert_eq!(r["output"][1]["arguments"], "{\"q\":1}");
        assert_eq!(r["output"][1]["call_id"], "toolu_1");
        assert_eq!(f[9].1["item"]["arguments"], "");
        assert_eq!(f[12].1["arguments"], "{\"q\":1}");
    }

    #[test]
    fn open_items_are_closed_before_an_incomplete_terminal() {
        let f = run(&[
            StreamEvent::BlockStart { index: 0, kind: BlockKind::Thinking },
            StreamEvent::ThinkingDelta { index: 0, text: "hm".into() },
            StreamEvent::SignatureDelta { index: 0, signature: "sig".into() },
            StreamEvent::BlockStart { index: 1, kind: BlockKind::Text },
            StreamEvent::TextDelta { index: 1, text: "cut".into() },
            StreamEvent::Finish { reason: FinishReason::Length, stop_sequence: None },
            StreamEvent::Done,
        ]);
        let (k, last) = f.last().unwrap();
        assert_eq!(k, "response.incomplete");
        assert_eq!(last["response"]["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(last["response"]["id"], "resp_req_1");
        assert_eq!(last["response"]["output"][0]["encrypted_content"], "sig");
        assert_eq!(last["response"]["output"][1]["status"], "incomplete");
        let done = f.iter().filter(|(k, _)| k == "response.output_item.done").count();
        assert_eq!(done, 2);
    }

    #[test]
    fn interleaved_blocks_go_out_one_item_at_a_time() {
        let tool = |id: &str| BlockKind::ToolUse { id: id.into(), name: "f".into() };
        let f = run(&[
            StreamEvent::BlockStart { index: 0, kind: tool("a") },
            StreamEvent::ToolArgsDelta { index: 0, partial_json: "{\"x\":".into() },
            StreamEvent::BlockStart { index: 1, kind: tool("b") },
            StreamEvent::ToolArgsDelta { index: 1, partial_json: "{}".into() },
            StreamEvent::BlockStart { index: 2, kind: BlockKind::Thinking },
            StreamEvent::ThinkingDelta { index: 2, text: "t".into() },
            StreamEvent::SignatureDelta { index: 2, signature: "s".into() },
            StreamEvent::ToolArgsDelta { index: 0, partial_json: "1}".into() },
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Done,
        ]);
        let seq: Vec<(String, Option<u64>)> = f.iter().map(|(k, d)| (k.clone(), d["output_index"].as_u64())).collect();
        let idx = |k: &str, n: u64| seq.iter().position(|(a, b)| a == k && *b == Some(n)).unwrap();
        assert!(idx("response.output_item.done", 0) < idx("response.output_item.added", 1));
        assert!(idx("response.output_item.done", 1) < idx("response.output_item.added", 2));
        let (_, last) = f.last().unwrap();
        assert_eq!(last["response"]["output"][0]["arguments"], "{\"x\":1}");
        assert_eq!(last["response"]["output"][1]["arguments"], "{}");
        assert_eq!(last["response"]["output"][2]["encrypted_content"], "s");
        assert_eq!(last["response"]["output"][2]["summary"][0]["text"], "t");
    }

    #[test]
    fn errors_are_terminal_error_events() {
        let e = ApiError::new(crate::protocol::error::ErrorClass::Unavailable, "Overloaded");
        let f = run(&[StreamEvent::Error(e), StreamEvent::Done]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "error");
        assert_eq!(f[0].1["message"], "Overloaded");
        assert_eq!(f[0].1["sequence_number"], 0);
        assert_eq!(f[0].1["error"]["message"], "Overloaded");
    }
}
