//! Fetching an image or document a client gave by URL, for providers that only take inline
//! media (Gemini). Every fetch goes through one guard: https only unless the operator allows
//! http, the resolved address checked against every special-purpose range ([`super::guard`]) and
//! then pinned for the connection (the peer is built from the checked address, so no second DNS
//! lookup can switch it), no redirects, a content type matching the part, a byte cap and one
//! total deadline. A client URL must never become a way into the gateway's own network, and a
//! failure never tells the client why (refused, missing and slow look alike), so a key holder
//! cannot use the gateway to scan hosts.

use super::dns::DnsCache;
use super::exchange::{self, Deadlines, OutgoingRequest};
use super::guard::{self, Refusal};
use super::target::Target;
use crate::config::Limits;
use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What every fetch failure looks like to the client.
pub const CLIENT_MESSAGE: &str = "could not be used";

/// Limits of media fetching, from the config's `limits`.
#[derive(Clone, Copy, Debug)]
pub struct FetchPolicy {
    /// Largest body accepted per URL.
    pub max_bytes: usize,
    /// Loopback and private addresses may be fetched.
    pub allow_private: bool,
    /// Plain-http URLs may be fetched (https only otherwise).
    pub allow_http: bool,
    /// Total time one fetch may take, from DNS to the last byte.
    pub fetch_timeout: Duration,
    /// Most distinct URLs fetched for one request.
    pub max_urls: usize,
    /// Most bytes fetched for one request, all URLs together.
    pub max_total_bytes: usize,
    /// Total time all fetches of one request may take together.
    pub total_timeout: Duration,
    /// Most fetches of one request running at once.
    pub concurrency: usize,
}

impl FetchPolicy {
    /// The policy the config's limits describe.
    pub fn from_limits(limits: &Limits) -> Self {
        FetchPolicy {
            max_bytes: limits.media_max_bytes,
            allow_private: limits.media_allow_private,
            allow_http: limits.media_allow_http,
            fetch_timeout: limits.media_fetch_timeout,
            max_urls: limits.media_max_urls,
            max_total_bytes: limits.media_max_total_bytes,
            total_timeout: limits.media_total_timeout,
            concurrency: limits.media_max_concurrent_fetches.max(1),
        }
    }
}

/// What kind of part a URL stands for; the fetched content type must match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// An image part: `image/*`.
    Image,
    /// A document part: PDF or text.
    Document,
}

impl MediaKind {
    fn accepts(self, media_type: &str) -> bool {
        match self {
            MediaKind::Image => media_type.starts_with("image/"),
            MediaKind::Document => media_type == "application/pdf" || media_type.starts_with("text/"),
        }
    }
}

/// A fetched file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Its media type, from `Content-Type` (parameters dropped).
    pub media_type: String,
    /// Its bytes.
    pub data: Bytes,
}

/// The bytes a request may still fetch, shared by its concurrent fetches.
#[derive(Debug)]
pub struct ByteBudget(AtomicUsize);

impl ByteBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        ByteBudget(AtomicUsize::new(bytes))
    }

    /// Takes `n` bytes; false (and nothing taken) when fewer remain.
    fn take(&self, n: usize) -> bool {
        self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| left.checked_sub(n)).is_ok()
    }
}

/// Why a URL could not be fetched. Only for the log: the client sees [`CLIENT_MESSAGE`] for
/// every one of them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// Not a URL with a host, or a scheme the policy does not allow.
    #[error("not an allowed URL: {0}")]
    BadUrl(String),
    /// The host resolves to an address the policy forbids.
    #[error("address {0} refused: {1:?}")]
    Refused(IpAddr, Refusal),
    /// DNS, connection, a non-200 answer (redirects included) or a read error.
    #[error("fetch failed: {0}")]
    Failed(String),
    /// The content type does not match the part.
    #[error("content type `{0}` does not match the part")]
    ContentType(String),
    /// Over the per-URL or per-request byte limit.
    #[error("over the byte limit")]
    TooLarge,
    /// The fetch's total deadline passed.
    #[error("took longer than {0:?}")]
    Timeout(Duration),
}

/// Fetches `url` for a part of `kind` through the gateway's connector (GET, no redirects), under
/// the policy's total deadline, taking its bytes from `budget`.
pub async fn fetch(
    connector: &Connector,
    dns: &DnsCache,
    url: &str,
    kind: MediaKind,
    policy: &FetchPolicy,
    budget: &ByteBudget,
) -> Result<Media, FetchError> {
    tokio::time::timeout(policy.fetch_timeout, fetch_inner(connector, dns, url, kind, policy, budget))
        .await
        .map_err(|_| FetchError::Timeout(policy.fetch_timeout))?
}

