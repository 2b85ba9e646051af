//! Model resolution beyond one id: `provider/model` ids, fallback lists (`models`), `auto`, and
//! the per-provider passthrough routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use switchyard::mock::{Faults, MockUpstream};

const FAST: &str = "connect: 1s, first_byte: 5s, idle: 5s";

async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Two OpenAI providers `alpha` and `beta`; `shared` is served by both, `solo` only by alpha,
/// `other` only by beta; `extra` is appended to the config.
fn two_providers(a: &MockUpstream, b: &MockUpstream, extra: &str) -> String {
    format!(
        "providers:\n{}{}models:
  - {{ id: shared, aliases: [sh], channels: [ {{ provider: alpha, model: shared-a }}, {{ provider: beta, model: shared-b }} ] }}
  - {{ id: solo, channels: [ {{ provider: alpha, model: solo-a }} ] }}
  - {{ id: other, channels: [ {{ provider: beta, model: other-b }} ] }}
  - {{ id: beta/shared, channels: [ {{ provider: alpha, model: alias-wins }} ] }}
  - {{ id: emb, kind: embedding, channels: [ {{ provider: alpha, model: emb-a }} ] }}
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n{extra}",
        provider("alpha", a.addr(), FAST),
        provider("beta", b.addr(), FAST),
    )
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "Hello there"}]})
}

/// The `model` field of a whole chat answer or of every chunk of a streamed one.
async fn answered_models(resp: reqwest::Response, stream: bool) -> Vec<String> {
    let text = resp.text().await.unwrap();
    if !stream {
        let v: Value = serde_json::from_str(&text).unwrap();
        return vec![v["model"].as_str().unwrap_or_default().to_owned()];
    }
    sse_data(&text)
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["model"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn provider_slash_model_uses_only_that_providers_channels() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    for stream in [false, true] {
        let resp = gw.chat(chat("alpha/shared", stream)).await;
        assert_eq!(resp.status(), 200);
        let models = answered_models(resp, stream).await;
        assert!(!models.is_empty() && models.iter().all(|m| m == "shared"), "{models:?}");
        // An alias after the provider resolves too.
        let resp = gw.chat(chat("alpha/sh", stream)).await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(a.requests().len(), 4);
    assert!(b.requests().is_empty(), "beta was never asked");
    assert!(a.requests().iter().all(|r| r.json().unwrap()["model"] == "shared-a"));

    // alpha is down: alpha/shared does not fall over to beta.
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    let resp = gw.chat(chat("alpha/shared", false)).await;
    assert_eq!(resp.status(), 503);
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn a_provider_that_does_not_serve_the_model_is_a_404_in_the_clients_envelope() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let body = assert_error(gw.chat(chat("beta/solo", false)).await, 404).await;
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(body["error"]["message"].as_str().unwrap().contains("beta/solo"), "{body}");
    assert_error(gw.chat(chat("nobody/solo", false)).await, 404).await;
    // Anthropic's own envelope.
    let resp = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "beta/solo", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["type"].as_str(), body["error"]["type"].as_str()), (Some("error"), Some("not_found_error")), "{body}");
    assert!(a.requests().is_empty() && b.requests().is_empty());
}

