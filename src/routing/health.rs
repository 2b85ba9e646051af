//! Passive channel health: what this instance learnt from real requests about each channel.
//!
//! Nothing is probed in the background; every attempt reports how it ended and the book keeps,
//! per channel label, whether the channel is in rotation:
//!
//! - **healthy**: used by the plan;
//! - **cooling**: ejected after `eject_after_failures` consecutive failures or an error ratio
//!   over the window, or cooled down after a 429 for its `Retry-After`; the first ejection lasts
//!   `cooldown`, each repeat doubles it up to `max_cooldown`;
//! - **half-open**: the cooldown is over; exactly one live request may try the channel and its
//!   outcome decides (success: healthy, everything reset; failure: ejected again, doubled);
//! - **disabled**: the provider refused the channel's own credentials (401/403); it stays out
//!   until the provider's key changes (a reload with another key) or an operator enables it.
//!
//! The book is held by the gateway, not by the config snapshot, so a reload keeps what was
//! learnt. Every method takes `now`, so tests drive the clock instead of sleeping.

use crate::config::Routing;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The buckets the error-ratio window is split into (it slides by one bucket at a time).
const BUCKETS: usize = 10;

/// Why a channel is out of rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `eject_after_failures` failures in a row.
    ConsecutiveFailures,
    /// The error ratio over the window reached `error_ratio`.
    ErrorRatio,
    /// The half-open probe failed.
    ProbeFailed,
    /// The provider answered 429; the cooldown honours its `Retry-After`.
    RateLimited,
    /// The provider refused the channel's credentials (401/403).
    CredentialsRefused,
}

impl Reason {
    /// A stable name for the admin API, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ConsecutiveFailures => "consecutive_failures",
            Reason::ErrorRatio => "error_ratio",
            Reason::ProbeFailed => "probe_failed",
            Reason::RateLimited => "rate_limited",
            Reason::CredentialsRefused => "credentials_refused",
        }
    }
}

/// What one attempt says about its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The channel answered (a committed answer, or a refusal about the request itself).
    Success,
    /// Transport error, timeout, 5xx, an error or a cut before the stream's first content.
    Failure,
    /// 429, with the provider's `Retry-After` when it sent one.
    RateLimited(Option<Duration>),
    /// 401/403: the channel's own credentials were refused.
    CredentialsRefused,
}

impl Verdict {
    /// The verdict of an upstream answer with a non-2xx `status`: 429 cools the channel down,
    /// 401/403 mean its credentials were refused, 408 and 5xx are the channel failing, and any
    /// other status is about the request, which says the channel is up.
    pub fn of_status(status: u16, retry_after: Option<Duration>) -> Verdict {
        match status {
            429 => Verdict::RateLimited(retry_after),
            401 | 403 => Verdict::CredentialsRefused,
            408 | 500..=599 => Verdict::Failure,
            _ => Verdict::Success,
        }
    }
}

/// How the plan sees a channel right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// In rotation.
    Healthy,
    /// Half-open with no probe running: one request may try it.
    Probe,
    /// Cooling, or half-open with its probe already running; when it last failed.
    Out(Option<Instant>),
    /// Disabled until its key changes or an operator enables it; when it last failed.
    Disabled(Option<Instant>),
}

impl Health {
    /// Whether the plan may pick the channel while any channel is usable.
    pub fn usable(self) -> bool {
        matches!(self, Health::Healthy | Health::Probe)
    }
}

/// A change of state caused by an attempt, for the access log and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Taken out of rotation for a cooldown.
    Ejected(Reason),
    /// Disabled (credentials refused).
    Disabled,
    /// Back in rotation after a cooldown or a forced attempt that worked.
    Recovered,
}

impl Transition {
    /// A stable name for the access log.
    pub fn label(self) -> &'static str {
        match self {
            Transition::Ejected(Reason::RateLimited) => "cooldown_rate_limited",
            Transition::Ejected(_) => "ejected",
            Transition::Disabled => "disabled",
            Transition::Recovered => "recovered",
        }
    }
}

