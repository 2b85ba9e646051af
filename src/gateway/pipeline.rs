//! One request, step by step:
//!
//! ```text
//! recognise → authenticate → read body → resolve and plan → admit → attempt → relay → settle → log
//! ```
//!
//! Every operation goes through the same steps; what differs is the [`Job`] that resolving
//! produces (a local answer, a generation, a forwarded call). Admission runs before anything is
//! sent upstream and settlement after the relay however it ended, so limits and billing have one
//! place each. The log step is Pingora's `logging` hook (see the module root).

use super::attempt::{self, Routed, Streamed, Whole};
use super::auth;
use super::body;
use super::choose;
use super::ctx::RequestCtx;
use super::failure::Failure;
use super::forward::{self, ForwardCall};
use super::generate::{self, GenerationCall};
use super::models;
use super::provider_pass;
use super::relay::{self, Exit, Spec};
use super::respond;
use super::snapshot::Snapshot;
use super::Gateway;
use crate::account::{AdmitError, AdmitRequest, Admitted, Principal};
use crate::admin::accounts as account_api;
use crate::admin::billing as billing_api;
use crate::config::Money;
use crate::protocol::dialect::{self, Operation, Unrouted};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::ConvertOptions;
use crate::protocol::usage::Usage;
use crate::routing::catalog::{Channel, ModelRoute};
use crate::routing::health::Verdict;
use crate::routing::plan::{plan, Plan};
use crate::store::{EntryKind, EntryTokens, LedgerEntry};
use crate::upstream::media::FetchPolicy;
use crate::usage::cost;
use crate::usage::tokenizer;
use bytes::Bytes;
use pingora::proxy::Session;
use std::sync::Arc;
use std::time::Duration;

/// The request header that turns every conversion loss into a 400.
const STRICT_HEADER: &str = "x-switchyard-strict";

