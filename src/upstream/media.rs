//! Fetching an image or document a client gave by URL, for providers that only take inline
//! media (Gemini). Bounded in size and time, and never into loopback or private networks unless
//! the operator allows it: a client URL must not become a way into the gateway's own network.

use super::dns::DnsCache;
use super::exchange::{self, Deadlines, OutgoingRequest};
use super::target::Target;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use std::net::IpAddr;
use std::time::Duration;

/// How long one fetch may take to connect, to answer, and between body chunks.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of media fetching.
#[derive(Clone, Copy, Debug)]
pub struct FetchPolicy {
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Loopback and private addresses may be fetched.
    pub allow_private: bool,
}

/// A fetched file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Its media type, from `Content-Type` (parameters dropped).
    pub media_type: String,
    /// Its bytes.
    pub data: Bytes,
}

/// Why a URL could not be fetched; the message goes to the client in a 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// Not an http(s) URL with a host.
    #[error("`{0}` is not an http(s) URL")]
    BadUrl(String),
    /// The host resolves to an address the policy forbids.
    #[error("`{0}` points into a private network")]
    Private(String),
    /// DNS, connection, timeout, a non-200 answer or a body over the limit.
    #[error("could not fetch `{url}`: {reason}")]
    Failed {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// Fetches `url` through the gateway's connector (GET, no redirects).
pub async fn fetch(connector: &Connector, dns: &DnsCache, url: &str, policy: FetchPolicy) -> Result<Media, FetchError> {
    let parsed = url::Url::parse(url).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
    let target = Target::from_url(&parsed).map_err(|_| FetchError::BadUrl(url.to_owned()))?;
    let failed = |reason: String| FetchError::Failed { url: url.to_owned(), reason };
    let addr = dns.resolve(&target.host, target.port).await.map_err(|e| failed(e.to_string()))?;
    if !policy.allow_private && !is_public(addr.ip()) {
        return Err(FetchError::Private(url.to_owned()));
    }
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    let header = get_head(&target, &path).map_err(|e| failed(e.to_string()))?;
    let peer = exchange::peer(addr, &target, FETCH_TIMEOUT);
    let request = OutgoingRequest { header, body: Bytes::new() };
    let deadlines = Deadlines { first_byte: FETCH_TIMEOUT, idle: FETCH_TIMEOUT };
    let mut ex = exchange::send(connector, &peer, &request, deadlines).await.map_err(|e| failed(e.to_string()))?;
    if ex.status() != 200 {
        return Err(failed(format!("HTTP {}", ex.status())));
    }
    let media_type = ex
        .header_str("content-type")
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let data = ex.read_to_end(policy.max_bytes).await.map_err(|e| failed(e.to_string()))?;
    ex.release(connector, &peer).await;
    Ok(Media { media_type, data })
}

fn get_head(target: &Target, path: &str) -> pingora::Result<RequestHeader> {
    let mut head = RequestHeader::build_no_case("GET", path.as_bytes(), Some(4))?;
    head.insert_header("host", target.authority.as_str())?;
    head.insert_header("accept", "image/*, application/pdf, */*;q=0.5")?;
    head.insert_header("user-agent", concat!("switchyard/", env!("CARGO_PKG_VERSION")))?;
    head.insert_header("content-length", "0")?;
    Ok(head)
}

/// True for globally routable addresses: not loopback, private, link-local (cloud metadata
/// lives there), CGNAT, unspecified, multicast or IPv6 unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
