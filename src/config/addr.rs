//! Listen addresses: an IP and a port, with an error that says so.
//!
//! `std`'s parser answers `localhost:8080` with "invalid socket address syntax", which names
//! neither the value nor the fix. A listener binds before any resolver is asked, so host names
//! are refused rather than resolved.

use std::net::SocketAddr;

use serde::de::{self, Deserialize, Deserializer};

/// Parses `text` as `IP:port`, or explains what is needed and echoes the value.
pub(crate) fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "{text:?} is not an IP address and port: write e.g. 127.0.0.1:8080 (this machine only), \
             0.0.0.0:8080 (every IPv4 interface) or [::]:8080; host names such as localhost are not resolved"
        )
    })
}

/// `deserialize_with` for listen fields.
pub(crate) fn deserialize_listen<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_listen(&text).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_port_parse() {
        assert_eq!(parse_listen("127.0.0.1:8080"), Ok(SocketAddr::from(([127, 0, 0, 1], 8080))));
        assert_eq!(parse_listen("[::1]:9090").map(|a| a.port()), Ok(9090));
    }

    #[test]
    fn a_host_name_gets_the_value_and_the_hint() {
        let err = parse_listen("localhost:8080").unwrap_err();
        assert!(err.starts_with("\"localhost:8080\" is not an IP address and port"), "{err}");
        assert!(err.contains("127.0.0.1:8080"), "{err}");
        let err = parse_listen("8080").unwrap_err();
        assert!(err.contains("\"8080\""), "{err}");
    }
}
