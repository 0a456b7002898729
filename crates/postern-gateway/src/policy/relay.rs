//! Relay control for one `RCPT TO`: is the recipient ours, and if not, may this client
//! send through us?
//!
//! A recipient is *ours* when its domain is an accepted domain (`[inbound] domains`,
//! routed inward by whichever connector the routing table picks) or when the routing
//! table's first choice for it is a `maildir` connector; anyone may send to it. Any
//! other recipient is relayed, which only an authenticated client or one in
//! `security.relay_networks` may do; others get `554 5.7.1 Relay access denied`.
//!
//! Routing at `RCPT` ignores whether connectors are up (issue 14): a recipient is
//! refused only when no connector could ever take it; one whose connectors are down or
//! backed off is accepted and queued until one comes back. Delivery restrictions steer
//! the choice (a connector that refuses the sender is skipped) and refuse the recipient
//! only when every connector that could take it refuses the sender.
//!
//! The old tricks for turning an MTA into an open relay are closed here:
//! - `a%example.com@ours`, `a!b@ours` and `"a@example.com"@ours` look like ours but a
//!   naive local delivery agent, or the internal server behind an accepted domain,
//!   would forward them; such a local part is refused (`550 5.7.1`) unless the client
//!   may relay anyway;
//! - `<@ours:a@example.com>`: the SMTP parser drops the source route, so the
//!   recipient is judged as `a@example.com`, which is what would be delivered;
//! - `a@[192.0.2.1]`: an address literal is never ours, so it needs relay permission;
//! - `a@OURS.`: the domain loses its trailing dot, and routing and accepted domains
//!   compare case-insensitively, so it is our domain and nothing more; a sub-domain is
//!   ours only when a `*.domain` pattern says so.

use postern_route::{Route, RouteRequest, Unroutable};
use postern_smtp::{Domain, EnhancedCode, ForwardPath, Mailbox, Reply};

use crate::config::Config;
use crate::restrict::{Restrictions, RouteRefusal};

/// A recipient the policy accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The address to queue: the local part in its canonical form (quotes dropped
    /// where they are not needed), `@`, the domain without its trailing dot (for
    /// `<Postmaster>`: the administrator's mailbox).
    pub address: String,
    /// True when a `maildir` connector takes it.
    pub local: bool,
    /// True when its domain is an accepted domain (`[inbound] domains`): it is
    /// verified (`[inbound] verify_recipients`) before it is accepted.
    pub inbound: bool,
    /// The connectors that may take it for this sender, best first.
    pub connectors: Vec<String>,
}

/// A refused recipient: the reply, and when a delivery restriction refused it, the
/// connector whose restriction it was (empty for a global one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The reply to the client.
    pub reply: Reply,
    /// `Some` when a delivery restriction refused it.
    pub restricted: Option<String>,
}

impl From<Reply> for Refusal {
    fn from(reply: Reply) -> Refusal {
        Refusal {
            reply,
            restricted: None,
        }
    }
}

/// The policy's answer for one recipient: accepted, or the refusal.
pub type RcptVerdict = Result<Accepted, Refusal>;

/// What the policy knows about the transaction a recipient is judged in.
#[derive(Debug, Clone, Copy)]
pub struct RcptContext<'a> {
    /// The settings in force.
    pub config: &'a Config,
    /// Delivery restrictions, compiled.
    pub restrictions: &'a Restrictions,
    /// The envelope sender (empty for `<>`).
    pub sender: &'a str,
    /// `MAIL … SIZE=`, when given.
    pub size: Option<u64>,
    /// The client may relay (authenticated, or in a relay network).
    pub may_relay: bool,
}

fn reply(code: u16, class: u8, subject: u16, detail: u16, text: &str) -> Reply {
    Reply::new(code, Some(EnhancedCode::new(class, subject, detail)), text)
}

/// `554 5.7.1 Relay access denied`.
pub fn relay_denied() -> Reply {
    reply(554, 5, 7, 1, "Relay access denied")
}

