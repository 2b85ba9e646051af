//! Gemini's error envelope `{"error":{"code","message","status","details"}}` ⇄ [`ApiError`]
//! (PROTOCOLS.md §3.9).
//!
//! google-genai picks its exception class from the HTTP status and shows `message`; the `status`
//! word is what Google's own tooling matches on, so it must agree with the HTTP status.

use super::response_types::{ErrorBody, ErrorEnvelope};
use crate::protocol::error::{class_for_status, ApiError, ErrorClass};
use serde_json::{json, Value};

/// The gRPC status word for an error.
///
/// Our own 401 is `UNAUTHENTICATED`; a 402 (balance) is `FAILED_PRECONDITION`, the word Gemini
/// uses for billing problems; 413 is `INVALID_ARGUMENT` as Gemini has no size-specific word.
pub fn gemini_status(err: &ApiError) -> &'static str {
    if err.status == 402 {
        return "FAILED_PRECONDITION";
    }
    match err.class {
        ErrorClass::InvalidRequest | ErrorClass::RequestTooLarge | ErrorClass::MethodNotAllowed => "INVALID_ARGUMENT",
        ErrorClass::Authentication => "UNAUTHENTICATED",
        ErrorClass::InsufficientBalance => "FAILED_PRECONDITION",
        ErrorClass::PermissionDenied => "PERMISSION_DENIED",
        ErrorClass::NotFound => "NOT_FOUND",
        ErrorClass::RateLimited => "RESOURCE_EXHAUSTED",
        ErrorClass::Server => "INTERNAL",
        ErrorClass::Unavailable => "UNAVAILABLE",
        ErrorClass::Timeout => "DEADLINE_EXCEEDED",
    }
}

/// The envelope as a Gemini client must see it. The `code` is the HTTP status the gateway
/// sends (529 becomes 503: genai knows no 529). A machine code becomes an `ErrorInfo` reason
/// and a `Retry-After` a `RetryInfo`, the places Google's clients look for them.
pub fn to_gemini_envelope(err: &ApiError) -> ErrorEnvelope {
    let mut details = Vec::new();
    if let Some(code) = &err.code {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": code,
            "domain": "switchyard",
        }));
    }
    if let Some(secs) = err.retry_after {
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{secs}s"),
        }));
    }
    ErrorEnvelope {
        error: ErrorBody {
            code: Some(err.status_for_openai()),
            message: Some(err.message.clone()),
            status: Some(gemini_status(err).to_owned()),
            details: (!details.is_empty()).then_some(details),
        },
    }
}

