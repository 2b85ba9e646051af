//! Every generation endpoint (OpenAI Chat, Anthropic Messages, Gemini generateContent): read
//! the body, resolve the model, plan channels, build each channel's upstream request (the same
//! protocol passes through; another is converted through the hub), attempt, relay.

use super::attempt::{self, Call, Prepared, Upstreams};
use super::body;
use super::media;
use super::signatures;
use crate::upstream::media::FetchPolicy;
use super::ctx::RequestCtx;
use super::relay;
use super::snapshot::{ProviderRuntime, Snapshot};
use crate::protocol::dialect;
use crate::protocol::error::{ApiError, ErrorClass};
use crate::protocol::ir::{self, ConvertOptions, Protocol};
use crate::protocol::json::RawObject;
use crate::protocol::openai::chat::ChatRequest;
use crate::protocol::passthrough;
use crate::protocol::responses::{self, ResponseEcho};
use crate::routing::catalog::Channel;
use crate::routing::plan::plan;
use crate::upstream::dialect as wire;
use bytes::Bytes;
use pingora::proxy::Session;

/// The inbound side of a generation request as its endpoint knows it.
pub struct Inbound {
    /// The client's protocol.
    pub protocol: Protocol,
    /// The model named in the path (Gemini).
    pub path_model: Option<String>,
    /// The path asked for a stream (Gemini `streamGenerateContent`).
    pub path_stream: bool,
}

/// What the gateway reads from any inbound body before routing.
struct Facts<'a> {
    model: String,
    stream: bool,
    include_usage: bool,
    /// An OpenAI Chat body, parsed once and reused for every channel's passthrough.
    chat: Option<ChatRequest<'a>>,
}

fn facts<'a>(inbound: &Inbound, raw: &'a [u8]) -> Result<Facts<'a>, ApiError> {
    if inbound.protocol == Protocol::OpenAiChat {
        let chat = ChatRequest::parse(raw)?;
        let info = chat.info.clone();
        return Ok(Facts { model: info.model, stream: info.stream, include_usage: info.include_usage, chat: Some(chat) });
    }
    let obj = RawObject::parse_body(raw)?;
    let model = match &inbound.path_model {
        Some(m) => m.clone(),
        None => obj.model()?,
    };
    let stream = inbound.path_stream || matches!(obj.get_as::<Option<bool>>("stream"), Some(Ok(Some(true))));
    Ok(Facts { model, stream, include_usage: stream, chat: None })
}

