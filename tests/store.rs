//! One test body for every store: run against the memory store and against a real
//! `redis-server` on a loopback port (skipped with a notice only when the binary is missing;
//! `scripts/test.sh` installs it). Time is passed in, so windows and days move without sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::redis::{Redis, RedisCluster};
use std::time::{Duration, Instant};

use switchyard::account::{Accounts, AdmitError, AdmitRequest, AuthError};
use switchyard::config::{BillingMode, Money, RateLimits, StoreConfig, StoreOptions};
use switchyard::store::billing::month_of;
use switchyard::store::limits::{LimitCheck, LimitKind, DAY_MS};
use switchyard::store::{self, Account, AccountPatch, AccountStatus, Admission, AdmissionRequest, KeyRecord, Settlement, Store};
use switchyard::store::{Charge, Credit, Credited, EntryKind, LedgerEntry, Reservation, Settled};

/// 2024-03-01T12:00:00Z.
const T0: i64 = 1_709_294_400_000;

fn account(id: &str, limits: RateLimits) -> Account {
    Account {
        id: id.into(),
        name: id.into(),
        group: "default".into(),
        limits,
        status: AccountStatus::Active,
        billing: BillingMode::None,
        created_at_ms: T0,
    }
}

fn key(id: &str, account_id: &str, secret: &str) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        account_id: account_id.into(),
        name: id.into(),
        digest: switchyard::account::secret::digest_hex(secret),
        prefix: "sk-sy-test".into(),
        models: None,
        limits: RateLimits::default(),
        expires_at_ms: None,
        revoked_at_ms: None,
        monthly_spend_cap: None,
        created_at_ms: T0,
    }
}

fn check(subject: &str, kind: LimitKind, limit: u64) -> LimitCheck {
    LimitCheck { subject: subject.into(), kind, limit }
}

fn req(account: &str, now_ms: i64, tokens: u64, checks: Vec<LimitCheck>) -> AdmissionRequest {
    AdmissionRequest { account_id: account.into(), now_ms, tokens, checks, reserve: None }
}

async fn admitted(store: &Store, r: &AdmissionRequest) -> bool {
    matches!(store.limits.admit(r).await.unwrap(), Admission::Admitted { .. })
}

// ---- the shared body ----

async fn concurrent_admissions_admit_exactly_the_limit(store: &Store) {
    let checks = vec![check("account", LimitKind::Rpm, 37), check("key:k1", LimitKind::Rpd, 1000)];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            let r = req("acct_conc", T0 + i % 7, 1, checks.clone());
            tokio::spawn(async move { store.limits.admit(&r).await.unwrap() })
        })
        .collect();
    let mut yes = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Admission::Admitted { .. }) {
            yes += 1;
        }
    }
    assert_eq!(yes, 37, "exactly the limit is admitted");
    // Refusals counted nothing: the day counter holds only the admitted ones.
    let day = req("acct_conc", T0 + 10, 1, vec![check("key:k1", LimitKind::Rpd, 38)]);
    assert!(admitted(store, &day).await);
    assert!(!admitted(store, &day).await);
}

