//! Minimal HTTP/1.1 server side: request heads via `httparse`, Content-Length and chunked
//! request bodies, response heads and chunked response framing.
//!
//! Hand-written on a `TcpStream` (no hyper) so the mock controls every byte and every flush:
//! fault tests need exact control over when the head goes out, when each event is written and
//! when the connection is cut mid-body.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request head accepted; real clients send a few hundred bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest request body accepted; generous for image-bearing chat requests in tests.
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Header slots for `httparse`; more headers than this is answered with 431.
const MAX_HEADERS: usize = 128;
const READ_CHUNK: usize = 16 * 1024;

/// Why no request could be read from the connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// The client closed the connection cleanly between requests: the normal end of keep-alive.
    #[error("connection closed")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes are not HTTP/1.1; answered with 400 and the connection closed, because the
    /// framing of anything after them cannot be trusted.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// Head or body over the limits; answered with 431 or 413.
    #[error("request too large")]
    TooLarge { status: u16 },
}

/// One parsed request: what the handler and the recording need.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    /// The request target as sent, query string included.
    pub target: String,
    /// Header names lower-cased (they are case-insensitive), values as sent.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The client asked to close after this exchange (`Connection: close`, or HTTP/1.0 without
    /// keep-alive).
    pub close: bool,
}

impl Request {
    /// First value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The path without the query string, for routing.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// How the request body is delimited, taken from the head.
enum BodyFraming {
    Length(usize),
    Chunked,
}

/// A server-side connection: the socket plus bytes read but not yet consumed, which may
/// already hold the next pipelined request.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn { stream, buf: BytesMut::with_capacity(READ_CHUNK) }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at EOF.
    async fn fill(&mut self) -> std::io::Result<usize> {
        self.buf.reserve(READ_CHUNK);
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads the next full request (head and body).
    pub async fn read_request(&mut self) -> Result<Request, ReadError> {
        let (head_len, mut req, framing, expect_continue) = loop {
            if let Some(parsed) = parse_head(&self.buf)? {
                break parsed;
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(ReadError::TooLarge { status: 431 });
            }
            if self.fill().await? == 0 {
                return Err(if self.buf.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Malformed("connection closed inside the request head")
                });
            }
        };
        let _ = self.buf.split_to(head_len);

        let body_buffered = match framing {
            BodyFraming::Length(n) => self.buf.len() >= n,
            BodyFraming::Chunked => scan_chunked(&self.buf, None)?.is_some(),
        };
        if expect_continue && !body_buffered {
            // curl and some SDKs wait for this before sending a large body.
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }

        req.body = match framing {
            BodyFraming::Length(n) => {
                while self.buf.len() < n {
                    if self.fill().await? == 0 {
                        return Err(ReadError::Malformed("connection closed inside the body"));
                    }
                }
                self.buf.split_to(n).freeze()
            }
            BodyFraming::Chunked => loop {
                // Scan without copying until the whole body is buffered, then copy once, so a
                // body arriving in many reads is not re-assembled on every read.
                if let Some(consumed) = scan_chunked(&self.buf, None)? {
                    let mut body = BytesMut::new();
                    scan_chunked(&self.buf, Some(&mut body))?;
                    let _ = self.buf.split_to(consumed);
                    break body.freeze();
                }
                if self.fill().await? == 0 {
                    return Err(ReadError::Malformed("connection closed inside the body"));
                }
            },
        };
        Ok(req)
    }

