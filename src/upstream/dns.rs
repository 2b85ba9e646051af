//! Asynchronous DNS with a TTL cache.
//!
//! Pingora's `HttpPeer::new` resolves with std's blocking resolver and panics on failure
//! (PINGORA.md §2), so peers are built from a `SocketAddr` resolved here: without blocking a
//! runtime thread, cached until the record's TTL runs out, and shared by every request.

use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// The shortest time a record is cached, so a zero TTL does not mean a lookup per request.
const MIN_TTL: Duration = Duration::from_secs(5);

/// Why a host could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The system resolver configuration could not be read.
    #[error("cannot initialise the DNS resolver: {0}")]
    Init(String),
    /// The lookup failed or returned no address.
    #[error("cannot resolve `{host}`: {reason}")]
    Lookup {
        /// The host name asked for.
        host: String,
        /// The resolver's explanation.
        reason: String,
    },
}

/// A shared resolver with a per-host cache.
#[derive(Default)]
pub struct DnsCache {
    // Created on first use so it belongs to the runtime of the service that uses it.
    resolver: OnceCell<TokioResolver>,
    cache: Mutex<HashMap<String, (IpAddr, Instant)>>,
}

impl DnsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `host:port`; IP literals and `localhost` never touch DNS.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        if host.eq_ignore_ascii_case("localhost") {
            return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
        }
        if let Some(ip) = self.cached(host) {
            return Ok(SocketAddr::new(ip, port));
        }
        let resolver = self
            .resolver
            .get_or_try_init(|| async {
                TokioResolver::builder_tokio().map(|b| b.build()).map_err(|e| DnsError::Init(e.to_string()))
            })
            .await?;
        let lookup = resolver
            .lookup_ip(host)
            .await
            .map_err(|e| DnsError::Lookup { host: host.to_owned(), reason: e.to_string() })?;
        let ip = lookup
            .iter()
            .next()
            .ok_or_else(|| DnsError::Lookup { host: host.to_owned(), reason: "no address records".to_owned() })?;
        let until = lookup.valid_until().max(Instant::now() + MIN_TTL);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host.to_owned(), (ip, until));
        }
        Ok(SocketAddr::new(ip, port))
    }

    /// Every address of `host:port` and until when the answer holds (`None`: an IP literal or
    /// `localhost`, which never change). Not cached: the caller keeps the set until it expires.
    pub async fn resolve_all(&self, host: &str, port: u16) -> Result<(Vec<SocketAddr>, Option<Instant>), DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok((vec![SocketAddr::new(ip, port)], None));
        }
        if host.eq_ignore_ascii_case("localhost") {
            return Ok((vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)], None));
        }
        let resolver = self
            .resolver
            .get_or_try_init(|| async {
                TokioResolver::builder_tokio().map(|b| b.build()).map_err(|e| DnsError::Init(e.to_string()))
            })
            .await?;
        let lookup = resolver
            .lookup_ip(host)
            .await
            .map_err(|e| DnsError::Lookup { host: host.to_owned(), reason: e.to_string() })?;
        let addrs: Vec<SocketAddr> = lookup.iter().map(|ip| SocketAddr::new(ip, port)).collect();
        if addrs.is_empty() {
            return Err(DnsError::Lookup { host: host.to_owned(), reason: "no address records".to_owned() });
        }
        Ok((addrs, Some(lookup.valid_until().max(Instant::now() + MIN_TTL))))
    }

    fn cached(&self, host: &str) -> Option<IpAddr> {
        let cache = self.cache.lock().ok()?;
        cache.get(host).filter(|(_, until)| *until > Instant::now()).map(|(ip, _)| *ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost_skip_dns() {
        let dns = DnsCache::new();
        assert_eq!(dns.resolve("127.0.0.1", 80).await.unwrap(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(dns.resolve("::1", 81).await.unwrap(), "[::1]:81".parse().unwrap());
        assert_eq!(dns.resolve("localhost", 82).await.unwrap(), "127.0.0.1:82".parse().unwrap());
        let (all, until) = dns.resolve_all("::1", 83).await.unwrap();
        assert_eq!((all, until), (vec!["[::1]:83".parse().unwrap()], None));
    }
}
