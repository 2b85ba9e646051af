//! The YAML contract as serde types.
//!
//! Fields may be added in later versions but never renamed, so configs keep working across
//! upgrades. Every struct denies unknown fields: a typo such as `prioirty` would otherwise be
//! silently ignored and the default used instead.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use url::Url;

use super::money::{PricePerMillion, UsdAmount};
use super::secret::Secret;

/// The whole configuration file, after `${VAR}` expansion and validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where clients connect (the public, OpenAI/Anthropic/Gemini-compatible endpoint).
    #[serde(deserialize_with = "super::addr::deserialize_listen")]
    pub listen: SocketAddr,
    /// The operator-only listener; kept apart so /metrics and the admin API are never public.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Where shared state (limits, balances, ledger) lives.
    #[serde(default)]
    pub store: StoreConfig,
    /// Timeouts, circuit breaker and outage behaviour of the store (Redis only).
    #[serde(default)]
    pub store_options: StoreOptions,
    /// Pingora server settings.
    #[serde(default)]
    pub server: ServerSettings,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// Channel health, attempt budget and routing headers.
    #[serde(default)]
    pub routing: Routing,
    /// Upstream providers, referenced by name from model channels.
    pub providers: Vec<Provider>,
    /// The models clients may ask for, and where each is served.
    pub models: Vec<Model>,
    /// Client keys. Empty means every request is refused.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
    /// Accounts declared in the config; their keys are `keys:` entries naming them.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Limits every account gets on free models (`free: true` or an id ending in `:free`).
    #[serde(default)]
    pub free_tier: FreeTier,
    /// Prepaid billing: price multipliers per account group, how long a reservation lives.
    #[serde(default)]
    pub billing: BillingConfig,
    /// What `model: "auto"` means; without it `auto` is an unknown model.
    #[serde(default)]
    pub auto: Option<super::auto::AutoConfig>,
}

/// Prepaid billing settings (which accounts are billed is each account's `billing`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// How long a reservation outlives its request at most: an instance that dies mid-request
    /// never settles, and its reservation is released after this. Default 15m (longer than any
    /// stream is expected to run).
    #[serde(with = "humantime_serde")]
    pub reservation_ttl: Duration,
    /// Price multipliers by account group (`vip: 0.8`); a group not named pays list prices.
    pub groups: std::collections::BTreeMap<String, GroupPricing>,
}

impl Default for BillingConfig {
    fn default() -> Self {
        BillingConfig { reservation_ttl: Duration::from_secs(900), groups: std::collections::BTreeMap::new() }
    }
}

impl BillingConfig {
    /// The multiplier of `group` in millionths (1.0 is 1_000_000).
    pub fn multiplier_micro(&self, group: Option<&str>) -> u64 {
        group.and_then(|g| self.groups.get(g)).map_or(1_000_000, |g| g.multiplier.0)
    }
}

/// Pricing of one account group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupPricing {
    /// Every price of the group's accounts is multiplied by this (up to 6 decimals; the config
    /// is refused when a multiplied price would not be a whole micro-USD per 1M tokens, so
    /// charges stay exact). Read like a price: `0.8` is 800000 millionths.
    pub multiplier: PricePerMillion,
}

/// Whether an account pays from a prepaid balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingMode {
    /// Not billed: usage is counted and logged, no balance is kept (the default, so existing
    /// accounts and operator keys keep working).
    #[default]
    None,
    /// Every request reserves its worst-case cost from the balance and settles the real cost.
    Prepaid,
}

impl Config {
    /// The model a client means by `name`: its public id or one of its aliases.
    pub fn model_by_name(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == name || m.aliases.iter().any(|a| a == name))
    }

    /// The provider declared under `name`.
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }
}

