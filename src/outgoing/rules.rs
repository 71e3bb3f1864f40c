//! The destination rules: [`Destinations`] (public addresses, plus what the operator allows),
//! the entries of an allow list ([`Allow`], [`Network`]), and [`Refused`], which names the
//! address a call was not allowed to reach and why.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::special::{carried_v4, special};

/// A CIDR range: an address and how many of its leading bits a member shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    first: IpAddr,
    prefix: u8,
}

impl Network {
    /// `octets/prefix`, written with no bits set past the prefix.
    pub(super) const fn v4(octets: [u8; 4], prefix: u8) -> Network {
        let [a, b, c, d] = octets;
        Network {
            first: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    /// `segments/prefix`, written with no bits set past the prefix.
    pub(super) const fn v6(segments: [u16; 8], prefix: u8) -> Network {
        let [a, b, c, d, e, f, g, h] = segments;
        Network {
            first: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `addr` is in the range (an IPv4 range holds no IPv6 address and the reverse).
    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.first.is_ipv4() && masked(addr, self.prefix) == self.first
    }
}

/// `addr` with every bit past the first `prefix` cleared.
fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    let prefix = u32::from(prefix);
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// Reads `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`) as a range of one.
impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))?;
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            "" => bits,
            prefix => prefix
                .parse::<u8>()
                .ok()
                .filter(|&prefix| prefix <= bits)
                .ok_or_else(|| format!("`/{prefix}` is not a prefix length from 0 to {bits}"))?,
        };
        let first = masked(addr, prefix);
        if first != addr {
            return Err(format!(
                "`{text}` has bits set past its prefix: the range is {first}/{prefix}"
            ));
        }
        Ok(Network { first, prefix })
    }
}

/// One destination an allow list names besides public addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Allow {
    /// This host name, whatever it resolves to.
    Host(String),
    /// Any name under this one (`*.corp.example`: `a.corp.example`, not `corp.example`).
    Under(String),
    /// Addresses in this range (or this one address).
    Network(Network),
}

impl Allow {
    /// Whether the entry names the host `host` (lowercase, without a trailing dot).
    fn names(&self, host: &str) -> bool {
        match self {
            Allow::Host(name) => host == name,
            Allow::Under(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|label| label.ends_with('.') && label.len() > 1),
            Allow::Network(_) => false,
        }
    }

    /// Whether the entry holds the address `addr` (an IPv4-mapped one as its IPv4 address).
    fn holds(&self, addr: IpAddr) -> bool {
        match self {
            Allow::Network(network) => {
                network.contains(addr) || network.contains(addr.to_canonical())
            }
            Allow::Host(_) | Allow::Under(_) => false,
        }
    }
}

/// Reads a host name, `*.suffix`, an IP address or a CIDR range, spaces around it ignored.
impl FromStr for Allow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty destination: name one, or leave the allow list out".into());
        }
        if let Some(suffix) = text.strip_prefix("*.") {
            return host_name(suffix).map(Allow::Under);
        }
        if text.contains('/') || text.parse::<IpAddr>().is_ok() {
            return text.parse().map(Allow::Network);
        }
        host_name(text).map(Allow::Host)
    }
}

/// `text` as a host name to compare (lowercase, no trailing dot), if it is one.
fn host_name(text: &str) -> Result<String, String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let numeric_end = name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()));
    if name.len() > 253 || !name.split('.').all(label_ok) || numeric_end {
        return Err(format!(
            "`{text}` is not a host name, *.suffix, IP address or CIDR range"
        ));
    }
    Ok(name)
}

/// Where outgoing calls may go: every public address, and whatever the allow list names.
#[derive(Clone, Debug, Default)]
pub struct Destinations {
    allowed: Vec<Allow>,
}

impl Destinations {
    /// Public addresses only.
    pub fn public_only() -> Destinations {
        Destinations::default()
    }

    /// Public addresses and the destinations `allowed` names.
    pub fn allowing(allowed: impl IntoIterator<Item = Allow>) -> Destinations {
        Destinations {
            allowed: allowed.into_iter().collect(),
        }
    }

    /// Whether a call to `host` may connect to the addresses it resolved to: all of them
    /// must be allowed (an allowed host name allows whatever it resolves to).
    pub fn check(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = IpAddr>,
    ) -> Result<(), Refused> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if self.allowed.iter().any(|allow| allow.names(&host)) {
            return Ok(());
        }
        for addr in addrs {
            if self.allowed.iter().any(|allow| allow.holds(addr)) {
                continue;
            }
            if let Some(kind) = special(addr) {
                return Err(Refused { host, addr, kind });
            }
        }
        Ok(())
    }
}

/// A call refused because its host resolved to an address that is not public and not allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    host: String,
    addr: IpAddr,
    kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut notes = Vec::new();
        if let IpAddr::V6(v6) = self.addr
            && let Some((how, v4)) = carried_v4(v6)
        {
            notes.push(format!("{how} {v4}"));
        }
        if self.host.parse() != Ok(self.addr) {
            notes.push(format!("an address of {}", self.host));
        }
        write!(f, "refused {}", self.addr)?;
        if !notes.is_empty() {
            write!(f, " ({})", notes.join(", "))?;
        }
        write!(
            f,
            ", {}: only public addresses are called unless --http-allow names the destination",
            self.kind
        )
    }
}

