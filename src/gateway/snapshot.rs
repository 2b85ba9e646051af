//! The immutable runtime snapshot a request works with, built once from a validated config.
//!
//! A request takes the current snapshot (an `Arc`) at its start and keeps it to the end, so a
//! reload (later issue) swaps a whole new snapshot in without changing a request midway.

use crate::account::Accounts;
use crate::config::{Config, HealthCheck, Protocol, Secret, Timeouts};
use crate::routing::catalog::{Catalog, Channel, ModelRoute};
use crate::store::Store;
use crate::upstream::balance::{Endpoint, Peers};
use crate::upstream::target::{Target, TargetError};
use std::sync::Arc;

/// One provider ready for the hot path.
#[derive(Debug)]
pub struct ProviderRuntime {
    /// Configured name.
    pub name: String,
    /// The protocol it speaks.
    pub protocol: Protocol,
    /// Where it lives: its (first) base URL, whose path every endpoint shares.
    pub target: Target,
    /// Its addresses, balanced and health-checked; shared with the next snapshot when a reload
    /// leaves `addressing` unchanged.
    pub peers: Arc<Peers>,
    /// What `peers` was built from.
    pub addressing: Addressing,
    /// The credential sent upstream (never logged: `Secret` redacts itself).
    pub api_key: Secret,
    /// Connect, first-byte and idle deadlines.
    pub timeouts: Timeouts,
    /// Serves OpenAI's `/responses` natively.
    pub native_responses: bool,
    /// Identifies the key without holding it twice: a channel disabled for refused credentials
    /// comes back when this changes.
    pub key_fingerprint: u64,
    /// Its own API is reachable at `/{name}/{path…}`.
    pub passthrough: bool,
}

impl ProviderRuntime {
    /// The protocol this provider is called in for a client of protocol `inbound`.
    pub fn wire_for(&self, inbound: crate::protocol::ir::Protocol) -> crate::protocol::ir::Protocol {
        self.protocol.wire_for(inbound, self.native_responses)
    }
}

/// What a provider's address set is built from; equal values share one set across reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    /// Every base URL with its weight.
    pub endpoints: Vec<Endpoint>,
    /// The active health check, if any.
    pub health_check: Option<HealthCheck>,
    /// The longest time an address set is kept without a new lookup.
    pub dns_refresh: std::time::Duration,
}

/// Everything a request reads from configuration.
pub struct Snapshot {
    /// The config it was built from.
    pub config: Arc<Config>,
    /// Public models and their channels.
    pub catalog: Catalog,
    /// Client keys (the config's and the store's), accounts and rate limits. The store inside
    /// is shared by every snapshot of a process, so a reload keeps the counters.
    pub accounts: Accounts,
    /// Providers, indexed by `Channel::provider`.
    pub providers: Vec<ProviderRuntime>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("config", &self.config)
            .field("catalog", &self.catalog)
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

/// Why a validated config could still not become a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A provider's base URL cannot be reached over http(s).
    #[error("providers[{index}].base_url: {source}")]
    BaseUrl {
        /// Index of the provider.
        index: usize,
        /// What is wrong with it.
        source: TargetError,
    },
    /// A provider has no base URL (validation should have caught it).
    #[error("providers[{index}].base_url: missing")]
    NoBaseUrl {
        /// Index of the provider.
        index: usize,
    },
    /// A channel names a provider that does not exist (validation should have caught it).
    #[error("models[{model}].channels[{channel}].provider: unknown provider")]
    UnknownProvider {
        /// Index of the model.
        model: usize,
        /// Index of the channel.
        channel: usize,
    },
}

