//! The entry points the gateway's pipeline calls: authenticate a presented key, admit a
//! request against every limit that applies, settle its token count afterwards. Outage rules
//! live here, per concern, so both stores behave alike towards the gateway.

use super::principal::{AuthError, Principal};
use super::secret::digest_hex;
use crate::config::{Config, FailMode, FreeTier, KeyEntry, Money, RateLimits};
use crate::store::billing::month_of;
use crate::store::limits::{tightest, LimitCheck, LimitKind, LimitState};
use crate::store::{AccountStatus, Admission, AdmissionRequest, Charge, LedgerEntry, Reservation, Settled, Settlement, Store};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// What admission needs to know about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmitRequest {
    /// The resolved model's id.
    pub model: String,
    /// Whether the free tier applies (`Model::is_free`).
    pub free: bool,
    /// Estimated tokens (prompt + expected completion), counted by TPM limits.
    pub est_tokens: u64,
    /// Now, ms since the epoch.
    pub now_ms: i64,
    /// The request id (names the reservation and the usage entry).
    pub request_id: String,
    /// The worst-case cost to reserve, for prepaid accounts.
    pub worst_case: Money,
}

/// The figures of the tightest limit, for `X-RateLimit-Limit`, `-Remaining` and `-Reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateHeaders {
    /// The limit.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Whole seconds until the count goes down again (rounded up).
    pub reset_secs: u64,
}

/// An admitted request; keep it for [`Accounts::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The headers to send; `None` when no limit applies (or the store was skipped).
    pub headers: Option<RateHeaders>,
    /// Admitted without checking because the store was unreachable and limits fail open.
    pub unchecked: bool,
    account_id: Option<String>,
    ticket: u64,
    est_tokens: u64,
    tpm_subjects: Vec<String>,
    /// Set when a reservation was taken: what settlement charges against.
    pub billed: Option<Billed>,
}

/// A billed request's reservation, as settlement needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billed {
    /// The prepaid account.
    pub account_id: String,
    /// The request id.
    pub request_id: String,
    /// The key.
    pub key_id: String,
    /// What was reserved.
    pub reserved: Money,
}

/// A request refused by a limit (429 with `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Which limit, e.g. `key:key_ab.rpm`, `account.rpd`, `free.rpm`.
    pub limit: String,
    /// Whole seconds until the request would be admitted (rounded up, at least 1).
    pub retry_after_secs: u64,
    /// The refusing limit's figures.
    pub headers: RateHeaders,
}

/// Why admission did not admit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// A limit is full (429).
    #[error("rate limit {} exceeded; retry in {}s", .0.limit, .0.retry_after_secs)]
    Limited(Refusal),
    /// The store is unreachable and limits fail closed, or the request is billed (503).
    #[error("rate limits cannot be checked right now")]
    Unavailable,
    /// The balance, less what requests in flight hold, does not cover the worst case (402).
    #[error("insufficient balance")]
    InsufficientBalance,
    /// The key's monthly spend cap would be passed (429).
    #[error("monthly spend cap reached")]
    SpendCapExceeded,
}

fn secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

fn headers(state: &LimitState) -> RateHeaders {
    RateHeaders { limit: state.limit, remaining: state.remaining, reset_secs: secs(state.reset_ms) }
}

/// Authentication and admission over a [`Store`] and the config's keys and accounts.
pub struct Accounts {
    store: Store,
    config_keys: Vec<([u8; 32], Principal)>,
    free: FreeTier,
    limits_on_outage: FailMode,
    reservation_ttl: Duration,
}

impl Accounts {
    /// Accounts over `store`, with the keys and accounts declared in `config`.
    pub fn new(config: &Config, store: Store) -> Self {
        let config_keys = config.keys.iter().map(|k| (k.digest(), config_principal(config, k))).collect();
        Accounts {
            store,
            config_keys,
            free: config.free_tier,
            limits_on_outage: config.store_options.limits_on_outage,
            reservation_ttl: config.billing.reservation_ttl,
        }
    }

