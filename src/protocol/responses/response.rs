//! Responses `response` object ⇄ hub response, with the usage (§2) and finish (§3.8) mappings
//! the stream encoder and decoder share.

use super::ids::{call_id, item_id, response_id};
use super::object::*;
use super::request::reasoning_part;
use super::types::{ReasoningItem, SummaryText};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, parse_arguments, Block, FinishReason, Protocol};
use crate::protocol::usage::Usage;

/// Responses `usage` → disjoint buckets: input includes cache reads and writes (§2).
pub fn usage_from_responses(u: &ResponsesUsage) -> Usage {
    let read = u.input_tokens_details.cached_tokens;
    let write = u.input_tokens_details.cache_write_tokens.unwrap_or(0);
    Usage {
        in_base: u.input_tokens.saturating_sub(read.saturating_add(write)),
        in_cache_read: read,
        in_cache_write_other: write,
        out_total: u.output_tokens,
        out_reasoning: u.output_tokens_details.reasoning_tokens.min(u.output_tokens),
        ..Usage::default()
    }
}

/// Disjoint buckets → Responses `usage`: every input bucket counts into `input_tokens`.
pub fn usage_to_responses(u: &Usage) -> ResponsesUsage {
    let writes = u.cache_write_total();
    ResponsesUsage {
        input_tokens: u.input_total(),
        input_tokens_details: InputTokensDetails {
            cached_tokens: u.in_cache_read,
            cache_write_tokens: (writes > 0).then_some(writes),
        },
        output_tokens: u.out_total,
        output_tokens_details: OutputTokensDetails { reasoning_tokens: u.out_reasoning },
        total_tokens: u.total(),
    }
}

/// Hub finish → (`status`, `incomplete_details.reason`) per §3.8: tool calls complete the
/// response; length and filters make it incomplete; Anthropic's `pause_turn` is incomplete
/// without a reason; other raw reasons (Gemini `OTHER`, malformed calls) count as a stop.
pub fn finish_to_responses(reason: &FinishReason) -> (&'static str, Option<&'static str>) {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => ("completed", None),
        FinishReason::Length => ("incomplete", Some("max_output_tokens")),
        FinishReason::ContentFilter => ("incomplete", Some("content_filter")),
        FinishReason::Other(raw) if raw == "pause_turn" => ("incomplete", None),
        FinishReason::Other(_) => ("completed", None),
    }
}

/// (`status`, `incomplete_details.reason`) → hub finish. A completed response that called a
/// function finishes with `ToolCalls`, which is what Chat and Anthropic clients expect.
pub fn finish_from_responses(status: &str, reason: Option<&str>, called_tools: bool) -> FinishReason {
    match (status, reason) {
        ("incomplete", Some("max_output_tokens")) => FinishReason::Length,
        ("incomplete", Some("content_filter")) => FinishReason::ContentFilter,
        ("incomplete", _) => FinishReason::Other("incomplete".into()),
        _ if called_tools => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// The upstream's own finish words for the log: the `incomplete_details.reason` when there is
/// one (`max_output_tokens`), else the `status` (`completed`).
pub(crate) fn raw_finish(status: &str, incomplete_reason: Option<&str>) -> String {
    incomplete_reason.unwrap_or(status).to_owned()
}

/// An upstream response body → hub response. A `failed` response is an error.
pub fn responses_response_to_ir(body: &[u8]) -> Result<ir::Response, ApiError> {
    let obj: ResponseObject = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("upstream returned an unreadable response object: {e}")).with_status(502)
    })?;
    response_object_to_ir(obj)
}

/// The usage of an upstream response body, for the passthrough path (`None` when absent or
/// unreadable).
pub fn responses_usage(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        usage: Option<ResponsesUsage>,
    }
    let p: Probe = serde_json::from_slice(body).ok()?;
    p.usage.as_ref().map(usage_from_responses)
}

/// A parsed response object → hub response.
pub fn response_object_to_ir(obj: ResponseObject) -> Result<ir::Response, ApiError> {
    let status = obj.status.as_deref().unwrap_or("completed");
    if status == "failed" {
        let e = obj.error.unwrap_or_default();
        return Err(failed_error(e.code.as_deref(), &e.message, None));
    }
    let mut blocks = Vec::new();
    let mut called = false;
    for item in obj.output {
        match item {
            OutputItem::Message(m) => {
                for c in m.content {
                    match c {
                        OutputContent::OutputText { text, .. } | OutputContent::Refusal { refusal: text } => {
                            if !text.is_empty() {
                                blocks.push(Block::Text(text));
                            }
                        }
                        OutputContent::Other => {}
                    }
                }
            }
            OutputItem::FunctionCall(c) => {
                called = true;
                let id = if c.call_id.is_empty() { c.id } else { c.call_id };
                blocks.push(Block::ToolUse { id, name: c.name, input: parse_arguments(&c.arguments) });
            }
            OutputItem::Reasoning(r) => blocks.extend(reasoning_block(r)),
            OutputItem::Other => {}
        }
    }
    let reason = obj.incomplete_details.as_ref().and_then(|d| d.reason.as_deref());
    Ok(ir::Response {
        finish: finish_from_responses(status, reason, called),
        raw_finish_reason: Some(raw_finish(status, reason)),
        id: obj.id,
        model: obj.model,
        blocks,
        usage: obj.usage.as_ref().map(usage_from_responses).unwrap_or_default(),
        created: (obj.created_at > 0).then_some(obj.created_at),
        ..Default::default()
    })
}

