//! The table of protocols: one [`Dialect`] per wire protocol, implemented in that protocol's own
//! folder, so the gateway serves any inbound protocol from any upstream protocol without knowing
//! a single field, path or header of either.
//!
//! Adding a protocol is a new folder under `protocol/` with one `Dialect` implementation, plus
//! one line in [`DIALECTS`].

use super::error::ApiError;
use super::ir::{self, ConvertOptions, Converted, Protocol, StreamDecoder, StreamEncoder, StreamEvent};
use super::listing::ModelInfo;
use super::passthrough::PassthroughStream;
use super::sse::SseEvent;
use super::usage::Usage;
use super::{anthropic, gemini, openai, responses};
use bytes::{Bytes, BytesMut};

/// A stream decoder chosen at run time.
pub type DynDecoder = Box<dyn StreamDecoder + Send + Sync>;
/// A stream encoder chosen at run time.
pub type DynEncoder = Box<dyn StreamEncoder + Send + Sync>;

impl StreamDecoder for DynDecoder {
    fn decode(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) {
        (**self).decode(event, out)
    }
    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        (**self).finish(out)
    }
    fn raw_finish_reason(&self) -> Option<&str> {
        (**self).raw_finish_reason()
    }
}

impl StreamEncoder for DynEncoder {
    fn encode(&mut self, event: &StreamEvent, out: &mut BytesMut) {
        (**self).encode(event, out)
    }
}

/// What one upstream stream event means for committing to the stream: the gateway holds the
/// events before the first content, so a provider that fails before it has said anything is
/// failed over without the client seeing a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventRole {
    /// Nothing the client needs yet: a role chunk, `message_start`, `ping`, an empty block.
    Preamble,
    /// Carries content: text, a tool call, thinking.
    Content,
    /// Ends the answer (an empty answer is an answer).
    Terminal,
    /// Reports an error.
    Error,
}

/// Whether a JSON value is a non-empty string.
pub(crate) fn has_text(v: &serde_json::Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// What a request is for, as its method and path say (before the body is read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A generation (chat completions, responses, messages, generateContent).
    Generate {
        /// The client's protocol.
        protocol: Protocol,
        /// The model named in the path (Gemini), without `models/`.
        path_model: Option<String>,
        /// The path asks for a stream (Gemini `streamGenerateContent`).
        path_stream: bool,
    },
    /// Counting a request's input tokens, answered locally.
    CountTokens {
        /// The client's protocol.
        protocol: Protocol,
        /// The model named in the path (Gemini).
        path_model: Option<String>,
    },
    /// OpenAI `/embeddings`.
    Embeddings,
    /// OpenAI `/images/generations`.
    Images,
    /// The model list, in the shape of the protocol the headers or path name.
    ListModels,
    /// One model by id.
    GetModel(String),
}

impl Operation {
    /// A stable name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Generate { protocol, path_stream, .. } => match protocol {
                Protocol::OpenAiChat => "chat_completions",
                Protocol::OpenAiResponses => "responses",
                Protocol::Anthropic => "messages",
                Protocol::Gemini if *path_stream => "stream_generate_content",
                Protocol::Gemini => "generate_content",
            },
            Operation::CountTokens { protocol: Protocol::Gemini, .. } => "count_tokens",
            Operation::CountTokens { .. } => "count_message_tokens",
            Operation::Embeddings => "embeddings",
            Operation::Images => "images",
            Operation::ListModels => "models",
            Operation::GetModel(_) => "model",
        }
    }

    /// The kind of model the operation needs (`None`: any, e.g. listings).
    pub fn model_kind(&self) -> Option<super::listing::ModelKind> {
        use super::listing::ModelKind;
        match self {
            Operation::Generate { .. } | Operation::CountTokens { .. } => Some(ModelKind::Chat),
            Operation::Embeddings => Some(ModelKind::Embedding),
            Operation::Images => Some(ModelKind::Image),
            Operation::ListModels | Operation::GetModel(_) => None,
        }
    }
}