async fn rolling_window_slides(store: &Store) {
    let rpm = |now| req("acct_roll", now, 1, vec![check("account", LimitKind::Rpm, 3)]);
    for dt in [0, 10_000, 20_000] {
        assert!(admitted(store, &rpm(T0 + dt)).await);
    }
    match store.limits.admit(&rpm(T0 + 30_000)).await.unwrap() {
        Admission::Refused { by, retry_after_ms, states } => {
            assert_eq!((by, retry_after_ms), (0, 30_000), "admitted again when the first leaves the window");
            assert_eq!((states[0].limit, states[0].remaining), (3, 0));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!admitted(store, &rpm(T0 + 59_999)).await);
    match store.limits.admit(&rpm(T0 + 60_000)).await.unwrap() {
        Admission::Admitted { states, .. } => {
            assert_eq!(states[0].remaining, 0);
            assert_eq!(states[0].reset_ms, 10_000, "the 10 s entry leaves next");
        }
        other => panic!("expected admission, got {other:?}"),
    }
    assert!(!admitted(store, &rpm(T0 + 65_000)).await);
    assert!(admitted(store, &rpm(T0 + 70_000)).await);
}

async fn rpd_resets_at_utc_midnight(store: &Store) {
    let midnight = (T0 / DAY_MS + 1) * DAY_MS;
    let rpd = |now| req("acct_day", now, 1, vec![check("key:k", LimitKind::Rpd, 2)]);
    assert!(admitted(store, &rpd(midnight - 120_000)).await);
    assert!(admitted(store, &rpd(midnight - 90_000)).await);
    match store.limits.admit(&rpd(midnight - 60_000)).await.unwrap() {
        Admission::Refused { retry_after_ms, .. } => assert_eq!(retry_after_ms, 60_000),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!admitted(store, &rpd(midnight - 1)).await);
    assert!(admitted(store, &rpd(midnight)).await);
    assert!(admitted(store, &rpd(midnight + 1)).await);
    assert!(!admitted(store, &rpd(midnight + 2)).await);
}

async fn tpm_is_estimated_then_corrected(store: &Store) {
    let tpm = |now, tokens| req("acct_tpm", now, tokens, vec![check("account", LimitKind::Tpm, 100)]);
    let Admission::Admitted { ticket, states } = store.limits.admit(&tpm(T0, 60)).await.unwrap() else {
        panic!("first admission refused")
    };
    assert_eq!(states[0].remaining, 40);
    assert!(!admitted(store, &tpm(T0 + 1, 50)).await);
    let settle = Settlement {
        account_id: "acct_tpm".into(),
        ticket,
        estimated_tokens: 60,
        actual_tokens: 30,
        tpm_subjects: vec!["account".into()],
    };
    store.limits.settle(&settle).await.unwrap();
    store.limits.settle(&settle).await.unwrap();
    assert!(admitted(store, &tpm(T0 + 2, 50)).await, "30 + 50 fits once corrected");
    assert!(!admitted(store, &tpm(T0 + 3, 21)).await, "settling twice did not free more");
    assert!(admitted(store, &tpm(T0 + 4, 20)).await);
    // A request larger than the whole limit goes through an empty window only.
    let big = |now| req("acct_tpm_big", now, 500, vec![check("account", LimitKind::Tpm, 100)]);
    assert!(admitted(store, &big(T0)).await);
    assert!(!admitted(store, &big(T0 + 1)).await);
}

async fn accounts_and_keys(store: &Store) {
    let keys = &store.keys;
    keys.create_account(&account("acct_k", RateLimits { rpm: Some(5), ..Default::default() })).await.unwrap();
    assert!(matches!(keys.create_account(&account("acct_k", RateLimits::default())).await, Err(store::StoreError::Conflict)));
    assert!(keys.create_key(&key("key_1", "acct_k", "sk-sy-one")).await.unwrap());
    assert!(keys.create_key(&key("key_2", "acct_k", "sk-sy-two")).await.unwrap());
    assert!(!keys.create_key(&key("key_3", "acct_nobody", "sk-sy-three")).await.unwrap());
    let grant = keys.key_by_digest(&switchyard::account::secret::digest_hex("sk-sy-one")).await.unwrap().unwrap();
    assert_eq!((grant.key.id.as_str(), grant.account.limits.rpm), ("key_1", Some(5)));
    assert!(keys.key_by_digest(&switchyard::account::secret::digest_hex("sk-sy-nope")).await.unwrap().is_none());
    let listed: Vec<String> = keys.keys_of("acct_k").await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, ["key_1", "key_2"]);
    let revoked = keys.revoke_key("key_1", T0 + 5).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(T0 + 5));
    let again = keys.revoke_key("key_1", T0 + 9).await.unwrap().unwrap();
    assert_eq!(again.revoked_at_ms, Some(T0 + 5), "revoking twice keeps the first time");
    assert!(keys.revoke_key("key_404", T0).await.unwrap().is_none());
    let patch = AccountPatch { status: Some(AccountStatus::Suspended), group: Some("vip".into()), ..Default::default() };
    let patched = keys.patch_account("acct_k", &patch).await.unwrap().unwrap();
    assert_eq!((patched.status, patched.group.as_str(), patched.limits.rpm), (AccountStatus::Suspended, "vip", Some(5)));
    assert_eq!(keys.account("acct_k").await.unwrap().unwrap(), patched);
    assert!(keys.patch_account("acct_404", &patch).await.unwrap().is_none());
}

