//! Prepaid billing through the real gateway: reservations, charges in the usage headers and the
//! ledger, 402 in every envelope, the spend cap, and the settlement rules (failed and failed-over
//! attempts cost nothing, an abandoned stream is billed from its usage, a broken one estimated).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Gateway;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchyard::mock::{Faults, MockUpstream};

const PAYER: &str = "sk-payer";
const POOR: &str = "sk-poor";
const CAPPED: &str = "sk-capped";
const OPS: &str = "sk-ops";

/// Prices of `m` in 10^-12 USD per token (micro-USD per 1M): input 3, output 15, cache read 0.3,
/// reasoning 60; and $0.0001 per request.
const INPUT: i128 = 3_000_000;
const OUTPUT: i128 = 15_000_000;
const CACHE_READ: i128 = 300_000;
const REASONING: i128 = 60_000_000;
const PER_REQUEST: i128 = 100_000_000;

fn yaml(ok: std::net::SocketAddr, down: std::net::SocketAddr) -> String {
    format!(
        r#"providers:
  - {{ name: ok, protocol: openai, base_url: "http://{ok}/v1", api_key: k, timeouts: {{ connect: 1s, first_byte: 5s, idle: 5s }} }}
  - {{ name: down, protocol: openai, base_url: "http://{down}/v1", api_key: k, timeouts: {{ connect: 1s, first_byte: 5s, idle: 5s }} }}
models:
  - id: m
    max_output_tokens: 200
    price: {{ input: 3, output: 15, cache_read: 0.3, reasoning: 60, per_request: 0.0001 }}
    channels: [ {{ provider: ok, model: up }} ]
  - id: m-failover
    max_output_tokens: 200
    price: {{ input: 3, output: 15, cache_read: 0.3, reasoning: 60, per_request: 0.0001 }}
    channels: [ {{ provider: down, model: up, priority: 0 }}, {{ provider: ok, model: up, priority: 1 }} ]
accounts:
  - {{ id: team, billing: prepaid }}
  - {{ id: poor, billing: prepaid }}
keys:
  - {{ name: payer, key: {PAYER}, account: team }}
  - {{ name: capped, key: {CAPPED}, account: team, monthly_spend_cap: "0.01" }}
  - {{ name: poor, key: {POOR}, account: poor }}
  - {{ name: ops, key: {OPS} }}
"#
    )
}

struct Setup {
    ok: MockUpstream,
    gw: Gateway,
    _down: MockUpstream,
}

