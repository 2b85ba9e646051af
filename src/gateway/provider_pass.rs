//! The raw provider routes `/{provider}/{path…}` (only for providers with `passthrough: true`):
//! any method, authenticated with the client's gateway key, sent on with the provider's own
//! key in the provider's own auth style. Bodies stream both ways chunk by chunk (a large upload
//! or download never sits in memory), and headers pass an allowlist in each direction
//! ([`provider_route`]).

use super::ctx::{AttemptRecord, RequestCtx};
use super::failure::{logged_body, Failure, UpstreamError};
use super::relay::Exit;
use super::respond;
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::account::{AdmitRequest, Principal};
use crate::protocol::dialect::{self, Dialect};
use crate::protocol::error::{redact, ApiError, ErrorClass};
use crate::protocol::provider_route::{self, REQUEST_HEADERS, RESPONSE_HEADERS};
use crate::upstream::exchange::{self, upload, Deadlines, Exchange};
use crate::upstream::outcome::AttemptError;
use crate::upstream::pool::Upstreams;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;
use std::time::Instant;

/// The most of an upstream error body read (it is redacted, so it is buffered).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The provider (index into the snapshot) whose passthrough route `path` is, if any: only
/// providers with `passthrough: true` have one, so no other path is ever taken.
pub fn recognise(snapshot: &Snapshot, path: &str) -> Option<usize> {
    let (name, _) = provider_route::split(path)?;
    snapshot.providers.iter().position(|p| p.passthrough && p.name == name)
}

/// Serves one passthrough call to provider `index` for an authenticated client.
pub async fn serve(
    upstreams: &Upstreams,
    snapshot: &Snapshot,
    session: &mut Session,
    ctx: &mut RequestCtx,
    principal: &Principal,
    index: usize,
) -> Result<(), Exit> {
    let Some(provider) = snapshot.providers.get(index) else {
        return Err(Failure::internal("passthrough", "a recognised provider is missing").into());
    };
    ctx.provider = Some(provider.name.clone());
    if principal.models.is_some() {
        // A key limited to some models must not reach everything else the provider offers.
        return Err(ApiError::new(ErrorClass::PermissionDenied, "this API key may not use provider passthrough routes")
            .with_code("passthrough_not_allowed")
            .into());
    }
    admit(snapshot, ctx, principal).await?;
    let up = dialect::of(provider.protocol.wire());
    let head = request_head(session, provider, up)?;
    let started = Instant::now();
    let sent = match send(upstreams, session, provider, &head).await {
        // The body is sent; a client that hangs up while the provider works ends the call.
        Ok(upload) => super::pipeline::watch(session, upload.finish()).await?.map_err(Sent::Upstream),
        Err(e) => Err(e),
    };
    let took = started.elapsed();
    ctx.upstream_time += took;
    let outcome = match &sent {
        Ok(ex) => format!("status_{}", ex.status()),
        Err(Sent::Upstream(e)) => e.label().to_owned(),
        Err(Sent::Client(_)) => "client_body_error".to_owned(),
    };
    let label = format!("{}/passthrough", provider.name);
    ctx.attempts
        .push(AttemptRecord { channel: label.clone(), outcome, duration_ms: took.as_millis() as u64, health: None });
    match sent {
        Ok(ex) => relay(session, ctx, provider, ex).await,
        Err(Sent::Client(e)) => Err(e.into()),
        Err(Sent::Upstream(e)) => {
            let message = match e {
                AttemptError::FirstByteTimeout(_) => "the provider did not answer in time",
                _ => "the provider could not be reached right now",
            };
            let client = ApiError::new(ErrorClass::Unavailable, message).with_code("upstream_unavailable");
            Err(Failure::Upstream(Box::new(UpstreamError {
                client,
                status: None,
                body: String::new(),
                summary: label,
                source: Some(e),
            }))
            .into())
        }
    }
}