const CONFIG: &str = r#"
listen: 127.0.0.1:8080
providers: [ { name: p, protocol: openai, base_url: "http://127.0.0.1:1", api_key: x } ]
models: [ { id: m, channels: [ { provider: p, model: m } ] } ]
accounts: [ { id: team, limits: { rpm: 100 } } ]
free_tier: { rpm: 2, rpd: 3 }
keys:
  - { name: ops, key: sk-ops }
  - { name: team, key: sk-team, account: team, limits: { rpm: 50 } }
"#;

async fn authentication_and_admission(store: &Store) {
    let config = switchyard::config::parse(CONFIG, &|_| None).unwrap();
    let accounts = Accounts::new(&config, store.clone());
    let ops = accounts.authenticate("sk-ops", T0).await.unwrap();
    assert_eq!(ops.account_id, None);
    let at = |now, free| AdmitRequest {
        model: "m".into(),
        free,
        est_tokens: 10,
        now_ms: now,
        request_id: format!("req_{now}"),
        worst_case: Money::ZERO,
    };
    let admitted = accounts.admit(&ops, &at(T0, true)).await.unwrap();
    assert_eq!(admitted.headers, None, "operator keys have no limits");
    let team = accounts.authenticate("sk-team", T0).await.unwrap();
    let first = accounts.admit(&team, &at(T0, false)).await.unwrap();
    let h = first.headers.unwrap();
    assert_eq!((h.limit, h.remaining, h.reset_secs), (50, 49, 60), "the key's limit is the tightest");
    // The free tier: 2 a minute, 3 a day, per account.
    assert!(accounts.admit(&team, &at(T0, true)).await.is_ok());
    assert!(accounts.admit(&team, &at(T0 + 1, true)).await.is_ok());
    match accounts.admit(&team, &at(T0 + 2_500, true)).await {
        Err(AdmitError::Limited(r)) => {
            assert_eq!((r.limit.as_str(), r.retry_after_secs, r.headers.remaining), ("free.rpm", 58, 0));
        }
        other => panic!("expected the free tier to refuse, got {other:?}"),
    }
    assert!(accounts.admit(&team, &at(T0 + 3, false)).await.is_ok(), "paid models are not held to it");
    assert!(accounts.admit(&team, &at(T0 + 60_000, true)).await.is_ok());
    match accounts.admit(&team, &at(T0 + 120_000, true)).await {
        Err(AdmitError::Limited(r)) => assert_eq!(r.limit, "free.rpd"),
        other => panic!("expected the daily free limit, got {other:?}"),
    }
    // Store keys: revoked, expired, suspended, unknown.
    store.keys.create_account(&account("acct_auth", RateLimits::default())).await.unwrap();
    let mut expiring = key("key_exp", "acct_auth", "sk-sy-exp");
    expiring.expires_at_ms = Some(T0 + 1000);
    store.keys.create_key(&expiring).await.unwrap();
    store.keys.create_key(&key("key_live", "acct_auth", "sk-sy-live")).await.unwrap();
    assert_eq!(accounts.authenticate("sk-sy-exp", T0).await.unwrap().key_id, "key_exp");
    assert_eq!(accounts.authenticate("sk-sy-exp", T0 + 1000).await, Err(AuthError::Expired));
    assert_eq!(accounts.authenticate("sk-sy-nope", T0).await, Err(AuthError::Invalid));
    let live = accounts.authenticate("sk-sy-live", T0).await.unwrap();
    assert_eq!(live.account_id.as_deref(), Some("acct_auth"));
    assert!(!live.from_config);
    store.keys.revoke_key("key_live", T0).await.unwrap();
    assert_eq!(accounts.authenticate("sk-sy-live", T0).await, Err(AuthError::Revoked));
    let suspend = AccountPatch { status: Some(AccountStatus::Suspended), ..Default::default() };
    store.keys.patch_account("acct_auth", &suspend).await.unwrap();
    assert_eq!(accounts.authenticate("sk-sy-exp", T0).await, Err(AuthError::AccountSuspended));
}

