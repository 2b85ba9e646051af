//! Incremental Server-Sent Events decoder and encoder.
//!
//! Upstream bytes arrive in arbitrary chunks that are not event boundaries, so the decoder keeps
//! the unfinished tail between calls and yields an event only once its blank line has arrived.
//! The same events come out however the byte stream is split (property-tested below).

use bytes::{BufMut, Bytes, BytesMut};

/// One decoded SSE event: the `event:` name (if any) and the joined `data:` lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` when the event had no such line (OpenAI and Gemini streams).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`, as the SSE specification says.
    pub data: String,
}

impl SseEvent {
    /// A data-only event, the shape OpenAI Chat and Gemini streams use.
    pub fn data(data: impl Into<String>) -> Self {
        SseEvent { event: None, data: data.into() }
    }

    /// Appends the wire form of this event (`event:` line if named, `data:` lines, blank line).
    pub fn encode_into(&self, out: &mut BytesMut) {
        if let Some(name) = &self.event {
            out.put_slice(b"event: ");
            out.put_slice(name.as_bytes());
            out.put_u8(b'\n');
        }
        for line in self.data.split('\n') {
            out.put_slice(b"data: ");
            out.put_slice(line.as_bytes());
            out.put_u8(b'\n');
        }
        out.put_u8(b'\n');
    }

    /// The wire form of this event as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.data.len() + 16);
        self.encode_into(&mut out);
        out.freeze()
    }
}

/// The longest line or event a decoder accepts unless told otherwise (`limits.sse_max_event_bytes`).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// An upstream stream the decoder refuses to buffer any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line, or the data of one event, grew past the limit (e.g. a line with no newline).
    #[error("an SSE line or event is longer than {0} bytes")]
    TooLong(usize),
}

