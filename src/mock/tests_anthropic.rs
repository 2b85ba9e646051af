//! End-to-end tests of the mock's Anthropic Messages routes over real sockets.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::tests::{mock, named_frames as frames, read_until_cut, url};
use super::{Faults, MockUpstream};

fn messages(text: &str) -> Value {
    json!({"model": "claude-test", "max_tokens": 100, "system": "be brief",
           "messages": [{"role": "user", "content": text}]})
}

async fn post(m: &MockUpstream, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url(m, "/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn non_stream_message_shape() {
    let m = mock().await;
    let resp = post(&m, &messages("hello   world")).await;
    assert_eq!(resp.status(), 200);
    let rid = resp.headers()["request-id"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["x-request-id"].to_str().unwrap(), rid);
    let body: Value = resp.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    let expected = json!({"id": body["id"], "type": "message", "role": "assistant",
        "model": "claude-test", "content": [{"type": "text", "text": "Echo: hello world"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 5 + 5, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 3}});
    assert_eq!(body, expected);
}

#[tokio::test]
async fn max_tokens_truncates() {
    let m = mock().await;
    let mut body = messages("one two three");
    body["max_tokens"] = json!(2);
    let body: Value = post(&m, &body).await.json().await.unwrap();
    assert_eq!(body["content"][0]["text"], "Echo: one");
    assert_eq!(body["stop_reason"], "max_tokens");
    assert_eq!(body["usage"]["output_tokens"], 2);
}

#[tokio::test]
async fn tool_use_and_thinking_non_stream() {
    let m = mock().await;
    let body = json!({"model": "c", "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]});
    let body: Value = post(&m, &body).await.json().await.unwrap();
    assert_eq!(
        body["content"],
        json!([
            {"type": "thinking", "thinking": "Thinking about: Weather in Paris?", "signature": "sig_mock_33"},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_mock_0", "name": "get_weather", "input": {"city": "Paris"}}
        ])
    );
    assert_eq!(body["stop_reason"], "tool_use");
    // 5 thinking words + 3 text words + 10 for the call.
    assert_eq!(body["usage"]["output_tokens"], 18);
}

#[tokio::test]
async fn stream_text_frame_order() {
    let m = mock().await;
    let mut body = messages("hi there");
    body["stream"] = json!(true);
    let resp = post(&m, &body).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let f = frames(&resp.text().await.unwrap());
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &f[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 10);
    assert_eq!(start["usage"]["output_tokens"], 1);
    assert_eq!(f[2].1["content_block"], json!({"type": "text", "text": ""}));
    let text: String = f[3..6]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "Echo: hi there");
    assert_eq!(f[6].1, json!({"type": "content_block_stop", "index": 0}));
    assert_eq!(
        f[7].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 3}})
    );
}

#[tokio::test]
async fn stream_thinking_and_tool_indices() {
    let m = mock().await;
    let body = json!({"model": "c", "max_tokens": 2048, "stream": true,
        "thinking": {"type": "adaptive"}, "tools": [{"name": "lookup"}],
        "messages": [{"role": "user", "content": "weather now"}]});
    let f = frames(&post(&m, &body).await.text().await.unwrap());
    let starts: Vec<(u64, String)> = f
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| (d["index"].as_u64().unwrap(), d["content_block"]["type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(starts, [(0, "thinking".into()), (1, "text".into()), (2, "tool_use".into())]);
    let deltas = |index: u64, kind: &str, field: &str| -> String {
        f.iter()
            .filter(|(n, d)| n == "content_block_delta" && d["index"] == index && d["delta"]["type"] == kind)
            .map(|(_, d)| d["delta"][field].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(deltas(0, "thinking_delta", "thinking"), "Thinking about: weather now");
    assert_eq!(deltas(0, "signature_delta", "signature"), "sig_mock_27");
    assert_eq!(deltas(1, "text_delta", "text"), "Let me check.");
    let args = deltas(2, "input_json_delta", "partial_json");
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"city": "Paris"}));
    let tool_start = f.iter().find(|(_, d)| d["content_block"]["type"] == "tool_use").unwrap();
    assert_eq!(tool_start.1["content_block"], json!({"type": "tool_use", "id": "toolu_mock_0", "name": "lookup", "input": {}}));
    // Every start has its stop, in order, before message_delta.
    let stops: Vec<u64> =
        f.iter().filter(|(n, _)| n == "content_block_stop").map(|(_, d)| d["index"].as_u64().unwrap()).collect();
    assert_eq!(stops, [0, 1, 2]);
    let (name, delta) = &f[f.len() - 2];
    assert_eq!(name, "message_delta");
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 4 + 3 + 10);
}

