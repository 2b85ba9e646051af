//! Sending a committed upstream answer to the client: whole bodies at once, streams event by
//! event as they arrive (chunked, never buffered), ending a broken stream with the client
//! protocol's in-stream error instead of a silent success. Usage is recorded in the context
//! however the relay ends, a client hanging up included.

use super::attempt::{Answered, StreamAnswer, WholeAnswer};
use super::ctx::RequestCtx;
use super::failure::Failure;
use super::respond;
use super::Signatures;
use crate::protocol::dialect::{self, ClientEcho, ClientSpec, Dialect, DynDecoder, DynEncoder};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::signatures::{self, Recording, SignatureSink};
use crate::protocol::ir::{ConvertOptions, Flow, Part, Protocol, StreamConverter, Warning};
use crate::protocol::passthrough::{self, PassthroughStream, StreamStep};
use crate::protocol::sse::SseError;
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use crate::upstream::exchange::Exchange;
use crate::upstream::outcome::AttemptError;
use crate::upstream::pool::Upstreams;
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use std::sync::Arc;

/// What the client asked for, as the relay needs it.
pub struct Spec<'a> {
    /// The client's protocol.
    pub inbound: &'static dyn Dialect,
    /// The model id the client sees.
    pub public_model: &'a str,
    /// The client asked for usage in the stream (OpenAI `include_usage`).
    pub include_usage: bool,
    /// What the client's answers repeat.
    pub echo: ClientEcho,
    /// Conversion options.
    pub opts: &'a ConvertOptions,
    /// The answering provider's key: a response header carrying it is never forwarded.
    pub provider_key: &'a str,
}

impl Spec<'_> {
    fn client<'a>(&'a self, request_id: &'a str) -> ClientSpec<'a> {
        ClientSpec {
            public_model: self.public_model,
            include_usage: self.include_usage,
            include_thoughts: self.echo.include_thoughts,
            responses_echo: self.echo.responses.clone(),
            fallback_id: request_id,
            opts: self.opts,
        }
    }

    /// Whether answers from `upstream` carry signed reasoning this client cannot keep.
    fn keeps_signatures_for(&self, upstream: &dyn Dialect) -> bool {
        !self.inbound.carries_signed_reasoning() && upstream.signed_reasoning().is_some()
    }
}

/// Remembers signed reasoning of one issuer in the gateway's store.
struct StoreSink {
    store: Arc<Signatures>,
    issuer: Protocol,
}

impl SignatureSink for StoreSink {
    fn remember(&self, id: &str, parts: Vec<Part>) {
        self.store.remember(id, self.issuer, parts);
    }
}

/// The response head every relayed answer starts with: the request id, the warning codes and,
/// for a same-protocol answer, the upstream headers its protocol lets through.
fn answer_head(
    ctx: &mut RequestCtx,
    status: u16,
    content_type: &str,
    upstream: Option<&ResponseHeader>,
    spec: &Spec<'_>,
    warnings: &[Warning],
) -> pingora::Result<ResponseHeader> {
    let mut resp = respond::head(status, content_type, &ctx.request_id)?;
    if let Some(up) = upstream {
        ctx.upstream_request_id = respond::upstream_request_id(up);
        respond::copy_allowed_headers(up, &mut resp, spec.inbound.forwarded_response_headers(), spec.provider_key)?;
    }
    let mut codes: Vec<&'static str> = warnings.iter().map(Warning::code).collect();
    codes.dedup();
    if !codes.is_empty() {
        resp.insert_header(respond::WARNINGS_HEADER, codes.join(","))?;
        for w in warnings {
            tracing::info!(target: "conversion", request_id = %ctx.request_id, code = w.code(), field = w.field().unwrap_or(""), "{w:?}");
        }
        ctx.warnings = codes;
    }
    Ok(resp)
}

/// Writes a whole answer; an upstream answer that cannot be read or rendered is a failure the
/// caller renders.
pub async fn whole(
    session: &mut Session,
    ctx: &mut RequestCtx,
    signatures: &Arc<Signatures>,
    answered: Answered<WholeAnswer>,
    spec: &Spec<'_>,
) -> Result<(), Exit> {
    let Answered { answer: WholeAnswer { dialect: up, head, body }, warnings } = answered;
    let same = up.protocol() == spec.inbound.protocol();
    let (body, usage) = if same {
        ctx.finish_reason = passthrough::raw_finish_reason(up.protocol(), &body);
        up.passthrough_response(&body, spec.public_model)
    } else {
        let (rendered, usage, finish) = convert_whole(up, &body, spec, &ctx.request_id, signatures)?;
        ctx.finish_reason = finish;
        (rendered, usage)
    };
    ctx.usage = usage;
    let mut resp = answer_head(ctx, head.status.as_u16(), "application/json", same.then_some(&head), spec, &warnings)
        .map_err(Exit::Downstream)?;
    respond::apply_usage_headers(ctx, &mut resp).map_err(Exit::Downstream)?;
    respond::whole(session, ctx, resp, body).await.map_err(Exit::Downstream)
}

