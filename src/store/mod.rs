//! The one place shared state lives: accounts and keys ([`KeyStore`]) and rate-limit counters
//! ([`LimitStore`]), each a trait with two implementations behind one shared test body —
//! [`memory`] (one instance, the default) and [`redis`] (several instances on one Redis or
//! Redis Cluster, every read-modify-write one Lua script). Prepaid balances and their ledger
//! ([`BalanceStore`]) sit beside them; a reservation joins [`limits::AdmissionRequest`] so
//! that admission stays one round trip.

pub mod billing;
pub mod breaker;
pub mod cache;
pub mod limits;
pub mod memory;
pub mod model;
pub mod redis;
pub mod signatures;

use crate::config::{StoreConfig, StoreOptions};
use async_trait::async_trait;
use std::sync::Arc;

pub use billing::{Balance, Charge, Credit, Credited, EntryKind, EntryTokens, LedgerEntry, Reservation, Settled};
pub use limits::{Admission, AdmissionRequest, LimitCheck, LimitKind, LimitState, Settlement};
pub use model::{Account, AccountPatch, AccountStatus, KeyGrant, KeyRecord};

/// Why a store call failed. Callers treat every variant as "the store cannot answer now" and
/// apply the configured outage behaviour; only the log tells them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The call did not finish within the configured timeout.
    #[error("store call timed out")]
    Timeout,
    /// The circuit breaker is open after repeated failures; the call was not tried.
    #[error("store circuit breaker is open")]
    BreakerOpen,
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(String),
    /// A stored record could not be read back (written by an incompatible version?).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// A record with that id already exists.
    #[error("already exists")]
    Conflict,
}

/// Accounts and their keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new account; [`StoreError::Conflict`] if the id is taken.
    async fn create_account(&self, account: &Account) -> Result<(), StoreError>;
    /// The account with `id`.
    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError>;
    /// Applies `patch` to the account atomically and returns the result (`None`: no account).
    async fn patch_account(&self, id: &str, patch: &AccountPatch) -> Result<Option<Account>, StoreError>;
    /// Stores a new key of an existing account (`Ok(false)`: no such account).
    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError>;
    /// The key whose SHA-256 is `digest` (hex), with its account; revoked and expired keys are
    /// returned too, so the caller can say why it refuses them.
    async fn key_by_digest(&self, digest: &str) -> Result<Option<KeyGrant>, StoreError>;
    /// The key with `id`.
    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError>;
    /// Every key of an account, revoked ones included, oldest first.
    async fn keys_of(&self, account_id: &str) -> Result<Vec<KeyRecord>, StoreError>;
    /// Revokes a key (idempotent: a second call keeps the first time) and returns it.
    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<Option<KeyRecord>, StoreError>;
}

/// Rate-limit counters.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Checks every limit of `req` and, only if all take it, counts the request in each — one
    /// atomic step, so concurrent admissions never pass a limit together.
    async fn admit(&self, req: &AdmissionRequest) -> Result<Admission, StoreError>;
    /// Corrects the TPM entries of an admission to the real token count.
    async fn settle(&self, settlement: &Settlement) -> Result<(), StoreError>;
}

/// Prepaid balances and their ledger. Reservations are taken by [`LimitStore::admit`] (one
/// round trip with the limits); everything here is one atomic step per call too.
#[async_trait]
pub trait BalanceStore: Send + Sync {
    /// Releases a request's reservation and charges its cost (capped at the balance, so a
    /// balance never goes below zero), writing the usage entry — or, once settled before,
    /// changes nothing.
    async fn settle_charge(&self, charge: &Charge) -> Result<Settled, StoreError>;
    /// Adds a credit or adjustment once per idempotency key.
    async fn credit(&self, credit: &Credit) -> Result<Credited, StoreError>;
    /// The balance and what is held, after releasing reservations expired at `now_ms`.
    async fn balance(&self, account_id: &str, now_ms: i64) -> Result<Balance, StoreError>;
    /// Ledger entries oldest first from `offset`, at most `limit`, and how many there are.
    async fn ledger(&self, account_id: &str, offset: usize, limit: usize) -> Result<(Vec<LedgerEntry>, usize), StoreError>;
}

/// The store a gateway runs with: one trait object per concern.
#[derive(Clone)]
pub struct Store {
    /// Accounts and keys.
    pub keys: Arc<dyn KeyStore>,
    /// Rate-limit counters (and reservations).
    pub limits: Arc<dyn LimitStore>,
    /// Balances and ledgers.
    pub billing: Arc<dyn BalanceStore>,
}

impl Store {
    /// A fresh in-memory store.
    pub fn memory() -> Self {
        let memory = Arc::new(memory::MemoryStore::new());
        Store { keys: memory.clone(), limits: memory.clone(), billing: memory }
    }
}

/// Builds the store the config names. Redis is connected lazily, so the gateway starts (and
/// serves, per the outage rules) while Redis is still unreachable.
///
/// # Errors
/// [`StoreError::Redis`] if a Redis URL cannot be parsed.
pub fn open(config: &StoreConfig, options: &StoreOptions) -> Result<Store, StoreError> {
    match config {
        StoreConfig::Memory => Ok(Store::memory()),
        StoreConfig::Redis(url) => redis::RedisStore::single(url, options).map(|s| s.into_store(options)),
        StoreConfig::RedisCluster(nodes) => redis::RedisStore::cluster(nodes, options).map(|s| s.into_store(options)),
    }
}