#[tokio::test]
async fn required_header_and_fields() {
    let m = mock().await;
    let client = reqwest::Client::new();
    let resp = client.post(url(&m, "/v1/messages")).json(&messages("x")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["request_id"].as_str().unwrap().starts_with("req_"));

    let mut no_max = messages("x");
    no_max.as_object_mut().unwrap().remove("max_tokens");
    let resp = post(&m, &no_max).await;
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "max_tokens: Field required");

    let resp = client
        .post(url(&m, "/anthropic/v1/messages?beta=true"))
        .header("anthropic-version", "2026-10-21")
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let count: Value = client
        .post(url(&m, "/v1/messages/count_tokens"))
        .header("anthropic-version", "2023-06-01")
        .json(&no_max)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count, json!({"input_tokens": 5 + 4}));
}

#[tokio::test]
async fn auth_by_x_api_key_or_bearer() {
    let m = mock().await;
    m.set_api_key(Some("sk-ant".into()));
    let client = reqwest::Client::new();
    let send = |key: Option<(&'static str, &'static str)>| {
        let mut req = client.post(url(&m, "/v1/messages")).header("anthropic-version", "2023-06-01").json(&messages("x"));
        if let Some((name, value)) = key {
            req = req.header(name, value);
        }
        req.send()
    };
    let resp = send(None).await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    assert_eq!(send(Some(("x-api-key", "nope"))).await.unwrap().status(), 401);
    assert_eq!(send(Some(("x-api-key", "sk-ant"))).await.unwrap().status(), 200);
    assert_eq!(send(Some(("authorization", "Bearer sk-ant"))).await.unwrap().status(), 200);
}

#[tokio::test]
async fn status_faults_use_anthropic_types() {
    let m = mock().await;
    for (status, kind) in [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (404, "not_found_error"),
        (504, "timeout_error"),
    ] {
        let mut body = messages("x");
        body["mock"] = json!({"status": status});
        let resp = post(&m, &body).await;
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(resp.headers().contains_key("retry-after"), status == 429);
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["type"], "error");
        assert_eq!(err["error"]["type"], kind, "{status}");
    }
    let mut body = messages("x");
    body["mock"] = json!({"bogus": 1});
    let err: Value = post(&m, &body).await.json().await.unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn cut_delay_and_hang_faults() {
    let m = mock().await;
    let mut body = messages("a b c");
    body["stream"] = json!(true);
    body["mock"] = json!({"cut_after_events": 3});
    let (received, cut) = read_until_cut(post(&m, &body).await).await;
    assert!(cut, "stream ended cleanly after a cut");
    let text = String::from_utf8(received).unwrap();
    assert_eq!(frames(&text).len(), 3);

    m.set_faults(Faults { chunk_delay: Duration::from_millis(20), ..Faults::default() });
    body.as_object_mut().unwrap().remove("mock");
    let started = Instant::now();
    let text = post(&m, &body).await.text().await.unwrap();
    let n = frames(&text).len();
    assert_eq!(n, 2 + 1 + 4 + 1 + 2);
    assert!(started.elapsed() >= Duration::from_millis(20 * (n as u64 - 1)));

    m.set_faults(Faults { hang: true, ..Faults::default() });
    let client = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let err = client
        .post(url(&m, "/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&messages("x"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
}