/// Streaming decoder: feed it chunks, it returns the events completed by each chunk.
///
/// It holds at most one unfinished line plus one unfinished event, and refuses to hold more
/// than its limit of them: an upstream sending a line without end cannot grow the gateway's
/// memory without bound.
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of the line not yet terminated.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next chunk belongs to that line end.
    pending_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    /// The most bytes of unfinished line plus unfinished event data held.
    max_event_bytes: usize,
    /// The limit was passed: every later chunk is refused too.
    failed: bool,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseDecoder {
    /// A decoder with no buffered state and the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that refuses lines or events longer than `max_event_bytes`.
    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseDecoder {
            line: Vec::new(),
            pending_cr: false,
            event: None,
            data: String::new(),
            has_data: false,
            max_event_bytes,
            failed: false,
        }
    }

    /// Feeds one chunk and returns every event it completed, in order (events before an
    /// over-long line included; the error itself is dropped, for tests and tools).
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let _ = self.feed_with(chunk, |e| events.push(e));
        events
    }

    /// Feeds one chunk, calling `emit` for each completed event (no intermediate Vec). Fails
    /// once a line or event passes the limit; the buffered bytes are then dropped, and every
    /// later call fails too.
    pub fn feed_with(&mut self, mut chunk: &[u8], mut emit: impl FnMut(SseEvent)) -> Result<(), SseError> {
        if self.failed {
            return Err(SseError::TooLong(self.max_event_bytes));
        }
        if self.pending_cr && !chunk.is_empty() {
            self.pending_cr = false;
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
        }
        while let Some(pos) = memchr::memchr2(b'\n', b'\r', chunk) {
            self.check(pos)?;
            self.line.extend_from_slice(&chunk[..pos]);
            if chunk[pos] == b'\r' {
                match chunk.get(pos + 1) {
                    Some(b'\n') => chunk = &chunk[pos + 2..],
                    Some(_) => chunk = &chunk[pos + 1..],
                    None => {
                        self.pending_cr = true;
                        chunk = &[];
                    }
                }
            } else {
                chunk = &chunk[pos + 1..];
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.process_line(&line) {
                emit(event);
            }
        }
        self.check(chunk.len())?;
        self.line.extend_from_slice(chunk);
        Ok(())
    }

    /// Refuses `more` bytes of line when line and event data would pass the limit.
    fn check(&mut self, more: usize) -> Result<(), SseError> {
        if self.line.len().saturating_add(more).saturating_add(self.data.len()) <= self.max_event_bytes {
            return Ok(());
        }
        self.failed = true;
        self.line = Vec::new();
        self.data = String::new();
        self.has_data = false;
        self.event = None;
        Err(SseError::TooLong(self.max_event_bytes))
    }

    /// True when bytes of an unfinished event are buffered: a stream that ends here was cut.
    pub fn has_partial_event(&self) -> bool {
        !self.line.is_empty() || self.has_data || self.event.is_some()
    }

    fn process_line(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            if !self.has_data {
                self.event = None;
                return None;
            }
            self.has_data = false;
            return Some(SseEvent { event: self.event.take(), data: std::mem::take(&mut self.data) });
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // `from_utf8` is the fast check; the lossy path (which allocates) only for bad bytes.
        let value = match std::str::from_utf8(value) {
            Ok(v) => std::borrow::Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_openai_style_events() {
        let mut d = SseDecoder::new();
        let ev = d.feed(b"data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(ev, vec![SseEvent::data("{\"a\":1}"), SseEvent::data("[DONE]")]);
        assert!(!d.has_partial_event());
    }

    #[test]
    fn named_events_multiline_data_comments_and_crlf() {
        let mut d = SseDecoder::new();
        let ev = d.feed(b": ping\r\nevent: message_start\r\ndata: a\r\ndata:b\r\n\r\n");
        assert_eq!(ev, vec![SseEvent { event: Some("message_start".into()), data: "a\nb".into() }]);
    }

    #[test]
    fn split_crlf_across_chunks_is_one_line_end() {
        let mut d = SseDecoder::new();
        assert!(d.feed(b"data: x\r").is_empty());
        assert!(d.feed(b"").is_empty());
        assert_eq!(d.feed(b"\n\r"), vec![SseEvent::data("x")]);
        // The `\n` completing that `\r\n` is not another blank line.
        assert!(d.feed(b"\nevent: e\ndata: y\n\n").iter().all(|e| e.event.as_deref() == Some("e")));
    }

    #[test]
    fn unfinished_event_is_reported_partial() {
        let mut d = SseDecoder::new();
        assert!(d.feed(b"data: {\"cut").is_empty());
        assert!(d.has_partial_event());
    }

    #[test]
    fn a_line_without_end_is_refused_at_the_limit_and_memory_is_dropped() {
        let mut d = SseDecoder::with_limit(1024);
        let mut seen = Vec::new();
        assert_eq!(d.feed_with(b"data: ok\n\n", |e| seen.push(e)), Ok(()));
        let chunk = [b'x'; 300];
        let mut fed = 0;
        let err = loop {
            match d.feed_with(&chunk, |e| seen.push(e)) {
                Ok(()) => fed += chunk.len(),
                Err(e) => break e,
            }
            assert!(fed <= 1024, "buffered {fed} bytes");
        };
        assert_eq!(err, SseError::TooLong(1024));
        assert_eq!(seen, vec![SseEvent::data("ok")]);
        assert!(d.line.capacity() == 0 && !d.has_partial_event());
        assert!(d.feed_with(b"\n\n", |_| {}).is_err(), "a failed stream stays failed");
    }

    #[test]
    fn many_data_lines_of_one_event_count_together() {
        let mut d = SseDecoder::with_limit(100);
        let r = d.feed_with(&b"data: 0123456789\n".repeat(20), |_| {});
        assert_eq!(r, Err(SseError::TooLong(100)));
        let mut d = SseDecoder::with_limit(100);
        assert_eq!(d.feed(&b"data: 0123456789\n\n".repeat(20)).len(), 20, "events under the limit pass");
    }

    #[test]
    fn encode_round_trips() {
        let e = SseEvent { event: Some("x".into()), data: "l1\nl2".into() };
        let mut d = SseDecoder::new();
        assert_eq!(d.feed(&e.to_bytes()), vec![e]);
    }

    fn arb_events() -> impl Strategy<Value = Vec<SseEvent>> {
        let ev = (proptest::option::of("[a-z_]{1,12}"), proptest::collection::vec("[^\r\n]{0,20}", 1..3))
            .prop_map(|(event, lines)| SseEvent { event, data: lines.join("\n") });
        proptest::collection::vec(ev, 0..8)
    }

    proptest! {
        #[test]
        fn same_events_however_the_stream_is_split(events in arb_events(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10), crlf in any::<bool>()) {
            let mut wire = Vec::new();
            for e in &events {
                let b = e.to_bytes();
                if crlf { wire.extend_from_slice(&String::from_utf8_lossy(&b).replace('\n', "\r\n").into_bytes()); } else { wire.extend_from_slice(&b); }
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut d = SseDecoder::new();
            let mut got = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain(std::iter::once(wire.len())) {
                got.extend(d.feed(&wire[start..p]));
                start = p;
            }
            prop_assert_eq!(got, events);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut d = SseDecoder::new();
            let _ = d.feed(&bytes);
        }
    }
}
