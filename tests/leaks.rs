//! Nothing private leaks to clients or logs: upstream headers pass an allowlist, upstream error
//! bodies are never relayed raw, provider keys are redacted, a `?key=` never reaches a log line,
//! a stream the client abandons still leaves its usage, and every conversion change is announced
//! (or refused in strict mode).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use switchyard::mock::{Faults, MockUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback upstream that answers every request with one canned HTTP response.
async fn canned(status: u16, headers: &[(&str, &str)], body: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut head = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let response = format!("{head}\r\n{body}");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut seen = Vec::new();
                // Read the head and the declared body, then answer.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = sock.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

fn one_provider(addr: SocketAddr) -> String {
    config(&[provider("secretive", addr, "connect: 1s, first_byte: 5s, idle: 5s")], &[("secretive", 0)], "")
}

const COMPLETION: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

#[tokio::test]
async fn same_protocol_answers_carry_only_allowed_upstream_headers() {
    let leaky = [
        ("server", "nginx/1.18.0 (Ubuntu)"),
        ("via", "1.1 internal-lb.corp"),
        ("x-powered-by", "Express"),
        ("strict-transport-security", "max-age=63072000"),
        ("location", "http://10.0.0.7/admin"),
        ("access-control-allow-origin", "*"),
        ("content-security-policy", "default-src 'none'"),
        ("set-cookie", "session=abc"),
        ("x-debug-auth", UPSTREAM_KEY),
        ("x-request-id", "upstream-req-42"),
    ];
    let gw = Gateway::start(&one_provider(canned(200, &leaky, COMPLETION).await)).await;
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    for (name, _) in leaky.iter().filter(|(n, _)| *n != "x-request-id") {
        assert!(resp.headers().get(*name).is_none(), "{name} reached the client");
    }
    assert!(resp.headers().iter().all(|(_, v)| !v.to_str().unwrap_or("").contains(UPSTREAM_KEY)));
    assert_ne!(id, "upstream-req-42", "the client sees the gateway's request id");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "public-model");
    let record = gw.access_record(&id).await;
    assert_eq!(record["upstream_request_id"], "upstream-req-42", "{record}");
    assert_eq!(record["provider"], "secretive", "{record}");
    assert_eq!(record["finish_reason"], "stop", "{record}");
}

#[tokio::test]
async fn an_html_error_page_never_reaches_the_client() {
    let page = "<html><body>502 Bad Gateway<hr>nginx/1.18.0 at 10.20.30.40</body></html>";
    let gw = Gateway::start(&one_provider(canned(500, &[], page).await)).await;
    let resp = gw.chat(hello(json!({}))).await;
    let body = assert_error(resp, 500).await.to_string();
    for secret in ["nginx", "10.20.30.40", "<html", "secretive", "upstream-model"] {
        assert!(!body.contains(secret), "{secret} reached the client: {body}");
    }
}

#[tokio::test]
async fn an_upstream_message_echoing_the_provider_key_is_redacted_for_client_and_log() {
    let echo = format!(
        r#"{{"error":{{"message":"Invalid header Authorization: Bearer {UPSTREAM_KEY}","type":"invalid_request_error","param":null,"code":null}}}}"#
    );
    let gw = Gateway::start(&one_provider(canned(400, &[], &echo).await)).await;
    let resp = gw.chat(hello(json!({}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_error(resp, 400).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid header Authorization: Bearer [redacted]"), "{message}");
    gw.access_record(&id).await;
    assert!(!gw.log().contains(UPSTREAM_KEY), "the provider key reached the log");
}

#[tokio::test]
async fn a_query_key_never_reaches_a_log_line() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    mock.set_faults(Faults { header_delay: Duration::from_millis(1500), ..Faults::default() });
    let gw =
        Gateway::start(&config(&[provider("p", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")], &[("p", 0)], "")).await;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let url = gw.url(&format!("/v1beta/models/public-model:generateContent?key={KEY}"));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    assert!(client.post(url).json(&body).send().await.is_err(), "the client gave up first");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !gw.access_records().iter().any(|r| r["status"] == 499) {
        assert!(std::time::Instant::now() < deadline, "no access record for the abandoned request:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = gw.log();
    assert!(!log.contains(KEY), "the client key reached the log:\n{log}");
    assert!(!log.contains("\"level\":\"ERROR\""), "a client disconnect is not an error:\n{log}");
}

#[tokio::test]
async fn a_stream_the_client_abandons_still_records_its_usage() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    mock.set_faults(Faults { chunk_delay: Duration::from_millis(150), ..Faults::default() });
    let gw =
        Gateway::start(&config(&[provider("p", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")], &[("p", 0)], "")).await;
    let mut resp = gw.chat(hello(json!({"stream": true}))).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(resp.chunk().await.unwrap().is_some(), "the stream started");
    drop(resp);
    let record = gw.access_record(&id).await;
    assert_eq!(record["aborted"], true, "{record}");
    assert!(record["input_tokens"].as_u64().unwrap_or(0) > 0, "{record}");
    assert!(record["output_tokens"].as_u64().unwrap_or(0) > 0, "{record}");
}

/// A gateway whose one model is served by an Anthropic channel (conversions happen).
async fn converting() -> (MockUpstream, Gateway) {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = mock.addr();
    let yaml = format!(
        "providers:\n  - {{ name: anth, protocol: anthropic, base_url: \"http://{a}\", api_key: k }}\n\
models:\n  - {{ id: public-model, channels: [ {{ provider: anth, model: claude }} ] }}\n\
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n"
    );
    (mock, Gateway::start(&yaml).await)
}

#[tokio::test]
async fn conversion_changes_are_announced_and_strict_mode_refuses_them() {
    let (mock, gw) = converting().await;
    let resp = gw.chat(hello(json!({"temperature": 1.7}))).await;
    assert_eq!(resp.status(), 200);
    let warnings = resp.headers().get("x-switchyard-warnings").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(warnings.split(',').any(|w| w == "temperature_clamped"), "{warnings}");
    let sent = mock.requests().len();

    let strict = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("x-switchyard-strict", "true")
        .json(&hello(json!({"temperature": 1.7})))
        .send()
        .await
        .unwrap();
    let body = assert_error(strict, 400).await;
    assert_eq!(body["error"]["param"], "temperature", "{body}");
    assert_eq!(body["error"]["code"], "conversion_not_exact", "{body}");
    assert_eq!(mock.requests().len(), sent, "a strict refusal sends nothing upstream");

    // An exact conversion carries no warning header.
    let resp = gw.chat(hello(json!({"temperature": 0.5, "max_tokens": 100}))).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-switchyard-warnings").is_none());
}

#[tokio::test]
async fn anthropic_clients_get_message_ids_in_their_own_form() {
    let (_mock, gw) = single().await;
    let body = json!({"model": "public-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]});
    let v: Value = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"), "{v}");
}