/// Writes a forwarded operation's answer (embeddings, images), converted by its provider.
pub async fn forwarded(
    session: &mut Session,
    ctx: &mut RequestCtx,
    answered: Answered<WholeAnswer>,
    converted: (Bytes, Option<Usage>),
    spec: &Spec<'_>,
) -> Result<(), Exit> {
    let WholeAnswer { dialect: up, head, .. } = answered.answer;
    ctx.usage = converted.1;
    let same = up.protocol() == spec.inbound.protocol();
    let mut resp = answer_head(ctx, head.status.as_u16(), "application/json", same.then_some(&head), spec, &answered.warnings)
        .map_err(Exit::Downstream)?;
    respond::apply_usage_headers(ctx, &mut resp).map_err(Exit::Downstream)?;
    respond::whole(session, ctx, resp, converted.0).await.map_err(Exit::Downstream)
}

/// The rendered answer, its usage and the upstream's raw finish reason.
type Rendered = (Bytes, Option<Usage>, Option<String>);

fn convert_whole(
    up: &dyn Dialect,
    body: &[u8],
    spec: &Spec<'_>,
    request_id: &str,
    store: &Arc<Signatures>,
) -> Result<Rendered, Failure> {
    let mut resp = up.parse_response(body).map_err(|e| {
        Failure::Upstream(Box::new(super::failure::UpstreamError {
            client: ApiError::new(ErrorClass::Server, "the upstream answer could not be read")
                .with_status(502)
                .with_code("bad_upstream_answer"),
            status: None,
            body: super::failure::logged_body(body),
            summary: e.message,
            source: None,
        }))
    })?;
    if spec.keeps_signatures_for(up) {
        signatures::remember_response(&StoreSink { store: store.clone(), issuer: up.protocol() }, &resp);
    }
    resp.model = spec.public_model.to_owned();
    let usage = resp.usage;
    let rendered = spec.inbound.render_response(&resp, &spec.client(request_id))?;
    Ok((Bytes::from(rendered), Some(usage), resp.raw_finish_reason.take()))
}

/// Writes a stream as it arrives.
pub async fn stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    upstreams: &Upstreams,
    signatures: &Arc<Signatures>,
    answered: Answered<StreamAnswer>,
    spec: &Spec<'_>,
) -> Result<(), Exit> {
    let Answered { answer: StreamAnswer { dialect: up, exchange, peer, decoder, first }, warnings } = answered;
    let same = up.protocol() == spec.inbound.protocol();
    let pipe = if same {
        Pipe::Pass(Box::new(up.passthrough_stream(spec.public_model, spec.include_usage)))
    } else {
        let client = spec.client(&ctx.request_id);
        let decoder: DynDecoder = if spec.keeps_signatures_for(up) {
            Box::new(Recording::new(up.stream_decoder(), StoreSink { store: signatures.clone(), issuer: up.protocol() }))
        } else {
            up.stream_decoder()
        };
        Pipe::Convert(Box::new(StreamConverter::new(decoder, spec.inbound.stream_encoder(&client))))
    };
    let mut resp = answer_head(ctx, 200, "text/event-stream", if same { exchange.header() } else { None }, spec, &warnings)
        .map_err(Exit::Downstream)?;
    let mut add = |name: &'static str, value: &'static str| resp.insert_header(name, value).map_err(Exit::Downstream);
    add("cache-control", "no-cache")?;
    add("transfer-encoding", "chunked")?;
    // Tells nginx-style buffering proxies in front of us to pass events at once.
    add("x-accel-buffering", "no")?;
    respond::apply_rate_headers(ctx, &mut resp).map_err(Exit::Downstream)?;
    respond::apply_routing_headers(ctx, &mut resp).map_err(Exit::Downstream)?;
    ctx.status = 200;
    session.write_response_header(Box::new(resp), false).await.map_err(Exit::Downstream)?;
    let delivered = ctx.billed.then(|| Delivered::new(up.protocol()));
    let stream = Stream { exchange, peer, decoder, pipe, inbound: spec.inbound, scratch: Vec::new(), delivered };
    stream.run(session, ctx, upstreams, first).await.map_err(Exit::Downstream)
}

