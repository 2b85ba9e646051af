//! The in-process store (`store: memory`): everything behind one mutex per concern, so every
//! admission is checked and recorded under one lock — no check-then-act, no awaits inside.

use super::limits::{self, Admission, AdmissionRequest, LimitKind, LimitState, Settlement, WINDOW_MS};
use super::model::{Account, AccountPatch, KeyGrant, KeyRecord};
use super::{KeyStore, LimitStore, StoreError};
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// One request in a rolling window.
#[derive(Debug, Clone, Copy)]
struct Entry {
    at_ms: i64,
    ticket: u64,
    tokens: u64,
}

#[derive(Default)]
struct Keys {
    accounts: HashMap<String, Account>,
    keys: HashMap<String, KeyRecord>,
    by_digest: HashMap<String, String>,
}

#[derive(Default)]
struct Counters {
    /// Rolling windows by (account, subject, kind), oldest first.
    windows: HashMap<(String, String, LimitKind), VecDeque<Entry>>,
    /// Daily counts by (account, subject, day).
    days: HashMap<(String, String, i64), u64>,
    /// The newest day seen; older days' counters are dropped when it advances.
    today: i64,
    next_ticket: u64,
}

/// Accounts, keys and counters of one process.
#[derive(Default)]
pub struct MemoryStore {
    keys: Mutex<Keys>,
    counters: Mutex<Counters>,
}

