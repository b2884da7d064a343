//! Security group rules as values: what a rule opens, from where, and
//! whose it is. Rules are compared as sets of [`SecurityGroupRule`]; the
//! description on AWS is not part of a rule's identity, it only says who
//! added it.

use std::fmt;
use std::net::IpAddr;

use crate::role::GroupRole;

/// A CIDR block in canonical form: `203.0.113.0/24`, `2001:db8::/32`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr(String);

pub const WORLD_V4: &str = "0.0.0.0/0";
pub const WORLD_V6: &str = "::/0";

impl Cidr {
    /// Parses an IPv4 or IPv6 CIDR; the address must be the block's first
    /// (no host bits set), so that what we send is what AWS shows back.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = s.split_once('/').ok_or_else(|| {
            format!("{s:?} is not a CIDR block (expected ADDRESS/PREFIX, e.g. 203.0.113.7/32 or 2001:db8::/48)")
        })?;
        let addr: IpAddr = addr.parse().map_err(|_| format!("{s:?}: {addr:?} is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("{s:?}: the prefix length must be a number from 0 to {max}"))?;
        let network = match addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                IpAddr::from((u32::from(a) & mask).to_be_bytes())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                IpAddr::from((u128::from(a) & mask).to_be_bytes())
            }
        };
        if network != addr {
            return Err(format!("{s:?} has host bits set: did you mean {network}/{len}?"));
        }
        Ok(Cidr(format!("{network}/{len}")))
    }

    /// A CIDR as AWS reports it: canonical when it parses, else as given.
    pub fn observed(s: &str) -> Cidr {
        Cidr::parse(s).unwrap_or_else(|_| Cidr(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_ipv6(&self) -> bool {
        self.0.contains(':')
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn is_world(&self) -> bool {
        self.0 == WORLD_V4 || self.0 == WORLD_V6
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    All,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// Any other IP protocol, by number.
    Other(String),
}

impl Protocol {
    /// As AWS reports it: a name, a number, or `-1` for all traffic.
    pub fn parse(s: &str) -> Protocol {
        match s.to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" | "6" => Protocol::Tcp,
            "udp" | "17" => Protocol::Udp,
            "icmp" | "1" => Protocol::Icmp,
            "icmpv6" | "58" => Protocol::Icmpv6,
            other => Protocol::Other(other.to_owned()),
        }
    }

    /// As AWS takes it.
    pub fn as_aws(&self) -> &str {
        match self {
            Protocol::All => "-1",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::Icmpv6 => "58",
            Protocol::Other(p) => p,
        }
    }
}

/// A group a rule refers to: one of the tool's own (known by role, even
/// before it exists), or any other by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupRef {
    Role(GroupRole),
    Id(String),
}

/// Where the traffic a rule allows comes from (or goes to, for egress).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Cidr(Cidr),
    Group(GroupRef),
    PrefixList(String),
}

/// One permission of a security group. `from_port`/`to_port` are a port
/// range for TCP and UDP, type and code for ICMP, and `-1` for all traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecurityGroupRule {
    pub protocol: Protocol,
    pub from_port: i32,
    pub to_port: i32,
    pub source: Source,
}

impl SecurityGroupRule {
    /// Normalises what AWS reports: all traffic has no ports.
    pub fn new(protocol: Protocol, from_port: Option<i32>, to_port: Option<i32>, source: Source) -> Self {
        let (from_port, to_port) =
            if protocol == Protocol::All { (-1, -1) } else { (from_port.unwrap_or(-1), to_port.unwrap_or(-1)) };
        SecurityGroupRule { protocol, from_port, to_port, source }
    }

    pub fn tcp(port: i32, source: Source) -> Self {
        Self::new(Protocol::Tcp, Some(port), Some(port), source)
    }

    pub fn all_traffic(source: Source) -> Self {
        Self::new(Protocol::All, None, None, source)
    }

    /// Whether the rule lets TCP traffic reach `port`.
    pub fn opens_tcp(&self, port: i32) -> bool {
        match self.protocol {
            Protocol::All => true,
            Protocol::Tcp => self.from_port <= port && port <= self.to_port,
            _ => false,
        }
    }

    /// The same rule with its source's group replaced by `f`.
    pub fn map_group(&self, f: impl FnOnce(&GroupRef) -> GroupRef) -> Self {
        let source = match &self.source {
            Source::Group(g) => Source::Group(f(g)),
            other => other.clone(),
        };
        SecurityGroupRule { source, ..self.clone() }
    }

    pub fn source_group(&self) -> Option<&GroupRef> {
        match &self.source {
            Source::Group(g) => Some(g),
            _ => None,
        }
    }

