//! What an operator sees: log lines (text or flat JSON) and the admin listener's guard on
//! `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use switchyard::mock::MockUpstream;

async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn gateway(mock: &MockUpstream, launch: &Launch<'_>) -> Gateway {
    let body = config(&[provider("primary", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")], &[("primary", 0)], "");
    Gateway::launch(&body, launch).await
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn access_log_is_one_flat_json_object_per_request() {
    let mock = mock().await;
    // stdout is a file here, not a terminal: JSON without being asked.
    let mut gw = gateway(&mock, &Launch::default()).await;
    let ok = gw.chat(hello(json!({}))).await;
    let ok_id = request_id(&ok);
    ok.bytes().await.unwrap();
    let refused = reqwest::Client::new().post(gw.url("/v1/chat/completions")).bearer_auth("sk-wrong").send().await.unwrap();
    let refused_id = request_id(&refused);
    let chat = |r: &Value| r["path"] == "/v1/chat/completions";
    let records = gw.access_records_when(|r| r.iter().filter(|r| chat(r)).count() >= 2).await;
    // Readiness probes (`GET /healthz`) are logged too; every access line is flat.
    for r in &records {
        assert!(r.get("fields").is_none() && r.get("message").is_none(), "nested, not flat: {r}");
        assert_eq!(r["level"], "INFO", "{r}");
        assert!(r["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{r}");
        assert!(r["duration_ms"].as_f64().is_some() && r["method"].is_string(), "{r}");
    }
    let records: Vec<Value> = records.into_iter().filter(chat).collect();
    assert_eq!(records.len(), 2, "{}", gw.log());
    let ok = records.iter().find(|r| r["request_id"] == ok_id.as_str()).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(
        (ok["status"].as_u64(), ok["path"].as_str(), ok["key"].as_str()),
        (Some(200), Some("/v1/chat/completions"), Some("tester"))
    );
    assert_eq!((ok["input_tokens"].as_u64(), ok["output_tokens"].as_u64()), (Some(5), Some(3)));
    let refused = records.iter().find(|r| r["request_id"] == refused_id.as_str()).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(refused["status"], 401);
    assert!(refused.get("key").is_none(), "{refused}");

    // Every line of the log is JSON, and a request answered just before shutdown is in it once
    // the process has exited (the background writer is flushed, not dropped).
    let last = gw.chat(hello(json!({}))).await;
    let last_id = request_id(&last);
    last.bytes().await.unwrap();
    assert!(gw.stop().await.success());
    let log = gw.log();
    for line in log.lines().filter(|l| !l.is_empty()) {
        assert!(serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()), "not a JSON object: {line}");
    }
    assert!(gw.access_records().iter().any(|r| r["request_id"] == last_id.as_str()), "{log}");
}

#[tokio::test]
async fn text_logs_are_lines_a_person_reads() {
    let mock = mock().await;
    let gw = gateway(&mock, &Launch { args: &["--log-format", "text"], ..Launch::default() }).await;
    let resp = gw.chat(hello(json!({}))).await;
    let id = request_id(&resp);
    resp.bytes().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gw.log().contains(&id) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let log = gw.log();
    let access = log.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("no access line: {log}"));
    assert!(serde_json::from_str::<Value>(access).is_err(), "{access}");
    assert!(access.contains("INFO") && access.contains("POST /v1/chat/completions 200 "), "{access}");
    assert!(access.contains("model=public-model") && access.contains("tokens=5/3"), "{access}");
    for line in log.lines().filter(|l| l.contains("INFO")) {
        assert!(
            !line.contains(".rs") && !line.contains("pingora_") && !line.contains(".cargo"),
            "a source path or module: {line}"
        );
        assert!(!line.trim_start().starts_with('{'), "{line}");
    }
}

async fn get(url: String, token: Option<&str>) -> reqwest::Response {
    let req = reqwest::Client::new().get(url);
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    req.send().await.unwrap()
}

/// Asserts the admin API's own error envelope (not a provider's) and returns it.
async fn admin_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    let body: Value = resp.json().await.unwrap();
    let err = body["error"].as_object().unwrap_or_else(|| panic!("{body}"));
    let mut keys: Vec<&str> = err.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message", "type"], "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

#[tokio::test]
async fn metrics_need_the_admin_token_when_one_is_set() {
    let mock = mock().await;
    let launch = Launch { admin: ", token: adm-secret-token", args: &["--log-format", "json"], ..Launch::default() };
    let gw = gateway(&mock, &launch).await;
    let metrics = format!("http://{}/metrics", gw.admin);
    let missing = get(metrics.clone(), None).await;
    assert_eq!(missing.headers()["www-authenticate"].to_str().unwrap().split(' ').next(), Some("Bearer"));
    let body = admin_error(missing, 401, "invalid_admin_token").await;
    assert_eq!(body["error"]["type"], "authentication_error");
    admin_error(get(metrics.clone(), Some("adm-secret-tokeX")).await, 401, "invalid_admin_token").await;
    admin_error(get(metrics.clone(), Some("adm-secret-token-and-more")).await, 401, "invalid_admin_token").await;
    gw.chat(hello(json!({}))).await.bytes().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let ok = get(metrics.clone(), Some("adm-secret-token")).await;
        assert_eq!(ok.status(), 200);
        let text = ok.text().await.unwrap();
        if text.contains("switchyard_requests_total{") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Load balancers probe health without a secret.
    assert_eq!(get(format!("http://{}/healthz", gw.admin), None).await.status(), 200);
    let body =
        admin_error(get(format!("http://{}/nope", gw.admin), Some("adm-secret-token")).await, 404, "route_not_found").await;
    assert_eq!(body["error"]["type"], "not_found");
    assert!(!gw.log().contains("adm-secret-token"), "the admin token reached the log");
}

#[tokio::test]
async fn metrics_stay_open_without_a_token_or_when_declared_public() {
    let mock = mock().await;
    let open = gateway(&mock, &Launch::default()).await;
    let resp = get(format!("http://{}/metrics", open.admin), None).await;
    assert_eq!((resp.status().as_u16(), resp.headers()["content-type"].to_str().unwrap()), (200, "text/plain; version=0.0.4"));
    admin_error(get(format!("http://{}/v1/models", open.admin), None).await, 404, "route_not_found").await;

    let public = gateway(&mock, &Launch { admin: ", token: adm-secret-token, metrics_public: true", ..Launch::default() }).await;
    let resp = get(format!("http://{}/metrics", public.admin), None).await;
    assert_eq!((resp.status().as_u16(), resp.headers()["content-type"].to_str().unwrap()), (200, "text/plain; version=0.0.4"));
}