/// Serves one request through every step.
pub(super) async fn serve(gw: &Gateway, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Exit> {
    let snapshot = gw.snapshot.load_full();
    ctx.snapshot = Some(snapshot.clone());
    // Downstream limits Pingora applies per session: idle keep-alive wait, blocked writes.
    // Keep-alive already off stays off: the client asked to close, or the process is shutting
    // down or handing over to a new binary (then the answer says `Connection: close`, so that
    // the client's next request opens a connection to the process that stays).
    let limits = &snapshot.config.limits;
    if gw.draining.is_set() {
        session.set_keepalive(None);
    } else if session.get_keepalive().is_some() {
        session.set_keepalive(Some(limits.keepalive_timeout.as_secs().max(1)));
    }
    session.set_write_timeout(Some(limits.downstream_write_timeout));
    let op = match recognise(&snapshot, session, ctx)? {
        Recognised::Health => {
            return respond::json(session, ctx, 200, Bytes::from_static(br#"{"status":"ok"}"#)).await.map_err(Exit::Downstream)
        }
        Recognised::AccountKeys => return account_keys(&snapshot, session, ctx).await,
        Recognised::Passthrough(index) => {
            let principal = auth::authenticate(&snapshot.accounts, session.req_header(), now_ms()).await?;
            ctx.key_name = Some(principal.key_name.clone());
            return provider_pass::serve(&gw.upstreams, &snapshot, session, ctx, &principal, index).await;
        }
        Recognised::Op(op) => op,
    };
    let principal = auth::authenticate(&snapshot.accounts, session.req_header(), now_ms()).await?;
    ctx.key_name = Some(principal.key_name.clone());
    if let Some(listing) = list_models(&snapshot, &op, ctx) {
        return respond::json(session, ctx, 200, listing?).await.map_err(Exit::Downstream);
    }
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let (raw, fallback) = choose::split_fallback(&op, ctx.inbound, raw)?;
    let job = resolve(gw, &snapshot, session, ctx, &op, &raw, &fallback)?;
    allow_every_model(&principal, &job)?;
    let client_named =
        session.req_header().headers.get("x-request-id").is_some_and(|v| v.as_bytes() == ctx.request_id.as_bytes());
    ctx.billing_id = if client_named { super::new_request_id() } else { ctx.request_id.clone() };
    let admission = admit(ctx, &principal, &job, &raw).await?;
    let guard = Unsettled::arm(&snapshot, &admission);
    let result = run(gw, &snapshot, session, ctx, job).await;
    guard.disarm();
    settle(admission, &principal, ctx).await;
    result
}

/// What a request is for.
enum Recognised {
    /// The gateway's health check (no key).
    Health,
    /// The client's own key, balance and activity APIs, answered from the store for the key's
    /// account.
    AccountKeys,
    /// A provider's own API (`/{provider}/{path…}`), by index into the snapshot's providers.
    Passthrough(usize),
    /// An operation of one of the protocols.
    Op(Operation),
}

/// Now, ms since the Unix epoch (what key expiry and rate windows are measured in).
pub(super) fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Step 1: what the request is for, and the protocol whose envelope its errors use.
fn recognise(snapshot: &Snapshot, session: &Session, ctx: &mut RequestCtx) -> Result<Recognised, Exit> {
    let req = session.req_header();
    let path = req.uri.path();
    ctx.inbound = dialect::protocol_of_path(path);
    if path == "/healthz" {
        ctx.endpoint = Some("health");
        return Ok(Recognised::Health);
    }
    if account_api::is_client_keys_path(path) {
        ctx.endpoint = Some("account_keys");
        return Ok(Recognised::AccountKeys);
    }
    if billing_api::is_client_billing_path(path) {
        ctx.endpoint = Some("account_billing");
        return Ok(Recognised::AccountKeys);
    }
    if let Some(index) = provider_pass::recognise(snapshot, path) {
        ctx.endpoint = Some("passthrough");
        if let Some(provider) = snapshot.providers.get(index) {
            // Errors take the provider's own envelope: its SDK is what calls this route.
            ctx.inbound = provider.protocol.wire();
        }
        return Ok(Recognised::Passthrough(index));
    }
    let method = req.method.as_str();
    let op = dialect::recognise(method, path).map_err(|why| match why {
        Unrouted::NotFound => {
            ApiError::new(ErrorClass::NotFound, format!("unknown route {method} {path}")).with_code("unknown_route")
        }
        Unrouted::MethodNotAllowed { allowed } => {
            ApiError::new(ErrorClass::MethodNotAllowed, format!("{path} accepts {allowed}, not {method}"))
                .with_code("method_not_allowed")
        }
    })?;
    ctx.endpoint = Some(op.name());
    match &op {
        Operation::ListModels | Operation::GetModel(_) => {
            ctx.inbound = dialect::listing_protocol(path, &|name| req.headers.contains_key(name));
        }
        Operation::Generate { protocol, .. } | Operation::CountTokens { protocol, .. } => ctx.inbound = *protocol,
        Operation::Embeddings | Operation::Images => {}
    }
    ctx.operation = Some(op.clone());
    Ok(Recognised::Op(op))
}

/// The client's own key API (`/v1/account/keys`, `/api/v1/keys`): authenticated with the
/// client's key like any request, answered from the store for that key's account.
async fn account_keys(snapshot: &Snapshot, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), Exit> {
    let now = now_ms();
    let principal = auth::authenticate(&snapshot.accounts, session.req_header(), now).await?;
    ctx.key_name = Some(principal.key_name.clone());
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let req = session.req_header();
    let (method, path) = (req.method.clone(), req.uri.path().to_owned());
    let store = snapshot.accounts.store();
    let target = req.uri.path_and_query().map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let reply = match account_api::client_keys(store, &principal, &method, &path, &raw, now).await {
        Some(reply) => Some(reply),
        None => billing_api::client_billing(store, &principal, &method, &target, now).await,
    };
    let Some(reply) = reply else {
        return Err(Failure::internal("routing", "a key API path was not answered by the key API").into());
    };
    respond::json(session, ctx, reply.status, Bytes::from(reply.body)).await.map_err(Exit::Downstream)
}

/// Model listings answer from the config alone (no body, no upstream).
fn list_models(snapshot: &Snapshot, op: &Operation, ctx: &mut RequestCtx) -> Option<Result<Bytes, ApiError>> {
    let shape = dialect::of(ctx.inbound);
    match op {
        Operation::ListModels => Some(Ok(models::list(snapshot, shape))),
        Operation::GetModel(name) => Some(models::one(snapshot, name, shape).ok_or_else(|| model_not_found(name))),
        _ => None,
    }
}

/// The 404 for a model the catalogue does not know.
fn model_not_found(name: &str) -> ApiError {
    ApiError::new(ErrorClass::NotFound, format!("model `{name}` does not exist"))
        .with_param("model")
        .with_code("model_not_found")
}

/// A key restricted to some models may not reach another one through a fallback list.
fn allow_every_model(principal: &Principal, job: &Job<'_>) -> Result<(), ApiError> {
    match job {
        Job::Generate { routes, .. } => routes.iter().try_for_each(|route| auth::allow_model(principal, route)),
        _ => Ok(()),
    }
}

/// What a request resolved to.
enum Job<'a> {
    /// Answered locally: a count of input tokens.
    Count { tokens: u64 },
    /// A generation over the channels of its models, in order (one model, or a fallback list).
    Generate { routes: Vec<Arc<ModelRoute>>, call: Box<GenerationCall<'a>> },
    /// A forwarded OpenAI operation over the channels that serve it.
    Forward { route: Arc<ModelRoute>, op: Operation, raw: &'a Bytes },
}

/// Step 4: parse the body with the client's dialect, resolve the model and check it serves
/// this operation.
fn resolve<'a>(
    gw: &'a Gateway,
    snapshot: &Snapshot,
    session: &Session,
    ctx: &mut RequestCtx,
    op: &Operation,
    raw: &'a Bytes,
    fallback: &[String],
) -> Result<Job<'a>, Exit> {
    let inbound = dialect::of(ctx.inbound);
    match op {
        Operation::CountTokens { path_model, .. } => {
            let req = inbound
                .count_request(raw, path_model.as_deref())
                .ok_or_else(|| ApiError::new(ErrorClass::NotFound, "no such count operation"))??;
            let names = choose::model_names(gw, snapshot, &req.model, &[]);
            let name = names.first().copied().unwrap_or(&req.model);
            let route = resolve_model(snapshot, op, name, session)?;
            ctx.model = Some(route.id.clone());
            Ok(Job::Count { tokens: tokenizer::count_request(&req) })
        }
        Operation::Generate { path_model, path_stream, .. } => {
            let request = inbound.parse_inbound(raw, path_model.as_deref(), *path_stream)?;
            let names = choose::model_names(gw, snapshot, request.model(), fallback);
            let routes = names.iter().map(|name| resolve_model(snapshot, op, name, session)).collect::<Result<Vec<_>, _>>()?;
            let Some(route) = routes.first().cloned() else {
                return Err(Failure::internal("resolving", "a generation resolved to no model").into());
            };
            ctx.model = Some(route.id.clone());
            ctx.stream = request.stream();
            let limits = &snapshot.config.limits;
            let policy = FetchPolicy::from_limits(limits);
            let mut call = GenerationCall::new(inbound, request, &gw.signatures, &gw.upstreams, policy);
            call.opts = convert_options(snapshot, &route);
            call.fallback_opts = routes.iter().skip(1).map(|r| (r.id.clone(), convert_options(snapshot, r))).collect();
            let headers = &session.req_header().headers;
            call.strict = generate::wants_strict(headers.get(STRICT_HEADER).and_then(|v| v.to_str().ok()));
            call.client_headers = inbound
                .passthrough_headers()
                .iter()
                .filter_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()).map(|v| (*name, v.to_owned())))
                .collect();
            Ok(Job::Generate { routes, call: Box::new(call) })
        }
        Operation::Embeddings | Operation::Images => {
            let model = crate::protocol::json::RawObject::parse_body(raw)?.model()?;
            let route = resolve_model(snapshot, op, &model, session)?;
            ctx.model = Some(route.id.clone());
            Ok(Job::Forward { route, op: op.clone(), raw })
        }
        Operation::ListModels | Operation::GetModel(_) => {
            Err(Failure::internal("resolving", "a listing reached the body step").into())
        }
    }
}

