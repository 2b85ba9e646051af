//! Putting signed reasoning back into a turn a client could not carry it in.
//!
//! OpenAI Chat clients have no field for signatures, so the gateway remembers signed reasoning
//! server-side. A client that echoes its `reasoning_content` sends the text back unsigned
//! ([`Part::Thinking`] with no signature); that echo must not stop the signed original from
//! being restored, or Anthropic refuses the history (trap #17) and Gemini loses its thought
//! signatures.

use super::Part;

/// Where the recalled reasoning goes in the turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreAt {
    /// First in the turn (Anthropic: the signed thinking block must lead the turn).
    Start,
    /// Right before the first tool call (Gemini: the signature rides with the call it signed).
    BeforeFirstToolCall,
}

/// True when `parts` already hold reasoning the provider can verify (signed or redacted), so
/// nothing should be restored.
pub fn has_signed_reasoning(parts: &[Part]) -> bool {
    parts.iter().any(|p| match p {
        Part::Thinking { signature: Some(s), .. } => !s.is_empty(),
        Part::RedactedThinking { .. } => true,
        _ => false,
    })
}

/// Replaces the unsigned (echoed) reasoning of an assistant turn with the `recalled` signed
/// parts, placed at `at`. Does nothing (returns false) when the turn already holds signed
/// reasoning or `recalled` is empty; the turn's other parts keep their order.
pub fn restore_signed_reasoning(parts: &mut Vec<Part>, recalled: Vec<Part>, at: RestoreAt) -> bool {
    if recalled.is_empty() || has_signed_reasoning(parts) {
        return false;
    }
    parts.retain(|p| !matches!(p, Part::Thinking { signature: None, .. }) && !is_empty_signed(p));
    let index = match at {
        RestoreAt::Start => 0,
        RestoreAt::BeforeFirstToolCall => parts.iter().position(|p| matches!(p, Part::ToolUse { .. })).unwrap_or(parts.len()),
    };
    parts.splice(index..index, recalled);
    true
}

/// A thinking part whose signature is present but empty counts as unsigned.
fn is_empty_signed(p: &Part) -> bool {
    matches!(p, Part::Thinking { signature: Some(s), .. } if s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str) -> Part {
        Part::ToolUse { id: id.into(), name: "f".into(), input: json!({}) }
    }
    fn signed(text: &str) -> Part {
        Part::Thinking { text: text.into(), signature: Some("sig".into()) }
    }

    #[test]
    fn echoed_reasoning_is_replaced_by_the_signed_original() {
        let mut parts = vec![Part::Thinking { text: "why".into(), signature: None }, Part::text("ok"), call("c1")];
        assert!(restore_signed_reasoning(&mut parts, vec![signed("why")], RestoreAt::Start));
        assert_eq!(parts, vec![signed("why"), Part::text("ok"), call("c1")]);
    }

    #[test]
    fn gemini_placement_puts_it_before_the_call() {
        let mut parts = vec![Part::Thinking { text: "why".into(), signature: None }, Part::text("ok"), call("c1")];
        assert!(restore_signed_reasoning(&mut parts, vec![signed("")], RestoreAt::BeforeFirstToolCall));
        assert_eq!(parts, vec![Part::text("ok"), signed(""), call("c1")]);
    }

    #[test]
    fn a_turn_with_signed_reasoning_or_nothing_recalled_is_left_alone() {
        let mut parts = vec![signed("mine"), call("c1")];
        assert!(!restore_signed_reasoning(&mut parts, vec![signed("other")], RestoreAt::Start));
        assert_eq!(parts, vec![signed("mine"), call("c1")]);
        let mut parts = vec![Part::Thinking { text: "echo".into(), signature: None }, call("c1")];
        assert!(!restore_signed_reasoning(&mut parts, Vec::new(), RestoreAt::Start));
        assert_eq!(parts.len(), 2, "the echo stays when there is nothing to restore");
        let mut parts = vec![Part::RedactedThinking { data: "x".into() }, call("c1")];
        assert!(!restore_signed_reasoning(&mut parts, vec![signed("y")], RestoreAt::Start));
    }

    #[test]
    fn chat_echo_of_reasoning_content_is_unsigned_and_restorable() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"q"},
            {"role":"assistant","reasoning_content":"let me think","content":null,
             "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":"1"}]}"#;
        let mut req = crate::protocol::openai::chat_request::chat_request_to_ir(body).unwrap();
        let turn = &mut req.turns[1];
        assert_eq!(turn.parts[0], Part::Thinking { text: "let me think".into(), signature: None });
        assert!(restore_signed_reasoning(&mut turn.parts, vec![signed("let me think")], RestoreAt::Start));
        assert_eq!(turn.parts, vec![signed("let me think"), call("c1")]);
    }
}