    /// The store (for the admin and client APIs).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Who `presented` belongs to: a config key (compared in constant time against every one),
    /// else a store key by digest.
    ///
    /// # Errors
    /// [`AuthError`] says why the key is refused.
    pub async fn authenticate(&self, presented: &str, now_ms: i64) -> Result<Principal, AuthError> {
        let digest = KeyEntry::digest_of(presented);
        let mut found = None;
        for (candidate, principal) in &self.config_keys {
            if bool::from(candidate.ct_eq(&digest)) {
                found = Some(principal);
            }
        }
        if let Some(principal) = found {
            return Ok(principal.clone());
        }
        let grant = match self.store.keys.key_by_digest(&digest_hex(presented)).await {
            Ok(Some(grant)) => grant,
            Ok(None) => return Err(AuthError::Invalid),
            Err(err) => {
                tracing::warn!(error = %err, "key lookup failed");
                return Err(AuthError::Unavailable);
            }
        };
        if grant.key.revoked_at_ms.is_some() {
            return Err(AuthError::Revoked);
        }
        if !grant.key.usable_at(now_ms) {
            return Err(AuthError::Expired);
        }
        if grant.account.status != AccountStatus::Active {
            return Err(AuthError::AccountSuspended);
        }
        Ok(Principal {
            key_id: grant.key.id,
            key_name: grant.key.name,
            account_id: Some(grant.account.id),
            group: Some(grant.account.group),
            models: grant.key.models,
            key_limits: grant.key.limits,
            account_limits: grant.account.limits,
            from_config: false,
            billing: grant.account.billing,
            monthly_spend_cap: grant.key.monthly_spend_cap,
        })
    }

    /// Checks and counts every limit that applies to `principal`'s request, in one store call.
    ///
    /// # Errors
    /// [`AdmitError::Limited`] when a limit is full; [`AdmitError::Unavailable`] when the store
    /// cannot be reached and `store_options.limits_on_outage` is `closed`.
    pub async fn admit(&self, principal: &Principal, req: &AdmitRequest) -> Result<Admitted, AdmitError> {
        let Some(account_id) = &principal.account_id else {
            return Ok(Admitted::unlimited(false));
        };
        let checks = self.checks(principal, req.free);
        let ttl_ms = i64::try_from(self.reservation_ttl.as_millis()).unwrap_or(i64::MAX);
        let reserve = principal.billed_account().map(|_| Reservation {
            request_id: req.request_id.clone(),
            amount: req.worst_case,
            key_id: principal.key_id.clone(),
            monthly_cap: principal.monthly_spend_cap,
            month: month_of(req.now_ms),
            expires_at_ms: req.now_ms.saturating_add(ttl_ms),
        });
        if checks.is_empty() && reserve.is_none() {
            return Ok(Admitted::unlimited(false));
        }
        let billed = reserve.as_ref().map(|r| Billed {
            account_id: account_id.clone(),
            request_id: r.request_id.clone(),
            key_id: r.key_id.clone(),
            reserved: r.amount,
        });
        let tpm_subjects = checks.iter().filter(|c| c.kind == LimitKind::Tpm).map(|c| c.subject.clone()).collect();
        let request =
            AdmissionRequest { account_id: account_id.clone(), now_ms: req.now_ms, tokens: req.est_tokens, checks, reserve };
        match self.store.limits.admit(&request).await {
            Ok(Admission::Admitted { ticket, states }) => Ok(Admitted {
                headers: tightest(&states).map(|i| headers(&states[i])),
                unchecked: false,
                account_id: Some(account_id.clone()),
                ticket,
                est_tokens: req.est_tokens,
                tpm_subjects,
                billed,
            }),
            Ok(Admission::Refused { by, retry_after_ms, states }) => {
                let state = states.get(by).copied().unwrap_or(LimitState { limit: 0, remaining: 0, reset_ms: retry_after_ms });
                Err(AdmitError::Limited(Refusal {
                    limit: request.checks.get(by).map(LimitCheck::name).unwrap_or_default(),
                    retry_after_secs: secs(retry_after_ms).max(1),
                    headers: RateHeaders { remaining: 0, reset_secs: secs(retry_after_ms).max(1), ..headers(&state) },
                }))
            }
            Ok(Admission::NoBalance { .. }) => Err(AdmitError::InsufficientBalance),
            Ok(Admission::OverSpendCap { .. }) => Err(AdmitError::SpendCapExceeded),
            Err(err) => {
                tracing::warn!(error = %err, fail = ?self.limits_on_outage, "admission failed");
                match (self.limits_on_outage, &request.reserve) {
                    // Money is never spent unchecked: a billed request waits for the store.
                    (FailMode::Open, None) => Ok(Admitted::unlimited(true)),
                    _ => Err(AdmitError::Unavailable),
                }
            }
        }
    }

