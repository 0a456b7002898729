//! Relay control for one `RCPT TO`: is the recipient ours, and if not, may this client
//! send through us?
//!
//! A recipient is *local* when the routing table's first choice for it is a `maildir`
//! connector; anyone may send to it. Any other recipient is relayed, which only an
//! authenticated client or one in `security.relay_networks` may do; others get
//! `554 5.7.1 Relay access denied`.
//!
//! The old tricks for turning an MTA into an open relay are closed here:
//! - `a%example.com@local`, `a!b@local` and `"a@example.com"@local` look local but a
//!   naive local delivery agent (or a later hop) would forward them; a local recipient
//!   whose local part holds `@`, `%` or `!` is refused (`550 5.7.1`) unless the client
//!   may relay anyway;
//! - `<@local:a@example.com>`: the SMTP parser drops the source route, so the
//!   recipient is judged as `a@example.com`, which is what would be delivered;
//! - `a@[192.0.2.1]`: an address literal is never local, so it needs relay permission;
//! - `a@LOCAL.`: the domain loses its trailing dot, and routing compares
//!   case-insensitively, so it is the local domain and nothing more.

use postern_route::{ConnectorState, RouteRequest, Unroutable};
use postern_smtp::{Domain, EnhancedCode, ForwardPath, Mailbox, Reply};

use crate::config::Config;

/// A recipient the policy accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The address to queue: the local part as written, `@`, the domain without its
    /// trailing dot (for `<Postmaster>`: the administrator's mailbox).
    pub address: String,
    /// True when a `maildir` connector takes it.
    pub local: bool,
}

/// The policy's answer for one recipient: accepted, or the reply refusing it.
pub type RcptVerdict = Result<Accepted, Reply>;

fn reply(code: u16, class: u8, subject: u16, detail: u16, text: &str) -> Reply {
    Reply::new(code, Some(EnhancedCode::new(class, subject, detail)), text)
}

/// `554 5.7.1 Relay access denied`.
pub fn relay_denied() -> Reply {
    reply(554, 5, 7, 1, "Relay access denied")
}

/// Judges `to` for a client that may (`may_relay`: authenticated or in a relay network)
/// or may not relay. `status` is the connectors' availability, as routing sees it.
pub fn judge_recipient(
    config: &Config,
    status: &dyn ConnectorState,
    to: &ForwardPath<'_>,
    may_relay: bool,
) -> RcptVerdict {
    let mailbox = match to {
        // RFC 5321 §4.5.1: `<Postmaster>` must always be accepted.
        ForwardPath::Postmaster => {
            return Ok(Accepted {
                address: config.administrator.mailbox.clone(),
                local: false,
            });
        }
        ForwardPath::Mailbox(m) => m,
    };
    let is_literal = !matches!(mailbox.domain, Domain::Name(_));
    if is_literal && !may_relay {
        return Err(relay_denied());
    }
    let address = queue_address(mailbox);
    let route = match config
        .routing
        .table
        .route(&RouteRequest::smtp(&address), status)
    {
        Ok(r) => r,
        // A client that may not relay learns nothing about routes beyond our own
        // domains: anything not routed here locally is a relay attempt.
        Err(_) if !may_relay => return Err(relay_denied()),
        Err(u) => return Err(unroutable_reply(&u)),
    };
    let local = !is_literal && config.is_local_connector(route.first().connector);
    if !local {
        return if may_relay {
            Ok(Accepted { address, local })
        } else {
            Err(relay_denied())
        };
    }
    check_local(config, mailbox, &address, may_relay)?;
    Ok(Accepted { address, local })
}

/// The checks on a recipient a `maildir` connector would take.
fn check_local(
    config: &Config,
    mailbox: &Mailbox<'_>,
    address: &str,
    may_relay: bool,
) -> Result<(), Reply> {
    let local_part = mailbox.local_part_unquoted();
    if !may_relay && local_part.contains(['@', '%', '!']) {
        return Err(reply(
            550,
            5,
            7,
            1,
            "Recipient address rejected: routing characters in the local part are not accepted",
        ));
    }
    // The local part becomes a folder name; nothing may climb out of the domain folder.
    if local_part.contains(['/', '\\']) || local_part.starts_with('.') {
        return Err(reply(
            550,
            5,
            1,
            3,
            "Recipient address rejected: bad mailbox name",
        ));
    }
    if !config.maildir.recipients.is_empty() {
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        let key = format!("{local_part}@{domain}").to_lowercase();
        if !config.maildir.recipients.contains(&key) {
            return Err(reply(
                550,
                5,
                1,
                1,
                "Recipient address rejected: User unknown",
            ));
        }
    }
    Ok(())
}

