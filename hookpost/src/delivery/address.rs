//! Which addresses deliveries may reach. A webhook sender fetches URLs its users
//! choose, so by default it refuses every address that is not plainly public:
//! otherwise it is a tool for reaching the operator's own network (SSRF).
//!
//! Classification is a pure function over the address actually connected to;
//! IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo)
//! are judged by the IPv4 address inside, since that is where packets end up.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A range deliveries are refused by default, with why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedRange {
    /// 127.0.0.0/8, ::1: this machine.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16: private networks (RFC 1918).
    Private,
    /// 100.64/10: carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    /// 169.254/16 (cloud metadata lives here), fe80::/10.
    LinkLocal,
    /// fc00::/7.
    UniqueLocal,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 0.0.0.0/8, ::: "this host" on many stacks.
    Unspecified,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32.
    Documentation,
    /// 240/4, 192.0.0/24, 198.18/15, and other special-purpose ranges.
    Reserved,
}

impl BlockedRange {
    /// The name used in errors and the attempt log.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockedRange::Loopback => "loopback",
            BlockedRange::Private => "private",
            BlockedRange::SharedAddressSpace => "shared address space (CGNAT)",
            BlockedRange::LinkLocal => "link-local",
            BlockedRange::UniqueLocal => "unique-local",
            BlockedRange::Multicast => "multicast",
            BlockedRange::Broadcast => "broadcast",
            BlockedRange::Unspecified => "unspecified",
            BlockedRange::Documentation => "documentation",
            BlockedRange::Reserved => "reserved",
        }
    }
}

/// The blocked range `ip` falls in, or `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        (127, _, _) => BlockedRange::Loopback,
        (10, _, _) | (192, 168, _) => BlockedRange::Private,
        (172, 16..=31, _) => BlockedRange::Private,
        (100, 64..=127, _) => BlockedRange::SharedAddressSpace,
        (169, 254, _) => BlockedRange::LinkLocal,
        (0, _, _) => BlockedRange::Unspecified,
        (224..=239, _, _) => BlockedRange::Multicast,
        _ if ip.is_broadcast() => BlockedRange::Broadcast,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => BlockedRange::Documentation,
        (240..=255, _, _) | (192, 0, 0) | (198, 18..=19, _) => BlockedRange::Reserved,
        _ => return None,
    };
    Some(range)
}

fn classify_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    let range = match seg[0] {
        _ if ip.is_loopback() => BlockedRange::Loopback,
        _ if ip.is_unspecified() => BlockedRange::Unspecified,
        0xfe80..=0xfebf => BlockedRange::LinkLocal,
        0xfc00..=0xfdff => BlockedRange::UniqueLocal,
        0xff00..=0xffff => BlockedRange::Multicast,
        0x2001 if seg[1] == 0x0db8 => BlockedRange::Documentation,
        // 100::/64 discard-only; 2001:10::/28 ORCHID and 2001:2::/48 benchmarking.
        0x0100 if seg[1..4] == [0, 0, 0] => BlockedRange::Reserved,
        0x2001 if (0x0010..=0x001f).contains(&seg[1]) || (seg[1] == 2 && seg[2] == 0) => {
            BlockedRange::Reserved
        }
        // Anything outside 2000::/3 (global unicast) is not a public destination.
        s if !(0x2000..=0x3fff).contains(&s) => BlockedRange::Reserved,
        _ => return None,
    };
    Some(range)
}

/// The IPv4 address an IPv6 address carries traffic to, for the forms that embed
/// one: mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002:AABB:CCDD::/48`, Teredo `2001::/32` (client address inverted).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(v4(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if (hi, lo) > (0, 1) => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        [0x2001, 0, .., hi, lo] => Some(v4(!hi, !lo)),
        _ => None,
    }
}

/// The operator's policy: blocked ranges are refused unless an allowlisted network
/// contains the address.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// A policy that opens `allow` (e.g. `127.0.0.0/8` for local development).
    pub fn new(allow: Vec<IpNet>) -> Self {
        AddressPolicy { allow }
    }

    /// `Err(range)` when `ip` may not be reached.
    pub fn check(&self, ip: IpAddr) -> Result<(), BlockedRange> {
        match classify(ip) {
            None => Ok(()),
            Some(_)
                if self
                    .allow
                    .iter()
                    .any(|net| net.contains(&ip) || contains_embedded(net, ip)) =>
            {
                Ok(())
            }
            Some(range) => Err(range),
        }
    }
}

