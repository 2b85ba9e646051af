//! A local token count of a hub request with OpenAI's `o200k_base` encoding (tiktoken-rs).
//!
//! Every provider tokenizes differently, so a local count is an estimate; it is the same
//! whichever protocol the request came in, and close for English text. Per-turn overhead and
//! fixed media costs follow OpenAI's published counting rules.

use crate::protocol::ir::{Part, Request};

/// Tokens every turn costs besides its content (role and separators).
const PER_TURN: u64 = 3;
/// Tokens that prime the answer.
const PER_REQUEST: u64 = 3;
/// A fixed charge per image or document (Gemini bills 258 per image).
const PER_MEDIA: u64 = 258;

/// Tokens of plain text.
pub fn count_text(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    tiktoken_rs::o200k_base_singleton().encode_ordinary(text).len() as u64
}

/// The input tokens of a whole request: system, turns, tool definitions.
pub fn count_request(req: &Request) -> u64 {
    let mut total = PER_REQUEST;
    for block in &req.system {
        total += PER_TURN + count_text(&block.text);
    }
    for turn in &req.turns {
        total += PER_TURN + turn.parts.iter().map(count_part).sum::<u64>();
    }
    for tool in &req.tools {
        total += count_text(
            &serde_json::json!({"name": tool.name, "description": tool.description, "parameters": tool.schema}).to_string(),
        );
    }
    total
}

fn count_part(part: &Part) -> u64 {
    match part {
        Part::Text { text } | Part::Thinking { text, .. } => count_text(text),
        Part::Image { .. } | Part::Document { .. } | Part::Audio { .. } | Part::FileRef { .. } => PER_MEDIA,
        Part::RedactedThinking { .. } => 0,
        Part::ToolUse { name, input, .. } => count_text(name) + count_text(&input.to_string()),
        Part::ToolResult { content, .. } => content.iter().map(count_part).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ir::{Role, Turn};

    #[test]
    fn counts_known_text() {
        assert_eq!(count_text(""), 0);
        assert_eq!(count_text("hello world"), 2);
    }

    #[test]
    fn a_request_counts_overheads_and_parts() {
        let req = Request { turns: vec![Turn::new(Role::User, vec![Part::text("hello world")])], ..Request::default() };
        assert_eq!(count_request(&req), PER_REQUEST + PER_TURN + 2);
    }
}