/// Judges `to` in the transaction `cx`.
pub fn judge_recipient(cx: &RcptContext<'_>, to: &ForwardPath<'_>) -> RcptVerdict {
    let config = cx.config;
    let mailbox = match to {
        // RFC 5321 §4.5.1: `<Postmaster>` must always be accepted.
        ForwardPath::Postmaster => {
            return Ok(Accepted {
                address: config.administrator.mailbox.clone(),
                local: false,
                inbound: false,
                connectors: Vec::new(),
            });
        }
        ForwardPath::Mailbox(m) => m,
    };
    let domain = match mailbox.domain {
        Domain::Name(n) => Some(n),
        _ => None,
    };
    let accepted_domain = domain.is_some_and(|d| config.inbound.is_accepted_domain(d));
    if domain.is_none() && !cx.may_relay {
        return Err(relay_denied().into());
    }
    let address = queue_address(mailbox);
    // Availability is not asked: a route that is down now still takes the mail later.
    let req = RouteRequest::smtp(&address);
    let route = match config.routing.table.route(&req, &()) {
        Ok(r) => r,
        // A client that may not relay learns nothing about routes beyond our own
        // domains: anything not routed here is a relay attempt.
        Err(_) if !cx.may_relay && !accepted_domain => return Err(relay_denied().into()),
        Err(u) => return Err(unroutable_reply(&u).into()),
    };
    let local = domain.is_some() && config.is_local_connector(route.first().connector);
    let ours = local || accepted_domain;
    if !ours && !cx.may_relay {
        return Err(relay_denied().into());
    }
    if ours {
        check_ours(config, mailbox, &address, local, cx.may_relay)?;
    }
    // Without restrictions the sender's route is this one: not routed a second time.
    let unrestricted = cx.restrictions.is_empty().then_some(route);
    let connectors = steer(cx, &req, ours, unrestricted)?;
    if let (Some(size), Some(d)) = (cx.size, domain) {
        check_size(config, d, size)?;
    }
    Ok(Accepted {
        address,
        local,
        inbound: accepted_domain,
        connectors,
    })
}

/// The connectors the restrictions let this sender use for `req`, best first. A client
/// that may not relay must still reach one of ours: a recipient we accept only because
/// a `maildir` connector takes it is never relayed elsewhere because the restriction
/// on that connector refused the sender. `unrestricted` is `req`'s route when there are
/// no restrictions (it is then the sender's route too).
fn steer(
    cx: &RcptContext<'_>,
    req: &RouteRequest<'_>,
    ours: bool,
    unrestricted: Option<Route<'_>>,
) -> Result<Vec<String>, Refusal> {
    let config = cx.config;
    let refused = |r: crate::restrict::Refused| Refusal {
        reply: reply(550, 5, 7, 1, &r.message()),
        restricted: Some(r.connector.unwrap_or_default()),
    };
    let route = match unrestricted {
        Some(route) => Ok(route),
        None => cx
            .restrictions
            .route(&config.routing.table, req, cx.sender, &()),
    };
    match route {
        Ok(route) => {
            let first = route.first().connector;
            let domain_ours = config.inbound.is_accepted_domain(domain_of(req.address()));
            if ours && !cx.may_relay && !domain_ours && !config.is_local_connector(first) {
                return Err(Refusal {
                    reply: reply(550, 5, 7, 1, "Sender not allowed to send to this recipient"),
                    restricted: Some(first.to_owned()),
                });
            }
            Ok(route.connectors().map(str::to_owned).collect())
        }
        Err(RouteRefusal::Restricted(r)) => Err(refused(r)),
        Err(RouteRefusal::Unroutable(u)) => Err(unroutable_reply(&u).into()),
    }
}

/// `552 5.3.4` when `MAIL … SIZE=` says the message is larger than the recipient's
/// domain takes (`[[domain]] max_message_size`).
fn check_size(config: &Config, domain: &str, size: u64) -> Result<(), Refusal> {
    let limit = config.routing.domains.lookup(domain).max_message_size;
    match limit {
        Some(max) if size > max => Err(reply(
            552,
            5,
            3,
            4,
            &format!("Message size exceeds the limit of {max} octets for {domain}"),
        )
        .into()),
        _ => Ok(()),
    }
}

