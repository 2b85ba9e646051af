//! Client key authentication by SHA-256 digest.
//!
//! Only digests are kept in memory, so a heap dump or a log line never shows a client key, and
//! the comparison is constant-time over every configured key so timing tells nothing about
//! which digest bytes matched.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What the gateway knows about an authenticated key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's configured name (safe to log).
    pub name: String,
}

/// The configured client keys, by digest.
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: Vec<([u8; 32], KeyInfo)>,
}

impl KeyRing {
    /// A ring of `(digest, name)` pairs.
    pub fn new(keys: impl IntoIterator<Item = ([u8; 32], String)>) -> Self {
        KeyRing { keys: keys.into_iter().map(|(d, name)| (d, KeyInfo { name })).collect() }
    }

    /// The key matching `presented`, comparing its digest against every entry.
    pub fn authenticate(&self, presented: &str) -> Option<&KeyInfo> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (candidate, info) in &self.keys {
            if bool::from(candidate.ct_eq(&digest)) {
                found = Some(info);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> [u8; 32] {
        Sha256::digest(s.as_bytes()).into()
    }

    #[test]
    fn finds_by_digest_only() {
        let ring = KeyRing::new([(digest("sk-a"), "a".to_string()), (digest("sk-b"), "b".to_string())]);
        assert_eq!(ring.authenticate("sk-b").map(|k| k.name.as_str()), Some("b"));
        assert_eq!(ring.authenticate("sk-c"), None);
        assert_eq!(ring.authenticate(""), None);
    }
}
