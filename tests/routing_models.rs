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
    // Passive health would take the failing channel out after three failures (see the next
    // test); here every request must try the first model.
    let gw = Gateway::start(&two_providers(&a, &b, "routing: { eject_after_failures: 1000, window_min_requests: 1000 }\n")).await;
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
async fn a_first_model_out_of_rotation_is_passed_over_for_a_healthy_fallback() {
    let (a, b) = (mock().await, mock().await);
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    let gw = Gateway::start(&two_providers(&a, &b, "")).await;
    let body = json!({"model": "solo", "models": ["other"], "messages": [{"role": "user", "content": "hi"}]});
    for _ in 0..3 {
        assert_eq!(gw.chat(body.clone()).await.status(), 200);
    }
    assert_eq!(a.requests().len(), 3, "three failures eject the only channel of `solo`");
    let resp = gw.chat(body).await;
    assert_eq!(answered_models(resp, false).await, ["other"]);
    assert_eq!(a.requests().len(), 3, "an ejected model is passed over while its fallback is healthy");
    assert_eq!(b.requests().len(), 4);
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
async fn auto_is_listed_when_configured() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&auto_config(&a, &b, "auto: { policy: cheapest, candidates: [pricey, cheap] }\n")).await;
    let client = reqwest::Client::new();
    let list: Value = client.get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["pricey", "cheap", "auto"]);
    let one = client.get(gw.url("/v1/models/auto")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(one.status(), 200);
    // Gemini clients name it in the path.
    let resp = client
        .post(gw.url("/v1beta/models/auto:generateContent"))
        .header("x-goog-api-key", KEY)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["modelVersion"], "cheap", "{body}");

    let gw = Gateway::start(&auto_config(&a, &b, "")).await;
    let list: Value = client.get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert!(list["data"].as_array().unwrap().iter().all(|m| m["id"] != "auto"));
    assert_eq!(client.get(gw.url("/v1/models/auto")).bearer_auth(KEY).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn auto_without_an_auto_section_is_an_unknown_model() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&auto_config(&a, &b, "")).await;
    let body = assert_error(gw.chat(chat("auto", false)).await, 404).await;
    assert_eq!(body["error"]["code"], "model_not_found");
}

/// What the raw upstream saw of one request.
#[derive(Clone, Debug, Default)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body_len: u64,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The size of the streamed upload and download.
const BIG: u64 = 100 * 1024 * 1024;

/// A bare HTTP/1.1 upstream for the passthrough routes: reads each body as it arrives (counting
/// it, never keeping it), answers `…/download` with a `BIG` body written in chunks, `…/fail`
/// with a 400 echoing the key it got, and anything else with a small JSON answer carrying
/// headers that must not reach the client.
struct RawUpstream {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl RawUpstream {
    async fn start() -> RawUpstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let log = log.clone();
                tokio::spawn(async move {
                    let _ = Self::serve(stream, log).await;
                });
            }
        });
        RawUpstream { addr, seen, _task: task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn serve(stream: tokio::net::TcpStream, log: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) -> std::io::Result<()> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let mut conn = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if conn.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let mut parts = line.split_whitespace();
            let mut seen = Seen {
                method: parts.next().unwrap_or_default().to_owned(),
                path: parts.next().unwrap_or_default().to_owned(),
                ..Seen::default()
            };
            loop {
                line.clear();
                conn.read_line(&mut line).await?;
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((n, v)) = l.split_once(':') {
                    seen.headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
            }
            let mut buf = vec![0u8; 64 * 1024];
            if let Some(len) = seen.header("content-length").map(|v| v.parse::<u64>().unwrap()) {
                let mut left = len;
                while left > 0 {
                    let n = conn.read(&mut buf[..left.min(64 * 1024) as usize]).await?;
                    assert!(n > 0, "body cut short");
                    left -= n as u64;
                    seen.body_len += n as u64;
                }
            } else if seen.header("transfer-encoding") == Some("chunked") {
                loop {
                    line.clear();
                    conn.read_line(&mut line).await?;
                    let size = u64::from_str_radix(line.trim().split(';').next().unwrap(), 16).unwrap();
                    let mut left = size;
                    while left > 0 {
                        let n = conn.read(&mut buf[..left.min(64 * 1024) as usize]).await?;
                        assert!(n > 0, "body cut short");
                        left -= n as u64;
                    }
                    seen.body_len += size;
                    line.clear();
                    conn.read_line(&mut line).await?;
                    if size == 0 {
                        break;
                    }
                }
            }
            log.lock().unwrap().push(seen.clone());
            let stream = conn.get_mut();
            if seen.path.ends_with("/download") {
                stream
                    .write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {BIG}\r\nset-cookie: s=1\r\n\r\n").as_bytes())
                    .await?;
                let chunk = vec![7u8; 256 * 1024];
                for _ in 0..BIG / chunk.len() as u64 {
                    stream.write_all(&chunk).await?;
                }
            } else if seen.path.ends_with("/cut") {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\nonly ten b")
                    .await?;
                stream.flush().await?;
                return Ok(());
            } else if seen.path.ends_with("/unauthorized") {
                let body = json!({"error": {"message": format!("Incorrect API key provided: {}", seen.header("authorization").unwrap_or_default())}}).to_string();
                let head = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
            } else if seen.path.ends_with("/fail") {
                let key = seen.header("authorization").unwrap_or_default().to_owned();
                let body = json!({"error": {"message": format!("bad request for {key}")}}).to_string();
                let head = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
            } else {
                let body = json!({"object": "list", "received": seen.body_len}).to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nset-cookie: session=abc\r\nserver: upstream/1.0\r\netag: \"v1\"\r\nx-upstream-internal: yes\r\nx-request-id: up-123\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(body.as_bytes()).await?;
            }
            stream.flush().await?;
        }
    }
}