/// The admin listener.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address of /metrics, /healthz and the admin API. Default `127.0.0.1:9090`, loopback so
    /// nothing operator-only is exposed by accident.
    #[serde(deserialize_with = "super::addr::deserialize_listen")]
    pub listen: SocketAddr,
    /// Bearer token for the admin API. `None` leaves it without authentication, which is only
    /// sane on loopback.
    pub token: Option<Secret>,
    /// Serve `/metrics` without the token even when `token` is set, for a scraper that cannot
    /// send one (Prometheus can: `authorization` / `bearer_token`). Default false.
    pub metrics_public: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig { listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 9090)), token: None, metrics_public: false }
    }
}

/// Where shared state lives. Written in YAML as `memory`, a `redis://` / `rediss://` URL, or
/// `redis-cluster://host:port,host:port,…`.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    /// In-process state: one instance, nothing else to run.
    #[default]
    Memory,
    /// A Redis shared by several instances.
    Redis(String),
    /// A Redis Cluster, given by its seed nodes as `redis://host:port` URLs.
    RedisCluster(Vec<String>),
}

impl<'de> Deserialize<'de> for StoreConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "memory" {
            Ok(StoreConfig::Memory)
        } else if text.starts_with("redis://") || text.starts_with("rediss://") {
            Ok(StoreConfig::Redis(text))
        } else if let Some(nodes) = text.strip_prefix("redis-cluster://") {
            let nodes: Vec<String> =
                nodes.split(',').map(str::trim).filter(|n| !n.is_empty()).map(|n| format!("redis://{n}")).collect();
            if nodes.is_empty() {
                return Err(de::Error::custom("redis-cluster:// needs at least one host:port"));
            }
            Ok(StoreConfig::RedisCluster(nodes))
        } else {
            // The value is not echoed: it may be a mistyped URL with a password in it.
            Err(de::Error::custom("expected `memory`, a redis:// or rediss:// URL, or redis-cluster://host:port,…"))
        }
    }
}

impl fmt::Debug for StoreConfig {
    /// A Redis URL may carry a password (`redis://:pw@host`), so the user-info part is hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Memory => f.write_str("Memory"),
            StoreConfig::Redis(url) => {
                let shown = match (url.split_once("://"), url.rfind('@')) {
                    (Some((scheme, _)), Some(at)) => format!("{scheme}://<redacted>{}", &url[at..]),
                    _ => url.clone(),
                };
                f.debug_tuple("Redis").field(&shown).finish()
            }
            StoreConfig::RedisCluster(nodes) => {
                let shown: Vec<String> = nodes
                    .iter()
                    .map(|n| match n.rfind('@') {
                        Some(at) => format!("redis://<redacted>{}", &n[at..]),
                        None => n.clone(),
                    })
                    .collect();
                f.debug_tuple("RedisCluster").field(&shown).finish()
            }
        }
    }
}

/// What the gateway does with a concern while the store cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Let the request through unchecked: availability over exactness.
    Open,
    /// Refuse the request (503): exactness over availability.
    Closed,
}

/// How the gateway talks to a Redis store and what it does while Redis is unreachable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreOptions {
    /// Longest wait for one store call (connect included); past it the call counts as failed.
    /// Default 250ms, so an outage adds at most that to a request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failures that open the circuit breaker. Default 5.
    pub breaker_failures: u32,
    /// How long an open breaker fails calls at once before trying Redis again. Default 2s.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// Rate limits while Redis is unreachable. Default `open`: an outage of the limiter must not
    /// take the gateway down.
    pub limits_on_outage: FailMode,
    /// How long a key looked up in Redis is trusted without asking again; bounds how late a
    /// revocation takes effect on other instances. Default 1s.
    #[serde(with = "humantime_serde")]
    pub key_cache_ttl: Duration,
    /// How long a cached key keeps authenticating while Redis is unreachable. Default 5m.
    #[serde(with = "humantime_serde")]
    pub key_stale_for: Duration,
    /// The most keys kept in the local cache. Default 100000.
    pub key_cache_entries: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            timeout: Duration::from_millis(250),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(2),
            limits_on_outage: FailMode::Open,
            key_cache_ttl: Duration::from_secs(1),
            key_stale_for: Duration::from_secs(300),
            key_cache_entries: 100_000,
        }
    }
}

