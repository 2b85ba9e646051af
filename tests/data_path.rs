//! The OpenAI chat data path end to end: the real binary, mock upstreams, loopback sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use std::time::{Duration, Instant};
use switchyard::mock::Faults;

#[tokio::test]
async fn non_stream_rewrites_model_both_ways_and_keeps_explicit_values() {
    let (mock, gw) = single().await;
    let resp = gw
        .chat(hello(json!({
            "seed": 0, "temperature": 0, "parallel_tool_calls": false,
            "top_p": null, "x_vendor_knob": {"nested": [1, 2.50]}
        })))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-request-id").is_some());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "public-model");
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: Hello there");
    assert_eq!(body["usage"]["completion_tokens"], 3);

    let sent = &mock.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    let raw = String::from_utf8(sent.body.to_vec()).unwrap();
    // Byte-level: explicit zero/false/null and unknown fields arrive exactly as the client sent them.
    for fragment in [
        r#""seed":0"#,
        r#""temperature":0"#,
        r#""parallel_tool_calls":false"#,
        r#""top_p":null"#,
        r#""x_vendor_knob":{"nested":[1,2.5]}"#,
    ] {
        assert!(raw.contains(fragment), "{fragment} missing from {raw}");
    }
    assert_eq!(sent.json().unwrap()["model"], "upstream-model");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {UPSTREAM_KEY}").as_str()));
    assert!(sent.json().unwrap().get("stream_options").is_none(), "no stream options on non-stream requests");
}

#[tokio::test]
async fn alias_resolves_and_request_id_is_echoed() {
    let (_mock, gw) = single().await;
    let resp = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("x-request-id", "client-trace-42")
        .json(&json!({"model": "vendor/public-model", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "client-trace-42");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["model"], "public-model", "the public id comes back, not the alias or upstream id");

    let resp = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("x-request-id", "bad id with spaces")
        .json(&hello(json!({})))
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn stream_injects_usage_upstream_and_hides_it_unless_asked() {
    let (mock, gw) = single().await;
    let text = gw.chat(hello(json!({"stream": true}))).await.text().await.unwrap();
    let upstream = mock.requests()[0].json().unwrap();
    assert_eq!(upstream["stream_options"]["include_usage"], true);
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "no usage key when the client did not ask");
    assert!(chunks.iter().all(|c| c["model"] == "public-model"));
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Echo: Hello there");

    let text = gw.chat(hello(json!({"stream": true, "stream_options": {"include_usage": true}}))).await.text().await.unwrap();
    let events = sse_data(&text);
    let usage_chunk: serde_json::Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn slow_stream_is_relayed_event_by_event() {
    let (mock, gw) = single().await;
    mock.set_faults(Faults { chunk_delay: Duration::from_millis(300), ..Faults::default() });
    let started = Instant::now();
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    let mut stream = resp.bytes_stream();
    let mut arrivals = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for _ in 0..chunk.windows(6).filter(|w| w == b"data: ").count() {
            arrivals.push(started.elapsed());
        }
    }
    // role, 3 words, finish, [DONE]: 6 events spread over ≥ 1.5 s by the upstream.
    assert_eq!(arrivals.len(), 6, "{arrivals:?}");
    let total = *arrivals.last().unwrap();
    assert!(total >= Duration::from_millis(1400), "{arrivals:?}");
    assert!(arrivals[0] + Duration::from_millis(900) < total, "the first event waited for later ones: {arrivals:?}");
    assert!(arrivals[2] + Duration::from_millis(250) < arrivals[4], "events arrived in a burst: {arrivals:?}");
}

#[tokio::test]
async fn upstream_connections_are_pooled() {
    let (mock, gw) = single().await;
    for stream in [false, true, false, true, false] {
        let resp = gw.chat(hello(json!({"stream": stream}))).await;
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    assert_eq!(mock.connections_accepted(), 1, "every request reused one pooled upstream connection");
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let (_mock, gw) = single().await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    for stream in [false, true] {
        let resp = client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&hello(json!({"stream": stream})))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(resp.status(), 200);
        let text = resp.text().await.unwrap();
        assert!(text.contains("Echo: ") || text.contains("Hello"), "{text}");
    }
}

#[tokio::test]
async fn upstream_key_never_reaches_the_client() {
    let (_mock, gw) = single().await;
    for body in [hello(json!({})), hello(json!({"stream": true})), hello(json!({"mock": {"status": 400}}))] {
        let resp = gw.chat(body).await;
        let headers = format!("{:?}", resp.headers());
        let text = resp.text().await.unwrap();
        assert!(!headers.contains(UPSTREAM_KEY) && !text.contains(UPSTREAM_KEY));
    }
}

#[tokio::test]
async fn client_headers_are_not_forwarded_upstream() {
    let (mock, gw) = single().await;
    reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .header("x-client-secret", "do-not-forward")
        .header("connection", "keep-alive, x-client-secret")
        .json(&hello(json!({})))
        .send()
        .await
        .unwrap();
    let sent = &mock.requests()[0];
    assert!(sent.header("x-client-secret").is_none());
    assert_ne!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(sent.header("host"), Some(mock.addr().to_string().as_str()));
}

#[tokio::test]
async fn upstream_validation_error_is_returned_not_failed_over() {
    let (a, b, gw) = pair("connect: 1s, first_byte: 5s, idle: 5s", "").await;
    let resp = gw.chat(hello(json!({"mock": {"status": 400}}))).await;
    let body = assert_error(resp, 400).await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(a.requests().len(), 1);
    assert!(b.requests().is_empty(), "a 400 is about the request: no failover");
}
