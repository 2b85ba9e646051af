//! Finding the client's key wherever its SDK puts it, checking it against the config's keys and
//! the store's, and checking that the key may use the model it asks for. Every refusal is an
//! [`ApiError`], so the client gets it in its own protocol's envelope.

use crate::account::{Accounts, AuthError, Principal};
use crate::protocol::error::{ApiError, ErrorClass};
use crate::routing::catalog::ModelRoute;
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

/// Authenticates the request or returns the refusal to send: 401 for a missing, unknown,
/// revoked or expired key (or a suspended account), 503 when the store cannot be asked and the
/// key is not cached.
pub async fn authenticate(accounts: &Accounts, req: &RequestHeader, now_ms: i64) -> Result<Principal, ApiError> {
    let Some(key) = presented_key(req) else {
        return Err(ApiError::new(
            ErrorClass::Authentication,
            "missing API key: send it as `Authorization: Bearer <key>` (or `x-api-key`, `x-goog-api-key`, `?key=`)",
        )
        .with_code("missing_api_key"));
    };
    accounts.authenticate(&key, now_ms).await.map_err(|e| refusal(&e))
}

/// The client's view of an authentication failure.
fn refusal(err: &AuthError) -> ApiError {
    let class = match err {
        AuthError::Unavailable => ErrorClass::Unavailable,
        _ => ErrorClass::Authentication,
    };
    let api = ApiError::new(class, err.to_string()).with_status(err.status()).with_code(err.code());
    match err {
        AuthError::Unavailable => api.with_retry_after(Some(1)),
        _ => api,
    }
}

/// Refuses (403) a key restricted to other models than `route`.
pub fn allow_model(principal: &Principal, route: &ModelRoute) -> Result<(), ApiError> {
    if principal.allows_model(&route.id, &route.aliases) {
        return Ok(());
    }
    Err(ApiError::new(ErrorClass::PermissionDenied, format!("this API key may not use model `{}`", route.id))
        .with_param("model")
        .with_code("model_not_allowed"))
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

    #[test]
    fn refusals_keep_their_status_and_code() {
        let revoked = refusal(&AuthError::Revoked);
        assert_eq!((revoked.status, revoked.code.as_deref()), (401, Some("revoked_api_key")));
        let down = refusal(&AuthError::Unavailable);
        assert_eq!((down.status, down.class, down.retry_after), (503, ErrorClass::Unavailable, Some(1)));
    }
}
