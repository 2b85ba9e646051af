//! Protocol-neutral API errors and their rendering in each protocol's own envelope.
//!
//! Every SDK picks its exception class from the HTTP status and reads the message from its own
//! envelope, so an error is built once ([`ApiError`]) and rendered per inbound protocol.

use super::ir::Protocol;
use serde_json::{json, Value};

/// What went wrong, in the terms every protocol's error table distinguishes (PROTOCOLS.md §3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// 400: the request is malformed or asks for something impossible.
    InvalidRequest,
    /// 401: no key, or an unknown key.
    Authentication,
    /// 402: the account's prepaid balance does not cover the request.
    InsufficientBalance,
    /// 403: the key may not do this.
    PermissionDenied,
    /// 404: unknown model or route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 413: the body is larger than the configured limit.
    RequestTooLarge,
    /// 429: a rate limit (ours or the provider's).
    RateLimited,
    /// 500/502: something failed inside the gateway or upstream.
    Server,
    /// 503/529: no upstream could serve the request right now.
    Unavailable,
    /// 504: the upstream did not answer in time.
    Timeout,
}

/// An error as the client must see it: status, class, message and optional param/code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status sent to the client.
    pub status: u16,
    /// The class that picks the envelope's `type`.
    pub class: ErrorClass,
    /// Human-readable message; never contains a secret.
    pub message: String,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, `invalid_api_key`, …).
    pub code: Option<String>,
    /// Seconds the client should wait before retrying (429/503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error of `class` with the class's usual status.
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        let status = match class {
            ErrorClass::InvalidRequest => 400,
            ErrorClass::Authentication => 401,
            ErrorClass::InsufficientBalance => 402,
            ErrorClass::PermissionDenied => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::MethodNotAllowed => 405,
            ErrorClass::RequestTooLarge => 413,
            ErrorClass::RateLimited => 429,
            ErrorClass::Server => 500,
            ErrorClass::Unavailable => 503,
            ErrorClass::Timeout => 504,
        };
        ApiError { status, class, message: message.into(), param: None, code: None, retry_after: None }
    }

    /// The same error with another HTTP status (e.g. an upstream's own status passed on).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same error naming the request field at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// The same error with a machine-readable code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The same error with a `Retry-After` hint.
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// A 400 naming the request field at fault; conversions use it for anything they cannot
    /// express rather than dropping it silently.
    pub fn invalid_field(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::new(ErrorClass::InvalidRequest, message).with_param(param)
    }

    /// The status an OpenAI (or Gemini) client sees: their SDKs know no 529, so it becomes 503
    /// (PROTOCOLS.md §3.9 rule).
    pub fn status_for_openai(&self) -> u16 {
        if self.status == 529 {
            503
        } else {
            self.status
        }
    }

    /// The OpenAI `error.type` of this error.
    pub fn openai_type(&self) -> &'static str {
        openai_type(self.class)
    }

    /// The Anthropic `error.type` of this error (§3.9 table; 402 is `billing_error`).
    pub fn anthropic_type(&self) -> &'static str {
        if self.status == 402 {
            return "billing_error";
        }
        match self.class {
            ErrorClass::InvalidRequest | ErrorClass::MethodNotAllowed => "invalid_request_error",
            ErrorClass::Authentication => "authentication_error",
            ErrorClass::InsufficientBalance => "billing_error",
            ErrorClass::PermissionDenied => "permission_error",
            ErrorClass::NotFound => "not_found_error",
            ErrorClass::RequestTooLarge => "request_too_large",
            ErrorClass::RateLimited => "rate_limit_error",
            ErrorClass::Server => "api_error",
            ErrorClass::Unavailable => "overloaded_error",
            ErrorClass::Timeout => "timeout_error",
        }
    }

    /// The Anthropic envelope `{"type":"error","error":{"type","message"},"request_id"}`.
    pub fn to_anthropic_json(&self, request_id: &str) -> Vec<u8> {
        let body = json!({
            "type": "error",
            "error": { "type": self.anthropic_type(), "message": self.message },
            "request_id": request_id,
        });
        body.to_string().into_bytes()
    }

    /// Reads an upstream's error body into an error that keeps the upstream's status, message,
    /// param/code and `Retry-After` (`retry_after` is the raw header value, if any).
    ///
    /// A 2xx `status` means an in-stream error frame: the class then comes from the body's type.
    /// A body that is not the protocol's envelope still yields an error naming the status.
    pub fn from_upstream(protocol: Protocol, status: u16, body: &[u8], retry_after: Option<&str>) -> Self {
        let parsed = match protocol {
            Protocol::OpenAiChat | Protocol::OpenAiResponses => parse_openai_error(body),
            Protocol::Anthropic => parse_anthropic_error(body),
            // Gemini: {"error":{"code","message","status"}}; its `status` word picks the class.
            Protocol::Gemini => parse_gemini_error(body),
        };
        // Only a message from the protocol's own JSON envelope is kept: a raw body (an HTML
        // error page, a proxy's text) can name servers, versions and internal addresses.
        let (message, kind, param, code) =
            parsed.unwrap_or_else(|| (format!("the upstream answered HTTP {status}"), None, None, None));
        let in_stream = (200..300).contains(&status);
        let class = match (in_stream, kind.as_deref()) {
            (true, Some(k)) => class_for_type(k).unwrap_or(ErrorClass::Server),
            (true, None) => ErrorClass::Server,
            (false, _) => class_for_status(status),
        };
        let mut e = ApiError::new(class, message).with_retry_after(retry_after.and_then(parse_retry_after));
        if !in_stream {
            e.status = status;
        }
        e.param = param;
        e.code = code;
        e
    }

    /// The same error with every credential-looking text in its message replaced: each of
    /// `secrets` (the provider keys the gateway holds), `Bearer <token>` and `sk-…` keys.
    /// Upstream messages can echo what they were sent; a client must never see a key.
    pub fn redacted(mut self, secrets: &[&str]) -> Self {
        self.message = redact(&self.message, secrets);
        self
    }

    /// The OpenAI envelope `{"error":{"message","type","param","code","request_id"}}`.
    pub fn to_openai_json(&self, request_id: &str) -> Vec<u8> {
        let body = json!({
            "error": {
                "message": self.message,
                "type": openai_type(self.class),
                "param": self.param,
                "code": self.code,
                "request_id": request_id,
            }
        });
        body.to_string().into_bytes()
    }
}

