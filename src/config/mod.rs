//! The YAML configuration: its serde types, `${VAR}` expansion, and validation.
//!
//! Loading is a pipeline, each step in its own file so each can be tested alone:
//! YAML text → `serde_yaml_ng::Value` (syntax errors with line and column) → `${VAR}` expansion
//! on the tree (`expand.rs`) → typed [`Config`] through `serde_path_to_error` (type errors name
//! the field) → normalisation and cross-field rules (`validate.rs`). Every error names the exact
//! field, e.g. `models[0].channels[1].provider: unknown provider "backup"; declared providers: openai`.

mod addr;
mod auto;
mod error;
mod expand;
mod money;
mod secret;
mod types;
mod validate;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde_yaml_ng::Value;

pub use auto::{AutoConfig, AutoPolicy, AutoWeights, AUTO_MODEL};
pub use error::ConfigError;
pub use expand::ExpandError;
pub use money::{Money, MoneyError, PriceError, PricePerMillion, UsdAmount, UNITS_PER_USD};
pub use secret::Secret;
pub use types::{
    AccountEntry, AdminConfig, BillingConfig, BillingMode, Capabilities, Channel, Config, FailMode, FreeTier, GroupPricing,
    HealthCheck, HealthCheckKind, KeyEntry, Limits, Model, ModelKind, Price, Protocol, Provider, RateLimits, Ratio, Routing,
    ServerSettings, StoreConfig, StoreOptions, Timeouts, WeightedUrl,
};

/// Reads and validates the config file at `path`, taking `${VAR}`s from the process environment.
///
/// # Errors
/// [`ConfigError::Io`] if the file cannot be read, otherwise as [`parse`].
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
    parse(&text, &|name| std::env::var(name).ok())
}

/// Parses and validates config text, taking `${VAR}`s from `env`.
///
/// `env` is injectable so tests (and a future reload that wants a fixed environment) need not
/// touch the process environment, which is shared by every thread.
///
/// # Errors
/// [`ConfigError::Syntax`] for malformed YAML; [`ConfigError::Invalid`], naming the field, for
/// an unset variable, a wrong type, a missing or unknown field, or a broken rule;
/// [`ConfigError::Several`] when more than one variable is unset, one line each.
///
/// # Example
/// ```
/// let yaml = "listen: 127.0.0.1:8080
/// providers:
///   - { name: p, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"${P_KEY}\" }
///   - { name: q, protocol: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"${Q_KEY}\" }
/// models:
///   - { id: m, channels: [ { provider: p, model: m }, { provider: q, model: m } ] }
/// ";
/// let env = |name: &str| Some(format!("sk-{name}"));
/// let config = switchyard::config::parse(yaml, &env).unwrap();
/// assert_eq!(config.listen.port(), 8080);
/// assert_eq!(config.providers.len(), 2);
///
/// // With an empty environment every unset variable is reported, one line each.
/// let err = switchyard::config::parse(yaml, &|_| None).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "providers[0].api_key: environment variable P_KEY is not set\n\
///      providers[1].api_key: environment variable Q_KEY is not set"
/// );
/// ```
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let mut tree: Value = serde_yaml_ng::from_str(text).map_err(|err| ConfigError::syntax(&err))?;
    if tree.is_null() {
        return Err(ConfigError::invalid(expand::display_path(""), "the config is empty"));
    }
    // Resolves `<<: *anchor` so shared blocks (e.g. timeouts) can be written once; without it
    // `<<` would be rejected as an unknown field.
    tree.apply_merge().map_err(|err| ConfigError::syntax(&err))?;
    expand::expand_tree(&mut tree, env)?;
    let mut config: Config = serde_path_to_error::deserialize(tree)
        .map_err(|err| ConfigError::invalid(expand::display_path(&err.path().to_string()), err.into_inner().to_string()))?;
    validate::normalise(&mut config);
    validate::validate(&config)?;
    Ok(config)
}
