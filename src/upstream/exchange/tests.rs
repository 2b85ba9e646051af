//! The exchange against a loopback listener speaking raw HTTP/1.1: what arrives, the deadlines,
//! statuses passed through unchanged, and connection reuse.

use super::*;
use crate::upstream::target::Target;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SHORT: Duration = Duration::from_millis(300);

fn deadlines() -> Deadlines {
    Deadlines { first_byte: SHORT, idle: SHORT }
}

fn target(addr: SocketAddr) -> Target {
    Target { tls: false, host: addr.ip().to_string(), port: addr.port(), authority: addr.to_string(), base_path: String::new() }
}

fn request(addr: SocketAddr, body: &'static str) -> OutgoingRequest {
    let mut header = RequestHeader::build("POST", b"/v1/echo", None).unwrap();
    let _ = header.insert_header("host", addr.to_string());
    let _ = header.insert_header("content-type", "application/json");
    let _ = header.insert_header("content-length", body.len().to_string());
    OutgoingRequest { header, body: Bytes::from_static(body.as_bytes()) }
}

/// Reads one request (head and `content-length` body) from `sock`; `None` when it closed.
async fn read_request(sock: &mut TcpStream) -> Option<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&seen).into_owned());
            }
        }
        let n = sock.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

/// What the loopback server does with one request.
enum Reply {
    /// Write these bytes and wait for the next request.
    Send(Vec<u8>),
    /// Write these bytes and close the connection (without saying so in the response).
    SendAndClose(Vec<u8>),
    /// Never answer, keeping the connection open.
    Silent,
}

/// A loopback server: each request is answered as `answer` says (given the request text);
/// counts the connections it accepted.
async fn server<F>(answer: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(&str) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                while let Some(req) = read_request(&mut sock).await {
                    match answer(&req) {
                        Reply::Send(bytes) => {
                            if sock.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Reply::SendAndClose(bytes) => {
                            let _ = sock.write_all(&bytes).await;
                            return;
                        }
                        Reply::Silent => std::future::pending::<()>().await,
                    }
                }
            });
        }
    });
    (addr, connections)
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-upstream: yes\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn exchange_parts(addr: SocketAddr) -> (Connector, HttpPeer) {
    (Connector::new(None), peer(addr, &target(addr), SHORT))
}

#[tokio::test]
async fn sends_the_request_and_reads_status_headers_and_body() {
    let (addr, _) = server(|req| {
        let ok = req.starts_with("POST /v1/echo HTTP/1.1\r\n") && req.ends_with("\r\n\r\n{\"q\":1}");
        Reply::Send(if ok { response("200 OK", "{\"echo\":true}") } else { response("400 Bad Request", "{}") })
    })
    .await;
    let (connector, peer) = exchange_parts(addr);
    let mut ex = send(&connector, &peer, &request(addr, "{\"q\":1}"), deadlines()).await.unwrap();
    assert_eq!(ex.status(), 200);
    assert_eq!(ex.header_str("x-upstream"), Some("yes"));
    assert_eq!(ex.read_to_end(1 << 20).await.ok().as_deref(), Some(&b"{\"echo\":true}"[..]));
    assert_eq!(ex.read_chunk().await, Ok(None), "nothing after the end");
}

#[tokio::test]
async fn error_statuses_arrive_unchanged_for_the_caller_to_classify() {
    let (addr, _) = server(|_| Reply::Send(response("503 Service Unavailable", "{\"error\":\"busy\"}"))).await;
    let (connector, peer) = exchange_parts(addr);
    let mut ex = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
    assert_eq!(ex.status(), 503);
    assert_eq!(ex.read_to_end(1 << 20).await.ok().as_deref(), Some(&b"{\"error\":\"busy\"}"[..]));
}