/// The domain of `local@domain` (after the last `@`).
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The checks on a recipient of ours: no routing characters in the local part (for
/// clients that may not relay), and for a `maildir` connector a safe folder name and
/// `[maildir] recipients`.
fn check_ours(
    config: &Config,
    mailbox: &Mailbox<'_>,
    address: &str,
    local: bool,
    may_relay: bool,
) -> Result<(), Refusal> {
    let local_part = mailbox.local_part_unquoted();
    if !may_relay && local_part.contains(['@', '%', '!']) {
        return Err(reply(
            550,
            5,
            7,
            1,
            "Recipient address rejected: routing characters in the local part are not accepted",
        )
        .into());
    }
    if !local {
        return Ok(());
    }
    // The local part becomes a folder name; nothing may climb out of the domain folder.
    if local_part.contains(['/', '\\']) || local_part.starts_with('.') {
        return Err(reply(550, 5, 1, 3, "Recipient address rejected: bad mailbox name").into());
    }
    if !config.maildir.recipients.is_empty() {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        let key = format!("{local_part}@{domain}").to_lowercase();
        if !config.maildir.recipients.contains(&key) {
            return Err(reply(550, 5, 1, 1, "Recipient address rejected: User unknown").into());
        }
    }
    Ok(())
}

/// `local@domain` as it is queued and routed: the local part in its canonical form
/// ([`canonical_local_part`]), the domain without one trailing dot; literals as on the
/// wire (`[192.0.2.1]`). Every check at RCPT and the delivery see this one spelling.
fn queue_address(m: &Mailbox<'_>) -> String {
    let local = canonical_local_part(m);
    match m.domain {
        Domain::Name(n) => format!("{local}@{}", n.strip_suffix('.').unwrap_or(n)),
        ref d => format!("{local}@{d}"),
    }
}

/// The local part as one mailbox has it, however it was written (issue 25): RFC 5321
/// §4.1.2 makes a quoted string that needs no quoting the same mailbox as the dot-atom
/// it quotes, so `"bob"` and `"b\ob"` are `bob` — otherwise `"bob"@ours` would slip past
/// `[maildir] recipients` and land in a folder of its own. A local part that does need
/// its quotes (a space, an `@`, two dots) keeps them, as written.
fn canonical_local_part<'a>(m: &Mailbox<'a>) -> std::borrow::Cow<'a, str> {
    if !m.local_part.starts_with('"') {
        return std::borrow::Cow::Borrowed(m.local_part);
    }
    let inner = m.local_part_unquoted();
    if is_dot_atom(&inner) {
        std::borrow::Cow::Owned(inner.into_owned())
    } else {
        std::borrow::Cow::Borrowed(m.local_part)
    }
}

/// RFC 5322 `dot-atom-text` (with RFC 6531's UTF-8 characters as `atext`).
fn is_dot_atom(s: &str) -> bool {
    let atext =
        |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
    !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(atext))
}

/// The reply for an address the routing table cannot place, with its own codes.
fn unroutable_reply(u: &Unroutable) -> Reply {
    let enhanced = parse_enhanced(u.enhanced_code());
    Reply::new(
        u.reply_code(),
        enhanced,
        &format!("Recipient address rejected: {u}"),
    )
}

