//! OpenAI Chat Completions passthrough: the edits a gateway makes to a request, a response and
//! a stream when client and upstream both speak this protocol.
//!
//! Only the model id, `stream_options` and the usage chunk are touched; every other field keeps
//! its bytes, so explicit `0`/`false`, `null` and fields unknown to us reach the upstream as sent.

use super::super::error::{ApiError, ErrorClass};
use super::super::ir::{ConvertOptions, Converted, Protocol};
use super::super::json::{missing_model, RawObject};
use super::super::sse::SseEvent;
use super::super::usage::Usage;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

/// What the gateway needs to know about a chat request before routing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatRequestInfo {
    /// The model id the client asked for.
    pub model: String,
    /// `stream: true` was sent.
    pub stream: bool,
    /// The client asked for the usage chunk (`stream_options.include_usage: true`).
    pub include_usage: bool,
}

/// A parsed chat request whose unknown fields are kept raw.
#[derive(Debug)]
pub struct ChatRequest<'a> {
    raw: &'a [u8],
    body: RawObject<'a>,
    /// The facts read from the body.
    pub info: ChatRequestInfo,
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

impl<'a> ChatRequest<'a> {
    /// Parses a request body; a malformed body or a missing/invalid field is a 400 naming it.
    pub fn parse(body: &'a [u8]) -> Result<Self, ApiError> {
        let obj = RawObject::parse_body(body)?;
        let model = match obj.get("model") {
            None => return Err(missing_model()),
            Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                Ok(m) if !m.is_empty() => m,
                Ok(_) => return Err(missing_model()),
                Err(_) => return Err(ApiError::new(ErrorClass::InvalidRequest, "`model` must be a string").with_param("model")),
            },
        };
        let stream = match obj.get_as::<Option<bool>>("stream") {
            None | Some(Ok(None)) => false,
            Some(Ok(Some(b))) => b,
            Some(Err(_)) => {
                return Err(ApiError::new(ErrorClass::InvalidRequest, "`stream` must be a boolean").with_param("stream"))
            }
        };
        let include_usage = match obj.get_as::<Option<StreamOptions>>("stream_options") {
            None | Some(Ok(None)) => false,
            Some(Ok(Some(o))) => o.include_usage.unwrap_or(false),
            Some(Err(_)) => {
                return Err(ApiError::new(
                    ErrorClass::InvalidRequest,
                    "`stream_options` must be an object with a boolean `include_usage`",
                )
                .with_param("stream_options"))
            }
        };
        match obj.get("messages").map(|m| m.get().trim_start().as_bytes().first().copied()) {
            Some(Some(b'[')) => {}
            Some(_) => {
                return Err(ApiError::new(ErrorClass::InvalidRequest, "`messages` must be an array").with_param("messages"))
            }
            None => {
                return Err(ApiError::new(ErrorClass::InvalidRequest, "missing required field `messages`").with_param("messages"))
            }
        }
        Ok(ChatRequest { raw: body, body: obj, info: ChatRequestInfo { model, stream, include_usage } })
    }

    /// The body exactly as the client sent it.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The body to send upstream: the channel's model id, and for streams `include_usage`
    /// forced on (other `stream_options` fields kept) so usage is always counted.
    pub fn upstream_body(&self, upstream_model: &str) -> Result<Bytes, ApiError> {
        let mut body = self.body.clone();
        // Re-serialising parsed JSON cannot fail in practice; the client never sees serde's words.
        let internal = |_: serde_json::Error| ApiError::new(ErrorClass::Server, "the upstream request could not be built");
        body.set("model", upstream_model).map_err(internal)?;
        if self.info.stream {
            let mut options: serde_json::Map<String, serde_json::Value> = match body.get("stream_options") {
                Some(raw) => serde_json::from_str::<Option<_>>(raw.get()).map_err(internal)?.unwrap_or_default(),
                None => serde_json::Map::new(),
            };
            options.insert("include_usage".into(), serde_json::Value::Bool(true));
            body.set("stream_options", &options).map_err(internal)?;
        }
        Ok(Bytes::from(body.to_vec()))
    }

    /// [`ChatRequest::upstream_body`] without the sampling fields the model refuses
    /// (`opts.rejected_sampling`), each dropped with a warning.
    pub fn upstream_body_with(&self, upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError> {
        let mut warnings = Vec::new();
        if opts.rejected_sampling.is_empty() {
            return Ok(Converted { value: self.upstream_body(upstream_model)?, warnings });
        }
        let mut stripped = ChatRequest { raw: self.raw, body: self.body.clone(), info: self.info.clone() };
        crate::protocol::passthrough::strip_sampling(&mut stripped.body, Protocol::OpenAiChat, opts, &mut warnings);
        Ok(Converted { value: stripped.upstream_body(upstream_model)?, warnings })
    }
}

