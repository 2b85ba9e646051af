//! Prepaid balances as data: the reservation admission takes, the settlement that charges the
//! real cost, credits, and the ledger entries every balance change leaves.
//!
//! Amounts are [`Money`] (integer 10^-12 USD). A balance has two figures: `balance` (what is
//! settled) and `reserved` (what open requests hold); a request is admitted only when its
//! worst case fits `balance − reserved`. Settlement releases the reservation and charges the
//! real cost in one atomic step, idempotent by request id.

use crate::config::Money;
use serde::{Deserialize, Serialize};

/// What an admission reserves (joined into [`super::AdmissionRequest`], one round trip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The request id; names the reservation and, later, the usage entry.
    pub request_id: String,
    /// The worst-case cost held until settlement.
    pub amount: Money,
    /// The key whose monthly spend cap applies.
    pub key_id: String,
    /// The key's monthly spend cap, if any: its month's charges plus its open reservations plus
    /// this one must stay within it.
    pub monthly_cap: Option<Money>,
    /// The UTC month (`yyyymm`) the cap counts in.
    pub month: u32,
    /// When the reservation is released if never settled (its instance died), ms since epoch.
    pub expires_at_ms: i64,
}

/// The balance of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// Settled money.
    pub balance: Money,
    /// Held by requests in flight.
    pub reserved: Money,
}

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A request's charge.
    Usage,
    /// Money added by an operator.
    Credit,
    /// A correction by an operator (either sign).
    Adjustment,
    /// Money returned.
    Refund,
}

impl EntryKind {
    /// The name in the APIs and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Usage => "usage",
            EntryKind::Credit => "credit",
            EntryKind::Adjustment => "adjustment",
            EntryKind::Refund => "refund",
        }
    }
}

/// Token counts of a usage entry, by kind (never content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EntryTokens {
    /// Every input token.
    pub prompt: u64,
    /// Every output token (reasoning included).
    pub completion: u64,
    /// Input read from a cache.
    pub cache_read: u64,
    /// Input written to a cache.
    pub cache_write: u64,
    /// Reasoning tokens (part of `completion`).
    pub reasoning: u64,
    /// Images generated.
    #[serde(default)]
    pub images: u64,
}

/// One change of a balance. `amount` is signed (a charge is negative); `balance_after` is the
/// settled balance right after it, written by the store in the same atomic step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Unique per account: the request id for usage, `cr_…` for credits.
    pub id: String,
    /// Usage, credit, adjustment or refund.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Money,
    /// Balance after this entry.
    pub balance_after: Money,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The key (usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The public model (usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The provider that answered (usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Token counts (usage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<EntryTokens>,
    /// Counted by the tokenizer because the upstream reported no usage.
    #[serde(default)]
    pub estimated: bool,
    /// The client hung up before the answer ended.
    #[serde(default)]
    pub aborted: bool,
    /// The charge was cut to what the balance held (the cost ran past the reservation and the
    /// balance); `amount` is what was charged.
    #[serde(default)]
    pub capped: bool,
    /// Why (credits and adjustments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The client's own `x-request-id`, when it sent one (the entry's id is then the gateway's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Settlement of a billed request: release its reservation and charge `entry.amount` (a
/// non-negative cost, written negative in the ledger). `entry: None` only releases (a failed
/// request costs nothing). Idempotent by `request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The account.
    pub account_id: String,
    /// The request id (the reservation's and the entry's id).
    pub request_id: String,
    /// The key (for its monthly spend).
    pub key_id: String,
    /// The UTC month (`yyyymm`) of the charge.
    pub month: u32,
    /// The usage entry; its `amount` is the cost (positive), `balance_after` is ignored.
    pub entry: Option<LedgerEntry>,
}

/// What settling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Charged now (the entry as written) or released with nothing charged (`None`).
    Done(Option<Box<LedgerEntry>>),
    /// Settled before: nothing changed.
    Replayed,
}

/// A credit or adjustment, idempotent by the caller's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The account.
    pub account_id: String,
    /// The caller's `Idempotency-Key`.
    pub idempotency_key: String,
    /// SHA-256 of the request body: the same key with another body is a conflict.
    pub body_digest: String,
    /// The entry to write (`amount` signed; `balance_after` is filled in by the store).
    pub entry: LedgerEntry,
}

/// What a credit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credited {
    /// Written now.
    Done(Box<LedgerEntry>),
    /// The same key and body came before: the first entry, nothing changed.
    Replayed(Box<LedgerEntry>),
    /// The same key came before with another body.
    Conflict,
    /// A negative amount larger than the available balance (balance − reserved).
    Insufficient,
}

/// The UTC month of `now_ms` as `yyyymm` (civil calendar, from days since the epoch).
pub fn month_of(now_ms: i64) -> u32 {
    let days = now_ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    u32::try_from(year * 100 + month).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        assert_eq!(month_of(0), 197_001);
        assert_eq!(month_of(1_709_294_400_000), 202_403); // 2024-03-01T12:00Z
        assert_eq!(month_of(1_709_251_199_999), 202_402); // 2024-02-29T23:59:59.999Z
        assert_eq!(month_of(1_735_689_600_000), 202_501); // 2025-01-01T00:00Z
    }
}