/// Parses `class.subject.detail`.
fn parse_enhanced(s: &str) -> Option<EnhancedCode> {
    let mut it = s.split('.');
    let class = it.next()?.parse().ok()?;
    let subject = it.next()?.parse().ok()?;
    let detail = it.next()?.parse().ok()?;
    Some(EnhancedCode::new(class, subject, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const CONFIG: &str = r#"
[[connector]]
name = "local"
kind = "maildir"
  [[connector.address_space]]
  pattern = "localhost"
  [[connector.address_space]]
  pattern = "example.org"

[[connector]]
name = "internet"
kind = "smtp"
  [[connector.address_space]]
  pattern = "*"
"#;

    fn config() -> Config {
        Config::from_toml_str(CONFIG).unwrap()
    }

    fn mb<'a>(local: &'a str, domain: &'a str) -> ForwardPath<'a> {
        ForwardPath::Mailbox(Mailbox {
            local_part: local,
            domain: Domain::Name(domain),
        })
    }

    fn judge(c: &Config, to: &ForwardPath<'_>, may_relay: bool) -> RcptVerdict {
        let restrictions = Restrictions::new(&c.restrictions);
        let cx = RcptContext {
            config: c,
            restrictions: &restrictions,
            sender: "someone@example.net",
            size: None,
            may_relay,
        };
        judge_recipient(&cx, to)
    }

    fn code(v: &RcptVerdict) -> Option<(u16, String)> {
        v.as_ref().err().map(|r| &r.reply).map(|r| {
            (
                r.code,
                r.enhanced.map(|e| e.to_string()).unwrap_or_default(),
            )
        })
    }

    #[test]
    fn quoted_local_parts_that_need_no_quotes_are_the_same_mailbox() {
        // Issue 25: `"bob"@ours` slipped past `[maildir] recipients` and went to a folder
        // `%22bob%22`; it is `bob@ours`, decided at RCPT.
        let mut c = config();
        c.maildir.recipients = vec!["bob@localhost".to_owned()];
        for q in [r#""bob""#, r#""b\ob""#, "bob", r#""BOB""#] {
            let a = judge(&c, &mb(q, "localhost"), false).unwrap();
            assert_eq!(a.address.to_lowercase(), "bob@localhost", "{q}");
        }
        for q in [r#""eve""#, r#""bob ""#, r#""b.o.b""#] {
            let r = judge(&c, &mb(q, "localhost"), false).unwrap_err();
            assert_eq!(r.reply.code, 550, "{q}");
        }
        c.maildir.recipients.clear();
        let canon = |q: &str| judge(&c, &mb(q, "localhost"), false).map(|a| a.address);
        assert_eq!(canon(r#""abc""#).unwrap(), "abc@localhost");
        assert_eq!(canon(r#""a.b+c""#).unwrap(), "a.b+c@localhost");
        // Quotes that are needed stay.
        assert_eq!(canon(r#""a b""#).unwrap(), r#""a b"@localhost"#);
        assert_eq!(canon(r#""a..b""#).unwrap(), r#""a..b"@localhost"#);
        assert_eq!(canon(r#""""#).unwrap(), r#"""@localhost"#);
        // Routing characters inside quotes are refused as before, quoted or not.
        assert_eq!(canon(r#""a%b""#).unwrap_err().reply.code, 550);
        assert_eq!(canon(r#""a@example.com""#).unwrap_err().reply.code, 550);
    }

    #[test]
    fn local_recipients_for_anyone() {
        let c = config();
        let v = judge(&c, &mb("a", "localhost"), false).unwrap();
        assert_eq!(
            v,
            Accepted {
                address: "a@localhost".into(),
                local: true,
                inbound: false,
                connectors: vec!["local".into(), "internet".into()],
            }
        );
        let v = judge(&c, &mb("a", "LOCALHOST."), false).unwrap();
        assert_eq!(v.address, "a@LOCALHOST");
        assert!(v.local);
        assert!(judge(&c, &mb("b", "Example.Org"), false).is_ok());
    }

    #[test]
    fn relaying_needs_permission() {
        let c = config();
        let denied = Some((554, "5.7.1".to_owned()));
        assert_eq!(code(&judge(&c, &mb("a", "example.com"), false)), denied);
        let v = judge(&c, &mb("a", "example.com"), true).unwrap();
        assert!(!v.local);
        // A sub-domain of a local domain is not local.
        assert_eq!(code(&judge(&c, &mb("a", "x.localhost"), false)), denied);
    }

    #[test]
    fn routing_characters_refused_in_local_parts() {
        let c = config();
        for local in [
            "a%example.com",
            "a!b",
            "\"a@example.com\"",
            "\"a\\@example.com\"",
        ] {
            let v = judge(&c, &mb(local, "localhost"), false);
            assert_eq!(code(&v), Some((550, "5.7.1".to_owned())), "{local}");
            assert!(judge(&c, &mb(local, "localhost"), true).is_ok(), "{local}");
        }
    }

    #[test]
    fn literals_are_never_local() {
        let c = config();
        let to = ForwardPath::Mailbox(Mailbox {
            local_part: "a",
            domain: Domain::Ipv4(Ipv4Addr::LOCALHOST),
        });
        assert_eq!(code(&judge(&c, &to, false)), Some((554, "5.7.1".into())));
        let v = judge(&c, &to, true).unwrap();
        assert_eq!(v.address, "a@[127.0.0.1]");
        assert!(!v.local);
    }

    #[test]
    fn unroutable_uses_the_routers_reply() {
        let c = Config::from_toml_str(
            "[[connector]]\nname = \"l\"\nkind = \"maildir\"\n[[connector.address_space]]\npattern = \"localhost\"\n",
        )
        .unwrap();
        let v = judge(&c, &mb("a", "example.com"), true);
        assert_eq!(code(&v), Some((550, "5.4.4".to_owned())));
    }

    #[test]
    fn known_recipients_list() {
        let text = format!("{CONFIG}\n[maildir]\nrecipients = [\"Alice@localhost\"]\n");
        let c = Config::from_toml_str(&text).unwrap();
        assert!(judge(&c, &mb("ALICE", "localhost."), false).is_ok());
        let v = judge(&c, &mb("bob", "localhost"), false);
        assert_eq!(code(&v), Some((550, "5.1.1".to_owned())));
    }

    #[test]
    fn postmaster_always_accepted() {
        let v = judge(&config(), &ForwardPath::Postmaster, false).unwrap();
        assert_eq!(v.address, "postmaster@localhost");
    }

    #[test]
    fn folder_escapes_refused() {
        let c = config();
        for local in ["\"../x\"", "\".x\"", "a/b"] {
            let v = judge(&c, &mb(local, "localhost"), true);
            assert_eq!(code(&v), Some((550, "5.1.3".to_owned())), "{local}");
        }
    }

    const ACCEPTED: &str = r#"
[inbound]
domains = ["corp.test", "*.branch.test"]

[[connector]]
name = "internal"
smart_hosts = ["[127.0.0.1]:2526"]
  [[connector.address_space]]
  pattern = "corp.test"
  [[connector.address_space]]
  pattern = "*.branch.test"

[[connector]]
name = "internet"
  [[connector.address_space]]
  pattern = "*"

[[domain]]
pattern = "small.test"
max_message_size = 4096
"#;

    #[test]
    fn accepted_domains_for_anyone_and_nothing_more() {
        let c = Config::from_toml_str(ACCEPTED).unwrap();
        let v = judge(&c, &mb("jo", "Corp.Test."), false).unwrap();
        assert!(v.inbound && !v.local);
        assert_eq!(v.address, "jo@Corp.Test");
        assert_eq!(v.connectors, ["internal", "internet"]);
        assert!(
            judge(&c, &mb("jo", "a.branch.test"), false)
                .unwrap()
                .inbound
        );
        let denied = Some((554, "5.7.1".to_owned()));
        for d in [
            "x.corp.test",
            "branch.test",
            "corp.test.evil.test",
            "evilcorp.test",
        ] {
            assert_eq!(code(&judge(&c, &mb("jo", d), false)), denied, "{d}");
        }
        for local in ["a%remote.test", "remote.test!a", "\"a@remote.test\""] {
            let v = judge(&c, &mb(local, "corp.test"), false);
            assert_eq!(code(&v), Some((550, "5.7.1".to_owned())), "{local}");
        }
        // A relaying client's mail to an accepted domain is inbound too.
        assert!(judge(&c, &mb("jo", "corp.test"), true).unwrap().inbound);
    }

    #[test]
    fn accepted_domain_without_a_route_is_refused_permanently() {
        let text = "[inbound]\ndomains = [\"corp.test\"]\n[[connector]]\nname = \"l\"\nkind = \"maildir\"\n[[connector.address_space]]\npattern = \"localhost\"\n";
        let c = Config::from_toml_str(text).unwrap();
        let v = judge(&c, &mb("jo", "corp.test"), false);
        assert_eq!(code(&v), Some((550, "5.4.4".to_owned())));
    }

    #[test]
    fn size_refused_per_domain() {
        let c = Config::from_toml_str(ACCEPTED).unwrap();
        let restrictions = Restrictions::new(&[]);
        let cx = |size| RcptContext {
            config: &c,
            restrictions: &restrictions,
            sender: "a@b",
            size,
            may_relay: true,
        };
        let to = mb("x", "small.test");
        let v = judge_recipient(&cx(Some(20_000)), &to);
        let r = v.unwrap_err().reply;
        assert_eq!(
            (r.code, r.enhanced.unwrap().to_string()),
            (552, "5.3.4".into())
        );
        assert!(judge_recipient(&cx(Some(4096)), &to).is_ok());
        assert!(judge_recipient(&cx(None), &to).is_ok());
        assert!(judge_recipient(&cx(Some(20_000)), &mb("x", "other.test")).is_ok());
    }

    #[test]
    fn restrictions_steer_and_refuse_only_when_no_connector_may() {
        let text = format!(
            "{ACCEPTED}\n[[connector]]\nname = \"archiving\"\n[[connector.address_space]]\npattern = \"*\"\ncost = 5\n\
             [[restriction]]\nconnector = \"internet\"\nreject_from = [\"boss@corp.test\"]\n\
             [[restriction]]\nconnector = \"archiving\"\naccept_from = [\"boss@corp.test\"]\n\
             [[restriction]]\nreject_from = [\"intern@corp.test\"]\n"
        );
        let c = Config::from_toml_str(&text).unwrap();
        let restrictions = Restrictions::new(&c.restrictions);
        let cx = |sender| RcptContext {
            config: &c,
            restrictions: &restrictions,
            sender,
            size: None,
            may_relay: true,
        };
        let to = mb("x", "remote.test");
        let boss = judge_recipient(&cx("boss@corp.test"), &to).unwrap();
        assert_eq!(boss.connectors, ["archiving"]);
        let clerk = judge_recipient(&cx("clerk@corp.test"), &to).unwrap();
        assert_eq!(clerk.connectors, ["internet"]);
        let intern = judge_recipient(&cx("intern@corp.test"), &to).unwrap_err();
        assert_eq!(intern.reply.code, 550);
        assert_eq!(intern.restricted.as_deref(), Some(""));
    }
}