/// Rate limits of an account or a key; `None` means no such limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Requests per rolling 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Requests per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Tokens (prompt + completion) per rolling 60 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
}

impl RateLimits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.rpd.is_none() && self.tpm.is_none()
    }
}

/// Limits every account gets on free models, on top of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FreeTier {
    /// Requests per rolling minute on free models, per account. Default 20.
    pub rpm: u64,
    /// Requests per UTC day on free models, per account. Default 200.
    pub rpd: u64,
}

impl Default for FreeTier {
    fn default() -> Self {
        FreeTier { rpm: 20, rpd: 200 }
    }
}

/// An account declared in the config (accounts created through the admin API live in the store).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// Stable id, referenced by `keys[].account`; letters, digits, `_` and `-`.
    pub id: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Pricing group (billing applies its multiplier). Default `default`.
    #[serde(default = "default_group")]
    pub group: String,
    /// The account's limits.
    #[serde(default)]
    pub limits: RateLimits,
    /// `prepaid` bills the account's balance (credited through the admin API); default `none`.
    #[serde(default)]
    pub billing: BillingMode,
}

fn default_group() -> String {
    "default".to_owned()
}

/// Pingora server settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Worker threads per service. Default 2, at least 1.
    pub threads: usize,
    /// Seconds between receiving SIGTERM and starting to shut down (lets a load balancer notice
    /// the instance is going). Default 30.
    pub grace_period_seconds: u64,
    /// Seconds in-flight requests get to finish once shutdown starts. Default 5.
    pub graceful_shutdown_timeout_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings { threads: 2, grace_period_seconds: 30, graceful_shutdown_timeout_seconds: 5 }
    }
}

/// Request limits: every resource a client can make the gateway hold is capped here, with
/// defaults safe for a public endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body accepted; bigger ones get 413. Default 32 MiB, which fits large
    /// multimodal requests while bounding memory per request.
    pub max_body_bytes: usize,
    /// Largest image or document fetched from a client's URL (for providers that only take
    /// inline media, i.e. Gemini). Default 20 MiB.
    pub media_max_bytes: usize,
    /// Fetch media from loopback and private networks too. Default false, so a client URL can
    /// never reach the gateway's own network (SSRF); tests and closed deployments turn it on.
    pub media_allow_private: bool,
    /// Fetch media over plain http too. Default false: https only.
    pub media_allow_http: bool,
    /// Most distinct media URLs one request may make the gateway fetch. Default 8.
    pub media_max_urls: usize,
    /// Most bytes fetched for one request, all its URLs together. Default 32 MiB.
    pub media_max_total_bytes: usize,
    /// Total time one fetch may take, DNS to last byte (not per read). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub media_fetch_timeout: Duration,
    /// Total time all fetches of one request may take together. Default 20 s.
    #[serde(with = "humantime_serde")]
    pub media_total_timeout: Duration,
    /// Most fetches of one request running at once. Default 4.
    pub media_max_concurrent_fetches: usize,
    /// Longest SSE line or event accepted from an upstream stream; past it the attempt fails
    /// (or, once streaming, the stream ends with an error event). Default 8 MiB: a Gemini event
    /// can carry an inline image, yet one stream cannot grow without bound.
    pub sse_max_event_bytes: usize,
    /// How long an idle HTTP/1.1 keep-alive connection waits for its next request. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub keepalive_timeout: Duration,
    /// How long one write to a client may block (a client that reads nothing). Default 60 s.
    #[serde(with = "humantime_serde")]
    pub downstream_write_timeout: Duration,
    /// How long an h2c connection may sit with no stream before it is closed. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub h2_idle_timeout: Duration,
    /// Requests served on one HTTP/1.1 connection before it is closed. Default 1000.
    pub keepalive_request_limit: u32,
}

