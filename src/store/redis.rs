//! The Redis store (`store: redis://…`, `rediss://…`, `redis-cluster://…`).
//!
//! Every read-modify-write is one Lua script sent with EVALSHA (`redis::Script` reloads it on
//! NOSCRIPT); admission and settlement are one round trip each. Everything an account owns is
//! named `sy:{<account id>}:…`, one hash tag, so each script touches one Cluster slot. Every call
//! has a timeout and goes through a circuit breaker; what an outage means for a request is
//! decided above, by concern (see `account::service`).

use super::billing::{Balance, Charge, Credit, Credited, LedgerEntry, Settled};
use super::breaker::Breaker;
use super::cache::CachedKeys;
use super::limits::{self, Admission, AdmissionRequest, LimitKind, LimitState, Settlement};
use super::model::{Account, AccountPatch, KeyGrant, KeyRecord};
use super::{BalanceStore, KeyStore, LimitStore, Store, StoreError};
use crate::config::{Money, StoreOptions};
use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How many times a compare-and-set update is retried when another writer got in between.
const CAS_ATTEMPTS: usize = 8;

/// A connection to one Redis or a Cluster; both multiplex and reconnect by themselves.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(&'a mut self, cmd: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

enum Target {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

struct Scripts {
    admit: Script,
    settle: Script,
    cas: Script,
    create_key: Script,
    charge: Script,
    credit: Script,
    balance: Script,
}

/// The exact-money helpers every balance script starts with.
macro_rules! with_money {
    ($file:literal) => {
        concat!(include_str!("lua/money.lua"), include_str!($file))
    };
}

/// Accounts, keys and counters in Redis.
pub struct RedisStore {
    target: Target,
    conn: OnceCell<Conn>,
    timeout: Duration,
    breaker: Breaker,
    scripts: Scripts,
}

fn redis_err(err: redis::RedisError) -> StoreError {
    StoreError::Redis(err.to_string())
}

/// Names of everything in Redis, in one place.
mod names {
    pub fn account(id: &str) -> String {
        format!("sy:{{{id}}}:account")
    }
    pub fn keys(account: &str) -> String {
        format!("sy:{{{account}}}:keys")
    }
    pub fn seq(account: &str) -> String {
        format!("sy:{{{account}}}:seq")
    }
    pub fn counter(account: &str, subject: &str, kind: &str) -> String {
        format!("sy:{{{account}}}:rl:{subject}:{kind}")
    }
    /// Digest → "account key-id"; global, not per account (the account is what it finds).
    pub fn digest(hex: &str) -> String {
        format!("sy:digest:{hex}")
    }
    /// Key id → account id.
    pub fn key_id(id: &str) -> String {
        format!("sy:keyid:{id}")
    }
    /// Balance, reserved, per-key held and spent (one hash).
    pub fn balance(account: &str) -> String {
        format!("sy:{{{account}}}:bal")
    }
    /// Open reservations: request id → "amount key".
    pub fn reservations(account: &str) -> String {
        format!("sy:{{{account}}}:resv")
    }
    /// Open reservations by expiry.
    pub fn expiries(account: &str) -> String {
        format!("sy:{{{account}}}:resvexp")
    }
    /// The ledger, oldest first (JSON entries).
    pub fn ledger(account: &str) -> String {
        format!("sy:{{{account}}}:ledger")
    }
    /// Request ids already settled.
    pub fn settled(account: &str) -> String {
        format!("sy:{{{account}}}:settled")
    }
    /// Idempotency key → "body digest, first entry".
    pub fn idempotency(account: &str) -> String {
        format!("sy:{{{account}}}:idem")
    }
}

impl RedisStore {
    fn new(target: Target, options: &StoreOptions) -> Self {
        RedisStore {
            target,
            conn: OnceCell::new(),
            timeout: options.timeout,
            breaker: Breaker::new(options.breaker_failures, options.breaker_cooldown),
            scripts: Scripts {
                admit: Script::new(with_money!("lua/admit.lua")),
                charge: Script::new(with_money!("lua/charge.lua")),
                credit: Script::new(with_money!("lua/credit.lua")),
                balance: Script::new(with_money!("lua/balance.lua")),
                settle: Script::new(include_str!("lua/settle.lua")),
                cas: Script::new(include_str!("lua/cas.lua")),
                create_key: Script::new(include_str!("lua/create_key.lua")),
            },
        }
    }

    /// A store on one Redis (`redis://` or `rediss://`), connected on first use.
    ///
    /// # Errors
    /// [`StoreError::Redis`] if the URL is not a Redis URL.
    pub fn single(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_err)?;
        Ok(Self::new(Target::Single(client), options))
    }