impl std::error::Error for Refused {}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowing(entries: &[&str]) -> Destinations {
        Destinations::allowing(entries.iter().map(|entry| entry.parse().unwrap()))
    }

    fn check(rules: &Destinations, host: &str, addrs: &[&str]) -> Result<(), String> {
        let addrs = addrs.iter().map(|addr| addr.parse().unwrap());
        rules
            .check(host, addrs)
            .map_err(|refused| refused.to_string())
    }

    #[test]
    fn public_addresses_pass_and_any_special_one_refuses_the_call() {
        let rules = Destinations::public_only();
        assert_eq!(check(&rules, "example.com", &["93.184.215.14"]), Ok(()));
        assert_eq!(check(&rules, "2606:4700::1", &["2606:4700::1"]), Ok(()));
        assert_eq!(
            check(&rules, "example.com", &["93.184.215.14", "10.0.0.7"]),
            Err(
                "refused 10.0.0.7 (an address of example.com), a private address: only \
                 public addresses are called unless --http-allow names the destination"
                    .into()
            )
        );
    }

    #[test]
    fn a_refusal_names_the_address_and_the_ipv4_address_it_carries() {
        let rules = Destinations::public_only();
        let refused = check(&rules, "127.0.0.1", &["127.0.0.1"]).unwrap_err();
        assert!(
            refused.starts_with("refused 127.0.0.1, a loopback address: "),
            "{refused}"
        );
        let refused = check(
            &rules,
            "[::ffff:169.254.169.254]",
            &["::ffff:169.254.169.254"],
        );
        assert!(
            refused.as_ref().unwrap_err().starts_with(
                "refused ::ffff:169.254.169.254 (IPv4-mapped 169.254.169.254), a link-local"
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn an_allowed_address_or_range_lets_its_addresses_through_and_nothing_else() {
        let rules = allowing(&["127.0.0.1", "10.1.0.0/16", "fd00::/8"]);
        assert_eq!(check(&rules, "127.0.0.1", &["127.0.0.1"]), Ok(()));
        assert_eq!(check(&rules, "localhost", &["::ffff:127.0.0.1"]), Ok(()));
        assert_eq!(check(&rules, "db.corp", &["10.1.200.3"]), Ok(()));
        assert_eq!(check(&rules, "fd12::1", &["fd12::1"]), Ok(()));
        assert!(check(&rules, "127.0.0.2", &["127.0.0.2"]).is_err());
        assert!(check(&rules, "db.corp", &["10.2.0.1"]).is_err());
        assert!(check(&rules, "localhost", &["127.0.0.1", "::1"]).is_err());
    }

    #[test]
    fn an_allowed_name_or_suffix_lets_the_names_through_whatever_they_resolve_to() {
        let rules = allowing(&["Metrics.Internal", "*.corp.example"]);
        assert_eq!(check(&rules, "metrics.internal", &["10.0.0.1"]), Ok(()));
        assert_eq!(check(&rules, "METRICS.internal.", &["10.0.0.1"]), Ok(()));
        assert_eq!(check(&rules, "a.corp.example", &["192.168.1.1"]), Ok(()));
        assert_eq!(check(&rules, "b.a.corp.example", &["::1"]), Ok(()));
        assert!(check(&rules, "corp.example", &["192.168.1.1"]).is_err());
        assert!(check(&rules, "evilcorp.example", &["192.168.1.1"]).is_err());
        assert!(check(&rules, "metrics.internal.evil", &["10.0.0.1"]).is_err());
        assert!(check(&rules, "10.0.0.1", &["10.0.0.1"]).is_err());
    }

    #[test]
    fn allow_entries_are_read_or_refused_with_a_reason() {
        assert_eq!(
            "10.0.0.0/8".parse(),
            Ok(Allow::Network(Network::v4([10, 0, 0, 0], 8)))
        );
        assert_eq!(
            "::1".parse(),
            Ok(Allow::Network(Network::v6([0, 0, 0, 0, 0, 0, 0, 1], 128)))
        );
        assert_eq!(
            "*.Corp.example".parse(),
            Ok(Allow::Under("corp.example".into()))
        );
        assert_eq!(" localhost ".parse(), Ok(Allow::Host("localhost".into())));
        for (text, reason) in [
            (
                "10.1.0.0/8",
                "`10.1.0.0/8` has bits set past its prefix: the range is 10.0.0.0/8",
            ),
            ("10.0.0.0/33", "`/33` is not a prefix length from 0 to 32"),
            ("fd00::/129", "`/129` is not a prefix length from 0 to 128"),
            (
                "localhost/8",
                "`localhost/8` is not an IP address or CIDR range",
            ),
            (
                "10.0.0.300",
                "`10.0.0.300` is not a host name, *.suffix, IP address or CIDR range",
            ),
            (
                " ",
                "an empty destination: name one, or leave the allow list out",
            ),
            (
                "a..b",
                "`a..b` is not a host name, *.suffix, IP address or CIDR range",
            ),
            ("http://x", "`http://x` is not an IP address or CIDR range"),
            (
                "*.",
                "`` is not a host name, *.suffix, IP address or CIDR range",
            ),
        ] {
            assert_eq!(text.parse::<Allow>(), Err(reason.to_owned()), "{text}");
        }
    }

    #[test]
    fn ranges_hold_their_addresses_of_their_family_only() {
        let range: Network = "100.64.0.0/10".parse().unwrap();
        assert!(range.contains("100.127.255.255".parse().unwrap()));
        assert!(!range.contains("100.128.0.0".parse().unwrap()));
        assert!(!range.contains("::ffff:100.64.0.1".parse().unwrap()));
        let everything: Network = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("255.255.255.255".parse().unwrap()));
        let v6: Network = "fe80::/10".parse().unwrap();
        assert!(v6.contains("febf:ffff::1".parse().unwrap()));
        assert!(!v6.contains("fec0::1".parse().unwrap()));
    }
}
