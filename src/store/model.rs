//! What the store keeps about accounts and keys, as plain data shared by every implementation.
//!
//! Records serialise to JSON (the Redis implementation stores them so, and the admin API shows
//! them), but a key's digest is never shown: [`KeyRecord`] skips it when serialised for clients
//! through [`KeyView`].

use crate::config::{BillingMode, Money, RateLimits};
use serde::{Deserialize, Serialize};

/// Whether an account may use the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Keys authenticate.
    #[default]
    Active,
    /// Every key of the account is refused until it is active again.
    Suspended,
}

/// An account: the owner of keys, limits and (with billing) a balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// `acct_` followed by random base62; also the Redis hash tag of everything it owns.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Pricing group (billing applies its multiplier).
    pub group: String,
    /// Limits over all the account's keys together.
    #[serde(default)]
    pub limits: RateLimits,
    /// Active or suspended.
    #[serde(default)]
    pub status: AccountStatus,
    /// Whether requests are paid from a prepaid balance.
    #[serde(default)]
    pub billing: BillingMode,
    /// Creation time, ms since the Unix epoch.
    pub created_at_ms: i64,
}

/// A partial update of an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New pricing group.
    #[serde(default)]
    pub group: Option<String>,
    /// New limits (replacing all three).
    #[serde(default)]
    pub limits: Option<RateLimits>,
    /// New status.
    #[serde(default)]
    pub status: Option<AccountStatus>,
    /// New billing mode.
    #[serde(default)]
    pub billing: Option<BillingMode>,
}

impl AccountPatch {
    /// Applies the patch to `account`.
    pub fn apply(&self, account: &mut Account) {
        if let Some(name) = &self.name {
            account.name.clone_from(name);
        }
        if let Some(group) = &self.group {
            account.group.clone_from(group);
        }
        if let Some(limits) = self.limits {
            account.limits = limits;
        }
        if let Some(status) = self.status {
            account.status = status;
        }
        if let Some(billing) = self.billing {
            account.billing = billing;
        }
    }
}

/// A client key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// `key_` followed by random base62; how the key is named in the APIs and logs.
    pub id: String,
    /// The owning account.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub digest: String,
    /// The first characters of the secret (`sk-sy-abcd`), so a person can tell keys apart.
    pub prefix: String,
    /// Models the key may use; `None` means all.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The key's own limits.
    #[serde(default)]
    pub limits: RateLimits,
    /// When the key stops authenticating, ms since the epoch.
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    /// When the key was revoked, ms since the epoch.
    #[serde(default)]
    pub revoked_at_ms: Option<i64>,
    /// The most the key may spend per UTC month (prepaid accounts).
    #[serde(default)]
    pub monthly_spend_cap: Option<Money>,
    /// Creation time, ms since the epoch.
    pub created_at_ms: i64,
}

impl KeyRecord {
    /// Whether the key may authenticate at `now_ms`.
    pub fn usable_at(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|t| now_ms < t)
    }
}

/// A key together with its account, as authentication needs them (one lookup, one answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key.
    pub key: KeyRecord,
    /// Its account.
    pub account: Account,
}
