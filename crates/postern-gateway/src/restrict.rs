//! Delivery restrictions (the IMS "Delivery Restrictions" page): accept-from and
//! reject-from sender lists, for the whole gateway or for one connector.
//!
//! A sender is refused by a restriction when its accept-from list is not empty and no
//! pattern in it matches (listing anyone there rejects all others), or when a reject-from
//! pattern matches. Every restriction that applies must let the sender through.
//!
//! Restrictions steer routing (seed 002, Q258557): [`Restrictions::route`] skips the
//! connectors a sender may not use, so "reject from on the main connector, accept from
//! on the archiving connector" sends that sender's mail through the second one. Only
//! when every connector that could take the address refuses the sender is it refused.

use postern_route::{ConnectorState, Glob, Route, RouteRequest, RoutingTable, Unroutable};

use crate::config::Restriction;

/// Compiled restrictions.
#[derive(Debug, Clone, Default)]
pub struct Restrictions {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    connector: Option<String>,
    accept: Vec<Glob>,
    reject: Vec<Glob>,
}

/// Why a sender was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The connector whose restriction refused it (`None`: a global one).
    pub connector: Option<String>,
}

impl Refused {
    /// The text of the refusal (after `550 5.7.1`).
    pub fn message(&self) -> String {
        match &self.connector {
            Some(c) => format!("Sender not allowed to send through connector {c}"),
            None => "Sender not allowed to send through this gateway".to_owned(),
        }
    }

    /// The SMTP reply for a refused sender, as text.
    pub fn reply_text(&self) -> String {
        format!("550 5.7.1 {}", self.message())
    }
}

/// Why [`Restrictions::route`] found no connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteRefusal {
    /// No connector could take the address, or none that could is available now.
    Unroutable(Unroutable),
    /// Connectors could take it, but the restrictions of every one of them refuse the
    /// sender (the refusal of the first choice).
    Restricted(Refused),
}

/// The caller's connector state, with the connectors that refuse one sender made
/// unavailable.
struct SenderState<'a> {
    restrictions: &'a Restrictions,
    sender: &'a str,
    inner: &'a dyn ConnectorState,
}

impl ConnectorState for SenderState<'_> {
    fn is_available(&self, connector: &str) -> bool {
        self.inner.is_available(connector)
            && self.restrictions.check(self.sender, connector).is_ok()
    }

    fn attempts(&self, connector: &str) -> u32 {
        self.inner.attempts(connector)
    }
}

