//! Config reload (`POST /admin/v1/reload`, `SIGHUP`) and graceful binary upgrade (`run -u`
//! + `SIGQUIT`), alone and under load.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{config, hello, provider, Gateway, Launch, KEY};
use std::time::Duration;
use switchyard::mock::MockUpstream;

/// The test config with a second public model `second-model` when `with_second` is set.
fn body(mock: &MockUpstream, with_second: bool) -> String {
    let timeouts = "connect: 1s, first_byte: 10s, idle: 10s";
    let mut yaml = config(&[provider("primary", mock.addr(), timeouts)], &[("primary", 0)], "");
    if with_second {
        yaml = yaml
            .replace("keys:\n", "  - { id: second-model, channels: [ { provider: primary, model: upstream-two } ] }\nkeys:\n");
    }
    yaml
}

async fn reload(gw: &Gateway) -> reqwest::Response {
    reqwest::Client::new().post(format!("http://{}/admin/v1/reload", gw.admin)).send().await.unwrap()
}

async fn status_for(gw: &Gateway, model: &str) -> u16 {
    gw.chat(hello(serde_json::json!({"model": model}))).await.status().as_u16()
}

#[tokio::test]
async fn the_admin_reload_serves_a_new_model_and_a_bad_file_changes_nothing() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&body(&mock, false)).await;
    assert_eq!(status_for(&gw, "second-model").await, 404);

    gw.rewrite_config(&body(&mock, true));
    let resp = reload(&gw).await;
    assert_eq!(resp.status(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["loaded"]["models"], 2, "{answer}");
    assert_eq!(status_for(&gw, "second-model").await, 200);

    // A broken file is refused whole with the field named; the running config keeps serving.
    gw.rewrite_config(&body(&mock, false).replace("provider: primary", "provider: nowhere"));
    let resp = reload(&gw).await;
    assert_eq!(resp.status(), 422);
    let err: serde_json::Value = resp.json().await.unwrap();
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains("models[0].channels[0].provider"), "{message}");
    assert_eq!(err["error"]["code"], "config_rejected");
    assert_eq!(status_for(&gw, "second-model").await, 200);
    assert_eq!(status_for(&gw, "public-model").await, 200);

    // Listeners are bound at start: changing one is refused rather than silently ignored.
    gw.rewrite_config(&body(&mock, true).replace("providers:\n", "limits: { keepalive_request_limit: 7 }\nproviders:\n"));
    let resp = reload(&gw).await;
    assert_eq!(resp.status(), 422);
    let err: serde_json::Value = resp.json().await.unwrap();
    assert!(err["error"]["message"].as_str().unwrap().starts_with("limits.keepalive_request_limit: changed"), "{err}");
}

#[tokio::test]
async fn the_reload_endpoint_needs_the_admin_token() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let launch = Launch { admin: ", token: adm-reload-token", ..Launch::default() };
    let gw = Gateway::launch(&body(&mock, false), &launch).await;
    gw.rewrite_config(&body(&mock, true));
    assert_eq!(reload(&gw).await.status(), 401);
    assert_eq!(status_for(&gw, "second-model").await, 404, "an unauthorised reload changed nothing");
    let ok = reqwest::Client::new()
        .post(format!("http://{}/admin/v1/reload", gw.admin))
        .bearer_auth("adm-reload-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(status_for(&gw, "second-model").await, 200);
}

#[tokio::test]
async fn sighup_reloads_the_file() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&body(&mock, false)).await;
    gw.rewrite_config(&body(&mock, true));
    gw.hangup();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while status_for(&gw, "second-model").await != 200 {
        assert!(std::time::Instant::now() < deadline, "SIGHUP did not reload:\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gw.log().contains("config reloaded (SIGHUP)"));
}

/// One request of the load run: a plain answer, or a stream of several seconds whose every
/// event must arrive (the mock ends it with `[DONE]`).
async fn one_request(client: reqwest::Client, url: String, n: usize) -> Result<(), String> {
    let stream = n.is_multiple_of(8);
    let mut body = hello(serde_json::json!({"stream": stream}));
    if stream {
        body["mock"] = serde_json::json!({"chunk_delay_ms": 400});
    }
    let resp = client
        .post(&url)
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("#{n}: send: {:?}", std::error::Error::source(&e)))?;
    if resp.status() != 200 {
        return Err(format!("#{n}: status {}", resp.status()));
    }
    let text = resp.text().await.map_err(|e| format!("#{n}: body: {e}"))?;
    if stream && !text.trim_end().ends_with("data: [DONE]") {
        return Err(format!("#{n}: stream ended early: {text}"));
    }
    if !stream && !text.contains("\"choices\"") {
        return Err(format!("#{n}: not an answer: {text}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_and_upgrades_under_load_drop_nothing() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    mock.set_recording(false);
    let launch = Launch { drain_seconds: Some(8), ..Launch::default() };
    let mut gw = Gateway::launch(&body(&mock, false), &launch).await;
    let url = gw.url("/v1/chat/completions");
    let total = 2_000;
    let load = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..32)
            .map(|_| {
                let (client, url, next) = (client.clone(), url.clone(), next.clone());
                tokio::spawn(async move {
                    let mut failures = Vec::new();
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n >= total {
                            return failures;
                        }
                        if let Err(e) = one_request(client.clone(), url.clone(), n).await {
                            failures.push(e);
                        }
                    }
                })
            })
            .collect();
        let mut failures = Vec::new();
        for w in workers {
            failures.extend(w.await.unwrap());
        }
        failures
    });
    // Five reloads (alternating configs) and two binary upgrades while the load runs.
    for round in 0..5u32 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        gw.rewrite_config(&body(&mock, round.is_multiple_of(2)));
        assert_eq!(reload(&gw).await.status(), 200, "reload {round}");
        if round == 1 || round == 3 {
            gw.upgrade().await;
        }
    }
    let failures = load.await.unwrap();
    assert!(failures.is_empty(), "{} of {total} failed: {:?}", failures.len(), &failures[..failures.len().min(5)]);
}