/// A channel's state as the admin API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// `healthy`, `cooling`, `half_open` or `disabled`.
    pub state: &'static str,
    /// Why it is out of rotation (none when healthy).
    pub reason: Option<Reason>,
    /// What is left of the cooldown.
    pub cooldown_left: Duration,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Failed and total requests in the current window.
    pub window: (u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Healthy,
    Out { until: Instant, reason: Reason },
    Disabled { fingerprint: u64 },
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    slot: u64,
    ok: u32,
    failed: u32,
}

#[derive(Clone, Debug)]
struct Entry {
    mode: Mode,
    consecutive: u32,
    /// Ejections in a row without a recovery: the cooldown is `cooldown × 2^level`.
    level: u32,
    last_failure: Option<Instant>,
    probing: bool,
    buckets: [Bucket; BUCKETS],
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            mode: Mode::Healthy,
            consecutive: 0,
            level: 0,
            last_failure: None,
            probing: false,
            buckets: [Bucket::default(); BUCKETS],
        }
    }
}

/// Every channel's passive health on this instance, keyed by channel label.
#[derive(Debug)]
pub struct HealthBook {
    origin: Instant,
    channels: Mutex<HashMap<String, Entry>>,
}

impl Default for HealthBook {
    fn default() -> Self {
        Self::new()
    }
}

/// The right to try one channel once; report how the attempt ended with [`Ticket::finish`].
/// Dropped unfinished (the client left), it frees a half-open probe without a verdict.
#[derive(Debug)]
pub struct Ticket<'a> {
    book: &'a HealthBook,
    label: String,
    fingerprint: u64,
    probe: bool,
    /// Tried although out of rotation (every channel was out).
    forced: bool,
    done: bool,
}

impl Ticket<'_> {
    /// Records the attempt's verdict; returns the change of state it caused, if any.
    pub fn finish(mut self, verdict: Verdict, now: Instant, policy: &Routing) -> Option<Transition> {
        self.done = true;
        let mut map = self.book.lock();
        let entry = map.entry(self.label.clone()).or_default();
        if self.probe {
            entry.probing = false;
        }
        let tried = Tried { probe: self.probe, forced: self.forced, fingerprint: self.fingerprint };
        self.book.apply(entry, verdict, tried, now, policy)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.probe && !self.done {
            if let Some(entry) = self.book.lock().get_mut(&self.label) {
                entry.probing = false;
            }
        }
    }
}

