//! Sending a committed upstream answer to the client: whole bodies at once, streams event by
//! event as they arrive (chunked, never buffered), ending a broken stream with an in-stream
//! error instead of a silent success.

use super::attempt::{Committed, Upstreams};
use super::ctx::RequestCtx;
use super::respond;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::openai::chat::{self, ChatStreamRewriter, StreamStep};
use crate::upstream::outcome::AttemptError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;

/// Writes a committed chat answer to the client.
pub async fn chat(
    session: &mut Session,
    ctx: &mut RequestCtx,
    upstreams: &Upstreams,
    committed: Committed,
    public_model: &str,
    client_wants_usage: bool,
) -> pingora::Result<()> {
    match committed {
        Committed::Rejected(err) => respond::error(session, ctx, &err).await,
        Committed::Whole { head, body } => {
            let (body, usage) = chat::rewrite_response(&body, public_model);
            ctx.usage = usage;
            let mut resp = respond::head(head.status.as_u16(), "application/json", &ctx.request_id)?;
            respond::copy_upstream_headers(&head, &mut resp)?;
            respond::whole(session, ctx, resp, body).await
        }
        Committed::Stream { mut exchange, peer, mut decoder, first } => {
            let mut resp = respond::head(200, "text/event-stream", &ctx.request_id)?;
            if let Some(up) = exchange.header() {
                respond::copy_upstream_headers(up, &mut resp)?;
            }
            resp.insert_header("cache-control", "no-cache")?;
            resp.insert_header("transfer-encoding", "chunked")?;
            // Tells nginx-style buffering proxies in front of us to pass events at once.
            resp.insert_header("x-accel-buffering", "no")?;
            ctx.status = 200;
            session.write_response_header(Box::new(resp), false).await?;

            let mut rewriter = ChatStreamRewriter::new(public_model, client_wants_usage);
            let mut out = BytesMut::new();
            let mut end = apply(&mut rewriter, first.iter(), &mut out);
            flush(session, ctx, &mut out).await?;
            while end == StreamEnd::Open {
                match exchange.read_chunk().await {
                    Ok(Some(chunk)) => {
                        let mut events = Vec::new();
                        decoder.feed_with(&chunk, |e| events.push(e));
                        end = apply(&mut rewriter, events.iter(), &mut out);
                        flush(session, ctx, &mut out).await?;
                    }
                    Ok(None) => end = StreamEnd::Broken(AttemptError::Read("the upstream closed the stream before it finished".into())),
                    Err(e) => end = StreamEnd::Broken(e),
                }
            }
            ctx.usage = rewriter.usage();
            match end {
                StreamEnd::Broken(e) => {
                    let err = ApiError::new(ErrorClass::Server, format!("upstream stream failed: {e}")).with_code(e.label());
                    ctx.error = Some(err.message.clone());
                    let mut frame = BytesMut::from(&b"data: "[..]);
                    frame.extend_from_slice(&err.to_openai_json(&ctx.request_id));
                    frame.extend_from_slice(b"\n\n");
                    session.write_response_body(Some(frame.freeze()), true).await?;
                    // The upstream connection is in an unknown state: dropped, not pooled.
                }
                StreamEnd::Done | StreamEnd::UpstreamError | StreamEnd::Open => {
                    session.write_response_body(None, true).await?;
                    if end == StreamEnd::Done {
                        drain_and_release(exchange, upstreams, &peer).await;
                    }
                }
            }
            Ok(())
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum StreamEnd {
    Open,
    Done,
    UpstreamError,
    Broken(AttemptError),
}

fn apply<'a>(rewriter: &mut ChatStreamRewriter, events: impl Iterator<Item = &'a crate::protocol::sse::SseEvent>, out: &mut BytesMut) -> StreamEnd {
    for event in events {
        match rewriter.on_event(event) {
            StreamStep::Forward(b) => out.extend_from_slice(&b),
            StreamStep::Skip => {}
            StreamStep::Done(b) => {
                out.extend_from_slice(&b);
                return StreamEnd::Done;
            }
            StreamStep::Error(b) => {
                out.extend_from_slice(&b);
                return StreamEnd::UpstreamError;
            }
        }
    }
    StreamEnd::Open
}

async fn flush(session: &mut Session, ctx: &mut RequestCtx, out: &mut BytesMut) -> pingora::Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    ctx.mark_first_byte();
    let chunk: Bytes = out.split().freeze();
    session.write_response_body(Some(chunk), false).await
}

/// After `[DONE]` the upstream body has (almost always) ended: read it to the end so the
/// connection can go back to the pool.
async fn drain_and_release(mut exchange: Box<crate::upstream::exchange::Exchange>, upstreams: &Upstreams, peer: &pingora::upstreams::peer::HttpPeer) {
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
