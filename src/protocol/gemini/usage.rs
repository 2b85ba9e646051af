//! Gemini `usageMetadata` ⇄ the normalised [`Usage`] record (PROTOCOLS.md §2).
//!
//! Gemini's prompt count includes cached tokens and its candidates count excludes thoughts, so
//! both are split/joined here; billing multiplies disjoint buckets and must not count a token twice.

use super::response_types::UsageMetadata;
use crate::protocol::usage::Usage;

/// Gemini counts → normalised buckets: read = cached, base = prompt − cached,
/// out_total = candidates + thoughts, reasoning = thoughts, tool_use = toolUsePromptTokenCount.
pub fn usage_from_gemini(m: &UsageMetadata) -> Usage {
    let prompt = m.prompt_token_count.unwrap_or(0);
    let cached = m.cached_content_token_count.unwrap_or(0);
    let thoughts = m.thoughts_token_count.unwrap_or(0);
    Usage {
        in_base: prompt.saturating_sub(cached),
        in_cache_read: cached,
        in_tool_use: m.tool_use_prompt_token_count.unwrap_or(0),
        out_total: m.candidates_token_count.unwrap_or(0).saturating_add(thoughts),
        out_reasoning: thoughts,
        ..Usage::default()
    }
}

/// Normalised buckets → Gemini counts: prompt = base + read + writes, cached = read,
/// thoughts = reasoning, candidates = out_total − reasoning, total = the sum Gemini reports.
/// Zero optional counts are omitted, as Gemini omits them.
pub fn usage_to_gemini(u: &Usage) -> UsageMetadata {
    let prompt = u.in_base + u.in_cache_read + u.cache_write_total();
    let thoughts = u.out_reasoning.min(u.out_total);
    let candidates = u.out_total - thoughts;
    let nonzero = |n: u64| (n > 0).then_some(n);
    UsageMetadata {
        prompt_token_count: Some(prompt),
        cached_content_token_count: nonzero(u.in_cache_read),
        candidates_token_count: Some(candidates),
        thoughts_token_count: nonzero(thoughts),
        tool_use_prompt_token_count: nonzero(u.in_tool_use),
        total_token_count: Some(prompt + candidates + thoughts + u.in_tool_use),
        extra: Default::default(),
    }
}

/// Folds a stream chunk's snapshot into the running one: per field the last non-null value
/// wins, nothing is summed (trap #10: summing over-bills 10–17×).
pub fn merge_snapshot(running: &mut UsageMetadata, chunk: &UsageMetadata) {
    fn keep(slot: &mut Option<u64>, v: Option<u64>) {
        if v.is_some() {
            *slot = v;
        }
    }
    keep(&mut running.prompt_token_count, chunk.prompt_token_count);
    keep(&mut running.cached_content_token_count, chunk.cached_content_token_count);
    keep(&mut running.candidates_token_count, chunk.candidates_token_count);
    keep(&mut running.thoughts_token_count, chunk.thoughts_token_count);
    keep(&mut running.tool_use_prompt_token_count, chunk.tool_use_prompt_token_count);
    keep(&mut running.total_token_count, chunk.total_token_count);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(p: u64, c: u64, cand: u64, t: u64) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: Some(p),
            cached_content_token_count: Some(c),
            candidates_token_count: Some(cand),
            thoughts_token_count: Some(t),
            total_token_count: Some(p + cand + t),
            ..Default::default()
        }
    }

    #[test]
    fn protocols_fixture_19_cache_and_thoughts() {
        let u = usage_from_gemini(&meta(1000, 800, 50, 200));
        assert_eq!((u.in_base, u.in_cache_read, u.out_total, u.out_reasoning), (200, 800, 250, 200));
        assert_eq!(u.total(), 1250);
    }

    #[test]
    fn to_gemini_inverts_from_gemini() {
        let m = meta(1000, 800, 50, 200);
        let back = usage_to_gemini(&usage_from_gemini(&m));
        assert_eq!(back, m);
    }

    #[test]
    fn cache_writes_count_as_prompt_and_tool_use_is_separate() {
        let u = Usage { in_base: 3, in_cache_write_1h: 12304, in_tool_use: 7, out_total: 550, ..Default::default() };
        let m = usage_to_gemini(&u);
        assert_eq!(m.prompt_token_count, Some(12307));
        assert_eq!(m.cached_content_token_count, None);
        assert_eq!(m.tool_use_prompt_token_count, Some(7));
        assert_eq!(m.total_token_count, Some(12307 + 550 + 7));
        assert_eq!(usage_from_gemini(&m).in_tool_use, 7);
    }

    #[test]
    fn inconsistent_counts_do_not_underflow() {
        let u = usage_from_gemini(&meta(10, 50, 0, 0));
        assert_eq!(u.in_base, 0);
        let m = usage_to_gemini(&Usage { out_total: 5, out_reasoning: 9, ..Default::default() });
        assert_eq!((m.candidates_token_count, m.thoughts_token_count), (Some(0), Some(5)));
    }

    #[test]
    fn snapshots_overwrite_never_sum() {
        let mut run = UsageMetadata::default();
        merge_snapshot(&mut run, &UsageMetadata { prompt_token_count: Some(10), ..Default::default() });
        merge_snapshot(
            &mut run,
            &UsageMetadata { prompt_token_count: Some(10), candidates_token_count: Some(3), ..Default::default() },
        );
        merge_snapshot(
            &mut run,
            &UsageMetadata { candidates_token_count: Some(5), thoughts_token_count: Some(40), ..Default::default() },
        );
        let u = usage_from_gemini(&run);
        assert_eq!((u.in_base, u.out_total, u.out_reasoning), (10, 45, 40));
    }
}