#[tokio::test]
async fn an_alias_with_a_slash_wins_over_a_provider_prefix() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let resp = gw.chat(chat("beta/shared", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(answered_models(resp, false).await, ["beta/shared"]);
    assert!(b.requests().is_empty());
    assert_eq!(a.requests()[0].json().unwrap()["model"], "alias-wins");
}

/// Every `model` string anywhere in a JSON answer or in the events of a streamed one.
fn models_in(text: &str, stream: bool) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("model", Value::String(m)) => out.push(m.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let docs: Vec<String> = if stream { sse_data(text) } else { vec![text.to_owned()] };
    for doc in docs.iter().filter(|d| d.as_str() != "[DONE]") {
        walk(&serde_json::from_str(doc).unwrap(), &mut out);
    }
    out
}

/// A generation request of `protocol` (`chat`, `responses`, `messages`) with `extra` fields.
async fn generate(gw: &Gateway, protocol: &str, stream: bool, extra: Value) -> reqwest::Response {
    let mut body = match protocol {
        "chat" => json!({"messages": [{"role": "user", "content": "Hello there"}]}),
        "responses" => json!({"input": "Hello there"}),
        _ => json!({"max_tokens": 32, "messages": [{"role": "user", "content": "Hello there"}]}),
    };
    body["stream"] = json!(stream);
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let path = match protocol {
        "chat" => "/v1/chat/completions",
        "responses" => "/v1/responses",
        _ => "/v1/messages",
    };
    reqwest::Client::new()
        .post(gw.url(path))
        .bearer_auth(KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_fallback_list_moves_to_the_next_model_when_every_channel_of_the_first_fails() {
    let (a, b) = (mock().await, mock().await);
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let mut tried = 0;
    for protocol in ["chat", "responses", "messages"] {
        for stream in [false, true] {
            for extra in
                [json!({"model": "solo", "models": ["other"], "route": "fallback"}), json!({"models": ["solo", "other"]})]
            {
                let resp = generate(&gw, protocol, stream, extra.clone()).await;
                assert_eq!(resp.status(), 200, "{protocol} stream={stream} {extra}");
                let text = resp.text().await.unwrap();
                let models = models_in(&text, stream);
                assert!(
                    !models.is_empty() && models.iter().all(|m| m == "other"),
                    "{protocol} stream={stream}: {models:?}\n{text}"
                );
                tried += 1;
                assert_eq!(a.requests().len(), tried, "the first model was tried first");
                let sent = b.requests().last().unwrap().json().unwrap();
                assert_eq!(sent["model"], "other-b");
                assert!(sent.get("models").is_none() && sent.get("route").is_none(), "{sent}");
            }
        }
    }
}

#[tokio::test]
async fn a_fallback_list_stops_at_the_first_model_that_answers() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let resp = gw.chat(json!({"model": "solo", "models": ["other"], "messages": [{"role": "user", "content": "hi"}]})).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(answered_models(resp, false).await, ["solo"]);
    assert!(b.requests().is_empty());
    let sent = a.requests()[0].json().unwrap();
    assert!(sent.get("models").is_none(), "{sent}");
}

#[tokio::test]
async fn every_name_of_a_fallback_list_must_exist_and_be_a_chat_model() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let body = assert_error(gw.chat(json!({"model": "solo", "models": ["other", "nope"], "messages": msgs})).await, 404).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("`nope`"), "{body}");
    let body = assert_error(gw.chat(json!({"model": "solo", "models": ["emb"], "messages": msgs})).await, 400).await;
    assert_eq!(body["error"]["code"], "model_not_supported_on_endpoint");
    let body = assert_error(gw.chat(json!({"model": "solo", "models": "other", "messages": msgs})).await, 400).await;
    assert_eq!(body["error"]["param"], "models");
    // Anthropic clients get their own envelope.
    let resp = generate(&gw, "messages", false, json!({"model": "solo", "models": ["nope"]})).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error", "{body}");
    assert!(a.requests().is_empty() && b.requests().is_empty());
}