/// The model behind `name`, refused when it is of another kind than the operation serves.
fn resolve_model(snapshot: &Snapshot, op: &Operation, name: &str, session: &Session) -> Result<Arc<ModelRoute>, ApiError> {
    let route = snapshot.catalog.lookup(name).ok_or_else(|| model_not_found(name))?;
    match op.model_kind() {
        Some(kind) if kind != route.kind => {
            let path = session.req_header().uri.path();
            Err(ApiError::invalid_field(
                "model",
                format!("model `{}` is a {} model and is not served on {path}", route.id, route.kind.as_str()),
            )
            .with_code("model_not_supported_on_endpoint"))
        }
        _ => Ok(route),
    }
}

/// Conversion options from the model's config (its output cap, the sampling fields it refuses).
fn convert_options(snapshot: &Snapshot, route: &ModelRoute) -> ConvertOptions {
    match snapshot.config.models.get(route.index) {
        Some(model) => ConvertOptions::for_model(model.max_output_tokens, &model.capabilities.rejects),
        None => ConvertOptions::default(),
    }
}

/// What admission took for a request, handed back to settlement: the store's admission (none
/// for operator keys, local answers and keys without limits), the tokens it estimated and the
/// prompt's share of them (the estimate of a billed stream that never reports usage).
struct Admission {
    admitted: Option<Admitted>,
    est_tokens: u64,
    prompt_tokens: u64,
}

