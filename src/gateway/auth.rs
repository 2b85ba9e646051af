//! Finding the client's key wherever its SDK puts it and checking it against the key ring.

use super::snapshot::Snapshot;
use crate::account::keys::KeyInfo;
use crate::protocol::error::{ApiError, ErrorClass};
use pingora::http::RequestHeader;

/// The key the client presented: `Authorization: Bearer`, `x-api-key` (Anthropic),
/// `x-goog-api-key` or `?key=` (Gemini).
pub fn presented_key(req: &RequestHeader) -> Option<String> {
    let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(auth) = header("authorization") {
        let mut parts = auth.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (parts.next(), parts.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_owned());
            }
        }
    }
    if let Some(k) = header("x-api-key").or_else(|| header("x-goog-api-key")) {
        return Some(k.to_owned());
    }
    let query = req.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "key")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Authenticates the request or returns the 401 to send.
pub fn authenticate<'a>(snapshot: &'a Snapshot, req: &RequestHeader) -> Result<&'a KeyInfo, ApiError> {
    let Some(key) = presented_key(req) else {
        return Err(ApiError::new(
            ErrorClass::Authentication,
            "missing API key: send it as `Authorization: Bearer <key>` (or `x-api-key`, `x-goog-api-key`, `?key=`)",
        )
        .with_code("missing_api_key"));
    };
    snapshot
        .keys
        .authenticate(&key)
        .ok_or_else(|| ApiError::new(ErrorClass::Authentication, "invalid API key").with_code("invalid_api_key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], path: &str) -> RequestHeader {
        let mut r = RequestHeader::build("POST", path.as_bytes(), None).unwrap();
        for (k, v) in headers {
            r.insert_header(k.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn every_sdk_placement() {
        assert_eq!(presented_key(&req(&[("authorization", "Bearer sk-1")], "/")).as_deref(), Some("sk-1"));
        assert_eq!(presented_key(&req(&[("x-api-key", "sk-2")], "/")).as_deref(), Some("sk-2"));
        assert_eq!(presented_key(&req(&[("x-goog-api-key", "sk-3")], "/")).as_deref(), Some("sk-3"));
        assert_eq!(presented_key(&req(&[], "/v1beta/models/x?alt=sse&key=sk%2D4")).as_deref(), Some("sk-4"));
        assert_eq!(presented_key(&req(&[("authorization", "Basic abc")], "/")), None);
        assert_eq!(presented_key(&req(&[], "/")), None);
    }
}
