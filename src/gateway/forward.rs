//! The upstream requests of a forwarded OpenAI operation (embeddings, images): each channel's
//! provider dialect says whether it serves the operation and how the call looks.

use super::attempt::{Prepared, UpstreamCall};
use super::failure::Failure;
use super::snapshot::ProviderRuntime;
use crate::protocol::dialect::{self, Operation};
use crate::routing::catalog::Channel;
use bytes::Bytes;

/// Builds each channel's request for one forwarded operation.
pub struct ForwardCall<'a> {
    /// The operation.
    pub op: &'a Operation,
    /// The client's body.
    pub raw: &'a Bytes,
}

impl UpstreamCall for ForwardCall<'_> {
    async fn prepare(&self, channel: &Channel, provider: &ProviderRuntime) -> Result<Prepared, Failure> {
        let up = dialect::of(provider.protocol.wire());
        let (path, body) = up.forward_request(self.op, self.raw, &provider.target.base_path, &channel.upstream_model)?;
        Ok(Prepared { dialect: up, path, body, headers: up.auth_headers(provider.api_key.expose()), warnings: Vec::new() })
    }
}

/// Whether `provider` can serve `op` at all.
pub fn serves(provider: &ProviderRuntime, op: &Operation) -> bool {
    dialect::of(provider.protocol.wire()).serves(op)
}
