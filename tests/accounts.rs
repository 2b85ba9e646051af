//! Accounts, keys and rate limits through the real binary: the admin API on the admin listener,
//! the client key API on the public one, store keys authenticating in every protocol, model
//! restrictions, limits with their headers, and two gateway processes sharing one real
//! `redis-server` (skipped with a notice only when the binary is missing; `scripts/test.sh`
//! installs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::redis::{Redis, RedisCluster};
use common::{free_addr, provider, Gateway, Launch, KEY};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchyard::mock::MockUpstream;

const ADMIN_TOKEN: &str = "admin-secret-token";

/// The client protocols a request can come in.
#[derive(Clone, Copy, Debug)]
enum Client {
    OpenAi,
    Anthropic,
    Gemini,
}

/// A gateway config over one mock: `public-model` (alias `vendor/public-model`) and the free
/// model `cheap:free`, the operator key [`KEY`], and `extra` (store, accounts, free tier).
fn yaml(mock: SocketAddr, extra: &str) -> String {
    let channel = "    channels:\n      - { provider: primary, model: upstream-model }\n";
    format!(
        "providers:\n{}models:\n  - id: public-model\n    aliases: [vendor/public-model]\n{channel}  - id: \"cheap:free\"\n{channel}keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n{extra}",
        provider("primary", mock, "connect: 1s, first_byte: 5s, idle: 5s")
    )
}

async fn start(mock: &MockUpstream, extra: &str) -> Gateway {
    Gateway::launch(&yaml(mock.addr(), extra), &Launch { admin: &format!(", token: {ADMIN_TOKEN}"), ..Launch::default() }).await
}

async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// An admin API call: status and JSON body (`Null` when empty).
async fn admin(gw: &Gateway, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("http://{}{path}", gw.admin)).bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// Creates an account with `limits` and returns its id.
async fn account(gw: &Gateway, limits: Value) -> String {
    let (status, body) =
        admin(gw, reqwest::Method::POST, "/admin/v1/accounts", Some(json!({"name": "team", "limits": limits}))).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Creates a key of `account` and returns `(id, secret)`.
async fn key(gw: &Gateway, account: &str, body: Value) -> (String, String) {
    let (status, body) = admin(gw, reqwest::Method::POST, &format!("/admin/v1/accounts/{account}/keys"), Some(body)).await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
}

/// A generation request in `client`'s protocol against the gateway at `base`.
async fn send(c: &reqwest::Client, base: &str, client: Client, key: &str, model: &str, stream: bool) -> reqwest::Response {
    let req = match client {
        Client::OpenAi => c
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hello there"}]})),
        Client::Anthropic => {
            c.post(format!("{base}/v1/messages")).header("x-api-key", key).header("anthropic-version", "2023-06-01").json(
                &json!({"model": model, "stream": stream, "max_tokens": 64, "messages": [{"role": "user", "content": "Hello"}]}),
            )
        }
        Client::Gemini => {
            let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
            c.post(format!("{base}/v1beta/models/{model}:{method}"))
                .header("x-goog-api-key", key)
                .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}))
        }
    };
    req.send().await.unwrap()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// `(limit, remaining, reset)` from the `X-RateLimit-*` headers.
fn rate(resp: &reqwest::Response) -> (Option<u64>, Option<u64>, Option<u64>) {
    (header(resp, "x-ratelimit-limit"), header(resp, "x-ratelimit-remaining"), header(resp, "x-ratelimit-reset"))
}

/// Asserts the error is `status` in `client`'s own envelope with the given type, and returns it.
async fn assert_envelope(
    resp: reqwest::Response,
    client: Client,
    status: u16,
    openai: &str,
    anthropic: &str,
    gemini: &str,
) -> Value {
    assert_eq!(resp.status().as_u16(), status, "{client:?}");
    let body: Value = resp.json().await.unwrap();
    match client {
        Client::OpenAi => assert_eq!(body["error"]["type"], openai, "{body}"),
        Client::Anthropic => {
            assert_eq!(body["type"], "error", "{body}");
            assert_eq!(body["error"]["type"], anthropic, "{body}");
        }
        Client::Gemini => {
            assert_eq!(body["error"]["code"], status, "{body}");
            assert_eq!(body["error"]["status"], gemini, "{body}");
        }
    }
    body
}

