//! New key secrets and record ids: random base62 from the OS-seeded thread RNG.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

/// What every key issued by Switchyard starts with, so leaked keys can be recognised (secret
/// scanners) and told apart from provider keys.
pub const KEY_PREFIX: &str = "sk-sy-";
/// Random characters after the prefix: 43 base62 characters are 256 bits.
const KEY_RANDOM_CHARS: usize = 43;

/// A new secret key, `sk-sy-` and 43 random base62 characters.
pub fn new_key() -> String {
    format!("{KEY_PREFIX}{}", Alphanumeric.sample_string(&mut rand::rng(), KEY_RANDOM_CHARS))
}

/// A new record id such as `acct_…` or `key_…` (16 base62 characters, 95 bits).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Alphanumeric.sample_string(&mut rand::rng(), 16))
}

/// SHA-256 of a key as lowercase hex: the only form the store keeps.
pub fn digest_hex(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The part of a key safe to show next to its name (`sk-sy-AbCd`).
pub fn display_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_base62_and_distinct() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        let rest = a.strip_prefix(KEY_PREFIX).unwrap();
        assert!(rest.len() >= 32 && rest.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(digest_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(display_prefix(&a).len(), 10);
        assert!(new_id("acct").starts_with("acct_"));
    }
}