/// Step 5: admit the request before anything is sent upstream. A key restricted to other models
/// gets 403; then every limit of the key, its account and (on free models) the free tier is
/// checked and counted in one store call, which for a prepaid account also reserves the
/// request's worst-case cost. A refusal is 429 with `Retry-After` (a rate limit, or the key's
/// monthly spend cap) or 402 (the balance); the tightest limit's figures go on the answer
/// either way. Token counts are answered locally and are not counted.
async fn admit(ctx: &mut RequestCtx, principal: &Principal, job: &Job<'_>, raw: &Bytes) -> Result<Admission, Failure> {
    let none = Admission { admitted: None, est_tokens: 0, prompt_tokens: 0 };
    let Some(snapshot) = ctx.snapshot.clone() else { return Ok(none) };
    let Some(route) = ctx.model.as_deref().and_then(|m| snapshot.catalog.resolve(m)) else { return Ok(none) };
    auth::allow_model(principal, route)?;
    if matches!(job, Job::Count { .. }) {
        return Ok(none);
    }
    let model = snapshot.config.models.get(route.index);
    let billed = principal.billed_account().is_some();
    let counts_tokens = principal.key_limits.tpm.is_some() || principal.account_limits.tpm.is_some();
    let estimate = if counts_tokens || billed { estimate_tokens(job, raw) } else { Estimate::default() };
    let est_tokens = estimate.prompt + estimate.asked_output.unwrap_or(0);
    let free = model.is_some_and(|m| m.is_free());
    let mut worst_case = Money::ZERO;
    if billed {
        let multiplier = snapshot.config.billing.multiplier_micro(principal.group.as_deref());
        ctx.price = model.and_then(|m| m.price.as_ref()).map(|p| p.scaled(multiplier));
        ctx.images = estimate.images;
        ctx.billed = true;
        let cap = estimate
            .asked_output
            .or_else(|| model.and_then(|m| m.max_output_tokens).map(u64::from))
            .unwrap_or(u64::from(DEFAULT_OUTPUT_CAP));
        let output_cap = if matches!(job, Job::Forward { .. }) { 0 } else { cap };
        worst_case =
            ctx.price.as_ref().map_or(Money::ZERO, |p| cost::worst_case(p, estimate.prompt, output_cap, estimate.images));
    }
    let request = AdmitRequest {
        model: route.id.clone(),
        free,
        est_tokens,
        now_ms: now_ms(),
        request_id: ctx.billing_id.clone(),
        worst_case,
    };
    match snapshot.accounts.admit(principal, &request).await {
        Ok(admitted) => {
            ctx.rate_headers = admitted.headers;
            if admitted.unchecked {
                tracing::warn!(request_id = %ctx.request_id, "admitted without checking rate limits: the store is unreachable (limits_on_outage: open)");
            }
            ctx.billed = admitted.billed.is_some();
            Ok(Admission { admitted: Some(admitted), est_tokens, prompt_tokens: estimate.prompt })
        }
        Err(refused) => Err(refusal(ctx, refused, worst_case).into()),
    }
}

/// The client's answer to a refused admission (its rate-limit figures go on it too).
pub(super) fn refusal(ctx: &mut RequestCtx, refused: AdmitError, worst_case: Money) -> ApiError {
    match refused {
        AdmitError::Limited(refusal) => {
            ctx.rate_headers = Some(refusal.headers);
            let message = format!("rate limit exceeded ({}); retry in {}s", refusal.limit, refusal.retry_after_secs);
            ApiError::new(ErrorClass::RateLimited, message)
                .with_code("rate_limit_exceeded")
                .with_retry_after(Some(refusal.retry_after_secs))
        }
        AdmitError::InsufficientBalance => ApiError::new(
            ErrorClass::InsufficientBalance,
            format!("the account's balance does not cover this request (up to ${} with its output cap); add credit or lower max_tokens", worst_case.usd()),
        )
        .with_code("insufficient_balance"),
        AdmitError::SpendCapExceeded => ApiError::new(
            ErrorClass::RateLimited,
            "this key's monthly spend cap would be exceeded; it resets at the start of the next UTC month",
        )
        .with_code("spend_limit_exceeded"),
        AdmitError::Unavailable => ApiError::new(ErrorClass::Unavailable, "rate limits cannot be checked right now; retry shortly")
            .with_code("store_unavailable")
            .with_retry_after(Some(1)),
    }
}