impl Restrictions {
    /// Routes `req` for mail from `sender`: like [`RoutingTable::route`] with `state`,
    /// except that connectors whose restrictions refuse the sender are skipped.
    pub fn route<'t>(
        &self,
        table: &'t RoutingTable,
        req: &RouteRequest<'_>,
        sender: &str,
        state: &dyn ConnectorState,
    ) -> Result<Route<'t>, RouteRefusal> {
        if self.is_empty() {
            return table.route(req, state).map_err(RouteRefusal::Unroutable);
        }
        let filtered = SenderState {
            restrictions: self,
            sender,
            inner: state,
        };
        let unroutable = match table.route(req, &filtered) {
            Ok(route) => return Ok(route),
            Err(u) => u,
        };
        // Refused for the sender only if every candidate, up or down, refuses it.
        match table.route(req, &()) {
            Ok(all) => {
                let mut refusals = all.connectors().map(|c| self.check(sender, c));
                match refusals.next() {
                    Some(Err(first)) if refusals.all(|r| r.is_err()) => {
                        Err(RouteRefusal::Restricted(first))
                    }
                    _ => Err(RouteRefusal::Unroutable(unroutable)),
                }
            }
            Err(_) => Err(RouteRefusal::Unroutable(unroutable)),
        }
    }

    /// Compiles the `[[restriction]]` entries.
    pub fn new(list: &[Restriction]) -> Restrictions {
        Restrictions {
            rules: list
                .iter()
                .map(|r| Rule {
                    connector: r.connector.clone(),
                    accept: r.accept_from.iter().map(|p| Glob::new(p)).collect(),
                    reject: r.reject_from.iter().map(|p| Glob::new(p)).collect(),
                })
                .collect(),
        }
    }

    /// Whether there are none (the check can be skipped).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks `sender` (empty for the null sender) for mail leaving through `connector`.
    pub fn check(&self, sender: &str, connector: &str) -> Result<(), Refused> {
        for r in &self.rules {
            if r.connector
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(connector))
            {
                continue;
            }
            let accepted = r.accept.is_empty() || r.accept.iter().any(|g| g.matches(sender));
            let rejected = r.reject.iter().any(|g| g.matches(sender));
            if !accepted || rejected {
                return Err(Refused {
                    connector: r.connector.clone(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(connector: Option<&str>, accept: &[&str], reject: &[&str]) -> Restriction {
        Restriction {
            connector: connector.map(str::to_owned),
            accept_from: accept.iter().map(|s| s.to_string()).collect(),
            reject_from: reject.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn accept_list_rejects_all_others() {
        let rs = Restrictions::new(&[r(
            Some("partner"),
            &["*@example.com"],
            &["intern@example.com"],
        )]);
        assert!(rs.check("Boss@Example.com", "partner").is_ok());
        assert_eq!(
            rs.check("x@other.org", "partner"),
            Err(Refused {
                connector: Some("partner".into())
            })
        );
        assert!(rs.check("intern@example.com", "partner").is_err());
        assert!(
            rs.check("x@other.org", "internet").is_ok(),
            "other connectors are not restricted"
        );
        assert!(
            rs.check("", "partner").is_err(),
            "the null sender is not in the accept list"
        );
    }

    fn table() -> RoutingTable {
        postern_route::RoutingConfig::from_toml_str(
            "[[connector]]\nname = \"main\"\n[[connector.address_space]]\npattern = \"*\"\n\
             [[connector]]\nname = \"archiving\"\n[[connector.address_space]]\npattern = \"*\"\ncost = 5\n",
        )
        .unwrap()
        .table
    }

    #[test]
    fn restrictions_steer_routing() {
        let t = table();
        let req = RouteRequest::smtp("x@remote.test");
        let rs = Restrictions::new(&[
            r(Some("main"), &[], &["boss@corp.test"]),
            r(Some("archiving"), &["boss@corp.test"], &[]),
        ]);
        let boss = rs.route(&t, &req, "boss@corp.test", &()).unwrap();
        assert_eq!(boss.connectors().collect::<Vec<_>>(), ["archiving"]);
        let clerk = rs.route(&t, &req, "clerk@corp.test", &()).unwrap();
        assert_eq!(clerk.connectors().collect::<Vec<_>>(), ["main"]);
        // The archiving connector down: the boss's mail waits (transient), it is not
        // refused, and it never goes through the main connector.
        let mut down = postern_route::ConnectorStatus::new();
        down.set_down("archiving", true);
        assert_eq!(
            rs.route(&t, &req, "boss@corp.test", &down),
            Err(RouteRefusal::Unroutable(Unroutable::AllUnavailable))
        );
        // Nobody may take the intern's mail.
        let rs = Restrictions::new(&[r(None, &[], &["intern@*"])]);
        assert_eq!(
            rs.route(&t, &req, "intern@corp.test", &()),
            Err(RouteRefusal::Restricted(Refused { connector: None }))
        );
        let none = RouteRequest::new("X400", "c=us;a= ;p=x;o=y;s=z");
        assert!(matches!(
            rs.route(&t, &none, "a@b", &()),
            Err(RouteRefusal::Unroutable(_))
        ));
    }

    #[test]
    fn global_reject_applies_everywhere() {
        let rs = Restrictions::new(&[r(None, &[], &["spam*@*"])]);
        assert!(rs.check("spammer@x.org", "any").is_err());
        assert!(rs.check("ham@x.org", "any").is_ok());
        assert!(
            rs.check("spammer@x.org", "any")
                .unwrap_err()
                .reply_text()
                .starts_with("550 5.7.1")
        );
        assert!(Restrictions::new(&[]).is_empty());
    }
}
