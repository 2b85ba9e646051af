//! Rate-limit admission as data: what to check, and what the store answered.
//!
//! One [`AdmissionRequest`] carries every limit that applies to a request (the key's, the
//! account's, the free tier's), and the store checks and records them all in one atomic step:
//! either every counter takes the request or none does. A billed request carries its
//! [`Reservation`] in the same request, so money and limits stay one round trip: the
//! reservation is taken only when every limit admits, and nothing is counted when the balance
//! or the key's spend cap refuses.

use super::billing::Reservation;
use serde::Serialize;

/// The rolling window of RPM and TPM.
pub const WINDOW_MS: i64 = 60_000;
/// A UTC day; RPD counters reset at its start.
pub const DAY_MS: i64 = 86_400_000;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Requests in the last 60 seconds (exact rolling window).
    Rpm,
    /// Requests since 00:00 UTC.
    Rpd,
    /// Tokens in the last 60 seconds (estimated at admission, corrected at settlement).
    Tpm,
}

impl LimitKind {
    /// The name used in store keys and refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Rpm => "rpm",
            LimitKind::Rpd => "rpd",
            LimitKind::Tpm => "tpm",
        }
    }
}

/// One limit to check and record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitCheck {
    /// Whose counter: `key:<key id>`, `account` or `free` (all within the request's account).
    pub subject: String,
    /// What is counted.
    pub kind: LimitKind,
    /// The most allowed in the window.
    pub limit: u64,
}

impl LimitCheck {
    /// A readable name for refusals and logs, e.g. `key:key_ab.rpm`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.subject, self.kind.as_str())
    }
}

/// Everything admission needs, in one value so a store can do it in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionRequest {
    /// The account whose counters are touched; every store key of the request is under it.
    pub account_id: String,
    /// The time of admission, ms since the epoch (injected so tests need no sleeps).
    pub now_ms: i64,
    /// Estimated tokens, counted by TPM limits.
    pub tokens: u64,
    /// The limits to check; empty (and no reservation) admits at once.
    pub checks: Vec<LimitCheck>,
    /// The worst-case cost to hold from the account's balance (prepaid accounts only).
    pub reserve: Option<Reservation>,
}

/// The state of one limit after admission, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitState {
    /// The limit.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Milliseconds until the count next goes down (the oldest entry leaves the window, or
    /// the UTC day ends).
    pub reset_ms: i64,
}

/// The store's answer, with one [`LimitState`] per check in the order of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Every counter took the request.
    Admitted {
        /// Names this admission in the store, for settlement.
        ticket: u64,
        /// Per check, after counting this request.
        states: Vec<LimitState>,
    },
    /// A limit was full; nothing was counted.
    Refused {
        /// Index of the check that refused (the one that frees up last).
        by: usize,
        /// Milliseconds until every refusing limit would take the request.
        retry_after_ms: i64,
        /// Per check, as they stand.
        states: Vec<LimitState>,
    },
    /// Every limit admitted, but the balance (less what other requests hold) does not cover
    /// the reservation; nothing was counted.
    NoBalance {
        /// Per check, as they stand.
        states: Vec<LimitState>,
    },
    /// The key's monthly spend cap would be passed; nothing was counted.
    OverSpendCap {
        /// Per check, as they stand.
        states: Vec<LimitState>,
    },
}

/// Settlement of an admitted request: its TPM entries corrected to the real token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The account of the admission.
    pub account_id: String,
    /// The admission's ticket.
    pub ticket: u64,
    /// The tokens counted at admission.
    pub estimated_tokens: u64,
    /// The tokens the upstream reported (or the tokenizer counted).
    pub actual_tokens: u64,
    /// The subjects of the admission's TPM checks.
    pub tpm_subjects: Vec<String>,
}

/// The day number of `now_ms` (days since the epoch, UTC), which names RPD counters.
pub fn day_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(DAY_MS)
}

/// Milliseconds from `now_ms` to the next 00:00 UTC.
pub fn ms_to_midnight(now_ms: i64) -> i64 {
    DAY_MS - now_ms.rem_euclid(DAY_MS)
}

/// The index of the limit that binds hardest: the least remaining, then the longest reset.
pub fn tightest(states: &[LimitState]) -> Option<usize> {
    states
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| a.remaining.cmp(&b.remaining).then(b.reset_ms.cmp(&a.reset_ms)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc() {
        // 2024-03-01T23:59:59.999Z and the next millisecond.
        let before = 1_709_337_599_999;
        assert_eq!(day_of(before) + 1, day_of(before + 1));
        assert_eq!(ms_to_midnight(before), 1);
        assert_eq!(ms_to_midnight(before + 1), DAY_MS);
    }

    #[test]
    fn tightest_prefers_least_remaining_then_longest_reset() {
        let s = |remaining, reset_ms| LimitState { limit: 10, remaining, reset_ms };
        assert_eq!(tightest(&[s(5, 10), s(2, 5), s(2, 50)]), Some(2));
        assert_eq!(tightest(&[]), None);
    }
}
