//! Writing whole responses and errors downstream, with the headers every response carries.

use super::ctx::RequestCtx;
use crate::protocol::dialect::{self, Unrouted};
use crate::protocol::error::ApiError;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// The response header listing the codes of what conversions changed or dropped.
pub const WARNINGS_HEADER: &str = "x-switchyard-warnings";

/// A response head with the request id and the given content type.
pub fn head(status: u16, content_type: &str, request_id: &str) -> pingora::Result<ResponseHeader> {
    let mut resp = ResponseHeader::build_no_case(status, Some(6))?;
    resp.insert_header("content-type", content_type)?;
    resp.insert_header("x-request-id", request_id)?;
    Ok(resp)
}

/// The upstream's own request id, for the access log (clients never see it).
pub fn upstream_request_id(from: &ResponseHeader) -> Option<String> {
    ["x-request-id", "request-id"]
        .iter()
        .find_map(|n| from.headers.get(*n))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(128).collect())
}

/// Copies only the upstream headers in `allowed` (an allowlist: servers, proxies, cookies,
/// CORS and anything custom stay with the gateway), and none whose value carries `secret`.
pub fn copy_allowed_headers(
    from: &ResponseHeader,
    to: &mut ResponseHeader,
    allowed: &[&str],
    secret: &str,
) -> pingora::Result<()> {
    for (name, value) in from.headers.iter() {
        if !allowed.contains(&name.as_str()) {
            continue;
        }
        let leaks = secret.len() >= 4 && value.to_str().is_ok_and(|v| v.contains(secret));
        if !leaks {
            to.append_header(name.clone(), value.clone())?;
        }
    }
    Ok(())
}

/// An error answered before the request body was read (a wrong key, an unknown route) would
/// close the client's connection; when the unread body is small, Pingora drains it after the
/// answer instead, so SDK clients keep their pooled connection. A large body still closes.
fn keep_alive_if_small_body(session: &mut Session) {
    const DRAINABLE: usize = 64 * 1024;
    if super::body::declared_length(session).is_some_and(|n| n <= DRAINABLE) {
        session.set_close_on_response_before_downstream_finish(false);
        session.set_total_drain_timeout(Some(std::time::Duration::from_secs(1)));
    }
}

/// Adds `X-RateLimit-Limit`, `-Remaining` and `-Reset` (the tightest limit admission saw), when
/// admission ran; every answer head passes through here so success, refusal and stream agree.
pub fn apply_rate_headers(ctx: &RequestCtx, resp: &mut ResponseHeader) -> pingora::Result<()> {
    if let Some(rate) = ctx.rate_headers {
        resp.insert_header("x-ratelimit-limit", rate.limit)?;
        resp.insert_header("x-ratelimit-remaining", rate.remaining)?;
        resp.insert_header("x-ratelimit-reset", rate.reset_secs)?;
    }
    Ok(())
}

/// Adds the usage of a whole answer (`x-switchyard-usage-prompt`, `-completion`, `-cached`,
/// `-cache-write`, `-reasoning`) and, for a billed request, its cost as an exact USD decimal
/// (`x-switchyard-charge`), computed from the same usage and prices settlement charges.
pub fn apply_usage_headers(ctx: &RequestCtx, resp: &mut ResponseHeader) -> pingora::Result<()> {
    let Some(usage) = ctx.usage else { return Ok(()) };
    resp.insert_header("x-switchyard-usage-prompt", usage.input_total())?;
    resp.insert_header("x-switchyard-usage-completion", usage.out_total)?;
    resp.insert_header("x-switchyard-usage-cached", usage.in_cache_read)?;
    resp.insert_header("x-switchyard-usage-cache-write", usage.cache_write_total())?;
    resp.insert_header("x-switchyard-usage-reasoning", usage.out_reasoning)?;
    if ctx.billed {
        let charge = ctx.price.as_ref().map_or(crate::config::Money::ZERO, |p| crate::usage::cost::cost(p, &usage, ctx.images));
        resp.insert_header("x-switchyard-charge", charge.usd())?;
    }
    Ok(())
}

/// The provider of the channel that answered.
pub const PROVIDER_HEADER: &str = "x-switchyard-provider";
/// The public model that answered.
pub const MODEL_HEADER: &str = "x-switchyard-model";
/// How many upstream attempts the request took.
pub const ATTEMPTS_HEADER: &str = "x-switchyard-attempts";

/// Adds the routing headers to a request that went upstream, unless `routing.expose_headers`
/// is off: the attempt count always, and the provider and public model when a channel answered
/// (its attempt committed), so an operator or a client can tell where an answer came from.
pub fn apply_routing_headers(ctx: &RequestCtx, resp: &mut ResponseHeader) -> pingora::Result<()> {
    let expose = ctx.snapshot.as_ref().is_none_or(|s| s.config.routing.expose_headers);
    let Some(last) = ctx.attempts.last().filter(|_| expose) else { return Ok(()) };
    resp.insert_header(ATTEMPTS_HEADER, ctx.attempts.len())?;
    if last.outcome == "ok" {
        if let (Some(provider), Some(model)) = (&ctx.provider, &ctx.model) {
            resp.insert_header(PROVIDER_HEADER, provider.as_str())?;
            resp.insert_header(MODEL_HEADER, model.as_str())?;
        }
    }
    Ok(())
}

/// Writes a complete response with `Content-Length`.
pub async fn whole(session: &mut Session, ctx: &mut RequestCtx, mut resp: ResponseHeader, body: Bytes) -> pingora::Result<()> {
    resp.insert_header("content-length", body.len())?;
    apply_rate_headers(ctx, &mut resp)?;
    apply_routing_headers(ctx, &mut resp)?;
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
    if ctx.error.is_none() {
        ctx.error = Some(err.message.clone());
    }
    keep_alive_if_small_body(session);
    let (status, body) = dialect::of(ctx.inbound).error_response(err, &ctx.request_id);
    let mut resp = head(status, "application/json", &ctx.request_id)?;
    if let Some(secs) = err.retry_after {
        resp.insert_header("retry-after", secs)?;
    }
    if err.status == 405 {
        if let Err(Unrouted::MethodNotAllowed { allowed }) = dialect::recognise("", session.req_header().uri.path()) {
            resp.insert_header("allow", allowed)?;
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
    fn only_allowed_headers_without_the_key_are_copied() {
        let mut up = ResponseHeader::build(200, None).unwrap();
        for (k, v) in [
            ("server", "nginx/1.25.3"),
            ("via", "1.1 internal-lb"),
            ("x-powered-by", "Express"),
            ("strict-transport-security", "max-age=1"),
            ("location", "http://10.0.0.1/"),
            ("access-control-allow-origin", "*"),
            ("content-security-policy", "default-src 'none'"),
            ("x-debug-key", "prov-secret"),
            ("set-cookie", "a=b"),
            ("x-request-id", "up-1"),
            ("retry-after", "3"),
        ] {
            up.append_header(k.to_string(), v).unwrap();
        }
        let mut out = head(200, "application/json", "req-1").unwrap();
        copy_allowed_headers(&up, &mut out, &["retry-after", "x-debug-key"], "prov-secret").unwrap();
        let names: Vec<&str> = out.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["content-type", "x-request-id", "retry-after"]);
        assert_eq!(out.headers["x-request-id"], "req-1");
        assert_eq!(upstream_request_id(&up).as_deref(), Some("up-1"));
    }
}