impl Default for Limits {
    fn default() -> Self {
        const MIB: usize = 1024 * 1024;
        Limits {
            max_body_bytes: 32 * MIB,
            media_max_bytes: 20 * MIB,
            media_allow_private: false,
            media_allow_http: false,
            media_max_urls: 8,
            media_max_total_bytes: 32 * MIB,
            media_fetch_timeout: Duration::from_secs(10),
            media_total_timeout: Duration::from_secs(20),
            media_max_concurrent_fetches: 4,
            sse_max_event_bytes: 8 * MIB,
            keepalive_timeout: Duration::from_secs(60),
            downstream_write_timeout: Duration::from_secs(60),
            h2_idle_timeout: Duration::from_secs(60),
            keepalive_request_limit: 1000,
        }
    }
}

/// How channels are chosen and failed over: passive health (ejection after failures, cooldowns,
/// half-open probes), the attempt budget per request and the routing headers. Kept per instance:
/// health is what this instance saw, so it needs no shared store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Consecutive failures that eject a channel. Default 3.
    pub eject_after_failures: u32,
    /// Share of failed requests within `window` that ejects a channel (once the window holds at
    /// least `window_min_requests`). Default 0.5; written as a decimal, held in per-mille.
    pub error_ratio: Ratio,
    /// The span the error ratio is measured over. Default 30s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Requests the window must hold before the ratio counts. Default 10.
    pub window_min_requests: u32,
    /// How long a first ejection lasts; each repeat ejection doubles it. Default 10s.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
    /// The longest an ejection lasts however often it repeats. Default 5m.
    #[serde(with = "humantime_serde")]
    pub max_cooldown: Duration,
    /// The longest cooldown a provider's `Retry-After` can ask for. Default 60s.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// The most channels one request tries (each at most once). Default 5.
    pub max_attempts: u32,
    /// Send `x-switchyard-provider`, `x-switchyard-model` and `x-switchyard-attempts` with
    /// answers. Default true.
    pub expose_headers: bool,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            eject_after_failures: 3,
            error_ratio: Ratio(500),
            window: Duration::from_secs(30),
            window_min_requests: 10,
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(300),
            max_retry_after: Duration::from_secs(60),
            max_attempts: 5,
            expose_headers: true,
        }
    }
}

/// A share between 0 and 1, written as a decimal (`0.5`) and held in exact per-mille so the
/// config stays comparable and free of floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio(pub u32);

impl Ratio {
    /// The share in thousandths.
    pub fn per_mille(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if !(value > 0.0 && value <= 1.0) {
            return Err(de::Error::custom("must be a share above 0 and at most 1 (e.g. 0.5)"));
        }
        Ok(Ratio((value * 1000.0).round() as u32))
    }
}

/// The wire protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OpenAI's API (also what most OpenAI-compatible servers speak).
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API.
    Gemini,
}

impl Protocol {
    /// The wire protocol the gateway speaks to such a provider for a client of protocol
    /// `inbound`: OpenAI providers are called on Chat Completions, except Responses clients
    /// when the provider serves `/responses` itself.
    pub fn wire_for(self, inbound: crate::protocol::ir::Protocol, native_responses: bool) -> crate::protocol::ir::Protocol {
        use crate::protocol::ir::Protocol as P;
        match (self, inbound) {
            (Protocol::Openai, P::OpenAiResponses) if native_responses => P::OpenAiResponses,
            _ => self.wire(),
        }
    }

