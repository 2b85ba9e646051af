//! Minimal base64 (RFC 4648), because the crate has no base64 dependency.
//!
//! Needed to turn a plain-text document into Gemini `inlineData` and back, and by the mock for its
//! base64 embeddings, images and thought signatures (one encoder for the crate), so it favours
//! clarity over speed. The decoder accepts the standard and URL-safe alphabets, with or without
//! padding, as proto-JSON parsers do; the encoder writes standard, padded base64.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a string is not base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    /// A byte outside both alphabets (or `=` before the end).
    #[error("invalid base64 character at offset {0}")]
    InvalidByte(usize),
    /// A length that no encoding produces (one dangling character).
    #[error("invalid base64 length")]
    InvalidLength,
}

/// Standard padded base64 of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    }))
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    let trimmed = bytes.strip_suffix(b"==").or_else(|| bytes.strip_suffix(b"=")).unwrap_or(bytes);
    if trimmed.len() % 4 == 1 || (trimmed.len() != bytes.len() && !bytes.len().is_multiple_of(4)) {
        return Err(Base64Error::InvalidLength);
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for (c, chunk) in trimmed.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &ch) in chunk.iter().enumerate() {
            n |= value(ch).ok_or(Base64Error::InvalidByte(c * 4 + i))? << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc).as_deref(), Ok(plain.as_bytes()));
        }
    }

    #[test]
    fn high_bytes_use_plus_and_slash() {
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(encode(&1.0f32.to_le_bytes()), "AACAPw==");
    }

    #[test]
    fn accepts_unpadded_and_url_safe() {
        assert_eq!(decode("Zg").as_deref(), Ok(&b"f"[..]));
        assert_eq!(decode("-_8").as_deref(), Ok(&[0xfb, 0xff][..]));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode("Z"), Err(Base64Error::InvalidLength));
        assert_eq!(decode("Zm!v"), Err(Base64Error::InvalidByte(2)));
        assert_eq!(decode("Zg=A"), Err(Base64Error::InvalidByte(2)));
        assert!(decode("Zm9=").is_ok());
        assert_eq!(decode("Zm9vY="), Err(Base64Error::InvalidLength));
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)), Ok(bytes));
        }

        #[test]
        fn decode_never_panics(s in ".{0,64}") {
            let _ = decode(&s);
        }
    }
}
