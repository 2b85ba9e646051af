//! A provider's addresses as a `pingora-load-balancing` backend set.
//!
//! Every base URL of a provider (one, or several replicas with weights) contributes every
//! address its host resolves to, looked up again when the DNS answer expires (or after the
//! provider's `dns_refresh`). Selection is Pingora's weighted round robin, which skips an
//! address the active health check marked down. Discovery and probes run in the background
//! ([`Peers::upkeep`], driven by one background service for all providers), so a request never
//! waits for a probe; only the very first request of a provider may wait for its first lookup.

use super::dns::DnsCache;
use super::target::Target;
use crate::config::{HealthCheck, HealthCheckKind};
use async_trait::async_trait;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::lb::discovery::ServiceDiscovery;
use pingora::lb::health_check::{HttpHealthCheck, TcpHealthCheck};
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, Backends, Extensions, LoadBalancer};
use pingora::{Error, ErrorType};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How many addresses a selection looks at before giving up on finding a healthy one.
const MAX_SELECT_ITERATIONS: usize = 256;

/// One base URL of a provider and its share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Where it lives (host for DNS, SNI and `Host`; the path is the provider's).
    pub target: Target,
    /// Share of the provider's traffic, split over the addresses of its host.
    pub weight: u32,
}

/// Why no address could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// No host of the provider resolved (yet).
    #[error("no address: {0}")]
    Unresolved(String),
    /// Every address is marked down by the active health check.
    #[error("every address is marked down by the health check")]
    AllDown,
}

/// The endpoint an address came from, kept on the backend.
#[derive(Clone, Copy, Debug)]
struct EndpointIndex(usize);

/// Resolves every endpoint's host into backends.
struct Discovery {
    endpoints: Arc<[Endpoint]>,
    dns: DnsCache,
    refresh: Duration,
    /// When the answer given last runs out (the shortest TTL, at most `refresh` away).
    expires: Arc<Mutex<Instant>>,
}

