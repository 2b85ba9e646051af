//! The normalised usage record: disjoint token buckets that every protocol maps into.
//!
//! Providers count differently (OpenAI's prompt tokens include cache reads, Anthropic's input
//! excludes them, Gemini's output excludes thoughts). Billing multiplies each bucket by its own
//! price, so the buckets must not overlap or a token is charged twice (PROTOCOLS.md §2).

use serde::Serialize;

/// Token counts of one response, in disjoint buckets (`out_reasoning` is the one subset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Input tokens neither read from nor written to a cache.
    pub in_base: u64,
    /// Input tokens read from the provider's prompt cache.
    pub in_cache_read: u64,
    /// Input tokens written to a 5-minute cache (Anthropic; the default when no split is given).
    pub in_cache_write_5m: u64,
    /// Input tokens written to a 1-hour cache (Anthropic).
    pub in_cache_write_1h: u64,
    /// Input tokens written to a cache whose lifetime the provider did not say (OpenAI).
    pub in_cache_write_other: u64,
    /// Gemini's tool-use prompt tokens.
    pub in_tool_use: u64,
    /// All output tokens, reasoning included.
    pub out_total: u64,
    /// Reasoning/thinking tokens, a subset of `out_total`.
    pub out_reasoning: u64,
}

impl Usage {
    /// Every input token, as OpenAI's `prompt_tokens` counts them.
    pub fn input_total(&self) -> u64 {
        self.in_base
            + self.in_cache_read
            + self.in_cache_write_5m
            + self.in_cache_write_1h
            + self.in_cache_write_other
            + self.in_tool_use
    }

    /// Tokens written to any cache.
    pub fn cache_write_total(&self) -> u64 {
        self.in_cache_write_5m + self.in_cache_write_1h + self.in_cache_write_other
    }

    /// Input plus output.
    pub fn total(&self) -> u64 {
        self.input_total() + self.out_total
    }
}
