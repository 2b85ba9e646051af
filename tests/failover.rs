//! Failover before the first byte, never after; timeouts; the error when every channel fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use switchyard::mock::{Faults, MockUpstream};

const FAST: &str = "connect: 1s, first_byte: 2s, idle: 1s";

/// Two requests (whole, stream) while the first channel answers `status`; `tried_again`: whether
/// the second request still tries it (a 429 cools it down for its Retry-After instead).
async fn fails_over_on(status: u16, tried_again: bool) {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { status: Some(status), ..Faults::default() });
    for stream in [false, true] {
        let resp = gw.chat(hello(json!({"stream": stream}))).await;
        assert_eq!(resp.status(), 200, "{status} stream={stream}");
        assert!(resp.text().await.unwrap().contains("Echo"));
    }
    assert_eq!(a.requests().len(), if tried_again { 2 } else { 1 });
    assert_eq!(b.requests().len(), 2);
    let wanted = format!("outcome=\"status_{status}\"");
    assert!(gw.metrics_when(|m| m.contains(&wanted)).await.contains(&wanted));
}

#[tokio::test]
async fn fails_over_on_503() {
    fails_over_on(503, true).await;
}

#[tokio::test]
async fn fails_over_on_429() {
    fails_over_on(429, false).await;
}

#[tokio::test]
async fn fails_over_on_connection_refused() {
    let dead = free_addr();
    let b = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&config(
        &[provider("dead", dead, FAST), provider("live", b.addr(), FAST)],
        &[("dead", 0), ("live", 1)],
        "",
    ))
    .await;
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(b.requests().len(), 1);
}

#[tokio::test]
async fn one_mebibyte_request_survives_failover() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    let big = "x".repeat(1024 * 1024);
    let resp = gw.chat(json!({"model": "public-model", "messages": [{"role": "user", "content": big}]})).await;
    assert_eq!(resp.status(), 200);
    for mock in [&a, &b] {
        let sent = mock.requests()[0].json().unwrap();
        assert_eq!(sent["messages"][0]["content"].as_str().map(str::len), Some(1024 * 1024));
    }
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw =
        Gateway::start(&config(&[provider("p", mock.addr(), FAST)], &[("p", 0)], "limits: { max_body_bytes: 1000 }\n")).await;
    let resp = gw.chat(json!({"model": "public-model", "messages": [{"role": "user", "content": "y".repeat(2000)}]})).await;
    assert_error(resp, 413).await;
    assert!(mock.requests().is_empty());
    let ok = gw.chat(hello(json!({}))).await;
    assert_eq!(ok.status(), 200, "a body under the limit passes");
}

#[tokio::test]
async fn first_byte_timeout_fails_over() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { hang: true, ..Faults::default() });
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(b.requests().len(), 1);
    let wanted = "outcome=\"first_byte_timeout\"";
    assert!(gw.metrics_when(|m| m.contains(wanted)).await.contains(wanted));
}

#[tokio::test]
async fn all_channels_failing_give_the_last_status_in_the_envelope() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    b.set_faults(Faults { status: Some(429), ..Faults::default() });
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_error(resp, 429).await;
    let text = body.to_string();
    // The client learns what happened, never which providers or channels were behind it.
    assert!(!text.contains("first") && !text.contains("second") && !text.contains("upstream-model#"), "{body}");
    let error = gw.access_record(&id).await["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error.contains("first/upstream-model#0") && error.contains("second/upstream-model#1"),
        "the log keeps every attempt: {error}"
    );
}

#[tokio::test]
async fn no_reachable_channel_is_503_no_available_channel() {
    let gw = Gateway::start(&config(
        &[provider("dead1", free_addr(), FAST), provider("dead2", free_addr(), FAST)],
        &[("dead1", 0), ("dead2", 1)],
        "",
    ))
    .await;
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_error(resp, 503).await;
    assert_eq!(body["error"]["code"], "no_available_channel");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("dead") && !message.contains("127.0.0.1") && !message.contains("refused"), "{message}");
    let error = gw.access_record(&id).await["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("dead1") && error.contains("dead2") && error.contains("connect"), "{error}");
}