/// How serving a request ended without an answer.
pub enum Exit {
    /// A failure the client must see (nothing was written yet).
    Failed(Failure),
    /// Writing to the client failed; nothing more can be sent.
    Downstream(Box<pingora::Error>),
    /// The client closed the connection before an answer was ready.
    ClientGone,
}

impl From<Failure> for Exit {
    fn from(f: Failure) -> Self {
        Exit::Failed(f)
    }
}

impl From<ApiError> for Exit {
    fn from(e: ApiError) -> Self {
        Exit::Failed(Failure::Client(e))
    }
}

/// How long the upstream is still read after the client hung up, to reach its usage.
const ABANDONED_READ_TIME: std::time::Duration = std::time::Duration::from_secs(30);
/// How many converted bytes are read (and discarded) after the client hung up.
const ABANDONED_READ_BYTES: usize = 8 * 1024 * 1024;

/// How events become client bytes: passed through or converted.
enum Pipe {
    Pass(Box<PassthroughStream>),
    Convert(Box<StreamConverter<DynDecoder, DynEncoder>>),
}

impl Pipe {
    fn usage(&self) -> Option<Usage> {
        match self {
            Pipe::Pass(p) => p.usage(),
            Pipe::Convert(c) => c.usage(),
        }
    }

    fn raw_finish_reason(&self) -> Option<String> {
        match self {
            Pipe::Pass(p) => p.raw_finish_reason(),
            Pipe::Convert(c) => c.raw_finish_reason(),
        }
        .map(str::to_owned)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Open,
    /// The stream ended cleanly (terminal frames written).
    Done,
    /// The upstream reported an error in-stream; the client got it in its own protocol.
    UpstreamError,
    /// The transport broke; the client still needs an error frame.
    Broken(AttemptError),
}

struct Stream {
    exchange: Box<Exchange>,
    peer: Box<HttpPeer>,
    decoder: crate::protocol::sse::SseDecoder,
    pipe: Pipe,
    inbound: &'static dyn Dialect,
    scratch: Vec<SseEvent>,
    /// Billed streams: the output text relayed so far, for an estimate when no usage arrives.
    delivered: Option<Delivered>,
}

/// The most delivered output text kept for counting; beyond it a quarter token per byte.
const DELIVERED_TEXT_CAP: usize = 4 * 1024 * 1024;

/// The output a client was sent, read from the upstream events by the upstream's own decoder.
struct Delivered {
    decoder: DynDecoder,
    events: Vec<crate::protocol::ir::StreamEvent>,
    text: String,
    overflow_bytes: usize,
}

impl Delivered {
    fn new(upstream: Protocol) -> Self {
        Delivered { decoder: dialect::stream_decoder(upstream), events: Vec::new(), text: String::new(), overflow_bytes: 0 }
    }

    fn observe(&mut self, event: &SseEvent) {
        use crate::protocol::ir::StreamEvent as E;
        self.events.clear();
        self.decoder.decode(event, &mut self.events);
        for e in &self.events {
            let piece = match e {
                E::TextDelta { text, .. } | E::ThinkingDelta { text, .. } => text.as_str(),
                E::ToolArgsDelta { partial_json, .. } => partial_json.as_str(),
                _ => continue,
            };
            if self.text.len() + piece.len() <= DELIVERED_TEXT_CAP {
                self.text.push_str(piece);
            } else {
                self.overflow_bytes += piece.len();
            }
        }
    }

    fn tokens(&self) -> u64 {
        crate::usage::tokenizer::count_text(&self.text) + u64::try_from(self.overflow_bytes / 4).unwrap_or(u64::MAX)
    }
}

impl Stream {
    async fn run(
        mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        upstreams: &Upstreams,
        first: Vec<SseEvent>,
    ) -> pingora::Result<()> {
        let mut out = BytesMut::new();
        let mut end = self.apply(&first, &mut out);
        loop {
            ctx.usage = self.pipe.usage();
            if let Err(e) = flush(session, ctx, &mut out).await {
                // The client hung up: the upstream's usage still decides what was used; what
                // it was sent is counted now, before reading on.
                ctx.delivered_tokens = self.delivered.take().map(|d| d.tokens());
                self.read_to_usage(ctx, end).await;
                return Err(e);
            }
            if end != End::Open {
                break;
            }
            end = self.next(&mut out).await;
        }
        ctx.finish_reason = self.pipe.raw_finish_reason();
        ctx.delivered_tokens = self.delivered.as_ref().map(Delivered::tokens);
        match end {
            End::Broken(e) => {
                ctx.stream_failed = true;
                ctx.error = Some(format!("upstream stream failed: {e}"));
                let err = ApiError::new(ErrorClass::Server, "the upstream stream broke off").with_code(e.label());
                let frame = dialect::stream_error_frame(self.inbound.protocol(), &err, &ctx.request_id);
                session.write_response_body(Some(frame), true).await?;
                // The upstream connection is in an unknown state: dropped, not pooled.
            }
            End::UpstreamError => {
                ctx.stream_failed = true;
                ctx.error = Some("the upstream sent an in-stream error".to_owned());
                session.write_response_body(None, true).await?;
            }
            End::Done | End::Open => {
                // Back to the pool before the client sees the end, so its next request (which
                // may follow at once) finds the connection idle instead of opening another.
                drain_and_release(self.exchange, upstreams, &self.peer).await;
                session.write_response_body(None, true).await?;
            }
        }
        Ok(())
    }