    /// The wire protocol the gateway speaks to such a provider by default.
    pub fn wire(self) -> crate::protocol::ir::Protocol {
        match self {
            Protocol::Openai => crate::protocol::ir::Protocol::OpenAiChat,
            Protocol::Anthropic => crate::protocol::ir::Protocol::Anthropic,
            Protocol::Gemini => crate::protocol::ir::Protocol::Gemini,
        }
    }

    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Openai => "openai",
            Protocol::Anthropic => "anthropic",
            Protocol::Gemini => "gemini",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One upstream account at one provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Name that model channels refer to.
    pub name: String,
    /// What the upstream speaks.
    pub protocol: Protocol,
    /// Base URL exactly as that provider's official SDK takes it (e.g.
    /// `https://api.openai.com/v1`), so operators can copy it from the provider's docs. Exactly
    /// one of `base_url` and `base_urls` is given.
    #[serde(default, deserialize_with = "deserialize_optional_url")]
    pub base_url: Option<Url>,
    /// Several base URLs of one provider (replicas of a self-hosted server), each with a weight;
    /// they share one scheme and path and differ in host or port.
    #[serde(default)]
    pub base_urls: Vec<WeightedUrl>,
    /// Active health checks of the provider's addresses. Default none: every address is
    /// used until passive health (failures of live requests) says otherwise.
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// How often every address of the provider's hosts is looked up again when DNS gives no
    /// shorter TTL. Default 60s.
    #[serde(default = "default_dns_refresh", with = "humantime_serde")]
    pub dns_refresh: Duration,
    /// Upstream credential. May be empty: local servers often need none.
    pub api_key: Secret,
    /// Upstream timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// The provider serves OpenAI's `/responses` itself (OpenAI protocol only): Responses
    /// clients are then passed through to it instead of being converted to Chat Completions.
    #[serde(default)]
    pub responses: bool,
    /// Clients may call this provider's own API through `/{name}/{path…}` with their gateway
    /// key (files, batches, anything the gateway does not model). Default false.
    #[serde(default)]
    pub passthrough: bool,
}

impl Provider {
    /// Every base URL with its weight: `base_url` alone (weight 1) or each of `base_urls`.
    pub fn endpoints(&self) -> Vec<(&Url, u32)> {
        match &self.base_url {
            Some(url) => vec![(url, 1)],
            None => self.base_urls.iter().map(|w| (&w.url, w.weight)).collect(),
        }
    }
}

fn default_dns_refresh() -> Duration {
    Duration::from_secs(60)
}

/// One of several base URLs of a provider.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightedUrl {
    /// The base URL, as `base_url`.
    #[serde(deserialize_with = "deserialize_url")]
    pub url: Url,
    /// Share of the provider's traffic. Default 1.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

/// How a provider's addresses are probed (Pingora's load-balancing health checks). A probe
/// runs in the background; a request never waits for one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `tcp` (connect, with TLS for https) or `http` (a GET answered with `expect_status`).
    pub kind: HealthCheckKind,
    /// Path of the `http` probe. Default `/`.
    #[serde(default = "default_probe_path")]
    pub path: String,
    /// Status the `http` probe expects. Default 200.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
    /// Time between probes of each address. Default 10s.
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Longest wait for one probe. Default 2s.
    #[serde(default = "default_probe_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Successes in a row that bring a failed address back. Default 1.
    #[serde(default = "default_probe_count")]
    pub rise: usize,
    /// Failures in a row that take an address out. Default 1.
    #[serde(default = "default_probe_count")]
    pub fall: usize,
}

/// The kind of active health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckKind {
    /// A TCP (and TLS for https) connect.
    Tcp,
    /// An HTTP GET.
    Http,
}

fn default_probe_path() -> String {
    "/".to_owned()
}

fn default_expect_status() -> u16 {
    200
}

fn default_probe_interval() -> Duration {
    Duration::from_secs(10)
}

fn default_probe_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_probe_count() -> usize {
    1
}

fn deserialize_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Url, D::Error> {
    let text = String::deserialize(deserializer)?;
    Url::parse(&text).map_err(|err| de::Error::custom(format!("invalid URL {text:?}: {err}")))
}

fn deserialize_optional_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Url>, D::Error> {
    deserialize_url(deserializer).map(Some)
}

