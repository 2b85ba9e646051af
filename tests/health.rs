//! Passive channel health end to end: ejection and the half-open probe, 429 cooldowns with
//! Retry-After, refused credentials and the admin enable endpoint, the fallback when every
//! channel is out, priority tiers and weights, the attempt budget and the first-byte deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};
use switchyard::mock::{Faults, MockUpstream};

const FAST: &str = "connect: 1s, first_byte: 5s, idle: 2s";
const ADMIN_TOKEN: &str = "admin-test-token";
const FIRST: &str = "first/upstream-model#0";

async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Two mocks as priority 0 and 1 channels, `extra` config appended, the admin API behind a token.
async fn pair_with(extra: &str) -> (MockUpstream, MockUpstream, Gateway) {
    let (a, b) = (mock().await, mock().await);
    let yaml =
        config(&[provider("first", a.addr(), FAST), provider("second", b.addr(), FAST)], &[("first", 0), ("second", 1)], extra);
    let gw =
        Gateway::launch(&yaml, &Launch { admin: &format!(", token: {ADMIN_TOKEN}, metrics_public: true"), ..Launch::default() })
            .await;
    (a, b, gw)
}

/// The admin API's entry for `channel`.
async fn channel(gw: &Gateway, label: &str) -> Value {
    let listed: Value = reqwest::Client::new()
        .get(format!("http://{}/admin/v1/channels", gw.admin))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed["channels"].as_array().unwrap().iter().find(|c| c["channel"] == label).cloned().unwrap_or(Value::Null)
}

async fn ok(gw: &Gateway) -> reqwest::Response {
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.status(), 200);
    resp
}