impl Snapshot {
    /// Builds the snapshot from a validated config, over the process's one `store`. A provider
    /// whose addresses and health check are unchanged from `previous` (the snapshot a reload
    /// replaces) keeps its address set, so its health state carries over.
    pub fn build(config: Config, store: Store, previous: Option<&Snapshot>) -> Result<Self, SnapshotError> {
        let providers = config
            .providers
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let endpoints = p
                    .endpoints()
                    .into_iter()
                    .map(|(url, weight)| {
                        let target = Target::from_url(url).map_err(|source| SnapshotError::BaseUrl { index, source })?;
                        Ok(Endpoint { target, weight })
                    })
                    .collect::<Result<Vec<_>, SnapshotError>>()?;
                let target = endpoints.first().map(|e| e.target.clone()).ok_or(SnapshotError::NoBaseUrl { index })?;
                let addressing = Addressing { endpoints, health_check: p.health_check.clone(), dns_refresh: p.dns_refresh };
                let peers = previous
                    .and_then(|s| s.providers.iter().find(|old| old.addressing == addressing))
                    .map(|old| old.peers.clone())
                    .unwrap_or_else(|| {
                        let peers = Peers::new(addressing.endpoints.clone(), p.health_check.as_ref(), p.dns_refresh);
                        Arc::new(peers)
                    });
                Ok(ProviderRuntime {
                    name: p.name.clone(),
                    protocol: p.protocol,
                    target,
                    peers,
                    addressing,
                    api_key: p.api_key.clone(),
                    timeouts: p.timeouts.clone(),
                    native_responses: p.responses,
                    key_fingerprint: key_fingerprint(p.api_key.expose()),
                    passthrough: p.passthrough,
                })
            })
            .collect::<Result<Vec<_>, SnapshotError>>()?;
        let mut routes = Vec::with_capacity(config.models.len());
        for (mi, model) in config.models.iter().enumerate() {
            let public_model: Arc<str> = Arc::from(model.id.as_str());
            let mut channels = Vec::with_capacity(model.channels.len());
            for (ci, ch) in model.channels.iter().enumerate() {
                let provider = providers
                    .iter()
                    .position(|p| p.name == ch.provider)
                    .ok_or(SnapshotError::UnknownProvider { model: mi, channel: ci })?;
                channels.push(Channel {
                    provider,
                    provider_name: ch.provider.clone(),
                    upstream_model: ch.model.clone(),
                    priority: ch.priority,
                    weight: ch.weight,
                    label: format!("{}/{}#{}", ch.provider, ch.model, ci),
                    public_model: public_model.clone(),
                });
            }
            routes.push(ModelRoute {
                id: model.id.clone(),
                aliases: model.aliases.clone(),
                channels,
                kind: model.kind,
                index: mi,
            });
        }
        let accounts = Accounts::new(&config, store);
        Ok(Snapshot { catalog: Catalog::new(routes), accounts, providers, config: Arc::new(config) })
    }
}

/// The first 8 bytes of the key's SHA-256.
fn key_fingerprint(key: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_point_at_their_provider_and_carry_the_model_kind() {
        let yaml = r#"
listen: 127.0.0.1:8080
providers:
  - { name: a, protocol: openai, base_url: "http://127.0.0.1:1/v1", api_key: k }
  - { name: b, protocol: anthropic, base_url: "https://api.example.com", api_key: k }
models:
  - { id: m, channels: [ { provider: b, model: claude, priority: 1 }, { provider: a, model: gpt } ] }
  - { id: e, kind: embedding, channels: [ { provider: a, model: emb } ] }
"#;
        let snapshot =
            Snapshot::build(crate::config::parse(yaml, &|_| None).unwrap(), crate::store::Store::memory(), None).unwrap();
        let m = snapshot.catalog.resolve("m").unwrap();
        assert_eq!(m.channels[0].provider, 1);
        assert_eq!(snapshot.providers[m.channels[0].provider].name, "b");
        assert_eq!(m.channels[0].label, "b/claude#0");
        assert_eq!((m.index, m.kind), (0, crate::protocol::listing::ModelKind::Chat));
        let e = snapshot.catalog.resolve("e").unwrap();
        assert_eq!((e.index, e.kind), (1, crate::protocol::listing::ModelKind::Embedding));
        assert!(snapshot.providers[1].target.tls);
    }
}