/// A poisoned lock only means another thread panicked mid-update of plain maps; the data is
/// still usable, and refusing every later request would be worse.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let mut keys = lock(&self.keys);
        if keys.accounts.contains_key(&account.id) {
            return Err(StoreError::Conflict);
        }
        keys.accounts.insert(account.id.clone(), account.clone());
        Ok(())
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(lock(&self.keys).accounts.get(id).cloned())
    }

    async fn patch_account(&self, id: &str, patch: &AccountPatch) -> Result<Option<Account>, StoreError> {
        let mut keys = lock(&self.keys);
        Ok(keys.accounts.get_mut(id).map(|account| {
            patch.apply(account);
            account.clone()
        }))
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError> {
        let mut keys = lock(&self.keys);
        if !keys.accounts.contains_key(&key.account_id) {
            return Ok(false);
        }
        if keys.keys.contains_key(&key.id) || keys.by_digest.contains_key(&key.digest) {
            return Err(StoreError::Conflict);
        }
        keys.by_digest.insert(key.digest.clone(), key.id.clone());
        keys.keys.insert(key.id.clone(), key.clone());
        Ok(true)
    }

    async fn key_by_digest(&self, digest: &str) -> Result<Option<KeyGrant>, StoreError> {
        let keys = lock(&self.keys);
        let Some(key) = keys.by_digest.get(digest).and_then(|id| keys.keys.get(id)) else {
            return Ok(None);
        };
        Ok(keys.accounts.get(&key.account_id).map(|account| KeyGrant { key: key.clone(), account: account.clone() }))
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        Ok(lock(&self.keys).keys.get(id).cloned())
    }

    async fn keys_of(&self, account_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let keys = lock(&self.keys);
        let mut found: Vec<KeyRecord> = keys.keys.values().filter(|k| k.account_id == account_id).cloned().collect();
        found.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<Option<KeyRecord>, StoreError> {
        let mut keys = lock(&self.keys);
        Ok(keys.keys.get_mut(id).map(|key| {
            key.revoked_at_ms.get_or_insert(now_ms);
            key.clone()
        }))
    }
}

/// Drops entries that left the window and returns what the window holds (requests or tokens).
fn prune(window: &mut VecDeque<Entry>, kind: LimitKind, now_ms: i64) -> u64 {
    while window.front().is_some_and(|e| e.at_ms <= now_ms - WINDOW_MS) {
        window.pop_front();
    }
    match kind {
        LimitKind::Tpm => window.iter().map(|e| e.tokens).sum(),
        _ => window.len() as u64,
    }
}

/// Milliseconds until a window holding `used` takes `cost` more under `limit`, or `None` if it
/// takes it now. A cost above the whole limit is taken by an empty window (else never).
fn window_wait(window: &VecDeque<Entry>, kind: LimitKind, used: u64, cost: u64, limit: u64, now_ms: i64) -> Option<i64> {
    if used + cost <= limit || used == 0 {
        return None;
    }
    let mut left = used;
    for e in window {
        left -= if kind == LimitKind::Tpm { e.tokens } else { 1 };
        if left + cost <= limit || left == 0 {
            return Some(e.at_ms + WINDOW_MS - now_ms);
        }
    }
    None
}

impl Counters {
    fn roll_day(&mut self, now_ms: i64) {
        let day = limits::day_of(now_ms);
        if day > self.today {
            self.today = day;
            self.days.retain(|(_, _, d), _| *d >= day - 1);
        }
    }

    fn admit(&mut self, req: &AdmissionRequest) -> Admission {
        self.roll_day(req.now_ms);
        let now = req.now_ms;
        let day = limits::day_of(now);
        let mut used = Vec::with_capacity(req.checks.len());
        let mut refusal: Option<(usize, i64)> = None;
        for (i, check) in req.checks.iter().enumerate() {
            let cost = if check.kind == LimitKind::Tpm { req.tokens } else { 1 };
            let (u, wait) = match check.kind {
                LimitKind::Rpd => {
                    let u = self.days.get(&(req.account_id.clone(), check.subject.clone(), day)).copied().unwrap_or(0);
                    (u, (u + 1 > check.limit).then(|| limits::ms_to_midnight(now)))
                }
                kind => {
                    let window = self.windows.entry((req.account_id.clone(), check.subject.clone(), kind)).or_default();
                    let u = prune(window, kind, now);
                    (u, window_wait(window, kind, u, cost, check.limit, now))
                }
            };
            if let Some(wait) = wait {
                if refusal.is_none_or(|(_, worst)| wait > worst) {
                    refusal = Some((i, wait));
                }
            }
            used.push(u);
        }
        if let Some((by, retry_after_ms)) = refusal {
            let states = self.states(req, &used, false);
            return Admission::Refused { by, retry_after_ms, states };
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        for check in &req.checks {
            match check.kind {
                LimitKind::Rpd => *self.days.entry((req.account_id.clone(), check.subject.clone(), day)).or_default() += 1,
                kind => {
                    let window = self.windows.entry((req.account_id.clone(), check.subject.clone(), kind)).or_default();
                    let entry = Entry { at_ms: now, ticket, tokens: req.tokens };
                    // Instances' clocks (and concurrent callers) may hand in times out of order.
                    let at = window.partition_point(|e| e.at_ms <= now);
                    window.insert(at, entry);
                }
            }
        }
        Admission::Admitted { ticket, states: self.states(req, &used, true) }
    }

    /// Each check's state; `counted` adds this request to what was used before it.
    fn states(&self, req: &AdmissionRequest, used: &[u64], counted: bool) -> Vec<LimitState> {
        let now = req.now_ms;
        req.checks
            .iter()
            .zip(used)
            .map(|(check, &u)| {
                let cost = if check.kind == LimitKind::Tpm { req.tokens } else { 1 };
                let u = if counted { u + cost } else { u };
                let reset_ms = match check.kind {
                    LimitKind::Rpd => limits::ms_to_midnight(now),
                    kind => self
                        .windows
                        .get(&(req.account_id.clone(), check.subject.clone(), kind))
                        .and_then(|w| w.front())
                        .map_or(0, |e| e.at_ms + WINDOW_MS - now),
                };
                LimitState { limit: check.limit, remaining: check.limit.saturating_sub(u), reset_ms }
            })
            .collect()
    }

    fn settle(&mut self, s: &Settlement) {
        for subject in &s.tpm_subjects {
            let key = (s.account_id.clone(), subject.clone(), LimitKind::Tpm);
            if let Some(entry) = self.windows.get_mut(&key).and_then(|w| w.iter_mut().find(|e| e.ticket == s.ticket)) {
                entry.tokens = s.actual_tokens;
            }
        }
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn admit(&self, req: &AdmissionRequest) -> Result<Admission, StoreError> {
        if req.checks.is_empty() {
            return Ok(Admission::Admitted { ticket: 0, states: Vec::new() });
        }
        Ok(lock(&self.counters).admit(req))
    }

    async fn settle(&self, settlement: &Settlement) -> Result<(), StoreError> {
        lock(&self.counters).settle(settlement);
        Ok(())
    }
}