    /// Keeps the socket open, discarding input, until the client closes it: the `hang` fault.
    pub async fn wait_for_close(&mut self) {
        loop {
            self.buf.clear();
            match self.fill().await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Writes bytes as one write (one segment where possible, `TCP_NODELAY` is set by the
    /// acceptor) so each stream event reaches the client as soon as it is produced.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }
}

/// Parses a request head from the start of `buf`; `Ok(None)` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Request, BodyFraming, bool)>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge { status: 431 }),
        Err(_) => return Err(ReadError::Malformed("invalid request head")),
    };
    let version = parsed.version.unwrap_or(1);
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();

    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = version == 0;
    let mut expect_continue = false;
    for (name, value) in &headers {
        match name.as_str() {
            "content-length" => {
                let n: usize = value.trim().parse().map_err(|_| ReadError::Malformed("invalid content-length"))?;
                // Differing lengths are a request-smuggling shape; refuse rather than guess.
                if content_length.is_some_and(|c| c != n) {
                    return Err(ReadError::Malformed("conflicting content-length headers"));
                }
                content_length = Some(n);
            }
            "transfer-encoding" => {
                chunked = value.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
                if !chunked {
                    return Err(ReadError::Malformed("unsupported transfer-encoding"));
                }
            }
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") && version == 0 {
                        close = false;
                    }
                }
            }
            "expect" => expect_continue = value.trim().eq_ignore_ascii_case("100-continue"),
            _ => {}
        }
    }
    let framing = match (chunked, content_length) {
        (true, Some(_)) => return Err(ReadError::Malformed("both content-length and transfer-encoding")),
        (true, None) => BodyFraming::Chunked,
        (false, Some(n)) if n > MAX_BODY_BYTES => return Err(ReadError::TooLarge { status: 413 }),
        (false, n) => BodyFraming::Length(n.unwrap_or(0)),
    };
    let req = Request {
        method: parsed.method.unwrap_or("").to_owned(),
        target: parsed.path.unwrap_or("").to_owned(),
        headers,
        body: Bytes::new(),
        close,
    };
    Ok(Some((head_len, req, framing, expect_continue)))
}

