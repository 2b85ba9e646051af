//! The in-process store (`store: memory`): everything behind one mutex per concern, so every
//! admission is checked and recorded under one lock — no check-then-act, no awaits inside.

use super::billing::{Balance, Charge, Credit, Credited, LedgerEntry, Reservation, Settled};
use super::limits::{self, Admission, AdmissionRequest, LimitKind, LimitState, Settlement, WINDOW_MS};
use super::model::{Account, AccountPatch, KeyGrant, KeyRecord};
use super::{BalanceStore, KeyStore, LimitStore, StoreError};
use crate::config::Money;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet, VecDeque};
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
    /// Rolling windows by (account, subject, kind).
    windows: HashMap<(String, String, LimitKind), Window>,
    /// Daily counts by (account, subject, day).
    days: HashMap<(String, String, i64), u64>,
    /// The newest day seen; older days' counters are dropped when it advances.
    today: i64,
    next_ticket: u64,
    /// Balances by account; under the same lock as the counters, so a reservation and the
    /// limits are one step.
    money: HashMap<String, Purse>,
}

/// A reservation held by a request in flight.
#[derive(Debug, Clone)]
struct Held {
    amount: Money,
    key_id: String,
    expires_at_ms: i64,
}

/// One account's balance, reservations, key spend and ledger.
#[derive(Default)]
struct Purse {
    balance: Money,
    reserved: Money,
    held: HashMap<String, Held>,
    key_reserved: HashMap<String, Money>,
    key_spent: HashMap<(String, u32), Money>,
    ledger: Vec<LedgerEntry>,
    settled: HashSet<String>,
    credits: HashMap<String, (String, LedgerEntry)>,
}

impl Purse {
    fn release(&mut self, request_id: &str) {
        if let Some(h) = self.held.remove(request_id) {
            self.reserved = self.reserved - h.amount;
            let kr = self.key_reserved.entry(h.key_id).or_default();
            *kr = *kr - h.amount;
        }
    }

    /// Releases every reservation whose instance never settled it.
    fn sweep(&mut self, now_ms: i64) {
        let gone: Vec<String> = self.held.iter().filter(|(_, h)| h.expires_at_ms <= now_ms).map(|(id, _)| id.clone()).collect();
        for id in gone {
            self.release(&id);
        }
    }

    /// Whether `r` fits: `None` if it does, `Some(true)` over the key's spend cap,
    /// `Some(false)` over the balance.
    fn refuses(&self, r: &Reservation) -> Option<bool> {
        if let Some(cap) = r.monthly_cap {
            let spent = self.key_spent.get(&(r.key_id.clone(), r.month)).copied().unwrap_or_default();
            let held = self.key_reserved.get(&r.key_id).copied().unwrap_or_default();
            if spent + held + r.amount > cap {
                return Some(true);
            }
        }
        (self.reserved + r.amount > self.balance).then_some(false)
    }

    fn hold(&mut self, r: &Reservation) {
        if self.held.contains_key(&r.request_id) {
            return;
        }
        self.reserved = self.reserved + r.amount;
        let kr = self.key_reserved.entry(r.key_id.clone()).or_default();
        *kr = *kr + r.amount;
        self.held
            .insert(r.request_id.clone(), Held { amount: r.amount, key_id: r.key_id.clone(), expires_at_ms: r.expires_at_ms });
    }

    fn settle(&mut self, c: &Charge) -> Settled {
        if !self.settled.insert(c.request_id.clone()) {
            return Settled::Replayed;
        }
        self.release(&c.request_id);
        let Some(entry) = &c.entry else { return Settled::Done(None) };
        let mut entry = entry.clone();
        let cost = entry.amount.max(Money::ZERO);
        let charged = cost.min(self.balance.max(Money::ZERO));
        self.balance = self.balance - charged;
        let spent = self.key_spent.entry((c.key_id.clone(), c.month)).or_default();
        *spent = *spent + charged;
        entry.capped = charged < cost;
        entry.amount = Money::ZERO - charged;
        entry.balance_after = self.balance;
        self.ledger.push(entry.clone());
        Settled::Done(Some(Box::new(entry)))
    }