#[async_trait]
impl ServiceDiscovery for Discovery {
    async fn discover(&self) -> pingora::Result<(BTreeSet<Backend>, HashMap<u64, bool>)> {
        let mut backends = BTreeSet::new();
        let mut expires = Instant::now() + self.refresh;
        let mut failures = Vec::new();
        for (index, endpoint) in self.endpoints.iter().enumerate() {
            match self.dns.resolve_all(&endpoint.target.host, endpoint.target.port).await {
                Ok((addrs, valid_until)) => {
                    expires = valid_until.map_or(expires, |until| expires.min(until));
                    for addr in addrs {
                        let mut ext = Extensions::new();
                        ext.insert(EndpointIndex(index));
                        let weight = usize::try_from(endpoint.weight.max(1)).unwrap_or(1);
                        backends.insert(Backend { addr: addr.into(), weight, ext });
                    }
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
        if let Ok(mut slot) = self.expires.lock() {
            *slot = expires;
        }
        if backends.is_empty() {
            // An error keeps the previous set: a DNS hiccup must not empty a working provider.
            return Err(Error::explain(ErrorType::ConnectNoRoute, failures.join("; ")));
        }
        if !failures.is_empty() {
            tracing::warn!(failures = %failures.join("; "), "some upstream hosts did not resolve; using the others");
        }
        Ok((backends, HashMap::new()))
    }
}

/// The addresses of one provider, balanced and health-checked.
pub struct Peers {
    lb: LoadBalancer<RoundRobin>,
    endpoints: Arc<[Endpoint]>,
    /// The first lookup, which a request may wait for once.
    first: OnceCell<()>,
    expires: Arc<Mutex<Instant>>,
    probe_every: Option<Duration>,
    next_probe: Mutex<Instant>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").field("endpoints", &self.endpoints).field("probe_every", &self.probe_every).finish()
    }
}

impl Peers {
    /// The backend set of `endpoints` (at least one), probed as `check` says.
    pub fn new(endpoints: Vec<Endpoint>, check: Option<&HealthCheck>, dns_refresh: Duration) -> Self {
        let endpoints: Arc<[Endpoint]> = endpoints.into();
        let expires = Arc::new(Mutex::new(Instant::now()));
        let discovery =
            Discovery { endpoints: endpoints.clone(), dns: DnsCache::new(), refresh: dns_refresh, expires: expires.clone() };
        let mut lb = LoadBalancer::from_backends(Backends::new(Box::new(discovery)));
        if let (Some(check), Some(first)) = (check, endpoints.first()) {
            lb.set_health_check(probe(check, &first.target));
        }
        Peers {
            lb,
            endpoints,
            first: OnceCell::new(),
            expires,
            probe_every: check.map(|c| c.interval),
            next_probe: Mutex::new(Instant::now()),
        }
    }

    /// An address to send a request to, and the endpoint it belongs to. Skips addresses the
    /// health check marked down.
    ///
    /// # Errors
    /// [`PeerError`] when nothing resolved or every address is down.
    pub async fn select(&self) -> Result<(SocketAddr, &Target), PeerError> {
        self.first
            .get_or_try_init(|| async { self.lb.update().await.map_err(|e| PeerError::Unresolved(e.to_string())) })
            .await?;
        let backend = self.lb.select(b"", MAX_SELECT_ITERATIONS).ok_or(PeerError::AllDown)?;
        let index = backend.ext.get::<EndpointIndex>().map_or(0, |i| i.0);
        let target = self.endpoints.get(index).or_else(|| self.endpoints.first()).map(|e| &e.target);
        match (backend.addr.as_inet(), target) {
            (Some(addr), Some(target)) => Ok((*addr, target)),
            _ => Err(PeerError::Unresolved("a discovered address is not an IP address".to_owned())),
        }
    }

    /// Refreshes the addresses when their DNS answer expired and probes them when a probe is
    /// due. Called often by one background service; does nothing when nothing is due.
    pub async fn upkeep(&self, now: Instant) {
        let refresh_due = self.expires.lock().map(|e| *e <= now).unwrap_or(true);
        if refresh_due {
            if let Err(e) = self.lb.update().await {
                tracing::warn!(error = %e, "upstream address refresh failed; keeping the previous addresses");
            }
            // A request that had to wait for the first lookup need not do so any more.
            let _ = self.first.set(());
        }
        let Some(every) = self.probe_every else { return };
        let probe_due = match self.next_probe.lock() {
            Ok(mut next) if *next <= now => {
                *next = now + every;
                true
            }
            _ => false,
        };
        if probe_due {
            self.lb.backends().run_health_check(true).await;
        }
    }

    /// The addresses now known and whether each is up, for the admin API and tests.
    pub fn addresses(&self) -> Vec<(SocketAddr, bool)> {
        let backends = self.lb.backends();
        backends.get_backend().iter().filter_map(|b| b.addr.as_inet().map(|a| (*a, backends.ready(b)))).collect()
    }
}

/// Pingora's health check for `check`, against the first endpoint's host name (SNI, `Host`).
fn probe(check: &HealthCheck, target: &Target) -> Box<dyn pingora::lb::health_check::HealthCheck + Send + Sync> {
    match check.kind {
        HealthCheckKind::Tcp => {
            let mut tcp = if target.tls { TcpHealthCheck::new_tls(&target.host) } else { TcpHealthCheck::new() };
            tcp.consecutive_success = check.rise;
            tcp.consecutive_failure = check.fall;
            tcp.peer_template.options.connection_timeout = Some(check.timeout);
            tcp.peer_template.options.total_connection_timeout = Some(check.timeout);
            tcp
        }
        HealthCheckKind::Http => {
            let mut http = HttpHealthCheck::new(&target.host, target.tls);
            http.consecutive_success = check.rise;
            http.consecutive_failure = check.fall;
            http.peer_template.options.connection_timeout = Some(check.timeout);
            http.peer_template.options.total_connection_timeout = Some(check.timeout);
            http.peer_template.options.read_timeout = Some(check.timeout);
            if let Ok(mut req) = RequestHeader::build("GET", check.path.as_bytes(), None) {
                if req.append_header("Host", target.authority.as_str()).is_ok() {
                    http.req = req;
                }
            }
            let expect = check.expect_status;
            http.validator = Some(Box::new(move |resp: &ResponseHeader| {
                if resp.status.as_u16() == expect {
                    Ok(())
                } else {
                    Err(Error::explain(ErrorType::CustomCode("unexpected health check status", resp.status.as_u16()), ""))
                }
            }));
            Box::new(http)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16, weight: u32) -> Endpoint {
        let url = url::Url::parse(&format!("http://127.0.0.1:{port}/v1")).unwrap();
        Endpoint { target: Target::from_url(&url).unwrap(), weight }
    }

    #[tokio::test]
    async fn weighted_round_robin_over_replicas() {
        let peers = Peers::new(vec![endpoint(1001, 3), endpoint(1002, 1)], None, Duration::from_secs(60));
        let mut counts = HashMap::new();
        for _ in 0..400 {
            let (addr, target) = peers.select().await.unwrap();
            assert_eq!(addr.port(), target.port, "the address and its endpoint agree");
            *counts.entry(addr.port()).or_insert(0) += 1;
        }
        assert_eq!((counts[&1001], counts[&1002]), (300, 100));
    }

    #[tokio::test]
    async fn a_probe_takes_a_closed_port_out_and_brings_it_back() {
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (live_port, closed_port) = (live.local_addr().unwrap().port(), closed.local_addr().unwrap().port());
        drop(closed);
        let check = HealthCheck {
            kind: HealthCheckKind::Tcp,
            path: "/".into(),
            expect_status: 200,
            interval: Duration::from_millis(1),
            timeout: Duration::from_millis(500),
            rise: 1,
            fall: 1,
        };
        let peers = Peers::new(vec![endpoint(live_port, 1), endpoint(closed_port, 1)], Some(&check), Duration::from_secs(60));
        peers.upkeep(Instant::now()).await;
        let up: Vec<bool> = peers.addresses().iter().map(|(a, up)| (a.port() == live_port) == *up).collect();
        assert_eq!(up, [true, true], "{:?}", peers.addresses());
        for _ in 0..20 {
            assert_eq!(peers.select().await.unwrap().0.port(), live_port);
        }
        // The closed port listens again: the next probe brings it back.
        let _back = std::net::TcpListener::bind(("127.0.0.1", closed_port)).unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        peers.upkeep(Instant::now()).await;
        assert!(peers.addresses().iter().all(|(_, up)| *up), "{:?}", peers.addresses());
        drop(live);
    }
}
