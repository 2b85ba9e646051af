//! What can go wrong in one upstream attempt, and whether the next channel may be tried.

use std::time::{Duration, SystemTime};

/// A failed attempt, before or while reading the response.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AttemptError {
    /// DNS, TCP or TLS failed: the upstream never saw the request.
    #[error("connect failed: {0}")]
    Connect(String),
    /// Sending the request head or body failed.
    #[error("sending the request failed: {0}")]
    Send(String),
    /// No response head arrived within the first-byte deadline.
    #[error("no response within {}s (first_byte timeout)", .0.as_secs_f64())]
    FirstByteTimeout(Duration),
    /// The upstream went quiet between body chunks for longer than the idle deadline.
    #[error("no data for {}s (idle timeout)", .0.as_secs_f64())]
    IdleTimeout(Duration),
    /// The connection broke while reading the response.
    #[error("reading the response failed: {0}")]
    Read(String),
    /// The response body was larger than the gateway accepts.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    /// The stream reported an error before its first content.
    #[error("the stream reported an error before any content: {0}")]
    StreamError(String),
}

impl AttemptError {
    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptError::Connect(_) => "connect_error",
            AttemptError::Send(_) => "send_error",
            AttemptError::FirstByteTimeout(_) => "first_byte_timeout",
            AttemptError::IdleTimeout(_) => "idle_timeout",
            AttemptError::Read(_) => "read_error",
            AttemptError::TooLarge(_) => "too_large",
            AttemptError::StreamError(_) => "stream_error",
        }
    }
}

/// Whether an upstream HTTP status means "this channel cannot serve now, try the next one".
///
/// 429 and 5xx (529 included) are the provider's capacity or health; 401/403 mean the channel's
/// own credentials are wrong, which another channel may not share. Other 4xx are about the
/// request itself and go back to the client.
pub fn status_is_retryable(status: u16) -> bool {
    status == 429 || status >= 500 || status == 401 || status == 403 || status == 408
}

/// How long a `Retry-After` value asks to wait: delay-seconds (fractions rounded up) or an
/// HTTP-date measured from `now` (a date in the past is no wait).
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs(secs.ceil() as u64));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 1.2 ", now), Some(Duration::from_secs(2)));
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:07 GMT", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO), "in the past");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504, 529, 401, 403, 408] {
            assert!(status_is_retryable(s), "{s}");
        }
        for s in [200, 400, 404, 413, 422] {
            assert!(!status_is_retryable(s), "{s}");
        }
    }
}