    /// Settles a billed request: releases its reservation and charges `entry.amount` (the
    /// cost), or only releases when `entry` is `None`. Idempotent by request id. Returns the
    /// entry as written (`None` when nothing was charged, it was settled before, or the store
    /// failed — the reservation then expires after its TTL).
    pub async fn settle_charge(&self, billed: &Billed, entry: Option<LedgerEntry>) -> Option<LedgerEntry> {
        let month = month_of(entry.as_ref().map_or(0, |e| e.at_ms));
        let charge = Charge {
            account_id: billed.account_id.clone(),
            request_id: billed.request_id.clone(),
            key_id: billed.key_id.clone(),
            month,
            entry,
        };
        match self.store.billing.settle_charge(&charge).await {
            Ok(Settled::Done(entry)) => entry.map(|e| *e),
            Ok(Settled::Replayed) => None,
            Err(err) => {
                tracing::warn!(error = %err, request_id = %billed.request_id, "settlement failed; retrying in the background");
                let store = self.store.clone();
                tokio::spawn(async move { retry_settlement(&store, &charge).await });
                None
            }
        }
    }

    /// Corrects the TPM counters of an admitted request to the tokens it really used. Best
    /// effort: a failure only leaves the estimate counted.
    pub async fn settle(&self, admitted: &Admitted, actual_tokens: u64) {
        let Some(account_id) = &admitted.account_id else { return };
        if admitted.tpm_subjects.is_empty() || admitted.ticket == 0 {
            return;
        }
        let settlement = Settlement {
            account_id: account_id.clone(),
            ticket: admitted.ticket,
            estimated_tokens: admitted.est_tokens,
            actual_tokens,
            tpm_subjects: admitted.tpm_subjects.clone(),
        };
        if let Err(err) = self.store.limits.settle(&settlement).await {
            tracing::warn!(error = %err, "rate-limit settlement failed");
        }
    }

    /// Every limit that applies: the key's, the account's, and the free tier's on free models.
    fn checks(&self, principal: &Principal, free: bool) -> Vec<LimitCheck> {
        let mut checks = Vec::new();
        let mut add = |subject: &str, limits: &RateLimits| {
            for (kind, limit) in [(LimitKind::Rpm, limits.rpm), (LimitKind::Rpd, limits.rpd), (LimitKind::Tpm, limits.tpm)] {
                if let Some(limit) = limit {
                    checks.push(LimitCheck { subject: subject.to_owned(), kind, limit });
                }
            }
        };
        add(&format!("key:{}", principal.key_id), &principal.key_limits);
        add("account", &principal.account_limits);
        if free {
            add("free", &RateLimits { rpm: Some(self.free.rpm), rpd: Some(self.free.rpd), tpm: None });
        }
        checks
    }
}

impl Admitted {
    fn unlimited(unchecked: bool) -> Self {
        Admitted { headers: None, unchecked, account_id: None, ticket: 0, est_tokens: 0, tpm_subjects: Vec::new(), billed: None }
    }
}

/// Waits between settlement retries while the store is unreachable: about two minutes in all.
const SETTLEMENT_RETRIES: [Duration; 8] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

/// Retries a settlement the store could not take (settling is idempotent by request id, so a
/// retry of one that did land changes nothing). Without it a store outage would let the request's
/// usage go unbilled once its reservation expires.
async fn retry_settlement(store: &Store, charge: &Charge) {
    for wait in SETTLEMENT_RETRIES {
        tokio::time::sleep(wait).await;
        match store.billing.settle_charge(charge).await {
            Ok(_) => {
                tracing::info!(request_id = %charge.request_id, "settled after a retry");
                return;
            }
            Err(err) => tracing::warn!(error = %err, request_id = %charge.request_id, "settlement retry failed"),
        }
    }
    tracing::error!(request_id = %charge.request_id, "settlement given up; its reservation is released after its TTL, its usage is not charged");
}

fn config_principal(config: &Config, key: &KeyEntry) -> Principal {
    let account = key.account.as_ref().and_then(|id| config.accounts.iter().find(|a| &a.id == id));
    Principal {
        key_id: format!("cfg:{}", key.name),
        key_name: key.name.clone(),
        account_id: account.map(|a| a.id.clone()),
        group: account.map(|a| a.group.clone()),
        models: key.models.clone(),
        key_limits: key.limits,
        account_limits: account.map(|a| a.limits).unwrap_or_default(),
        from_config: true,
        billing: account.map(|a| a.billing).unwrap_or_default(),
        monthly_spend_cap: key.monthly_spend_cap.map(|c| c.0),
    }
}
