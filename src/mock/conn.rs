//! One connection's life: read requests in a keep-alive loop, apply faults, route, answer.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpStream;

use super::faults::{FaultOverride, Faults};
use super::http::{self, Conn, Framing, ReadError, Request};
use super::openai::ApiError;
use super::routes::{self, Incoming, Protocol, Reply};
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
                let error = ApiError { status, ..ApiError::invalid_request(message, None, None) };
                let id = format!("req_{}", shared.unique());
                // The framing of what follows is unknown, so answer and close.
                let _ = send_json(&mut conn, error.status, &error.body(), &id, &[], true, "1").await;
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
            Err(e) => override_error = Some(format!("Invalid 'mock' fault override: {e}")),
        }
    }

    if faults.hang {
        conn.wait_for_close().await;
        return Ok(Next::Close);
    }
    if !faults.header_delay.is_zero() {
        tokio::time::sleep(faults.header_delay).await;
    }

    let incoming = Incoming { shared, request: &request, json: json.as_ref(), request_id: &request_id };
    let (protocol, reply) = routes::answer(&incoming, &faults, override_error);
    // Anthropic's SDK reads the id from `request-id`.
    let id_header = [("request-id", request_id.as_str())];
    let extra: &[(&str, &str)] = if protocol == Protocol::Anthropic { &id_header } else { &[] };
    let retry_after = faults.retry_after.as_deref().unwrap_or("1");
    let sse = Sse { faults: &faults, request_id: &request_id, extra, close, error: error_event(protocol) };
    match reply {
        Reply::Json { status, body } => send_json(conn, status, &body, &request_id, extra, close, retry_after).await,
        Reply::Chat(answer) => {
            let frame = |i| answer.event(i).map(|json| http::sse_chunk(&json));
            // The usage chunk is the last event: recorded once it was written, before the
            // terminator (a reader may stop there), and never when a fault ended the stream first.
            let report = || {
                if answer.reports_usage() {
                    shared.report(answer.usage.reported());
                }
            };
            stream(conn, (answer.event_count(), frame), http::DONE_AND_END, &sse, &report).await
        }
        Reply::Sse(frames) => {
            let frame = |i: usize| frames.get(i).map(|f| http::chunk(f));
            let events = (frames.len(), frame);
            stream(conn, events, http::END, &sse, &|| {}).await
        }
    }
}

/// The in-stream error event a provider of `protocol` sends when it fails mid-answer.
fn error_event(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Anthropic => {
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
        }
        Protocol::OpenAi => {
            b"data: {\"error\":{\"message\":\"The server is overloaded.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n"
        }
        Protocol::Gemini => {
            b"data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\n\n"
        }
    }
}

/// How a stream is answered besides its events.
struct Sse<'a> {
    faults: &'a Faults,
    request_id: &'a str,
    extra: &'a [(&'a str, &'a str)],
    close: bool,
    error: &'static [u8],
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
    let mut out = http::response_head(status, content_type, Framing::Length(body.len()), request_id, extra, close);
    out.extend_from_slice(body);
    conn.write(&out).await?;
    Ok(next(close))
}

/// Writes a JSON response; a 429 also gets `retry-after` (`1` unless the faults say otherwise),
/// as real providers send it and the gateway must honour it.
async fn send_json(
    conn: &mut Conn,
    status: u16,
    body: &[u8],
    request_id: &str,
    extra: &[(&str, &str)],
    close: bool,
    retry_after: &str,
) -> std::io::Result<Next> {
    let mut headers = extra.to_vec();
    if status == 429 {
        headers.push(("retry-after", retry_after));
    }
    send(conn, status, "application/json", body, request_id, &headers, close).await
}

/// Streams `count` events (`frame(i)` is event `i` already framed as one HTTP chunk) over
/// chunked encoding, one write per event, honouring the chunk delay and the cut fault, then
/// writes `end` (the last chunk, `[DONE]` included for Chat). The error fault replaces event
/// `n` and everything after it with the protocol's error event. `after_last` runs once the last
/// event was written.
async fn stream<F>(
    conn: &mut Conn,
    (count, frame): (usize, F),
    end: &[u8],
    sse: &Sse<'_>,
    after_last: &(dyn Fn() + Sync),
) -> std::io::Result<Next>
where
    F: Fn(usize) -> Option<Vec<u8>>,
{
    let Sse { faults, request_id, extra, close, error } = *sse;
    let mut headers = vec![("cache-control", "no-cache")];
    headers.extend_from_slice(extra);
    let head = http::response_head(200, "text/event-stream", Framing::Chunked, request_id, &headers, close);
    conn.write(&head).await?;
    for i in 0..count {
        if faults.cut_after_events == Some(i) {
            // Dropping the socket without the zero chunk is the mid-stream failure.
            return Ok(Next::Close);
        }
        if faults.stall_after_events == Some(i) {
            conn.wait_for_close().await;
            return Ok(Next::Close);
        }
        if faults.error_after_events == Some(i) {
            conn.write(&http::chunk(error)).await?;
            conn.write(http::END).await?;
            return Ok(next(close));
        }
        if i > 0 && !faults.chunk_delay.is_zero() {
            tokio::time::sleep(faults.chunk_delay).await;
        }
        if let Some(bytes) = frame(i) {
            conn.write(&bytes).await?;
        }
        if i + 1 == count {
            after_last();
        }
    }
    if faults.cut_after_events.is_some() {
        // Cut after every event was sent: still no terminator and no terminating chunk.
        return Ok(Next::Close);
    }
    conn.write(end).await?;
    Ok(next(close))
}
