//! Where `thoughtSignature`s live on the way out to Gemini (PROTOCOLS.md §3.6).
//!
//! Gemini puts a signature on any part (a thought, a functionCall, a text, an empty text). The hub
//! only has signatures on thinking parts, so a signature that sat on another part travels as an
//! empty-text [`Part::Thinking`](crate::protocol::ir::Part) placed just before that part. Rendering
//! back, such an empty signed thought is re-attached to the part after it, restoring the exact
//! placement Gemini validates; a trailing one becomes `{"text":"","thoughtSignature":…}`, the shape
//! Gemini itself uses. History Gemini never produced gets the documented sentinel on each model
//! turn's first functionCall, which Gemini 3 otherwise rejects.

use super::types::Part;

/// The [G-TS] FAQ dummy that makes Gemini skip signature validation for foreign history.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Collects one model content's parts, attaching pending signatures to the next part.
#[derive(Debug, Default)]
pub struct SignedParts {
    parts: Vec<Part>,
    pending: Option<String>,
}

impl SignedParts {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// A signature that belongs to the next part pushed.
    pub fn signature(&mut self, sig: String) {
        self.flush_pending();
        self.pending = Some(sig);
    }

    /// A thought summary with its own signature (kept on the thought part itself).
    pub fn thought(&mut self, text: String, sig: Option<String>) {
        self.flush_pending();
        self.parts.push(Part { text: Some(text), thought: Some(true), thought_signature: sig, ..Default::default() });
    }

    /// Any other part; takes the pending signature unless it carries its own.
    pub fn push(&mut self, mut part: Part) {
        if let Some(sig) = self.pending.take() {
            if part.thought_signature.is_none() {
                part.thought_signature = Some(sig);
            } else {
                self.parts.push(signature_part(sig));
            }
        }
        self.parts.push(part);
    }

    /// The parts; a signature still pending becomes a trailing empty-text part.
    pub fn finish(mut self) -> Vec<Part> {
        self.flush_pending();
        self.parts
    }

    fn flush_pending(&mut self) {
        if let Some(sig) = self.pending.take() {
            self.parts.push(signature_part(sig));
        }
    }
}

/// `{"text":"","thoughtSignature":sig}`.
pub fn signature_part(sig: String) -> Part {
    Part { text: Some(String::new()), thought_signature: Some(sig), ..Default::default() }
}

/// Gives the first functionCall part of a model content the sentinel when it carries no
/// signature (parallel calls: only the first needs one).
pub fn ensure_first_call_signed(parts: &mut [Part]) {
    if let Some(first) = parts.iter_mut().find(|p| p.function_call.is_some()) {
        if first.thought_signature.is_none() {
            first.thought_signature = Some(SKIP_SIGNATURE.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::gemini::types::FunctionCall;

    fn call(name: &str) -> Part {
        Part { function_call: Some(FunctionCall { id: None, name: name.into(), args: None }), ..Default::default() }
    }

    #[test]
    fn pending_signature_attaches_to_the_next_part() {
        let mut s = SignedParts::new();
        s.thought("plan".into(), None);
        s.signature("SIG".into());
        s.push(call("a"));
        s.push(call("b"));
        let parts = s.finish();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].thought_signature.as_deref(), Some("SIG"));
        assert_eq!(parts[2].thought_signature, None);
    }

    #[test]
    fn trailing_or_doubled_signatures_become_empty_text_parts() {
        let mut s = SignedParts::new();
        s.push(Part::text("hi"));
        s.signature("A".into());
        s.signature("B".into());
        let parts = s.finish();
        assert_eq!(parts, vec![Part::text("hi"), signature_part("A".into()), signature_part("B".into())]);
    }

    #[test]
    fn sentinel_only_on_the_first_unsigned_call() {
        let mut parts = vec![Part::text("x"), call("a"), call("b")];
        ensure_first_call_signed(&mut parts);
        assert_eq!(parts[1].thought_signature.as_deref(), Some(SKIP_SIGNATURE));
        assert_eq!(parts[2].thought_signature, None);
        let mut signed = vec![Part { thought_signature: Some("real".into()), ..call("a") }];
        ensure_first_call_signed(&mut signed);
        assert_eq!(signed[0].thought_signature.as_deref(), Some("real"));
    }
}
