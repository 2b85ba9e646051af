//! Who an authenticated request is: what authentication hands to admission, routing and logs.

use crate::config::{BillingMode, Money, RateLimits};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (`key_…`, or `cfg:<name>` for a config key); safe to log.
    pub key_id: String,
    /// The key's name; safe to log.
    pub key_name: String,
    /// The owning account; `None` for an operator key from the config, which has no limits.
    pub account_id: Option<String>,
    /// The account's pricing group.
    pub group: Option<String>,
    /// Models the key may use (ids or aliases); `None` means all.
    pub models: Option<Vec<String>>,
    /// The key's own limits.
    pub key_limits: RateLimits,
    /// The account's limits.
    pub account_limits: RateLimits,
    /// Declared in the config (its keys are managed there, not through the APIs).
    pub from_config: bool,
    /// Whether the account pays from a prepaid balance.
    pub billing: BillingMode,
    /// The key's monthly spend cap.
    pub monthly_spend_cap: Option<Money>,
}

impl Principal {
    /// The account billed for this key's requests, when it is prepaid.
    pub fn billed_account(&self) -> Option<&str> {
        match self.billing {
            BillingMode::Prepaid => self.account_id.as_deref(),
            BillingMode::None => None,
        }
    }
}

impl Principal {
    /// Whether the key may use the model known by `id` and `aliases`.
    pub fn allows_model(&self, id: &str, aliases: &[String]) -> bool {
        self.models.as_ref().is_none_or(|allowed| allowed.iter().any(|m| m == id || aliases.contains(m)))
    }
}

/// Why a presented key is refused. Every variant is a 401 except `Unavailable` (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No key has that digest.
    #[error("invalid API key")]
    Invalid,
    /// The key was revoked.
    #[error("this API key has been revoked")]
    Revoked,
    /// The key's `expires_at` has passed.
    #[error("this API key has expired")]
    Expired,
    /// The key's account is suspended.
    #[error("this API key's account is suspended")]
    AccountSuspended,
    /// The store could not be asked and the key is not in the local cache.
    #[error("keys cannot be checked right now; retry shortly")]
    Unavailable,
}

impl AuthError {
    /// The machine-readable code for the client's error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Invalid => "invalid_api_key",
            AuthError::Revoked => "revoked_api_key",
            AuthError::Expired => "expired_api_key",
            AuthError::AccountSuspended => "account_suspended",
            AuthError::Unavailable => "store_unavailable",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Unavailable => 503,
            _ => 401,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_matches_id_or_alias() {
        let mut p = Principal {
            key_id: "k".into(),
            key_name: "k".into(),
            account_id: None,
            group: None,
            models: None,
            key_limits: RateLimits::default(),
            account_limits: RateLimits::default(),
            from_config: true,
            billing: BillingMode::None,
            monthly_spend_cap: None,
        };
        assert!(p.allows_model("gpt", &[]));
        p.models = Some(vec!["openai/gpt".into()]);
        assert!(p.allows_model("gpt", &["openai/gpt".into()]));
        assert!(!p.allows_model("claude", &[]));
    }
}