    /// A store on a Redis Cluster given by seed nodes, connected on first use.
    ///
    /// # Errors
    /// [`StoreError::Redis`] if a node URL is not a Redis URL.
    pub fn cluster(nodes: &[String], options: &StoreOptions) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
            .connection_timeout(options.timeout)
            .response_timeout(options.timeout)
            .retries(1)
            .build()
            .map_err(redis_err)?;
        Ok(Self::new(Target::Cluster(client), options))
    }

    /// The store as the gateway uses it: key lookups behind the bounded local cache.
    pub fn into_store(self, options: &StoreOptions) -> Store {
        let this = Arc::new(self);
        let keys = CachedKeys::new(this.clone(), options.key_cache_ttl, options.key_stale_for, options.key_cache_entries);
        Store { keys: Arc::new(keys), limits: this.clone(), billing: this }
    }

    async fn connect(&self) -> Result<Conn, StoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                match &self.target {
                    Target::Single(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(self.timeout)
                            .set_response_timeout(self.timeout)
                            .set_number_of_retries(1);
                        ConnectionManager::new_with_config(client.clone(), config).await.map(Conn::Single)
                    }
                    Target::Cluster(client) => client.get_async_connection().await.map(Conn::Cluster),
                }
                .map_err(redis_err)
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs one round trip under the timeout and the breaker.
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut + Send,
        Fut: Future<Output = redis::RedisResult<T>> + Send,
    {
        if !self.breaker.allow() {
            return Err(StoreError::BreakerOpen);
        }
        let outcome = tokio::time::timeout(self.timeout, async {
            let conn = self.connect().await?;
            f(conn).await.map_err(redis_err)
        })
        .await;
        match outcome {
            Ok(Ok(value)) => {
                self.breaker.success();
                Ok(value)
            }
            Ok(Err(err)) => {
                self.breaker.failure();
                Err(err)
            }
            Err(_) => {
                self.breaker.failure();
                Err(StoreError::Timeout)
            }
        }
    }

    async fn get(&self, key: String) -> Result<Option<String>, StoreError> {
        self.call(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await }).await
    }

    /// Replaces a JSON record by compare-and-set: read, change in Rust, write if unchanged.
    async fn update<T, F>(&self, key: String, field: &str, mut change: F) -> Result<Option<T>, StoreError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send,
        F: FnMut(&mut T) + Send,
    {
        for _ in 0..CAS_ATTEMPTS {
            let current: Option<String> = if field.is_empty() {
                self.get(key.clone()).await?
            } else {
                let (k, f) = (key.clone(), field.to_owned());
                self.call(|mut c| async move { redis::cmd("HGET").arg(k).arg(f).query_async(&mut c).await }).await?
            };
            let Some(current) = current else { return Ok(None) };
            let mut record: T = decode(&current)?;
            change(&mut record);
            let next = encode(&record)?;
            let mut inv = self.scripts.cas.key(&key);
            inv.arg(field).arg(&current).arg(&next);
            let written: i64 = self.call(|mut c| async move { inv.invoke_async(&mut c).await }).await?;
            if written == 1 {
                return Ok(Some(record));
            }
        }
        Err(StoreError::Redis("record kept changing; gave up".into()))
    }
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl KeyStore for RedisStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let (key, json) = (names::account(&account.id), encode(account)?);
        let set: Option<String> = self
            .call(|mut c| async move { redis::cmd("SET").arg(key).arg(json).arg("NX").query_async(&mut c).await })
            .await?;
        set.map(|_| ()).ok_or(StoreError::Conflict)
    }

    async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.get(names::account(id)).await?.map(|s| decode(&s)).transpose()
    }

    async fn patch_account(&self, id: &str, patch: &AccountPatch) -> Result<Option<Account>, StoreError> {
        self.update(names::account(id), "", |account: &mut Account| patch.apply(account)).await
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<bool, StoreError> {
        let mut inv = self.scripts.create_key.key(names::account(&key.account_id));
        inv.key(names::keys(&key.account_id)).arg(&key.id).arg(encode(key)?);
        let created: i64 = self.call(|mut c| async move { inv.invoke_async(&mut c).await }).await?;
        match created {
            0 => return Ok(false),
            1 => {}
            _ => return Err(StoreError::Conflict),
        }
        // The indexes live in other slots; they are written after the record, so a key that is
        // findable always has a record.
        let (dk, dv) = (names::digest(&key.digest), format!("{} {}", key.account_id, key.id));
        let (ik, iv) = (names::key_id(&key.id), key.account_id.clone());
        self.call(|mut c| async move {
            redis::cmd("SET").arg(ik).arg(iv).query_async::<()>(&mut c).await?;
            redis::cmd("SET").arg(dk).arg(dv).query_async::<()>(&mut c).await
        })
        .await?;
        Ok(true)
    }

    async fn key_by_digest(&self, digest: &str) -> Result<Option<KeyGrant>, StoreError> {
        let Some(index) = self.get(names::digest(digest)).await? else { return Ok(None) };
        let Some((account_id, key_id)) = index.split_once(' ') else {
            return Err(StoreError::Corrupt(format!("digest index {index:?}")));
        };
        let (ak, kk, kid) = (names::account(account_id), names::keys(account_id), key_id.to_owned());
        let (account, key): (Option<String>, Option<String>) = self
            .call(|mut c| async move { redis::pipe().cmd("GET").arg(ak).cmd("HGET").arg(kk).arg(kid).query_async(&mut c).await })
            .await?;
        match (account, key) {
            (Some(account), Some(key)) => Ok(Some(KeyGrant { key: decode(&key)?, account: decode(&account)? })),
            _ => Ok(None),
        }
    }

    async fn key(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let Some(account_id) = self.get(names::key_id(id)).await? else { return Ok(None) };
        let (kk, kid) = (names::keys(&account_id), id.to_owned());
        let key: Option<String> =
            self.call(|mut c| async move { redis::cmd("HGET").arg(kk).arg(kid).query_async(&mut c).await }).await?;
        key.map(|k| decode(&k)).transpose()
    }

    async fn keys_of(&self, account_id: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let kk = names::keys(account_id);
        let values: Vec<String> = self.call(|mut c| async move { redis::cmd("HVALS").arg(kk).query_async(&mut c).await }).await?;
        let mut keys = values.iter().map(|v| decode::<KeyRecord>(v)).collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| a.created_at_ms.cmp(&b.created_at_ms).then_with(|| a.id.cmp(&b.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<Option<KeyRecord>, StoreError> {
        let Some(account_id) = self.get(names::key_id(id)).await? else { return Ok(None) };
        self.update(names::keys(&account_id), id, |key: &mut KeyRecord| {
            key.revoked_at_ms.get_or_insert(now_ms);
        })
        .await
    }
}

#[async_trait]
impl LimitStore for RedisStore {
    async fn admit(&self, req: &AdmissionRequest) -> Result<Admission, StoreError> {
        if req.checks.is_empty() && req.reserve.is_none() {
            return Ok(Admission::Admitted { ticket: 0, states: Vec::new() });
        }
        let day = limits::day_of(req.now_ms);
        let mut inv = self.scripts.admit.key(names::seq(&req.account_id));
        for check in &req.checks {
            let kind = match check.kind {
                LimitKind::Rpd => format!("rpd:{day}"),
                other => other.as_str().to_owned(),
            };
            inv.key(names::counter(&req.account_id, &check.subject, &kind));
        }
        inv.arg(req.now_ms).arg(req.tokens).arg(req.checks.len());
        for check in &req.checks {
            inv.arg(check.kind.as_str()).arg(check.limit);
        }
        if let Some(r) = &req.reserve {
            let a = &req.account_id;
            inv.key(names::balance(a)).key(names::reservations(a)).key(names::expiries(a));
            inv.arg(&r.request_id).arg(r.amount.to_string()).arg(&r.key_id);
            inv.arg(r.monthly_cap.map(|c| c.to_string()).unwrap_or_default()).arg(r.month).arg(r.expires_at_ms);
        }
        let out: Vec<i64> = self.call(|mut c| async move { inv.invoke_async(&mut c).await }).await?;
        parse_admission(req, &out)
    }

    async fn settle(&self, s: &Settlement) -> Result<(), StoreError> {
        if s.tpm_subjects.is_empty() || s.ticket == 0 || s.actual_tokens == s.estimated_tokens {
            return Ok(());
        }
        let mut inv = self.scripts.settle.prepare_invoke();
        for subject in &s.tpm_subjects {
            inv.key(names::counter(&s.account_id, subject, "tpm"));
        }
        inv.arg(s.ticket).arg(s.estimated_tokens).arg(s.actual_tokens);
        self.call(|mut c| async move { inv.invoke_async::<i64>(&mut c).await }).await?;
        Ok(())
    }
}

/// Reads the admission script's flat answer (see `lua/admit.lua`).
fn parse_admission(req: &AdmissionRequest, out: &[i64]) -> Result<Admission, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("admission reply of {} values", out.len()));
    let [admitted, by, wait, ticket, rest @ ..] = out else { return Err(corrupt()) };
    if rest.len() != req.checks.len() * 2 {
        return Err(corrupt());
    }
    let states = req
        .checks
        .iter()
        .zip(rest.chunks_exact(2))
        .map(|(check, pair)| {
            let used = u64::try_from(pair[0]).unwrap_or(0);
            let cost = if check.kind == LimitKind::Tpm { req.tokens } else { 1 };
            let used = if *admitted == 1 { used + cost } else { used };
            LimitState { limit: check.limit, remaining: check.limit.saturating_sub(used), reset_ms: pair[1] }
        })
        .collect();
    Ok(match *admitted {
        1 => Admission::Admitted { ticket: u64::try_from(*ticket).unwrap_or(0), states },
        2 => Admission::NoBalance { states },
        3 => Admission::OverSpendCap { states },
        _ => Admission::Refused { by: usize::try_from(*by).unwrap_or(0), retry_after_ms: *wait, states },
    })
}

fn money(text: &str) -> Result<Money, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("amount {text:?}")))
}