/// The envelope bytes of [`to_gemini_envelope`].
pub fn to_gemini_json(err: &ApiError) -> Vec<u8> {
    // A struct of strings and numbers always serialises; the fallback only satisfies the type.
    serde_json::to_vec(&to_gemini_envelope(err))
        .unwrap_or_else(|_| br#"{"error":{"code":500,"message":"internal error","status":"INTERNAL"}}"#.to_vec())
}

/// Reads a Gemini upstream's error body.
///
/// The HTTP status picks the class; for an in-stream error (2xx `status`) the body's own
/// `code`/`status` do. Gemini answers a bad key with 400 `API_KEY_INVALID`: that is Switchyard's
/// credential failing, so it becomes a 401 authentication error, which the gateway turns into a
/// 502 like every other provider's bad-credential answer (§3.9 rule). `RetryInfo.retryDelay`
/// becomes `retry_after` (a `Retry-After` header, when present, is the caller's to add).
pub fn parse_gemini_error(status: u16, body: &[u8]) -> ApiError {
    let Some(err) = envelope(body) else {
        // A body that is not Gemini's envelope (an HTML error page, a proxy's text) is never
        // shown: it can name servers, versions and internal addresses.
        let status = if (200..300).contains(&status) { 502 } else { status };
        return ApiError::new(class_for_status(status), format!("the upstream answered HTTP {status}")).with_status(status);
    };
    let in_stream = (200..300).contains(&status);
    // In a stream the HTTP status was 200; the body's own code (if any) is the real one.
    let real_status = match (in_stream, err.code) {
        (false, _) => Some(status),
        (true, Some(code)) if code >= 400 => Some(code),
        (true, _) => None,
    };
    let word = err.status.as_deref().unwrap_or("");
    let reason = details_reason(&err);
    let message = err.message.clone().unwrap_or_else(|| format!("upstream returned HTTP {status}"));
    let mut e = if reason.as_deref() == Some("API_KEY_INVALID") {
        ApiError::new(ErrorClass::Authentication, message)
    } else {
        match real_status {
            Some(s) if !in_stream => ApiError::new(class_for_status(s), message).with_status(s),
            Some(s) => ApiError::new(class_for_word(word).unwrap_or_else(|| class_for_status(s)), message).with_status(s),
            None => ApiError::new(class_for_word(word).unwrap_or(ErrorClass::Server), message),
        }
    };
    e.code = reason.or_else(|| (!word.is_empty()).then(|| word.to_owned()));
    e.retry_after = retry_delay(&err);
    e
}

fn envelope(body: &[u8]) -> Option<ErrorBody> {
    let v: Value = serde_json::from_slice(body).ok()?;
    // Non-SSE streams are JSON arrays, so an error may arrive as `[{"error":…}]`.
    let v = match v {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let err = v.get("error")?;
    match err {
        Value::Object(_) => serde_json::from_value::<ErrorBody>(err.clone()).ok().or_else(|| {
            Some(ErrorBody { message: err.get("message").and_then(Value::as_str).map(str::to_owned), ..Default::default() })
        }),
        Value::String(s) => Some(ErrorBody { message: Some(s.clone()), ..Default::default() }),
        _ => None,
    }
}

fn class_for_word(word: &str) -> Option<ErrorClass> {
    Some(match word {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorClass::InvalidRequest,
        "UNAUTHENTICATED" => ErrorClass::Authentication,
        "PERMISSION_DENIED" => ErrorClass::PermissionDenied,
        "NOT_FOUND" => ErrorClass::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorClass::RateLimited,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => ErrorClass::Server,
        "UNAVAILABLE" => ErrorClass::Unavailable,
        "DEADLINE_EXCEEDED" => ErrorClass::Timeout,
        _ => return None,
    })
}

fn details_reason(err: &ErrorBody) -> Option<String> {
    err.details.iter().flatten().find_map(|d| d.get("reason").and_then(Value::as_str).map(str::to_owned))
}

/// `RetryInfo.retryDelay` such as `"7s"` or `"1.5s"`, rounded up to whole seconds.
fn retry_delay(err: &ErrorBody) -> Option<u64> {
    let delay = err.details.iter().flatten().find_map(|d| d.get("retryDelay").and_then(Value::as_str))?;
    let secs: f64 = delay.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| secs.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(e: &ApiError) -> Value {
        serde_json::from_slice(&to_gemini_json(e)).unwrap_or(Value::Null)
    }

    #[test]
    fn status_words_per_http_status() {
        let cases = [
            (400, "INVALID_ARGUMENT"),
            (401, "UNAUTHENTICATED"),
            (402, "FAILED_PRECONDITION"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (413, "INVALID_ARGUMENT"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (502, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
        ];
        for (status, word) in cases {
            let e = ApiError::new(class_for_status(status), "x").with_status(status);
            let v = render(&e);
            assert_eq!(v["error"]["status"], word, "{status}");
            assert_eq!(v["error"]["code"], status, "{status}");
        }
    }

    #[test]
    fn our_401_is_unauthenticated_and_529_is_503() {
        let v = render(&ApiError::new(ErrorClass::Authentication, "invalid key").with_code("invalid_api_key"));
        assert_eq!(v["error"]["code"], 401);
        assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
        assert_eq!(v["error"]["details"][0]["reason"], "invalid_api_key");
        let v = render(&ApiError::new(ErrorClass::Unavailable, "Overloaded").with_status(529));
        assert_eq!((v["error"]["code"].clone(), v["error"]["status"].clone()), (json!(503), json!("UNAVAILABLE")));
    }

    #[test]
    fn retry_after_becomes_retry_info_and_back() {
        let e = ApiError::new(ErrorClass::RateLimited, "slow down").with_retry_after(Some(7));
        let body = to_gemini_json(&e);
        let back = parse_gemini_error(429, &body);
        assert_eq!((back.status, back.class, back.retry_after), (429, ErrorClass::RateLimited, Some(7)));
        assert_eq!(back.message, "slow down");
    }

    #[test]
    fn upstream_bad_key_is_an_authentication_failure() {
        let body = br#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}"#;
        let e = parse_gemini_error(400, body);
        assert_eq!((e.status, e.class, e.code.as_deref()), (401, ErrorClass::Authentication, Some("API_KEY_INVALID")));
    }

    #[test]
    fn upstream_statuses_keep_status_and_word() {
        let e = parse_gemini_error(503, br#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#);
        assert_eq!((e.status, e.class, e.code.as_deref()), (503, ErrorClass::Unavailable, Some("UNAVAILABLE")));
        let e = parse_gemini_error(400, br#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#);
        assert_eq!((e.status, e.class, e.message.as_str()), (400, ErrorClass::InvalidRequest, "bad"));
        let e = parse_gemini_error(502, b"<html>bad gateway</html>");
        assert_eq!((e.status, e.class), (502, ErrorClass::Server));
        assert!(e.message.contains("502"));
    }

    #[test]
    fn in_stream_errors_use_the_body_code() {
        let e = parse_gemini_error(200, br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#);
        assert_eq!((e.status, e.class, e.retry_after), (429, ErrorClass::RateLimited, Some(2)));
        let e = parse_gemini_error(200, br#"{"error":{"message":"boom","status":"INTERNAL"}}"#);
        assert_eq!((e.status, e.class), (500, ErrorClass::Server));
        let e = parse_gemini_error(200, b"not json");
        assert_eq!(e.status, 502);
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), status in 0u16..1000) {
            let e = parse_gemini_error(status, &body);
            let _ = to_gemini_json(&e);
        }
    }
}
