//! The billing proof: 1,200 concurrent mixed requests (OpenAI, Anthropic and Gemini clients,
//! stream and not, abandoned by the client, broken upstream streams, failed over, over a rate
//! limit, over the balance, cache and reasoning usage from the mock) through two gateways on one
//! real `redis-server` (and through one gateway on the memory store). Afterwards, to the unit:
//!
//! - Σ usage entries that came from reported usage = Σ price × usage as the mock reported it;
//! - every estimated entry is price × its own token counts (prompt + delivered output);
//! - each account's ledger chains (balance_after = previous + amount), never below zero, and
//!   ends at its balance: start + Σ credits − Σ charges; no reservation is left;
//! - every credit, and (on Redis) every settlement, replayed twice changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::redis::Redis;
use common::Gateway;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::config::{Money, StoreConfig, StoreOptions};
use switchyard::mock::{Faults, MockUpstream};
use switchyard::store::{Charge, EntryKind, LedgerEntry, Settled};

const REQUESTS: usize = 1200;

/// Prices in 10^-12 USD per token (micro-USD per 1M), and per request.
const INPUT: i128 = 2_500_000;
const OUTPUT: i128 = 10_000_000;
const CACHE_READ: i128 = 1_250_000;
const REASONING: i128 = 40_000_000;
const PER_REQUEST: i128 = 50_000_000;

fn price(prompt: i128, completion: i128, cached: i128, reasoning: i128) -> i128 {
    (prompt - cached) * INPUT + cached * CACHE_READ + (completion - reasoning) * OUTPUT + reasoning * REASONING + PER_REQUEST
}

fn yaml(ok: std::net::SocketAddr, down: std::net::SocketAddr, store: &str) -> String {
    let t = "timeouts: { connect: 2s, first_byte: 20s, idle: 20s }";
    format!(
        r#"{store}providers:
  - {{ name: ok, protocol: openai, base_url: "http://{ok}/v1", api_key: k, {t} }}
  - {{ name: down, protocol: openai, base_url: "http://{down}/v1", api_key: k, {t} }}
models:
  - id: m
    max_output_tokens: 200
    price: {{ input: 2.5, output: 10, cache_read: 1.25, reasoning: 40, per_request: 0.00005 }}
    channels: [ {{ provider: ok, model: up }} ]
  - id: m-failover
    max_output_tokens: 200
    price: {{ input: 2.5, output: 10, cache_read: 1.25, reasoning: 40, per_request: 0.00005 }}
    channels: [ {{ provider: down, model: up, priority: 0 }}, {{ provider: ok, model: up, priority: 1 }} ]
accounts:
  - {{ id: team, billing: prepaid }}
  - {{ id: poor, billing: prepaid }}
keys:
  - {{ name: payer, key: sk-payer, account: team }}
  - {{ name: limited, key: sk-limited, account: team, limits: {{ rpm: 40 }} }}
  - {{ name: poor, key: sk-poor, account: poor }}
"#
    )
}

/// What one request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered,
    Abandoned,
    Broken,
    Status(u16),
    /// The connection failed (only in the fault run, where an instance is killed).
    Failed,
}

/// Request `i` of the mix, sent to the gateway at `addr`.
async fn one(client: &reqwest::Client, addr: std::net::SocketAddr, i: usize) -> Outcome {
    let url = |path: &str| format!("http://{addr}{path}");
    let key = match i % 10 {
        9 => "sk-limited",
        8 => "sk-poor",
        _ => "sk-payer",
    };
    let model = if i.is_multiple_of(7) { "m-failover" } else { "m" };
    let stream = (i / 3) % 2 == 1;
    let text = format!("Please echo request number {i} back to me");
    let abandon = stream && i.is_multiple_of(3) && i.is_multiple_of(11);
    let cut = stream && i.is_multiple_of(3) && i.is_multiple_of(13) && !abandon;
    let req =
        match i % 3 {
            0 => {
                let mut mock = json!({"cached_tokens": i % 5, "reasoning_tokens": i % 4});
                if abandon {
                    // Slow enough that the client is gone long before the stream ends, even on a loaded machine.
                    mock["chunk_delay_ms"] = json!(250);
                }
                if cut {
                    mock["cut_after_events"] = json!(2);
                }
                client.post(url("/v1/chat/completions")).bearer_auth(key).json(&json!({
                    "model": model, "stream": stream, "mock": mock,
                    "messages": [{"role": "user", "content": text}],
                }))
            }
            1 => client.post(url("/v1/messages")).header("x-api-key", key).header("anthropic-version", "2023-06-01").json(
                &json!({"model": model, "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": text}]}),
            ),
            _ => {
                let path = if stream {
                    format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
                } else {
                    format!("/v1beta/models/{model}:generateContent")
                };
                client
                    .post(url(&path))
                    .header("x-goog-api-key", key)
                    .json(&json!({"contents": [{"role": "user", "parts": [{"text": text}]}]}))
            }
        };
    let Ok(mut resp) = req.send().await else { return Outcome::Failed };
    let status = resp.status().as_u16();
    if status != 200 {
        return Outcome::Status(status);
    }
    if abandon {
        return match resp.chunk().await {
            Ok(Some(_)) => Outcome::Abandoned,
            _ => Outcome::Failed,
        };
    }
    let Ok(body) = resp.text().await else { return Outcome::Failed };
    if cut {
        return Outcome::Broken;
    }
    assert!(!body.contains("\"error\""), "request {i} failed in-stream: {body}");
    Outcome::Answered
}

