//! What can go wrong in one upstream attempt, and whether the next channel may be tried.

use std::time::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
