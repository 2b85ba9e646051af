//! A provider's base URL taken apart once at config load, so the hot path only joins strings.

use url::Url;

/// Where and how to reach one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Connect with TLS (https).
    pub tls: bool,
    /// Host name or IP literal, also the TLS SNI and the `Host` header.
    pub host: String,
    /// TCP port (scheme default when the URL has none).
    pub port: u16,
    /// The `Host` header value (`host` or `host:port` for non-default ports).
    pub authority: String,
    /// Path prefix from the base URL without a trailing slash, e.g. `/v1`.
    pub base_path: String,
}

/// Why a base URL cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Only http and https are spoken upstream.
    #[error("unsupported scheme `{0}` (use http or https)")]
    Scheme(String),
    /// The URL has no host to connect to.
    #[error("base URL has no host")]
    NoHost,
}

impl Target {
    /// Takes a provider base URL apart.
    pub fn from_url(url: &Url) -> Result<Self, TargetError> {
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(TargetError::Scheme(other.to_owned())),
        };
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        // IPv6 literals come bracketed from `host_str`; the socket address wants them bare.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let default_port = if tls { 443 } else { 80 };
        let port = url.port().unwrap_or(default_port);
        let host_for_header = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        let authority = if port == default_port { host_for_header } else { format!("{host_for_header}:{port}") };
        let base_path = url.path().trim_end_matches('/').to_owned();
        Ok(Target { tls, host, port, authority, base_path })
    }

    /// The request path for an endpoint below the base URL, e.g. `/v1` + `/chat/completions`.
    pub fn path_for(&self, endpoint: &str) -> String {
        let mut path = String::with_capacity(self.base_path.len() + endpoint.len());
        path.push_str(&self.base_path);
        path.push_str(endpoint);
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_default_port_and_path() {
        let t = Target::from_url(&Url::parse("https://api.openai.com/v1/").unwrap()).unwrap();
        assert_eq!((t.tls, t.port, t.authority.as_str()), (true, 443, "api.openai.com"));
        assert_eq!(t.path_for("/chat/completions"), "/v1/chat/completions");
    }

    #[test]
    fn http_with_port_and_ipv6() {
        let t = Target::from_url(&Url::parse("http://[::1]:8081").unwrap()).unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port, t.authority.as_str()), (false, "::1", 8081, "[::1]:8081"));
        assert_eq!(t.path_for("/chat/completions"), "/chat/completions");
    }

    #[test]
    fn rejects_other_schemes() {
        assert!(Target::from_url(&Url::parse("ftp://x/").unwrap()).is_err());
    }
}
