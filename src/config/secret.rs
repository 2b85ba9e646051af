//! A string that never prints itself.

use std::fmt;

use serde::Deserialize;

/// A credential from the config: an upstream API key, a client key, the admin token.
///
/// `Debug` and `Display` print `<redacted>` so a secret can sit inside a `Config` that is
/// logged or shown in an error without leaking; the only way to the text is [`Secret::expose`],
/// which makes every use greppable. Equality is ordinary string equality, not constant-time:
/// authentication compares digests (see `KeyEntry::digest`), never `Secret`s.
#[derive(Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a string, e.g. a key created at runtime or in a test.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for the one place that must send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (a local upstream may need no key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("sk-very-secret");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
        assert_eq!(secret.expose(), "sk-very-secret");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        let secret: Secret = serde_yaml_ng::from_str("abc").unwrap();
        assert_eq!(secret.expose(), "abc");
    }
}