// ---- billing ----

fn usd(text: &str) -> Money {
    Money::parse_usd(text).unwrap()
}

fn credit(account: &str, key: &str, amount: &str) -> Credit {
    Credit {
        account_id: account.into(),
        idempotency_key: key.into(),
        body_digest: format!("digest-{amount}"),
        entry: entry(&format!("cr_{key}"), EntryKind::Credit, usd(amount)),
    }
}

fn entry(id: &str, kind: EntryKind, amount: Money) -> LedgerEntry {
    LedgerEntry {
        id: id.into(),
        kind,
        amount,
        balance_after: Money::ZERO,
        at_ms: T0,
        key_id: Some("key_b".into()),
        model: Some("m".into()),
        provider: Some("p".into()),
        tokens: None,
        estimated: false,
        aborted: false,
        capped: false,
        reason: None,
        request_id: None,
    }
}

fn reserving(account: &str, id: &str, amount: Money, cap: Option<Money>, now_ms: i64) -> AdmissionRequest {
    AdmissionRequest {
        account_id: account.into(),
        now_ms,
        tokens: 1,
        checks: vec![],
        reserve: Some(Reservation {
            request_id: id.into(),
            amount,
            key_id: "key_b".into(),
            monthly_cap: cap,
            month: month_of(now_ms),
            expires_at_ms: now_ms + 60_000,
        }),
    }
}

fn charge(account: &str, id: &str, cost: Option<Money>) -> Charge {
    Charge {
        account_id: account.into(),
        request_id: id.into(),
        key_id: "key_b".into(),
        month: month_of(T0),
        entry: cost.map(|c| entry(id, EntryKind::Usage, c)),
    }
}

async fn balance(store: &Store, account: &str, now_ms: i64) -> (Money, Money) {
    let b = store.billing.balance(account, now_ms).await.unwrap();
    (b.balance, b.reserved)
}

/// 200 concurrent reservations of $0.01 against $1 admit exactly 100; settling each at $0.004
/// (twice) leaves exactly $0.60, and the ledger adds up.
async fn reservations_never_overdraw(store: &Store) {
    let a = "acct_bill";
    assert!(matches!(store.billing.credit(&credit(a, "k1", "1")).await.unwrap(), Credited::Done(_)));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            let r = reserving(a, &format!("req_{i}"), usd("0.01"), None, T0);
            tokio::spawn(async move { (i, store.limits.admit(&r).await.unwrap()) })
        })
        .collect();
    let mut admitted = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Admission::Admitted { .. }) => admitted.push(i),
            (_, Admission::NoBalance { .. }) => {}
            (_, other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(admitted.len(), 100, "exactly what the balance covers");
    assert_eq!(balance(store, a, T0).await, (usd("1"), usd("1")));
    for i in &admitted {
        let c = charge(a, &format!("req_{i}"), Some(usd("0.004")));
        assert!(matches!(store.billing.settle_charge(&c).await.unwrap(), Settled::Done(Some(_))));
        assert_eq!(store.billing.settle_charge(&c).await.unwrap(), Settled::Replayed, "settling twice changes nothing");
    }
    assert_eq!(balance(store, a, T0).await, (usd("0.6"), Money::ZERO));
    let (entries, total) = store.billing.ledger(a, 0, 1000).await.unwrap();
    assert_eq!(total, 101);
    assert_eq!(entries.iter().map(|e| e.amount).sum::<Money>(), usd("0.6"));
    assert_eq!(entries.last().unwrap().balance_after, usd("0.6"));
    assert!(entries.windows(2).all(|w| w[0].balance_after + w[1].amount == w[1].balance_after));
    // A failed request only releases.
    assert!(matches!(
        store.limits.admit(&reserving(a, "req_failed", usd("0.5"), None, T0)).await.unwrap(),
        Admission::Admitted { .. }
    ));
    assert_eq!(store.billing.settle_charge(&charge(a, "req_failed", None)).await.unwrap(), Settled::Done(None));
    assert_eq!(balance(store, a, T0).await, (usd("0.6"), Money::ZERO));
}

