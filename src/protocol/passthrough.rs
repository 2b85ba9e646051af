//! Same protocol in and out: the request, response and stream pass with only the model id
//! changed (and, for OpenAI Chat streams, usage forced on upstream and hidden again), so every
//! field — unknown ones, explicit `0`/`false`/`null` — keeps its exact bytes.
//!
//! Usage is still counted: a passthrough stream feeds each event to the protocol's hub decoder
//! on the side and keeps the last usage snapshot.

use super::dialect::{self, DynDecoder};
use super::error::{ApiError, ErrorClass};
use super::gemini::{merge_snapshot, usage_from_gemini, UsageMetadata};
use super::ir::{ConvertOptions, Converted, Protocol, SamplingField, StreamEvent, Warning};
use super::json::RawObject;
pub use super::openai::chat::StreamStep;
use super::openai::chat::{ChatRequest, ChatStreamRewriter};
use super::sse::SseEvent;
use super::usage::Usage;
use bytes::Bytes;

/// The field naming the model in a response body of protocol `p`.
fn response_model_field(p: Protocol) -> &'static str {
    match p {
        Protocol::Gemini => "modelVersion",
        _ => "model",
    }
}

/// The upstream body: the channel's model id in place (Gemini names it in the path, so its
/// body passes untouched); for OpenAI Chat streams `include_usage` is forced on.
pub fn request(p: Protocol, body: &[u8], upstream_model: &str) -> Result<Bytes, ApiError> {
    match p {
        Protocol::OpenAiChat => ChatRequest::parse(body)?.upstream_body(upstream_model),
        Protocol::Gemini => Ok(Bytes::copy_from_slice(body)),
        Protocol::Anthropic | Protocol::OpenAiResponses => with_model(body, upstream_model),
    }
}

/// [`request`] that also drops the sampling fields the model refuses
/// (`opts.rejected_sampling`, config `capabilities.rejects`), each with a warning; every other
/// byte is kept. With nothing to drop the body is exactly what [`request`] returns.
pub fn request_with(p: Protocol, body: &[u8], upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError> {
    if p == Protocol::OpenAiChat {
        return ChatRequest::parse(body)?.upstream_body_with(upstream_model, opts);
    }
    let mut warnings = Vec::new();
    if opts.rejected_sampling.is_empty() {
        return Ok(Converted { value: request(p, body, upstream_model)?, warnings });
    }
    let mut obj = RawObject::parse_body(body)?;
    if p == Protocol::Gemini {
        strip_gemini_sampling(&mut obj, opts, &mut warnings)?;
    } else {
        strip_sampling(&mut obj, p, opts, &mut warnings);
        obj.set("model", upstream_model).map_err(internal)?;
    }
    Ok(Converted { value: Bytes::from(obj.to_vec()), warnings })
}

fn internal(e: serde_json::Error) -> ApiError {
    ApiError::new(ErrorClass::Server, format!("could not build the upstream body: {e}"))
}

/// The name protocol `p` gives a sampling field (Gemini's live under `generationConfig`).
fn wire_name(p: Protocol, f: SamplingField) -> &'static str {
    match (p, f) {
        (Protocol::Gemini, SamplingField::Temperature) => "temperature",
        (Protocol::Gemini, SamplingField::TopP) => "topP",
        (Protocol::Gemini, SamplingField::TopK) => "topK",
        (Protocol::Gemini, SamplingField::Seed) => "seed",
        (Protocol::Gemini, SamplingField::PresencePenalty) => "presencePenalty",
        (Protocol::Gemini, SamplingField::FrequencyPenalty) => "frequencyPenalty",
        (Protocol::Gemini, SamplingField::Stop) => "stopSequences",
        (Protocol::Anthropic, SamplingField::Stop) => "stop_sequences",
        (_, f) => f.as_str(),
    }
}

/// Drops the refused top-level sampling fields of a protocol-`p` body; a field sent as `null`
/// asked for nothing, so it goes without a warning.
pub(crate) fn strip_sampling(obj: &mut RawObject<'_>, p: Protocol, opts: &ConvertOptions, warnings: &mut Vec<Warning>) {
    for f in &opts.rejected_sampling {
        let name = wire_name(p, *f);
        let meaningful = obj.get(name).is_some_and(|v| v.get().trim() != "null");
        if obj.remove(name) && meaningful {
            warnings.push(Warning::SamplingFieldDropped { field: *f, reason: "the model does not accept this sampling field" });
        }
    }
}