    /// `tcp 22 from acme-director`, `all traffic from 10.0.0.0/8`.
    pub fn describe(&self, group_name: impl Fn(&GroupRef) -> String) -> String {
        let what = match (&self.protocol, self.from_port, self.to_port) {
            (Protocol::All, _, _) => "all traffic".to_owned(),
            (Protocol::Tcp | Protocol::Udp, -1, _) | (Protocol::Tcp | Protocol::Udp, 0, 65535) => {
                format!("{} all ports", self.protocol.as_aws())
            }
            (Protocol::Tcp | Protocol::Udp, from, to) if from == to => format!("{} {from}", self.protocol.as_aws()),
            (Protocol::Tcp | Protocol::Udp, from, to) => format!("{} {from}-{to}", self.protocol.as_aws()),
            (Protocol::Icmp, -1, _) => "icmp".to_owned(),
            (Protocol::Icmp | Protocol::Icmpv6, t, c) => format!("{} type {t} code {c}", self.protocol.as_aws()),
            (Protocol::Other(p), _, _) => format!("protocol {p}"),
        };
        let from = match &self.source {
            Source::Cidr(c) => c.to_string(),
            Source::Group(g) => group_name(g),
            Source::PrefixList(p) => p.clone(),
        };
        format!("{what} from {from}")
    }
}

/// Who added a rule, from its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// `mk-sg:<client>`: this deployment's rule.
    ThisClient,
    /// `mk-sg`: EMR's own traffic between its groups, shared by every deployment.
    Shared,
    /// Anyone else, or another deployment.
    Other,
}

/// The description of the rules EMR's groups need whoever uses them.
pub const SHARED_DESCRIPTION: &str = "mk-sg";

/// The description of this deployment's rules.
pub fn client_description(client: &str) -> String {
    format!("{SHARED_DESCRIPTION}:{client}")
}

pub fn owner(description: Option<&str>, client: &str) -> Owner {
    match description {
        Some(d) if d == SHARED_DESCRIPTION => Owner::Shared,
        Some(d) if d.strip_prefix(SHARED_DESCRIPTION).and_then(|r| r.strip_prefix(':')) == Some(client) => {
            Owner::ThisClient
        }
        _ => Owner::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_checked_and_canonical() {
        for (given, canonical) in [
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("203.0.113.7/32", "203.0.113.7/32"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("::/0", "::/0"),
            ("2001:DB8:0::/32", "2001:db8::/32"),
            ("2001:db8::1/128", "2001:db8::1/128"),
        ] {
            assert_eq!(Cidr::parse(given).unwrap().as_str(), canonical, "{given}");
        }
        for (bad, needle) in [
            ("203.0.113.7", "not a CIDR"),
            ("203.0.113.0/33", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("300.1.1.1/32", "not an IPv4 or IPv6"),
            ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
            ("2001:db8::1/32", "did you mean 2001:db8::/32"),
            ("10.0.0.0/x", "prefix length"),
            ("", "not a CIDR"),
        ] {
            let e = Cidr::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert!(Cidr::parse("::/0").unwrap().is_world() && Cidr::parse("::/0").unwrap().is_ipv6());
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().is_world());
        assert_eq!(Cidr::observed("weird").as_str(), "weird");
    }

    #[test]
    fn rules_compare_whatever_aws_says_about_ports_and_protocols() {
        let src = || Source::Group(GroupRef::Id("sg-1".into()));
        assert_eq!(SecurityGroupRule::new(Protocol::parse("-1"), Some(0), Some(65535), src()), {
            SecurityGroupRule::all_traffic(src())
        });
        assert_eq!(SecurityGroupRule::new(Protocol::parse("6"), Some(22), Some(22), src()), {
            SecurityGroupRule::tcp(22, src())
        });
        assert_eq!(Protocol::parse("TCP"), Protocol::Tcp);
        assert_eq!(Protocol::parse("50"), Protocol::Other("50".into()));
    }

    #[test]
    fn what_a_rule_opens() {
        let world = || Source::Cidr(Cidr::parse(WORLD_V4).unwrap());
        assert!(SecurityGroupRule::all_traffic(world()).opens_tcp(8080));
        assert!(SecurityGroupRule::new(Protocol::Tcp, Some(8000), Some(8999), world()).opens_tcp(8080));
        assert!(!SecurityGroupRule::tcp(80, world()).opens_tcp(8080));
        assert!(!SecurityGroupRule::new(Protocol::Udp, Some(0), Some(65535), world()).opens_tcp(22));
    }

    #[test]
    fn descriptions() {
        let name = |g: &GroupRef| match g {
            GroupRef::Role(r) => format!("{r:?}"),
            GroupRef::Id(id) => id.clone(),
        };
        let r = SecurityGroupRule::tcp(22, Source::Group(GroupRef::Role(GroupRole::Director)));
        assert_eq!(r.describe(name), "tcp 22 from Director");
        let r = SecurityGroupRule::all_traffic(Source::Cidr(Cidr::parse("10.0.0.0/8").unwrap()));
        assert_eq!(r.describe(name), "all traffic from 10.0.0.0/8");
        let r = SecurityGroupRule::new(Protocol::Tcp, Some(80), Some(90), Source::PrefixList("pl-1".into()));
        assert_eq!(r.describe(name), "tcp 80-90 from pl-1");
    }

    #[test]
    fn owners() {
        assert_eq!(owner(Some("mk-sg:acme"), "acme"), Owner::ThisClient);
        assert_eq!(owner(Some("mk-sg"), "acme"), Owner::Shared);
        assert_eq!(owner(Some("mk-sg:acme2"), "acme"), Owner::Other);
        assert_eq!(owner(Some("ssh from office"), "acme"), Owner::Other);
        assert_eq!(owner(None, "acme"), Owner::Other);
        assert_eq!(client_description("acme"), "mk-sg:acme");
    }
}