/// Exact to the unit near $10M; a charge beyond the balance is cut to it (never below zero).
async fn exact_near_ten_million_and_never_negative(store: &Store) {
    let a = "acct_big";
    store.billing.credit(&credit(a, "big", "9999999.999999999999")).await.unwrap();
    let one_unit = Money(1);
    store.billing.credit(&credit(a, "unit", "0.000000000001")).await.unwrap();
    assert_eq!(balance(store, a, T0).await.0, usd("10000000"));
    let c = charge(a, "req_unit", Some(one_unit));
    let Settled::Done(Some(e)) = store.billing.settle_charge(&c).await.unwrap() else { panic!("not charged") };
    assert_eq!((e.amount, e.balance_after.usd()), (Money(-1), "9999999.999999999999".to_owned()));
    let c = charge(a, "req_huge", Some(usd("20000000")));
    let Settled::Done(Some(e)) = store.billing.settle_charge(&c).await.unwrap() else { panic!("not charged") };
    assert!(e.capped);
    assert_eq!((e.amount.usd(), e.balance_after), ("-9999999.999999999999".to_owned(), Money::ZERO));
    assert_eq!(balance(store, a, T0).await.0, Money::ZERO);
}

/// The key's monthly cap counts its month's charges and its reservations in flight.
async fn spend_cap_and_reservation_ttl(store: &Store) {
    let a = "acct_cap";
    store.billing.credit(&credit(a, "c", "100")).await.unwrap();
    let cap = Some(usd("0.05"));
    let r = |id: &str, now| reserving(a, id, usd("0.02"), cap, now);
    assert!(matches!(store.limits.admit(&r("c1", T0)).await.unwrap(), Admission::Admitted { .. }));
    assert!(matches!(store.limits.admit(&r("c2", T0)).await.unwrap(), Admission::Admitted { .. }));
    assert!(matches!(store.limits.admit(&r("c3", T0)).await.unwrap(), Admission::OverSpendCap { .. }));
    store.billing.settle_charge(&charge(a, "c1", Some(usd("0.01")))).await.unwrap();
    assert!(matches!(store.limits.admit(&r("c4", T0)).await.unwrap(), Admission::Admitted { .. }), "0.01 + 0.02 + 0.02");
    assert!(matches!(store.limits.admit(&r("c5", T0)).await.unwrap(), Admission::OverSpendCap { .. }));
    // c2 and c4 are never settled (their instance died): released after the TTL.
    assert_eq!(balance(store, a, T0).await.1, usd("0.04"));
    assert_eq!(balance(store, a, T0 + 60_000).await.1, Money::ZERO);
    assert!(matches!(store.limits.admit(&r("c6", T0 + 60_000)).await.unwrap(), Admission::Admitted { .. }));
}

