//! The upstream requests of a generation (chat completions, responses, messages,
//! generateContent): a channel of the client's own protocol gets the client's bytes with only the
//! model changed; a channel of another protocol gets the request converted through the hub,
//! which is built the first time such a channel is tried, and at most once.

use super::attempt::{Prepared, UpstreamCall};
use super::failure::Failure;
use super::media;
use super::snapshot::ProviderRuntime;
use super::Signatures;
use crate::protocol::dialect::{self, ClientEcho, Dialect, InboundRequest};
use crate::protocol::error::ApiError;
use crate::protocol::ir::{self, signatures, ConvertOptions, Converted, Warning};
use crate::routing::catalog::Channel;
use crate::upstream::media::FetchPolicy;
use crate::upstream::pool::Upstreams;
use bytes::Bytes;
use tokio::sync::OnceCell;

/// The client's request in hub form, and what its answers must repeat.
pub struct Hub {
    /// The hub request (media as the client sent it).
    pub request: ir::Request,
    /// What the client's answers repeat.
    pub echo: ClientEcho,
}

/// Builds each channel's upstream request for one generation.
pub struct GenerationCall<'a> {
    /// The client's protocol.
    pub inbound: &'static dyn Dialect,
    /// The parsed client body.
    pub request: Box<dyn InboundRequest + 'a>,
    /// Conversion options (from the model's config).
    pub opts: ConvertOptions,
    /// The conversion options of the other models of a fallback list, by public id.
    pub fallback_opts: Vec<(String, ConvertOptions)>,
    /// The client's own headers a same-protocol upstream sees (its dialect's passthrough headers).
    pub client_headers: Vec<(&'static str, String)>,
    /// Every conversion loss is a 400 instead of a warning (`x-switchyard-strict: true`).
    pub strict: bool,
    /// Where signed reasoning is kept for clients that cannot carry it.
    pub signatures: &'a Signatures,
    /// The plumbing media URLs are fetched with.
    pub upstreams: &'a Upstreams,
    /// How media URLs may be fetched.
    pub media_policy: FetchPolicy,
    hub: OnceCell<Hub>,
    inlined: OnceCell<ir::Request>,
}

impl<'a> GenerationCall<'a> {
    /// A call for `request` from a client of `inbound`.
    pub fn new(
        inbound: &'static dyn Dialect,
        request: Box<dyn InboundRequest + 'a>,
        signatures: &'a Signatures,
        upstreams: &'a Upstreams,
        media_policy: FetchPolicy,
    ) -> Self {
        GenerationCall {
            inbound,
            request,
            opts: ConvertOptions::default(),
            fallback_opts: Vec::new(),
            client_headers: Vec::new(),
            strict: false,
            signatures,
            upstreams,
            media_policy,
            hub: OnceCell::new(),
            inlined: OnceCell::new(),
        }
    }

    /// The conversion options of model `public_model` (the first model's when it is not one of
    /// the fallbacks).
    pub fn opts_for(&self, public_model: &str) -> &ConvertOptions {
        self.fallback_opts.iter().find(|(id, _)| id == public_model).map_or(&self.opts, |(_, opts)| opts)
    }

    /// What the client's converted answers must repeat (defaults when nothing was converted).
    pub fn echo(&self) -> ClientEcho {
        self.hub.get().map(|h| h.echo.clone()).unwrap_or_default()
    }

    async fn hub(&self) -> Result<&Hub, ApiError> {
        self.hub
            .get_or_try_init(|| async {
                let (request, echo) = self.request.to_hub()?;
                Ok::<_, ApiError>(Hub { request, echo })
            })
            .await
    }

    async fn converted(&self, up: &'static dyn Dialect, channel: &Channel) -> Result<Converted<Bytes>, ApiError> {
        let hub = self.hub().await?;
        let source = if up.needs_inline_media() { self.inlined_for(hub).await? } else { &hub.request };
        let mut req = source.clone();
        req.model = channel.upstream_model.clone();
        if let (false, Some(placement)) = (self.inbound.carries_signed_reasoning(), up.signed_reasoning()) {
            let issuer = up.protocol();
            signatures::restore(&mut req, placement, |id| self.signatures.recall(id, &issuer));
        }
        let converted = dialect::convert_request(up, &req, self.opts_for(&channel.public_model))?;
        Ok(Converted { value: Bytes::from(converted.value), warnings: converted.warnings })
    }

    /// The hub request with remote media fetched and inlined (for providers that cannot fetch
    /// URLs), fetched once however many such channels are tried.
    async fn inlined_for<'h>(&'h self, hub: &'h Hub) -> Result<&'h ir::Request, ApiError> {
        if !media::has_remote_media(&hub.request) {
            return Ok(&hub.request);
        }
        self.inlined
            .get_or_try_init(|| async {
                let mut inlined = hub.request.clone();
                media::inline_remote_media(&mut inlined, self.upstreams, self.media_policy).await?;
                Ok::<_, ApiError>(inlined)
            })
            .await
    }
}

impl UpstreamCall for GenerationCall<'_> {
    async fn prepare(&self, channel: &Channel, provider: &ProviderRuntime) -> Result<Prepared, Failure> {
        let up = dialect::of(provider.wire_for(self.inbound.protocol()));
        let same = up.protocol() == self.inbound.protocol();
        let converted = if same {
            self.request.passthrough_body(&channel.upstream_model, self.opts_for(&channel.public_model))?
        } else {
            self.converted(up, channel).await?
        };
        let (body, warnings) = (converted.value, converted.warnings);
        if let (true, Some(w)) = (self.strict, warnings.iter().find(|w| w.is_loss())) {
            return Err(strict_refusal(w).into());
        }
        let mut headers = up.auth_headers(provider.api_key.expose());
        headers.extend(up.version_headers(&self.client_headers, same));
        let path = up.generation_path(&provider.target.base_path, &channel.upstream_model, self.request.stream());
        Ok(Prepared { dialect: up, path, body, headers, warnings })
    }
}

/// The 400 a strict client gets instead of a silent change.
pub fn strict_refusal(w: &Warning) -> ApiError {
    let field = w.field().unwrap_or("request");
    ApiError::invalid_field(
        field,
        format!("`{field}` cannot be sent to this model's upstream unchanged ({}); strict mode refuses the change", w.code()),
    )
    .with_code("conversion_not_exact")
}

/// Whether a client's request asks for strict conversion.
pub fn wants_strict(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_refusal_names_the_field() {
        let e = strict_refusal(&Warning::TemperatureClamped { from: 1.7, to: 1.0 });
        assert_eq!((e.status, e.param.as_deref()), (400, Some("temperature")));
        assert!(wants_strict(Some("true")) && wants_strict(Some(" TRUE ")) && !wants_strict(Some("no")) && !wants_strict(None));
    }
}
