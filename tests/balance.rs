//! A provider's replicas (`base_urls` with weights) balanced by pingora-load-balancing, and its
//! active health checks taking an address out and bringing it back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{hello, Gateway, KEY, UPSTREAM_KEY};
use std::time::{Duration, Instant};
use switchyard::mock::{Faults, MockUpstream};

/// One provider `replicas` over `mocks` (weights as given), serving `public-model`.
fn replicas(mocks: &[(&MockUpstream, u32)], health_check: &str) -> String {
    let urls: Vec<String> = mocks.iter().map(|(m, w)| format!("{{ url: \"http://{}/v1\", weight: {w} }}", m.addr())).collect();
    format!(
        "providers:\n  - {{ name: replicas, protocol: openai, api_key: \"{UPSTREAM_KEY}\", base_urls: [{}]{health_check}, timeouts: {{ connect: 1s, first_byte: 5s, idle: 5s }} }}\n\
         models:\n  - {{ id: public-model, channels: [ {{ provider: replicas, model: upstream-model }} ] }}\n\
         keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n",
        urls.join(", ")
    )
}

/// Chat requests a mock has answered (its health probes left out).
fn chats(mock: &MockUpstream) -> usize {
    mock.requests().iter().filter(|r| r.method == "POST").count()
}

async fn mock() -> MockUpstream {
    MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// Sends `n` requests one after another; every one must succeed.
async fn send_ok(gw: &Gateway, n: usize) {
    for i in 0..n {
        let resp = gw.chat(hello(serde_json::json!({}))).await;
        assert_eq!(resp.status(), 200, "request {i}: {}", resp.text().await.unwrap());
    }
}

#[tokio::test]
async fn replicas_share_the_traffic_by_weight() {
    let (a, b) = (mock().await, mock().await);
    let gw = Gateway::start(&replicas(&[(&a, 3), (&b, 1)], "")).await;
    send_ok(&gw, 2000).await;
    let (on_a, on_b) = (chats(&a), chats(&b));
    assert_eq!(on_a + on_b, 2000);
    // Weighted round robin: 3:1 exactly, well inside the ±5% the routing promises.
    let share = on_a as f64 / 2000.0;
    assert!((0.70..=0.80).contains(&share), "a got {on_a}, b got {on_b}");
}

/// Sends requests until `ready` holds for the pair of request counts, or fails after 10 s.
async fn until(gw: &Gateway, a: &MockUpstream, b: &MockUpstream, ready: impl Fn(usize, usize) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (before_a, before_b) = (chats(a), chats(b));
        for _ in 0..20 {
            let _ = gw.chat(hello(serde_json::json!({}))).await;
        }
        if ready(chats(a) - before_a, chats(b) - before_b) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not reached");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_http_health_check_takes_a_failing_replica_out_and_brings_it_back() {
    let (a, b) = (mock().await, mock().await);
    let check = ", health_check: { kind: http, path: /v1/models, expect_status: 200, interval: 100ms, timeout: 1s }";
    let gw = Gateway::start(&replicas(&[(&a, 1), (&b, 1)], check)).await;
    until(&gw, &a, &b, |x, y| x > 0 && y > 0, "both replicas serve").await;

    b.set_faults(Faults { status: Some(503), ..Faults::default() });
    until(&gw, &a, &b, |_, y| y == 0, "the failing replica is skipped").await;
    // Once it is out, every request succeeds on the other replica.
    let before = chats(&a);
    send_ok(&gw, 50).await;
    assert_eq!(chats(&a) - before, 50);

    b.set_faults(Faults::default());
    until(&gw, &a, &b, |x, y| x > 0 && y > 0, "the recovered replica is back").await;
}

#[tokio::test]
async fn a_tcp_health_check_skips_a_replica_that_stopped_listening() {
    let a = mock().await;
    let b = mock().await;
    let b_addr = b.addr();
    let check = ", health_check: { kind: tcp, interval: 100ms, timeout: 500ms }";
    let gw = Gateway::start(&replicas(&[(&a, 1), (&b, 1)], check)).await;
    drop(b);
    // After a probe or two the closed replica is out and nothing fails.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = chats(&a);
    send_ok(&gw, 40).await;
    assert_eq!(chats(&a) - before, 40);
    // Listening again on the same port: the next probes bring it back.
    let b = MockUpstream::start(b_addr).await.unwrap();
    until(&gw, &a, &b, |_, y| y > 0, "the restarted replica is back").await;
}