/// The `usage` object of a chat completion or its final stream chunk.
#[derive(Deserialize, Default, Debug)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

#[derive(Deserialize, Default, Debug)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

/// Normalises an OpenAI `usage` object (`None` for `null` or a shape we cannot read).
pub fn usage_from_raw(raw: &RawValue) -> Option<Usage> {
    let u: ChatUsage = serde_json::from_str::<Option<ChatUsage>>(raw.get()).ok()??;
    let details = u.prompt_tokens_details.unwrap_or_default();
    let read = details.cached_tokens.unwrap_or(0);
    let write = details.cache_write_tokens.unwrap_or(0);
    let reasoning = u.completion_tokens_details.and_then(|d| d.reasoning_tokens).unwrap_or(0);
    Some(Usage {
        in_base: u.prompt_tokens.saturating_sub(read + write),
        in_cache_read: read,
        in_cache_write_other: write,
        out_total: u.completion_tokens,
        out_reasoning: reasoning.min(u.completion_tokens),
        ..Usage::default()
    })
}

/// Rewrites a whole (non-stream) chat completion for the client: the public model id goes
/// back in; the usage is returned. A body that is not a JSON object passes unchanged.
pub fn rewrite_response(body: &[u8], public_model: &str) -> (Bytes, Option<Usage>) {
    let Ok(mut obj) = RawObject::parse(body) else {
        return (Bytes::copy_from_slice(body), None);
    };
    let usage = obj.get("usage").and_then(usage_from_raw);
    if obj.get("model").is_some() && obj.set("model", public_model).is_err() {
        return (Bytes::copy_from_slice(body), usage);
    }
    (Bytes::from(obj.to_vec()), usage)
}

/// What to do with one upstream stream event.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamStep {
    /// Send these bytes to the client.
    Forward(Bytes),
    /// Send nothing (a usage chunk the client did not ask for).
    Skip,
    /// `[DONE]`: send these bytes; the stream ended cleanly.
    Done(Bytes),
    /// The upstream sent an in-stream error: send these bytes and end the stream.
    Error(Bytes),
}

/// Per-stream state: rewrites each chunk's model id, records usage, hides what the client did
/// not ask for. One per stream, no shared state.
#[derive(Debug)]
pub struct ChatStreamRewriter {
    public_model: String,
    client_wants_usage: bool,
    usage: Option<Usage>,
    finished: bool,
    raw_finish: Option<String>,
}

impl ChatStreamRewriter {
    /// A rewriter for one stream.
    pub fn new(public_model: impl Into<String>, client_wants_usage: bool) -> Self {
        ChatStreamRewriter {
            public_model: public_model.into(),
            client_wants_usage,
            usage: None,
            finished: false,
            raw_finish: None,
        }
    }

    /// The upstream's `finish_reason`, once seen (for the log).
    pub fn raw_finish_reason(&self) -> Option<&str> {
        self.raw_finish.as_deref()
    }

    /// The last usage the upstream reported (cumulative; the last value wins).
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// True once a `finish_reason` was seen: the answer is complete even if `[DONE]` is missing.
    pub fn saw_finish(&self) -> bool {
        self.finished
    }

    /// Handles one upstream event.
    pub fn on_event(&mut self, event: &SseEvent) -> StreamStep {
        let data = event.data.trim();
        if data == "[DONE]" {
            return StreamStep::Done(Bytes::from_static(b"data: [DONE]\n\n"));
        }
        if let Some(fast) = self.fast_path(data) {
            return fast;
        }
        self.slow_path(event, data)
    }

    /// The common chunk (compact JSON, no usage object, no error) rewritten by byte edits
    /// instead of a parse: find the structural `"model":"…"`, drop `,"usage":null` when the
    /// client did not ask for usage, notice a finish reason. `None` sends the chunk to the
    /// parsing path, which handles every shape.
    fn fast_path(&mut self, data: &str) -> Option<StreamStep> {
        let bytes = data.as_bytes();
        if bytes.first() != Some(&b'{') || bytes.get(1) == Some(&b'"') && data[1..].starts_with("\"error\"") {
            return None;
        }
        let (model_start, model_end) = structural_string_value(bytes, &MODEL_KEY)?;
        let usage = structural_key(bytes, &USAGE_KEY);
        let drop_usage = match usage {
            None => None,
            // A real usage object (the last chunk) takes the parsing path.
            Some(at) if !bytes[at..].starts_with(b"null") => return None,
            Some(_) if self.client_wants_usage => None,
            Some(at) => {
                let key_start = at - USAGE_KEY.needle().len();
                // Only `,"usage":null` is cut out byte-exact; another layout takes the slow path.
                if key_start == 0 || bytes[key_start - 1] != b',' {
                    return None;
                }
                Some((key_start - 1, at + 4))
            }
        };
        if ERROR_KEY.find(bytes).is_some() {
            return None;
        }
        if !self.finished {
            if let Some(at) = structural_key(bytes, &FINISH_KEY) {
                self.finished = bytes.get(at) == Some(&b'"');
                if self.finished {
                    self.raw_finish = structural_string_value(bytes, &FINISH_STR_KEY).map(|(a, b)| data[a..b].to_owned());
                }
            }
        }
        let mut out = BytesMut::with_capacity(data.len() + self.public_model.len() + 8);
        out.extend_from_slice(b"data: ");
        let mut cursor = 0;
        let mut edits: [(usize, usize, &[u8]); 2] =
            [(model_start, model_end, self.public_model.as_bytes()), (usize::MAX, usize::MAX, b"")];
        if let Some((from, to)) = drop_usage {
            edits[1] = (from, to, b"");
        }
        edits.sort_by_key(|e| e.0);
        for (from, to, with) in edits {
            if from == usize::MAX {
                continue;
            }
            out.extend_from_slice(&bytes[cursor..from]);
            out.extend_from_slice(with);
            cursor = to;
        }
        out.extend_from_slice(&bytes[cursor..]);
        out.extend_from_slice(b"\n\n");
        Some(StreamStep::Forward(out.freeze()))
    }

