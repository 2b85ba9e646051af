//! Reading the whole request body, bounded by `limits.max_body_bytes`.

use crate::protocol::error::{ApiError, ErrorClass};
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorClass::RequestTooLarge, format!("request body exceeds the limit of {limit} bytes"))
        .with_code("request_too_large")
}

/// Answers `Expect: 100-continue` (curl sends it for bodies over 1 MiB and otherwise waits a
/// second before sending the body) once the declared size is known to be acceptable.
pub(super) async fn continue_if_expected(session: &mut Session) -> Result<(), ApiError> {
    let expects = session
        .req_header()
        .headers
        .get("expect")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    if !expects || session.is_http2() {
        return Ok(());
    }
    // An interim answer before the body is read must not end keep-alive.
    session.set_close_on_response_before_downstream_finish(false);
    let interim = ResponseHeader::build(100, Some(0)).map_err(|e| read_error(&e))?;
    session.write_response_header(Box::new(interim), false).await.map_err(|e| read_error(&e))
}

fn read_error(e: &pingora::Error) -> ApiError {
    ApiError::new(ErrorClass::InvalidRequest, format!("could not read the request body: {}", e.etype().as_str()))
        .with_code("body_read_error")
}

/// The body size the client declared (`Content-Length`), if it did.
pub fn declared_length(session: &Session) -> Option<usize> {
    session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
}

/// Reads the body; a declared or actual size over `limit` is a 413 before it is buffered.
pub async fn read_bounded(session: &mut Session, limit: usize) -> Result<Bytes, ApiError> {
    let declared = declared_length(session);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    continue_if_expected(session).await?;
    let mut body = BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                if body.is_empty() && declared == Some(chunk.len()) {
                    // The whole body in one chunk: keep it without copying.
                    return Ok(chunk);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(read_error(&e)),
        }
    }
}