#[tokio::test]
async fn three_failures_eject_a_channel_and_one_probe_after_the_cooldown_decides() {
    let (a, b, gw) = pair_with("routing: { cooldown: 1s }\n").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    let mut last_id = String::new();
    for _ in 0..3 {
        last_id = ok(&gw).await.headers()["x-request-id"].to_str().unwrap().to_owned();
    }
    assert_eq!(a.requests().len(), 3);
    let record = gw.access_record(&last_id).await;
    assert_eq!(record["tried"][0]["health"], "ejected", "{record}");
    let entry = channel(&gw, FIRST).await;
    assert_eq!((entry["state"].as_str(), entry["reason"].as_str()), (Some("cooling"), Some("consecutive_failures")), "{entry}");
    assert_eq!(entry["consecutive_failures"], 3);
    ok(&gw).await;
    assert_eq!(a.requests().len(), 3, "an ejected channel is not tried while another is healthy");
    assert_eq!(b.requests().len(), 4);

    // After the cooldown one request probes it; it still fails: out again, for longer.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ok(&gw).await;
    assert_eq!(a.requests().len(), 4);
    let entry = channel(&gw, FIRST).await;
    assert_eq!((entry["state"].as_str(), entry["reason"].as_str()), (Some("cooling"), Some("probe_failed")), "{entry}");
    let left = entry["cooldown_left_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 2000, "doubled to 2 s: {entry}");

    // Healed, the next probe brings it back and traffic returns to the first tier.
    a.set_faults(Faults::default());
    tokio::time::sleep(Duration::from_millis(left + 100)).await;
    ok(&gw).await;
    ok(&gw).await;
    assert_eq!(a.requests().len(), 6);
    assert_eq!(b.requests().len(), 5);
    let entry = channel(&gw, FIRST).await;
    assert_eq!((entry["state"].as_str(), entry["consecutive_failures"].as_u64()), (Some("healthy"), Some(0)), "{entry}");
    let wanted = "switchyard_channel_ejections_total{channel=\"first/upstream-model#0\",reason=\"ejected\"} 2";
    assert!(gw.metrics_when(|m| m.contains(wanted)).await.contains(wanted));
}

#[tokio::test]
async fn a_429_cools_the_channel_down_for_its_retry_after_capped() {
    let (a, b, gw) = pair_with("routing: { max_retry_after: 5s }\n").await;
    a.set_faults(Faults { status: Some(429), retry_after: Some("2".into()), ..Faults::default() });
    ok(&gw).await;
    let entry = channel(&gw, FIRST).await;
    assert_eq!((entry["state"].as_str(), entry["reason"].as_str()), (Some("cooling"), Some("rate_limited")), "{entry}");
    let left = entry["cooldown_left_ms"].as_u64().unwrap();
    assert!(left > 0 && left <= 2000, "{entry}");
    ok(&gw).await;
    assert_eq!((a.requests().len(), b.requests().len()), (1, 2), "cooling: not tried");
    tokio::time::sleep(Duration::from_millis(left + 100)).await;
    // An HTTP-date an hour ahead is capped by max_retry_after.
    let in_an_hour = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    a.set_faults(Faults { status: Some(429), retry_after: Some(in_an_hour), ..Faults::default() });
    ok(&gw).await;
    assert_eq!(a.requests().len(), 2, "the cooldown was over");
    let left = channel(&gw, FIRST).await["cooldown_left_ms"].as_u64().unwrap();
    assert!(left > 2000 && left <= 5000, "capped at 5 s: {left}");
}

#[tokio::test]
async fn refused_credentials_disable_the_channel_until_an_operator_enables_it() {
    let (a, b, gw) = pair_with("").await;
    a.set_api_key(Some("a-key-the-gateway-does-not-have".into()));
    ok(&gw).await;
    let wanted = "switchyard_channel_disables_total{channel=\"first/upstream-model#0\"} 1";
    assert!(gw.metrics_when(|m| m.contains(wanted)).await.contains(wanted));
    a.set_api_key(None);
    for _ in 0..3 {
        ok(&gw).await;
    }
    assert_eq!((a.requests().len(), b.requests().len()), (1, 4), "disabled: no cooldown brings it back");
    let entry = channel(&gw, FIRST).await;
    assert_eq!((entry["state"].as_str(), entry["reason"].as_str()), (Some("disabled"), Some("credentials_refused")), "{entry}");

    let client = reqwest::Client::new();
    let enable = format!("http://{}/admin/v1/channels/first/upstream-model%230/enable", gw.admin);
    assert_eq!(client.post(&enable).send().await.unwrap().status(), 401, "the admin token is required");
    let enabled = client.post(&enable).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(enabled.status(), 200);
    assert_eq!(enabled.json::<Value>().await.unwrap()["state"], "healthy");
    ok(&gw).await;
    assert_eq!(a.requests().len(), 2, "back in rotation");
    let missing = format!("http://{}/admin/v1/channels/nope%230/enable", gw.admin);
    assert_eq!(client.post(&missing).bearer_auth(ADMIN_TOKEN).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn with_every_channel_out_the_one_that_failed_longest_ago_is_tried_once() {
    let (a, b, gw) = pair_with("routing: { eject_after_failures: 1, cooldown: 1m }\n").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    b.set_faults(Faults { status: Some(503), ..Faults::default() });
    assert_error(gw.chat(hello(json!({}))).await, 503).await;
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    // Both out: the first failed longest ago and gets the one attempt.
    let resp = gw.chat(hello(json!({}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_error(resp, 503).await;
    assert_eq!((a.requests().len(), b.requests().len()), (2, 1));
    assert_eq!(gw.access_record(&id).await["attempts"], 1);
    // Now the second failed longest ago; it has recovered, and answers.
    b.set_faults(Faults::default());
    ok(&gw).await;
    assert_eq!((a.requests().len(), b.requests().len()), (2, 2));
    assert_eq!(channel(&gw, "second/upstream-model#1").await["state"], "healthy");
}

#[tokio::test]
async fn priority_tiers_come_first_and_weights_split_a_tier() {
    let (x, y, z) = (mock().await, mock().await, mock().await);
    let mut yaml = String::from("providers:\n");
    for (name, m) in [("x", &x), ("y", &y), ("z", &z)] {
        yaml.push_str(&provider(name, m.addr(), FAST));
    }
    yaml.push_str("models:\n  - id: public-model\n    channels:\n");
    yaml.push_str("      - { provider: x, model: up, weight: 3 }\n");
    yaml.push_str("      - { provider: y, model: up, weight: 1 }\n");
    yaml.push_str("      - { provider: z, model: up, priority: 1, weight: 100 }\n");
    yaml.push_str(&format!("keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"));
    let gw = Gateway::start(&yaml).await;
    let client = reqwest::Client::new();
    let url = gw.url("/v1/chat/completions");
    let total = 2000;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (client, url) = (client.clone(), url.clone());
        tasks.spawn(async move {
            let mut n = worker;
            while n < total {
                let resp = client.post(&url).bearer_auth(KEY).json(&hello(json!({}))).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
                n += 16;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let (nx, ny, nz) = (x.requests().len(), y.requests().len(), z.requests().len());
    assert_eq!(nx + ny, total, "the first tier serves everything while it is healthy");
    assert_eq!(nz, 0, "weight never crosses a tier");
    let share = nx as f64 / total as f64;
    assert!((0.70..=0.80).contains(&share), "3:1 within ±5 points: {share} ({nx}/{ny})");
}

#[tokio::test]
async fn the_attempt_budget_caps_the_channels_tried() {
    let mocks = [mock().await, mock().await, mock().await];
    let providers: Vec<String> = mocks.iter().enumerate().map(|(i, m)| provider(&format!("p{i}"), m.addr(), FAST)).collect();
    for m in &mocks {
        m.set_faults(Faults { status: Some(503), ..Faults::default() });
    }
    let gw = Gateway::start(&config(&providers, &[("p0", 0), ("p1", 1), ("p2", 2)], "routing: { max_attempts: 2 }\n")).await;
    let resp = gw.chat(hello(json!({}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_error(resp, 503).await;
    let counts: Vec<usize> = mocks.iter().map(|m| m.requests().len()).collect();
    assert_eq!(counts, [1, 1, 0], "two attempts, in priority order, each channel once");
    assert_eq!(gw.access_record(&id).await["attempts"], 2);
}

#[tokio::test]
async fn the_first_byte_deadline_is_a_504_in_the_clients_envelope() {
    let (a, b) = (mock().await, mock().await);
    a.set_faults(Faults { hang: true, ..Faults::default() });
    let slow = "connect: 1s, first_byte: 10s, idle: 10s";
    let mut yaml = String::from("providers:\n");
    yaml.push_str(&provider("first", a.addr(), slow));
    yaml.push_str(&provider("second", b.addr(), slow));
    yaml.push_str("models:\n  - id: public-model\n    first_byte_deadline: 1s\n    channels:\n");
    yaml.push_str("      - { provider: first, model: up }\n      - { provider: second, model: up, priority: 1 }\n");
    yaml.push_str(&format!("keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"));
    let gw = Gateway::start(&yaml).await;

    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_error(resp, 504).await;
    assert_eq!(body["error"]["code"], "deadline_exceeded", "{body}");
    assert!(!body.to_string().contains("first"), "{body}");
    let record = gw.access_record(&id).await;
    assert_eq!(record["tried"][0]["outcome"], "deadline_exceeded", "{record}");
    assert!(b.requests().is_empty(), "past the deadline no other channel is tried");

    let resp = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "public-model", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["type"].as_str(), body["error"]["type"].as_str()), (Some("error"), Some("timeout_error")), "{body}");
}

#[tokio::test]
async fn a_refusal_about_the_request_goes_back_to_the_client_and_leaves_the_channel_healthy() {
    let (a, b, gw) = pair_with("routing: { eject_after_failures: 1 }\n").await;
    a.set_faults(Faults { status: Some(400), ..Faults::default() });
    let resp = gw.chat(hello(json!({}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_error(resp, 400).await;
    assert!(b.requests().is_empty(), "another channel would refuse it too");
    assert_eq!(gw.access_record(&id).await["tried"][0]["outcome"], "status_400");
    assert_eq!(channel(&gw, FIRST).await["state"], "healthy", "the channel answered: it is up");
}

#[tokio::test]
async fn a_gemini_key_refused_with_400_disables_the_channel_and_fails_over() {
    let (a, b) = (mock().await, mock().await);
    a.set_api_key(Some("a-key-the-gateway-does-not-have".into()));
    let gemini = format!(
        "  - {{ name: first, protocol: gemini, base_url: \"http://{}\", api_key: \"{UPSTREAM_KEY}\", timeouts: {{ {FAST} }} }}\n",
        a.addr()
    );
    let yaml = config(&[gemini, provider("second", b.addr(), FAST)], &[("first", 0), ("second", 1)], "");
    let gw = Gateway::launch(&yaml, &Launch { admin: &format!(", token: {ADMIN_TOKEN}"), ..Launch::default() }).await;
    let resp = ok(&gw).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 1, "the gateway's key was refused, not the client's: next channel");
    assert_eq!(gw.access_record(&id).await["tried"][0]["health"], "disabled");
    assert_eq!(channel(&gw, FIRST).await["state"], "disabled");
}

#[tokio::test]
async fn a_stream_that_breaks_off_after_its_first_content_counts_against_the_channel() {
    let (a, b, gw) = pair_with("routing: { eject_after_failures: 1 }\n").await;
    // The role chunk and two words reach the client, then the connection is cut.
    a.set_faults(Faults { cut_after_events: Some(3), ..Faults::default() });
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let events = sse_data(&resp.text().await.unwrap());
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"].is_object(), "an in-stream error: {events:?}");
    assert!(b.requests().is_empty(), "bytes were sent: never replayed");
    let record = gw.access_record(&id).await;
    assert_eq!((record["tried"][0]["outcome"].as_str(), record["tried"][0]["health"].as_str()), (Some("ok"), Some("ejected")));
    assert_eq!(channel(&gw, FIRST).await["state"], "cooling");
    ok(&gw).await;
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1), "the next request goes elsewhere");
}