/// Releases a billed request's reservation if serving it is abandoned between admission and
/// settlement (the request's future dropped): its money is held only until settlement, never
/// until the reservation's TTL because of a cancelled task.
struct Unsettled {
    armed: Option<(Arc<Snapshot>, crate::account::Billed)>,
}

impl Unsettled {
    fn arm(snapshot: &Arc<Snapshot>, admission: &Admission) -> Self {
        let billed = admission.admitted.as_ref().and_then(|a| a.billed.clone());
        Unsettled { armed: billed.map(|b| (snapshot.clone(), b)) }
    }

    fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        let Some((snapshot, billed)) = self.armed.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        tracing::warn!(request_id = %billed.request_id, "request dropped before settlement; releasing its reservation");
        runtime.spawn(async move {
            snapshot.accounts.settle_charge(&billed, None).await;
        });
    }
}

/// The output cap assumed when neither the client nor the model names one (what the
/// conversions send when a protocol requires `max_tokens`).
const DEFAULT_OUTPUT_CAP: u32 = 4096;

/// What admission estimates about a request before it is sent.
#[derive(Debug, Default, Clone, Copy)]
struct Estimate {
    /// Prompt tokens (the tokenizer on the hub form; a quarter token per body byte otherwise).
    prompt: u64,
    /// The output cap the client asked for.
    asked_output: Option<u64>,
    /// Images asked for (images endpoint).
    images: u64,
}

/// The tokens a request is expected to use, for TPM limits and reservations: a generation's
/// prompt counted by the tokenizer on its hub form plus the output cap the client asked for
/// (what OpenAI's limiter counts too); a forwarded body (embeddings, images) at a quarter token
/// per byte. Settlement corrects it to the usage the upstream reports.
fn estimate_tokens(job: &Job<'_>, raw: &Bytes) -> Estimate {
    let by_length = u64::try_from(raw.len() / 4).unwrap_or(u64::MAX);
    match job {
        Job::Generate { call, .. } => match call.request.to_hub() {
            Ok((hub, _)) => {
                Estimate { prompt: tokenizer::count_request(&hub), asked_output: hub.max_output_tokens.map(u64::from), images: 0 }
            }
            Err(_) => Estimate { prompt: by_length, ..Estimate::default() },
        },
        Job::Forward { op, .. } => {
            let images = if matches!(op, Operation::Images) {
                crate::protocol::json::RawObject::parse_body(raw)
                    .ok()
                    .and_then(|o| o.get_as::<u64>("n").and_then(Result::ok))
                    .unwrap_or(1)
            } else {
                0
            };
            Estimate { prompt: by_length, asked_output: None, images }
        }
        Job::Count { .. } => Estimate::default(),
    }
}

/// Step 8: settle what admission took against the usage the relay recorded in `ctx`; runs for
/// every admitted request however it ended. Rate limits: without reported usage, an answered
/// request keeps its estimate and an unanswered one used nothing. Money: see [`usage_entry`].
async fn settle(admission: Admission, principal: &Principal, ctx: &mut RequestCtx) {
    let Some(snapshot) = ctx.snapshot.clone() else { return };
    let Some(admitted) = admission.admitted else { return };
    let actual = match ctx.usage {
        Some(usage) => usage.input_total() + usage.out_total,
        None if (200..300).contains(&ctx.status) => admission.est_tokens,
        None => 0,
    };
    let limits = snapshot.accounts.settle(&admitted, actual);
    let Some(billed) = &admitted.billed else { return limits.await };
    let entry = usage_entry(ctx, principal, admission.prompt_tokens);
    // Both calls in flight at once: on Redis's multiplexed connection they go out pipelined, one
    // round trip for the settlement.
    let ((), written) = tokio::join!(limits, snapshot.accounts.settle_charge(billed, entry));
    ctx.charge = written.map(|e| Money::ZERO - e.amount);
}

