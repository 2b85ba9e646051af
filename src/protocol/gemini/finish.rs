//! Gemini `finishReason` ⇄ hub [`FinishReason`] (PROTOCOLS.md §3.8).
//!
//! Gemini says `STOP` after tool calls too, so the caller tells us whether a functionCall was
//! seen anywhere in the answer (trap #22).

use crate::protocol::ir::FinishReason;

/// Maps a Gemini finish reason. Reasons with no hub equivalent stay [`FinishReason::Other`] with
/// the raw word (clients render those as a plain stop; the word is kept for the logs).
pub fn finish_from_gemini(reason: &str, saw_function_call: bool) -> FinishReason {
    match reason {
        "STOP" if saw_function_call => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" | "CONTINUATION" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "LANGUAGE"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "MODEL_ARMOR"
        | "JAILBREAK" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The finish reason a prompt blocked by `promptFeedback.blockReason` amounts to.
pub fn finish_for_block_reason() -> FinishReason {
    FinishReason::ContentFilter
}

/// Maps a hub finish reason to the word a Gemini client expects. Tool calls are `STOP` in
/// Gemini; a raw reason that is already a Gemini word is kept, anything else is `OTHER`.
pub fn finish_to_gemini(reason: &FinishReason) -> String {
    match reason {
        FinishReason::Stop | FinishReason::ToolCalls => "STOP".into(),
        FinishReason::Length => "MAX_TOKENS".into(),
        FinishReason::ContentFilter => "SAFETY".into(),
        FinishReason::Other(raw) if is_gemini_word(raw) => raw.clone(),
        FinishReason::Other(_) => "OTHER".into(),
    }
}

/// True for Gemini's own finish-reason words (upper snake case), so they pass back unchanged.
fn is_gemini_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_gemini_list() {
        let cases: &[(&str, FinishReason)] = &[
            ("STOP", FinishReason::Stop),
            ("MAX_TOKENS", FinishReason::Length),
            ("CONTINUATION", FinishReason::Length),
            ("SAFETY", FinishReason::ContentFilter),
            ("RECITATION", FinishReason::ContentFilter),
            ("LANGUAGE", FinishReason::ContentFilter),
            ("BLOCKLIST", FinishReason::ContentFilter),
            ("PROHIBITED_CONTENT", FinishReason::ContentFilter),
            ("SPII", FinishReason::ContentFilter),
            ("IMAGE_SAFETY", FinishReason::ContentFilter),
            ("IMAGE_PROHIBITED_CONTENT", FinishReason::ContentFilter),
            ("IMAGE_RECITATION", FinishReason::ContentFilter),
            ("MODEL_ARMOR", FinishReason::ContentFilter),
            ("MALFORMED_FUNCTION_CALL", FinishReason::Other("MALFORMED_FUNCTION_CALL".into())),
            ("UNEXPECTED_TOOL_CALL", FinishReason::Other("UNEXPECTED_TOOL_CALL".into())),
            ("TOO_MANY_TOOL_CALLS", FinishReason::Other("TOO_MANY_TOOL_CALLS".into())),
            ("MISSING_THOUGHT_SIGNATURE", FinishReason::Other("MISSING_THOUGHT_SIGNATURE".into())),
            ("OTHER", FinishReason::Other("OTHER".into())),
        ];
        for (word, want) in cases {
            assert_eq!(&finish_from_gemini(word, false), want, "{word}");
        }
    }

    #[test]
    fn stop_after_a_function_call_is_tool_calls() {
        assert_eq!(finish_from_gemini("STOP", true), FinishReason::ToolCalls);
        assert_eq!(finish_from_gemini("MAX_TOKENS", true), FinishReason::Length);
        assert_eq!(finish_for_block_reason(), FinishReason::ContentFilter);
    }

    #[test]
    fn to_gemini() {
        assert_eq!(finish_to_gemini(&FinishReason::Stop), "STOP");
        assert_eq!(finish_to_gemini(&FinishReason::ToolCalls), "STOP");
        assert_eq!(finish_to_gemini(&FinishReason::Length), "MAX_TOKENS");
        assert_eq!(finish_to_gemini(&FinishReason::ContentFilter), "SAFETY");
        assert_eq!(finish_to_gemini(&FinishReason::Other("MALFORMED_FUNCTION_CALL".into())), "MALFORMED_FUNCTION_CALL");
        assert_eq!(finish_to_gemini(&FinishReason::Other("pause_turn".into())), "OTHER");
    }
}
