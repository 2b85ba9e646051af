//! One HTTP exchange with an upstream over Pingora's pooled [`Connector`].
//!
//! The gateway does its own exchange inside the request phase (PINGORA.md §2), so this module
//! owns what the proxy path would have done: connect and first-byte deadlines, an idle deadline
//! between body chunks, a resend on a fresh connection when a pooled one turns out stale, and
//! returning the connection to the pool only when its body was read to the end.

use super::outcome::AttemptError;
use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use std::time::Duration;

/// How long an idle pooled upstream connection is kept (below providers' own keep-alive).
const POOL_IDLE: Duration = Duration::from_secs(50);

/// A Pingora peer for `target` at `addr`: SNI and certificate checks on the host name, ALPN
/// h2 over TLS so one connection multiplexes many requests.
pub fn peer(addr: std::net::SocketAddr, target: &super::target::Target, connect: Duration) -> HttpPeer {
    let mut peer = HttpPeer::new(addr, target.tls, if target.tls { target.host.clone() } else { String::new() });
    peer.options.connection_timeout = Some(connect);
    peer.options.total_connection_timeout = Some(connect);
    peer.options.idle_timeout = Some(POOL_IDLE);
    if target.tls {
        peer.options.set_http_version(2, 1);
        peer.options.max_h2_streams = 100;
    }
    peer
}

/// How many times a request is resent when a pooled connection was found closed.
const STALE_RESENDS: usize = 2;

/// Deadlines of one attempt.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// From sending the request to the response head.
    pub first_byte: Duration,
    /// Longest gap between two body chunks.
    pub idle: Duration,
}

/// A request ready to send: the head is built per attempt, the body is shared.
pub struct OutgoingRequest {
    /// The request head (path, host, auth, content type and length).
    pub header: RequestHeader,
    /// The whole body.
    pub body: Bytes,
}

/// A response whose head has arrived; the body is read through it.
pub struct Exchange {
    session: HttpSession,
    idle: Duration,
    finished: bool,
}

/// Sends `req` to `peer` and waits for the response head.
pub async fn send(
    connector: &Connector,
    peer: &HttpPeer,
    req: &OutgoingRequest,
    deadlines: Deadlines,
) -> Result<Exchange, AttemptError> {
    let mut resends = 0;
    loop {
        let (mut session, reused) = connector.get_http_session(peer).await.map_err(|e| AttemptError::Connect(describe(&e)))?;
        session.set_write_timeout(Some(deadlines.idle));
        match send_on(&mut session, req, deadlines).await {
            Ok(()) => {
                // Pingora applies the read timeout to each body read with its shared timer
                // wheel: cheaper than a tokio timer per chunk.
                session.set_read_timeout(Some(deadlines.idle));
                return Ok(Exchange { session, idle: deadlines.idle, finished: false });
            }
            // A pooled connection the server closed meanwhile: nothing reached the upstream.
            Err(Failure::Io(_)) if reused && resends < STALE_RESENDS => resends += 1,
            Err(Failure::Io(msg)) => return Err(AttemptError::Send(msg)),
            Err(Failure::Timeout) => return Err(AttemptError::FirstByteTimeout(deadlines.first_byte)),
        }
    }
}

enum Failure {
    Io(String),
    Timeout,
}

async fn send_on(session: &mut HttpSession, req: &OutgoingRequest, deadlines: Deadlines) -> Result<(), Failure> {
    let io = |e: Box<pingora::Error>| Failure::Io(describe(&e));
    let header = match session {
        HttpSession::H2(_) => h2_header(&req.header).map_err(io)?,
        _ => req.header.clone(),
    };
    session.write_request_header(Box::new(header)).await.map_err(io)?;
    session.write_request_body(req.body.clone(), true).await.map_err(io)?;
    session.finish_request_body().await.map_err(io)?;
    session.set_read_timeout(Some(deadlines.first_byte));
    match session.read_response_header().await {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => Err(Failure::Timeout),
        Err(e) => Err(io(e)),
    }
}

/// The h2 form of a request head: the authority moves from `Host` into the URI (`:authority`)
/// and `Host` is dropped, since servers such as nginx reject a request carrying both.
fn h2_header(h1: &RequestHeader) -> pingora::Result<RequestHeader> {
    let mut header = h1.clone();
    let Some(host) = h1.headers.get("host").and_then(|h| h.to_str().ok()) else {
        return Ok(header);
    };
    let uri = http::Uri::builder()
        .scheme("https")
        .authority(host)
        .path_and_query(h1.uri.path_and_query().map_or("/", |p| p.as_str()))
        .build()
        .map_err(|e| pingora::Error::because(pingora::ErrorType::InvalidHTTPHeader, "building the h2 authority", e))?;
    header.set_uri(uri);
    header.remove_header("host");
    Ok(header)
}

fn describe(e: &pingora::Error) -> String {
    // The error's own Display carries type, context and cause; nothing in it is a secret.
    let mut s = e.etype().as_str().to_owned();
    if let Some(ctx) = e.context.as_ref() {
        s.push_str(": ");
        s.push_str(&ctx.to_string());
    }
    if let Some(cause) = e.cause.as_ref() {
        s.push_str(": ");
        s.push_str(&cause.to_string());
    }
    s
}

impl Exchange {
    /// The response head (always present once `send` returned).
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.session.response_header()
    }

    /// The response status.
    pub fn status(&self) -> u16 {
        self.header().map(|h| h.status.as_u16()).unwrap_or(0)
    }

    /// A response header value as text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header()?.headers.get(name)?.to_str().ok()
    }

    /// The next body chunk, `None` at the end; fails when the upstream is idle too long.
    pub async fn read_chunk(&mut self) -> Result<Option<Bytes>, AttemptError> {
        if self.finished {
            return Ok(None);
        }
        match self.session.read_response_body().await {
            Err(e) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => Err(AttemptError::IdleTimeout(self.idle)),
            Err(e) => Err(AttemptError::Read(describe(&e))),
            Ok(Some(chunk)) => Ok(Some(chunk)),
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
        }
    }

    /// Reads the rest of the body, refusing more than `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Bytes, AttemptError> {
        let mut body = BytesMut::new();
        while let Some(chunk) = self.read_chunk().await? {
            if body.len() + chunk.len() > limit {
                return Err(AttemptError::TooLarge(limit));
            }
            if body.is_empty() && chunk.len() >= 1024 && self.session.response_done() {
                // One chunk is the whole body: no copy.
                self.finished = true;
                return Ok(chunk);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Returns the connection to the pool if the body was read to the end; else closes it.
    pub async fn release(self, connector: &Connector, peer: &HttpPeer) {
        if self.finished {
            connector.release_http_session(self.session, peer, peer.options.idle_timeout).await;
        }
    }
}

pub mod upload;

#[cfg(test)]
mod tests;