    /// Reads and converts the next upstream chunk into `out`.
    async fn next(&mut self, out: &mut BytesMut) -> End {
        match self.exchange.read_chunk().await {
            Ok(Some(chunk)) => {
                // One event buffer for the whole stream, not one per chunk.
                let mut events = std::mem::take(&mut self.scratch);
                events.clear();
                let fed = self.decoder.feed_with(&chunk, |e| events.push(e));
                let mut end = self.apply(&events, out);
                self.scratch = events;
                if let (End::Open, Err(SseError::TooLong(limit))) = (&end, fed) {
                    end = End::Broken(AttemptError::TooLarge(limit));
                }
                end
            }
            Ok(None) => self.upstream_eof(out),
            Err(e) => End::Broken(e),
        }
    }

    /// After the client left: keeps reading the upstream, bounded in time and bytes, to the event
    /// that reports usage, so what was generated is recorded (and, with billing, charged).
    async fn read_to_usage(&mut self, ctx: &mut RequestCtx, mut end: End) {
        let deadline = tokio::time::Instant::now() + ABANDONED_READ_TIME;
        let mut discarded = BytesMut::new();
        while end == End::Open && discarded.len() <= ABANDONED_READ_BYTES {
            match tokio::time::timeout_at(deadline, self.next(&mut discarded)).await {
                Ok(next) => end = next,
                Err(_) => break,
            }
        }
        ctx.aborted = true;
        ctx.usage = self.pipe.usage();
        ctx.finish_reason = self.pipe.raw_finish_reason();
    }

    fn apply(&mut self, events: &[SseEvent], out: &mut BytesMut) -> End {
        for event in events {
            if let Some(d) = self.delivered.as_mut() {
                d.observe(event);
            }
            match &mut self.pipe {
                Pipe::Pass(p) => match p.on_event(event) {
                    StreamStep::Forward(b) => out.extend_from_slice(&b),
                    StreamStep::Skip => {}
                    StreamStep::Done(b) => {
                        out.extend_from_slice(&b);
                        return End::Done;
                    }
                    StreamStep::Error(b) => {
                        out.extend_from_slice(&b);
                        return End::UpstreamError;
                    }
                },
                Pipe::Convert(c) => match c.feed(event, out) {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Done) => return End::Done,
                    Err(_) => return End::UpstreamError,
                },
            }
        }
        End::Open
    }

    /// The upstream body ended: complete for protocols that end at EOF (Gemini) when the
    /// answer finished, otherwise a truncated stream.
    fn upstream_eof(&mut self, out: &mut BytesMut) -> End {
        match &mut self.pipe {
            Pipe::Pass(p) => {
                if p.finish_is_clean() {
                    End::Done
                } else {
                    End::Broken(AttemptError::Read("the upstream closed the stream before it finished".into()))
                }
            }
            Pipe::Convert(c) => match c.finish(out) {
                Ok(_) => End::Done,
                // The converter already wrote the client's error frame.
                Err(_) => End::UpstreamError,
            },
        }
    }
}

async fn flush(session: &mut Session, ctx: &mut RequestCtx, out: &mut BytesMut) -> pingora::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    ctx.mark_first_byte();
    let chunk: Bytes = out.split().freeze();
    session.write_response_body(Some(chunk), false).await
}

/// After the terminal event the upstream body has (almost always) ended: read it to the end so
/// the connection can go back to the pool.
async fn drain_and_release(mut exchange: Box<Exchange>, upstreams: &Upstreams, peer: &HttpPeer) {
    let mut budget = 64 * 1024usize;
    loop {
        match exchange.read_chunk().await {
            Ok(Some(c)) if c.len() <= budget => budget -= c.len(),
            Ok(None) => break,
            _ => return,
        }
    }
    (*exchange).release(&upstreams.connector, peer).await;
}
