//! Sending a committed upstream answer to the client: whole bodies at once, streams event by
//! event as they arrive (chunked, never buffered), ending a broken stream with the client
//! protocol's in-stream error instead of a silent success.

use super::attempt::{Committed, Upstreams};
use super::ctx::RequestCtx;
use super::respond;
use super::signatures;
use crate::protocol::dialect::{self, ClientSpec, DynDecoder, DynEncoder};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{ConvertOptions, Flow, Protocol, StreamConverter};
use crate::protocol::openai::chat::StreamStep;
use crate::protocol::passthrough::{self, PassthroughStream};
use crate::protocol::sse::SseEvent;
use crate::protocol::usage::Usage;
use crate::upstream::exchange::Exchange;
use crate::upstream::outcome::AttemptError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;

/// What the client asked for, as the relay needs it.
pub struct Spec<'a> {
    /// The client's protocol.
    pub inbound: Protocol,
    /// The model id the client sees.
    pub public_model: &'a str,
    /// The client asked for usage in the stream (OpenAI `include_usage`).
    pub include_usage: bool,
    /// The client asked to see thought text (Gemini `includeThoughts`).
    pub include_thoughts: bool,
    /// The Responses client's settings, repeated in its answers.
    pub responses_echo: crate::protocol::responses::ResponseEcho,
    /// Conversion options.
    pub opts: &'a ConvertOptions,
}

/// Writes a committed answer to the client.
pub async fn relay(session: &mut Session, ctx: &mut RequestCtx, upstreams: &Upstreams, committed: Committed, spec: &Spec<'_>) -> pingora::Result<()> {
    match committed {
        Committed::Rejected(err) => respond::error(session, ctx, &err).await,
        Committed::Whole { protocol, head, body } => {
            let same = protocol == spec.inbound;
            let converted = if same {
                Ok(passthrough::response(protocol, &body, spec.public_model))
            } else {
                convert_whole(protocol, &body, spec, &ctx.request_id, upstreams)
            };
            let (body, usage) = match converted {
                Ok(v) => v,
                Err(err) => return respond::error(session, ctx, &err).await,
            };
            ctx.usage = usage;
            let mut resp = respond::head(head.status.as_u16(), "application/json", &ctx.request_id)?;
            if same {
                respond::copy_upstream_headers(&head, &mut resp)?;
            }
            respond::whole(session, ctx, resp, body).await
        }
        Committed::Stream { protocol, exchange, peer, decoder, first } => {
            let pipe = if protocol == spec.inbound {
                Pipe::Pass(Box::new(PassthroughStream::new(protocol, spec.public_model, spec.include_usage)))
            } else {
                let client = spec.client(&ctx.request_id);
                match (dialect::stream_decoder(protocol), dialect::stream_encoder(spec.inbound, &client)) {
                    (Ok(d), Ok(e)) => {
                        let d: DynDecoder = if signatures::needed(spec.inbound, protocol) {
                            Box::new(signatures::Recording::new(d, upstreams.signatures.clone(), protocol))
                        } else {
                            d
                        };
                        Pipe::Convert(Box::new(StreamConverter::new(d, e)))
                    }
                    (Err(err), _) | (_, Err(err)) => return respond::error(session, ctx, &err).await,
                }
            };
            let mut resp = respond::head(200, "text/event-stream", &ctx.request_id)?;
            if protocol == spec.inbound {
                if let Some(up) = exchange.header() {
                    respond::copy_upstream_headers(up, &mut resp)?;
                }
            }
            resp.insert_header("cache-control", "no-cache")?;
            resp.insert_header("transfer-encoding", "chunked")?;
            // Tells nginx-style buffering proxies in front of us to pass events at once.
            resp.insert_header("x-accel-buffering", "no")?;
            ctx.status = 200;
            session.write_response_header(Box::new(resp), false).await?;
            let stream = Stream { exchange, peer, decoder, pipe, inbound: spec.inbound };
            stream.run(session, ctx, upstreams, first).await
        }
    }
}

impl Spec<'_> {
    fn client<'a>(&'a self, request_id: &'a str) -> ClientSpec<'a> {
        ClientSpec {
            public_model: self.public_model,
            include_usage: self.include_usage,
            include_thoughts: self.include_thoughts,
            responses_echo: self.responses_echo.clone(),
            fallback_id: request_id,
            opts: self.opts,
        }
    }
}

fn convert_whole(protocol: Protocol, body: &[u8], spec: &Spec<'_>, request_id: &str, upstreams: &Upstreams) -> Result<(Bytes, Option<Usage>), ApiError> {
    let mut resp = dialect::response_to_ir(protocol, body).map_err(|e| {
        ApiError::new(ErrorClass::Server, format!("the upstream answer could not be read: {}", e.message)).with_status(502)
    })?;
    if signatures::needed(spec.inbound, protocol) {
        signatures::remember_response(&upstreams.signatures, protocol, &resp);
    }
    resp.model = spec.public_model.to_owned();
    let usage = resp.usage;
    Ok((Bytes::from(dialect::ir_to_response(spec.inbound, &resp, &spec.client(request_id))?), Some(usage)))
}

/// How events become client bytes: passed through or converted.
enum Pipe {
    Pass(Box<PassthroughStream>),
    Convert(Box<StreamConverter<DynDecoder, DynEncoder>>),
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
    inbound: Protocol,
}

impl Stream {
    async fn run(mut self, session: &mut Session, ctx: &mut RequestCtx, upstreams: &Upstreams, first: Vec<SseEvent>) -> pingora::Result<()> {
        let mut out = BytesMut::new();
        let mut end = self.apply(&first, &mut out);
        flush(session, ctx, &mut out).await?;
        let mut events = Vec::new();
        while end == End::Open {
            match self.exchange.read_chunk().await {
                Ok(Some(chunk)) => {
                    events.clear();
                    self.decoder.feed_with(&chunk, |e| events.push(e));
                    end = self.apply(&events, &mut out);
                }
                Ok(None) => end = self.upstream_eof(&mut out),
                Err(e) => end = End::Broken(e),
            }
            flush(session, ctx, &mut out).await?;
        }
        ctx.usage = match &self.pipe {
            Pipe::Pass(p) => p.usage(),
            Pipe::Convert(c) => c.usage(),
        };
        match end {
            End::Broken(e) => {
                let err = ApiError::new(ErrorClass::Server, format!("upstream stream failed: {e}")).with_code(e.label());
                ctx.error = Some(err.message.clone());
                let frame = dialect::stream_error_frame(self.inbound, &err, &ctx.request_id);
                session.write_response_body(Some(frame), true).await?;
                // The upstream connection is in an unknown state: dropped, not pooled.
            }
            End::UpstreamError => {
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

    fn apply(&mut self, events: &[SseEvent], out: &mut BytesMut) -> End {
        for event in events {
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
