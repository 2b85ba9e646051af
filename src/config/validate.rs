//! Rules serde cannot express: cross-references, uniqueness, ranges.
//!
//! Each check names the exact field, so an operator can fix a config from the error alone.
//! The first problem found is reported; checks run roughly in document order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::types::{AccountEntry, Config, HealthCheck, KeyEntry, Model, Provider, RateLimits, StoreConfig, StoreOptions};
use super::ConfigError;

type Check = Result<(), ConfigError>;

/// Brings equivalent spellings to one form before validation, so that checks (and later
/// comparisons) see one spelling. Today: hex digests are lowercased.
pub fn normalise(config: &mut Config) {
    for entry in &mut config.keys {
        if let Some(digest) = &mut entry.key_sha256 {
            *digest = digest.trim().to_ascii_lowercase();
        }
    }
}

/// Checks every rule; `Err` names the first offending field.
pub fn validate(config: &Config) -> Check {
    check_listeners(config)?;
    check_store(&config.store, &config.store_options)?;
    check_server(config)?;
    check_routing(&config.routing)?;
    check_providers(&config.providers)?;
    check_models(config)?;
    check_accounts(&config.accounts)?;
    check_keys(&config.keys)?;
    check_key_accounts(config)?;
    super::auto::check(config)?;
    check_billing(config)?;
    Ok(())
}

