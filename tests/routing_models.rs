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