async fn credits_are_idempotent(store: &Store) {
    let a = "acct_cr";
    let first = store.billing.credit(&credit(a, "same", "5")).await.unwrap();
    let Credited::Done(e) = first else { panic!("{first:?}") };
    assert_eq!(store.billing.credit(&credit(a, "same", "5")).await.unwrap(), Credited::Replayed(e));
    assert_eq!(store.billing.credit(&credit(a, "same", "6")).await.unwrap(), Credited::Conflict);
    let mut take = credit(a, "take", "-6");
    take.entry.kind = EntryKind::Adjustment;
    assert_eq!(store.billing.credit(&take).await.unwrap(), Credited::Insufficient);
    assert_eq!(balance(store, a, T0).await.0, usd("5"));
}

async fn shared_body(store: Store) {
    reservations_never_overdraw(&store).await;
    exact_near_ten_million_and_never_negative(&store).await;
    spend_cap_and_reservation_ttl(&store).await;
    credits_are_idempotent(&store).await;
    concurrent_admissions_admit_exactly_the_limit(&store).await;
    rolling_window_slides(&store).await;
    rpd_resets_at_utc_midnight(&store).await;
    tpm_is_estimated_then_corrected(&store).await;
    accounts_and_keys(&store).await;
    authentication_and_admission(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store() {
    shared_body(Store::memory()).await;
}

// ---- Redis ----

fn options() -> StoreOptions {
    StoreOptions { timeout: Duration::from_millis(300), breaker_cooldown: Duration::from_millis(200), ..StoreOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store() {
    let Some(redis) = Redis::start() else { return };
    // No local key cache here: the shared body checks revocation and suspension at once.
    let options = StoreOptions { key_cache_ttl: Duration::from_nanos(1), ..options() };
    shared_body(store::open(&StoreConfig::Redis(redis.url()), &options).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_redis_clients_share_one_limit() {
    let Some(redis) = Redis::start() else { return };
    let a = store::open(&StoreConfig::Redis(redis.url()), &options()).unwrap();
    let b = store::open(&StoreConfig::Redis(redis.url()), &options()).unwrap();
    let checks = vec![check("account", LimitKind::Rpm, 25)];
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let r = req("acct_two", T0, 1, checks.clone());
            tokio::spawn(async move { matches!(store.limits.admit(&r).await.unwrap(), Admission::Admitted { .. }) })
        })
        .collect();
    let mut yes = 0;
    for t in tasks {
        yes += usize::from(t.await.unwrap());
    }
    assert_eq!(yes, 25);
}

/// Polls `f` until it is true or the deadline passes.
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_outage_follows_the_configured_fail_modes() {
    let Some(mut redis) = Redis::start() else { return };
    let yaml = |mode: &str| format!("{CONFIG}store_options: {{ limits_on_outage: {mode} }}\n");
    let open_cfg = switchyard::config::parse(&yaml("open"), &|_| None).unwrap();
    let closed_cfg = switchyard::config::parse(&yaml("closed"), &|_| None).unwrap();
    let opts = StoreOptions { key_cache_ttl: Duration::from_millis(1), key_stale_for: Duration::from_secs(600), ..options() };
    let store = store::open(&StoreConfig::Redis(redis.url()), &opts).unwrap();
    let open = Accounts::new(&open_cfg, store.clone());
    let closed = Accounts::new(&closed_cfg, store.clone());
    store
        .keys
        .create_account(&account("acct_out", RateLimits { rpm: Some(1000), ..Default::default() }))
        .await
        .unwrap();
    store.keys.create_key(&key("key_out", "acct_out", "sk-sy-out")).await.unwrap();
    let principal = open.authenticate("sk-sy-out", T0).await.unwrap();
    let at = AdmitRequest {
        model: "m".into(),
        free: false,
        est_tokens: 1,
        now_ms: T0,
        request_id: "req_out".into(),
        worst_case: Money::ZERO,
    };
    assert!(!open.admit(&principal, &at).await.unwrap().unchecked);

    redis.stop();
    for _ in 0..10 {
        let started = Instant::now();
        let admitted = open.admit(&principal, &at).await.unwrap();
        assert!(admitted.unchecked, "limits fail open");
        assert_eq!(closed.admit(&principal, &at).await, Err(AdmitError::Unavailable), "limits fail closed");
        // A cached key keeps authenticating; an unknown one cannot be checked.
        assert_eq!(open.authenticate("sk-sy-out", T0).await.unwrap().key_id, "key_out");
        assert_eq!(open.authenticate("sk-sy-unknown", T0).await, Err(AuthError::Unavailable));
        assert!(started.elapsed() < Duration::from_secs(2), "each call returns within its timeout: {:?}", started.elapsed());
    }

    redis.launch();
    // The restarted Redis is empty: the account and key are gone, and the store works again.
    eventually("the store to answer again", async || {
        store.keys.create_account(&account("acct_back", RateLimits::default())).await.is_ok()
    })
    .await;
    assert_eq!(open.authenticate("sk-sy-unknown", T0).await, Err(AuthError::Invalid));
    let back = req("acct_back", T0, 1, vec![check("account", LimitKind::Rpm, 1)]);
    assert!(admitted(&store, &back).await);
    assert!(!admitted(&store, &back).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_settlement_the_store_missed_is_retried() {
    let Some(mut redis) = Redis::start() else { return };
    let config = switchyard::config::parse(CONFIG, &|_| None).unwrap();
    let store = store::open(&StoreConfig::Redis(redis.url()), &options()).unwrap();
    let accounts = Accounts::new(&config, store.clone());
    let billed = switchyard::account::Billed {
        account_id: "acct_retry".into(),
        request_id: "req_retry".into(),
        key_id: "key_b".into(),
        reserved: usd("0.01"),
    };
    redis.stop();
    let written = accounts.settle_charge(&billed, Some(entry("req_retry", EntryKind::Usage, usd("0.002")))).await;
    assert!(written.is_none(), "the store is down");
    redis.launch();
    eventually("the settlement to be retried", async || {
        store
            .billing
            .ledger("acct_retry", 0, 10)
            .await
            .is_ok_and(|(entries, _)| entries.iter().any(|e| e.id == "req_retry"))
    })
    .await;
    assert_eq!(
        store.billing.settle_charge(&charge("acct_retry", "req_retry", Some(usd("0.002")))).await.unwrap(),
        Settled::Replayed
    );
}

// ---- Redis Cluster ----

fn cluster_store(cluster: &RedisCluster, options: &StoreOptions) -> Store {
    let config = switchyard::config::parse(&format!("{CONFIG}store: \"{}\"\n", cluster.url()), &|_| None).unwrap();
    assert!(matches!(config.store, StoreConfig::RedisCluster(ref nodes) if nodes.len() == 3));
    store::open(&config.store, options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_store() {
    let Some(cluster) = RedisCluster::start() else { return };
    let options = StoreOptions { key_cache_ttl: Duration::from_nanos(1), timeout: Duration::from_secs(2), ..options() };
    shared_body(cluster_store(&cluster, &options)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cluster_clients_share_one_limit_on_every_slot() {
    let Some(cluster) = RedisCluster::start() else { return };
    let options = StoreOptions { timeout: Duration::from_secs(2), ..options() };
    let (a, b) = (cluster_store(&cluster, &options), cluster_store(&cluster, &options));
    // Accounts whose hash tags land on different slots (and so, over 16,384 slots and three
    // masters, on different nodes): each keeps its own exact limit.
    for account in ["acct_c1", "acct_c2", "acct_c3", "acct_c4"] {
        let checks = vec![check("account", LimitKind::Rpm, 13)];
        let tasks: Vec<_> = (0..60)
            .map(|i| {
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let r = req(account, T0, 1, checks.clone());
                tokio::spawn(async move { matches!(store.limits.admit(&r).await.unwrap(), Admission::Admitted { .. }) })
            })
            .collect();
        let mut yes = 0;
        for t in tasks {
            yes += usize::from(t.await.unwrap());
        }
        assert_eq!(yes, 13, "{account}");
    }
}
