//! Which addresses a client-supplied URL may reach.
//!
//! A URL the gateway fetches for a client (media for Gemini) must never become a way into the
//! gateway's own network or any network that is not the public Internet. The address is
//! checked after DNS resolution, and the same address is then connected to (the caller builds
//! its peer from it), so a rebinding DNS answer cannot switch it between check and connect.
//! Every IANA special-purpose range (RFC 6890 registries) is refused, and IPv6 forms that carry
//! an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not the public Internet: the IANA IPv4 special-purpose registry plus
/// multicast and the reserved 240/4 (which includes broadcast).
const V4_REFUSED: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space (CGNAT)
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local (cloud metadata)
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc01f_c400, 24), // 192.31.196.0/24 AS112-v4
    (0xc034_c100, 24), // 192.52.193.0/24 AMT
    (0xc058_6300, 24), // 192.88.99.0/24 deprecated 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc0af_3000, 24), // 192.175.48.0/24 direct delegation AS112
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved, 255.255.255.255 broadcast
];

/// IPv6 ranges inside global unicast 2000::/3 that are still special-purpose.
const V6_REFUSED: &[(u128, u8)] = &[
    (0x2001_0000 << 96, 23),      // 2001::/23 IETF protocol assignments (Teredo, ORCHID, benchmarking)
    (0x2001_0db8 << 96, 32),      // 2001:db8::/32 documentation
    (0x2620_004f_8000 << 80, 48), // 2620:4f:8000::/48 AS112-v6
    (0x3fff << 112, 20),          // 3fff::/20 documentation
    (0x5f00 << 112, 16),          // 5f00::/16 SRv6 SIDs
    (0x0064_ff9b_0001 << 80, 48), // 64:ff9b:1::/48 local-use NAT64 (outside 2000::/3 anyway)
];

/// Why an address is refused, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// In a special-purpose range (loopback, private, link-local, documentation, …).
    SpecialPurpose,
    /// IPv6 outside global unicast 2000::/3.
    NotGlobalUnicast,
}

/// Whether `ip` may be reached for a client; `Err` says why not.
pub fn check(ip: IpAddr) -> Result<(), Refusal> {
    match ip {
        IpAddr::V4(v4) => check_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => check_v4(v4),
            None => check_v6(v6),
        },
    }
}

/// True for addresses on the public Internet (see [`check`]).
pub fn is_public(ip: IpAddr) -> bool {
    check(ip).is_ok()
}

fn check_v4(ip: Ipv4Addr) -> Result<(), Refusal> {
    let bits = u32::from(ip);
    let inside = |&(net, len): &(u32, u8)| (bits ^ net) >> (32 - u32::from(len)) == 0;
    if V4_REFUSED.iter().any(inside) {
        Err(Refusal::SpecialPurpose)
    } else {
        Ok(())
    }
}

fn check_v6(ip: Ipv6Addr) -> Result<(), Refusal> {
    let bits = u128::from(ip);
    // Only global unicast: this also refuses ::/128, ::1, 100::/64 discard, fc00::/7 ULA,
    // fe80::/10 link-local, fec0::/10 site-local and ff00::/8 multicast.
    if bits >> 125 != 0b001 {
        return Err(Refusal::NotGlobalUnicast);
    }
    let inside = |&(net, len): &(u128, u8)| (bits ^ net) >> (128 - u32::from(len)) == 0;
    if V6_REFUSED.iter().any(inside) {
        return Err(Refusal::SpecialPurpose);
    }
    Ok(())
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (not `::` and `::1`, which are IPv6's own), NAT64 `64:ff9b::a.b.c.d` and 6to4
/// `2002:aabb:ccdd::/48`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if bits >> 32 == 0xffff || (bits >> 32 == 0 && bits > 1) || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some(low);
    }
    if bits >> 112 == 0x2002 {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        !is_public(s.parse().unwrap())
    }

    #[test]
    fn every_ipv4_special_purpose_range_is_refused_at_both_ends() {
        for (first, last) in [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("100.64.0.0", "100.127.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.31.196.0", "192.31.196.255"),
            ("192.52.193.0", "192.52.193.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("192.175.48.0", "192.175.48.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
            ("224.0.0.0", "239.255.255.255"),
            ("240.0.0.0", "255.255.255.255"),
        ] {
            assert!(refused(first), "{first}");
            assert!(refused(last), "{last}");
        }
    }

    #[test]
    fn neighbours_of_ipv4_ranges_are_public() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_refused() {
        for ip in [
            "::",
            "::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2620:4f:8000::1",
            "3fff::1",
            "5f00::1",
            "64:ff9b:1::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["2606:4700::1111", "2a00:1450:4001::1", "2001:200::1"] {
            assert!(!refused(ip), "{ip}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_by_the_ipv4_address() {
        // IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms of loopback, metadata and private.
        for ip in [
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:c0a8:0101::",
            "2002:a9fe:a9fe:1234::1",
        ] {
            assert!(refused(ip), "{ip}");
        }
        for ip in ["::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:0808:0808::1", "::8.8.8.8"] {
            assert!(!refused(ip), "{ip}");
        }
    }
}
