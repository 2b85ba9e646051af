//! Response ids in the client's own form (`chatcmpl-…`, `msg_…`, `resp_…`), whatever the
//! upstream's id looks like. Derived deterministically, so a replayed stream and the whole answer
//! carry the same id and an id that already has the right form is kept byte-exact.

/// `prefix` + the upstream id (or `fallback` when the upstream gave none), characters outside
/// `[A-Za-z0-9_-]` becoming `_`; an id already in that form is returned as is.
pub fn client_response_id(prefix: &str, upstream: &str, fallback: &str) -> String {
    let base = if upstream.is_empty() { fallback } else { upstream };
    let clean = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if base.starts_with(prefix) && base.len() > prefix.len() && base.chars().all(clean) {
        return base.to_owned();
    }
    let mut id = String::with_capacity(prefix.len() + base.len());
    id.push_str(prefix);
    id.extend(base.chars().map(|c| if clean(c) { c } else { '_' }));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_take_the_clients_prefix() {
        assert_eq!(client_response_id("msg_", "chatcmpl-abc", "req"), "msg_chatcmpl-abc");
        assert_eq!(client_response_id("msg_", "msg_01A", "req"), "msg_01A");
        assert_eq!(client_response_id("chatcmpl-", "msg_01A", "req"), "chatcmpl-msg_01A");
        assert_eq!(client_response_id("chatcmpl-", "", "req-1"), "chatcmpl-req-1");
        assert_eq!(client_response_id("resp_", "a:b/c", ""), "resp_a_b_c");
    }

    proptest! {
        #[test]
        fn derived_ids_are_stable_prefixed_and_clean(up in ".{0,40}", fallback in "[a-z0-9-]{1,20}") {
            for prefix in ["msg_", "chatcmpl-", "resp_"] {
                let id = client_response_id(prefix, &up, &fallback);
                prop_assert!(id.starts_with(prefix));
                prop_assert_eq!(&id, &client_response_id(prefix, &up, &fallback));
                prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
                // Idempotent: a client id fed back as the upstream id stays the same.
                prop_assert_eq!(&client_response_id(prefix, &id, "x"), &id);
            }
        }
    }
}
