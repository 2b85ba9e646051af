//! Writing whole responses and errors downstream, with the headers every response carries.

use super::ctx::RequestCtx;
use crate::protocol::error::ApiError;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// Hop-by-hop and upstream-private headers never copied from an upstream response.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "set-cookie",
    "x-request-id",
    "openai-organization",
    "openai-project",
    "alt-svc",
];

/// A response head with the request id and the given content type.
pub fn head(status: u16, content_type: &str, request_id: &str) -> pingora::Result<ResponseHeader> {
    let mut resp = ResponseHeader::build_no_case(status, Some(6))?;
    resp.insert_header("content-type", content_type)?;
    resp.insert_header("x-request-id", request_id)?;
    Ok(resp)
}

/// Copies an upstream's end-to-end headers, leaving out hop-by-hop and private ones; the
/// upstream's own request id is kept as `x-upstream-request-id` for support tickets.
pub fn copy_upstream_headers(from: &ResponseHeader, to: &mut ResponseHeader) -> pingora::Result<()> {
    // Headers named in `Connection` are hop-by-hop too.
    let connection_tokens: Vec<&str> = from
        .headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for (name, value) in from.headers.iter() {
        let n = name.as_str();
        if n == "x-request-id" {
            to.insert_header("x-upstream-request-id", value.clone())?;
        }
        if NOT_FORWARDED.contains(&n) || n == "content-type" || connection_tokens.iter().any(|t| t.eq_ignore_ascii_case(n)) {
            continue;
        }
        to.append_header(name.clone(), value.clone())?;
    }
    Ok(())
}

/// An error answered before the request body was read (a wrong key, an unknown route) would
/// close the client's connection; when the unread body is small, Pingora drains it after the
/// answer instead, so SDK clients keep their pooled connection. A large body still closes.
fn keep_alive_if_small_body(session: &mut Session) {
    const DRAINABLE: usize = 64 * 1024;
    let declared = session.req_header().headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n <= DRAINABLE) {
        session.set_close_on_response_before_downstream_finish(false);
        session.set_total_drain_timeout(Some(std::time::Duration::from_secs(1)));
    }
}

/// Writes a complete response with `Content-Length`.
pub async fn whole(session: &mut Session, ctx: &mut RequestCtx, mut resp: ResponseHeader, body: Bytes) -> pingora::Result<()> {
    resp.insert_header("content-length", body.len())?;
    ctx.status = resp.status.as_u16();
    let head_only = session.req_header().method == http::Method::HEAD;
    session.write_response_header(Box::new(resp), head_only).await?;
    if !head_only {
        ctx.mark_first_byte();
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// Writes a JSON body with the given status.
pub async fn json(session: &mut Session, ctx: &mut RequestCtx, status: u16, body: Bytes) -> pingora::Result<()> {
    let resp = head(status, "application/json", &ctx.request_id)?;
    whole(session, ctx, resp, body).await
}

/// Writes an error in the client protocol's envelope, with `Retry-After` when it carries one.
pub async fn error(session: &mut Session, ctx: &mut RequestCtx, err: &ApiError) -> pingora::Result<()> {
    ctx.error = Some(err.message.clone());
    keep_alive_if_small_body(session);
    let (status, body) = crate::protocol::dialect::error_response(ctx.inbound, err, &ctx.request_id);
    let mut resp = head(status, "application/json", &ctx.request_id)?;
    if let Some(secs) = err.retry_after {
        resp.insert_header("retry-after", secs)?;
    }
    if err.status == 405 {
        if let Some((_, allow)) = super::endpoint::route(session.req_header().uri.path()) {
            resp.insert_header("allow", allow)?;
        }
    }
    if err.status == 401 {
        resp.insert_header("www-authenticate", "Bearer")?;
    }
    whole(session, ctx, resp, Bytes::from(body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_private_headers_are_not_copied() {
        let mut up = ResponseHeader::build(200, None).unwrap();
        for (k, v) in [
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("content-length", "10"),
            ("set-cookie", "a=b"),
            ("x-request-id", "up-1"),
            ("openai-organization", "org-secret"),
            ("x-ratelimit-remaining-requests", "99"),
            ("openai-processing-ms", "12"),
        ] {
            up.append_header(k.to_string(), v).unwrap();
        }
        let mut out = head(200, "application/json", "req-1").unwrap();
        copy_upstream_headers(&up, &mut out).unwrap();
        let names: Vec<&str> = out.headers.keys().map(|k| k.as_str()).collect();
        for gone in ["connection", "x-hop", "keep-alive", "transfer-encoding", "content-length", "set-cookie", "openai-organization"] {
            assert!(!names.contains(&gone), "{gone} was copied");
        }
        assert_eq!(out.headers["x-request-id"], "req-1");
        assert_eq!(out.headers["x-upstream-request-id"], "up-1");
        assert_eq!(out.headers["x-ratelimit-remaining-requests"], "99");
        assert_eq!(out.headers["openai-processing-ms"], "12");
    }
}
