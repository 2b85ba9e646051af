//! Tool call ids for Anthropic, whose ids must match `^[a-zA-Z0-9_-]+$` (§3.4 d, trap #24).
//!
//! The rewrite is deterministic (the same foreign id always maps to the same Anthropic id, so a
//! `tool_use` and its `tool_result` still match) and idempotent (a valid id is left alone).

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// True when `id` is acceptable to Anthropic as is.
pub fn is_valid_tool_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `id` itself when valid; otherwise its valid characters (others become `_`) plus `_` and
/// 8 hex digits of its SHA-256, so two ids that clean to the same text stay distinct.
pub fn anthropic_tool_id(id: &str) -> Cow<'_, str> {
    if is_valid_tool_id(id) {
        return Cow::Borrowed(id);
    }
    let mut out: String =
        id.chars().take(48).map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let digest = Sha256::digest(id.as_bytes());
    out.push('_');
    out.push_str(&hex::encode(&digest[..4]));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_ids_pass_and_foreign_ids_are_rewritten_stably() {
        assert_eq!(anthropic_tool_id("toolu_01AbC-9"), "toolu_01AbC-9");
        let a = anthropic_tool_id("call:1/x");
        assert!(is_valid_tool_id(&a));
        assert!(a.starts_with("call_1_x_"));
        assert_eq!(a, anthropic_tool_id("call:1/x"));
        assert_ne!(a, anthropic_tool_id("call.1/x"));
        assert!(is_valid_tool_id(&anthropic_tool_id("")));
    }

    proptest! {
        #[test]
        fn rewrite_is_valid_and_idempotent(id in ".{0,80}") {
            let once = anthropic_tool_id(&id).into_owned();
            prop_assert!(is_valid_tool_id(&once));
            prop_assert_eq!(anthropic_tool_id(&once).into_owned(), once);
        }
    }
}