#[async_trait]
impl BalanceStore for RedisStore {
    async fn settle_charge(&self, c: &Charge) -> Result<Settled, StoreError> {
        let a = &c.account_id;
        let mut inv = self.scripts.charge.key(names::balance(a));
        inv.key(names::reservations(a)).key(names::expiries(a)).key(names::ledger(a)).key(names::settled(a));
        let (json, cost) = match &c.entry {
            Some(e) => (encode(e)?, e.amount.max(Money::ZERO).to_string()),
            None => (String::new(), "0".to_owned()),
        };
        let now = c.entry.as_ref().map_or(0, |e| e.at_ms);
        inv.arg(&c.request_id).arg(&c.key_id).arg(c.month).arg(json).arg(cost).arg(now);
        let (done, entry): (i64, String) = self.call(|mut conn| async move { inv.invoke_async(&mut conn).await }).await?;
        match (done, entry.as_str()) {
            (0, _) => Ok(Settled::Replayed),
            (_, "") => Ok(Settled::Done(None)),
            (_, json) => Ok(Settled::Done(Some(Box::new(decode(json)?)))),
        }
    }

    async fn credit(&self, c: &Credit) -> Result<Credited, StoreError> {
        let a = &c.account_id;
        let mut inv = self.scripts.credit.key(names::balance(a));
        inv.key(names::ledger(a)).key(names::idempotency(a)).key(names::reservations(a)).key(names::expiries(a));
        inv.arg(&c.idempotency_key)
            .arg(&c.body_digest)
            .arg(encode(&c.entry)?)
            .arg(c.entry.amount.to_string())
            .arg(c.entry.at_ms);
        let (code, entry): (i64, String) = self.call(|mut conn| async move { inv.invoke_async(&mut conn).await }).await?;
        Ok(match code {
            1 => Credited::Done(Box::new(decode(&entry)?)),
            2 => Credited::Replayed(Box::new(decode(&entry)?)),
            3 => Credited::Conflict,
            _ => Credited::Insufficient,
        })
    }

