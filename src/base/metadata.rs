//! Cloud instance-metadata services: the addresses a server, a registry entry's remote or
//! an OAuth document may never point the gateway at, whatever `allow_private` says (they
//! hand out the host's credentials to whoever asks from inside).
//!
//! One table ([`V4`], [`V6`], [`NAMES`]) and one question asked of it: [`metadata_ip`]
//! for an address (an IPv4 address carried inside an IPv6 one, mapped, compatible,
//! NAT64 or 6to4, is judged as that IPv4 address), [`metadata_host`] for a URL's host as
//! written, in every spelling a resolver turns into an address: dotted, one, two or
//! three parts, each in decimal, octal (`0251`) or hex (`0xa9`), and bracketed IPv6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 metadata networks: (network, prefix length, what is there).
const V4: &[(Ipv4Addr, u8, &str)] = &[
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "the IPv4 link-local network, where AWS, Google Cloud, Azure, Oracle Cloud and \
         OpenStack serve instance metadata",
    ),
    (
        Ipv4Addr::new(100, 100, 100, 200),
        32,
        "Alibaba Cloud's instance metadata service",
    ),
    (
        Ipv4Addr::new(192, 0, 0, 192),
        32,
        "Oracle Cloud's legacy instance metadata service",
    ),
];

/// IPv6 metadata networks.
const V6: &[(Ipv6Addr, u8, &str)] = &[(
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    128,
    "AWS's instance metadata service over IPv6",
)];

/// Host names of metadata services.
const NAMES: &[(&str, &str)] = &[
    (
        "metadata.google.internal",
        "Google Cloud's instance metadata service",
    ),
    ("metadata.goog", "Google Cloud's instance metadata service"),
];

/// What metadata service `ip` is (a sentence naming it), `None` for any other address.
pub fn metadata_ip(ip: IpAddr) -> Option<&'static str> {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => embedded_v4(v6),
    };
    if let Some(v4) = v4 {
        let bits = u32::from(v4);
        if let Some((_, _, what)) = V4
            .iter()
            .find(|(net, len, _)| prefix_u32(bits, *len) == prefix_u32(u32::from(*net), *len))
        {
            return Some(what);
        }
    }
    let IpAddr::V6(v6) = ip else { return None };
    let bits = u128::from(v6);
    V6.iter()
        .find(|(net, len, _)| prefix_u128(bits, *len) == prefix_u128(u128::from(*net), *len))
        .map(|(_, _, what)| *what)
}

/// The IPv4 address an IPv6 one carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d`
/// (compatible), `64:ff9b::a.b.c.d` (NAT64), `2002:AABB:CCDD::/48` (6to4).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

fn prefix_u32(bits: u32, len: u8) -> u32 {
    bits.checked_shr(32 - u32::from(len)).unwrap_or(0)
}

fn prefix_u128(bits: u128, len: u8) -> u128 {
    bits.checked_shr(128 - u32::from(len)).unwrap_or(0)
}

/// What metadata service a URL's host (as written: a name, an IPv4 address in any
/// spelling a resolver reads, or a bracketed IPv6 address) is, `None` for any other.
pub fn metadata_host(host: &str) -> Option<&'static str> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // A zone (`%eth0`, `%25eth0` in a URL) names an interface, not another address.
        let bare = v6.split('%').next().unwrap_or(v6);
        return bare
            .parse::<Ipv6Addr>()
            .ok()
            .and_then(|a| metadata_ip(a.into()));
    }
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return metadata_ip(v6.into());
    }
    if let Some(v4) = parse_ipv4(host) {
        return metadata_ip(v4.into());
    }
    NAMES
        .iter()
        .find(|(name, _)| host.eq_ignore_ascii_case(name))
        .map(|(_, what)| *what)
}

/// An IPv4 address as `inet_aton` (and so `getaddrinfo`) reads it: one to four parts
/// separated by `.`, each decimal, octal (a leading `0`) or hex (`0x`); the last part
/// fills the bytes the others leave. `None` for anything else.
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        values.push(number(p)?);
    }
    let (last, head) = values.split_last()?;
    if head.iter().any(|v| *v > 255) {
        return None;
    }
    let room = 8 * (4 - head.len() as u32);
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let mut bits: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        bits |= (*v as u32) << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from(bits | *last as u32))
}