async fn admin_get(gw: &Gateway, path: &str) -> Value {
    reqwest::get(format!("http://{}{path}", gw.admin)).await.unwrap().json().await.unwrap()
}

async fn credit(gw: &Gateway, account: &str, key: &str, amount: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/admin/v1/accounts/{account}/credit", gw.admin))
        .header("idempotency-key", key)
        .body(format!(r#"{{"amount":"{amount}","reason":"proof"}}"#))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The price of an entry's own token counts.
fn entry_price(e: &Value) -> i128 {
    let t = &e["tokens"];
    let n = |k: &str| i128::from(t[k].as_i64().unwrap());
    price(n("prompt"), n("completion"), n("cache_read"), n("reasoning"))
}

fn units(text: &Value) -> i128 {
    Money::parse_usd(text.as_str().unwrap()).unwrap().units()
}

/// Every ledger entry of `account` (pages of 1000).
async fn ledger(gw: &Gateway, account: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let page = admin_get(gw, &format!("/admin/v1/accounts/{account}/ledger?offset={}&limit=1000", all.len())).await;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            return all;
        }
        all.extend(data);
    }
}

/// Runs the whole mix through `gateways` (all on one store) and checks every equality.
async fn proof(gateways: Vec<Gateway>, ok: &MockUpstream, replay_store: Option<switchyard::store::Store>) {
    let gws = Arc::new(gateways);
    let g0 = &gws[0];
    let mut credits: Vec<(&str, &str, &str)> = vec![("team", "start-team", "100.00"), ("poor", "start-poor", "0.03")];
    for (account, key, amount) in &credits {
        assert_eq!(credit(g0, account, key, amount).await.0, 201);
    }
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let (gws, client) = (gws.clone(), client.clone());
            let addr = gws[i % gws.len()].addr;
            tokio::spawn(async move { one(&client, addr, i).await })
        })
        .collect();
    // A credit while the load runs.
    assert_eq!(credit(&gws[gws.len() - 1], "team", "mid-team", "5.5").await.0, 201);
    credits.push(("team", "mid-team", "5.5"));
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
    let (answered, abandoned, broken) = (count(Outcome::Answered), count(Outcome::Abandoned), count(Outcome::Broken));
    let (no_balance, limited) = (count(Outcome::Status(402)), count(Outcome::Status(429)));
    eprintln!("answered {answered}, abandoned {abandoned}, broken {broken}, 402 {no_balance}, 429 {limited}");
    assert_eq!(answered + abandoned + broken + no_balance + limited, REQUESTS, "{outcomes:?}");
    assert!(abandoned > 0 && broken > 0 && no_balance > 0 && limited > 0);

    // Every reservation is settled (abandoned streams are read on to their usage).
    let deadline = Instant::now() + Duration::from_secs(60);
    for account in ["team", "poor"] {
        loop {
            let b = admin_get(g0, &format!("/admin/v1/accounts/{account}/balance")).await;
            if b["reserved"] == "0.00" {
                break;
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = gws
                    .iter()
                    .flat_map(|g| {
                        g.log()
                            .lines()
                            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .take(30)
                    .collect();
                panic!("reservations left: {b}\n{}", logs.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (mut usage_sum, mut estimated, mut aborted) = (0i128, 0usize, 0usize);
    for account in ["team", "poor"] {
        let entries = ledger(g0, account).await;
        let mut running = 0i128;
        let mut credited = 0i128;
        for e in &entries {
            let amount = units(&e["amount"]);
            running += amount;
            assert_eq!(units(&e["balance_after"]), running, "the ledger chains: {e}");
            assert!(running >= 0, "never below zero: {e}");
            assert_eq!(e["capped"], false, "no charge ran past its reservation: {e}");
            match e["type"].as_str() {
                Some("credit") => credited += amount,
                Some("usage") if e["estimated"] == true => {
                    estimated += 1;
                    let t = &e["tokens"];
                    let own = price(t["prompt"].as_i64().unwrap().into(), t["completion"].as_i64().unwrap().into(), 0, 0);
                    assert_eq!(-amount, own, "an estimate is the price of its own counts: {e}");
                }
                Some("usage") => {
                    usage_sum -= amount;
                    aborted += usize::from(e["aborted"] == true);
                    assert_eq!(-amount, entry_price(e), "a charge is the price of its token counts: {e}");
                }
                other => panic!("unexpected entry type {other:?}"),
            }
        }
        let expected: i128 = credits
            .iter()
            .filter(|(a, _, _)| *a == account)
            .map(|(_, _, amount)| Money::parse_usd(amount).unwrap().units())
            .sum();
        assert_eq!(credited, expected, "{account}: every credit once");
        let b = admin_get(g0, &format!("/admin/v1/accounts/{account}/balance")).await;
        assert_eq!(units(&b["balance"]), running, "{account}: balance = start + credits − charges");
    }
    let reported_sum = reported_at_least(ok, usage_sum).await;
    assert_eq!(usage_sum, reported_sum, "Σ usage entries = Σ price × usage the mock reported, to the unit");
    assert_eq!(estimated, broken, "every broken stream is estimated");
    // A client that leaves after the last bytes were already handed to its socket is not noticed
    // (the stream simply completes); every one noticed is billed from its usage (Σ above).
    assert!(aborted > 0 && aborted <= abandoned, "{aborted} of {abandoned} abandoned streams noticed");

    // Replays change nothing.
    let before: Vec<Value> = [ledger(g0, "team").await, ledger(g0, "poor").await].concat();
    for (account, key, amount) in &credits {
        for _ in 0..2 {
            let (status, body) = credit(&gws[gws.len() - 1], account, key, amount).await;
            assert_eq!(status, 201);
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["id"], before.iter().find(|e| e["reason"] == "proof" && e["amount"] == v["amount"]).unwrap()["id"]);
        }
    }
    if let Some(store) = replay_store {
        for account in ["team", "poor"] {
            let (entries, _) = store.billing.ledger(account, 0, 100_000).await.unwrap();
            for e in entries.iter().filter(|e| e.kind == EntryKind::Usage) {
                for _ in 0..2 {
                    let charge = Charge {
                        account_id: account.into(),
                        request_id: e.id.clone(),
                        key_id: e.key_id.clone().unwrap_or_default(),
                        month: switchyard::store::billing::month_of(e.at_ms),
                        entry: Some(LedgerEntry { amount: Money::ZERO - e.amount, ..e.clone() }),
                    };
                    assert_eq!(store.billing.settle_charge(&charge).await.unwrap(), Settled::Replayed);
                }
            }
        }
    }
    let after: Vec<Value> = [ledger(g0, "team").await, ledger(g0, "poor").await].concat();
    assert_eq!(before, after, "replayed credits and settlements changed nothing");
}

/// Σ price × usage the mock reported, once it reaches `target` or after 5 s: the mock records a
/// stream's usage on its own task just after writing it, which on a loaded machine can trail the
/// gateway's settlement by a moment.
async fn reported_at_least(mock: &MockUpstream, target: i128) -> i128 {
    let sum = || -> i128 {
        mock.reported_usage()
            .iter()
            .map(|u| price(u.prompt_tokens.into(), u.completion_tokens.into(), u.cached_tokens.into(), u.reasoning_tokens.into()))
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while sum() < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sum()
}

async fn mocks() -> (MockUpstream, MockUpstream) {
    let ok = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let down = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    down.set_faults(Faults { status: Some(503), ..Faults::default() });
    ok.set_recording(false);
    down.set_recording(false);
    (ok, down)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn billing_proof_on_redis_with_two_gateways() {
    let Some(redis) = Redis::start() else { return };
    let (ok, down) = mocks().await;
    let store = format!("store: \"redis://127.0.0.1:{}/\"\nstore_options: {{ timeout: 3s }}\n", redis.port);
    let a = Gateway::start(&yaml(ok.addr(), down.addr(), &store)).await;
    let b = Gateway::start(&yaml(ok.addr(), down.addr(), &store)).await;
    let options = StoreOptions { timeout: Duration::from_secs(3), ..StoreOptions::default() };
    let replay = switchyard::store::open(&StoreConfig::Redis(redis.url()), &options).unwrap();
    proof(vec![a, b], &ok, Some(replay)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn billing_proof_on_memory() {
    let (ok, down) = mocks().await;
    let gw = Gateway::start(&yaml(ok.addr(), down.addr(), "")).await;
    proof(vec![gw], &ok, None).await;
}

/// The fault run: one instance killed with SIGKILL mid-load and started again, Redis (persisting
/// to disk) restarted under load. Requests in flight on the killed instance are lost with it (their
/// reservations expire after the short TTL); everything that was settled still adds up exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn billing_survives_a_killed_instance_and_a_redis_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut redis) = Redis::start_persistent(dir.path()) else { return };
    let (ok, down) = mocks().await;
    let store = format!(
        "store: \"redis://127.0.0.1:{}/\"\nstore_options: {{ timeout: 1s, breaker_cooldown: 200ms }}\nbilling: {{ reservation_ttl: 3s }}\n",
        redis.port
    );
    let config = yaml(ok.addr(), down.addr(), &store);
    let a = Gateway::start(&config).await;
    let mut b = Gateway::start(&config).await;
    assert_eq!(credit(&a, "team", "start-team", "100.00").await.0, 201);
    assert_eq!(credit(&a, "poor", "start-poor", "0.03").await.0, 201);
    let client = reqwest::Client::new();
    let wave = |addrs: [std::net::SocketAddr; 2], from: usize, n: usize| {
        (from..from + n)
            .map(|i| {
                let client = client.clone();
                let addr = addrs[i % 2];
                tokio::spawn(async move { one(&client, addr, i).await })
            })
            .collect::<Vec<_>>()
    };
    let first = wave([a.addr, b.addr], 0, 600);
    tokio::time::sleep(Duration::from_millis(400)).await;
    b.kill();
    let b2 = Gateway::start(&config).await;
    let mut outcomes = Vec::new();
    for t in first {
        outcomes.push(t.await.unwrap());
    }
    let second = wave([a.addr, b2.addr], 600, 600);
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.launch();
    for t in second {
        outcomes.push(t.await.unwrap());
    }
    let failed = outcomes.iter().filter(|o| **o == Outcome::Failed).count();
    let unavailable = outcomes.iter().filter(|o| **o == Outcome::Status(503)).count();
    eprintln!("fault run: {failed} cut off with the killed instance, {unavailable} refused while Redis restarted");

    // Reservations of the killed instance expire; settlements missed during the restart are retried.
    let deadline = Instant::now() + Duration::from_secs(90);
    for account in ["team", "poor"] {
        loop {
            let b = reqwest::get(format!("http://{}/admin/v1/accounts/{account}/balance", a.admin)).await.unwrap();
            let b: Value = b.json().await.unwrap_or(Value::Null);
            if b["reserved"] == "0.00" {
                break;
            }
            assert!(Instant::now() < deadline, "reservations left: {b}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut usage_sum = 0i128;
    for (account, start) in [("team", "100.00"), ("poor", "0.03")] {
        let mut running = 0i128;
        for e in ledger(&a, account).await {
            let amount = units(&e["amount"]);
            running += amount;
            assert_eq!(units(&e["balance_after"]), running, "the ledger chains: {e}");
            assert!(running >= 0, "never below zero: {e}");
            match e["type"].as_str() {
                Some("credit") => assert_eq!(amount, Money::parse_usd(start).unwrap().units(), "each credit once"),
                Some("usage") if e["estimated"] == false => {
                    usage_sum -= amount;
                    assert_eq!(-amount, entry_price(&e), "a charge is the price of its token counts: {e}");
                }
                _ => {}
            }
        }
        let b: Value = reqwest::get(format!("http://{}/admin/v1/accounts/{account}/balance", b2.admin))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(units(&b["balance"]), running, "{account}: balance = start + credits − charges");
    }
    assert!(usage_sum <= reported_at_least(&ok, usage_sum).await, "never more than the upstream reported");
    assert!(usage_sum > 0);
    assert_eq!(credit(&b2, "team", "start-team", "100.00").await.0, 201, "a replayed credit after the restarts");
    let again: Value = reqwest::get(format!("http://{}/admin/v1/accounts/team/ledger?limit=1", a.admin))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["data"][0]["amount"], "100.00");
}