/// A route a dialect answers: the operation and the one method it accepts.
pub type Route = (Operation, &'static str);

/// The facts an inbound generation body gives the gateway before routing, and the ways to
/// turn it into an upstream body. Parsed once per request by the client's dialect.
pub trait InboundRequest: Send + Sync {
    /// The model the client asked for.
    fn model(&self) -> &str;
    /// The client wants a stream.
    fn stream(&self) -> bool;
    /// The client asked for usage inside the stream (OpenAI `include_usage`); other protocols
    /// always carry it.
    fn include_usage(&self) -> bool;
    /// The body for an upstream of the same protocol: the original bytes with only the model
    /// changed, what the protocol forces (e.g. OpenAI stream usage) and the sampling fields the
    /// model refuses dropped (each a warning).
    fn passthrough_body(&self, upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError>;
    /// The hub form, with what the client's answers must repeat.
    fn to_hub(&self) -> Result<(ir::Request, ClientEcho), ApiError>;
}

/// What a client's answers repeat or depend on that only its own request said.
#[derive(Clone, Debug, Default)]
pub struct ClientEcho {
    /// The client asked to see thought text (Gemini `includeThoughts`).
    pub include_thoughts: bool,
    /// The Responses client's settings, which every Responses answer repeats.
    pub responses: responses::ResponseEcho,
}

/// What a renderer needs to know about the client.
pub struct ClientSpec<'a> {
    /// The model id the client sees.
    pub public_model: &'a str,
    /// The client asked for usage in the stream (OpenAI `include_usage`).
    pub include_usage: bool,
    /// The client asked to see thought text (Gemini `includeThoughts`).
    pub include_thoughts: bool,
    /// The Responses client's settings, which every Responses answer repeats.
    pub responses_echo: responses::ResponseEcho,
    /// An id for the answer if the upstream gives none (the request id).
    pub fallback_id: &'a str,
    /// Conversion options.
    pub opts: &'a ConvertOptions,
}

/// One wire protocol, as a client speaks it to the gateway and as the gateway speaks it to a
/// provider. Every method is pure.
pub trait Dialect: Sync {
    /// Which protocol this is.
    fn protocol(&self) -> Protocol;

    // ---- the client side: recognising, parsing, rendering ----

    /// The operation at `path` (without query) and the method it takes, if this protocol has it.
    fn route(&self, path: &str) -> Option<Route>;
    /// Whether a client calling `path` speaks this protocol (picks the error envelope of any
    /// request, even to an unknown route).
    fn claims_path(&self, path: &str) -> bool;
    /// Whether a model-list request with these headers is this protocol's SDK asking.
    fn claims_listing(&self, _has_header: &dyn Fn(&str) -> bool) -> bool {
        false
    }
    /// Parses a generation body; `path_model`/`path_stream` are what the path said.
    fn parse_inbound<'a>(
        &self,
        body: &'a [u8],
        path_model: Option<&str>,
        path_stream: bool,
    ) -> Result<Box<dyn InboundRequest + 'a>, ApiError>;
    /// The fallback list (`models`, `route`) of a generation body, and the body without it;
    /// `None` when the body has none or this protocol has no such fields (Gemini).
    fn fallback(&self, _body: &[u8]) -> Result<Option<super::fallback::Fallback>, ApiError> {
        Ok(None)
    }
    /// Parses a count-tokens body into the hub (`None`: this protocol has no such call).
    fn count_request(&self, _body: &[u8], _path_model: Option<&str>) -> Option<Result<ir::Request, ApiError>> {
        None
    }
    /// The count-tokens answer.
    fn count_reply(&self, tokens: u64) -> Vec<u8>;
    /// Renders a hub response for the client (the caller has set `resp.model`).
    fn render_response(&self, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError>;
    /// An encoder rendering hub events for a client of this protocol.
    fn stream_encoder(&self, client: &ClientSpec<'_>) -> DynEncoder;
    /// The status and body of an error for a client of this protocol.
    fn error_response(&self, err: &ApiError, request_id: &str) -> (u16, Vec<u8>);
    /// The in-stream error event for a client of this protocol (after a 200 was sent).
    fn stream_error_event(&self, err: &ApiError, request_id: &str) -> SseEvent;
    /// The model list in this protocol's shape.
    fn model_list(&self, models: &[ModelInfo<'_>]) -> Vec<u8>;
    /// One model in this protocol's shape.
    fn model_entry(&self, model: &ModelInfo<'_>) -> Vec<u8>;
    /// The paths a client of this protocol generates with `model` on (for the listings).
    fn generation_paths(&self, model: &str) -> Vec<String>;
    /// The client can carry signed reasoning itself; when false the gateway keeps it for them.
    fn carries_signed_reasoning(&self) -> bool {
        true
    }

    // ---- the upstream side: calling a provider of this protocol ----

    /// The path (with query) of a generation call below a provider's base path.
    fn generation_path(&self, base_path: &str, model: &str, stream: bool) -> String;
    /// The headers carrying the provider credential (none when the key is empty).
    fn auth_headers(&self, key: &str) -> Vec<(&'static str, String)>;
    /// The client request headers a same-protocol upstream should see as sent (version and
    /// feature flags).
    fn passthrough_headers(&self) -> &'static [&'static str] {
        &[]
    }
    /// Protocol version headers for the upstream request; `client` holds the client's own
    /// [`Dialect::passthrough_headers`], used only when the request passes through unconverted.
    fn version_headers(&self, _client: &[(&'static str, String)], _passthrough: bool) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Renders a hub request as an upstream body (the caller has set `req.model`).
    fn render_request(&self, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError>;
    /// Parses a whole upstream answer into the hub.
    fn parse_response(&self, body: &[u8]) -> Result<ir::Response, ApiError>;
    /// A decoder for an upstream stream of this protocol.
    fn stream_decoder(&self) -> DynDecoder;
    /// A whole same-protocol answer for the client: the public model id back in, usage read.
    fn passthrough_response(&self, body: &[u8], public_model: &str) -> (Bytes, Option<Usage>) {
        super::passthrough::response(self.protocol(), body, public_model)
    }
    /// A same-protocol stream: events forwarded, usage tracked on the side.
    fn passthrough_stream(&self, public_model: &str, include_usage: bool) -> PassthroughStream {
        PassthroughStream::new(self.protocol(), public_model, include_usage)
    }
    /// Whether a stream's event reports an error (then it is not committed to the client).
    fn is_error_event(&self, event: &SseEvent) -> bool;
    /// What a stream event means for committing: held preamble, content, the end, or an error.
    fn event_role(&self, event: &SseEvent) -> EventRole;
    /// Reads an upstream error body (`status` 2xx: an in-stream error); the message is taken
    /// only from the protocol's own JSON envelope, never from a raw body.
    fn upstream_error(&self, status: u16, body: &[u8], retry_after: Option<&str>) -> ApiError {
        ApiError::from_upstream(self.protocol(), status, body, retry_after)
    }
    /// The provider takes media only inline (remote URLs must be fetched first).
    fn needs_inline_media(&self) -> bool {
        false
    }
    /// The provider signs reasoning that must come back on the next turn, and where it goes.
    fn signed_reasoning(&self) -> Option<ir::RestoreAt> {
        None
    }
    /// Whether a provider of this protocol serves a forwarded operation (embeddings, images)
    /// for an OpenAI client.
    fn serves(&self, _op: &Operation) -> bool {
        false
    }
    /// The path and body of a forwarded operation for this provider (`serves` said yes).
    fn forward_request(
        &self,
        op: &Operation,
        raw: &[u8],
        base_path: &str,
        upstream_model: &str,
    ) -> Result<(String, Bytes), ApiError> {
        let _ = (op, raw, base_path, upstream_model);
        Err(ApiError::new(super::error::ErrorClass::InvalidRequest, "this operation is not served by the model's upstream")
            .with_code("unsupported_endpoint"))
    }
    /// A forwarded operation's answer for the OpenAI client, and its usage; `count` counts the
    /// tokens of a text when the provider reports none.
    fn forward_response(
        &self,
        _op: &Operation,
        _raw_request: &[u8],
        body: &[u8],
        public_model: &str,
        _count: &dyn Fn(&str) -> u64,
    ) -> Result<(Bytes, Option<Usage>), ApiError> {
        Ok(self.passthrough_response(body, public_model))
    }
    /// Response headers of this protocol's providers a client may see (besides the content
    /// type, which the gateway sets). Everything else an upstream sends stays with the gateway.
    fn forwarded_response_headers(&self) -> &'static [&'static str] {
        &["retry-after"]
    }
}

/// Every protocol, in the order paths are matched (Gemini's `/v1/models/{m}:{method}` before
/// OpenAI's `/v1/models/{id}`).
pub static DIALECTS: [&dyn Dialect; 4] = [
    &gemini::dialect::GeminiDialect,
    &anthropic::dialect::AnthropicDialect,
    &responses::dialect::ResponsesDialect,
    &openai::dialect::ChatDialect,
];

/// The dialect of protocol `p` (every protocol has one: a test checks the table).
pub fn of(p: Protocol) -> &'static dyn Dialect {
    DIALECTS.iter().copied().find(|d| d.protocol() == p).unwrap_or(DIALECTS[DIALECTS.len() - 1])
}

/// The protocol a client calling `path` speaks (OpenAI Chat when no dialect claims it).
pub fn protocol_of_path(path: &str) -> Protocol {
    DIALECTS.iter().find(|d| d.claims_path(path)).map_or(Protocol::OpenAiChat, |d| d.protocol())
}

/// The protocol whose shape a model listing should have: the SDK the headers reveal, else the
/// protocol of the path.
pub fn listing_protocol(path: &str, has_header: &dyn Fn(&str) -> bool) -> Protocol {
    DIALECTS
        .iter()
        .find(|d| d.claims_listing(has_header))
        .map_or_else(|| protocol_of_path(path), |d| d.protocol())
}

/// The paths a model of `kind` is served on, in every protocol that has one.
pub fn advertised_paths(model: &str, kind: super::listing::ModelKind) -> Vec<String> {
    use super::listing::ModelKind;
    match kind {
        ModelKind::Chat => DIALECTS.iter().rev().flat_map(|d| d.generation_paths(model)).collect(),
        ModelKind::Embedding => vec!["/v1/embeddings".to_owned()],
        ModelKind::Image => vec!["/v1/images/generations".to_owned()],
    }
}

/// Why a method and path are not served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unrouted {
    /// No such route.
    NotFound,
    /// The route exists; it takes `allowed`.
    MethodNotAllowed {
        /// The one method the route accepts.
        allowed: &'static str,
    },
}

/// The operation at `method` `path` (a trailing slash ignored; HEAD allowed where GET is).
pub fn recognise(method: &str, path: &str) -> Result<Operation, Unrouted> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let (op, allowed) = DIALECTS.iter().find_map(|d| d.route(path)).ok_or(Unrouted::NotFound)?;
    if method == allowed || (allowed == "GET" && method == "HEAD") {
        Ok(op)
    } else {
        Err(Unrouted::MethodNotAllowed { allowed })
    }
}

/// An inbound body of a protocol whose facts are top-level `model` and `stream` fields (or the
/// path, for Gemini): the shared [`InboundRequest`] of every dialect but OpenAI Chat.
/// Builds the hub form of a raw body, given the path's model and stream flag.
pub(crate) type HubBuilder = fn(&[u8], Option<&str>, bool) -> Result<(ir::Request, ClientEcho), ApiError>;

/// The same-protocol body with another model.
pub(crate) type PassBuilder = fn(&[u8], &str, &ConvertOptions) -> Result<Converted<Bytes>, ApiError>;

pub(crate) struct BodyInbound<'a> {
    raw: &'a [u8],
    model: String,
    stream: bool,
    path_model: Option<String>,
    hub: HubBuilder,
    pass: PassBuilder,
}

impl<'a> BodyInbound<'a> {
    /// Reads `model` (the path's when given) and `stream` (or the path's stream flag).
    pub(crate) fn parse(
        raw: &'a [u8],
        path_model: Option<&str>,
        path_stream: bool,
        hub: HubBuilder,
        pass: PassBuilder,
    ) -> Result<Self, ApiError> {
        let obj = super::json::RawObject::parse_body(raw)?;
        let model = match path_model {
            Some(m) => m.to_owned(),
            None => obj.model()?,
        };
        let stream = path_stream || matches!(obj.get_as::<Option<bool>>("stream"), Some(Ok(Some(true))));
        Ok(BodyInbound { raw, model, stream, path_model: path_model.map(str::to_owned), hub, pass })
    }
}

impl InboundRequest for BodyInbound<'_> {
    fn model(&self) -> &str {
        &self.model
    }
    fn stream(&self) -> bool {
        self.stream
    }
    fn include_usage(&self) -> bool {
        self.stream
    }
    fn passthrough_body(&self, upstream_model: &str, opts: &ConvertOptions) -> Result<Converted<Bytes>, ApiError> {
        (self.pass)(self.raw, upstream_model, opts)
    }
    fn to_hub(&self) -> Result<(ir::Request, ClientEcho), ApiError> {
        let (mut req, echo) = (self.hub)(self.raw, self.path_model.as_deref(), self.stream)?;
        req.stream = self.stream;
        Ok((req, echo))
    }
}

/// Percent-decodes one path segment (`+` kept as is).
pub(crate) fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Renders an error as a JSON SSE event's data (shared by the protocols whose error events are
/// their plain error envelopes).
pub(crate) fn envelope_event(event: Option<&str>, body: Vec<u8>) -> SseEvent {
    SseEvent { event: event.map(str::to_owned), data: String::from_utf8_lossy(&body).into_owned() }
}

/// The in-stream error frame bytes for a client of protocol `p`.
pub fn stream_error_frame(p: Protocol, err: &ApiError, request_id: &str) -> Bytes {
    let mut out = BytesMut::new();
    of(p).stream_error_event(err, request_id).encode_into(&mut out);
    out.freeze()
}

// The free functions below keep protocol-internal callers (passthrough, benches, tests) short.

/// Parses an inbound request body into the hub.
pub fn request_to_ir(p: Protocol, body: &[u8], path_model: Option<&str>, path_stream: bool) -> Result<ir::Request, ApiError> {
    of(p).parse_inbound(body, path_model, path_stream)?.to_hub().map(|(req, _)| req)
}

/// Renders a hub request as an upstream body of protocol `p`.
pub fn ir_to_request(p: Protocol, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    convert_request(of(p), req, opts)
}

/// Renders a hub request for an upstream of dialect `up`; sampling fields the model refuses
/// (`opts.rejected_sampling`) are dropped first, each with a warning.
pub fn convert_request(up: &dyn Dialect, req: &ir::Request, opts: &ConvertOptions) -> Result<Converted<Vec<u8>>, ApiError> {
    if !ir::has_rejected_sampling(req, opts) {
        return up.render_request(req, opts);
    }
    let mut stripped = req.clone();
    let mut warnings = Vec::new();
    ir::drop_rejected_sampling(&mut stripped, opts, &mut warnings);
    let mut converted = up.render_request(&stripped, opts)?;
    warnings.append(&mut converted.warnings);
    converted.warnings = warnings;
    Ok(converted)
}

/// Parses a whole upstream response into the hub.
pub fn response_to_ir(p: Protocol, body: &[u8]) -> Result<ir::Response, ApiError> {
    of(p).parse_response(body)
}

/// Renders a hub response for a client of protocol `p`.
pub fn ir_to_response(p: Protocol, resp: &ir::Response, client: &ClientSpec<'_>) -> Result<Vec<u8>, ApiError> {
    of(p).render_response(resp, client)
}

/// A decoder for an upstream stream of protocol `p`.
pub fn stream_decoder(p: Protocol) -> DynDecoder {
    of(p).stream_decoder()
}

/// An encoder rendering hub events for a client of protocol `p`.
pub fn stream_encoder(p: Protocol, spec: &ClientSpec<'_>) -> DynEncoder {
    of(p).stream_encoder(spec)
}

/// The status and body of an error for a client of protocol `p`.
pub fn error_response(p: Protocol, err: &ApiError, request_id: &str) -> (u16, Vec<u8>) {
    of(p).error_response(err, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorClass;

    #[test]
    fn error_envelopes_per_protocol() {
        let e = ApiError::new(ErrorClass::Unavailable, "overloaded").with_status(529);
        let (s, b) = error_response(Protocol::OpenAiChat, &e, "r1");
        assert_eq!(s, 503);
        assert!(String::from_utf8_lossy(&b).contains("\"request_id\":\"r1\""));
        let (s, b) = error_response(Protocol::Anthropic, &e, "r1");
        assert_eq!(s, 529);
        assert!(String::from_utf8_lossy(&b).contains("overloaded_error"));
        let (s, b) = error_response(Protocol::Gemini, &e, "r1");
        assert_eq!(s, 503);
        assert!(String::from_utf8_lossy(&b).contains("\"status\":\"UNAVAILABLE\""));
        let frame = stream_error_frame(Protocol::Anthropic, &e, "r1");
        assert!(frame.starts_with(b"event: error\ndata: {"));
    }

    #[test]
    fn the_table_maps_each_protocol_to_its_own_dialect() {
        for p in [Protocol::OpenAiChat, Protocol::OpenAiResponses, Protocol::Anthropic, Protocol::Gemini] {
            assert_eq!(of(p).protocol(), p);
        }
    }

    #[test]
    fn routes_methods_and_unknowns() {
        let chat = Operation::Generate { protocol: Protocol::OpenAiChat, path_model: None, path_stream: false };
        assert_eq!(recognise("POST", "/v1/chat/completions"), Ok(chat));
        assert_eq!(recognise("POST", "/v1/messages").map(|o| o.name()), Ok("messages"));
        assert_eq!(recognise("POST", "/v1/messages/count_tokens").map(|o| o.name()), Ok("count_message_tokens"));
        assert_eq!(recognise("GET", "/v1/models/"), Ok(Operation::ListModels));
        assert_eq!(recognise("HEAD", "/v1/models"), Ok(Operation::ListModels));
        assert_eq!(recognise("GET", "/v1/models/gpt-4o"), Ok(Operation::GetModel("gpt-4o".into())));
        assert_eq!(recognise("GET", "/v1/chat/completions"), Err(Unrouted::MethodNotAllowed { allowed: "POST" }));
        assert_eq!(recognise("POST", "/v2/nothing"), Err(Unrouted::NotFound));
        assert_eq!(recognise("POST", "/v1/embeddings"), Ok(Operation::Embeddings));
        assert_eq!(recognise("POST", "/v1/images/generations"), Ok(Operation::Images));
    }

    #[test]
    fn gemini_paths_with_and_without_models_prefix() {
        let g = |m: &str, s| Ok(Operation::Generate { protocol: Protocol::Gemini, path_model: Some(m.into()), path_stream: s });
        assert_eq!(recognise("POST", "/v1beta/models/gemini-2.5-flash:generateContent"), g("gemini-2.5-flash", false));
        assert_eq!(recognise("POST", "/v1/models/gemini-2.5-flash:streamGenerateContent"), g("gemini-2.5-flash", true));
        assert_eq!(recognise("POST", "/v1beta/models/models%2Fgem:generateContent"), g("gem", false));
        assert_eq!(recognise("POST", "/v1beta/models/x:countTokens").map(|o| o.name()), Ok("count_tokens"));
        assert_eq!(recognise("POST", "/v1beta/models/x:unknownMethod"), Err(Unrouted::MethodNotAllowed { allowed: "GET" }));
        assert_eq!(recognise("GET", "/v1beta/models"), Ok(Operation::ListModels));
        assert_eq!(protocol_of_path("/v1beta/models/x:generateContent"), Protocol::Gemini);
        assert_eq!(protocol_of_path("/v1/messages"), Protocol::Anthropic);
        assert_eq!(protocol_of_path("/v1/responses"), Protocol::OpenAiResponses);
        assert_eq!(protocol_of_path("/nowhere"), Protocol::OpenAiChat);
    }

    #[test]
    fn listings_take_the_shape_the_sdk_reveals() {
        let none = |_: &str| false;
        let anthropic = |h: &str| h == "anthropic-version";
        let google = |h: &str| h == "x-goog-api-key";
        assert_eq!(listing_protocol("/v1/models", &none), Protocol::OpenAiChat);
        assert_eq!(listing_protocol("/v1/models", &anthropic), Protocol::Anthropic);
        assert_eq!(listing_protocol("/v1/models", &google), Protocol::Gemini);
        assert_eq!(listing_protocol("/v1beta/models", &none), Protocol::Gemini);
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned() }
    }

    #[test]
    fn each_protocol_says_which_stream_events_carry_content() {
        use EventRole::*;
        let chat = of(Protocol::OpenAiChat);
        let cases = [
            (r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#, Preamble),
            (r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#, Content),
            (r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#, Content),
            (
                r#"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c","function":{"name":"f"}}]}}]}"#,
                Content,
            ),
            (r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#, Terminal),
            (r#"{"choices":[],"usage":{"prompt_tokens":1}}"#, Terminal),
            ("[DONE]", Terminal),
            (r#"{"error":{"message":"overloaded"}}"#, Error),
        ];
        for (data, role) in cases {
            assert_eq!(chat.event_role(&ev(None, data)), role, "{data}");
        }
        let anthropic = of(Protocol::Anthropic);
        let cases = [
            ("message_start", r#"{"type":"message_start","message":{}}"#, Preamble),
            ("ping", r#"{"type":"ping"}"#, Preamble),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                Preamble,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
                Preamble,
            ),
            (
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f"}}"#,
                Content,
            ),
            (
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
                Content,
            ),
            ("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#, Terminal),
            ("message_stop", r#"{"type":"message_stop"}"#, Terminal),
            ("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, Error),
        ];
        for (name, data, role) in cases {
            assert_eq!(anthropic.event_role(&ev(Some(name), data)), role, "{data}");
        }
        let gemini = of(Protocol::Gemini);
        let cases = [
            (r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""}]}}]}"#, Preamble),
            (r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}"#, Content),
            (r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#, Content),
            (r#"{"candidates":[{"content":{"parts":[]},"finishReason":"STOP"}]}"#, Terminal),
            (r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#, Terminal),
            (r#"{"error":{"code":503,"status":"UNAVAILABLE"}}"#, Error),
        ];
        for (data, role) in cases {
            assert_eq!(gemini.event_role(&ev(None, data)), role, "{data}");
        }
        let responses = of(Protocol::OpenAiResponses);
        let cases = [
            ("response.created", r#"{"type":"response.created"}"#, Preamble),
            ("response.output_item.added", r#"{"type":"response.output_item.added","item":{"type":"message"}}"#, Preamble),
            ("response.output_item.added", r#"{"type":"response.output_item.added","item":{"type":"function_call"}}"#, Content),
            ("response.output_text.delta", r#"{"type":"response.output_text.delta","delta":"Hi"}"#, Content),
            ("response.completed", r#"{"type":"response.completed"}"#, Terminal),
            ("response.failed", r#"{"type":"response.failed"}"#, Error),
        ];
        for (name, data, role) in cases {
            assert_eq!(responses.event_role(&ev(Some(name), data)), role, "{data}");
        }
    }
}