    async fn balance(&self, account_id: &str, now_ms: i64) -> Result<Balance, StoreError> {
        let mut inv = self.scripts.balance.key(names::balance(account_id));
        inv.key(names::reservations(account_id)).key(names::expiries(account_id)).arg(now_ms);
        let (balance, reserved): (String, String) = self.call(|mut c| async move { inv.invoke_async(&mut c).await }).await?;
        Ok(Balance { balance: money(&balance)?, reserved: money(&reserved)? })
    }

    async fn ledger(&self, account_id: &str, offset: usize, limit: usize) -> Result<(Vec<LedgerEntry>, usize), StoreError> {
        let key = names::ledger(account_id);
        let start = isize::try_from(offset).unwrap_or(isize::MAX);
        let stop = start.saturating_add(isize::try_from(limit).unwrap_or(isize::MAX)).saturating_sub(1);
        let (total, items): (usize, Vec<String>) = self
            .call(|mut c| async move {
                redis::pipe().cmd("LLEN").arg(&key).cmd("LRANGE").arg(&key).arg(start).arg(stop).query_async(&mut c).await
            })
            .await?;
        let entries = if limit == 0 { Vec::new() } else { items.iter().map(|j| decode(j)).collect::<Result<Vec<_>, _>>()? };
        Ok((entries, total))
    }
}