/// Gemini keeps sampling under `generationConfig`: edit that object in place.
fn strip_gemini_sampling(obj: &mut RawObject<'_>, opts: &ConvertOptions, warnings: &mut Vec<Warning>) -> Result<(), ApiError> {
    let Some(raw) = obj.get("generationConfig").map(|r| r.get().to_owned()) else {
        return Ok(());
    };
    let Ok(mut gc) = RawObject::parse(raw.as_bytes()) else {
        // Not an object: Gemini will refuse it itself; nothing of ours to drop.
        return Ok(());
    };
    let before = warnings.len();
    strip_sampling(&mut gc, Protocol::Gemini, opts, warnings);
    if warnings.len() == before {
        return Ok(());
    }
    let text = String::from_utf8(gc.to_vec()).map_err(|e| ApiError::new(ErrorClass::Server, e.to_string()))?;
    let value = serde_json::value::RawValue::from_string(text).map_err(internal)?;
    obj.set_raw("generationConfig", value);
    Ok(())
}

/// The upstream's own finish reason in a whole answer of protocol `p` (`end_turn`, `STOP`,
/// `length`, a Responses status), for the access log; `None` when absent or unreadable.
pub fn raw_finish_reason(p: Protocol, body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Chat {
        #[serde(default)]
        choices: Vec<ChatChoice>,
    }
    #[derive(serde::Deserialize)]
    struct ChatChoice {
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Anthropic {
        #[serde(default)]
        stop_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Gemini {
        #[serde(default)]
        candidates: Vec<GeminiCandidate>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GeminiCandidate {
        #[serde(default)]
        finish_reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Responses {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        incomplete_details: Option<Incomplete>,
    }
    #[derive(serde::Deserialize)]
    struct Incomplete {
        #[serde(default)]
        reason: Option<String>,
    }
    match p {
        Protocol::OpenAiChat => serde_json::from_slice::<Chat>(body).ok()?.choices.into_iter().next()?.finish_reason,
        Protocol::Anthropic => serde_json::from_slice::<Anthropic>(body).ok()?.stop_reason,
        Protocol::Gemini => serde_json::from_slice::<Gemini>(body).ok()?.candidates.into_iter().next()?.finish_reason,
        Protocol::OpenAiResponses => {
            let r = serde_json::from_slice::<Responses>(body).ok()?;
            let reason = r.incomplete_details.and_then(|d| d.reason);
            Some(super::responses::response::raw_finish(r.status.as_deref()?, reason.as_deref()))
        }
    }
}

/// The body with its top-level `model` replaced, every other byte kept.
pub fn with_model(body: &[u8], model: &str) -> Result<Bytes, ApiError> {
    let mut obj = RawObject::parse_body(body)?;
    obj.set("model", model)
        .map_err(|_| ApiError::new(ErrorClass::Server, "the upstream request could not be built"))?;
    Ok(Bytes::from(obj.to_vec()))
}

/// A whole response for the client: the public model id back in, usage read on the side.
pub fn response(p: Protocol, body: &[u8], public_model: &str) -> (Bytes, Option<Usage>) {
    if p == Protocol::OpenAiChat {
        return super::openai::chat::rewrite_response(body, public_model);
    }
    let usage = dialect::response_to_ir(p, body).ok().map(|r| r.usage);
    let field = response_model_field(p);
    let rewritten = RawObject::parse(body).ok().and_then(|mut obj| {
        obj.get(field)?;
        obj.set(field, public_model).ok()?;
        Some(Bytes::from(obj.to_vec()))
    });
    (rewritten.unwrap_or_else(|| Bytes::copy_from_slice(body)), usage)
}

/// One passthrough stream: events out nearly as they came in, usage tracked on the side.
pub struct PassthroughStream {
    protocol: Protocol,
    public_model: String,
    chat: Option<ChatStreamRewriter>,
    side: Option<DynDecoder>,
    scratch: Vec<StreamEvent>,
    usage: Option<Usage>,
    terminal: bool,
    /// Gemini: the running usage snapshot (per field, the last value wins).
    gemini_usage: UsageMetadata,
    /// Gemini: a finish reason was seen (its streams end at EOF, with no terminal event).
    gemini_finished: bool,
    /// Gemini: the `finishReason` seen, for the log.
    gemini_raw_finish: Option<String>,
}

impl PassthroughStream {
    /// A stream of protocol `p` shown to the client as `public_model`.
    pub fn new(p: Protocol, public_model: &str, client_wants_usage: bool) -> Self {
        let chat = (p == Protocol::OpenAiChat).then(|| ChatStreamRewriter::new(public_model, client_wants_usage));
        // Chat and Gemini are read with light probes below; the others by their hub decoder.
        let side = if matches!(p, Protocol::OpenAiChat | Protocol::Gemini) { None } else { Some(dialect::stream_decoder(p)) };
        PassthroughStream {
            protocol: p,
            public_model: public_model.to_owned(),
            chat,
            side,
            scratch: Vec::new(),
            usage: None,
            terminal: false,
            gemini_usage: UsageMetadata::default(),
            gemini_finished: false,
            gemini_raw_finish: None,
        }
    }

    /// The upstream's own finish reason once the stream reported one (for the log).
    pub fn raw_finish_reason(&self) -> Option<&str> {
        if let Some(chat) = &self.chat {
            return chat.raw_finish_reason();
        }
        match &self.side {
            Some(side) => side.raw_finish_reason(),
            None => self.gemini_raw_finish.as_deref(),
        }
    }

    /// The last usage the upstream reported.
    pub fn usage(&self) -> Option<Usage> {
        self.chat.as_ref().map_or(self.usage, |c| c.usage())
    }

    /// Handles one upstream event.
    pub fn on_event(&mut self, event: &SseEvent) -> StreamStep {
        if let Some(chat) = self.chat.as_mut() {
            return chat.on_event(event);
        }
        if self.protocol == Protocol::Gemini {
            return self.gemini_event(event);
        }
        let mut ended = None;
        if let Some(side) = self.side.as_mut() {
            self.scratch.clear();
            side.decode(event, &mut self.scratch);
            for e in &self.scratch {
                match e {
                    StreamEvent::Usage(u) => self.usage = Some(*u),
                    StreamEvent::MessageStart { usage: Some(u), .. } => self.usage = Some(*u),
                    StreamEvent::Done => ended = Some(true),
                    StreamEvent::Error(_) => ended = Some(false),
                    _ => {}
                }
            }
        }
        let bytes = self.rewrite(event);
        match ended {
            Some(true) => {
                self.terminal = true;
                StreamStep::Done(bytes)
            }
            Some(false) => {
                self.terminal = true;
                StreamStep::Error(bytes)
            }
            None => StreamStep::Forward(bytes),
        }
    }

    /// A Gemini chunk: one field-level parse reads `usageMetadata`, notices a finish reason and
    /// puts the public model in `modelVersion`; the full hub decoder is not needed to forward.
    fn gemini_event(&mut self, event: &SseEvent) -> StreamStep {
        let Ok(mut obj) = RawObject::parse(event.data.as_bytes()) else {
            return StreamStep::Forward(event.to_bytes());
        };
        if obj.get("error").is_some() {
            self.terminal = true;
            return StreamStep::Error(event.to_bytes());
        }
        if let Some(Ok(meta)) = obj.get_as::<UsageMetadata>("usageMetadata") {
            merge_snapshot(&mut self.gemini_usage, &meta);
            self.usage = Some(usage_from_gemini(&self.gemini_usage));
        }
        if obj.get("candidates").is_some_and(|c| memchr::memmem::find(c.get().as_bytes(), b"\"finishReason\"").is_some()) {
            self.gemini_finished = true;
            self.gemini_raw_finish = raw_finish_reason(Protocol::Gemini, event.data.as_bytes());
        }
        if obj.get("modelVersion").is_some() && obj.set("modelVersion", &self.public_model).is_ok() {
            let mut out = Vec::with_capacity(event.data.len() + 8);
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&obj.to_vec());
            out.extend_from_slice(b"\n\n");
            return StreamStep::Forward(Bytes::from(out));
        }
        StreamStep::Forward(event.to_bytes())
    }

    /// The upstream ended (EOF): true when the protocol's stream was complete. Gemini streams
    /// have no terminal event: complete when a finish reason arrived.
    pub fn finish_is_clean(&mut self) -> bool {
        if self.terminal {
            return true;
        }
        if self.protocol == Protocol::Gemini {
            return self.gemini_finished;
        }
        let Some(side) = self.side.as_mut() else { return false };
        self.scratch.clear();
        side.finish(&mut self.scratch);
        self.scratch.iter().any(|e| matches!(e, StreamEvent::Done))
    }

    fn rewrite(&self, event: &SseEvent) -> Bytes {
        let rewritten = match self.protocol {
            Protocol::Anthropic if event.event.as_deref() == Some("message_start") => {
                set_nested_model(&event.data, "message", &self.public_model)
            }
            Protocol::OpenAiResponses => set_nested_model(&event.data, "response", &self.public_model),
            _ => None,
        };
        match rewritten {
            Some(data) => SseEvent { event: event.event.clone(), data }.to_bytes(),
            None => event.to_bytes(),
        }
    }
}

fn set_nested_model(data: &str, outer: &str, model: &str) -> Option<String> {
    let mut obj = RawObject::parse(data.as_bytes()).ok()?;
    let inner_raw = obj.get(outer)?.get().to_owned();
    let mut inner = RawObject::parse(inner_raw.as_bytes()).ok()?;
    inner.get("model")?;
    inner.set("model", model).ok()?;
    let inner_json = serde_json::value::RawValue::from_string(String::from_utf8(inner.to_vec()).ok()?).ok()?;
    obj.set_raw(outer, inner_json);
    String::from_utf8(obj.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_request_keeps_every_other_byte() {
        let body = br#"{"model":"claude-x","max_tokens":0,"temperature":0,"x_beta":{"a":null}}"#;
        let up = request(Protocol::Anthropic, body, "claude-up").unwrap();
        assert_eq!(&up[..], br#"{"model":"claude-up","max_tokens":0,"temperature":0,"x_beta":{"a":null}}"#);
        assert_eq!(&request(Protocol::Gemini, b"{\"contents\":[]}", "g").unwrap()[..], b"{\"contents\":[]}");
    }

    #[test]
    fn gemini_stream_keeps_the_last_usage_snapshot_and_ends_clean_after_a_finish() {
        let mut s = PassthroughStream::new(Protocol::Gemini, "public", false);
        let chunk = |text: &str, tail: &str| {
            SseEvent::data(format!(
                r#"{{"candidates":[{{"content":{{"role":"model","parts":[{{"text":"{text}"}}]}}{tail}}}],"usageMetadata":{{"promptTokenCount":10,"candidatesTokenCount":{n}}},"modelVersion":"up"}}"#,
                n = text.len()
            ))
        };
        let StreamStep::Forward(first) = s.on_event(&chunk("ab", "")) else { panic!("forwarded") };
        assert!(String::from_utf8_lossy(&first).contains(r#""modelVersion":"public""#));
        assert!(!s.finish_is_clean(), "no finish reason yet: a cut stream");
        s.on_event(&chunk("abcde", r#","finishReason":"STOP""#));
        let u = s.usage().unwrap();
        assert_eq!((u.in_base, u.out_total), (10, 5), "the last snapshot, never a sum");
        assert!(s.finish_is_clean());
    }

    #[test]
    fn anthropic_stream_rewrites_the_start_model_and_counts_usage() {
        let mut s = PassthroughStream::new(Protocol::Anthropic, "public", false);
        let start = SseEvent {
            event: Some("message_start".into()),
            data: r#"{"type":"message_start","message":{"id":"m1","type":"message","role":"assistant","model":"up","content":[],"usage":{"input_tokens":7,"output_tokens":1}}}"#.into(),
        };
        let StreamStep::Forward(bytes) = s.on_event(&start) else { panic!("forwarded") };
        assert!(String::from_utf8_lossy(&bytes).contains("\"model\":\"public\""));
        let delta = SseEvent {
            event: Some("message_delta".into()),
            data:
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}"#
                    .into(),
        };
        s.on_event(&delta);
        let stop = SseEvent { event: Some("message_stop".into()), data: r#"{"type":"message_stop"}"#.into() };
        assert!(matches!(s.on_event(&stop), StreamStep::Done(_)));
        let u = s.usage().unwrap();
        assert_eq!((u.in_base, u.out_total), (7, 9));
    }
}
