//! Fault injection: what the mock should do wrong, set per instance or per request.
//!
//! Gateway tests need upstreams that fail in the ways real providers fail (error statuses,
//! slow heads, stalled or cut streams, requests that are never answered). The instance setting
//! covers "this channel is down"; the per-request `"mock"` body object lets one shared mock (the
//! demo, a load run) fail only the requests that ask for it, because the gateway forwards unknown
//! body fields unchanged.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// What the mock does wrong when answering a request.
///
/// The default is a well-behaved upstream. Set on a [`super::MockUpstream`] with
/// `set_faults`, or per request through a top-level `"mock"` object in the JSON body
/// (see [`FaultOverride`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Answer with this status (400 and above) and the request's protocol error envelope
    /// (OpenAI, Anthropic or Gemini, with that API's type for the status) instead of an answer,
    /// so tests can exercise retry and failover; 429 also sends `retry-after: 1`
    /// because real providers do and the gateway must honour it. Statuses below 400 are ignored.
    pub status: Option<u16>,
    /// Sleep before sending the response head, to exercise first-byte timeouts.
    pub header_delay: Duration,
    /// Sleep between stream events, to exercise idle timeouts between chunks.
    pub chunk_delay: Duration,
    /// Close the TCP connection after this many stream events (SSE frames) without the
    /// terminating chunk, `[DONE]` or final event: the mid-stream upstream failure the gateway
    /// must turn into an in-stream error. Ignored for non-stream answers.
    pub cut_after_events: Option<usize>,
    /// Read the request and never answer, keeping the socket open until the client leaves: the
    /// upstream that accepts and stalls, which only a timeout can detect.
    pub hang: bool,
    /// The `retry-after` value sent with a 429 (seconds or an HTTP-date). Default `1`.
    pub retry_after: Option<String>,
    /// After this many stream events, send the protocol's in-stream error event (Anthropic
    /// `overloaded_error`, an OpenAI or Gemini error object) and end the stream: the provider
    /// that fails after it has started answering. Ignored for non-stream answers.
    pub error_after_events: Option<usize>,
    /// After this many stream events, stop sending and keep the connection open: the stream
    /// that stalls, which only the idle timeout detects. Ignored for non-stream answers.
    pub stall_after_events: Option<usize>,
}

/// The per-request override taken from the body's top-level `"mock"` object.
///
/// Each present field replaces the instance's value for this one request; absent fields keep it.
/// Millisecond integers rather than durations because the body is hand-written JSON.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultOverride {
    /// Replaces [`Faults::status`].
    pub status: Option<u16>,
    /// Replaces [`Faults::header_delay`], in milliseconds.
    pub header_delay_ms: Option<u64>,
    /// Replaces [`Faults::chunk_delay`], in milliseconds.
    pub chunk_delay_ms: Option<u64>,
    /// Replaces [`Faults::cut_after_events`].
    pub cut_after_events: Option<usize>,
    /// Replaces [`Faults::hang`].
    pub hang: Option<bool>,
    /// OpenAI chat answers: this many of the prompt tokens are reported as read from the
    /// provider's cache (`prompt_tokens_details.cached_tokens`, at most the prompt), so billing
    /// tests see cache usage.
    pub cached_tokens: Option<u64>,
    /// OpenAI chat answers: this many reasoning tokens are added to the completion
    /// (`completion_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: Option<u64>,
    /// Replaces [`Faults::retry_after`].
    pub retry_after: Option<String>,
    /// Replaces [`Faults::error_after_events`].
    pub error_after_events: Option<usize>,
    /// Replaces [`Faults::stall_after_events`].
    pub stall_after_events: Option<usize>,
}

impl FaultOverride {
    /// Reads the override from a parsed request body.
    ///
    /// `Ok(None)` when there is no `"mock"` key; an error (answered with 400) when it is there
    /// but malformed, because silently ignoring a typo would make a fault test pass for the wrong
    /// reason.
    pub fn from_body(body: &Value) -> Result<Option<FaultOverride>, serde_json::Error> {
        match body.get("mock") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => FaultOverride::deserialize(v).map(Some),
        }
    }

    /// Applies the present fields on top of the instance faults.
    pub fn apply(&self, faults: &mut Faults) {
        if let Some(s) = self.status {
            faults.status = Some(s);
        }
        if let Some(ms) = self.header_delay_ms {
            faults.header_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = self.chunk_delay_ms {
            faults.chunk_delay = Duration::from_millis(ms);
        }
        if let Some(n) = self.cut_after_events {
            faults.cut_after_events = Some(n);
        }
        if let Some(h) = self.hang {
            faults.hang = h;
        }
        if let Some(r) = &self.retry_after {
            faults.retry_after = Some(r.clone());
        }
        if let Some(n) = self.error_after_events {
            faults.error_after_events = Some(n);
        }
        if let Some(n) = self.stall_after_events {
            faults.stall_after_events = Some(n);
        }
    }
}

impl Faults {
    /// The error status to answer with, if any; non-error statuses are not faults.
    pub(crate) fn error_status(&self) -> Option<u16> {
        self.status.filter(|s| (400..=599).contains(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn override_replaces_only_present_fields() {
        let mut f = Faults { status: Some(503), chunk_delay: Duration::from_millis(5), ..Faults::default() };
        let o = FaultOverride::from_body(&json!({"mock": {"header_delay_ms": 20, "hang": true}})).unwrap().unwrap();
        o.apply(&mut f);
        assert_eq!(f.status, Some(503));
        assert_eq!(f.header_delay, Duration::from_millis(20));
        assert_eq!(f.chunk_delay, Duration::from_millis(5));
        assert!(f.hang);
    }

    #[test]
    fn missing_null_and_malformed_override() {
        assert_eq!(FaultOverride::from_body(&json!({})).unwrap(), None);
        assert_eq!(FaultOverride::from_body(&json!({"mock": null})).unwrap(), None);
        assert!(FaultOverride::from_body(&json!({"mock": {"status": "x"}})).is_err());
        assert!(FaultOverride::from_body(&json!({"mock": {"stauts": 500}})).is_err());
    }

    #[test]
    fn only_error_statuses_count() {
        let f = |s| Faults { status: Some(s), ..Faults::default() }.error_status();
        assert_eq!(f(200), None);
        assert_eq!(f(429), Some(429));
        assert_eq!(f(529), Some(529));
    }
}