#[tokio::test]
async fn cut_mid_stream_is_an_in_stream_error_and_never_replayed() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { cut_after_events: Some(2), ..Faults::default() });
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    assert_eq!(resp.status(), 200, "the stream had started");
    let events = sse_data(&resp.text().await.unwrap());
    assert!(!events.contains(&"[DONE]".to_owned()), "{events:?}");
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].as_str().unwrap().contains("upstream"), "{last}");
    assert!(b.requests().is_empty(), "bytes reached the client: no failover after that");
}

#[tokio::test]
async fn idle_stream_times_out_with_an_in_stream_error() {
    let (a, b, gw) = pair(FAST, "").await;
    // Role chunk and two words arrive (the stream is committed), then the upstream goes quiet.
    a.set_faults(Faults { stall_after_events: Some(3), ..Faults::default() });
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let events = sse_data(&resp.text().await.unwrap());
    let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "idle_timeout", "{last}");
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn a_stall_before_the_first_content_fails_over_invisibly() {
    let (a, b, gw) = pair(FAST, "").await;
    // Only the role chunk arrives, then nothing until the idle timeout.
    a.set_faults(Faults { stall_after_events: Some(1), ..Faults::default() });
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    assert!(events.iter().all(|e| !e.contains("\"error\"")), "{events:?}");
    assert_eq!(b.requests().len(), 1);
    assert_eq!(gw.access_record(&id).await["tried"][0]["outcome"], "idle_timeout");
}

#[tokio::test]
async fn an_openai_role_chunk_then_a_closed_connection_fails_over() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { cut_after_events: Some(1), ..Faults::default() });
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let events = sse_data(&resp.text().await.unwrap());
    // Exactly one role chunk: the first channel's was held back and dropped.
    let roles = events.iter().filter(|e| e.contains("\"role\":\"assistant\"")).count();
    assert_eq!(roles, 1, "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    assert!(events.iter().any(|e| e.contains("Echo")), "{events:?}");
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    let record = gw.access_record(&id).await;
    assert_eq!(record["tried"][0]["outcome"], "read_error", "{record}");
    assert_eq!(record["tried"][1]["outcome"], "ok", "{record}");
}

/// Two Anthropic-protocol mocks as priority 0 and 1 channels.
async fn anthropic_pair() -> (MockUpstream, MockUpstream, Gateway) {
    let a = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let b = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let p = |name: &str, addr| {
        format!("  - {{ name: {name}, protocol: anthropic, base_url: \"http://{addr}\", api_key: \"{UPSTREAM_KEY}\", timeouts: {{ {FAST} }} }}\n")
    };
    let gw = Gateway::start(&config(&[p("first", a.addr()), p("second", b.addr())], &[("first", 0), ("second", 1)], "")).await;
    (a, b, gw)
}

#[tokio::test]
async fn message_start_then_an_overloaded_error_gives_the_second_channels_answer() {
    let (a, b, gw) = anthropic_pair().await;
    // message_start and ping, then `overloaded_error`.
    a.set_faults(Faults { error_after_events: Some(2), ..Faults::default() });
    let resp = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "public-model", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    assert!(!text.contains("overloaded_error") && !text.contains("event: error"), "{text}");
    assert_eq!(text.matches("event: message_start").count(), 1, "{text}");
    assert!(text.contains("Echo") && text.contains("event: message_stop"), "{text}");
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
    assert_eq!(gw.access_record(&id).await["tried"][0]["outcome"], "stream_error");

    // The same for an OpenAI client converted from the Anthropic stream.
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{events:?}");
    assert!(events.iter().all(|e| !e.contains("\"error\"")), "{events:?}");
    assert_eq!(b.requests().len(), 2);
}

