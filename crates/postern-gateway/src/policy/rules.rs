//! Accept or reject a client by its IP address (`[[connections.rule]]`, and
//! `security.relay_networks`).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{ConnectionRule, RuleAction};

/// Whether a client at `ip` may connect: the most specific (longest prefix) rule that
/// contains it decides; among equally specific rules a reject wins; no rule means
/// accept. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack listener
/// reports IPv4 clients) is judged as the IPv4 address.
pub fn connection_allowed(rules: &[ConnectionRule], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let mut best: Option<(u8, RuleAction)> = None;
    for rule in rules.iter().filter(|r| r.network.contains(&ip)) {
        let len = rule.network.prefix_len();
        best = match best {
            Some((l, a)) if l > len || (l == len && a == RuleAction::Reject) => Some((l, a)),
            _ => Some((len, rule.action)),
        };
    }
    !matches!(best, Some((_, RuleAction::Reject)))
}

/// Whether `ip` (IPv4-mapped addresses as IPv4) lies in one of `networks`.
pub fn in_networks(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    networks.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(net: &str, action: RuleAction) -> ConnectionRule {
        ConnectionRule {
            network: net.parse().unwrap(),
            action,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn no_rule_accepts() {
        assert!(connection_allowed(&[], ip("192.0.2.1")));
        let rules = [rule("10.0.0.0/8", RuleAction::Reject)];
        assert!(connection_allowed(&rules, ip("192.0.2.1")));
        assert!(!connection_allowed(&rules, ip("10.9.9.9")));
    }

    #[test]
    fn longest_prefix_wins_whatever_the_order() {
        let a = rule("127.0.0.0/8", RuleAction::Accept);
        let r = rule("127.0.0.1/32", RuleAction::Reject);
        for rules in [[a, r], [r, a]] {
            assert!(!connection_allowed(&rules, ip("127.0.0.1")));
            assert!(connection_allowed(&rules, ip("127.0.0.2")));
        }
        let a = rule("127.0.0.1/32", RuleAction::Accept);
        let r = rule("127.0.0.0/8", RuleAction::Reject);
        for rules in [[a, r], [r, a]] {
            assert!(connection_allowed(&rules, ip("127.0.0.1")));
            assert!(!connection_allowed(&rules, ip("127.0.0.2")));
        }
    }

    #[test]
    fn equal_prefixes_reject_wins() {
        let rules = [
            rule("192.0.2.0/24", RuleAction::Accept),
            rule("192.0.2.0/24", RuleAction::Reject),
        ];
        assert!(!connection_allowed(&rules, ip("192.0.2.7")));
    }

    #[test]
    fn mapped_ipv6_is_ipv4() {
        let rules = [rule("192.0.2.0/24", RuleAction::Reject)];
        assert!(!connection_allowed(&rules, ip("::ffff:192.0.2.9")));
        assert!(connection_allowed(&rules, ip("2001:db8::1")));
        let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(in_networks(&nets, ip("::ffff:10.1.2.3")));
        assert!(!in_networks(&nets, ip("11.1.2.3")));
    }
}
