//! End-to-end tests of the mock over real sockets, with reqwest as the client.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Faults, MockUpstream};

pub(super) async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

pub(super) fn url(m: &MockUpstream, path: &str) -> String {
    format!("http://{}{}", m.addr(), path)
}

/// POSTs `body` as JSON to `path` with no extra headers (the Gemini, embeddings, images and
/// Responses tests all send this way).
pub(super) async fn post_to(m: &MockUpstream, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new().post(url(m, path)).json(body).send().await.unwrap()
}

/// Splits a named-event SSE body (Anthropic, Responses) into (event name, data JSON), checking
/// both lines are there and that each data's `type` repeats its event name.
pub(super) fn named_frames(body: &str) -> Vec<(String, Value)> {
    body.split_terminator("\n\n")
        .map(|f| {
            let (event, data) = f.split_once('\n').unwrap();
            let name = event.strip_prefix("event: ").unwrap().to_owned();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

/// Reads a streamed body to its end: the bytes received and whether it ended in an error (a
/// cut) rather than cleanly.
pub(super) async fn read_until_cut(mut resp: reqwest::Response) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let cut = loop {
        match resp.chunk().await {
            Ok(Some(b)) => received.extend_from_slice(&b),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (received, cut)
}

fn chat(text: &str) -> Value {
    json!({"model": "gpt-test", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": text}
    ]})
}

async fn post(client: &reqwest::Client, m: &MockUpstream, body: &Value) -> reqwest::Response {
    client.post(url(m, "/v1/chat/completions")).json(body).send().await.unwrap()
}

/// Splits an SSE body into its `data:` payloads.
fn data_events(body: &str) -> Vec<String> {
    body.split("\n\n").filter_map(|e| e.strip_prefix("data: ")).map(str::to_owned).collect()
}

#[tokio::test]
async fn non_stream_completion_shape_and_text() {
    let m = mock().await;
    let resp = post(&reqwest::Client::new(), &m, &chat("hello   world")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().contains_key("content-length"));
    assert!(resp.headers()["x-request-id"].to_str().unwrap().starts_with("req_"));
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["system_fingerprint"], "fp_mock");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Echo: hello world");
    assert_eq!(choice["message"]["refusal"], Value::Null);
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["finish_reason"], "stop");
    // (2 words + 3) + (2 words + 3) prompt, "Echo: hello world" = 3 words.
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                   "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})
    );
}

#[tokio::test]
async fn max_tokens_truncates_with_length() {
    let m = mock().await;
    let mut body = chat("one two three four");
    body["max_tokens"] = json!(3);
    let body: Value = post(&reqwest::Client::new(), &m, &body).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: one two");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn stream_event_order_without_usage() {
    let m = mock().await;
    let mut body = chat("hi there");
    body["stream"] = json!(true);
    let resp = post(&reqwest::Client::new(), &m, &body).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["transfer-encoding"], "chunked");
    let text = resp.text().await.unwrap();
    let events = data_events(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    assert_eq!(chunks.len(), 1 + 3 + 1);
    let id = &chunks[0]["id"];
    for c in &chunks {
        assert_eq!(&c["id"], id);
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], "gpt-test");
        assert!(c.get("usage").is_none(), "usage key present without include_usage");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({"role": "assistant", "content": "", "refusal": null}));
    let words: Vec<&str> = chunks[1..4].iter().map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap()).collect();
    assert_eq!(words, ["Echo: ", "hi ", "there"]);
    assert_eq!(chunks[4]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn stream_with_include_usage() {
    let m = mock().await;
    let mut body = chat("hi");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let text = post(&reqwest::Client::new(), &m, &body).await.text().await.unwrap();
    let events = data_events(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let (last, before) = chunks.split_last().unwrap();
    assert!(before.iter().all(|c| c["usage"].is_null() && c.get("usage").is_some()));
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 9);
    assert_eq!(last["usage"]["completion_tokens"], 2);
    assert_eq!(last["usage"]["total_tokens"], 11);
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let m = mock().await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(post(&client, &m, &chat("a")).await.status(), 200);
    }
    let models = client.get(url(&m, "/v1/models")).send().await.unwrap();
    assert_eq!(models.status(), 200);
    assert_eq!(m.connections_accepted(), 1);
    assert_eq!(m.requests().len(), 4);
}

#[tokio::test]
async fn status_fault_503_with_envelope() {
    let m = mock().await;
    m.set_faults(Faults { status: Some(503), ..Faults::default() });
    let resp = post(&reqwest::Client::new(), &m, &chat("x")).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().get("retry-after").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert!(body["error"]["message"].is_string());
    assert_eq!(body["error"]["param"], Value::Null);
    assert!(body["error"].get("code").is_some());
}

#[tokio::test]
async fn status_fault_429_has_retry_after() {
    let m = mock().await;
    m.set_faults(Faults { status: Some(429), ..Faults::default() });
    let resp = post(&reqwest::Client::new(), &m, &chat("x")).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // Faults persist until replaced.
    m.set_faults(Faults::default());
    assert_eq!(post(&reqwest::Client::new(), &m, &chat("x")).await.status(), 200);
}

#[tokio::test]
async fn header_delay_delays_the_head() {
    let m = mock().await;
    m.set_faults(Faults { header_delay: Duration::from_millis(300), ..Faults::default() });
    let started = Instant::now();
    let resp = post(&reqwest::Client::new(), &m, &chat("x")).await;
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 200);
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn chunk_delay_spaces_events() {
    let m = mock().await;
    m.set_faults(Faults { chunk_delay: Duration::from_millis(50), ..Faults::default() });
    let mut body = chat("a b");
    body["stream"] = json!(true);
    let started = Instant::now();
    let text = post(&reqwest::Client::new(), &m, &body).await.text().await.unwrap();
    // 1 role + 3 words + 1 finish = 5 events, 4 gaps.
    assert_eq!(data_events(&text).len(), 6);
    assert!(started.elapsed() >= Duration::from_millis(190));
}