async fn fetch_inner(
    connector: &Connector,
    dns: &DnsCache,
    url: &str,
    kind: MediaKind,
    policy: &FetchPolicy,
    budget: &ByteBudget,
) -> Result<Media, FetchError> {
    let parsed = url::Url::parse(url).map_err(|e| FetchError::BadUrl(e.to_string()))?;
    if parsed.scheme() != "https" && !(policy.allow_http && parsed.scheme() == "http") {
        return Err(FetchError::BadUrl(format!("scheme `{}`", parsed.scheme())));
    }
    let target = Target::from_url(&parsed).map_err(|e| FetchError::BadUrl(e.to_string()))?;
    let failed = |reason: String| FetchError::Failed(reason);
    // The one lookup: the peer below is built from this checked address.
    let addr = dns.resolve(&target.host, target.port).await.map_err(|e| failed(e.to_string()))?;
    if !policy.allow_private {
        guard::check(addr.ip()).map_err(|why| FetchError::Refused(addr.ip(), why))?;
    }
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    let header = get_head(&target, &path).map_err(|e| failed(e.to_string()))?;
    let peer = exchange::peer(addr, &target, policy.fetch_timeout);
    let request = OutgoingRequest { header, body: Bytes::new() };
    let deadlines = Deadlines { first_byte: policy.fetch_timeout, idle: policy.fetch_timeout };
    let mut ex = exchange::send(connector, &peer, &request, deadlines).await.map_err(|e| failed(e.to_string()))?;
    // Anything but 200 fails, redirects included: a redirect could lead to a refused address.
    if ex.status() != 200 {
        return Err(failed(format!("HTTP {}", ex.status())));
    }
    let media_type = ex
        .header_str("content-type")
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !kind.accepts(&media_type) {
        return Err(FetchError::ContentType(media_type));
    }
    if ex
        .header_str("content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .is_some_and(|n| n > policy.max_bytes)
    {
        return Err(FetchError::TooLarge);
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = ex.read_chunk().await.map_err(|e| failed(e.to_string()))? {
        if data.len() + chunk.len() > policy.max_bytes || !budget.take(chunk.len()) {
            return Err(FetchError::TooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    ex.release(connector, &peer).await;
    Ok(Media { media_type, data: data.freeze() })
}

fn get_head(target: &Target, path: &str) -> pingora::Result<RequestHeader> {
    let mut head = RequestHeader::build_no_case("GET", path.as_bytes(), Some(4))?;
    head.insert_header("host", target.authority.as_str())?;
    head.insert_header("accept", "image/*, application/pdf, text/*;q=0.5")?;
    head.insert_header("user-agent", concat!("switchyard/", env!("CARGO_PKG_VERSION")))?;
    head.insert_header("content-length", "0")?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FetchPolicy {
        FetchPolicy::from_limits(&Limits::default())
    }

    #[test]
    fn content_type_must_match_the_part() {
        assert!(MediaKind::Image.accepts("image/png"));
        assert!(!MediaKind::Image.accepts("text/html"));
        assert!(!MediaKind::Image.accepts(""));
        assert!(MediaKind::Document.accepts("application/pdf"));
        assert!(!MediaKind::Document.accepts("image/png"));
    }

    #[test]
    fn budget_is_shared_and_never_overdrawn() {
        let b = ByteBudget::new(10);
        assert!(b.take(6));
        assert!(!b.take(5));
        assert!(b.take(4));
        assert!(!b.take(1));
    }

    #[tokio::test]
    async fn http_is_refused_by_default_and_refused_addresses_before_connecting() {
        let connector = Connector::new(None);
        let dns = DnsCache::new();
        let budget = ByteBudget::new(1 << 20);
        let p = policy();
        let got = fetch(&connector, &dns, "http://8.8.8.8/x.png", MediaKind::Image, &p, &budget).await;
        assert!(matches!(got, Err(FetchError::BadUrl(_))), "{got:?}");
        for url in
            ["https://127.0.0.1/x.png", "https://[::ffff:169.254.169.254]/", "https://[64:ff9b::a00:1]/", "https://0.0.0.0/"]
        {
            let got = fetch(&connector, &dns, url, MediaKind::Image, &p, &budget).await;
            assert!(matches!(got, Err(FetchError::Refused(..))), "{url}: {got:?}");
        }
        let got = fetch(&connector, &dns, "file:///etc/passwd", MediaKind::Document, &p, &budget).await;
        assert!(matches!(got, Err(FetchError::BadUrl(_))), "{got:?}");
    }
}