/// Request limits (RPM, RPD) apply as to any request; no tokens are counted. A provider's own
/// API has no price the gateway could charge, so prepaid accounts are refused (403) rather than
/// served for free.
async fn admit(snapshot: &Snapshot, ctx: &mut RequestCtx, principal: &Principal) -> Result<(), ApiError> {
    if principal.billed_account().is_some() {
        return Err(ApiError::new(
            ErrorClass::PermissionDenied,
            "provider passthrough is not billed, so it is not available to prepaid accounts",
        )
        .with_code("passthrough_not_billed"));
    }
    let request = AdmitRequest {
        model: String::new(),
        free: false,
        est_tokens: 0,
        now_ms: super::pipeline::now_ms(),
        request_id: ctx.request_id.clone(),
        worst_case: crate::config::Money::ZERO,
    };
    match snapshot.accounts.admit(principal, &request).await {
        Ok(admitted) => {
            ctx.rate_headers = admitted.headers;
            Ok(())
        }
        Err(refused) => Err(super::pipeline::refusal(ctx, refused, crate::config::Money::ZERO)),
    }
}

/// The upstream head: the client's method, the path below the provider's base URL, the
/// allowlisted client headers, the provider's own auth and version headers, and the body's
/// framing (its declared length, else chunked; none without a body).
fn request_head(session: &mut Session, provider: &ProviderRuntime, up: &dyn Dialect) -> Result<RequestHeader, Exit> {
    let req = session.req_header();
    let rest = provider_route::split(req.uri.path()).map_or("", |(_, rest)| rest);
    let path = provider_route::upstream_path(&provider.target.base_path, rest, req.uri.query())?;
    let build = |e: Box<pingora::Error>| Exit::Failed(Failure::internal("passthrough request head", e.to_string()));
    let mut head = RequestHeader::build(req.method.clone(), path.as_bytes(), None).map_err(build)?;
    head.insert_header("user-agent", concat!("switchyard/", env!("CARGO_PKG_VERSION"))).map_err(build)?;
    for name in REQUEST_HEADERS {
        for value in req.headers.get_all(*name) {
            head.append_header(*name, value.clone()).map_err(build)?;
        }
    }
    let client: Vec<(&'static str, String)> = up
        .passthrough_headers()
        .iter()
        .filter_map(|name| req.headers.get(*name).and_then(|v| v.to_str().ok()).map(|v| (*name, v.to_owned())))
        .collect();
    for (name, value) in up.auth_headers(provider.api_key.expose()).into_iter().chain(up.version_headers(&client, true)) {
        head.insert_header(name, value).map_err(build)?;
    }
    let declared = super::body::declared_length(session);
    match declared {
        Some(n) => head.insert_header("content-length", n).map_err(build)?,
        None if session.is_body_empty() => {}
        None => head.insert_header("transfer-encoding", "chunked").map_err(build)?,
    }
    Ok(head)
}

/// Why a call produced no upstream answer.
enum Sent {
    /// Reading the client's body failed.
    Client(ApiError),
    /// The upstream could not be reached or failed while the body was sent.
    Upstream(AttemptError),
}

/// Connects and streams the client's body up chunk by chunk.
async fn send(
    upstreams: &Upstreams,
    session: &mut Session,
    provider: &ProviderRuntime,
    head: &RequestHeader,
) -> Result<upload::Upload, Sent> {
    let (addr, target) = provider.peers.select().await.map_err(|e| Sent::Upstream(AttemptError::Connect(e.to_string())))?;
    let peer = exchange::peer(addr, target, provider.timeouts.connect);
    // The `Host` of the address chosen (replicas may differ in host).
    let mut head = head.clone();
    head.insert_header("host", target.authority.as_str())
        .map_err(|e| Sent::Upstream(AttemptError::Send(e.to_string())))?;
    let mut up = upload::start(
        &upstreams.connector,
        &peer,
        &head,
        Deadlines { first_byte: provider.timeouts.first_byte, idle: provider.timeouts.idle },
    )
    .await
    .map_err(Sent::Upstream)?;
    if !session.is_body_empty() {
        super::body::continue_if_expected(session).await.map_err(Sent::Client)?;
        loop {
            let chunk = session.read_request_body().await.map_err(|e| {
                Sent::Client(
                    ApiError::new(ErrorClass::InvalidRequest, format!("could not read the request body: {}", e.etype().as_str()))
                        .with_code("body_read_error"),
                )
            })?;
            match chunk {
                Some(chunk) => up.write(chunk).await.map_err(Sent::Upstream)?,
                None => break,
            }
        }
    }
    Ok(up)
}

/// Sends the upstream answer to the client: allowlisted headers, the body streamed as it
/// arrives. An error answer (4xx/5xx) is read whole (bounded) so the provider key can be
/// redacted from it; the provider refusing the gateway's own key (401) is a 502.
async fn relay(session: &mut Session, ctx: &mut RequestCtx, provider: &ProviderRuntime, mut ex: Exchange) -> Result<(), Exit> {
    let status = ex.status();
    let secret = provider.api_key.expose();
    if status == 401 {
        let body = ex.read_to_end(ERROR_BODY_LIMIT).await.unwrap_or_default();
        let client = ApiError::new(ErrorClass::Server, "the upstream refused the gateway's credentials")
            .with_status(502)
            .with_code("upstream_auth_failed");
        let body = redact(&logged_body(&body), &[secret]);
        let summary = format!("{}/passthrough: status_{status}", provider.name);
        return Err(
            Failure::Upstream(Box::new(UpstreamError { client, status: Some(status), body, summary, source: None })).into()
        );
    }
    let Some(up_head) = ex.header().cloned() else {
        return Err(Failure::internal("passthrough", "no response head").into());
    };
    ctx.upstream_request_id = respond::upstream_request_id(&up_head);
    let downstream = |e: Box<pingora::Error>| Exit::Downstream(e);
    let mut resp = ResponseHeader::build(status, None).map_err(downstream)?;
    resp.insert_header("x-request-id", ctx.request_id.as_str()).map_err(downstream)?;
    respond::copy_allowed_headers(&up_head, &mut resp, RESPONSE_HEADERS, secret).map_err(downstream)?;
    respond::apply_rate_headers(ctx, &mut resp).map_err(downstream)?;
    let head_only = session.req_header().method == http::Method::HEAD || status == 204 || status == 304;
    if status >= 400 {
        // Error bodies are small and may echo the key: read, redact, send whole.
        let body = ex.read_to_end(ERROR_BODY_LIMIT).await.unwrap_or_default();
        let body = Bytes::from(redact(&String::from_utf8_lossy(&body), &[secret]));
        ctx.error = Some(format!("the provider answered {status}"));
        resp.remove_header("content-encoding");
        return respond::whole(session, ctx, resp, body).await.map_err(downstream);
    }
    match up_head.headers.get("content-length") {
        Some(len) => resp.insert_header("content-length", len.clone()).map_err(downstream)?,
        None if !head_only => resp.insert_header("transfer-encoding", "chunked").map_err(downstream)?,
        None => {}
    }
    ctx.status = status;
    session.write_response_header(Box::new(resp), head_only).await.map_err(downstream)?;
    if head_only {
        return Ok(());
    }
    loop {
        match ex.read_chunk().await {
            Ok(Some(chunk)) => {
                ctx.mark_first_byte();
                session.write_response_body(Some(chunk), false).await.map_err(downstream)?;
            }
            Ok(None) => break,
            Err(e) => {
                // Headers are out: closing the connection is the only way left to tell the
                // client the body is incomplete; the log says why.
                ctx.error = Some(format!("the provider's body broke off: {e}"));
                return Err(Exit::Downstream(pingora::Error::explain(
                    pingora::ErrorType::ConnectionClosed,
                    "upstream body broke off",
                )));
            }
        }
    }
    session.write_response_body(None, true).await.map_err(downstream)
}
