//! A bounded local cache in front of a remote [`KeyStore`]: key lookups are answered from it
//! for `ttl` (which bounds how late a revocation reaches this instance), and while the store is
//! unreachable for up to `stale_for`, so an outage does not log every client out.

use super::model::{Account, AccountPatch, KeyGrant, KeyRecord};
use super::{KeyStore, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

struct Cached {
    at: Instant,
    grant: Option<KeyGrant>,
}

/// A [`KeyStore`] that caches `key_by_digest` answers (unknown keys too, so a flood of bad
/// keys does not reach the store) and passes every other call through.
pub struct CachedKeys {
    inner: Arc<dyn KeyStore>,
    ttl: Duration,
    stale_for: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, Cached>>,
}

impl CachedKeys {
    /// Caches up to `capacity` lookups of `inner`.
    pub fn new(inner: Arc<dyn KeyStore>, ttl: Duration, stale_for: Duration, capacity: usize) -> Self {
        CachedKeys { inner, ttl, stale_for, capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, digest: &str, grant: Option<KeyGrant>) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(digest) {
            let keep = self.ttl.max(self.stale_for);
            entries.retain(|_, c| c.at.elapsed() < keep);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop any one; a miss only costs a lookup.
                if let Some(victim) = entries.keys().next().cloned() {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(digest.to_owned(), Cached { at: Instant::now(), grant });
    }

    fn forget(&self, digest: &str) {
        self.entries().remove(digest);
    }
}

#[async_trait]
impl KeyStore for CachedKeys {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        self.inner.create_account(account).await
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.inner.account(id).await
    }

    async fn patch_account(&self, id: &str, patch: &AccountPatch) -> Result<Option<Account>, StoreError> {
        let patched = self.inner.patch_account(id, patch).await?;
        // Cached grants carry the account (status, limits): drop this account's at once here.
        self.entries().retain(|_, c| c.grant.as_ref().is_none_or(|g| g.account.id != id));
        Ok(patched)
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError> {
        let created = self.inner.create_key(key).await?;
        self.forget(&key.digest);
        Ok(created)
    }

    async fn key_by_digest(&self, digest: &str) -> Result<Option<KeyGrant>, StoreError> {
        let cached = self.entries().get(digest).map(|c| (c.at.elapsed(), c.grant.clone()));
        if let Some((age, grant)) = &cached {
            if *age < self.ttl {
                return Ok(grant.clone());
            }
        }
        match self.inner.key_by_digest(digest).await {
            Ok(grant) => {
                self.remember(digest, grant.clone());
                Ok(grant)
            }
            Err(err) => match cached {
                // Only known keys are served stale: an unknown key stays refused.
                Some((age, Some(grant))) if age < self.stale_for => Ok(Some(grant)),
                _ => Err(err),
            },
        }
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.key(id).await
    }

    async fn keys_of(&self, account_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.keys_of(account_id).await
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<Option<KeyRecord>, StoreError> {
        let revoked = self.inner.revoke_key(id, now_ms).await?;
        if let Some(key) = &revoked {
            self.forget(&key.digest);
        }
        Ok(revoked)
    }
}