    fn credit(&mut self, c: &Credit) -> Credited {
        if let Some((digest, first)) = self.credits.get(&c.idempotency_key) {
            return if *digest == c.body_digest { Credited::Replayed(Box::new(first.clone())) } else { Credited::Conflict };
        }
        let after = self.balance + c.entry.amount;
        if c.entry.amount < Money::ZERO && after - self.reserved < Money::ZERO {
            return Credited::Insufficient;
        }
        self.balance = after;
        let entry = LedgerEntry { balance_after: after, ..c.entry.clone() };
        self.ledger.push(entry.clone());
        self.credits.insert(c.idempotency_key.clone(), (c.body_digest.clone(), entry.clone()));
        Credited::Done(Box::new(entry))
    }
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

/// One rolling window: its entries oldest first and the sum of their tokens, kept as entries
/// come and go so that admission costs the same however full the window is.
#[derive(Default)]
struct Window {
    entries: VecDeque<Entry>,
    tokens: u64,
}

/// Drops entries that left the window and returns what the window holds (requests or tokens).
fn prune(window: &mut Window, kind: LimitKind, now_ms: i64) -> u64 {
    while let Some(old) = window.entries.front().filter(|e| e.at_ms <= now_ms - WINDOW_MS) {
        window.tokens -= old.tokens;
        window.entries.pop_front();
    }
    match kind {
        LimitKind::Tpm => window.tokens,
        _ => window.entries.len() as u64,
    }
}

/// Milliseconds until a window holding `used` takes `cost` more under `limit`, or `None` if it
/// takes it now. A cost above the whole limit is taken by an empty window (else never).
fn window_wait(window: &Window, kind: LimitKind, used: u64, cost: u64, limit: u64, now_ms: i64) -> Option<i64> {
    if used + cost <= limit || used == 0 {
        return None;
    }
    let mut left = used;
    for e in &window.entries {
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
        if let Some(r) = &req.reserve {
            let purse = self.money.entry(req.account_id.clone()).or_default();
            purse.sweep(now);
            let refused = purse.refuses(r);
            if refused.is_none() {
                purse.hold(r);
            }
            if let Some(over_cap) = refused {
                let states = self.states(req, &used, false);
                return if over_cap { Admission::OverSpendCap { states } } else { Admission::NoBalance { states } };
            }
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
                    let at = window.entries.partition_point(|e| e.at_ms <= now);
                    window.entries.insert(at, entry);
                    window.tokens += req.tokens;
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
                        .and_then(|w| w.entries.front())
                        .map_or(0, |e| e.at_ms + WINDOW_MS - now),
                };
                LimitState { limit: check.limit, remaining: check.limit.saturating_sub(u), reset_ms }
            })
            .collect()
    }

    fn settle(&mut self, s: &Settlement) {
        for subject in &s.tpm_subjects {
            let key = (s.account_id.clone(), subject.clone(), LimitKind::Tpm);
            let Some(window) = self.windows.get_mut(&key) else { continue };
            // Settlement follows admission closely: the entry is near the newest end.
            if let Some(entry) = window.entries.iter_mut().rev().find(|e| e.ticket == s.ticket) {
                window.tokens = window.tokens - entry.tokens + s.actual_tokens;
                entry.tokens = s.actual_tokens;
            }
        }
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn admit(&self, req: &AdmissionRequest) -> Result<Admission, StoreError> {
        if req.checks.is_empty() && req.reserve.is_none() {
            return Ok(Admission::Admitted { ticket: 0, states: Vec::new() });
        }
        Ok(lock(&self.counters).admit(req))
    }

    async fn settle(&self, settlement: &Settlement) -> Result<(), StoreError> {
        lock(&self.counters).settle(settlement);
        Ok(())
    }
}

#[async_trait]
impl BalanceStore for MemoryStore {
    async fn settle_charge(&self, charge: &Charge) -> Result<Settled, StoreError> {
        Ok(lock(&self.counters).money.entry(charge.account_id.clone()).or_default().settle(charge))
    }

    async fn credit(&self, credit: &Credit) -> Result<Credited, StoreError> {
        Ok(lock(&self.counters).money.entry(credit.account_id.clone()).or_default().credit(credit))
    }

    async fn balance(&self, account_id: &str, now_ms: i64) -> Result<Balance, StoreError> {
        let mut counters = lock(&self.counters);
        Ok(counters.money.get_mut(account_id).map_or_else(Balance::default, |p| {
            p.sweep(now_ms);
            Balance { balance: p.balance, reserved: p.reserved }
        }))
    }

    async fn ledger(&self, account_id: &str, offset: usize, limit: usize) -> Result<(Vec<LedgerEntry>, usize), StoreError> {
        let counters = lock(&self.counters);
        Ok(counters
            .money
            .get(account_id)
            .map_or_else(|| (Vec::new(), 0), |p| (p.ledger.iter().skip(offset).take(limit).cloned().collect(), p.ledger.len())))
    }
}
