//! One connection's life: read requests in a keep-alive loop, apply faults, route, answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::net::TcpStream;

use super::faults::{FaultOverride, Faults};
use super::http::{self, Conn, Framing, ReadError, Request};
use super::openai::{Answer, ApiError};
use super::{RecordedRequest, Shared};

/// What to do with the connection after a response.
enum Next {
    KeepAlive,
    Close,
}

/// Serves requests on one connection until the client closes it, asks to, or a fault cuts it.
pub(super) async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let mut conn = Conn::new(stream);
    loop {
        let request = match conn.read_request().await {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(e)) => {
                tracing::debug!(error = %e, "mock: read failed");
                return;
            }
            Err(e) => {
                let (status, message) = match &e {
                    ReadError::TooLarge { status } => (*status, "Request too large.".to_owned()),
                    other => (400, other.to_string()),
                };
                let error = ApiError {
                    status,
                    ..ApiError::invalid_request(message, None, None)
                };
                let id = format!("req_{}", shared.unique());
                // The framing of what follows is unknown, so answer and close.
                let _ = send_error(&mut conn, &error, &id, true).await;
                return;
            }
        };
        match handle(&shared, &mut conn, request).await {
            Ok(Next::KeepAlive) => {}
            Ok(Next::Close) => return,
            Err(e) => {
                tracing::debug!(error = %e, "mock: write failed");
                return;
            }
        }
    }
}

/// Answers one request.
async fn handle(shared: &Shared, conn: &mut Conn, request: Request) -> std::io::Result<Next> {
    let request_id = format!("req_{}", shared.unique());
    let close = request.close;
    if shared.recording.load(Ordering::Relaxed) {
        shared.record(RecordedRequest {
            method: request.method.clone(),
            path: request.target.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
    }

    // Parsed once here: the fault override and the chat handler both need it.
    let json: Option<Result<Value, serde_json::Error>> =
        (!request.body.is_empty()).then(|| serde_json::from_slice(&request.body));
    let mut faults = shared.faults();
    let mut override_error = None;
    if let Some(Ok(body)) = &json {
        match FaultOverride::from_body(body) {
            Ok(Some(o)) => o.apply(&mut faults),
            Ok(None) => {}
            Err(e) => {
                override_error = Some(ApiError::invalid_request(
                    format!("Invalid 'mock' fault override: {e}"),
                    Some("mock"),
                    None,
                ))
            }
        }
    }

    if faults.hang {
        conn.wait_for_close().await;
        return Ok(Next::Close);
    }
    if !faults.header_delay.is_zero() {
        tokio::time::sleep(faults.header_delay).await;
    }

    let refusal = if let Some(e) = override_error {
        Some(e)
    } else if let Err(key_present) = shared.authorized(request.header("authorization")) {
        Some(ApiError::unauthorized(key_present))
    } else {
        faults.error_status().map(ApiError::for_status)
    };
    if let Some(error) = refusal {
        return send_error(conn, &error, &request_id, close).await;
    }

    let path = request.path();
    match request.method.as_str() {
        "POST" if path.ends_with("/chat/completions") => {
            let decided = match json {
                Some(Ok(body)) => {
                    Answer::decide(&body, format!("chatcmpl-{}", shared.unique()), now())
                }
                _ => Err(ApiError::invalid_request(
                    "We could not parse the JSON body of your request. The OpenAI API expects \
                     a JSON payload.",
                    None,
                    None,
                )),
            };
            match decided {
                Ok(answer) if answer.stream => {
                    stream(conn, &answer, &faults, &request_id, close).await
                }
                Ok(answer) => {
                    send(
                        conn,
                        200,
                        "application/json",
                        &answer.completion_body(),
                        &request_id,
                        &[],
                        close,
                    )
                    .await
                }
                Err(error) => send_error(conn, &error, &request_id, close).await,
            }
        }
        "GET" if path.ends_with("/models") => {
            let body = br#"{"object":"list","data":[{"id":"mock-model","object":"model","created":0,"owned_by":"mock"}]}"#;
            send(conn, 200, "application/json", body, &request_id, &[], close).await
        }
        method => {
            let error = ApiError::unknown_url(method, path);
            send_error(conn, &error, &request_id, close).await
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn next(close: bool) -> Next {
    if close {
        Next::Close
    } else {
        Next::KeepAlive
    }
}

/// Writes a complete response with Content-Length, head and body in one write.
async fn send(
    conn: &mut Conn,
    status: u16,
    content_type: &str,
    body: &[u8],
    request_id: &str,
    extra: &[(&str, &str)],
    close: bool,
) -> std::io::Result<Next> {
    let mut out = http::response_head(
        status,
        content_type,
        Framing::Length(body.len()),
        request_id,
        extra,
        close,
    );
    out.extend_from_slice(body);
    conn.write(&out).await?;
    Ok(next(close))
}

async fn send_error(
    conn: &mut Conn,
    error: &ApiError,
    request_id: &str,
    close: bool,
) -> std::io::Result<Next> {
    // Real providers send retry-after with 429 and the gateway must honour it.
    let extra: &[(&str, &str)] = if error.status == 429 {
        &[("retry-after", "1")]
    } else {
        &[]
    };
    send(
        conn,
        error.status,
        "application/json",
        &error.body(),
        request_id,
        extra,
        close,
    )
    .await
}

/// Streams the answer as SSE over chunked encoding, one write per event, honouring the
/// chunk delay and the cut fault.
async fn stream(
    conn: &mut Conn,
    answer: &Answer,
    faults: &Faults,
    request_id: &str,
    close: bool,
) -> std::io::Result<Next> {
    let head = http::response_head(
        200,
        "text/event-stream",
        Framing::Chunked,
        request_id,
        &[("cache-control", "no-cache")],
        close,
    );
    conn.write(&head).await?;
    for i in 0..answer.event_count() {
        if faults.cut_after_events == Some(i) {
            // Dropping the socket without the zero chunk is the mid-stream failure.
            return Ok(Next::Close);
        }
        if i > 0 && !faults.chunk_delay.is_zero() {
            tokio::time::sleep(faults.chunk_delay).await;
        }
        if let Some(json) = answer.event(i) {
            conn.write(&http::sse_chunk(&json)).await?;
        }
    }
    if faults.cut_after_events.is_some() {
        // Cut after every event was sent: still no [DONE] and no terminating chunk.
        return Ok(Next::Close);
    }
    conn.write(http::DONE_AND_END).await?;
    Ok(next(close))
}
