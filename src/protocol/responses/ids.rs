//! Ids a Responses client sees: `resp_…` for the response, `msg_…`/`fc_…`/`rs_…` for items and a
//! `call_id` of at most 64 characters (PROTOCOLS.md §3.4 d).
//!
//! All are derived deterministically from the upstream's ids, so a replayed stream and the
//! non-stream answer name things the same way and golden tests stay stable.

use std::borrow::Cow;

/// Longest `call_id` OpenAI accepts back in `function_call_output`.
pub const MAX_CALL_ID: usize = 64;

/// The response id: the upstream's id with a `resp_` prefix (kept as is when it has one);
/// `fallback` (e.g. the request id) when the upstream gave none.
pub fn response_id(upstream: &str, fallback: &str) -> String {
    let base = if upstream.is_empty() { fallback } else { upstream };
    if base.starts_with("resp_") {
        return base.to_owned();
    }
    let mut id = String::with_capacity(base.len() + 5);
    id.push_str("resp_");
    id.extend(base.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }));
    id
}

/// The id of output item `output_index` of response `response_id`, e.g. `msg_<suffix>_0`.
pub fn item_id(prefix: &str, response_id: &str, output_index: usize) -> String {
    let suffix = response_id.strip_prefix("resp_").unwrap_or(response_id);
    format!("{prefix}_{suffix}_{output_index}")
}

/// `id` when it fits in [`MAX_CALL_ID`] characters; otherwise its first 47 characters, `_` and
/// 16 hex digits of its FNV-1a hash, so two long ids sharing a prefix stay distinct and the
/// same id always maps to the same `call_id`.
pub fn call_id(id: &str) -> Cow<'_, str> {
    if id.len() <= MAX_CALL_ID {
        return Cow::Borrowed(id);
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let head: String = id.chars().take(47).collect();
    Cow::Owned(format!("{head}_{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn response_and_item_ids() {
        assert_eq!(response_id("msg_01A", "req"), "resp_msg_01A");
        assert_eq!(response_id("resp_abc", "req"), "resp_abc");
        assert_eq!(response_id("", "req-1"), "resp_req-1");
        assert_eq!(response_id("a:b", ""), "resp_a_b");
        assert_eq!(item_id("fc", "resp_abc", 2), "fc_abc_2");
    }

    #[test]
    fn long_call_ids_are_shortened_stably() {
        assert_eq!(call_id("toolu_01"), "toolu_01");
        let long = "call_".repeat(20);
        let a = call_id(&long);
        assert!(a.len() <= MAX_CALL_ID);
        assert_eq!(a, call_id(&long));
        assert_ne!(a, call_id(&format!("{long}x")));
    }

    proptest! {
        #[test]
        fn call_ids_always_fit(id in ".{0,200}") {
            let c = call_id(&id);
            prop_assert!(c.chars().count() <= MAX_CALL_ID);
        }
    }
}
