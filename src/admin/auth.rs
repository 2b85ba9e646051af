//! The admin token check.
//!
//! Only SHA-256 digests are kept and compared, in constant time: the comparison takes the same
//! time whatever the presented value, and equal-length digests do not reveal the token's length.

use crate::config::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who may read the token-protected admin routes.
#[derive(Clone)]
pub struct AdminAuth {
    /// Digest of `admin.token`; `None` leaves the listener open.
    token: Option<[u8; 32]>,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth").field("token", &self.token.map(|_| "<digest>")).finish()
    }
}

fn digest(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

impl AdminAuth {
    /// Checks against `token`, or lets everyone in when there is none.
    pub fn new(token: Option<&Secret>) -> Self {
        AdminAuth { token: token.map(|t| digest(t.expose().as_bytes())) }
    }

    /// Whether a token is configured at all.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request with this `Authorization` header value may pass.
    pub fn allows(&self, authorization: Option<&[u8]>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(presented) = authorization.and_then(bearer) else {
            return false;
        };
        bool::from(digest(presented).ct_eq(expected))
    }
}

/// The credentials of a `Bearer` header value (scheme case-insensitive, as RFC 9110 says).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_token_everything_passes() {
        let auth = AdminAuth::new(None);
        assert!(!auth.required());
        assert!(auth.allows(None));
        assert!(auth.allows(Some(b"Bearer anything")));
    }

    #[test]
    fn with_a_token_only_the_bearer_token_passes() {
        let secret = Secret::new("s3cret");
        let auth = AdminAuth::new(Some(&secret));
        assert!(auth.required());
        assert!(auth.allows(Some(b"Bearer s3cret")));
        assert!(auth.allows(Some(b"bearer s3cret")));
        assert!(!auth.allows(None));
        assert!(!auth.allows(Some(b"Bearer s3cre")));
        assert!(!auth.allows(Some(b"Bearer s3cretX")));
        assert!(!auth.allows(Some(b"Basic s3cret")));
        assert!(!auth.allows(Some(b"s3cret")));
        assert!(!auth.allows(Some(b"Bearer ")));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let auth = AdminAuth::new(Some(&Secret::new("s3cret")));
        assert!(!format!("{auth:?}").contains("s3cret"));
    }
}
