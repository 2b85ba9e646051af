//! An exchange whose request body is streamed: the head goes first, then each body chunk as
//! the caller gets it, so a large upload passes through in bounded memory. Such a body cannot
//! be sent twice, so a stale pooled connection is only replaced while nothing of it was sent.

use super::{describe, h2_header, Deadlines, Exchange, STALE_RESENDS};
use crate::upstream::outcome::AttemptError;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;

/// A request being sent: its head is written, its body is written chunk by chunk.
pub struct Upload {
    session: HttpSession,
    deadlines: Deadlines,
}

/// Connects and writes the request head (framing as `header` says: `content-length` or
/// `transfer-encoding: chunked`; neither means no body).
pub async fn start(
    connector: &Connector,
    peer: &HttpPeer,
    header: &RequestHeader,
    deadlines: Deadlines,
) -> Result<Upload, AttemptError> {
    let mut resends = 0;
    loop {
        let (mut session, reused) = connector.get_http_session(peer).await.map_err(|e| AttemptError::Connect(describe(&e)))?;
        session.set_write_timeout(Some(deadlines.idle));
        let head = match &session {
            HttpSession::H2(_) => {
                let mut h2 = h2_header(header).map_err(|e| AttemptError::Send(describe(&e)))?;
                // h2 frames the body itself.
                h2.remove_header("transfer-encoding");
                h2
            }
            _ => header.clone(),
        };
        match session.write_request_header(Box::new(head)).await {
            Ok(()) => return Ok(Upload { session, deadlines }),
            Err(_) if reused && resends < STALE_RESENDS => resends += 1,
            Err(e) => return Err(AttemptError::Send(describe(&e))),
        }
    }
}

impl Upload {
    /// Sends one body chunk (waits while the upstream is not reading: the back pressure that
    /// keeps memory bounded).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), AttemptError> {
        self.session.write_request_body(chunk, false).await.map(|_| ()).map_err(|e| AttemptError::Send(describe(&e)))
    }

    /// Ends the body and waits for the response head (the first-byte deadline).
    pub async fn finish(mut self) -> Result<Exchange, AttemptError> {
        let send = |e: Box<pingora::Error>| AttemptError::Send(describe(&e));
        self.session.finish_request_body().await.map_err(send)?;
        self.session.set_read_timeout(Some(self.deadlines.first_byte));
        match self.session.read_response_header().await {
            Ok(()) => {}
            Err(e) if matches!(e.etype(), pingora::ErrorType::ReadTimedout) => {
                return Err(AttemptError::FirstByteTimeout(self.deadlines.first_byte))
            }
            Err(e) => return Err(AttemptError::Read(describe(&e))),
        }
        self.session.set_read_timeout(Some(self.deadlines.idle));
        Ok(Exchange { session: self.session, idle: self.deadlines.idle, finished: false })
    }
}