/// One part: decimal, `0`-led octal or `0x`-led hex, at most 32 bits.
fn number(p: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
        (h, 16)
    } else if p.len() > 1 && p.starts_with('0') {
        (&p[1..], 8)
    } else {
        (p, 10)
    };
    if digits.is_empty() && radix != 16 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Spellings of `a` a resolver reads as `a`: dotted, 1 to 3 parts, each part in one
    /// of three radixes (`radixes` picks per part).
    fn spellings(a: Ipv4Addr, radixes: [u8; 4]) -> Vec<String> {
        let o = a.octets();
        let b = u32::from(a);
        let part = |v: u32, r: u8| match r % 3 {
            0 => v.to_string(),
            1 => format!("0{v:o}"),
            _ => format!("0x{v:x}"),
        };
        vec![
            a.to_string(),
            part(b, radixes[0]),
            format!(
                "{}.{}",
                part(o[0].into(), radixes[1]),
                part(b & 0xff_ffff, radixes[2])
            ),
            format!(
                "{}.{}.{}",
                part(o[0].into(), radixes[0]),
                part(o[1].into(), radixes[1]),
                part(b & 0xffff, radixes[3])
            ),
            format!(
                "{}.{}.{}.{}",
                part(o[0].into(), radixes[3]),
                part(o[1].into(), radixes[2]),
                part(o[2].into(), radixes[1]),
                part(o[3].into(), radixes[0])
            ),
        ]
    }

    fn v6_spellings(a: Ipv4Addr) -> Vec<String> {
        let o = a.octets();
        let (hi, lo) = (
            u16::from_be_bytes([o[0], o[1]]),
            u16::from_be_bytes([o[2], o[3]]),
        );
        vec![
            format!("[::ffff:{a}]"),
            format!("[::ffff:{hi:x}:{lo:x}]"),
            format!("[::FFFF:{hi:X}:{lo:X}]"),
            format!("[0:0:0:0:0:ffff:{hi:x}:{lo:x}]"),
            format!("[::{a}]"),
            format!("[64:ff9b::{a}]"),
            format!("[2002:{hi:x}:{lo:x}::1]"),
        ]
    }

    #[test]
    fn the_known_addresses_are_refused_in_their_usual_spellings() {
        for host in [
            "169.254.169.254",
            "169.254.0.1",
            "2852039166",
            "0xa9fea9fe",
            "0251.0376.0251.0376",
            "169.254.43518",
            "0xa9.0xfe.0xa9.0xfe",
            "[fd00:ec2::254]",
            "[FD00:EC2:0:0:0:0:0:254]",
            "fd00:ec2::254",
            "[::ffff:169.254.169.254]",
            "[::ffff:a9fe:a9fe]",
            "100.100.100.200",
            "[::ffff:100.100.100.200]",
            "192.0.0.192",
            "metadata.google.internal",
            "METADATA.google.internal.",
            "169.254.169.254.",
        ] {
            assert!(metadata_host(host).is_some(), "{host}");
        }
        for host in [
            "127.0.0.1",
            "10.0.0.1",
            "100.100.100.201",
            "[fd00:ec2::253]",
            "[fd00::1]",
            "[::1]",
            "example.com",
            "169.254.169.254.example.com",
            "0x",
            "1.2.3.4.5",
            "08.1.1.1",
        ] {
            assert!(metadata_host(host).is_none(), "{host}");
        }
    }

    proptest! {
        /// Every spelling of every address of the table's networks is refused, IPv4 and
        /// carried in IPv6 alike.
        #[test]
        fn every_spelling_of_a_metadata_address_is_refused(
            low in any::<u16>(),
            which in 0usize..3,
            radixes in any::<[u8; 4]>(),
        ) {
            let a = match which {
                0 => Ipv4Addr::from(0xa9fe_0000 | u32::from(low)),
                1 => Ipv4Addr::new(100, 100, 100, 200),
                _ => Ipv4Addr::new(192, 0, 0, 192),
            };
            for s in spellings(a, radixes).into_iter().chain(v6_spellings(a)) {
                prop_assert!(metadata_host(&s).is_some(), "{}", s);
                let url = format!("http://{s}/mcp");
                let uri: hyper::Uri = url.parse().unwrap();
                prop_assert!(metadata_host(uri.host().unwrap()).is_some(), "{}", url);
            }
        }

        /// The reading of a spelling is the system resolver's (`getaddrinfo`, which
        /// reads numeric hosts without asking DNS), and an address outside the table is
        /// never refused.
        #[test]
        fn spellings_read_as_the_resolver_reads_them(
            bits in any::<u32>(),
            radixes in any::<[u8; 4]>(),
        ) {
            use std::net::ToSocketAddrs;
            let a = Ipv4Addr::from(bits);
            for s in spellings(a, radixes) {
                prop_assert_eq!(parse_ipv4(&s), Some(a), "{}", s);
                let resolved: Vec<_> = (s.as_str(), 80).to_socket_addrs().unwrap().collect();
                prop_assert_eq!(resolved[0].ip(), IpAddr::V4(a), "{}", s);
            }
            let in_table = V4.iter().any(|(net, len, _)| {
                prefix_u32(bits, *len) == prefix_u32(u32::from(*net), *len)
            });
            prop_assert_eq!(metadata_host(&a.to_string()).is_some(), in_table);
        }
    }
}