async fn setup() -> Setup {
    let ok = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let down = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    down.set_faults(Faults { status: Some(503), ..Faults::default() });
    let gw = Gateway::start(&yaml(ok.addr(), down.addr())).await;
    let (status, _) = credit(&gw, "team", "setup", r#"{"amount":"1.00","reason":"test"}"#).await;
    assert_eq!(status, 201);
    Setup { ok, gw, _down: down }
}

async fn credit(gw: &Gateway, account: &str, key: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/admin/v1/accounts/{account}/credit", gw.admin))
        .header("idempotency-key", key)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn ledger(gw: &Gateway, account: &str) -> Vec<Value> {
    let url = format!("http://{}/admin/v1/accounts/{account}/ledger?limit=1000", gw.admin);
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["data"].as_array().cloned().unwrap_or_default()
}

/// The ledger entry of request `id`, waiting for it (settlement follows the answer).
async fn entry(gw: &Gateway, account: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(e) = ledger(gw, account).await.into_iter().find(|e| e["id"] == id) {
            return e;
        }
        assert!(Instant::now() < deadline, "no ledger entry for {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn balance(gw: &Gateway, key: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new().get(gw.url(path)).bearer_auth(key).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn chat(model: &str, extra: Value) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Hello there billing"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn post_chat(gw: &Gateway, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new().post(gw.url("/v1/chat/completions")).bearer_auth(key).json(body).send().await.unwrap()
}

/// `units` of 10^-12 USD as the exact decimal the gateway shows.
fn usd(units: i128) -> String {
    switchyard::config::Money(units).usd()
}

fn cost(prompt: i128, completion: i128, cached: i128, reasoning: i128) -> i128 {
    (prompt - cached) * INPUT + cached * CACHE_READ + (completion - reasoning) * OUTPUT + reasoning * REASONING + PER_REQUEST
}

fn header(resp: &reqwest::Response, name: &str) -> i128 {
    resp.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_prepaid_request_is_charged_exactly_and_shown_everywhere() {
    let s = setup().await;
    let body = chat("m", json!({"mock": {"cached_tokens": 2, "reasoning_tokens": 7}}));
    let resp = post_chat(&s.gw, PAYER, &body).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (p, c) = (header(&resp, "x-switchyard-usage-prompt"), header(&resp, "x-switchyard-usage-completion"));
    assert_eq!((header(&resp, "x-switchyard-usage-cached"), header(&resp, "x-switchyard-usage-reasoning")), (2, 7));
    assert_eq!(header(&resp, "x-switchyard-usage-cache-write"), 0);
    let charge = cost(p, c, 2, 7);
    assert_eq!(resp.headers()["x-switchyard-charge"], usd(charge).as_str());
    let reported = s.ok.reported_usage();
    assert_eq!((reported[0].prompt_tokens, reported[0].completion_tokens), (p as u64, c as u64));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["usage"]["prompt_tokens"], p as u64, "usage stays in the body");

    let e = entry(&s.gw, "team", &id).await;
    let after = 1_000_000_000_000 - charge;
    assert_eq!((e["type"].as_str(), e["amount"].as_str()), (Some("usage"), Some(usd(-charge).as_str())));
    assert_eq!(e["balance_after"], usd(after).as_str());
    assert_eq!((e["model"].as_str(), e["provider"].as_str(), e["key_id"].as_str()), (Some("m"), Some("ok"), Some("cfg:payer")));
    assert_eq!(
        e["tokens"],
        json!({"prompt": p, "completion": c, "cache_read": 2, "cache_write": 0, "reasoning": 7, "images": 0})
    );
    assert_eq!((e["estimated"].as_bool(), e["aborted"].as_bool()), (Some(false), Some(false)));
    assert!(!e.to_string().contains("Hello there"), "no content in the ledger");
    assert_eq!(s.gw.access_record(&id).await["charge"], usd(charge).as_str(), "the access line has the charge");

    for path in ["/v1/account/balance", "/api/v1/balance"] {
        let (status, b) = balance(&s.gw, PAYER, path).await;
        assert_eq!((status, b["balance"].as_str(), b["currency"].as_str()), (200, Some(usd(after).as_str()), Some("USD")));
        assert_eq!(b["reserved"], "0.00");
    }
    for path in ["/v1/account/activity", "/api/v1/transactions"] {
        let (status, a) = balance(&s.gw, PAYER, path).await;
        assert_eq!((status, a["total"].as_u64()), (200, Some(2)));
        assert_eq!(a["data"][1]["id"], id.as_str());
    }
    assert_eq!(balance(&s.gw, OPS, "/v1/account/balance").await.0, 403, "an operator key has no balance");
    let csv = reqwest::get(format!("http://{}/admin/v1/accounts/team/ledger?format=csv", s.gw.admin)).await.unwrap();
    let text = csv.text().await.unwrap();
    assert!(text.lines().nth(2).unwrap().starts_with(&format!("{id},usage,{},", usd(-charge))), "{text}");

    // An operator key is not billed: usage headers, no charge, no ledger entry.
    let resp = post_chat(&s.gw, OPS, &chat("m", json!({}))).await;
    assert!(resp.headers().contains_key("x-switchyard-usage-prompt"));
    assert!(!resp.headers().contains_key("x-switchyard-charge"));

    // A credit replayed answers the first entry; the same key with another body is 409.
    let (status, first) = credit(&s.gw, "team", "k2", r#"{"amount":"0.5"}"#).await;
    assert_eq!((status, first["balance_after"].as_str()), (201, Some(usd(after + 500_000_000_000).as_str())));
    assert_eq!(credit(&s.gw, "team", "k2", r#"{"amount":"0.5"}"#).await, (201, first));
    assert_eq!(credit(&s.gw, "team", "k2", r#"{"amount":"0.6"}"#).await.0, 409);
    assert_eq!(credit(&s.gw, "nobody", "k3", r#"{"amount":"1"}"#).await.0, 404);
    assert_eq!(balance(&s.gw, PAYER, "/v1/account/balance").await.1["balance"], usd(after + 500_000_000_000).as_str());
}

#[tokio::test]
async fn insufficient_balance_is_402_in_every_envelope_and_reaches_no_upstream() {
    let s = setup().await;
    let client = reqwest::Client::new();
    let resp = post_chat(&s.gw, POOR, &chat("m", json!({}))).await;
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("insufficient_balance"), Some("insufficient_balance"))
    );
    let resp = client
        .post(s.gw.url("/v1/messages"))
        .header("x-api-key", POOR)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["type"].as_str(), v["error"]["type"].as_str()), (Some("error"), Some("billing_error")));
    let resp = client
        .post(s.gw.url("/v1beta/models/m:generateContent"))
        .header("x-goog-api-key", POOR)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 402);
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["error"]["code"].as_u64(), v["error"]["status"].as_str()), (Some(402), Some("FAILED_PRECONDITION")));
    assert!(s.ok.requests().is_empty(), "nothing was sent upstream");
    assert!(ledger(&s.gw, "poor").await.is_empty());
}

#[tokio::test]
async fn a_key_over_its_monthly_spend_cap_gets_429() {
    let s = setup().await;
    // Worst case with 200 output tokens at the reasoning price is above the $0.01 cap.
    let resp = post_chat(&s.gw, CAPPED, &chat("m", json!({}))).await;
    assert_eq!(resp.status(), 429);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
        (Some("rate_limit_error"), Some("spend_limit_exceeded"))
    );
    let resp = post_chat(&s.gw, CAPPED, &chat("m", json!({"max_tokens": 10}))).await;
    assert_eq!(resp.status(), 200, "a request whose worst case fits the cap");
}

#[tokio::test]
async fn failed_and_failed_over_attempts_cost_nothing() {
    let s = setup().await;
    let resp = post_chat(&s.gw, PAYER, &chat("m-failover", json!({}))).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let charge = cost(header(&resp, "x-switchyard-usage-prompt"), header(&resp, "x-switchyard-usage-completion"), 0, 0);
    assert_eq!(entry(&s.gw, "team", &id).await["amount"], usd(-charge).as_str(), "only the answering attempt");

    let resp = post_chat(&s.gw, PAYER, &chat("m", json!({"mock": {"status": 500}}))).await;
    assert!(resp.status().is_server_error());
    let failed = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    // The failed request's settlement released its reservation without an entry.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let b = balance(&s.gw, PAYER, "/v1/account/balance").await.1;
        if b["reserved"] == "0.00" {
            assert_eq!(b["balance"], usd(1_000_000_000_000 - charge).as_str());
            break;
        }
        assert!(Instant::now() < deadline, "the reservation was not released: {b}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ledger(&s.gw, "team").await.iter().all(|e| e["id"] != failed.as_str()));
}

#[tokio::test]
async fn an_abandoned_stream_is_billed_from_its_usage_and_a_broken_one_estimated() {
    let s = setup().await;
    let body = chat("m", json!({"stream": true, "mock": {"chunk_delay_ms": 100, "reasoning_tokens": 3}}));
    let mut resp = post_chat(&s.gw, PAYER, &body).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.chunk().await.unwrap().is_some(), "the stream started");
    drop(resp);
    let e = entry(&s.gw, "team", &id).await;
    let reported = s.ok.reported_usage();
    let u = reported.last().unwrap();
    let charge = cost(u.prompt_tokens.into(), u.completion_tokens.into(), 0, 3);
    assert_eq!((e["aborted"].as_bool(), e["estimated"].as_bool()), (Some(true), Some(false)), "{e}");
    assert_eq!(e["amount"], usd(-charge).as_str());

    let resp = post_chat(&s.gw, PAYER, &chat("m", json!({"stream": true, "mock": {"cut_after_events": 3}}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    assert!(text.contains("error"), "the client saw the stream break: {text}");
    let e = entry(&s.gw, "team", &id).await;
    assert_eq!((e["estimated"].as_bool(), e["aborted"].as_bool()), (Some(true), Some(false)), "{e}");
    let (p, c) = (e["tokens"]["prompt"].as_i64().unwrap(), e["tokens"]["completion"].as_i64().unwrap());
    assert!(p > 0 && c > 0, "prompt and the delivered output are counted: {e}");
    assert_eq!(e["amount"], usd(-cost(p.into(), c.into(), 0, 0)).as_str());
}

#[tokio::test]
async fn a_client_chosen_request_id_cannot_make_a_second_request_free() {
    let s = setup().await;
    let mut charges = 0;
    for _ in 0..2 {
        let resp = reqwest::Client::new()
            .post(s.gw.url("/v1/chat/completions"))
            .bearer_auth(PAYER)
            .header("x-request-id", "dup-1")
            .json(&chat("m", json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], "dup-1");
        charges += cost(header(&resp, "x-switchyard-usage-prompt"), header(&resp, "x-switchyard-usage-completion"), 0, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let e: Vec<Value> = ledger(&s.gw, "team").await.into_iter().filter(|e| e["request_id"] == "dup-1").collect();
        if e.len() == 2 || Instant::now() > deadline {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(entries.len(), 2, "both requests are charged");
    assert_ne!(entries[0]["id"], entries[1]["id"]);
    assert_eq!(balance(&s.gw, PAYER, "/v1/account/balance").await.1["balance"], usd(1_000_000_000_000 - charges).as_str());
}
