//! The hub response: one complete (non-stream) answer.

use crate::protocol::usage::Usage;
use serde_json::Value;

/// A complete model answer: the first choice in `blocks`, further ones (`n > 1`) in
/// `alternatives`; `usage` is the whole usage the upstream reported for all of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// Provider's response id.
    pub id: String,
    /// Model that answered, as the upstream named it.
    pub model: String,
    /// Content in order.
    pub blocks: Vec<Block>,
    /// Why generation stopped.
    pub finish: FinishReason,
    /// The stop sequence that matched, when the provider says.
    pub stop_sequence: Option<String>,
    /// Token counts, normalised.
    pub usage: Usage,
    /// Creation time (Unix seconds) when the provider gave one.
    pub created: Option<u64>,
    /// The upstream's own finish reason string (`end_turn`, `STOP`, `length`), for the log.
    pub raw_finish_reason: Option<String>,
    /// Token log-probabilities of the first choice, when the upstream returned them.
    pub logprobs: Option<Vec<TokenLogprob>>,
    /// Choices after the first (index 1, 2, …) when the client asked for several.
    pub alternatives: Vec<Choice>,
}

/// One further choice / candidate of an answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Choice {
    /// Content in order.
    pub blocks: Vec<Block>,
    /// Why generation stopped.
    pub finish: FinishReason,
    /// The upstream's own finish reason string.
    pub raw_finish_reason: Option<String>,
    /// Token log-probabilities, when returned.
    pub logprobs: Option<Vec<TokenLogprob>>,
}

impl Response {
    /// Every choice as a [`Choice`]: the first (from the top-level fields), then the others.
    pub fn choices(&self) -> Vec<Choice> {
        let mut all = Vec::with_capacity(1 + self.alternatives.len());
        all.push(Choice {
            blocks: self.blocks.clone(),
            finish: self.finish.clone(),
            raw_finish_reason: self.raw_finish_reason.clone(),
            logprobs: self.logprobs.clone(),
        });
        all.extend(self.alternatives.iter().cloned());
        all
    }

    /// Puts `choices` in place: the first in the top-level fields, the rest as alternatives.
    /// An empty list leaves the response as it is.
    pub fn set_choices(&mut self, choices: Vec<Choice>) {
        let mut it = choices.into_iter();
        if let Some(first) = it.next() {
            self.blocks = first.blocks;
            self.finish = first.finish;
            self.raw_finish_reason = first.raw_finish_reason;
            self.logprobs = first.logprobs;
            self.alternatives = it.collect();
        }
    }
}

/// The log-probability of one generated token, with the most likely alternatives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenLogprob {
    /// The token text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// The most likely tokens at this position (token, logprob), best first.
    pub top: Vec<(String, f64)>,
}

/// One block of an answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// Text.
    Text(String),
    /// Visible reasoning with its opaque signature (byte-exact).
    Thinking {
        /// Reasoning text.
        text: String,
        /// Issuer's signature.
        signature: Option<String>,
    },
    /// Encrypted reasoning.
    RedactedThinking(String),
    /// A tool call.
    ToolUse {
        /// Call id.
        id: String,
        /// Function name.
        name: String,
        /// Arguments.
        input: Value,
    },
}

/// Why generation stopped (PROTOCOLS.md §3.8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    #[default]
    Stop,
    /// Output token limit or context window.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Refusal or safety filter.
    ContentFilter,
    /// Anything else, raw value kept for logs.
    Other(String),
}