/// `openai` (base `/v1`) and `anth` (Anthropic, no base path) with passthrough on, `closed`
/// without, all on `raw`.
fn passthrough_config(raw: &RawUpstream, keys: &str) -> String {
    let addr = raw.addr;
    format!(
        "providers:
  - {{ name: openai, protocol: openai, base_url: \"http://{addr}/v1\", api_key: \"{UPSTREAM_KEY}\", passthrough: true }}
  - {{ name: anth, protocol: anthropic, base_url: \"http://{addr}\", api_key: \"{UPSTREAM_KEY}\", passthrough: true }}
  - {{ name: closed, protocol: openai, base_url: \"http://{addr}/v1\", api_key: \"{UPSTREAM_KEY}\" }}
models:
  - {{ id: m, channels: [ {{ provider: openai, model: m }} ] }}
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n{keys}"
    )
}

#[tokio::test]
async fn passthrough_forwards_any_method_with_the_providers_key_and_allowlisted_headers() {
    let raw = RawUpstream::start().await;
    let gw = Gateway::start(&passthrough_config(&raw, "")).await;
    let client = reqwest::Client::new();
    let resp = client
        .get(gw.url("/openai/v1/files?limit=2&purpose=batch"))
        .bearer_auth(KEY)
        .header("cookie", "sid=client-cookie")
        .header("x-client-private", "no")
        .header("idempotency-key", "idem-1")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["etag"], "\"v1\"");
    for hidden in ["set-cookie", "server", "x-upstream-internal"] {
        assert!(h.get(hidden).is_none(), "{hidden} reached the client");
    }
    assert_ne!(h["x-request-id"], "up-123", "the gateway's own request id");
    assert_eq!(resp.json::<Value>().await.unwrap()["object"], "list");

    // Without the base path repeated, the rest still lands below it; DELETE passes too.
    let resp = client.delete(gw.url("/openai/files/file-1")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // A Gemini-style `?key=` authenticates but is never forwarded.
    let resp = client.get(gw.url(&format!("/openai/v1/models?key={KEY}&x=1"))).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let seen = raw.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!((seen[0].method.as_str(), seen[0].path.as_str()), ("GET", "/v1/files?limit=2&purpose=batch"));
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    assert_eq!(seen[0].header("idempotency-key"), Some("idem-1"));
    for dropped in ["cookie", "x-client-private", "accept-encoding"] {
        assert!(seen[0].header(dropped).is_none(), "{dropped}: {:?}", seen[0].headers);
    }
    assert!(seen.iter().all(|s| s.headers.iter().all(|(_, v)| !v.contains(KEY))), "the client's key went upstream: {seen:?}");
    assert_eq!((seen[1].method.as_str(), seen[1].path.as_str()), ("DELETE", "/v1/files/file-1"));
    assert_eq!(seen[2].path, "/v1/models?x=1");
}

#[tokio::test]
async fn passthrough_uses_the_providers_own_auth_style() {
    let raw = RawUpstream::start().await;
    let gw = Gateway::start(&passthrough_config(&raw, "")).await;
    let resp = reqwest::Client::new()
        .post(gw.url("/anth/v1/messages/batches"))
        .header("x-api-key", KEY)
        .header("anthropic-beta", "message-batches-2024-09-24")
        .json(&json!({"requests": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = &raw.seen()[0];
    assert_eq!(seen.path, "/v1/messages/batches");
    assert_eq!(seen.header("x-api-key"), Some(UPSTREAM_KEY));
    assert!(seen.header("authorization").is_none());
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("anthropic-beta"), Some("message-batches-2024-09-24"));
    assert_eq!(seen.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn passthrough_routes_exist_only_where_enabled_and_need_a_key() {
    let raw = RawUpstream::start().await;
    let keys = "  - { name: narrow, key: \"sk-narrow\", models: [m] }\n";
    let gw = Gateway::start(&passthrough_config(&raw, keys)).await;
    let client = reqwest::Client::new();
    let resp = client.get(gw.url("/closed/v1/files")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client.get(gw.url("/openai/v1/files")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client.get(gw.url("/openai/v1/files")).bearer_auth("sk-narrow").send().await.unwrap();
    assert_eq!(resp.status(), 403, "a key limited to models cannot use the raw API");
    let resp = client.get(gw.url("/openai/v1/../../admin")).bearer_auth(KEY).send().await.unwrap();
    assert!(resp.status().is_client_error());
    // The gateway's own routes are untouched.
    let resp = client.get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(raw.seen().is_empty());
    // An error answer is passed with the provider's key redacted.
    let resp = client.post(gw.url("/openai/fail")).bearer_auth(KEY).body("x").send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let text = resp.text().await.unwrap();
    assert!(text.contains("bad request") && !text.contains(UPSTREAM_KEY), "{text}");
}

#[tokio::test]
async fn a_provider_body_that_breaks_off_closes_the_connection_and_a_refused_key_is_a_502() {
    let raw = RawUpstream::start().await;
    let gw = Gateway::start(&passthrough_config(&raw, "")).await;
    let client = reqwest::Client::new();
    let resp = client.get(gw.url("/openai/v1/files/f/cut")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.bytes().await.is_err(), "an incomplete body must not look complete");
    let record = gw.access_record(&id).await;
    assert!(record["error"].as_str().is_some_and(|e| e.contains("broke off")), "{record}");

    let resp = client.get(gw.url("/openai/v1/unauthorized")).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(resp.status(), 502);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_KEY) && text.contains("upstream_auth_failed"), "{text}");
}

#[tokio::test]
async fn passthrough_calls_count_against_request_limits() {
    let raw = RawUpstream::start().await;
    let keys = "  - { name: team-key, key: \"sk-team\", account: team }\naccounts:\n  - { id: team, limits: { rpm: 1 } }\n";
    let gw = Gateway::start(&passthrough_config(&raw, keys)).await;
    let client = reqwest::Client::new();
    let first = client.get(gw.url("/openai/v1/files")).bearer_auth("sk-team").send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-limit"], "1");
    let second = client.get(gw.url("/openai/v1/files")).bearer_auth("sk-team").send().await.unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers().get("retry-after").is_some());
    assert_eq!(raw.seen().len(), 1, "a refused call never reaches the provider");
}

/// The largest RSS seen while `work` runs, in KiB.
async fn peak_rss_during<T>(gw: &Gateway, work: impl std::future::Future<Output = T>) -> (T, u64) {
    let pid_rss = || gw.rss_kib();
    let mut peak = pid_rss();
    tokio::pin!(work);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        tokio::select! {
            out = &mut work => return (out, peak.max(pid_rss())),
            _ = tick.tick() => peak = peak.max(pid_rss()),
        }
    }
}

#[tokio::test]
async fn passthrough_streams_a_100_mib_upload_and_download_in_bounded_memory() {
    let raw = RawUpstream::start().await;
    let gw = Gateway::start(&passthrough_config(&raw, "")).await;
    let client = reqwest::Client::new();
    // Warm up the pools so the baseline includes them.
    client.get(gw.url("/openai/v1/files")).bearer_auth(KEY).send().await.unwrap().bytes().await.unwrap();
    let base = gw.rss_kib();

    let chunks = (0..BIG / (1024 * 1024)).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![1u8; 1024 * 1024])));
    for declared in [true, false] {
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks.clone()));
        let mut req = client.post(gw.url("/openai/v1/files")).bearer_auth(KEY).header("content-type", "application/octet-stream");
        if declared {
            req = req.header("content-length", BIG);
        }
        let (resp, peak) = peak_rss_during(&gw, async { req.body(body).send().await.unwrap() }).await;
        assert_eq!(resp.status(), 200, "declared={declared}");
        assert_eq!(resp.json::<Value>().await.unwrap()["received"], BIG, "declared={declared}");
        let growth = peak.saturating_sub(base);
        eprintln!("upload declared={declared}: peak RSS growth {growth} KiB");
        assert!(growth < 100 * 1024, "the gateway grew by {growth} KiB for a 100 MiB upload");
    }
    let seen = raw.seen();
    assert_eq!(seen[1].header("content-length"), Some(BIG.to_string().as_str()));
    assert_eq!(seen[2].header("transfer-encoding"), Some("chunked"));

    let (got, peak) = peak_rss_during(&gw, async {
        let mut resp = client.get(gw.url("/openai/v1/files/f/download")).bearer_auth(KEY).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("set-cookie").is_none());
        let mut n = 0u64;
        while let Some(chunk) = resp.chunk().await.unwrap() {
            n += chunk.len() as u64;
        }
        n
    })
    .await;
    assert_eq!(got, BIG);
    let growth = peak.saturating_sub(base);
    eprintln!("download: peak RSS growth {growth} KiB");
    assert!(growth < 100 * 1024, "the gateway grew by {growth} KiB for a 100 MiB download");
}
