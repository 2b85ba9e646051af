//! The upstream plumbing every request shares: one pooled connector and one DNS cache.

use super::dns::DnsCache;
use pingora::connectors::http::Connector;

/// Shared upstream plumbing: Pingora's pooled connector and the async DNS cache.
pub struct Upstreams {
    /// Pingora's pooled connector (keep-alive and h2 connections shared by every request).
    pub connector: Connector,
    /// Async DNS with a TTL cache (Pingora's own peer resolution would block).
    pub dns: DnsCache,
}

impl Upstreams {
    /// Plumbing around `connector` with an empty DNS cache.
    pub fn new(connector: Connector) -> Self {
        Upstreams { connector, dns: DnsCache::new() }
    }
}