/// Scans a chunked body at the start of `buf`. Returns the bytes it occupies once complete
/// (trailers included), `None` while more input is needed; copies the data into `out` if given.
fn scan_chunked(buf: &[u8], mut out: Option<&mut BytesMut>) -> Result<Option<usize>, ReadError> {
    let mut pos = 0;
    let mut total = 0usize;
    loop {
        let Some(line_end) = memchr::memchr(b'\n', &buf[pos..]).map(|i| pos + i) else {
            return Ok(None);
        };
        let line = trim_cr(&buf[pos..line_end]);
        // Chunk extensions (`;name=value`) carry nothing the mock needs.
        let size_field = line.split(|&b| b == b';').next().unwrap_or(line);
        let size = parse_hex(size_field)?;
        pos = line_end + 1;
        if size == 0 {
            // Trailer section: header lines until an empty line.
            loop {
                let Some(end) = memchr::memchr(b'\n', &buf[pos..]).map(|i| pos + i) else {
                    return Ok(None);
                };
                let empty = trim_cr(&buf[pos..end]).is_empty();
                pos = end + 1;
                if empty {
                    return Ok(Some(pos));
                }
            }
        }
        total = total.saturating_add(size);
        if total > MAX_BODY_BYTES {
            return Err(ReadError::TooLarge { status: 413 });
        }
        let data_end = pos + size;
        if buf.len() < data_end + 2 {
            return Ok(None);
        }
        if &buf[data_end..data_end + 2] != b"\r\n" {
            return Err(ReadError::Malformed("chunk data not followed by CRLF"));
        }
        if let Some(out) = out.as_deref_mut() {
            out.extend_from_slice(&buf[pos..data_end]);
        }
        pos = data_end + 2;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_hex(field: &[u8]) -> Result<usize, ReadError> {
    let field = field.trim_ascii();
    if field.is_empty() || field.len() > 15 {
        return Err(ReadError::Malformed("invalid chunk size"));
    }
    let mut n = 0usize;
    for &b in field {
        let digit = (b as char).to_digit(16).ok_or(ReadError::Malformed("invalid chunk size"))?;
        n = n * 16 + digit as usize;
    }
    Ok(n)
}

/// How a response body is delimited.
pub(crate) enum Framing {
    Length(usize),
    Chunked,
}

/// Builds a response head. `x-request-id` is on every response so gateway logs and test
/// failures can be correlated with the mock's.
pub(crate) fn response_head(
    status: u16,
    content_type: &str,
    framing: Framing,
    request_id: &str,
    extra: &[(&str, &str)],
    close: bool,
) -> Vec<u8> {
    use std::fmt::Write;
    let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or(if status == 529 {
        "Overloaded"
    } else {
        "Unknown"
    });
    let mut head = String::with_capacity(256);
    // Writing into a String cannot fail; the results are ignored for that reason.
    let _ = write!(head, "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n");
    match framing {
        Framing::Length(n) => {
            let _ = write!(head, "content-length: {n}\r\n");
        }
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    let _ = write!(head, "x-request-id: {request_id}\r\n");
    for (name, value) in extra {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str(if close { "connection: close\r\n\r\n" } else { "connection: keep-alive\r\n\r\n" });
    head.into_bytes()
}

/// Frames one SSE `data:` event as one HTTP chunk, so the event and its framing go out in a
/// single write.
pub(crate) fn sse_chunk(json: &[u8]) -> Vec<u8> {
    let payload_len = b"data: ".len() + json.len() + b"\n\n".len();
    let mut out = Vec::with_capacity(payload_len + 16);
    out.extend_from_slice(format!("{payload_len:x}\r\n").as_bytes());
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n\r\n");
    out
}

/// Frames a complete payload (one SSE event with its blank line) as one HTTP chunk.
pub(crate) fn chunk(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(format!("{:x}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// The terminating zero-length chunk of a chunked body.
pub(crate) const END: &[u8] = b"0\r\n\r\n";

/// The last stream event and the terminating zero-length chunk, written together.
pub(crate) const DONE_AND_END: &[u8] = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn body(buf: &[u8]) -> Result<Option<(usize, Vec<u8>)>, ReadError> {
        let mut out = BytesMut::new();
        Ok(scan_chunked(buf, Some(&mut out))?.map(|n| (n, out.to_vec())))
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let raw = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        let (n, data) = body(raw).unwrap().unwrap();
        assert_eq!(data, b"hello, world");
        assert_eq!(&raw[n..], b"NEXT");
    }

    #[test]
    fn chunked_body_incomplete_at_every_split() {
        let raw = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        for cut in 0..raw.len() {
            assert!(body(&raw[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        assert_eq!(body(raw).unwrap().unwrap().1, b"abc0123456789abcdef");
    }

    #[test]
    fn chunked_body_malformed() {
        assert!(matches!(body(b"zz\r\n"), Err(ReadError::Malformed(_))));
        assert!(matches!(body(b"3\r\nabcX\r\n"), Err(ReadError::Malformed(_))));
        assert!(matches!(body(b"ffffffffffff\r\n"), Err(ReadError::TooLarge { status: 413 })));
    }

    #[test]
    fn head_framing_and_connection() {
        let raw = b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
        let (n, req, framing, _) = parse_head(raw).unwrap().unwrap();
        assert_eq!(&raw[n..], b"abc");
        assert!(matches!(framing, BodyFraming::Length(3)));
        assert!(req.close);
        assert_eq!(req.path(), "/a");
        assert_eq!(req.header("host"), Some("x"));

        let raw = b"GET / HTTP/1.0\r\n\r\n";
        assert!(parse_head(raw).unwrap().unwrap().1.close);
        let raw = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(parse_head(raw), Err(ReadError::Malformed(_))));
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost:").unwrap().is_none());
    }

    #[test]
    fn sse_chunk_length_matches_payload() {
        let c = sse_chunk(b"{}");
        assert_eq!(c, b"a\r\ndata: {}\n\n\r\n");
        assert_eq!(chunk(b"data: {}\n\n"), c);
        assert!(DONE_AND_END.starts_with(format!("{:x}\r\n", "data: [DONE]\n\n".len()).as_bytes()));
    }
}