#[tokio::test]
async fn an_error_after_the_first_content_is_an_in_stream_error_never_a_failover() {
    let (a, b, gw) = anthropic_pair().await;
    // message_start, ping, content_block_start, one delta, then the error.
    a.set_faults(Faults { error_after_events: Some(4), ..Faults::default() });
    let resp = reqwest::Client::new()
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "public-model", "max_tokens": 64, "stream": true, "messages": [{"role": "user", "content": "Hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(text.contains("event: error") && text.contains("overloaded_error"), "{text}");
    assert!(b.requests().is_empty(), "content reached the client: no failover after that");
}

#[tokio::test]
async fn first_byte_timeout_on_the_only_channel_says_so() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    mock.set_faults(Faults { header_delay: Duration::from_millis(3000), ..Faults::default() });
    let gw =
        Gateway::start(&config(&[provider("slow", mock.addr(), "connect: 1s, first_byte: 500ms, idle: 1s")], &[("slow", 0)], ""))
            .await;
    let resp = gw.chat(hello(json!({}))).await;
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = assert_error(resp, 503).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("in time") && !message.contains("slow"), "{body}");
    let error = gw.access_record(&id).await["error"].as_str().unwrap_or_default().to_owned();
    assert!(error.contains("first_byte_timeout") && error.contains("slow/upstream-model#0"), "{error}");
}

#[tokio::test]
async fn client_hanging_up_stops_waiting_for_the_upstream() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    mock.set_faults(Faults { hang: true, ..Faults::default() });
    let gw =
        Gateway::start(&config(&[provider("slow", mock.addr(), "connect: 1s, first_byte: 10s, idle: 10s")], &[("slow", 0)], ""))
            .await;
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    assert!(client.post(gw.url("/v1/chat/completions")).bearer_auth(KEY).json(&hello(json!({}))).send().await.is_err());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let done = gw.access_records().into_iter().find(|r| r["path"] == "/v1/chat/completions");
        if let Some(r) = done {
            assert_eq!(r["status"], 499, "{r}");
            assert!(r["duration_ms"].as_f64().unwrap() < 2000.0, "{r}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the gateway kept waiting for the upstream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn answers_name_the_provider_model_and_attempts_unless_hidden() {
    let (a, b, gw) = pair(FAST, "").await;
    a.set_faults(Faults { status: Some(503), ..Faults::default() });
    for stream in [false, true] {
        let resp = gw.chat(hello(json!({"model": "vendor/public-model", "stream": stream}))).await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(get("x-switchyard-provider").as_deref(), Some("second"), "stream={stream}");
        assert_eq!(get("x-switchyard-model").as_deref(), Some("public-model"), "the public id, not the alias");
        assert_eq!(get("x-switchyard-attempts").as_deref(), Some("2"));
        let id = get("x-request-id").unwrap();
        let record = gw.access_record(&id).await;
        let tried = record["tried"].as_array().unwrap();
        assert_eq!(tried.len(), 2, "{record}");
        assert_eq!((tried[0]["outcome"].as_str(), tried[1]["outcome"].as_str()), (Some("status_503"), Some("ok")));
        assert!(tried.iter().all(|t| t["duration_ms"].is_u64()), "{record}");
    }
    // A failure says how many attempts it took, and no provider.
    b.set_faults(Faults { status: Some(503), ..Faults::default() });
    let resp = gw.chat(hello(json!({}))).await;
    assert_eq!(resp.headers().get("x-switchyard-attempts").map(|v| v.to_str().unwrap()), Some("2"));
    assert!(resp.headers().get("x-switchyard-provider").is_none());
    // Local answers went nowhere: no routing headers.
    let models = reqwest::Client::new().get(gw.url("/v1/models")).bearer_auth(KEY).send().await.unwrap();
    assert!(models.headers().get("x-switchyard-attempts").is_none());

    let (_a, _b, hidden) = pair(FAST, "routing: { expose_headers: false }\n").await;
    let resp = hidden.chat(hello(json!({}))).await;
    assert_eq!(resp.status(), 200);
    for name in ["x-switchyard-provider", "x-switchyard-model", "x-switchyard-attempts"] {
        assert!(resp.headers().get(name).is_none(), "{name}");
    }
}
