//! `auto:` — how the gateway picks a model when a client sends `model: "auto"`.

use std::collections::BTreeMap;

use super::types::Config;
use super::ConfigError;

/// The public name clients send to let the gateway choose.
pub const AUTO_MODEL: &str = "auto";

/// How `model: "auto"` is resolved: one of `candidates` chosen by `policy`, the others (in the
/// policy's order) as its fallbacks.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoConfig {
    /// What the choice optimises.
    pub policy: AutoPolicy,
    /// The models to choose from (ids or aliases), in order of preference when they tie.
    pub candidates: Vec<String>,
    /// How much each measure counts under `weighted`. Default cost 1, latency 1, quality 1.
    #[serde(default)]
    pub weights: AutoWeights,
    /// A quality score per candidate (any non-negative scale; a candidate not listed scores 0).
    #[serde(default)]
    pub quality: BTreeMap<String, f64>,
}

// Validation refuses NaN and infinities, so equality is reflexive for every accepted config.
impl Eq for AutoConfig {}

/// What `auto` optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoPolicy {
    /// The lowest configured price (input + output per 1M tokens; no price counts as 0).
    Cheapest,
    /// The lowest measured time to first token (a moving average kept by each instance).
    Fastest,
    /// The best weighted score of price, time to first token and quality.
    Weighted,
}

/// The weights of the `weighted` policy.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutoWeights {
    /// Weight of the price (lower is better).
    pub cost: f64,
    /// Weight of the time to first token (lower is better).
    pub latency: f64,
    /// Weight of the quality score (higher is better).
    pub quality: f64,
}

impl Default for AutoWeights {
    fn default() -> Self {
        AutoWeights { cost: 1.0, latency: 1.0, quality: 1.0 }
    }
}

/// Checks `auto`: candidates name configured models, no model is itself called `auto`, every
/// number is finite and non-negative.
pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    let Some(auto) = &config.auto else { return Ok(()) };
    if let Some(i) = config.models.iter().position(|m| m.id == AUTO_MODEL || m.aliases.iter().any(|a| a == AUTO_MODEL)) {
        return Err(ConfigError::invalid(
            format!("models[{i}]"),
            "the name `auto` is taken by the `auto:` section; rename the model or remove `auto:`",
        ));
    }
    if auto.candidates.is_empty() {
        return Err(ConfigError::invalid("auto.candidates", "at least one candidate is required"));
    }
    for (i, name) in auto.candidates.iter().enumerate() {
        if config.model_by_name(name).is_none() {
            return Err(ConfigError::invalid(format!("auto.candidates[{i}]"), format!("unknown model {name:?}")));
        }
        if auto.candidates[..i].contains(name) {
            return Err(ConfigError::invalid(format!("auto.candidates[{i}]"), format!("{name:?} is listed twice")));
        }
    }
    let weights = [("cost", auto.weights.cost), ("latency", auto.weights.latency), ("quality", auto.weights.quality)];
    for (field, w) in weights {
        if !w.is_finite() || w < 0.0 {
            return Err(ConfigError::invalid(format!("auto.weights.{field}"), "must be a number of at least 0"));
        }
    }
    for (name, score) in &auto.quality {
        if !auto.candidates.contains(name) {
            return Err(ConfigError::invalid(format!("auto.quality.{name}"), "not one of auto.candidates"));
        }
        if !score.is_finite() || *score < 0.0 {
            return Err(ConfigError::invalid(format!("auto.quality.{name}"), "must be a number of at least 0"));
        }
    }
    Ok(())
}