    fn slow_path(&mut self, event: &SseEvent, data: &str) -> StreamStep {
        let Ok(mut obj) = RawObject::parse(data.as_bytes()) else {
            // Not JSON: pass it as it came rather than inventing content.
            return StreamStep::Forward(event.to_bytes());
        };
        if obj.get("error").is_some() {
            return StreamStep::Error(event.to_bytes());
        }
        let usage_raw = obj.get("usage");
        let usage = usage_raw.and_then(usage_from_raw);
        if usage.is_some() {
            self.usage = usage;
        }
        let choices_empty = obj.get("choices").map(|c| c.get().bytes().filter(|b| !b.is_ascii_whitespace()).eq(*b"[]"));
        if !self.client_wants_usage {
            if usage.is_some() && choices_empty == Some(true) {
                return StreamStep::Skip;
            }
            if usage_raw.is_some() {
                obj.remove("usage");
            }
        }
        if !self.finished {
            if let Some(Ok(choices)) = obj.get_as::<Vec<FinishProbe>>("choices") {
                self.raw_finish = choices.into_iter().find_map(|c| c.finish_reason);
                self.finished = self.raw_finish.is_some();
            }
        }
        if obj.get("model").is_some() && obj.set("model", &self.public_model).is_err() {
            return StreamStep::Forward(event.to_bytes());
        }
        let mut out = Vec::with_capacity(data.len() + 8);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&obj.to_vec());
        out.extend_from_slice(b"\n\n");
        StreamStep::Forward(Bytes::from(out))
    }
}

/// A substring searcher built once: building one per search cost more than the search.
type Key = std::sync::LazyLock<memchr::memmem::Finder<'static>>;

static MODEL_KEY: Key = Key::new(|| memchr::memmem::Finder::new(b"\"model\":\""));
static USAGE_KEY: Key = Key::new(|| memchr::memmem::Finder::new(b"\"usage\":"));
static FINISH_KEY: Key = Key::new(|| memchr::memmem::Finder::new(b"\"finish_reason\":"));
static FINISH_STR_KEY: Key = Key::new(|| memchr::memmem::Finder::new(b"\"finish_reason\":\""));
static ERROR_KEY: Key = Key::new(|| memchr::memmem::Finder::new(b"\"error\""));

/// The position just after `key` where it appears as an object key (preceded by `{` or `,`),
/// so the same bytes inside a string value (where quotes are escaped) never match.
fn structural_key(bytes: &[u8], key: &Key) -> Option<usize> {
    let needle_len = key.needle().len();
    let mut from = 0;
    while let Some(i) = key.find(&bytes[from..]) {
        let at = from + i;
        if at > 0 && matches!(bytes[at - 1], b'{' | b',') {
            return Some(at + needle_len);
        }
        from = at + 1;
    }
    None
}

/// The byte range of a structural key's plain string value (`None` if the value has escapes).
fn structural_string_value(bytes: &[u8], key_with_quote: &Key) -> Option<(usize, usize)> {
    let start = structural_key(bytes, key_with_quote)?;
    let len = memchr::memchr2(b'"', b'\\', &bytes[start..])?;
    (bytes[start + len] == b'"').then_some((start, start + len))
}