/// Polls `f` until it holds or `within` passes; returns how long it took.
async fn within(within: Duration, what: &str, mut f: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if f().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what} did not happen within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_apis_authenticate_and_are_revoked() {
    let mock = mock().await;
    let gw = start(&mock, "").await;
    let c = reqwest::Client::new();
    let base = gw.url("");

    // The admin API needs its token.
    let denied = c.post(format!("http://{}/admin/v1/accounts", gw.admin)).json(&json!({"name": "x"})).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let acct = account(&gw, json!({})).await;
    let (_, secret) = key(&gw, &acct, json!({"name": "first"})).await;
    assert!(secret.starts_with("sk-sy-"));

    // The new key works in every protocol; the config key still works; unknown keys are 401.
    for client in [Client::OpenAi, Client::Anthropic, Client::Gemini] {
        assert_eq!(send(&c, &base, client, &secret, "public-model", false).await.status(), 200, "{client:?}");
        let unknown = send(&c, &base, client, "sk-sy-not-a-key", "public-model", false).await;
        assert_envelope(unknown, client, 401, "authentication_error", "authentication_error", "UNAUTHENTICATED").await;
    }
    assert_eq!(send(&c, &base, Client::OpenAi, KEY, "public-model", false).await.status(), 200);

    // The client key API: the key sees its own account's keys, creates and revokes one.
    let listed: Value = c.get(gw.url("/v1/account/keys")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert!(!listed.to_string().contains(&secret), "no secret is listed");
    let created = c.post(gw.url("/api/v1/keys")).bearer_auth(&secret).json(&json!({"name": "second"})).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let (second_id, second) = (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned());
    assert_eq!(send(&c, &base, Client::OpenAi, &second, "public-model", false).await.status(), 200);
    let config_key = c.get(gw.url("/v1/account/keys")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(config_key.status(), 403, "a config key has no account to manage");
    let anonymous = c.get(gw.url("/v1/account/keys")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let revoked = c.delete(gw.url(&format!("/v1/account/keys/{second_id}"))).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(revoked.status(), 204);
    within(Duration::from_secs(1), "revocation", async || {
        send(&c, &base, Client::OpenAi, &second, "public-model", false).await.status() == 401
    })
    .await;
    let body = assert_envelope(
        send(&c, &base, Client::Anthropic, &second, "public-model", false).await,
        Client::Anthropic,
        401,
        "",
        "authentication_error",
        "",
    )
    .await;
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"), "{body}");
    assert_eq!(send(&c, &base, Client::OpenAi, &secret, "public-model", false).await.status(), 200, "the first key still works");

    // A suspended account's keys are refused.
    let (status, _) =
        admin(&gw, reqwest::Method::PATCH, &format!("/admin/v1/accounts/{acct}"), Some(json!({"status": "suspended"}))).await;
    assert_eq!(status, 200);
    assert_eq!(send(&c, &base, Client::OpenAi, &secret, "public-model", false).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_restricted_to_models_gets_403_in_its_own_envelope() {
    let mock = mock().await;
    let gw = start(&mock, "").await;
    let c = reqwest::Client::new();
    let base = gw.url("");
    let acct = account(&gw, json!({})).await;
    let (_, other) = key(&gw, &acct, json!({"name": "other", "models": ["cheap:free"]})).await;
    let (_, alias) = key(&gw, &acct, json!({"name": "alias", "models": ["vendor/public-model"]})).await;
    for client in [Client::OpenAi, Client::Anthropic, Client::Gemini] {
        let refused = send(&c, &base, client, &other, "public-model", false).await;
        assert_envelope(refused, client, 403, "permission_error", "permission_error", "PERMISSION_DENIED").await;
        assert_eq!(send(&c, &base, client, &alias, "public-model", false).await.status(), 200, "allowed by alias");
    }
    assert_eq!(mock.requests().len(), 3, "refused requests never reach the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_admits_exactly_the_limit_then_429_with_headers() {
    let mock = mock().await;
    let gw = start(&mock, "").await;
    let c = reqwest::Client::new();
    let base = gw.url("");
    let acct = account(&gw, json!({"rpm": 100})).await;
    let (_, secret) = key(&gw, &acct, json!({"name": "tight", "limits": {"rpm": 3}})).await;

    let plan = [(Client::OpenAi, false), (Client::Gemini, true), (Client::Anthropic, false)];
    for (i, (client, stream)) in plan.into_iter().enumerate() {
        let resp = send(&c, &base, client, &secret, "public-model", stream).await;
        assert_eq!(resp.status(), 200, "{client:?}");
        let (limit, remaining, reset) = rate(&resp);
        assert_eq!((limit, remaining), (Some(3), Some(2 - i as u64)), "{client:?} stream={stream}");
        assert!(reset.is_some_and(|r| (1..=60).contains(&r)), "{reset:?}");
        resp.bytes().await.unwrap();
    }
    for (client, stream) in [(Client::OpenAi, true), (Client::Anthropic, false), (Client::Gemini, false)] {
        let resp = send(&c, &base, client, &secret, "public-model", stream).await;
        let retry = header(&resp, "retry-after");
        assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "Retry-After {retry:?}");
        let (limit, remaining, reset) = rate(&resp);
        assert_eq!((limit, remaining, reset), (Some(3), Some(0), retry));
        let body = assert_envelope(resp, client, 429, "rate_limit_error", "rate_limit_error", "RESOURCE_EXHAUSTED").await;
        assert!(body.to_string().contains("rpm"), "{body}");
    }
    assert_eq!(mock.requests().len(), 3, "only admitted requests reach the upstream");
    // Operator keys have no limits and no headers.
    let operator = send(&c, &base, Client::OpenAi, KEY, "public-model", false).await;
    assert_eq!((operator.status().as_u16(), rate(&operator).0), (200, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_models_hold_every_account_to_the_free_tier() {
    let mock = mock().await;
    let gw = start(&mock, "free_tier: { rpm: 2, rpd: 50 }\n").await;
    let c = reqwest::Client::new();
    let base = gw.url("");
    let acct = account(&gw, json!({})).await;
    let (_, a) = key(&gw, &acct, json!({"name": "a"})).await;
    let (_, b) = key(&gw, &acct, json!({"name": "b"})).await;
    for secret in [&a, &b] {
        let resp = send(&c, &base, Client::OpenAi, secret, "cheap:free", false).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(rate(&resp).0, Some(2), "the free tier's rpm is the tightest");
    }
    let refused = send(&c, &base, Client::OpenAi, &a, "cheap:free", false).await;
    assert_eq!(refused.status(), 429, "the free tier counts per account, over both keys");
    assert!(header(&refused, "retry-after").is_some());
    let paid = send(&c, &base, Client::OpenAi, &a, "public-model", false).await;
    assert_eq!((paid.status().as_u16(), rate(&paid).0), (200, None), "other models are not held to it");
    let other = account(&gw, json!({})).await;
    let (_, c2) = key(&gw, &other, json!({"name": "c"})).await;
    assert_eq!(send(&c, &base, Client::OpenAi, &c2, "cheap:free", false).await.status(), 200, "another account has its own");
}

// ---- two gateways on one Redis ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_on_one_redis_admit_exactly_the_limits() {
    let Some(redis) = Redis::start() else { return };
    two_gateways_admit_exactly_the_limits(&format!("redis://127.0.0.1:{}/", redis.port)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gateways_on_a_redis_cluster_admit_exactly_the_limits() {
    let Some(cluster) = RedisCluster::start() else { return };
    two_gateways_admit_exactly_the_limits(&cluster.url()).await;
}

/// Two gateway processes on the store at `store_url`: 1,200 concurrent requests over six keys
/// of two accounts, every inbound protocol, stream and not; then a revocation crossing over.
async fn two_gateways_admit_exactly_the_limits(store_url: &str) {
    let mock = mock().await;
    // A generous call timeout: this test is about exactness under load on a busy test machine,
    // not outages (a timed-out admission would be admitted unchecked, fail-open).
    let store = format!("store: \"{store_url}\"\nstore_options: {{ timeout: 3s }}\n");
    let (a, b) = tokio::join!(start(&mock, &store), start(&mock, &store));

    // Account one: 60 rpm over four keys, one of which has its own 10 rpm. Account two: 40 rpm.
    let one = account(&a, json!({"rpm": 60})).await;
    let two = account(&b, json!({"rpm": 40})).await;
    let mut keys = vec![key(&a, &one, json!({"name": "capped", "limits": {"rpm": 10}})).await.1];
    for name in ["k1", "k2", "k3"] {
        keys.push(key(&a, &one, json!({"name": name})).await.1);
    }
    for name in ["k4", "k5"] {
        keys.push(key(&b, &two, json!({"name": name})).await.1);
    }

    let clients = [Client::OpenAi, Client::Anthropic, Client::Gemini];
    let (base_a, base_b) = (a.url(""), b.url(""));
    let c = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let sent = 1200;
    let n = keys.len();
    let started = Instant::now();
    let tasks: Vec<_> = (0..sent)
        .map(|i| {
            let (c, key) = (c.clone(), keys[i % n].clone());
            let base = if i % 2 == 0 { base_a.clone() } else { base_b.clone() };
            let (client, stream) = (clients[i % 3], i % 4 < 2);
            tokio::spawn(async move {
                let resp = send(&c, &base, client, &key, "public-model", stream).await;
                let status = resp.status().as_u16();
                let headed = rate(&resp).0.is_some() && (status != 429 || header(&resp, "retry-after").is_some());
                resp.bytes().await.unwrap();
                (i % n, status, headed)
            })
        })
        .collect();
    let mut admitted_by_key = [0usize; 6];
    let mut refused = 0;
    for t in tasks {
        let (k, status, headed) = t.await.unwrap();
        assert!(headed, "every answer carries X-RateLimit-* (and Retry-After on 429); not this {status}");
        match status {
            200 => admitted_by_key[k] += 1,
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let elapsed = started.elapsed();
    let one_admitted: usize = admitted_by_key[..4].iter().sum();
    let two_admitted: usize = admitted_by_key[4..].iter().sum();
    eprintln!("{sent} requests over two gateways in {elapsed:?}: admitted {admitted_by_key:?}, refused {refused}");
    assert_eq!(one_admitted, 60, "account one admits exactly its rpm across both gateways");
    assert!(admitted_by_key[0] <= 10, "the capped key stays within its own rpm");
    assert_eq!(two_admitted, 40, "account two admits exactly its rpm across both gateways");
    assert_eq!(refused, sent - one_admitted - two_admitted);
    assert_eq!(mock.requests().len(), 100, "only admitted requests reach the upstream");

    // A key revoked on one gateway is refused on the other within a second (its key cache TTL).
    let fresh = account(&a, json!({})).await;
    let (id, secret) = key(&a, &fresh, json!({"name": "short-lived"})).await;
    assert_eq!(send(&c, &base_b, Client::OpenAi, &secret, "public-model", false).await.status(), 200);
    let (status, _) = admin(&a, reqwest::Method::DELETE, &format!("/admin/v1/keys/{id}"), None).await;
    assert_eq!(status, 204);
    let took = within(Duration::from_millis(1200), "revocation on the other gateway", async || {
        send(&c, &base_b, Client::Gemini, &secret, "public-model", false).await.status() == 401
    })
    .await;
    eprintln!("revocation reached the other gateway after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpm_is_estimated_at_admission_and_settled_to_the_reported_usage() {
    let mock = mock().await;
    let gw = start(&mock, "").await;
    let acct = account(&gw, json!({})).await;
    let (_, secret) = key(&gw, &acct, json!({"name": "tokens", "limits": {"tpm": 1000}})).await;
    let c = reqwest::Client::new();
    let body = json!({"model": "public-model", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello there"}]});
    let call = async || {
        let resp = c.post(gw.url("/v1/chat/completions")).bearer_auth(&secret).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let (limit, remaining, _) = rate(&resp);
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        let answer: Value = resp.json().await.unwrap();
        (limit, remaining.unwrap(), answer["usage"]["total_tokens"].as_u64().unwrap(), id)
    };
    let (limit, first, used, id) = call().await;
    assert_eq!(limit, Some(1000));
    let estimate = 1000 - first;
    assert!(estimate > 100, "the estimate counts the prompt and the output cap: {estimate}");
    assert_ne!(used, estimate, "the mock's usage differs from the estimate, so settlement shows");
    // The access record is written after settlement: once it is there, the counter is corrected.
    gw.access_record(&id).await;
    let (_, second, _, _) = call().await;
    assert_eq!(second, 1000 - used - estimate, "the first request now counts its reported usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_follows_the_configured_fail_modes() {
    let mock = mock().await;
    let dead = free_addr().port();
    // A config account and its key: authenticating it needs no store, admitting it does.
    let extra = |mode: &str| {
        format!(
            "  - {{ name: member, key: \"sk-member-key\", account: team }}\naccounts:\n  - {{ id: team, limits: {{ rpm: 5 }} }}\nstore: \"redis://127.0.0.1:{dead}/\"\nstore_options: {{ timeout: 200ms, limits_on_outage: {mode} }}\n"
        )
    };
    let (open_yaml, closed_yaml) = (extra("open"), extra("closed"));
    let (open, closed) = tokio::join!(start(&mock, &open_yaml), start(&mock, &closed_yaml));
    let c = reqwest::Client::new();
    for (gw, expected) in [(&open, 200), (&closed, 503)] {
        let started = Instant::now();
        let resp = send(&c, &gw.url(""), Client::Anthropic, "sk-member-key", "public-model", false).await;
        assert!(started.elapsed() < Duration::from_secs(2), "no request hangs on a dead store");
        assert_eq!(resp.status().as_u16(), expected);
        assert_eq!(rate(&resp).0, None, "no figures without the store");
        if expected == 503 {
            let body = assert_envelope(resp, Client::Anthropic, 503, "", "overloaded_error", "").await;
            assert!(body.to_string().contains("retry"), "{body}");
        }
        // A store key cannot be checked at all: 503, not 401.
        let unknown = send(&c, &gw.url(""), Client::OpenAi, "sk-sy-unknown", "public-model", false).await;
        assert_eq!(unknown.status(), 503);
    }
}

// ---- Redis stopped and started under load ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_and_started_mid_load_follows_the_declared_modes() {
    let Some(mut redis) = Redis::start() else { return };
    let mock = mock().await;
    // Config keys of a config account: they authenticate without Redis; the account's limits
    // are counted in Redis. One gateway fails open, the other closed.
    let store = |mode: &str| {
        format!(
            "store: \"redis://127.0.0.1:{}/\"\nstore_options: {{ timeout: 200ms, breaker_cooldown: 300ms, limits_on_outage: {mode} }}\n\
             accounts: [ {{ id: team, limits: {{ rpm: 100000 }} }} ]\n",
            redis.port
        )
    };
    let with_key = |extra: String| {
        yaml(mock.addr(), &extra).replace("keys:\n", "keys:\n  - { name: member, key: sk-member-key, account: team }\n")
    };
    let (open_yaml, closed_yaml) = (with_key(store("open")), with_key(store("closed")));
    let (open, closed) = tokio::join!(Gateway::start(&open_yaml), Gateway::start(&closed_yaml));
    let c = reqwest::Client::new();
    let (open_base, closed_base) = (open.url(""), closed.url(""));

    let load = |base: String| {
        let c = c.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let until = Instant::now() + Duration::from_secs(4);
            while Instant::now() < until {
                let started = Instant::now();
                let resp = send(&c, &base, Client::OpenAi, "sk-member-key", "public-model", false).await;
                let status = resp.status().as_u16();
                let remaining = rate(&resp).1;
                let body = resp.text().await.unwrap();
                seen.push((status, started.elapsed(), remaining, body));
            }
            seen
        })
    };
    let (open_load, closed_load) = (load(open_base.clone()), load(closed_base.clone()));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.launch();
    let (open_seen, closed_seen) = (open_load.await.unwrap(), closed_load.await.unwrap());

    for (name, seen) in [("open", &open_seen), ("closed", &closed_seen)] {
        let slowest = seen.iter().map(|s| s.1).max().unwrap();
        assert!(slowest < Duration::from_millis(1500), "{name}: a request hung for {slowest:?}");
        assert!(seen.len() > 20, "{name}: the load ran ({} requests)", seen.len());
    }
    // Fail-open: every request answered; fail-closed: 200 or 503 store_unavailable, and some of
    // each, since Redis was down for a while in the middle.
    assert!(open_seen.iter().all(|s| s.0 == 200), "{:?}", open_seen.iter().map(|s| s.0).collect::<Vec<_>>());
    let refused: Vec<_> = closed_seen.iter().filter(|s| s.0 != 200).collect();
    assert!(!refused.is_empty(), "fail-closed refused nothing while Redis was down");
    assert!(refused.iter().all(|s| s.0 == 503 && s.3.contains("store_unavailable")), "{:?}", refused.first());
    assert!(closed_seen.last().is_some_and(|s| s.0 == 200), "fail-closed admits again once Redis is back");

    // Once Redis is back, each request is counted exactly once: the remaining allowance of the
    // account goes down by one per request, across both gateways.
    let remaining = |resp: &reqwest::Response| rate(resp).1.unwrap();
    let r1 = send(&c, &open_base, Client::OpenAi, "sk-member-key", "public-model", false).await;
    let r2 = send(&c, &closed_base, Client::OpenAi, "sk-member-key", "public-model", false).await;
    let r3 = send(&c, &open_base, Client::OpenAi, "sk-member-key", "public-model", false).await;
    assert_eq!((remaining(&r1) - remaining(&r2), remaining(&r2) - remaining(&r3)), (1, 1));
}