/// `local@domain` as it is queued and routed: the local part as written (quotes kept),
/// the domain without one trailing dot; literals as on the wire (`[192.0.2.1]`).
fn queue_address(m: &Mailbox<'_>) -> String {
    match m.domain {
        Domain::Name(n) => format!("{}@{}", m.local_part, n.strip_suffix('.').unwrap_or(n)),
        ref d => format!("{}@{d}", m.local_part),
    }
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

    fn code(v: &RcptVerdict) -> Option<(u16, String)> {
        v.as_ref().err().map(|r| {
            (
                r.code,
                r.enhanced.map(|e| e.to_string()).unwrap_or_default(),
            )
        })
    }

    #[test]
    fn local_recipients_for_anyone() {
        let c = config();
        let v = judge_recipient(&c, &(), &mb("a", "localhost"), false).unwrap();
        assert_eq!(
            v,
            Accepted {
                address: "a@localhost".into(),
                local: true
            }
        );
        let v = judge_recipient(&c, &(), &mb("a", "LOCALHOST."), false).unwrap();
        assert_eq!(v.address, "a@LOCALHOST");
        assert!(v.local);
        assert!(judge_recipient(&c, &(), &mb("b", "Example.Org"), false).is_ok());
    }

    #[test]
    fn relaying_needs_permission() {
        let c = config();
        let denied = Some((554, "5.7.1".to_owned()));
        assert_eq!(
            code(&judge_recipient(&c, &(), &mb("a", "example.com"), false)),
            denied
        );
        let v = judge_recipient(&c, &(), &mb("a", "example.com"), true).unwrap();
        assert!(!v.local);
        // A sub-domain of a local domain is not local.
        assert_eq!(
            code(&judge_recipient(&c, &(), &mb("a", "x.localhost"), false)),
            denied
        );
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
            let v = judge_recipient(&c, &(), &mb(local, "localhost"), false);
            assert_eq!(code(&v), Some((550, "5.7.1".to_owned())), "{local}");
            assert!(
                judge_recipient(&c, &(), &mb(local, "localhost"), true).is_ok(),
                "{local}"
            );
        }
    }

    #[test]
    fn literals_are_never_local() {
        let c = config();
        let to = ForwardPath::Mailbox(Mailbox {
            local_part: "a",
            domain: Domain::Ipv4(Ipv4Addr::LOCALHOST),
        });
        assert_eq!(
            code(&judge_recipient(&c, &(), &to, false)),
            Some((554, "5.7.1".into()))
        );
        let v = judge_recipient(&c, &(), &to, true).unwrap();
        assert_eq!(v.address, "a@[127.0.0.1]");
        assert!(!v.local);
    }

    #[test]
    fn unroutable_uses_the_routers_reply() {
        let c = Config::from_toml_str(
            "[[connector]]\nname = \"l\"\nkind = \"maildir\"\n[[connector.address_space]]\npattern = \"localhost\"\n",
        )
        .unwrap();
        let v = judge_recipient(&c, &(), &mb("a", "example.com"), true);
        assert_eq!(code(&v), Some((550, "5.4.4".to_owned())));
    }

    #[test]
    fn known_recipients_list() {
        let text = format!("{CONFIG}\n[maildir]\nrecipients = [\"Alice@localhost\"]\n");
        let c = Config::from_toml_str(&text).unwrap();
        assert!(judge_recipient(&c, &(), &mb("ALICE", "localhost."), false).is_ok());
        let v = judge_recipient(&c, &(), &mb("bob", "localhost"), false);
        assert_eq!(code(&v), Some((550, "5.1.1".to_owned())));
    }

    #[test]
    fn postmaster_always_accepted() {
        let v = judge_recipient(&config(), &(), &ForwardPath::Postmaster, false).unwrap();
        assert_eq!(v.address, "postmaster@localhost");
    }

    #[test]
    fn folder_escapes_refused() {
        let c = config();
        for local in ["\"../x\"", "\".x\"", "a/b"] {
            let v = judge_recipient(&c, &(), &mb(local, "localhost"), true);
            assert_eq!(code(&v), Some((550, "5.1.3".to_owned())), "{local}");
        }
    }
}