/// A reasoning item → thinking block, by the same rule as a reasoning item sent back as input
/// ([`reasoning_part`]): summary (or raw text) makes visible thinking signed by
/// `encrypted_content`; encrypted content alone is redacted thinking.
pub(crate) fn reasoning_block(r: ReasoningItem) -> Option<Block> {
    match reasoning_part(r)? {
        ir::Part::Thinking { text, signature } => Some(Block::Thinking { text, signature }),
        ir::Part::RedactedThinking { data } => Some(Block::RedactedThinking(data)),
        _ => None,
    }
}

/// The error a `response.failed` or an `error` event stands for. OpenAI codes are class words
/// (`server_error`, `rate_limit_exceeded`), so the class is read from the code when it is one.
pub(crate) fn failed_error(code: Option<&str>, message: &str, param: Option<&str>) -> ApiError {
    let body = serde_json::json!({"error": {"message": message, "type": code, "code": code, "param": param}});
    let mut e = ApiError::from_upstream(Protocol::OpenAiResponses, 200, body.to_string().as_bytes(), None);
    if code == Some("rate_limit_exceeded") {
        e = ApiError { class: ErrorClass::RateLimited, status: 429, ..e };
    }
    if e.message.is_empty() {
        e.message = "the upstream response failed".into();
    }
    e
}

/// Builders for output items, shared by the whole-response and stream encoders so both name
/// and shape items identically.
impl OutputItem {
    /// An assistant message with one `output_text` part.
    pub fn message(id: String, text: &str, status: &str) -> Self {
        OutputItem::Message(OutputMessage {
            id,
            role: "assistant".into(),
            status: Some(status.into()),
            content: vec![OutputContent::text(text)],
        })
    }

    /// A function call (`call_id` shortened to 64 characters when needed).
    pub fn function_call(id: String, call: &str, name: &str, arguments: &str, status: &str) -> Self {
        OutputItem::FunctionCall(OutputFunctionCall {
            id,
            call_id: call_id(call).into_owned(),
            name: name.into(),
            arguments: arguments.into(),
            status: Some(status.into()),
        })
    }

    /// Reasoning: visible thinking gets one `summary_text` part (even when empty, so it reads
    /// back as thinking), redacted thinking none; the signature travels as `encrypted_content`.
    pub fn reasoning(id: String, text: Option<&str>, signature: Option<&str>) -> Self {
        OutputItem::Reasoning(ReasoningItem {
            id: Some(id),
            summary: text.map(|t| vec![SummaryText::new(t)]).unwrap_or_default(),
            encrypted_content: signature.map(str::to_owned),
            content: None,
            status: None,
        })
    }
}

impl ResponseObject {
    /// An empty response object for the client: `resp_` id, public model, echo of the request.
    pub fn new(id: String, model: String, created_at: u64, echo: ResponseEcho) -> Self {
        ResponseObject {
            id,
            object: "response".into(),
            created_at,
            status: Some("in_progress".into()),
            error: None,
            incomplete_details: None,
            model,
            output: Vec::new(),
            usage: None,
            echo,
        }
    }

    /// Sets `status` and `incomplete_details` from a hub finish reason.
    pub fn set_finish(&mut self, reason: &FinishReason) {
        let (status, why) = finish_to_responses(reason);
        self.status = Some(status.into());
        self.incomplete_details = (status == "incomplete").then(|| IncompleteDetails { reason: why.map(str::to_owned) });
    }
}

/// Hub response → typed response object; `fallback_id` names it if the upstream gave no id.
pub fn ir_to_response_object(resp: &ir::Response, echo: &ResponseEcho, fallback_id: &str) -> ResponseObject {
    let id = response_id(&resp.id, fallback_id);
    let created = resp.created.unwrap_or_else(now_secs);
    let mut obj = ResponseObject::new(id.clone(), resp.model.clone(), created, echo.clone());
    let (status, _) = finish_to_responses(&resp.finish);
    let item_status = if status == "completed" { "completed" } else { "incomplete" };
    for (n, b) in resp.blocks.iter().enumerate() {
        obj.output.push(match b {
            Block::Text(t) => OutputItem::message(item_id("msg", &id, n), t, item_status),
            Block::ToolUse { id: call, name, input } => OutputItem::function_call(
                item_id("fc", &id, n),
                call,
                name,
                &crate::protocol::openai::chat_response::arguments_text(input),
                "completed",
            ),
            Block::Thinking { text, signature } => OutputItem::reasoning(item_id("rs", &id, n), Some(text), signature.as_deref()),
            Block::RedactedThinking(data) => OutputItem::reasoning(item_id("rs", &id, n), None, Some(data)),
        });
    }
    obj.set_finish(&resp.finish);
    obj.usage = Some(usage_to_responses(&resp.usage));
    obj
}

