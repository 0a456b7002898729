//! Delivery restrictions (the IMS "Delivery Restrictions" page): accept-from and
//! reject-from sender lists, for the whole gateway or for one connector.
//!
//! A sender is refused by a restriction when its accept-from list is not empty and no
//! pattern in it matches (listing anyone there rejects all others), or when a reject-from
//! pattern matches. Every restriction that applies must let the sender through.

use postern_route::Glob;

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

impl Restrictions {
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