/// `text` with each secret, `Bearer <token>` and `sk-…`-style key replaced by `[redacted]`.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some((at, skip)) = next_credential(rest) {
        result.push_str(&rest[..at + skip]);
        result.push_str("[redacted]");
        let tail = &rest[at + skip..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || "-_.~+/=".contains(c))).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    result.push_str(rest);
    result
}

/// The next `Bearer <token>` or `sk-<key>` in `text`: where it starts and how much of it (the
/// scheme word) is kept.
fn next_credential(text: &str) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let bearer = lower
        .find("bearer ")
        .filter(|&i| text[i + 7..].starts_with(|c: char| c.is_ascii_alphanumeric()))
        .map(|i| (i, 7));
    let key = lower
        .match_indices("sk-")
        .find(|(i, _)| *i == 0 || !text.as_bytes()[i - 1].is_ascii_alphanumeric())
        .filter(|(i, _)| text[i + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').count() >= 8)
        .map(|(i, _)| (i, 0));
    match (bearer, key) {
        (Some(b), Some(k)) => Some(if b.0 <= k.0 { b } else { k }),
        (b, k) => b.or(k),
    }
}

/// The OpenAI `error.type` for a class (openai-python maps status, not type, to exceptions).
fn openai_type(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::InvalidRequest | ErrorClass::NotFound | ErrorClass::MethodNotAllowed | ErrorClass::RequestTooLarge => {
            "invalid_request_error"
        }
        ErrorClass::Authentication => "authentication_error",
        ErrorClass::InsufficientBalance => "insufficient_balance",
        ErrorClass::PermissionDenied => "permission_error",
        ErrorClass::RateLimited => "rate_limit_error",
        ErrorClass::Server | ErrorClass::Timeout => "server_error",
        ErrorClass::Unavailable => "service_unavailable_error",
    }
}