#[derive(Deserialize)]
struct FinishProbe {
    #[serde(default)]
    finish_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_facts_and_upstream_body_keep_zero_values() {
        let body = br#"{"model":"pub","messages":[],"seed":0,"temperature":0,"parallel_tool_calls":false,"x_unknown":{"a":null},"stream":true,"stream_options":{"foo":1}}"#;
        let req = ChatRequest::parse(body).unwrap();
        assert_eq!(req.info, ChatRequestInfo { model: "pub".into(), stream: true, include_usage: false });
        let up = req.upstream_body("up-model").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&up).unwrap();
        assert_eq!(v["model"], "up-model");
        assert_eq!(v["seed"], 0);
        assert_eq!(v["temperature"], 0);
        assert_eq!(v["parallel_tool_calls"], false);
        assert_eq!(v["x_unknown"], serde_json::json!({"a": null}));
        assert_eq!(v["stream_options"], serde_json::json!({"foo": 1, "include_usage": true}));
    }

    #[test]
    fn request_errors_name_the_field() {
        assert_eq!(ChatRequest::parse(b"{").unwrap_err().code.as_deref(), Some("invalid_json"));
        assert_eq!(ChatRequest::parse(br#"{"messages":[]}"#).unwrap_err().param.as_deref(), Some("model"));
        assert_eq!(ChatRequest::parse(br#"{"model":"m"}"#).unwrap_err().param.as_deref(), Some("messages"));
        assert_eq!(
            ChatRequest::parse(br#"{"model":"m","messages":[],"stream":"yes"}"#).unwrap_err().param.as_deref(),
            Some("stream")
        );
    }

    #[test]
    fn usage_is_normalised_into_disjoint_buckets() {
        let raw = serde_json::value::to_raw_value(&serde_json::json!({
            "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 20}
        }))
        .unwrap();
        let u = usage_from_raw(&raw).unwrap();
        assert_eq!((u.in_base, u.in_cache_read, u.out_total, u.out_reasoning), (70, 30, 50, 20));
        assert_eq!(u.input_total(), 100);
    }

    #[test]
    fn response_model_is_public_again() {
        let (b, u) = rewrite_response(br#"{"id":"x","model":"up","usage":{"prompt_tokens":3,"completion_tokens":2}}"#, "pub");
        assert_eq!(&b[..], br#"{"id":"x","model":"pub","usage":{"prompt_tokens":3,"completion_tokens":2}}"#);
        assert_eq!(u.unwrap().out_total, 2);
    }

    #[test]
    fn usage_chunk_hidden_unless_asked_but_still_counted() {
        let chunk = SseEvent::data(r#"{"id":"c","model":"up","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12}}"#);
        let content = SseEvent::data(
            r#"{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}"#,
        );
        let mut hidden = ChatStreamRewriter::new("pub", false);
        assert_eq!(
            hidden.on_event(&content),
            StreamStep::Forward(Bytes::from_static(b"data: {\"id\":\"c\",\"model\":\"pub\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"))
        );
        assert_eq!(hidden.on_event(&chunk), StreamStep::Skip);
        assert_eq!(hidden.usage().unwrap().out_total, 12);

        let mut shown = ChatStreamRewriter::new("pub", true);
        assert!(
            matches!(shown.on_event(&chunk), StreamStep::Forward(b) if b.starts_with(b"data: {\"id\":\"c\",\"model\":\"pub\",\"choices\":[],\"usage\""))
        );
        assert!(matches!(shown.on_event(&SseEvent::data("[DONE]")), StreamStep::Done(_)));
    }

    #[test]
    fn in_stream_error_and_finish_detection() {
        let mut r = ChatStreamRewriter::new("pub", false);
        assert!(!r.saw_finish());
        r.on_event(&SseEvent::data(r#"{"model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#));
        assert!(r.saw_finish());
        assert!(matches!(r.on_event(&SseEvent::data(r#"{"error":{"message":"boom"}}"#)), StreamStep::Error(_)));
    }

    #[test]
    fn fast_path_matches_the_parsing_path() {
        let chunks = [
            r#"{"id":"c","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":"say \"model\":\"x\""},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"c","model":"up","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#,
            r#"{"usage":null,"id":"c","model":"up","choices":[]}"#,
        ];
        for wants in [false, true] {
            for chunk in chunks {
                let mut fast = ChatStreamRewriter::new("pub", wants);
                let mut slow = ChatStreamRewriter::new("pub", wants);
                let ev = SseEvent::data(chunk);
                let a = fast.on_event(&ev);
                let b = slow.slow_path(&ev, chunk);
                let parse = |s: StreamStep| match s {
                    StreamStep::Forward(b) => serde_json::from_slice::<serde_json::Value>(&b[6..]).unwrap(),
                    other => panic!("{other:?}"),
                };
                assert_eq!(parse(a), parse(b), "{chunk} wants={wants}");
                assert_eq!(fast.saw_finish(), slow.saw_finish(), "{chunk}");
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(data in ".{0,200}", body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = ChatStreamRewriter::new("m", false);
            let _ = r.on_event(&SseEvent::data(data));
            let _ = ChatRequest::parse(&body);
            let _ = rewrite_response(&body, "m");
        }
    }
}
