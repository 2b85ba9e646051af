//! Bounded under abuse: the gateway against clients and servers that try to make it fetch,
//! buffer or wait without end. Every server here is an in-process loopback server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::mock::MockUpstream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the media server saw: requests in total, and the most in flight at once.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A loopback media server: `/img-N.png` answers `size` bytes of image/png, `/drip.png` a header
/// and then one byte every 200 ms for ever, `/page.png` an HTML page, `/moved.png` a redirect.
async fn media_server(size: usize) -> (SocketAddr, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                s.requests.fetch_add(1, Ordering::SeqCst);
                let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                s.max_in_flight.fetch_max(now, Ordering::SeqCst);
                serve(&mut sock, &head, size).await;
                s.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, seen)
}

async fn serve(sock: &mut tokio::net::TcpStream, head: &str, size: usize) {
    if head.starts_with("GET /drip.png") {
        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 100000\r\n\r\n").await;
        for _ in 0..600 {
            if sock.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else if head.starts_with("GET /page.png ") {
        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\n\r\nhi").await;
    } else if head.starts_with("GET /moved.png ") {
        let _ = sock.write_all(b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n").await;
    } else {
        let h = format!("HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n");
        let _ = sock.write_all(h.as_bytes()).await;
        let _ = sock.write_all(&vec![7u8; size]).await;
    }
}

/// A gateway with one Gemini-backed model `g` (URLs are inlined for it) and `limits`.
async fn gemini_gateway(limits: &str) -> (MockUpstream, Gateway) {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let a = mock.addr();
    let yaml = format!(
        "providers:\n  - {{ name: up, protocol: gemini, base_url: \"http://{a}\", api_key: k }}\n\
models:\n  - {{ id: g, channels: [ {{ provider: up, model: gm }} ] }}\n\
keys:\n  - {{ name: tester, key: \"{KEY}\" }}\n\
limits: {{ media_allow_private: true, media_allow_http: true, {limits} }}\n"
    );
    (mock, Gateway::start(&yaml).await)
}

fn with_images(urls: &[String]) -> Value {
    let mut content = vec![json!({"type": "text", "text": "What are these?"})];
    content.extend(urls.iter().map(|u| json!({"type": "image_url", "image_url": {"url": u}})));
    json!({"model": "g", "messages": [{"role": "user", "content": content}]})
}

#[tokio::test]
async fn many_copies_of_one_url_are_fetched_once() {
    let (images, seen) = media_server(200_000).await;
    let (mock, gw) = gemini_gateway("media_max_urls: 2").await;
    let urls = vec![format!("http://{images}/img-1.png"); 25];
    let resp = gw.chat(with_images(&urls)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
    let sent = mock.requests().last().unwrap().json().unwrap();
    let inline = sent["contents"][0]["parts"].as_array().unwrap().iter().filter(|p| p.get("inlineData").is_some()).count();
    assert_eq!(inline, 25, "every copy is inlined from the one fetch");
}

#[tokio::test]
async fn too_many_distinct_urls_are_refused_before_any_fetch() {
    let (images, seen) = media_server(10).await;
    let (_mock, gw) = gemini_gateway("media_max_urls: 3").await;
    let urls: Vec<String> = (0..4).map(|i| format!("http://{images}/img-{i}.png")).collect();
    let body = assert_error(gw.chat(with_images(&urls)).await, 400).await;
    assert_eq!(body["error"]["code"], "too_many_media_urls", "{body}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 0);
    assert_eq!(gw.chat(with_images(&urls[..3])).await.status(), 200);
}

#[tokio::test]
async fn bytes_per_request_are_capped_across_urls() {
    let (images, _) = media_server(400_000).await;
    let (_mock, gw) = gemini_gateway("media_max_total_bytes: 1000000").await;
    let urls: Vec<String> = (0..3).map(|i| format!("http://{images}/img-{i}.png")).collect();
    let body = assert_error(gw.chat(with_images(&urls)).await, 400).await;
    assert_eq!(body["error"]["code"], "media_fetch_failed", "{body}");
    assert_eq!(gw.chat(with_images(&urls[..2])).await.status(), 200);
}

#[tokio::test]
async fn a_dripping_server_is_cut_at_the_total_deadline_and_fetches_are_bounded() {
    let (images, seen) = media_server(10).await;
    let (_mock, gw) = gemini_gateway("media_fetch_timeout: 1s, media_total_timeout: 3s, media_max_concurrent_fetches: 2").await;
    // Distinct URLs (a query string each), all dripping: one byte every 200 ms would keep a
    // per-read timeout happy for ever.
    let urls: Vec<String> = (0..6).map(|i| format!("http://{images}/drip.png?{i}")).collect();
    let started = Instant::now();
    let body = assert_error(gw.chat(with_images(&urls)).await, 400).await;
    let took = started.elapsed();
    assert_eq!(body["error"]["code"], "media_fetch_failed", "{body}");
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(seen.max_in_flight.load(Ordering::SeqCst) <= 2, "{} fetches at once", seen.max_in_flight.load(Ordering::SeqCst));
}

#[tokio::test]
async fn redirects_and_wrong_content_types_look_like_any_other_failure() {
    let (images, _) = media_server(10).await;
    let (_mock, gw) = gemini_gateway("media_max_urls: 8").await;
    let mut messages = Vec::new();
    for path in ["moved.png", "page.png", "img-1.png?"] {
        let url = format!("http://{images}/{path}");
        let url = if path.ends_with('?') { format!("http://127.0.0.1:1/{path}") } else { url };
        let body = assert_error(gw.chat(with_images(std::slice::from_ref(&url))).await, 400).await;
        assert_eq!(body["error"]["code"], "media_fetch_failed", "{body}");
        messages.push(body["error"]["message"].as_str().unwrap().replace(&url, "URL"));
    }
    assert!(messages.iter().all(|m| m == &messages[0]), "{messages:?}");
}

const FIRST_CHUNK: &str = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n";

/// An OpenAI-style upstream that streams `first` and then one line with no end, 1 MiB at a
/// time, up to `total` bytes (or until the gateway hangs up); returns its address and how many
/// bytes of the line it managed to send.
async fn endless_line_upstream(first: &'static str, total: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let s = sent.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(first.as_bytes()).await;
                let _ = sock.write_all(b"data: ").await;
                let mb = vec![b'x'; 1 << 20];
                while s.load(Ordering::SeqCst) < total {
                    if sock.write_all(&mb).await.is_err() {
                        return;
                    }
                    s.fetch_add(mb.len(), Ordering::SeqCst);
                }
            });
        }
    });
    (addr, sent)
}

