//! Thinking signatures kept for clients that cannot carry them (PROTOCOLS.md §3.6).
//!
//! An OpenAI Chat client has no field for Anthropic's signed thinking blocks or Gemini's
//! `thoughtSignature`, yet both providers want them back on the next turn of a tool loop. The
//! gateway remembers them by the tool-call id the client does carry, and puts them back when
//! that id returns in the client's history — only to the provider that issued them.

use crate::protocol::ir::{Part, Protocol};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a signature is kept: a tool loop's next turn comes within seconds to minutes.
const TTL: Duration = Duration::from_secs(3600);
/// The most entries kept; the oldest go first.
const CAPACITY: usize = 100_000;

struct Entry {
    issuer: Protocol,
    parts: Vec<Part>,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    order: VecDeque<String>,
}

/// Signed reasoning by tool-call id, bounded in size and age.
#[derive(Default)]
pub struct SignatureStore {
    inner: Mutex<Inner>,
}

impl SignatureStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers the reasoning `parts` that preceded tool call `id` in an answer from `issuer`.
    pub fn remember(&self, id: &str, issuer: Protocol, parts: Vec<Part>) {
        if parts.is_empty() || id.is_empty() {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        let now = Instant::now();
        while inner.order.len() >= CAPACITY || inner.order.front().is_some_and(|k| inner.entries.get(k).is_none_or(|e| e.expires <= now)) {
            let Some(old) = inner.order.pop_front() else { break };
            inner.entries.remove(&old);
        }
        if inner.entries.insert(id.to_owned(), Entry { issuer, parts, expires: now + TTL }).is_none() {
            inner.order.push_back(id.to_owned());
        }
    }

    /// The reasoning remembered for tool call `id`, if `issuer` issued it and it has not expired.
    pub fn recall(&self, id: &str, issuer: Protocol) -> Option<Vec<Part>> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .get(id)
            .filter(|e| e.issuer == issuer && e.expires > Instant::now())
            .map(|e| e.parts.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thinking(sig: &str) -> Vec<Part> {
        vec![Part::Thinking { text: "t".into(), signature: Some(sig.into()) }]
    }

    #[test]
    fn recalls_only_for_the_issuer() {
        let store = SignatureStore::new();
        store.remember("call_1", Protocol::Gemini, thinking("s1"));
        assert_eq!(store.recall("call_1", Protocol::Gemini), Some(thinking("s1")));
        assert_eq!(store.recall("call_1", Protocol::Anthropic), None);
        assert_eq!(store.recall("call_2", Protocol::Gemini), None);
    }

    #[test]
    fn bounded_by_capacity() {
        let store = SignatureStore::new();
        for i in 0..CAPACITY + 10 {
            store.remember(&format!("c{i}"), Protocol::Anthropic, thinking("s"));
        }
        assert_eq!(store.recall("c0", Protocol::Anthropic), None);
        assert!(store.recall(&format!("c{}", CAPACITY + 9), Protocol::Anthropic).is_some());
        assert!(store.inner.lock().unwrap().entries.len() <= CAPACITY);
    }
}