/// Upstream timeouts, written as humantime durations (`5s`, `150ms`, `1m`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// TCP + TLS connect. Default 5s; a dead host should fail over fast.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// From sending the request to the response head. Default 60s; models can think long
    /// before the first byte.
    #[serde(with = "humantime_serde")]
    pub first_byte: Duration,
    /// Longest silence between two body chunks. Default 60s.
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(5), first_byte: Duration::from_secs(60), idle: Duration::from_secs(60) }
    }
}

/// A model as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// The public id clients send.
    pub id: String,
    /// Other names for the same model (e.g. `openai/gpt-4o-mini`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// What usage costs; `None` means free (billing charges nothing).
    #[serde(default)]
    pub price: Option<Price>,
    /// Where the model is served. At least one.
    pub channels: Vec<Channel>,
    /// What kind of model it is, which decides the endpoints it is listed (and served) on.
    #[serde(default)]
    pub kind: ModelKind,
    /// What clients choose models by; shown in the model lists.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The most output tokens the model can produce: the `max_tokens` sent when a client names
    /// none and a protocol requires it (Anthropic), and the ceiling a thinking budget may raise
    /// `max_tokens` to. `None`: 4096 by default and no ceiling known.
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// A free model: accounts are held to the free tier's limits on it. An id ending in
    /// `:free` is free without this.
    #[serde(default)]
    pub free: bool,
    /// The longest a client waits for the first byte, all attempts together; past it the
    /// client gets 504. Default 120s.
    #[serde(default = "default_first_byte_deadline", with = "humantime_serde")]
    pub first_byte_deadline: Duration,
}

fn default_first_byte_deadline() -> Duration {
    Duration::from_secs(120)
}

impl Model {
    /// Whether the free tier's limits apply to this model.
    pub fn is_free(&self) -> bool {
        self.free || self.id.ends_with(":free")
    }
}

pub use crate::protocol::listing::ModelKind;

/// Capabilities a model advertises in the model lists (they do not change routing), and the
/// sampling fields it refuses.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Capabilities {
    /// Accepts images in the input.
    pub vision: bool,
    /// Calls tools.
    pub function_call: bool,
    /// Thinks before answering (reasoning / thinking tokens).
    pub reasoning: bool,
    /// Sampling fields the model refuses (e.g. `[temperature, top_p]` for reasoning models):
    /// dropped from every request to it, with an `x-switchyard-warnings` entry. Empty: all
    /// accepted. Names: `temperature`, `top_p`, `top_k`, `seed`, `presence_penalty`,
    /// `frequency_penalty`, `stop`.
    pub rejects: Vec<crate::protocol::ir::SamplingField>,
}

/// Prices in USD per 1M tokens, held as exact integers (see [`PricePerMillion`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens.
    pub input: PricePerMillion,
    /// Completion tokens.
    pub output: PricePerMillion,
    /// Prompt tokens served from the provider's cache; `None` means charged as `input`.
    #[serde(default)]
    pub cache_read: Option<PricePerMillion>,
    /// Prompt tokens written to the provider's cache; `None` means charged as `input`. The
    /// default of both `cache_write_5m` and `cache_write_1h`.
    #[serde(default)]
    pub cache_write: Option<PricePerMillion>,
    /// Prompt tokens written to a 5-minute cache (Anthropic); default `cache_write`, then `input`.
    #[serde(default)]
    pub cache_write_5m: Option<PricePerMillion>,
    /// Prompt tokens written to a 1-hour cache (Anthropic); default `cache_write`, then `input`.
    #[serde(default)]
    pub cache_write_1h: Option<PricePerMillion>,
    /// Reasoning (thinking) tokens, part of the output; default `output`.
    #[serde(default)]
    pub reasoning: Option<PricePerMillion>,
    /// USD per request, on top of the tokens (written like a price, up to 6 decimals).
    #[serde(default)]
    pub per_request: Option<PricePerMillion>,
    /// USD per generated image (images endpoint, the request's `n`).
    #[serde(default)]
    pub per_image: Option<PricePerMillion>,
}

