//! Which addresses are not public: the special-purpose ranges of IANA's IPv4 and IPv6
//! registries (loopback, private, link-local, shared, documentation, reserved, multicast...),
//! and the IPv4 address inside an IPv6 one that carries it (IPv4-mapped, NAT64).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::rules::Network;

/// The IPv4 ranges that are not public, with what they are; the first match names it.
const V4: &[(Network, &str)] = &[
    (
        Network::v4([0, 0, 0, 0], 8),
        "an unspecified (\"this host\") address",
    ),
    (Network::v4([10, 0, 0, 0], 8), "a private address"),
    (Network::v4([100, 64, 0, 0], 10), "a shared (CGNAT) address"),
    (Network::v4([127, 0, 0, 0], 8), "a loopback address"),
    (
        Network::v4([169, 254, 0, 0], 16),
        "a link-local address (where cloud metadata answers)",
    ),
    (Network::v4([172, 16, 0, 0], 12), "a private address"),
    (
        Network::v4([192, 0, 0, 0], 24),
        "a reserved (IETF protocol) address",
    ),
    (Network::v4([192, 0, 2, 0], 24), "a documentation address"),
    (
        Network::v4([192, 88, 99, 0], 24),
        "a reserved (6to4 relay) address",
    ),
    (Network::v4([192, 168, 0, 0], 16), "a private address"),
    (Network::v4([198, 18, 0, 0], 15), "a benchmarking address"),
    (
        Network::v4([198, 51, 100, 0], 24),
        "a documentation address",
    ),
    (Network::v4([203, 0, 113, 0], 24), "a documentation address"),
    (Network::v4([224, 0, 0, 0], 4), "a multicast address"),
    (
        Network::v4([255, 255, 255, 255], 32),
        "the broadcast address",
    ),
    (Network::v4([240, 0, 0, 0], 4), "a reserved address"),
];

/// The IPv6 ranges that are not public, with what they are; the first match names it.
/// IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry, before these.
const V6: &[(Network, &str)] = &[
    (
        Network::v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
        "an unspecified address",
    ),
    (
        Network::v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
        "a loopback address",
    ),
    (
        Network::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "a reserved (IPv4-compatible) address",
    ),
    (
        Network::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "a private (local NAT64) address",
    ),
    (
        Network::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "a reserved (discard) address",
    ),
    (
        Network::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "a documentation address",
    ),
    (
        Network::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "a reserved (IETF protocol, Teredo) address",
    ),
    (
        Network::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
        "a reserved (6to4) address",
    ),
    (
        Network::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "a documentation address",
    ),
    (
        Network::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "a private (unique local) address",
    ),
    (
        Network::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "a link-local address",
    ),
    (
        Network::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "a site-local address",
    ),
    (
        Network::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        "a multicast address",
    ),
];

/// Global unicast: the only IPv6 space handed out for the public internet.
const V6_GLOBAL: Network = Network::v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// What kind of non-public address `addr` is, or `None` when it is public.
pub(super) fn special(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match carried_v4(v6) {
            Some((_, v4)) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 one stands for, and how: IPv4-mapped (`::ffff:a.b.c.d`, which
/// the operating system connects to as IPv4) or NAT64 (`64:ff9b::a.b.c.d`, which a
/// translator does).
pub(super) fn carried_v4(v6: Ipv6Addr) -> Option<(&'static str, Ipv4Addr)> {
    const NAT64: Network = Network::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(("IPv4-mapped", v4));
    }
    let [.., a, b, c, d] = v6.octets();
    NAT64
        .contains(IpAddr::V6(v6))
        .then_some(("NAT64", Ipv4Addr::new(a, b, c, d)))
}

fn special_v4(addr: Ipv4Addr) -> Option<&'static str> {
    first_match(V4, IpAddr::V4(addr))
}

fn special_v6(addr: Ipv6Addr) -> Option<&'static str> {
    let addr = IpAddr::V6(addr);
    first_match(V6, addr).or((!V6_GLOBAL.contains(addr)).then_some("a reserved address"))
}

fn first_match(table: &[(Network, &'static str)], addr: IpAddr) -> Option<&'static str> {
    table
        .iter()
        .find(|(network, _)| network.contains(addr))
        .map(|&(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(addr: &str) -> Option<&'static str> {
        special(addr.parse().unwrap())
    }

    #[test]
    fn public_ipv4_and_ipv6_addresses_are_not_special() {
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn each_special_ipv4_range_is_named() {
        for (addr, expected) in [
            ("0.0.0.0", "an unspecified (\"this host\") address"),
            ("10.1.2.3", "a private address"),
            ("100.64.0.1", "a shared (CGNAT) address"),
            ("100.127.255.255", "a shared (CGNAT) address"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.0.9", "a loopback address"),
            (
                "169.254.169.254",
                "a link-local address (where cloud metadata answers)",
            ),
            ("172.16.0.1", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("192.0.0.8", "a reserved (IETF protocol) address"),
            ("192.0.2.1", "a documentation address"),
            ("198.51.100.7", "a documentation address"),
            ("203.0.113.9", "a documentation address"),
            ("198.19.0.1", "a benchmarking address"),
            ("224.0.0.251", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", "a reserved address"),
            ("255.255.255.255", "the broadcast address"),
        ] {
            assert_eq!(kind(addr), Some(expected), "{addr}");
        }
    }

    #[test]
    fn each_special_ipv6_range_is_named() {
        for (addr, expected) in [
            ("::", "an unspecified address"),
            ("::1", "a loopback address"),
            ("::7f00:1", "a reserved (IPv4-compatible) address"),
            ("fc00::1", "a private (unique local) address"),
            ("fd12:3456::1", "a private (unique local) address"),
            ("fe80::1", "a link-local address"),
            ("febf::1", "a link-local address"),
            ("fec0::1", "a site-local address"),
            ("ff02::1", "a multicast address"),
            ("2001:db8::1", "a documentation address"),
            ("3fff::1", "a documentation address"),
            ("2001::1", "a reserved (IETF protocol, Teredo) address"),
            ("2002:7f00:1::1", "a reserved (6to4) address"),
            ("64:ff9b:1::1", "a private (local NAT64) address"),
            ("100::1", "a reserved (discard) address"),
            ("4000::1", "a reserved address"),
        ] {
            assert_eq!(kind(addr), Some(expected), "{addr}");
        }
    }

    #[test]
    fn an_ipv6_address_carrying_ipv4_is_judged_by_its_ipv4_address() {
        for (addr, expected) in [
            ("::ffff:127.0.0.1", "a loopback address"),
            (
                "::ffff:169.254.169.254",
                "a link-local address (where cloud metadata answers)",
            ),
            ("::ffff:10.0.0.1", "a private address"),
            ("::ffff:0.0.0.0", "an unspecified (\"this host\") address"),
            ("64:ff9b::7f00:1", "a loopback address"),
            ("64:ff9b::192.168.0.1", "a private address"),
        ] {
            assert_eq!(kind(addr), Some(expected), "{addr}");
        }
        let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            carried_v4(mapped),
            Some(("IPv4-mapped", Ipv4Addr::LOCALHOST))
        );
    }
}