/// Hub response → response object body for a Responses client.
pub fn ir_to_responses_response(resp: &ir::Response, echo: &ResponseEcho, fallback_id: &str) -> Vec<u8> {
    // Serialising plain data structures cannot fail.
    serde_json::to_vec(&ir_to_response_object(resp, echo, fallback_id)).unwrap_or_default()
}

/// Wall-clock seconds, for `created_at` when the upstream gave none.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usage() -> Usage {
        Usage { in_base: 70, in_cache_read: 30, out_total: 50, out_reasoning: 20, ..Usage::default() }
    }

    #[test]
    fn usage_round_trips_with_cache_and_reasoning() {
        let r = usage_to_responses(&usage());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 30}, "output_tokens": 50,
                   "output_tokens_details": {"reasoning_tokens": 20}, "total_tokens": 150})
        );
        assert_eq!(usage_from_responses(&r), usage());
        let w = Usage { in_base: 1, in_cache_write_5m: 4, ..Usage::default() };
        assert_eq!(usage_to_responses(&w).input_tokens_details.cache_write_tokens, Some(4));
    }

    #[test]
    fn finish_table() {
        assert_eq!(finish_to_responses(&FinishReason::ToolCalls), ("completed", None));
        assert_eq!(finish_to_responses(&FinishReason::Length), ("incomplete", Some("max_output_tokens")));
        assert_eq!(finish_to_responses(&FinishReason::ContentFilter), ("incomplete", Some("content_filter")));
        assert_eq!(finish_to_responses(&FinishReason::Other("pause_turn".into())), ("incomplete", None));
        assert_eq!(finish_to_responses(&FinishReason::Other("OTHER".into())), ("completed", None));
        assert_eq!(finish_from_responses("completed", None, true), FinishReason::ToolCalls);
        assert_eq!(finish_from_responses("incomplete", Some("max_output_tokens"), true), FinishReason::Length);
    }

    #[test]
    fn ir_response_to_object_and_back() {
        let resp = ir::Response {
            id: "msg_1".into(),
            model: "pub".into(),
            blocks: vec![
                Block::Thinking { text: "hmm".into(), signature: Some("sig".into()) },
                Block::RedactedThinking("enc".into()),
                Block::Text("Hi".into()),
                Block::ToolUse { id: "toolu_1".into(), name: "get".into(), input: json!({"q": 1}) },
            ],
            finish: FinishReason::ToolCalls,
            usage: usage(),
            created: Some(7),
            ..Default::default()
        };
        let body = ir_to_responses_response(&resp, &ResponseEcho::default(), "req");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["id"], "resp_msg_1");
        assert_eq!(v["status"], "completed");
        assert_eq!(
            v["output"][0],
            json!({"type": "reasoning", "id": "rs_msg_1_0", "summary": [{"type": "summary_text", "text": "hmm"}], "encrypted_content": "sig"})
        );
        assert_eq!(v["output"][1]["summary"], json!([]));
        assert_eq!(v["output"][2]["content"], json!([{"type": "output_text", "text": "Hi", "annotations": []}]));
        assert_eq!(v["output"][3]["arguments"], "{\"q\":1}");
        assert_eq!(v["usage"]["total_tokens"], 150);
        let back = responses_response_to_ir(&body).unwrap();
        assert_eq!(back.blocks, resp.blocks);
        assert_eq!((back.finish, back.usage, back.id.as_str()), (FinishReason::ToolCalls, usage(), "resp_msg_1"));
        assert_eq!(responses_usage(&body), Some(usage()));
    }

    #[test]
    fn incomplete_and_failed_objects() {
        let resp = ir::Response { finish: FinishReason::Length, blocks: vec![Block::Text("cut".into())], ..Default::default() };
        let o = ir_to_response_object(&resp, &ResponseEcho::default(), "req");
        assert_eq!(
            (o.status.as_deref(), o.incomplete_details.clone().and_then(|d| d.reason)),
            (Some("incomplete"), Some("max_output_tokens".into()))
        );
        assert!(matches!(&o.output[0], OutputItem::Message(m) if m.status.as_deref() == Some("incomplete")));
        let e = responses_response_to_ir(br#"{"status":"failed","error":{"code":"server_error","message":"boom"}}"#).unwrap_err();
        assert_eq!((e.class, e.message.as_str()), (ErrorClass::Server, "boom"));
        assert!(responses_response_to_ir(b"[").is_err());
    }
}
