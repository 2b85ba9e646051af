//! The deterministic answer rules every protocol of the mock shares: what text it answers,
//! when it calls the tool, and how it counts tokens.
//!
//! One rule for all protocols so a conversation converted from one protocol to another gets the
//! same text and comparable token counts from the mock whichever upstream it reaches:
//! - the answer is `"Echo: " + <last user text>`, words re-joined by single spaces;
//! - a token is a whitespace-separated word; each turn (and a system prompt) adds
//!   [`TOKENS_PER_MESSAGE`];
//! - with tools declared and the last user text mentioning "weather", the answer is one call of
//!   the first tool with [`TOOL_ARGUMENTS`], costing [`TOOL_CALL_TOKENS`].

use serde_json::Value;

/// Arguments of the mock tool call, split in two stream fragments the way real streams split
/// them, so converters are exercised on concatenation.
pub(crate) const TOOL_ARGS: [&str; 2] = ["{\"city\":", "\"Paris\"}"];
/// The whole arguments, `TOOL_ARGS` concatenated.
pub(crate) const TOOL_ARGUMENTS: &str = "{\"city\":\"Paris\"}";
/// Completion tokens reported for a tool-call answer.
pub(crate) const TOOL_CALL_TOKENS: u64 = 10;
/// Per-message overhead, like the real APIs' formatting tokens.
pub(crate) const TOKENS_PER_MESSAGE: u64 = 3;

/// Words in a string: the mock's token count.
pub(crate) fn words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// Text of one content block or part typed `text` (Chat parts, Anthropic blocks).
fn typed_text(part: &Value) -> Option<&str> {
    if part.get("type").and_then(Value::as_str) == Some("text") {
        part.get("text").and_then(Value::as_str)
    } else {
        None
    }
}

/// Concatenated text of a message `content`: a string, or the `text` parts of an array.
pub(crate) fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(typed_text).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

/// Tokens of a message `content`: a string, or the `text` parts of an array.
pub(crate) fn word_count(content: Option<&Value>) -> u64 {
    match content {
        Some(Value::String(s)) => words(s),
        Some(Value::Array(parts)) => parts.iter().filter_map(typed_text).map(words).sum(),
        _ => 0,
    }
}

/// Whether the text asks about the weather (the tool-call trigger), as a whole word.
pub(crate) fn mentions_weather(text: &str) -> bool {
    text.split_whitespace()
        .any(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).eq_ignore_ascii_case("weather"))
}

/// Text split into words for streaming: stored once, streamed as slices.
///
/// Words are re-joined with single spaces and each piece but the last keeps its trailing space,
/// so the non-stream text equals the concatenation of the stream's pieces exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Words {
    text: String,
    starts: Vec<usize>,
    /// Some words were dropped by the output limit.
    pub truncated: bool,
}

impl Words {
    /// The first `limit` words of `text` (all when `None`).
    pub fn new(text: &str, limit: Option<u64>) -> Words {
        let all = text.split_whitespace();
        let total = all.clone().count();
        let keep = limit.map_or(total, |l| total.min(usize::try_from(l).unwrap_or(usize::MAX)));
        let mut out = String::with_capacity(text.len());
        let mut starts = Vec::with_capacity(keep);
        for word in all.take(keep) {
            if !out.is_empty() {
                out.push(' ');
            }
            starts.push(out.len());
            out.push_str(word);
        }
        Words { text: out, starts, truncated: keep < total }
    }

    /// The mock's answer to `user_text`: `"Echo: " + user_text`, cut to `limit` words.
    pub fn echo(user_text: &str, limit: Option<u64>) -> Words {
        Words::new(&format!("Echo: {user_text}"), limit)
    }

    /// The mock's reasoning about `user_text`: `"Thinking about: " + user_text`.
    pub fn thinking(user_text: &str) -> Words {
        Words::new(&format!("Thinking about: {user_text}"), None)
    }

    /// The whole text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Number of words, which is also the token count.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Token count as reported in usage.
    pub fn tokens(&self) -> u64 {
        self.starts.len() as u64
    }

    /// Stream piece `i`: word `i` with its trailing space, `""` past the end.
    pub fn piece(&self, i: usize) -> &str {
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or("")
    }

    /// All stream pieces in order.
    pub fn pieces(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.piece(i))
    }
}

/// The deterministic signature the mock puts on its reasoning: `sig_mock_<chars of reasoning>`.
pub(crate) fn signature(thinking: &Words) -> String {
    format!("sig_mock_{}", thinking.as_str().chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_pieces_and_truncation() {
        let w = Words::echo("  hi   there ", None);
        assert_eq!(w.as_str(), "Echo: hi there");
        assert_eq!(w.pieces().collect::<Vec<_>>(), ["Echo: ", "hi ", "there"]);
        assert!(!w.truncated);
        assert_eq!(w.piece(9), "");
        let w = Words::echo("a b c", Some(2));
        assert_eq!((w.as_str(), w.tokens(), w.truncated), ("Echo: a", 2, true));
        assert_eq!(Words::echo("", Some(0)).len(), 0);
    }

    #[test]
    fn content_text_and_count() {
        let c = json!([{"type": "text", "text": "a  b"}, {"type": "image"}, {"type": "text", "text": "c"}]);
        assert_eq!(content_text(Some(&c)), "a  b c");
        assert_eq!(word_count(Some(&c)), 3);
        assert_eq!(word_count(Some(&json!("x y"))), 2);
        assert_eq!(word_count(None), 0);
        assert!(mentions_weather("The Weather?"));
        assert!(!mentions_weather("weatherman"));
    }

    #[test]
    fn signature_counts_chars() {
        assert_eq!(signature(&Words::thinking("é")), "sig_mock_17");
    }
}