#[tokio::test]
async fn a_silent_upstream_is_a_first_byte_timeout() {
    let (addr, _) = server(|_| Reply::Silent).await;
    let (connector, peer) = exchange_parts(addr);
    let started = std::time::Instant::now();
    let got = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.err();
    assert_eq!(got, Some(AttemptError::FirstByteTimeout(SHORT)));
    assert!(started.elapsed() >= SHORT && started.elapsed() < SHORT * 10, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_body_is_an_idle_timeout() {
    let (addr, _) = server(|_| {
        // Headers and a first chunk, then nothing: the terminating chunk never comes.
        Reply::Send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n".to_vec())
    })
    .await;
    let (connector, peer) = exchange_parts(addr);
    let mut ex = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
    assert_eq!(ex.read_chunk().await, Ok(Some(Bytes::from_static(b"hello"))));
    assert_eq!(ex.read_chunk().await, Err(AttemptError::IdleTimeout(SHORT)));
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let (addr, _) = server(|_| Reply::Send(response("200 OK", &"x".repeat(100)))).await;
    let (connector, peer) = exchange_parts(addr);
    let mut ex = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
    assert_eq!(ex.read_to_end(99).await, Err(AttemptError::TooLarge(99)));
}

#[tokio::test]
async fn nobody_listening_is_a_connect_error() {
    let addr = TcpListener::bind("127.0.0.1:0").await.and_then(|l| l.local_addr()).unwrap();
    let (connector, peer) = exchange_parts(addr);
    let got = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.err();
    assert!(matches!(got, Some(AttemptError::Connect(_))), "{got:?}");
}

#[tokio::test]
async fn a_body_read_to_the_end_returns_the_connection_to_the_pool() {
    let (addr, connections) = server(|_| Reply::Send(response("200 OK", "{}"))).await;
    let (connector, peer) = exchange_parts(addr);
    for _ in 0..3 {
        let mut ex = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
        assert_eq!(ex.read_to_end(1024).await.ok().as_deref(), Some(&b"{}"[..]));
        ex.release(&connector, &peer).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1, "three requests on one pooled connection");
}

#[tokio::test]
async fn a_body_left_unread_closes_the_connection() {
    let (addr, connections) = server(|_| Reply::Send(response("200 OK", "{}"))).await;
    let (connector, peer) = exchange_parts(addr);
    for _ in 0..2 {
        let ex = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
        ex.release(&connector, &peer).await;
    }
    assert_eq!(connections.load(Ordering::SeqCst), 2, "an unread body never goes back to the pool");
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced() {
    // Every connection answers once and then closes, but keep-alive was not refused: the
    // pooled connection is dead when the next request takes it.
    let (addr, connections) = server(|_| Reply::SendAndClose(response("200 OK", "{}"))).await;
    let (connector, peer) = exchange_parts(addr);
    let mut first = send(&connector, &peer, &request(addr, "{}"), deadlines()).await.unwrap();
    assert_eq!(first.read_to_end(1024).await.ok().as_deref(), Some(&b"{}"[..]));
    first.release(&connector, &peer).await;
    let second = send(&connector, &peer, &request(addr, "{}"), deadlines()).await;
    assert_eq!(second.map(|ex| ex.status()).ok(), Some(200));
    assert_eq!(connections.load(Ordering::SeqCst), 2, "the second request went out on a fresh connection");
}

#[test]
fn h2_heads_carry_the_authority_instead_of_host() {
    let mut h1 = RequestHeader::build("POST", b"/v1/chat?x=1", None).unwrap();
    let _ = h1.insert_header("host", "api.example.com");
    let h2 = h2_header(&h1).unwrap();
    assert_eq!(h2.uri.to_string(), "https://api.example.com/v1/chat?x=1");
    assert!(h2.headers.get("host").is_none());
    let bare = RequestHeader::build("GET", b"/x", None).unwrap();
    assert_eq!(h2_header(&bare).map(|h| h.uri.to_string()).ok().as_deref(), Some("/x"));
}