async fn sse_gateway(up: SocketAddr) -> Gateway {
    Gateway::start(&config(
        &[provider("up", up, "connect: 1s, first_byte: 5s, idle: 5s")],
        &[("up", 0)],
        "limits: { sse_max_event_bytes: 1048576 }\n",
    ))
    .await
}

#[tokio::test]
async fn an_endless_sse_line_ends_the_stream_with_an_error_and_memory_stays_bounded() {
    let (up, sent) = endless_line_upstream(FIRST_CHUNK, 200 << 20).await;
    let gw = sse_gateway(up).await;
    let idle = gw.rss_kib();
    let resp = gw.chat(hello(json!({"stream": true}))).await;
    assert_eq!(resp.status(), 200);
    let text = tokio::time::timeout(Duration::from_secs(20), resp.text())
        .await
        .expect("the stream ended")
        .unwrap_or_default();
    let data = sse_data(&text);
    assert!(data.first().is_some_and(|d| d.contains("\"hi\"")), "{text}");
    assert!(data.last().is_some_and(|d| d.contains("\"error\"")), "the stream ends with an error event: {text}");
    let peak = gw.rss_kib();
    assert!(peak < idle + 64 * 1024, "RSS grew from {idle} KiB to {peak} KiB");
    assert!(sent.load(Ordering::SeqCst) < 100 << 20, "the upstream was cut off early");
    // The gateway keeps answering (this upstream only ever sends the endless line).
    let next = tokio::time::timeout(Duration::from_secs(20), gw.chat(hello(json!({})))).await.unwrap();
    assert!(next.status().is_server_error(), "{}", next.status());
}

#[tokio::test]
async fn an_endless_first_sse_line_is_a_failed_attempt() {
    let (up, _) = endless_line_upstream("", 200 << 20).await;
    let gw = sse_gateway(up).await;
    let resp = tokio::time::timeout(Duration::from_secs(20), gw.chat(hello(json!({"stream": true})))).await.unwrap();
    let status = resp.status().as_u16();
    assert!(status >= 500, "status {status}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_keepalive_timeout() {
    let mock = MockUpstream::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gw = Gateway::start(&config(
        &[provider("up", mock.addr(), "connect: 1s, first_byte: 5s, idle: 5s")],
        &[("up", 0)],
        "limits: { keepalive_timeout: 1s }\n",
    ))
    .await;
    let mut sock = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    sock.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Now idle: the gateway closes it soon after the keep-alive timeout (not after minutes).
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf)).await.expect("closed within 10 s");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed after {:?}", started.elapsed());
}