#[tokio::test]
async fn cut_after_events_ends_body_with_error() {
    let m = mock().await;
    m.set_faults(Faults { cut_after_events: Some(2), ..Faults::default() });
    let mut body = chat("one two three");
    body["stream"] = json!(true);
    let mut resp = post(&reqwest::Client::new(), &m, &body).await;
    assert_eq!(resp.status(), 200);
    let mut received = Vec::new();
    let error = loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => received.extend_from_slice(&bytes),
            Ok(None) => panic!("body ended cleanly after a cut"),
            Err(e) => break e,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    let text = String::from_utf8(received).unwrap();
    let events = data_events(&text);
    assert_eq!(events.len(), 2, "{text}");
    assert!(!text.contains("[DONE]"));
}

#[tokio::test]
async fn hang_times_out_on_the_client() {
    let m = mock().await;
    m.set_faults(Faults { hang: true, ..Faults::default() });
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let err = client.post(url(&m, "/v1/chat/completions")).json(&chat("x")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The request was read before hanging.
    assert_eq!(m.requests().len(), 1);
}

#[tokio::test]
async fn body_mock_override_applies_to_one_request() {
    let m = mock().await;
    let client = reqwest::Client::new();
    let mut body = chat("x");
    body["mock"] = json!({"status": 500});
    let resp = post(&client, &m, &body).await;
    assert_eq!(resp.status(), 500);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["type"], "server_error");
    assert_eq!(post(&client, &m, &chat("x")).await.status(), 200);

    body["mock"] = json!({"stream_delay": 1});
    assert_eq!(post(&client, &m, &body).await.status(), 400);

    // An override can also switch a fault off for one request.
    m.set_faults(Faults { status: Some(503), ..Faults::default() });
    body["mock"] = json!({"status": 200, "cut_after_events": 1});
    body["stream"] = json!(true);
    let resp = post(&client, &m, &body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.is_err());
}

#[tokio::test]
async fn api_key_required_when_set() {
    let m = mock().await;
    m.set_api_key(Some("sk-up".into()));
    let client = reqwest::Client::new();
    let resp = post(&client, &m, &chat("x")).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let wrong = client.post(url(&m, "/v1/chat/completions")).bearer_auth("sk-wrong").json(&chat("x")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    let ok = client.post(url(&m, "/v1/chat/completions")).bearer_auth("sk-up").json(&chat("x")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(m.requests()[2].header("Authorization"), Some("Bearer sk-up"));
}

#[tokio::test]
async fn tool_call_answer() {
    let m = mock().await;
    let body = json!({"model": "gpt-test",
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}]});
    let resp: Value = post(&reqwest::Client::new(), &m, &body).await.json().await.unwrap();
    let choice = &resp["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "call_mock_0", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}])
    );
    assert_eq!(resp["usage"]["completion_tokens"], 10);
}

#[tokio::test]
async fn malformed_json_and_missing_messages_are_400() {
    let m = mock().await;
    let client = reqwest::Client::new();
    let resp = client
        .post(url(&m, "/v1/chat/completions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");

    let resp = post(&client, &m, &json!({"model": "m"})).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["param"], "messages");
    // Errors keep the connection usable.
    assert_eq!(m.connections_accepted(), 1);
}

#[tokio::test]
async fn routes_prefixes_models_and_404() {
    let m = mock().await;
    let client = reqwest::Client::new();
    let resp = client.post(url(&m, "/openai/v1/chat/completions?api-version=1")).json(&chat("x")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let models: Value = client.get(url(&m, "/api/v1/models")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        models,
        json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]})
    );
    let resp = client.get(url(&m, "/v1/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Invalid URL (GET /v1/nope)");
}

/// Reads one response with Content-Length from a raw socket; returns (head, body).
async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (String, String) {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(buf[..end].to_vec()).unwrap();
            let len: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8(buf[end + 4..end + 4 + len].to_vec()).unwrap();
                buf.drain(..end + 4 + len);
                return (head, body);
            }
        }
        let mut tmp = [0u8; 4096];
        let n = s.read(&mut tmp).await.unwrap();
        assert!(n > 0, "closed early");
        buf.extend_from_slice(&tmp[..n]);
    }
}

#[tokio::test]
async fn raw_chunked_body_pipelining_and_connection_close() {
    let m = mock().await;
    let mut s = TcpStream::connect(m.addr()).await.unwrap();
    let body = serde_json::to_string(&chat("chunked body")).unwrap();
    let (a, b) = body.split_at(10);
    let first = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let second = "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    // Both requests in one write: the second must wait in the buffer, not be lost.
    s.write_all(format!("{first}{second}").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let (head, body) = read_response(&mut s, &mut buf).await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "Echo: chunked body");
    let (head, _) = read_response(&mut s, &mut buf).await;
    assert!(head.contains("connection: close"), "{head}");
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).await.unwrap(), 0);
    let recorded = m.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(recorded[0].json().unwrap()["model"], "gpt-test");
    assert_eq!(recorded[1].path, "/v1/models");
}

#[tokio::test]
async fn malformed_head_gets_400_and_close() {
    let m = mock().await;
    let mut s = TcpStream::connect(m.addr()).await.unwrap();
    s.write_all(b"NOT HTTP\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
}

#[tokio::test]
async fn dropping_the_mock_closes_connections() {
    let m = mock().await;
    m.set_faults(Faults { hang: true, ..Faults::default() });
    let mut s = TcpStream::connect(m.addr()).await.unwrap();
    s.write_all(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(m);
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "hung connection outlived the mock");
}