/// The class an upstream HTTP status belongs to, for re-rendering a provider's error.
pub fn class_for_status(status: u16) -> ErrorClass {
    match status {
        401 => ErrorClass::Authentication,
        403 => ErrorClass::PermissionDenied,
        404 => ErrorClass::NotFound,
        405 => ErrorClass::MethodNotAllowed,
        413 => ErrorClass::RequestTooLarge,
        429 => ErrorClass::RateLimited,
        503 | 529 => ErrorClass::Unavailable,
        504 => ErrorClass::Timeout,
        s if s >= 500 => ErrorClass::Server,
        _ => ErrorClass::InvalidRequest,
    }
}

/// `(message, type, param, code)` read from an error envelope.
type Parsed = (String, Option<String>, Option<String>, Option<String>);

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// OpenAI `{"error":{"message","type","param","code"}}`.
fn parse_openai_error(body: &[u8]) -> Option<Parsed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    if let Value::String(s) = err {
        return Some((s.clone(), None, None, None));
    }
    Some((str_field(err, "message").unwrap_or_default(), str_field(err, "type"), str_field(err, "param"), str_field(err, "code")))
}

/// Anthropic `{"type":"error","error":{"type","message"}}`.
fn parse_anthropic_error(body: &[u8]) -> Option<Parsed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    Some((str_field(err, "message").unwrap_or_default(), str_field(err, "type"), None, None))
}

/// Gemini `{"error":{"code":<int>,"message","status"}}` (also sent as a bare array of one).
fn parse_gemini_error(body: &[u8]) -> Option<Parsed> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let v = match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let err = v.get("error")?;
    Some((str_field(err, "message").unwrap_or_default(), str_field(err, "status"), None, None))
}

/// The class an error `type` word names, in any protocol's vocabulary.
fn class_for_type(kind: &str) -> Option<ErrorClass> {
    Some(match kind {
        "invalid_request_error" | "INVALID_ARGUMENT" | "FAILED_PRECONDITION" => ErrorClass::InvalidRequest,
        "authentication_error" | "UNAUTHENTICATED" => ErrorClass::Authentication,
        "insufficient_balance" | "billing_error" => ErrorClass::InsufficientBalance,
        "permission_error" | "PERMISSION_DENIED" => ErrorClass::PermissionDenied,
        "not_found_error" | "NOT_FOUND" => ErrorClass::NotFound,
        "request_too_large" => ErrorClass::RequestTooLarge,
        "rate_limit_error" | "RESOURCE_EXHAUSTED" => ErrorClass::RateLimited,
        "api_error" | "server_error" | "INTERNAL" => ErrorClass::Server,
        "overloaded_error" | "service_unavailable_error" | "UNAVAILABLE" => ErrorClass::Unavailable,
        "timeout_error" | "DEADLINE_EXCEEDED" => ErrorClass::Timeout,
        _ => return None,
    })
}

