//! Tool-call ids Gemini leaves out.
//!
//! Gemini often omits `functionCall.id`, but OpenAI and Anthropic clients need one to answer the
//! call, and Switchyard needs it to recover the function name when the answer comes back
//! (trap #13). Ids are derived from the response id so they are stable across a stream and
//! unique across turns (PROTOCOLS.md §3.4 d).

/// `call_<responseId>_<n>`, `n` counting function calls in the answer from 0.
pub fn synthetic_call_id(response_id: &str, n: usize) -> String {
    format!("call_{response_id}_{n}")
}

/// A response id for an answer that came without one (it is the base of the call ids).
pub fn new_response_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// An id for a call in Gemini-protocol history that had none: position-based, so the same
/// request always converts to the same ids.
pub fn history_call_id(content: usize, part: usize) -> String {
    format!("call_{content}_{part}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(synthetic_call_id("resp1", 0), "call_resp1_0");
        assert_eq!(history_call_id(2, 1), "call_2_1");
        let a = new_response_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, new_response_id());
    }
}
