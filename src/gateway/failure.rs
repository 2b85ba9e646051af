//! Why a request failed, typed by who needs to know what.
//!
//! A client error says what the client did wrong so it can fix it. An upstream error keeps what
//! the provider answered (status, a bounded body, which provider and channel) for the log, and
//! shows the client only a sanitized message. An internal error keeps its source for the log and
//! shows the client a plain 500. The log line and the client's error share the request id.

use crate::protocol::error::{ApiError, ErrorClass};
use crate::upstream::outcome::AttemptError;

/// The most of an upstream body kept for the log.
pub const LOGGED_BODY_LIMIT: usize = 2048;

/// A request that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The client's own doing (a bad body, an unknown model, a missing key).
    #[error("{}", .0.message)]
    Client(ApiError),
    /// The providers did not give a usable answer.
    #[error(transparent)]
    Upstream(Box<UpstreamError>),
    /// Something failed inside the gateway.
    #[error(transparent)]
    Internal(InternalError),
}

/// What the providers answered, for the log; `client` is all the client sees.
#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct UpstreamError {
    /// The error as the client gets it: no provider, channel, host or raw body in it.
    pub client: ApiError,
    /// The last upstream status, when one answered.
    pub status: Option<u16>,
    /// The start of the last upstream body (at most [`LOGGED_BODY_LIMIT`] bytes, lossy UTF-8).
    pub body: String,
    /// Every attempt, `channel: outcome`, for the log.
    pub summary: String,
    /// The transport failure of the last attempt, when it was one.
    #[source]
    pub source: Option<AttemptError>,
}

/// A failure inside the gateway; the client sees only that one happened.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct InternalError {
    /// What the gateway was doing.
    pub context: &'static str,
    /// Why it failed.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl Failure {
    /// An internal failure while doing `context`.
    pub fn internal(context: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Failure::Internal(InternalError { context, source: source.into() })
    }

    /// The error the client sees, in terms its protocol's envelope renders.
    pub fn client_view(&self) -> ApiError {
        match self {
            Failure::Client(e) => e.clone(),
            Failure::Upstream(u) => u.client.clone(),
            Failure::Internal(_) => ApiError::new(ErrorClass::Server, "internal error").with_code("internal_error"),
        }
    }

    /// The whole story for the log (never shown to the client).
    pub fn log_detail(&self) -> String {
        match self {
            Failure::Client(e) => e.message.clone(),
            Failure::Upstream(u) => {
                let mut s = format!("{}: {}", u.client.message, u.summary);
                if let Some(status) = u.status {
                    s.push_str(&format!("; last status {status}"));
                }
                if !u.body.is_empty() {
                    s.push_str(&format!("; body: {}", u.body));
                }
                s
            }
            Failure::Internal(e) => e.to_string(),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Client(e)
    }
}

/// The start of an upstream body, for the log.
pub fn logged_body(body: &[u8]) -> String {
    let end = body.len().min(LOGGED_BODY_LIMIT);
    String::from_utf8_lossy(&body[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let f = Failure::internal("rendering the answer", "serde: key must be a string at line 1");
        let client = f.client_view();
        assert_eq!((client.status, client.message.as_str()), (500, "internal error"));
        assert!(f.log_detail().contains("key must be a string"));
    }

    #[test]
    fn upstream_failures_show_the_client_only_the_sanitized_error() {
        let f = Failure::Upstream(Box::new(UpstreamError {
            client: ApiError::new(ErrorClass::Unavailable, "no available channel for model `m`"),
            status: Some(503),
            body: logged_body(b"<html>nginx at 10.1.2.3</html>"),
            summary: "backup/m#0: HTTP 503".into(),
            source: None,
        }));
        let client = f.client_view();
        assert!(!client.message.contains("backup") && !client.message.contains("10.1.2.3"));
        let log = f.log_detail();
        assert!(log.contains("backup/m#0") && log.contains("10.1.2.3"), "{log}");
    }
}
