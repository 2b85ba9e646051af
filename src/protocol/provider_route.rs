//! The raw provider routes, `/{provider}/{path…}`: a call passed to one provider's own API
//! (files, batches, fine-tuning, anything the gateway does not model) with the provider's key.
//! What crosses the gateway is allowlisted both ways, and the path lands below the provider's
//! base URL by one rule.

use super::error::{ApiError, ErrorClass};

/// Client request headers sent on upstream (besides the provider dialect's own version and beta
/// headers, its auth headers and the body framing). Never the client's credentials or cookies.
/// `accept-encoding` is not among them: answers come back unencoded, so an error body can be
/// searched for the provider key.
pub const REQUEST_HEADERS: &[&str] = &["content-type", "accept", "content-encoding", "idempotency-key", "openai-beta"];

/// Upstream response headers a client sees (besides the gateway's own and the body framing).
/// Never cookies, server or proxy details, or the provider's own rate-limit or request ids.
pub const RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "etag",
    "last-modified",
    "retry-after",
];

/// First path segments the gateway answers itself: a provider with `passthrough` may not be
/// named one, so its route can never shadow them.
pub const RESERVED_NAMES: &[&str] = &["v1", "v1beta", "api", "healthz", "metrics", "admin"];

/// The query parameter a client may carry its gateway key in (Gemini style); never forwarded.
const KEY_PARAM: &str = "key";

/// Splits `/{provider}/{rest}` into the provider name and the rest (`""` or starting with `/`).
pub fn split(path: &str) -> Option<(&str, &str)> {
    let trimmed = path.strip_prefix('/')?;
    let (name, rest) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, ""),
    };
    (!name.is_empty()).then_some((name, rest))
}

/// The upstream path and query for `rest` below a provider whose base URL path is `base_path`
/// (no trailing slash): `rest` when it already starts with `base_path` at a segment boundary
/// (`/openai/v1/files` → `/v1/files` for base `/v1`), otherwise `base_path + rest`
/// (`/openai/files` → `/v1/files`). Dot segments are refused (they could climb out of the
/// base path); the client's `key` query parameter is removed, everything else kept as sent.
pub fn upstream_path(base_path: &str, rest: &str, query: Option<&str>) -> Result<String, ApiError> {
    let dotted = rest.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    });
    if dotted || rest.contains('\\') {
        return Err(
            ApiError::new(ErrorClass::InvalidRequest, "the path may not contain `.` or `..` segments").with_code("invalid_path")
        );
    }
    let within =
        base_path.is_empty() || rest.strip_prefix(base_path).is_some_and(|after| after.is_empty() || after.starts_with('/'));
    let mut path = if within { rest.to_owned() } else { format!("{base_path}{rest}") };
    if path.is_empty() {
        path.push('/');
    }
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(KEY_PARAM))
        .collect();
    if !kept.is_empty() {
        path.push('?');
        path.push_str(&kept.join("&"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_is_the_first_segment() {
        assert_eq!(split("/openai/v1/files"), Some(("openai", "/v1/files")));
        assert_eq!(split("/openai"), Some(("openai", "")));
        assert_eq!(split("/openai/"), Some(("openai", "/")));
        assert_eq!(split("//x"), None);
        assert_eq!(split("nope"), None);
    }

    #[test]
    fn the_rest_lands_below_the_base_path_once() {
        let p = |base, rest, q| upstream_path(base, rest, q).unwrap();
        assert_eq!(p("/v1", "/v1/files", None), "/v1/files");
        assert_eq!(p("/v1", "/files", None), "/v1/files");
        assert_eq!(p("/v1", "/v1", None), "/v1");
        assert_eq!(p("/v1", "/v10/files", None), "/v1/v10/files", "a prefix only counts at a segment boundary");
        assert_eq!(p("/api/v1", "/models", None), "/api/v1/models");
        assert_eq!(p("", "/v1/messages/batches", None), "/v1/messages/batches");
        assert_eq!(p("", "", None), "/");
        assert_eq!(p("/v1", "/files", Some("limit=2&key=sk-client&purpose=batch")), "/v1/files?limit=2&purpose=batch");
        assert_eq!(p("/v1", "/files", Some("key=sk-client")), "/v1/files");
    }

    #[test]
    fn dot_segments_are_refused() {
        for rest in ["/../admin", "/v1/./files", "/%2e%2E/x", "/a\\..\\b"] {
            assert_eq!(upstream_path("/v1", rest, None).unwrap_err().code.as_deref(), Some("invalid_path"), "{rest}");
        }
    }
}