impl HealthBook {
    /// An empty book: every channel starts healthy.
    pub fn new() -> Self {
        HealthBook { origin: Instant::now(), channels: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Every entry is valid after any partial update, so a poisoned lock is still usable.
        self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How the plan sees `label` now; `fingerprint` identifies the provider's current key (a
    /// channel disabled under another key is back in rotation).
    pub fn health(&self, label: &str, fingerprint: u64, now: Instant) -> Health {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(label) else { return Health::Healthy };
        rekeyed(entry, fingerprint);
        match entry.mode {
            Mode::Healthy => Health::Healthy,
            Mode::Out { until, .. } if until <= now && !entry.probing => Health::Probe,
            Mode::Out { .. } => Health::Out(entry.last_failure),
            Mode::Disabled { .. } => Health::Disabled(entry.last_failure),
        }
    }

    /// Takes the right to try `label` now: always for a healthy channel, for a half-open one
    /// only if no other request is probing it, otherwise only when `forced` (every channel of
    /// the request is out and this one failed longest ago).
    pub fn begin(&self, label: &str, fingerprint: u64, now: Instant, forced: bool) -> Option<Ticket<'_>> {
        let mut map = self.lock();
        let entry = map.entry(label.to_owned()).or_default();
        rekeyed(entry, fingerprint);
        let (probe, forced) = match entry.mode {
            Mode::Healthy => (false, false),
            Mode::Out { until, .. } if until <= now && !entry.probing => {
                entry.probing = true;
                (true, false)
            }
            _ if forced => (false, true),
            _ => return None,
        };
        Some(Ticket { book: self, label: label.to_owned(), fingerprint, probe, forced, done: false })
    }

    /// Records a verdict learnt outside an attempt (a committed stream that broke off later):
    /// it counts like an attempt's, but never decides a half-open probe.
    pub fn record(&self, label: &str, fingerprint: u64, verdict: Verdict, now: Instant, policy: &Routing) -> Option<Transition> {
        let mut map = self.lock();
        let entry = map.entry(label.to_owned()).or_default();
        rekeyed(entry, fingerprint);
        self.apply(entry, verdict, Tried { probe: false, forced: false, fingerprint }, now, policy)
    }

    /// Puts a channel back in rotation (the operator's `enable`); everything learnt is reset.
    pub fn enable(&self, label: &str) {
        self.lock().remove(label);
    }

    /// The state of `label` for the admin API.
    pub fn status(&self, label: &str, fingerprint: u64, now: Instant, policy: &Routing) -> Status {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(label) else {
            return Status {
                state: "healthy",
                reason: None,
                cooldown_left: Duration::ZERO,
                consecutive_failures: 0,
                window: (0, 0),
            };
        };
        rekeyed(entry, fingerprint);
        let window = self.window(entry, now, policy);
        let (state, reason, cooldown_left) = match entry.mode {
            Mode::Healthy => ("healthy", None, Duration::ZERO),
            Mode::Out { until, reason } if until <= now => ("half_open", Some(reason), Duration::ZERO),
            Mode::Out { until, reason } => ("cooling", Some(reason), until - now),
            Mode::Disabled { .. } => ("disabled", Some(Reason::CredentialsRefused), Duration::ZERO),
        };
        Status { state, reason, cooldown_left, consecutive_failures: entry.consecutive, window }
    }

    fn slot(&self, now: Instant, policy: &Routing) -> u64 {
        let width = (policy.window / BUCKETS as u32).max(Duration::from_millis(1));
        let elapsed = now.saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos() / width.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Failed and total requests in the window ending now.
    fn window(&self, entry: &Entry, now: Instant, policy: &Routing) -> (u32, u32) {
        let current = self.slot(now, policy);
        entry
            .buckets
            .iter()
            .filter(|b| b.slot + (BUCKETS as u64) > current)
            .fold((0, 0), |(f, t), b| (f + b.failed, t + b.ok + b.failed))
    }

    fn count(&self, entry: &mut Entry, ok: bool, now: Instant, policy: &Routing) {
        let slot = self.slot(now, policy);
        let bucket = &mut entry.buckets[(slot % BUCKETS as u64) as usize];
        if bucket.slot != slot {
            *bucket = Bucket { slot, ok: 0, failed: 0 };
        }
        if ok {
            bucket.ok += 1;
        } else {
            bucket.failed += 1;
        }
    }

    fn apply(&self, entry: &mut Entry, verdict: Verdict, tried: Tried, now: Instant, policy: &Routing) -> Option<Transition> {
        let Tried { probe, forced, fingerprint } = tried;
        match verdict {
            Verdict::Success => match entry.mode {
                Mode::Healthy => {
                    entry.consecutive = 0;
                    self.count(entry, true, now, policy);
                    None
                }
                _ if probe || forced => {
                    // A half-open probe (or a forced attempt) worked: healthy, and forgiven.
                    *entry = Entry::default();
                    self.count(entry, true, now, policy);
                    Some(Transition::Recovered)
                }
                // An attempt that began before the channel went out: it proves nothing new.
                _ => None,
            },
            Verdict::Failure => {
                entry.consecutive = entry.consecutive.saturating_add(1);
                entry.last_failure = Some(now);
                self.count(entry, false, now, policy);
                match entry.mode {
                    Mode::Healthy => {
                        let (failed, total) = self.window(entry, now, policy);
                        let ratio_hit = total >= policy.window_min_requests
                            && u64::from(failed) * 1000 >= u64::from(policy.error_ratio.per_mille()) * u64::from(total);
                        if entry.consecutive >= policy.eject_after_failures {
                            Some(self.eject(entry, Reason::ConsecutiveFailures, now, policy))
                        } else if ratio_hit {
                            Some(self.eject(entry, Reason::ErrorRatio, now, policy))
                        } else {
                            None
                        }
                    }
                    Mode::Out { .. } if probe => Some(self.eject(entry, Reason::ProbeFailed, now, policy)),
                    // A forced attempt on a channel already out: it stays out as it was.
                    _ => None,
                }
            }
            Verdict::RateLimited(retry_after) => {
                entry.last_failure = Some(now);
                if matches!(entry.mode, Mode::Disabled { .. }) {
                    return None;
                }
                let cooldown = retry_after.unwrap_or(policy.cooldown).min(policy.max_retry_after);
                entry.mode = Mode::Out { until: now + cooldown, reason: Reason::RateLimited };
                Some(Transition::Ejected(Reason::RateLimited))
            }
            Verdict::CredentialsRefused => {
                entry.last_failure = Some(now);
                let was_disabled = matches!(entry.mode, Mode::Disabled { .. });
                entry.mode = Mode::Disabled { fingerprint };
                (!was_disabled).then_some(Transition::Disabled)
            }
        }
    }

    fn eject(&self, entry: &mut Entry, reason: Reason, now: Instant, policy: &Routing) -> Transition {
        let factor = 1u32.checked_shl(entry.level).unwrap_or(u32::MAX);
        let cooldown = policy.cooldown.checked_mul(factor).unwrap_or(policy.max_cooldown).min(policy.max_cooldown);
        entry.level = entry.level.saturating_add(1).min(31);
        entry.mode = Mode::Out { until: now + cooldown, reason };
        // The window starts afresh, so the failures that ejected it do not eject it again.
        entry.buckets = [Bucket::default(); BUCKETS];
        Transition::Ejected(reason)
    }
}

/// How the attempt being reported was let through.
#[derive(Clone, Copy, Debug)]
struct Tried {
    probe: bool,
    forced: bool,
    fingerprint: u64,
}

/// A channel disabled under another key is back in rotation: the operator changed the key.
fn rekeyed(entry: &mut Entry, fingerprint: u64) {
    if matches!(entry.mode, Mode::Disabled { fingerprint: old } if old != fingerprint) {
        *entry = Entry::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: u64 = 7;

    fn policy() -> Routing {
        Routing::default()
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// One attempt on `label` at `now`, if the book lets it start.
    fn attempt(book: &HealthBook, label: &str, now: Instant, verdict: Verdict) -> Option<Option<Transition>> {
        book.begin(label, KEY, now, false).map(|t| t.finish(verdict, now, &policy()))
    }

    #[test]
    fn three_failures_in_a_row_eject_for_the_cooldown_then_one_probe_decides() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        assert_eq!(attempt(&book, "a", t0, Verdict::Failure), Some(None));
        assert_eq!(attempt(&book, "a", t0, Verdict::Failure), Some(None));
        assert_eq!(book.health("a", KEY, t0), Health::Healthy, "two failures are not enough");
        assert_eq!(attempt(&book, "a", t0, Verdict::Failure), Some(Some(Transition::Ejected(Reason::ConsecutiveFailures))));
        assert!(matches!(book.health("a", KEY, t0 + s(9)), Health::Out(Some(_))));
        assert!(book.begin("a", KEY, t0 + s(9), false).is_none(), "cooling: not tried");
        let status = book.status("a", KEY, t0 + s(4), &policy());
        assert_eq!((status.state, status.cooldown_left, status.consecutive_failures), ("cooling", s(6), 3));
        // After 10 s: half-open, exactly one request may probe.
        assert_eq!(book.health("a", KEY, t0 + s(10)), Health::Probe);
        let probe = book.begin("a", KEY, t0 + s(10), false);
        assert!(probe.is_some());
        assert!(book.begin("a", KEY, t0 + s(10), false).is_none(), "a second request does not probe too");
        assert!(matches!(book.health("a", KEY, t0 + s(10)), Health::Out(_)));
        let healed = probe.map(|p| p.finish(Verdict::Success, t0 + s(11), &policy()));
        assert_eq!(healed, Some(Some(Transition::Recovered)));
        assert_eq!(book.health("a", KEY, t0 + s(11)), Health::Healthy);
        assert_eq!(book.status("a", KEY, t0 + s(11), &policy()).consecutive_failures, 0);
    }

    #[test]
    fn each_repeat_ejection_doubles_the_cooldown_up_to_the_cap() {
        let book = HealthBook::new();
        let p = Routing { max_cooldown: s(35), ..policy() };
        let mut now = Instant::now();
        for _ in 0..3 {
            if let Some(t) = book.begin("a", KEY, now, false) {
                t.finish(Verdict::Failure, now, &p);
            }
        }
        let mut cooldowns = Vec::new();
        for _ in 0..4 {
            let left = book.status("a", KEY, now, &p).cooldown_left;
            cooldowns.push(left.as_secs());
            now += left;
            // The probe fails: ejected again for twice as long.
            let probe = book.begin("a", KEY, now, false);
            assert!(probe.is_some());
            assert_eq!(probe.map(|t| t.finish(Verdict::Failure, now, &p)), Some(Some(Transition::Ejected(Reason::ProbeFailed))));
        }
        assert_eq!(cooldowns, [10, 20, 35, 35]);
        // A probe that works resets the doubling.
        now += book.status("a", KEY, now, &p).cooldown_left;
        assert!(book.begin("a", KEY, now, false).map(|t| t.finish(Verdict::Success, now, &p)).is_some());
        for _ in 0..3 {
            if let Some(t) = book.begin("a", KEY, now, false) {
                t.finish(Verdict::Failure, now, &p);
            }
        }
        assert_eq!(book.status("a", KEY, now, &p).cooldown_left, s(10));
    }

    #[test]
    fn a_success_that_began_before_the_ejection_does_not_bring_the_channel_back() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        let slow = book.begin("a", KEY, t0, false);
        for _ in 0..3 {
            attempt(&book, "a", t0, Verdict::Failure);
        }
        assert_eq!(slow.map(|t| t.finish(Verdict::Success, t0 + s(1), &policy())), Some(None));
        assert!(matches!(book.health("a", KEY, t0 + s(1)), Health::Out(_)), "only the probe decides");
    }

    #[test]
    fn a_failure_after_the_attempt_counts_toward_ejection() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        // Each stream commits (a success) and then breaks off (a failure): half fail.
        for i in 0..10 {
            assert_eq!(attempt(&book, "a", t0, Verdict::Success), Some(None));
            let t = book.record("a", KEY, Verdict::Failure, t0, &policy());
            assert_eq!(t.is_some(), i == 4, "ejected once 5 of 10 failed: {i}");
            if t.is_some() {
                break;
            }
        }
        assert_eq!(book.status("a", KEY, t0, &policy()).reason, Some(Reason::ErrorRatio));
    }

    #[test]
    fn a_probe_dropped_without_a_verdict_frees_the_half_open_slot() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        for _ in 0..3 {
            attempt(&book, "a", t0, Verdict::Failure);
        }
        let later = t0 + s(10);
        drop(book.begin("a", KEY, later, false));
        assert_eq!(book.health("a", KEY, later), Health::Probe, "the client left: another request may probe");
    }