/// The usage entry of a billed request, by the rules in the README:
/// - usage reported by the upstream (whole, streamed, or read on after the client hung up):
///   charged as reported, marked `aborted` when the client left;
/// - a stream that reported none (it broke, or the client left and none came): the prompt
///   estimate plus the output the client was sent counted by the tokenizer, `estimated`;
/// - nothing answered (every attempt failed, failed over, or the client left before the answer
///   began): `None`, the reservation is released and nothing is charged.
fn usage_entry(ctx: &RequestCtx, principal: &Principal, prompt_tokens: u64) -> Option<LedgerEntry> {
    let answered = (200..300).contains(&ctx.status);
    let (usage, estimated) = match (ctx.usage, ctx.delivered_tokens) {
        (Some(u), _) => (u, false),
        (None, Some(delivered)) if answered => (Usage { in_base: prompt_tokens, out_total: delivered, ..Usage::default() }, true),
        (None, None) if answered => (Usage { in_base: prompt_tokens, ..Usage::default() }, true),
        _ => return None,
    };
    let amount = ctx.price.as_ref().map_or(Money::ZERO, |p| cost::cost(p, &usage, ctx.images));
    Some(LedgerEntry {
        id: ctx.billing_id.clone(),
        request_id: (ctx.billing_id != ctx.request_id).then(|| ctx.request_id.clone()),
        kind: EntryKind::Usage,
        amount,
        balance_after: Money::ZERO,
        at_ms: now_ms(),
        key_id: Some(principal.key_id.clone()),
        model: ctx.model.clone(),
        provider: ctx.provider.clone(),
        tokens: Some(EntryTokens {
            prompt: usage.input_total(),
            completion: usage.out_total,
            cache_read: usage.in_cache_read,
            cache_write: usage.cache_write_total(),
            reasoning: usage.out_reasoning,
            images: ctx.images,
        }),
        estimated,
        aborted: ctx.aborted,
        capped: false,
        reason: None,
    })
}

/// Steps 6 and 7: attempt the channels in plan order and relay the committed answer, while
/// watching for a client that hangs up before the answer starts.
async fn run(gw: &Gateway, snapshot: &Snapshot, session: &mut Session, ctx: &mut RequestCtx, job: Job<'_>) -> Result<(), Exit> {
    match job {
        Job::Count { tokens } => {
            let body = dialect::of(ctx.inbound).count_reply(tokens);
            respond::json(session, ctx, 200, Bytes::from(body)).await.map_err(Exit::Downstream)
        }
        Job::Generate { routes, call } => {
            let Some(first) = routes.first() else {
                return Err(Failure::internal("routing", "a generation resolved to no model").into());
            };
            let order = choose::plan_models(&routes, &|channels| plan_for(gw, snapshot, channels), budget(snapshot));
            let routed = routed(gw, snapshot, first, order);
            let stream = call.request.stream();
            if stream {
                let answered =
                    watch(session, attempt::run::<Streamed, _>(&gw.upstreams, snapshot, &routed, call.as_ref(), ctx)).await??;
                let model = choose::answering_model(ctx, &routes);
                let spec = generation_spec(&call, &model, provider_key(snapshot, ctx));
                let _open = gw.metrics.stream_opened();
                let relayed = relay::stream(session, ctx, &gw.upstreams, &gw.signatures, answered, &spec).await;
                if ctx.stream_failed {
                    stream_failed(gw, snapshot, &routes, ctx);
                }
                relayed
            } else {
                let answered =
                    watch(session, attempt::run::<Whole, _>(&gw.upstreams, snapshot, &routed, call.as_ref(), ctx)).await??;
                let model = choose::answering_model(ctx, &routes);
                let spec = generation_spec(&call, &model, provider_key(snapshot, ctx));
                relay::whole(session, ctx, &gw.signatures, answered, &spec).await
            }
        }
        Job::Forward { route, op, raw } => {
            let serving: Vec<Channel> = route
                .channels
                .iter()
                .filter(|c| snapshot.providers.get(c.provider).is_some_and(|p| forward::serves(p, &op)))
                .cloned()
                .collect();
            if serving.is_empty() {
                let path = session.req_header().uri.path().to_owned();
                return Err(ApiError::invalid_field("model", format!("model `{}` has no upstream that serves {path}", route.id))
                    .with_code("unsupported_endpoint")
                    .into());
            }
            let call = ForwardCall { op: &op, raw };
            let routed = routed(gw, snapshot, &route, plan_for(gw, snapshot, &serving));
            let answered = watch(session, attempt::run::<Whole, _>(&gw.upstreams, snapshot, &routed, &call, ctx)).await??;
            let up = answered.answer.dialect;
            let converted = up.forward_response(&op, raw, &answered.answer.body, &route.id, &|t| tokenizer::count_text(t))?;
            let spec = Spec {
                inbound: dialect::of(ctx.inbound),
                public_model: &route.id,
                include_usage: false,
                echo: Default::default(),
                opts: &ConvertOptions::default(),
                provider_key: provider_key(snapshot, ctx),
            };
            relay::forwarded(session, ctx, answered, converted, &spec).await
        }
    }
}