/// Serves one generation request; `Err` is an error to render before anything was sent.
pub async fn handle(
    session: &mut Session,
    ctx: &mut RequestCtx,
    snapshot: &Snapshot,
    upstreams: &Upstreams,
    inbound: Inbound,
) -> Result<(), Handled> {
    let raw = body::read_bounded(session, snapshot.config.limits.max_body_bytes).await?;
    let facts = facts(&inbound, &raw)?;
    ctx.stream = facts.stream;
    let route = snapshot.catalog.resolve_or_404(&facts.model)?;
    ctx.model = Some(route.id.clone());
    let order = plan(&route.channels, &mut rand::rng());

    // The protocol each planned channel is called in, for this client.
    let wires: Vec<Protocol> = order.iter().filter_map(|c| snapshot.providers.get(c.provider)).map(|p| p.wire_for(inbound.protocol)).collect();

    // The hub form is built once, and only when some channel speaks another protocol.
    let converts = wires.iter().any(|w| *w != inbound.protocol);
    let mut responses_echo = ResponseEcho::default();
    let hub = if converts {
        let mut req = if inbound.protocol == Protocol::OpenAiResponses {
            let (req, echo) = responses::responses_request_to_ir_with_echo(&raw)?;
            responses_echo = echo;
            req
        } else {
            dialect::request_to_ir(inbound.protocol, &raw, inbound.path_model.as_deref(), facts.stream)?
        };
        req.stream = facts.stream;
        Some(req)
    } else {
        None
    };
    // Gemini takes media only inline: fetch remote images and documents once, for its channels.
    let gemini_hub = match &hub {
        Some(h) if wires.contains(&Protocol::Gemini) && media::has_remote_media(h) => {
            let mut inlined = h.clone();
            let limits = &snapshot.config.limits;
            let policy = FetchPolicy { max_bytes: limits.media_max_bytes, allow_private: limits.media_allow_private };
            media::inline_remote_media(&mut inlined, upstreams, policy).await?;
            Some(inlined)
        }
        _ => None,
    };
    let opts = ConvertOptions::default();
    let client_header = |name: &str| session.req_header().headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let anthropic_client = AnthropicHeaders { version: client_header("anthropic-version"), beta: client_header("anthropic-beta") };

    let prepare = |channel: &Channel, provider: &ProviderRuntime| -> Result<Prepared, ApiError> {
        let up = provider.wire_for(inbound.protocol);
        let same = up == inbound.protocol;
        let body = match (&hub, same) {
            (_, true) => match &facts.chat {
                Some(chat) => chat.upstream_body(&channel.upstream_model)?,
                None => passthrough::request(up, &raw, &channel.upstream_model)?,
            },
            (Some(hub), false) => {
                let source = match (&gemini_hub, up) {
                    (Some(inlined), Protocol::Gemini) => inlined,
                    _ => hub,
                };
                let mut req: ir::Request = source.clone();
                req.model = channel.upstream_model.clone();
                if signatures::needed(inbound.protocol, up) {
                    signatures::restore(&upstreams.signatures, up, &mut req);
                }
                let converted = dialect::ir_to_request(up, &req, &opts)?;
                for warning in &converted.warnings {
                    tracing::info!(target: "conversion", channel = %channel.label, "{warning:?}");
                }
                Bytes::from(converted.value)
            }
            (None, false) => return Err(ApiError::new(ErrorClass::Server, "conversion was not prepared")),
        };
        let mut headers = wire::auth_headers(up, provider.api_key.expose());
        if up == Protocol::Anthropic {
            anthropic_client.add_to(&mut headers, same);
        }
        let path = wire::generation_path(up, &provider.target.base_path, &channel.upstream_model, facts.stream);
        Ok(Prepared { protocol: up, path, body, headers })
    };
    let call = Call { stream: facts.stream, prepare: &prepare };

    // A client that hangs up while the upstream is still thinking must not keep a generation
    // (and later, its bill) running: watch the client while the attempts run.
    let attempted = tokio::select! {
        r = attempt::run(upstreams, snapshot, &order, &call, ctx) => Some(r),
        () = client_gone(session) => None,
    };
    let Some(committed) = attempted else {
        return Err(Handled::ClientGone);
    };
    let include_thoughts = hub.as_ref().is_some_and(crate::protocol::gemini::wants_thoughts);
    let spec = relay::Spec {
        inbound: inbound.protocol,
        public_model: &route.id,
        include_usage: facts.include_usage,
        include_thoughts,
        responses_echo,
        opts: &opts,
    };
    relay::relay(session, ctx, upstreams, committed?, &spec).await.map_err(Handled::Downstream)
}

/// An Anthropic client's version and beta headers: forwarded when the upstream is Anthropic too;
/// a converted request gets the version whose fields the converter writes.
struct AnthropicHeaders {
    version: Option<String>,
    beta: Option<String>,
}

impl AnthropicHeaders {
    fn add_to(&self, headers: &mut Vec<(&'static str, String)>, passthrough: bool) {
        let version = self.version.as_ref().filter(|_| passthrough).cloned();
        headers.push(("anthropic-version", version.unwrap_or_else(|| wire::ANTHROPIC_VERSION.to_owned())));
        if let (true, Some(beta)) = (passthrough, &self.beta) {
            headers.push(("anthropic-beta", beta.clone()));
        }
    }
}

/// Resolves when the client closes its connection (HTTP/1 FIN, h2 reset); pending otherwise.
pub(super) async fn client_gone(session: &mut Session) {
    loop {
        match session.read_body_or_idle(true).await {
            Err(_) => return,
            Ok(Some(_)) => continue,
            Ok(None) => return std::future::pending().await,
        }
    }
}

/// How a handler ended without success.
pub enum Handled {
    /// An error the client must see (nothing was written yet).
    Api(ApiError),
    /// Writing to the client failed; nothing more can be sent.
    Downstream(Box<pingora::Error>),
    /// The client closed the connection before an answer was ready.
    ClientGone,
}

impl From<ApiError> for Handled {
    fn from(e: ApiError) -> Self {
        Handled::Api(e)
    }
}