impl AddressPolicy {
    /// Checks a URL whose host is a literal address (in any spelling the URL
    /// standard accepts: `127.1`, `2130706433`, `0x7f000001`, `[::ffff:7f00:1]`…,
    /// all normalized by the parser). Names pass here; their answers are vetted
    /// when they are resolved.
    pub fn check_host(&self, url: &url::Url) -> Result<(), (IpAddr, BlockedRange)> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        self.check(ip).map_err(|range| (ip, range))
    }

    /// Vets every answer of a name: if *any* is blocked, the name is refused, so a
    /// name with one public and one private answer cannot reach the private one.
    pub fn check_answers(&self, answers: &[IpAddr]) -> Result<(), (IpAddr, BlockedRange)> {
        answers
            .iter()
            .try_for_each(|ip| self.check(*ip).map_err(|range| (*ip, range)))
    }
}

/// An allowlisted IPv4 network also opens the IPv4-mapped form of its addresses
/// (`::ffff:a.b.c.d` is the same host). The other forms that embed an IPv4
/// address (NAT64, 6to4, Teredo, IPv4-compatible) are routed to the network,
/// not to that host, so they stay closed.
fn contains_embedded(net: &IpNet, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .is_some_and(|v4| net.contains(&IpAddr::V4(v4))),
        IpAddr::V4(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(text: &str) -> Option<BlockedRange> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn blocks_every_non_public_range() {
        let cases = [
            ("127.0.0.1", BlockedRange::Loopback),
            ("10.0.0.1", BlockedRange::Private),
            ("172.31.255.1", BlockedRange::Private),
            ("192.168.1.1", BlockedRange::Private),
            ("100.64.0.1", BlockedRange::SharedAddressSpace),
            ("169.254.169.254", BlockedRange::LinkLocal),
            ("0.0.0.0", BlockedRange::Unspecified),
            ("224.0.0.1", BlockedRange::Multicast),
            ("255.255.255.255", BlockedRange::Broadcast),
            ("192.0.2.1", BlockedRange::Documentation),
            ("240.0.0.1", BlockedRange::Reserved),
            ("::1", BlockedRange::Loopback),
            ("::", BlockedRange::Unspecified),
            ("fe80::1", BlockedRange::LinkLocal),
            ("fd00:ec2::254", BlockedRange::UniqueLocal),
            ("ff02::1", BlockedRange::Multicast),
            ("2001:db8::1", BlockedRange::Documentation),
            ("::ffff:127.0.0.1", BlockedRange::Loopback),
            ("::ffff:7f00:1", BlockedRange::Loopback),
            ("64:ff9b::a9fe:a9fe", BlockedRange::LinkLocal),
            ("2002:a9fe:a9fe::", BlockedRange::LinkLocal),
            ("::127.0.0.1", BlockedRange::Loopback),
        ];
        for (ip, range) in cases {
            assert_eq!(blocked(ip), Some(range), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(blocked(ip), None, "{ip}");
        }
    }

    fn url_blocked(url: &str) -> Option<BlockedRange> {
        AddressPolicy::default()
            .check_host(&url::Url::parse(url).unwrap())
            .err()
            .map(|(_, r)| r)
    }

    #[test]
    fn every_spelling_of_a_blocked_literal_is_caught() {
        let cases = [
            ("http://127.0.0.1/", BlockedRange::Loopback),
            ("http://127.1/", BlockedRange::Loopback),
            ("http://2130706433/", BlockedRange::Loopback),
            ("http://0177.0.0.1/", BlockedRange::Loopback),
            ("http://0x7f000001/", BlockedRange::Loopback),
            ("http://0x7f.1/", BlockedRange::Loopback),
            ("http://[::1]/", BlockedRange::Loopback),
            ("http://[::ffff:127.0.0.1]/", BlockedRange::Loopback),
            ("http://[::ffff:7f00:1]/", BlockedRange::Loopback),
            ("http://[64:ff9b::a9fe:a9fe]/", BlockedRange::LinkLocal),
            ("http://[2002:a9fe:a9fe::]/", BlockedRange::LinkLocal),
            (
                "http://169.254.169.254/latest/meta-data",
                BlockedRange::LinkLocal,
            ),
            ("http://100.64.0.1/", BlockedRange::SharedAddressSpace),
            ("http://10.0.0.1/", BlockedRange::Private),
            ("http://0.0.0.0/", BlockedRange::Unspecified),
            ("http://0/", BlockedRange::Unspecified),
            ("http://[fd00:ec2::254]/", BlockedRange::UniqueLocal),
            ("https://user:pw@192.168.0.1:8443/x", BlockedRange::Private),
        ];
        for (url, range) in cases {
            assert_eq!(url_blocked(url), Some(range), "{url}");
        }
        assert_eq!(
            url_blocked("https://example.com/"),
            None,
            "names are vetted at resolution"
        );
        assert_eq!(url_blocked("https://8.8.8.8/"), None);
    }

    #[test]
    fn a_name_with_one_public_and_one_private_answer_is_refused() {
        let policy = AddressPolicy::default();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let private: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(policy.check_answers(&[public]).is_ok());
        assert_eq!(
            policy.check_answers(&[public, private]),
            Err((private, BlockedRange::Private))
        );
        assert_eq!(
            policy.check_answers(&[private, public]),
            Err((private, BlockedRange::Private))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Each blocked IPv4 range as (base, prefix length).
        const V4_RANGES: &[(u32, u32)] = &[
            (0x7f00_0000, 8),  // 127/8
            (0x0a00_0000, 8),  // 10/8
            (0xac10_0000, 12), // 172.16/12
            (0xc0a8_0000, 16), // 192.168/16
            (0x6440_0000, 10), // 100.64/10
            (0xa9fe_0000, 16), // 169.254/16
            (0x0000_0000, 8),  // 0/8
            (0xe000_0000, 4),  // 224/4
            (0xf000_0000, 4),  // 240/4
            (0xc000_0200, 24), // 192.0.2/24
            (0xc633_6400, 24), // 198.51.100/24
            (0xcb00_7100, 24), // 203.0.113/24
            (0xc612_0000, 15), // 198.18/15
        ];

        fn blocked_v4() -> impl Strategy<Value = Ipv4Addr> {
            (0..V4_RANGES.len(), any::<u32>()).prop_map(|(i, r)| {
                let (base, len) = V4_RANGES[i];
                let host_bits = if len == 0 { u32::MAX } else { u32::MAX >> len };
                Ipv4Addr::from(base | (r & host_bits))
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn every_address_of_a_blocked_range_is_blocked_in_every_encoding(v4 in blocked_v4()) {
                let n = u32::from(v4);
                let [a, b, c, d] = v4.octets();
                prop_assert!(classify(IpAddr::V4(v4)).is_some());
                prop_assert!(classify(IpAddr::V6(v4.to_ipv6_mapped())).is_some());
                let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, (n >> 16) as u16, n as u16);
                prop_assert!(classify(IpAddr::V6(nat64)).is_some());
                let six_to_four = Ipv6Addr::new(0x2002, (n >> 16) as u16, n as u16, 0, 0, 0, 0, 1);
                prop_assert!(classify(IpAddr::V6(six_to_four)).is_some());
                for spelling in [format!("http://{n}/"), format!("http://0x{n:x}/"),
                                 format!("http://0{a:o}.0{b:o}.0{c:o}.0{d:o}/"),
                                 format!("http://[::ffff:{v4}]/")] {
                    prop_assert!(url_blocked(&spelling).is_some(), "{} passed", spelling);
                }
            }

            #[test]
            fn an_allowlisted_v4_opens_its_mapped_form_and_no_other_embedding(v4 in blocked_v4()) {
                let policy = AddressPolicy::new(vec![IpNet::from(IpAddr::V4(v4))]);
                let n = u32::from(v4);
                let (hi, lo) = ((n >> 16) as u16, n as u16);
                let mapped = Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, hi, lo);
                prop_assert!(policy.check(IpAddr::V6(mapped)).is_ok());
                let routed_elsewhere = [
                    Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo),
                    Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1),
                    Ipv6Addr::new(0x2001, 0, 0x4136, 0xe378, 0x8000, 0x63bf, !hi, !lo),
                    Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),
                ];
                for ip in routed_elsewhere {
                    prop_assert!(policy.check(IpAddr::V6(ip)).is_err(), "{ip} opened by {v4}");
                }
            }

            #[test]
            fn the_allowlist_opens_exactly_its_networks(v4 in blocked_v4()) {
                let policy = AddressPolicy::new(vec![IpNet::from(IpAddr::V4(v4))]);
                prop_assert!(policy.check(IpAddr::V4(v4)).is_ok());
                let next = Ipv4Addr::from(u32::from(v4) ^ 1);
                prop_assert_eq!(policy.check(IpAddr::V4(next)).is_ok(), classify(IpAddr::V4(next)).is_none());
            }

            #[test]
            fn unique_local_and_link_local_v6_are_always_blocked(r in any::<u128>()) {
                let ula = Ipv6Addr::from((0xfc00u128 << 112) | (r >> 7));
                let link = Ipv6Addr::from((0xfe80u128 << 112) | (r >> 10));
                prop_assert_eq!(classify(IpAddr::V6(ula)), Some(BlockedRange::UniqueLocal));
                prop_assert_eq!(classify(IpAddr::V6(link)), Some(BlockedRange::LinkLocal));
            }
        }
    }

    #[test]
    fn the_allowlist_opens_chosen_networks_and_their_ipv6_forms() {
        let policy = AddressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(policy.check("127.0.0.2".parse().unwrap()).is_ok());
        assert!(policy.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert_eq!(
            policy.check("10.0.0.1".parse().unwrap()),
            Err(BlockedRange::Private)
        );
        assert_eq!(
            policy.check("::1".parse().unwrap()),
            Err(BlockedRange::Loopback)
        );
    }
}
