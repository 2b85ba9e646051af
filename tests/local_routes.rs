//! Authentication, request errors, local routes and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn keys_are_accepted_wherever_sdks_put_them() {
    let (_mock, gw) = single().await;
    let c = reqwest::Client::new();
    let url = gw.url("/v1/chat/completions");
    let body = hello(json!({}));
    let tries = [
        c.post(&url).bearer_auth(KEY),
        c.post(&url).header("x-api-key", KEY),
        c.post(&url).header("x-goog-api-key", KEY),
        c.post(format!("{url}?key={KEY}")),
    ];
    for req in tries {
        assert_eq!(req.json(&body).send().await.unwrap().status(), 200);
    }
    assert_error(c.post(&url).json(&body).send().await.unwrap(), 401).await;
    let body = assert_error(c.post(&url).bearer_auth("sk-wrong").json(&body).send().await.unwrap(), 401).await;
    assert_eq!(body["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn bad_requests_get_specific_errors() {
    let (mock, gw) = single().await;
    let c = reqwest::Client::new();
    let url = gw.url("/v1/chat/completions");
    let malformed = c.post(&url).bearer_auth(KEY).body("{\"model\": ").send().await.unwrap();
    assert_eq!(assert_error(malformed, 400).await["error"]["code"], "invalid_json");
    let missing = gw.chat(json!({"messages": []})).await;
    assert_eq!(assert_error(missing, 400).await["error"]["param"], "model");
    let unknown = gw.chat(json!({"model": "nope", "messages": []})).await;
    assert_eq!(assert_error(unknown, 404).await["error"]["code"], "model_not_found");
    let method = c.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(method.headers()["allow"], "POST");
    assert_error(method, 405).await;
    assert_error(c.post(gw.url("/v1/unknown")).bearer_auth(KEY).send().await.unwrap(), 404).await;
    assert!(mock.requests().is_empty(), "no bad request reached the upstream");
}

#[tokio::test]
async fn models_health_and_metrics() {
    let (_mock, gw) = single().await;
    let c = reqwest::Client::new();
    let list: serde_json::Value = c.get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["id"], "public-model");
    assert_eq!(list["data"][0]["object"], "model");
    let one: serde_json::Value =
        c.get(gw.url("/v1/models/vendor/public-model")).bearer_auth(KEY).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["id"], "public-model");
    assert_error(c.get(gw.url("/v1/models")).send().await.unwrap(), 401).await;
    assert_eq!(c.get(gw.url("/healthz")).send().await.unwrap().status(), 200);

    gw.chat(hello(json!({}))).await.bytes().await.unwrap();
    gw.chat(hello(json!({"stream": true}))).await.bytes().await.unwrap();
    let ttft = "gen_ai_server_time_to_first_token_count{gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"primary\",gen_ai_request_model=\"public-model\"} 2";
    let metrics = gw.metrics_when(|m| m.contains(ttft)).await;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("switchyard_requests_total{") && l.contains("model=\"public-model\"") && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.contains("channel=\"primary/upstream-model#0\"") && line.ends_with(" 2"), "{line}");
    assert!(metrics.contains("gen_ai_server_request_duration_bucket{error_type=\"\",gen_ai_operation_name=\"chat\""));
    assert!(metrics.contains(ttft), "{metrics}");
}

#[tokio::test]
async fn access_log_has_usage_and_never_a_key() {
    let (_mock, gw) = single().await;
    gw.chat(hello(json!({}))).await.bytes().await.unwrap();
    gw.chat(hello(json!({"stream": true}))).await.bytes().await.unwrap();
    gw.chat(hello(json!({"mock": {"status": 400}}))).await.bytes().await.unwrap();
    reqwest::Client::new().post(gw.url("/v1/chat/completions")).bearer_auth("sk-wrong").send().await.unwrap();
    let chat = |r: &serde_json::Value| r["path"] == "/v1/chat/completions";
    let records = gw.access_records_when(|r| r.iter().filter(|r| chat(r)).count() >= 4).await;
    let records: Vec<_> = records.into_iter().filter(chat).collect();
    assert_eq!(records.len(), 4, "{}", gw.log());
    // The stream did not ask for usage, yet it was counted from the injected usage chunk.
    let stream = records.iter().find(|r| r["stream"] == true).unwrap();
    assert_eq!(stream["endpoint"], "chat_completions");
    assert_eq!((stream["input_tokens"].as_u64(), stream["output_tokens"].as_u64()), (Some(5), Some(3)));
    assert_eq!(stream["key"], "tester");
    assert!(records.iter().any(|r| r["status"] == 401 && r["key"].is_null()));
    let log = gw.log();
    assert!(!log.contains(UPSTREAM_KEY) && !log.contains(KEY) && !log.contains("sk-wrong"), "a key reached the log");
}

#[tokio::test]
async fn an_early_error_keeps_the_connection_for_the_next_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_mock, gw) = single().await;
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = serde_json::to_string(&hello(json!({}))).unwrap();
    let request = |key: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    // Both requests on one connection: the 401 must not close it.
    sock.write_all(request("sk-wrong").as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = vec![0u8; 16384];
    while !seen.contains("invalid API key") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed after the 401: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 401") && !seen.to_ascii_lowercase().contains("connection: close"), "{seen}");
    sock.write_all(request(KEY).as_bytes()).await.unwrap();
    let mut second = String::new();
    while !second.contains("Echo: Hello there") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before the second answer: {second}");
        second.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

/// A raw HTTP/1.1 request head for `body_len` bytes with `Expect: 100-continue`.
fn expect_continue_head(key: &str, body_len: usize) -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\nexpect: 100-continue\r\ncontent-length: {body_len}\r\n\r\n"
    )
}

/// Reads from `sock` until `done` holds for what arrived (5 s at most).
async fn read_until(sock: &mut tokio::net::TcpStream, done: impl Fn(&str) -> bool) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16384];
    let mut seen = String::new();
    while !done(&seen) {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body() {
    use tokio::io::AsyncWriteExt;
    let (_mock, gw) = single().await;
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = serde_json::to_string(&hello(json!({}))).unwrap();
    sock.write_all(expect_continue_head(KEY, body.len()).as_bytes()).await.unwrap();
    // Nothing of the body was sent: only the interim answer can arrive, and nothing after it.
    let interim = read_until(&mut sock, |s| s.contains("\r\n\r\n")).await;
    assert!(interim.starts_with("HTTP/1.1 100 ") && interim.ends_with("\r\n\r\n"), "{interim}");
    sock.write_all(body.as_bytes()).await.unwrap();
    let answer = read_until(&mut sock, |s| s.contains("Echo: Hello there")).await;
    // The final answer follows directly: no second interim response before it.
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
}

#[tokio::test]
async fn expect_100_continue_is_refused_when_the_declared_body_is_too_large() {
    use tokio::io::AsyncWriteExt;
    let mock = switchyard::mock::MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let providers = [provider("primary", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")];
    let gw = Gateway::start(&config(&providers, &[("primary", 0)], "limits: { max_body_bytes: 1000 }\n")).await;
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    sock.write_all(expect_continue_head(KEY, 5000).as_bytes()).await.unwrap();
    // The client is told before it sends a byte of the body, and never invited to send it.
    let answer = read_until(&mut sock, |s| s.contains("request_too_large")).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(!answer.contains("HTTP/1.1 100"), "{answer}");
    assert!(mock.requests().is_empty());
}