/// `Retry-After` in whole seconds; an HTTP-date or garbage gives `None`.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let v = value.trim();
    if let Ok(n) = v.parse::<u64>() {
        return Some(n);
    }
    v.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_envelope_carries_type_code_and_request_id() {
        let e = ApiError::new(ErrorClass::NotFound, "no such model").with_code("model_not_found");
        let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json("req-1")).unwrap();
        assert_eq!(e.status, 404);
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["message"], "no such model");
        assert_eq!(v["error"]["request_id"], "req-1");
    }

    #[test]
    fn insufficient_balance_in_every_envelope() {
        let e = ApiError::new(ErrorClass::InsufficientBalance, "top up").with_code("insufficient_balance");
        assert_eq!(e.status, 402);
        let v: serde_json::Value = serde_json::from_slice(&e.to_openai_json("r")).unwrap();
        assert_eq!(
            (v["error"]["type"].as_str(), v["error"]["code"].as_str()),
            (Some("insufficient_balance"), Some("insufficient_balance"))
        );
        let v: serde_json::Value = serde_json::from_slice(&e.to_anthropic_json("r")).unwrap();
        assert_eq!(v["error"]["type"], "billing_error");
        let v: serde_json::Value =
            serde_json::from_slice(&crate::protocol::dialect::error_response(Protocol::Gemini, &e, "r").1).unwrap();
        assert_eq!((v["error"]["code"].as_u64(), v["error"]["status"].as_str()), (Some(402), Some("FAILED_PRECONDITION")));
    }

    #[test]
    fn upstream_status_classes() {
        assert_eq!(class_for_status(529), ErrorClass::Unavailable);
        assert_eq!(class_for_status(502), ErrorClass::Server);
        assert_eq!(class_for_status(422), ErrorClass::InvalidRequest);
    }
    #[test]
    fn anthropic_envelope_types() {
        let e = ApiError::new(ErrorClass::Unavailable, "Overloaded").with_status(529);
        let v: serde_json::Value = serde_json::from_slice(&e.to_anthropic_json("req-2")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req-2"})
        );
        assert_eq!(e.status_for_openai(), 503);
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ];
        for (status, ty) in cases {
            let e = ApiError::new(class_for_status(status), "x").with_status(status);
            assert_eq!(e.anthropic_type(), ty, "status {status}");
        }
    }

    #[test]
    fn upstream_errors_keep_status_message_and_retry_after() {
        let e = ApiError::from_upstream(
            Protocol::OpenAiChat,
            429,
            br#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
            Some("7"),
        );
        assert_eq!(
            (e.status, e.class, e.message.as_str(), e.code.as_deref(), e.retry_after),
            (429, ErrorClass::RateLimited, "slow down", Some("rate_limit_exceeded"), Some(7))
        );
        let e = ApiError::from_upstream(
            Protocol::Anthropic,
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            None,
        );
        assert_eq!((e.status, e.class, e.status_for_openai()), (529, ErrorClass::Unavailable, 503));
        assert_eq!(e.message, "Overloaded");
        let e = ApiError::from_upstream(
            Protocol::Gemini,
            400,
            br#"{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}"#,
            None,
        );
        assert_eq!((e.status, e.message.as_str()), (400, "API key not valid"));
        let e =
            ApiError::from_upstream(Protocol::Anthropic, 502, b"<html>bad gateway</html>", Some("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!((e.status, e.class, e.retry_after), (502, ErrorClass::Server, None));
        assert!(e.message.contains("502"));
    }

    #[test]
    fn in_stream_errors_take_their_class_from_the_type() {
        let e = ApiError::from_upstream(
            Protocol::Anthropic,
            200,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            None,
        );
        assert_eq!((e.class, e.status), (ErrorClass::Unavailable, 503));
    }

    #[test]
    fn credentials_never_survive_redaction() {
        let e = ApiError::new(
            ErrorClass::InvalidRequest,
            "bad header Authorization: Bearer sk-proj-abcdefghijklmnop for key prov-secret-1 and sk-ant-api03-xyzxyzxyzxyz end",
        )
        .redacted(&["prov-secret-1"]);
        assert!(!e.message.contains("abcdefghijklmnop"), "{}", e.message);
        assert!(!e.message.contains("prov-secret-1"), "{}", e.message);
        assert!(!e.message.contains("xyzxyzxyzxyz"), "{}", e.message);
        assert!(
            e.message.starts_with("bad header Authorization: Bearer [redacted] for key [redacted] and [redacted] end"),
            "{}",
            e.message
        );
        assert_eq!(redact("risk-taking is fine; task-1", &[]), "risk-taking is fine; task-1");
    }

    #[test]
    fn non_json_upstream_bodies_are_never_relayed() {
        let e = ApiError::from_upstream(Protocol::OpenAiChat, 500, b"<html>nginx/1.2.3 at 10.0.0.7</html>", None);
        assert!(!e.message.contains("nginx") && !e.message.contains("10.0.0.7"), "{}", e.message);
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after(" 12 "), Some(12));
        assert_eq!(parse_retry_after("1.2"), Some(2));
        assert_eq!(parse_retry_after("soon"), None);
    }

    proptest::proptest! {
        #[test]
        fn upstream_parser_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), status in 0u16..1000, ra in ".{0,12}") {
            for p in [Protocol::OpenAiChat, Protocol::OpenAiResponses, Protocol::Anthropic, Protocol::Gemini] {
                let _ = ApiError::from_upstream(p, status, &body, Some(&ra));
            }
        }
    }
}