#[tokio::test]
async fn a_key_limited_to_some_models_cannot_reach_others_through_a_fallback_list() {
    let (a, b) = (mock().await, mock().await);
    let extra = "  - { name: narrow, key: \"sk-narrow\", models: [solo] }\n";
    let gw = Gateway::start(&two_providers(&a, &b, extra)).await;
    let resp = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("sk-narrow")
        .json(&json!({"model": "solo", "models": ["other"], "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(a.requests().is_empty() && b.requests().is_empty());
}

/// `pricey` on alpha and `cheap` on beta, with prices, and the given `auto:` section.
fn auto_config(a: &MockUpstream, b: &MockUpstream, auto: &str) -> String {
    format!(
        "providers:\n{}{}models:
  - {{ id: pricey, price: {{ input: 5, output: 15 }}, channels: [ {{ provider: alpha, model: pricey-a }} ] }}
  - {{ id: cheap, aliases: [c], price: {{ input: 0.1, output: 0.4 }}, channels: [ {{ provider: beta, model: cheap-b }} ] }}
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n{auto}",
        provider("alpha", a.addr(), FAST),
        provider("beta", b.addr(), FAST),
    )
}

#[tokio::test]
async fn auto_cheapest_picks_the_lowest_price_and_falls_back_to_the_rest() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&auto_config(&a, &b, "auto: { policy: cheapest, candidates: [pricey, c] }\n")).await;
    for stream in [false, true] {
        let resp = gw.chat(chat("auto", stream)).await;
        assert_eq!(resp.status(), 200);
        let models = answered_models(resp, stream).await;
        assert!(!models.is_empty() && models.iter().all(|m| m == "cheap"), "{models:?}");
    }
    assert_eq!((a.requests().len(), b.requests().len()), (0, 2));
    assert_eq!(b.requests()[0].json().unwrap()["model"], "cheap-b");
    // The cheapest is down: the next candidate answers, and says so.
    b.set_faults(Faults { status: Some(503), ..Faults::default() });
    let resp = gw.chat(chat("auto", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(answered_models(resp, false).await, ["pricey"]);
    let id = gw.chat(chat("auto", false)).await.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(gw.access_record(&id).await["model"], "pricey");
}

#[tokio::test]
async fn auto_fastest_follows_the_measured_time_to_first_token() {
    let (a, b) = (mock().await, mock().await);
    a.set_faults(Faults { header_delay: std::time::Duration::from_millis(400), ..Faults::default() });
    let gw = Gateway::start(&auto_config(&a, &b, "auto: { policy: fastest, candidates: [pricey, cheap] }\n")).await;
    let mut answered = Vec::new();
    for _ in 0..5 {
        let resp = gw.chat(chat("auto", false)).await;
        assert_eq!(resp.status(), 200);
        answered.extend(answered_models(resp, false).await);
        // The measure is taken when the request is logged, just after its answer went out.
        gw.access_records_when(|r| r.iter().filter(|r| r["endpoint"] == "chat_completions").count() == answered.len())
            .await;
    }
    // Each is measured once (in configured order), then the faster one is chosen every time.
    assert_eq!(answered, ["pricey", "cheap", "cheap", "cheap", "cheap"]);
    assert_eq!((a.requests().len(), b.requests().len()), (1, 4));
}

#[tokio::test]
async fn auto_weighted_trades_quality_against_price() {
    let (a, b) = (mock().await, mock().await);
    // pricey: 2·1 − 1·1 = 1; cheap: 2·0.1 − 1·(0.5/20) ≈ 0.18: quality wins.
    let auto = "auto:\n  policy: weighted\n  candidates: [cheap, pricey]\n  weights: { cost: 1, latency: 0, quality: 2 }\n  quality: { pricey: 10, cheap: 1 }\n";
    let gw = Gateway::start(&auto_config(&a, &b, auto)).await;
    let resp = gw.chat(chat("auto", true)).await;
    assert_eq!(resp.status(), 200);
    let models = answered_models(resp, true).await;
    assert!(!models.is_empty() && models.iter().all(|m| m == "pricey"), "{models:?}");
    // Price alone: the cheap one.
    let auto = "auto:\n  policy: weighted\n  candidates: [pricey, cheap]\n  weights: { cost: 1, latency: 0, quality: 0 }\n";
    let gw = Gateway::start(&auto_config(&a, &b, auto)).await;
    let resp = gw.chat(chat("auto", false)).await;
    assert_eq!(answered_models(resp, false).await, ["cheap"]);
}

#[tokio::test]
async fn auto_without_an_auto_section_is_an_unknown_model() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&auto_config(&a, &b, "")).await;
    let body = assert_error(gw.chat(chat("auto", false)).await, 404).await;
    assert_eq!(body["error"]["code"], "model_not_found");
}