/// Where a request may go: `plan`, and the first-byte deadline of `route` (the model asked for
/// first) from now.
fn routed<'a>(gw: &'a Gateway, snapshot: &Snapshot, route: &ModelRoute, plan: Plan<'a>) -> Routed<'a> {
    let deadline = snapshot.config.models.get(route.index).map_or(Duration::from_secs(120), |m| m.first_byte_deadline);
    Routed { plan, health: &gw.health, deadline: tokio::time::Instant::now() + deadline }
}

/// The most attempts one request may make (`routing.max_attempts`).
fn budget(snapshot: &Snapshot) -> usize {
    usize::try_from(snapshot.config.routing.max_attempts).unwrap_or(usize::MAX)
}

/// The channels to try for `channels`, as their health stands now, cut to the attempt budget.
fn plan_for<'a>(gw: &Gateway, snapshot: &Snapshot, channels: &'a [Channel]) -> Plan<'a> {
    let now = std::time::Instant::now();
    let health = |c: &Channel| {
        let fingerprint = snapshot.providers.get(c.provider).map_or(0, |p| p.key_fingerprint);
        gw.health.health(&c.label, fingerprint, now)
    };
    plan(channels, &health, budget(snapshot), &mut rand::rng())
}

/// A committed stream that broke off counts against its channel like a failed attempt (the
/// client got an in-stream error; no other channel can be tried once bytes were sent).
fn stream_failed(gw: &Gateway, snapshot: &Snapshot, routes: &[Arc<ModelRoute>], ctx: &mut RequestCtx) {
    let label = ctx.channel.as_deref();
    let Some(channel) = routes.iter().flat_map(|r| &r.channels).find(|c| Some(c.label.as_str()) == label) else {
        return;
    };
    let fingerprint = snapshot.providers.get(channel.provider).map_or(0, |p| p.key_fingerprint);
    let policy = &snapshot.config.routing;
    let transition = gw.health.record(&channel.label, fingerprint, Verdict::Failure, std::time::Instant::now(), policy);
    if let Some(t) = transition {
        tracing::warn!(request_id = %ctx.request_id, channel = %channel.label, change = t.label(), "channel out of rotation");
        if let Some(last) = ctx.attempts.last_mut() {
            last.health = Some(t.label());
        }
    }
}

/// What the relay needs to know about a generation's client; `public_model` is the model that
/// answered.
fn generation_spec<'a>(call: &'a GenerationCall<'_>, public_model: &'a str, provider_key: &'a str) -> Spec<'a> {
    Spec {
        inbound: call.inbound,
        public_model,
        include_usage: call.request.include_usage(),
        echo: call.echo(),
        opts: call.opts_for(public_model),
        provider_key,
    }
}

/// The answering provider's key (to keep it out of forwarded headers).
fn provider_key<'s>(snapshot: &'s Snapshot, ctx: &RequestCtx) -> &'s str {
    ctx.provider
        .as_deref()
        .and_then(|name| snapshot.providers.iter().find(|p| p.name == name))
        .map_or("", |p| p.api_key.expose())
}

/// Runs `work` unless the client closes its connection first: a client that hangs up while the
/// upstream is still thinking must not keep a generation (and later, its bill) running.
pub(super) async fn watch<T>(session: &mut Session, work: impl std::future::Future<Output = T>) -> Result<T, Exit> {
    tokio::select! {
        r = work => Ok(r),
        () = client_gone(session) => Err(Exit::ClientGone),
    }
}

/// Resolves when the client closes its connection (HTTP/1 FIN, h2 reset); pending otherwise.
async fn client_gone(session: &mut Session) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            Ok(Some(_)) => continue,
            Ok(None) => return std::future::pending().await,
        }
    }
}
