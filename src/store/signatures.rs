//! Thinking signatures kept for clients that cannot carry them (PROTOCOLS.md §3.6).
//!
//! An OpenAI Chat client has no field for Anthropic's signed thinking blocks or Gemini's
//! `thoughtSignature`, yet both providers want them back on the next turn of a tool loop. The
//! gateway remembers them by the tool-call id the client does carry, and puts them back when
//! that id returns in the client's history — only to the provider that issued them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a signature is kept: a tool loop's next turn comes within seconds to minutes.
const TTL: Duration = Duration::from_secs(3600);
/// The most entries kept; the oldest go first.
const CAPACITY: usize = 100_000;

struct Entry<I, V> {
    issuer: I,
    parts: V,
    expires: Instant,
}

struct Inner<I, V> {
    entries: HashMap<String, Entry<I, V>>,
    order: VecDeque<String>,
}

/// Opaque values (the signed reasoning) by tool-call id and issuer, bounded in size and age.
/// The store does not look inside them: what a value is, is the protocol code's business.
pub struct SignatureStore<I, V> {
    inner: Mutex<Inner<I, V>>,
}

impl<I, V> Default for SignatureStore<I, V> {
    fn default() -> Self {
        SignatureStore { inner: Mutex::new(Inner { entries: HashMap::new(), order: VecDeque::new() }) }
    }
}

impl<I: PartialEq, V: Clone> SignatureStore<I, V> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Remembers `parts`, the reasoning that preceded tool call `id` in an answer from `issuer`.
    pub fn remember(&self, id: &str, issuer: I, parts: V) {
        if id.is_empty() {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else { return };
        let now = Instant::now();
        while inner.order.len() >= CAPACITY
            || inner.order.front().is_some_and(|k| inner.entries.get(k).is_none_or(|e| e.expires <= now))
        {
            let Some(old) = inner.order.pop_front() else { break };
            inner.entries.remove(&old);
        }
        if inner.entries.insert(id.to_owned(), Entry { issuer, parts, expires: now + TTL }).is_none() {
            inner.order.push_back(id.to_owned());
        }
    }

    /// The reasoning remembered for tool call `id`, if `issuer` issued it and it has not expired.
    pub fn recall(&self, id: &str, issuer: &I) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner.entries.get(id).filter(|e| e.issuer == *issuer && e.expires > Instant::now()).map(|e| e.parts.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Issuer {
        Gemini,
        Anthropic,
    }

    fn thinking(sig: &str) -> Vec<String> {
        vec![sig.to_owned()]
    }

    #[test]
    fn recalls_only_for_the_issuer() {
        let store = SignatureStore::new();
        store.remember("call_1", Issuer::Gemini, thinking("s1"));
        assert_eq!(store.recall("call_1", &Issuer::Gemini), Some(thinking("s1")));
        assert_eq!(store.recall("call_1", &Issuer::Anthropic), None);
        assert_eq!(store.recall("call_2", &Issuer::Gemini), None);
    }

    #[test]
    fn bounded_by_capacity() {
        let store = SignatureStore::new();
        for i in 0..CAPACITY + 10 {
            store.remember(&format!("c{i}"), Issuer::Anthropic, thinking("s"));
        }
        assert_eq!(store.recall("c0", &Issuer::Anthropic), None);
        assert!(store.recall(&format!("c{}", CAPACITY + 9), &Issuer::Anthropic).is_some());
        assert!(store.inner.lock().unwrap().entries.len() <= CAPACITY);
    }
}