impl Price {
    /// Every price of this model, with its field name (for validation).
    pub fn components(&self) -> Vec<(&'static str, PricePerMillion)> {
        let mut all = vec![("input", self.input), ("output", self.output)];
        for (name, p) in [
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
            ("cache_write_5m", self.cache_write_5m),
            ("cache_write_1h", self.cache_write_1h),
            ("reasoning", self.reasoning),
            ("per_request", self.per_request),
            ("per_image", self.per_image),
        ] {
            if let Some(p) = p {
                all.push((name, p));
            }
        }
        all
    }

    /// The same prices times `multiplier_micro` millionths. Exact for every multiplier the
    /// config accepted (validation refuses one that leaves a fraction of a micro-USD).
    pub fn scaled(&self, multiplier_micro: u64) -> Price {
        let m = |p: PricePerMillion| PricePerMillion(scale(p.0, multiplier_micro));
        let o = |p: Option<PricePerMillion>| p.map(m);
        Price {
            input: m(self.input),
            output: m(self.output),
            cache_read: o(self.cache_read),
            cache_write: o(self.cache_write),
            cache_write_5m: o(self.cache_write_5m),
            cache_write_1h: o(self.cache_write_1h),
            reasoning: o(self.reasoning),
            per_request: o(self.per_request),
            per_image: o(self.per_image),
        }
    }
}

/// `price × multiplier_micro / 10^6` in u128, saturating at `u64::MAX`.
pub fn scale(price: u64, multiplier_micro: u64) -> u64 {
    u64::try_from(u128::from(price) * u128::from(multiplier_micro) / 1_000_000).unwrap_or(u64::MAX)
}

/// One way to serve a model: a provider and the model name it uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// A declared provider's name.
    pub provider: String,
    /// The model id the provider expects (may differ from the public id).
    pub model: String,
    /// Lower is tried first; the next tier is used only when a whole tier fails. Default 0.
    #[serde(default)]
    pub priority: u32,
    /// Share of traffic within its priority tier. Default 1, at least 1.
    #[serde(default = "default_weight")]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// A client key. Exactly one of `key` and `key_sha256` is set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Who the key belongs to; shows up in logs and metrics instead of the key.
    pub name: String,
    /// The key itself (usually `${VAR}` from the environment).
    #[serde(default)]
    pub key: Option<Secret>,
    /// The key's SHA-256 as 64 hex digits, so the config need not hold the key at all.
    /// Lowercased when the config is loaded.
    #[serde(default)]
    pub key_sha256: Option<String>,
    /// The config account (`accounts[].id`) the key belongs to; without it the key is an
    /// operator key with no limits.
    #[serde(default)]
    pub account: Option<String>,
    /// Models the key may use (ids or aliases); `None` means all.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The key's own limits (only for keys of an account).
    #[serde(default)]
    pub limits: RateLimits,
    /// The most this key may spend per UTC calendar month on a prepaid account (`"50.00"`).
    #[serde(default)]
    pub monthly_spend_cap: Option<UsdAmount>,
}

impl KeyEntry {
    /// SHA-256 of the key, the form keys are looked up by.
    ///
    /// On a validated config this is always the real digest. On an invalid hand-built entry
    /// (neither field, or malformed hex) it is all zeros: no known input hashes to that, so such
    /// an entry authenticates nobody rather than panicking.
    pub fn digest(&self) -> [u8; 32] {
        if let Some(key) = &self.key {
            return Self::digest_of(key.expose());
        }
        let mut out = [0u8; 32];
        if let Some(hex_digest) = &self.key_sha256 {
            if hex::decode_to_slice(hex_digest, &mut out).is_err() {
                out = [0u8; 32];
            }
        }
        out
    }

    /// SHA-256 of a presented key; the gateway hashes incoming keys with this so both sides
    /// agree on the exact bytes hashed.
    pub fn digest_of(key: &str) -> [u8; 32] {
        Sha256::digest(key.as_bytes()).into()
    }
}
