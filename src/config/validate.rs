//! Rules serde cannot express: cross-references, uniqueness, ranges.
//!
//! Each check names the exact field, so an operator can fix a config from the error alone.
//! The first problem found is reported; checks run roughly in document order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use super::types::{Config, KeyEntry, Model, Provider, StoreConfig};
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
    check_store(&config.store)?;
    check_server(config)?;
    check_providers(&config.providers)?;
    check_models(config)?;
    check_keys(&config.keys)?;
    Ok(())
}

fn check_listeners(config: &Config) -> Check {
    if listeners_clash(config.listen, config.admin.listen) {
        return Err(ConfigError::invalid(
            "admin.listen",
            format!(
                "{} clashes with listen ({}); the admin listener needs its own address",
                config.admin.listen, config.listen
            ),
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

fn check_store(store: &StoreConfig) -> Check {
    match store {
        StoreConfig::Memory => Ok(()),
        StoreConfig::Redis(_) => Err(ConfigError::invalid(
            "store",
            "the Redis store comes in a later version of Switchyard; use `store: memory` for now",
        )),
    }
}

fn check_server(config: &Config) -> Check {
    if config.server.threads < 1 {
        return Err(ConfigError::invalid("server.threads", "must be at least 1"));
    }
    if config.limits.max_body_bytes == 0 {
        return Err(ConfigError::invalid(
            "limits.max_body_bytes",
            "must be greater than 0",
        ));
    }
    Ok(())
}

fn check_providers(providers: &[Provider]) -> Check {
    if providers.is_empty() {
        return Err(ConfigError::invalid(
            "providers",
            "at least one provider is required",
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, provider) in providers.iter().enumerate() {
        let at = |field: &str| format!("providers[{i}].{field}");
        check_name(&at("name"), &provider.name)?;
        if let Some(first) = seen.insert(provider.name.as_str(), i) {
            return Err(ConfigError::invalid(
                at("name"),
                format!(
                    "duplicate provider name {:?} (also providers[{first}].name)",
                    provider.name
                ),
            ));
        }
        let url = &provider.base_url;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(ConfigError::invalid(
                at("base_url"),
                format!("scheme must be http or https, not {:?}", url.scheme()),
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::invalid(at("base_url"), "must name a host"));
        }
        let timeouts = [
            ("connect", provider.timeouts.connect),
            ("first_byte", provider.timeouts.first_byte),
            ("idle", provider.timeouts.idle),
        ];
        for (field, value) in timeouts {
            if value == Duration::ZERO {
                return Err(ConfigError::invalid(
                    at(&format!("timeouts.{field}")),
                    "must be greater than 0",
                ));
            }
        }
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
        return Err(ConfigError::invalid(
            path,
            format!("{name:?} must not contain `/`"),
        ));
    }
    Ok(())
}


fn check_models(config: &Config) -> Check {
    if config.models.is_empty() {
        return Err(ConfigError::invalid(
            "models",
            "at least one model is required",
        ));
    }
    // Ids and aliases share one namespace: a client sends one string and it must mean one model.
    let mut names: HashMap<&str, String> = HashMap::new();
    for (i, model) in config.models.iter().enumerate() {
        let labelled = std::iter::once((format!("models[{i}].id"), model.id.as_str())).chain(
            model
                .aliases
                .iter()
                .enumerate()
                .map(|(j, a)| (format!("models[{i}].aliases[{j}]"), a.as_str())),
        );
        for (path, name) in labelled {
            if name.trim().is_empty() {
                return Err(ConfigError::invalid(path, "must not be empty"));
            }
            if let Some(first) = names.get(name) {
                return Err(ConfigError::invalid(
                    path,
                    format!("model name {name:?} is already used by {first}"),
                ));
            }
            names.insert(name, path);
        }
        check_channels(config, i, model)?;
        if model.max_output_tokens == Some(0) {
            return Err(ConfigError::invalid(format!("models[{i}].max_output_tokens"), "must be greater than 0"));
        }
    }
    Ok(())
}

fn check_channels(config: &Config, i: usize, model: &Model) -> Check {
    if model.channels.is_empty() {
        return Err(ConfigError::invalid(
            format!("models[{i}].channels"),
            "at least one channel is required",
        ));
    }
    for (j, channel) in model.channels.iter().enumerate() {
        let at = |field: &str| format!("models[{i}].channels[{j}].{field}");
        if config.provider(&channel.provider).is_none() {
            let declared: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
            return Err(ConfigError::invalid(
                at("provider"),
                format!(
                    "unknown provider {:?}; declared providers: {}",
                    channel.provider,
                    declared.join(", ")
                ),
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
                format!(
                    "duplicate key name {:?} (also keys[{first}].name)",
                    entry.name
                ),
            ));
        }
        let field = match (&entry.key, &entry.key_sha256) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    format!("keys[{i}]"),
                    "set either `key` or `key_sha256`, not both",
                ))
            }
            (None, None) => {
                return Err(ConfigError::invalid(
                    format!("keys[{i}]"),
                    "one of `key` or `key_sha256` is required",
                ))
            }
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
            return Err(ConfigError::invalid(
                at(field),
                format!("same key as keys[{first}]"),
            ));
        }
    }
    Ok(())
}