/// A group multiplier must keep every price a whole micro-USD per 1M tokens, so that charges
/// stay exact integers (no rounding anywhere before display).
fn check_billing(config: &Config) -> Check {
    for (group, pricing) in &config.billing.groups {
        let m = pricing.multiplier.0;
        for model in &config.models {
            let Some(price) = &model.price else { continue };
            for (name, p) in price.components() {
                if (u128::from(p.0) * u128::from(m)) % 1_000_000 != 0 {
                    return Err(ConfigError::invalid(
                        format!("billing.groups.{group}.multiplier"),
                        format!(
                            "{} times the {name} price of model {:?} ({p}) is not a whole micro-USD per 1M tokens; choose a multiplier that keeps prices exact",
                            pricing.multiplier, model.id
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn check_listeners(config: &Config) -> Check {
    if listeners_clash(config.listen, config.admin.listen) {
        return Err(ConfigError::invalid(
            "admin.listen",
            format!("{} clashes with listen ({}); the admin listener needs its own address", config.admin.listen, config.listen),
        ));
    }
    if let Some(token) = &config.admin.token {
        if token.is_empty() {
            // Usually an empty `${VAR}`; silently running the admin API open would be worse.
            return Err(ConfigError::invalid(
                "admin.token",
                "must not be empty; remove `token` to run the admin API without one",
            ));
        }
    }
    Ok(())
}

/// Same port and either the same IP or a wildcard on one side: the second bind would fail.
fn listeners_clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn check_store(store: &StoreConfig, options: &StoreOptions) -> Check {
    let urls: Vec<&String> = match store {
        StoreConfig::Memory => Vec::new(),
        StoreConfig::Redis(url) => vec![url],
        StoreConfig::RedisCluster(nodes) => nodes.iter().collect(),
    };
    for url in urls {
        // The URL is not echoed: it may hold a password.
        if url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).is_none_or(|h| h.is_empty()) {
            return Err(ConfigError::invalid("store", "not a valid Redis URL (expected redis://host:port/db)"));
        }
    }
    let durations =
        [("timeout", options.timeout), ("breaker_cooldown", options.breaker_cooldown), ("key_cache_ttl", options.key_cache_ttl)];
    for (field, value) in durations {
        if value == Duration::ZERO {
            return Err(ConfigError::invalid(format!("store_options.{field}"), "must be greater than 0"));
        }
    }
    if options.breaker_failures == 0 {
        return Err(ConfigError::invalid("store_options.breaker_failures", "must be at least 1"));
    }
    if options.key_cache_entries == 0 {
        return Err(ConfigError::invalid("store_options.key_cache_entries", "must be at least 1"));
    }
    Ok(())
}

fn check_limits(path: &str, limits: &RateLimits) -> Check {
    for (field, value) in [("rpm", limits.rpm), ("rpd", limits.rpd), ("tpm", limits.tpm)] {
        if value == Some(0) {
            return Err(ConfigError::invalid(format!("{path}.{field}"), "must be at least 1 (remove it for no limit)"));
        }
    }
    Ok(())
}

fn check_accounts(accounts: &[AccountEntry]) -> Check {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, account) in accounts.iter().enumerate() {
        let ok = !account.id.is_empty() && account.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ConfigError::invalid(format!("accounts[{i}].id"), "must be letters, digits, `_` or `-`"));
        }
        if let Some(first) = ids.insert(account.id.as_str(), i) {
            return Err(ConfigError::invalid(
                format!("accounts[{i}].id"),
                format!("duplicate account id {:?} (also accounts[{first}].id)", account.id),
            ));
        }
        check_limits(&format!("accounts[{i}].limits"), &account.limits)?;
    }
    Ok(())
}

/// A key names a declared account, and only keys of an account carry limits.
fn check_key_accounts(config: &Config) -> Check {
    for (i, entry) in config.keys.iter().enumerate() {
        check_limits(&format!("keys[{i}].limits"), &entry.limits)?;
        match &entry.account {
            Some(id) if !config.accounts.iter().any(|a| &a.id == id) => {
                return Err(ConfigError::invalid(
                    format!("keys[{i}].account"),
                    format!("unknown account {id:?}; declare it under `accounts`"),
                ));
            }
            None if !entry.limits.is_empty() => {
                return Err(ConfigError::invalid(
                    format!("keys[{i}].limits"),
                    "only keys of an account have limits; add `account`",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_server(config: &Config) -> Check {
    if config.server.threads < 1 {
        return Err(ConfigError::invalid("server.threads", "must be at least 1"));
    }
    check_limits_section(&config.limits)
}

/// Every size, count and deadline of `limits` is positive: a zero would refuse everything.
fn check_limits_section(l: &super::types::Limits) -> Check {
    let sizes = [
        ("max_body_bytes", l.max_body_bytes),
        ("media_max_bytes", l.media_max_bytes),
        ("media_max_urls", l.media_max_urls),
        ("media_max_total_bytes", l.media_max_total_bytes),
        ("media_max_concurrent_fetches", l.media_max_concurrent_fetches),
        ("sse_max_event_bytes", l.sse_max_event_bytes),
        ("keepalive_request_limit", l.keepalive_request_limit as usize),
    ];
    for (field, value) in sizes {
        if value == 0 {
            return Err(ConfigError::invalid(format!("limits.{field}"), "must be greater than 0"));
        }
    }
    let times = [
        ("media_fetch_timeout", l.media_fetch_timeout),
        ("media_total_timeout", l.media_total_timeout),
        ("keepalive_timeout", l.keepalive_timeout),
        ("downstream_write_timeout", l.downstream_write_timeout),
        ("h2_idle_timeout", l.h2_idle_timeout),
    ];
    for (field, value) in times {
        if value.is_zero() {
            return Err(ConfigError::invalid(format!("limits.{field}"), "must be longer than 0s"));
        }
    }
    Ok(())
}

/// Every count and span of `routing` is positive, and caps are not below what they cap.
fn check_routing(r: &super::types::Routing) -> Check {
    let counts = [
        ("eject_after_failures", r.eject_after_failures),
        ("window_min_requests", r.window_min_requests),
        ("max_attempts", r.max_attempts),
    ];
    for (field, value) in counts {
        if value == 0 {
            return Err(ConfigError::invalid(format!("routing.{field}"), "must be at least 1"));
        }
    }
    let times = [
        ("window", r.window),
        ("cooldown", r.cooldown),
        ("max_cooldown", r.max_cooldown),
        ("max_retry_after", r.max_retry_after),
    ];
    for (field, value) in times {
        if value.is_zero() {
            return Err(ConfigError::invalid(format!("routing.{field}"), "must be longer than 0s"));
        }
    }
    if r.max_cooldown < r.cooldown {
        return Err(ConfigError::invalid("routing.max_cooldown", "must not be shorter than routing.cooldown"));
    }
    Ok(())
}

fn check_providers(providers: &[Provider]) -> Check {
    if providers.is_empty() {
        return Err(ConfigError::invalid("providers", "at least one provider is required"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, provider) in providers.iter().enumerate() {
        let at = |field: &str| format!("providers[{i}].{field}");
        check_name(&at("name"), &provider.name)?;
        if let Some(first) = seen.insert(provider.name.as_str(), i) {
            return Err(ConfigError::invalid(
                at("name"),
                format!("duplicate provider name {:?} (also providers[{first}].name)", provider.name),
            ));
        }
        if provider.passthrough && crate::protocol::provider_route::RESERVED_NAMES.contains(&provider.name.as_str()) {
            return Err(ConfigError::invalid(
                at("passthrough"),
                format!(
                    "a provider named {:?} cannot have passthrough: `/{}/…` is the gateway's own route",
                    provider.name, provider.name
                ),
            ));
        }
        check_endpoints(provider, &at)?;
        if let Some(check) = &provider.health_check {
            check_health_check(check, &|field| at(&format!("health_check.{field}")))?;
        }
        if provider.dns_refresh < Duration::from_secs(1) {
            return Err(ConfigError::invalid(at("dns_refresh"), "must be at least 1s"));
        }
        let timeouts = [
            ("connect", provider.timeouts.connect),
            ("first_byte", provider.timeouts.first_byte),
            ("idle", provider.timeouts.idle),
        ];
        for (field, value) in timeouts {
            if value == Duration::ZERO {
                return Err(ConfigError::invalid(at(&format!("timeouts.{field}")), "must be greater than 0"));
            }
        }
    }
    Ok(())
}

/// Exactly one of `base_url` and `base_urls`; every URL http(s) with a host; several URLs share
/// one scheme and path (requests are built once per provider) and have weights above 0.
fn check_endpoints(provider: &Provider, at: &dyn Fn(&str) -> String) -> Check {
    let fields: Vec<(String, &url::Url)> = match (&provider.base_url, provider.base_urls.as_slice()) {
        (Some(_), [_, ..]) => return Err(ConfigError::invalid(at("base_urls"), "give either base_url or base_urls, not both")),
        (None, []) => return Err(ConfigError::invalid(at("base_url"), "missing field (or give base_urls)")),
        (Some(url), []) => vec![(at("base_url"), url)],
        (None, many) => many.iter().enumerate().map(|(j, w)| (at(&format!("base_urls[{j}].url")), &w.url)).collect(),
    };
    for (j, w) in provider.base_urls.iter().enumerate() {
        if w.weight == 0 {
            return Err(ConfigError::invalid(at(&format!("base_urls[{j}].weight")), "must be greater than 0"));
        }
    }
    let first = fields[0].1;
    for (field, url) in &fields {
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ConfigError::invalid(field.clone(), format!("scheme must be http or https, not {:?}", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::invalid(field.clone(), "must name a host"));
        }
        if url.scheme() != first.scheme() || url.path().trim_end_matches('/') != first.path().trim_end_matches('/') {
            return Err(ConfigError::invalid(
                field.clone(),
                format!("must have the scheme and path of {first} (only host and port may differ)"),
            ));
        }
    }
    Ok(())
}

/// Probe timings above zero, counts at least one, a path that starts with `/`.
fn check_health_check(check: &HealthCheck, at: &dyn Fn(&str) -> String) -> Check {
    if check.interval == Duration::ZERO {
        return Err(ConfigError::invalid(at("interval"), "must be greater than 0"));
    }
    if check.timeout == Duration::ZERO {
        return Err(ConfigError::invalid(at("timeout"), "must be greater than 0"));
    }
    if check.rise == 0 || check.fall == 0 {
        return Err(ConfigError::invalid(at(if check.rise == 0 { "rise" } else { "fall" }), "must be at least 1"));
    }
    if !check.path.starts_with('/') {
        return Err(ConfigError::invalid(at("path"), "must start with /"));
    }
    if !(100..600).contains(&check.expect_status) {
        return Err(ConfigError::invalid(at("expect_status"), "must be an HTTP status (100-599)"));
    }
    Ok(())
}

/// Names are non-empty and contain no `/`: clients may address a model as `provider/model`,
/// which a slash inside a provider name would make ambiguous.
fn check_name(path: &str, name: &str) -> Check {
    if name.trim().is_empty() {
        return Err(ConfigError::invalid(path, "must not be empty"));
    }
    if name.contains('/') {
        return Err(ConfigError::invalid(path, format!("{name:?} must not contain `/`")));
    }
    Ok(())
}

fn check_models(config: &Config) -> Check {
    if config.models.is_empty() {
        return Err(ConfigError::invalid("models", "at least one model is required"));
    }
    // Ids and aliases share one namespace: a client sends one string and it must mean one model.
    let mut names: HashMap<&str, String> = HashMap::new();
    for (i, model) in config.models.iter().enumerate() {
        let labelled = std::iter::once((format!("models[{i}].id"), model.id.as_str()))
            .chain(model.aliases.iter().enumerate().map(|(j, a)| (format!("models[{i}].aliases[{j}]"), a.as_str())));
        for (path, name) in labelled {
            if name.trim().is_empty() {
                return Err(ConfigError::invalid(path, "must not be empty"));
            }
            if let Some(first) = names.get(name) {
                return Err(ConfigError::invalid(path, format!("model name {name:?} is already used by {first}")));
            }
            names.insert(name, path);
        }
        check_channels(config, i, model)?;
        if model.first_byte_deadline.is_zero() {
            return Err(ConfigError::invalid(format!("models[{i}].first_byte_deadline"), "must be longer than 0s"));
        }
        if model.max_output_tokens == Some(0) {
            return Err(ConfigError::invalid(format!("models[{i}].max_output_tokens"), "must be greater than 0"));
        }
    }
    Ok(())
}

fn check_channels(config: &Config, i: usize, model: &Model) -> Check {
    if model.channels.is_empty() {
        return Err(ConfigError::invalid(format!("models[{i}].channels"), "at least one channel is required"));
    }
    for (j, channel) in model.channels.iter().enumerate() {
        let at = |field: &str| format!("models[{i}].channels[{j}].{field}");
        if config.provider(&channel.provider).is_none() {
            let declared: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(ConfigError::invalid(
                at("provider"),
                format!("unknown provider {:?}; declared providers: {}", channel.provider, declared.join(", ")),
            ));
        }
        if channel.model.trim().is_empty() {
            return Err(ConfigError::invalid(at("model"), "must not be empty"));
        }
        if channel.weight < 1 {
            return Err(ConfigError::invalid(
                at("weight"),
                "must be at least 1 (to stop using a channel, remove it or give it a higher priority number)",
            ));
        }
    }
    Ok(())
}

fn check_keys(keys: &[KeyEntry]) -> Check {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut digests: HashMap<[u8; 32], usize> = HashMap::new();
    for (i, entry) in keys.iter().enumerate() {
        let at = |field: &str| format!("keys[{i}].{field}");
        if entry.name.trim().is_empty() {
            return Err(ConfigError::invalid(at("name"), "must not be empty"));
        }
        if let Some(first) = names.insert(entry.name.as_str(), i) {
            return Err(ConfigError::invalid(
                at("name"),
                format!("duplicate key name {:?} (also keys[{first}].name)", entry.name),
            ));
        }
        let field = match (&entry.key, &entry.key_sha256) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(format!("keys[{i}]"), "set either `key` or `key_sha256`, not both"))
            }
            (None, None) => return Err(ConfigError::invalid(format!("keys[{i}]"), "one of `key` or `key_sha256` is required")),
            (Some(key), None) => {
                if key.is_empty() {
                    return Err(ConfigError::invalid(
                        at("key"),
                        "must not be empty (is its environment variable set to an empty value?)",
                    ));
                }
                "key"
            }
            (None, Some(digest)) => {
                if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(ConfigError::invalid(
                        at("key_sha256"),
                        "must be 64 hex digits (the SHA-256 of the key, e.g. from `printf %s \"$KEY\" | sha256sum`)",
                    ));
                }
                "key_sha256"
            }
        };
        // Two entries with one key would make the key's owner ambiguous.
        if let Some(first) = digests.insert(entry.digest(), i) {
            return Err(ConfigError::invalid(at(field), format!("same key as keys[{first}]")));
        }
    }
    Ok(())
}