    #[test]
    fn the_error_ratio_ejects_once_the_window_holds_enough_requests() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        // Alternating success and failure never reaches three in a row, but half fail.
        for i in 0..9 {
            let verdict = if i % 2 == 0 { Verdict::Failure } else { Verdict::Success };
            assert_eq!(attempt(&book, "a", t0, verdict), Some(None), "request {i}: under 10 requests");
        }
        assert_eq!(attempt(&book, "a", t0, Verdict::Success), Some(None), "4 of 10 failed: under 0.5");
        assert_eq!(attempt(&book, "a", t0, Verdict::Failure), Some(Some(Transition::Ejected(Reason::ErrorRatio))));
        assert_eq!(book.status("a", KEY, t0, &policy()).reason, Some(Reason::ErrorRatio));
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        for i in 0..10 {
            let verdict = if i % 2 == 0 { Verdict::Failure } else { Verdict::Success };
            attempt(&book, "a", t0, verdict);
        }
        assert_eq!(book.status("a", KEY, t0, &policy()).window, (5, 10));
        assert_eq!(book.status("a", KEY, t0 + s(31), &policy()).window, (0, 0));
        // 31 s later the old failures are gone: one failure in one request is under the minimum
        // (within the window, the same failure would have made 6 of 11 and ejected it).
        assert_eq!(attempt(&book, "a", t0 + s(31), Verdict::Failure), Some(None));
        assert_eq!(book.health("a", KEY, t0 + s(31)), Health::Healthy);
    }

    #[test]
    fn a_429_cools_down_for_its_retry_after_capped() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        let limited = attempt(&book, "a", t0, Verdict::RateLimited(Some(s(3))));
        assert_eq!(limited, Some(Some(Transition::Ejected(Reason::RateLimited))));
        assert!(matches!(book.health("a", KEY, t0 + s(2)), Health::Out(_)));
        assert_eq!(book.health("a", KEY, t0 + s(3)), Health::Probe);
        let book = HealthBook::new();
        attempt(&book, "b", t0, Verdict::RateLimited(Some(s(3600))));
        assert_eq!(book.status("b", KEY, t0, &policy()).cooldown_left, s(60), "capped by max_retry_after");
        attempt(&book, "c", t0, Verdict::RateLimited(None));
        assert_eq!(book.status("c", KEY, t0, &policy()).cooldown_left, s(10), "no Retry-After: the cooldown");
    }

    #[test]
    fn refused_credentials_disable_until_the_key_changes_or_an_operator_enables() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        assert_eq!(attempt(&book, "a", t0, Verdict::CredentialsRefused), Some(Some(Transition::Disabled)));
        assert!(matches!(book.health("a", KEY, t0 + s(3600)), Health::Disabled(_)), "no cooldown ends it");
        assert_eq!(book.status("a", KEY, t0, &policy()).state, "disabled");
        assert_eq!(book.health("a", KEY + 1, t0), Health::Healthy, "a new key puts it back");
        attempt(&book, "b", t0, Verdict::CredentialsRefused);
        book.enable("b");
        assert_eq!(book.health("b", KEY, t0), Health::Healthy);
    }

    #[test]
    fn forced_attempts_run_on_an_out_channel_and_a_success_heals_it() {
        let book = HealthBook::new();
        let t0 = Instant::now();
        attempt(&book, "a", t0, Verdict::CredentialsRefused);
        assert!(book.begin("a", KEY, t0, false).is_none());
        let forced = book.begin("a", KEY, t0, true);
        assert_eq!(forced.map(|t| t.finish(Verdict::Success, t0, &policy())), Some(Some(Transition::Recovered)));
        assert_eq!(book.health("a", KEY, t0), Health::Healthy);
    }

    #[test]
    fn statuses_map_to_verdicts() {
        assert_eq!(Verdict::of_status(429, Some(s(2))), Verdict::RateLimited(Some(s(2))));
        assert_eq!(Verdict::of_status(401, None), Verdict::CredentialsRefused);
        assert_eq!(Verdict::of_status(403, None), Verdict::CredentialsRefused);
        for status in [408, 500, 502, 503, 529] {
            assert_eq!(Verdict::of_status(status, None), Verdict::Failure, "{status}");
        }
        for status in [400, 404, 413, 422] {
            assert_eq!(Verdict::of_status(status, None), Verdict::Success, "{status}");
        }
    }

    proptest! {
        /// Whatever happens, at most one request holds a channel's half-open probe at a time,
        /// and a cooling channel is never handed out unforced.
        #[test]
        fn never_two_probes_and_never_a_cooling_channel(steps in proptest::collection::vec((0u8..4, 0u64..15, any::<bool>()), 1..60)) {
            let book = HealthBook::new();
            let mut now = Instant::now();
            let mut held: Vec<Ticket<'_>> = Vec::new();
            for (kind, advance, finish) in steps {
                now += Duration::from_secs(advance);
                let before = book.health("a", KEY, now);
                match book.begin("a", KEY, now, false) {
                    Some(ticket) => {
                        prop_assert!(before.usable(), "{before:?}");
                        if ticket.probe {
                            prop_assert!(!held.iter().any(|t| t.probe), "two probes at once");
                        }
                        held.push(ticket);
                    }
                    None => prop_assert!(!before.usable(), "{before:?}"),
                }
                if finish {
                    if let Some(t) = held.pop() {
                        let verdict = match kind {
                            0 => Verdict::Success,
                            1 => Verdict::Failure,
                            2 => Verdict::RateLimited(Some(Duration::from_secs(advance))),
                            _ => Verdict::CredentialsRefused,
                        };
                        t.finish(verdict, now, &policy());
                    }
                }
            }
        }
    }
}
