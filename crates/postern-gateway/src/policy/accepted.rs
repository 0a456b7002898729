//! `[inbound]`: the domains this gateway accepts mail for from anyone (accepted domains,
//! the IMS's inbound role), and how their recipients are verified at `RCPT` so that
//! unknown ones are refused there instead of bounced later (no backscatter).
//!
//! An accepted domain is routed like any address (the GWART decides which connector
//! takes it, a smart host towards the internal server, say); what makes it accepted is
//! only that clients who may not relay may send to it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// How recipients of an accepted domain are checked at `RCPT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyRecipients {
    /// Not checked: every local part is accepted (the default).
    Off,
    /// Checked against `recipients_file`.
    List,
    /// Checked by asking the internal server (`RCPT` through the connector's route).
    Callout,
}

impl VerifyRecipients {
    /// The keyword, as in the config.
    pub fn name(self) -> &'static str {
        match self {
            VerifyRecipients::Off => "off",
            VerifyRecipients::List => "list",
            VerifyRecipients::Callout => "callout",
        }
    }
}

/// What a callout that cannot get an answer does with the recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CalloutUnavailable {
    /// Accept it (and deliver or bounce later, as without verification).
    Accept,
    /// Refuse it for now with `450 4.1.1` (the default): the client tries again later.
    Defer,
}

impl CalloutUnavailable {
    /// The keyword, as in the config.
    pub fn name(self) -> &'static str {
        match self {
            CalloutUnavailable::Accept => "accept",
            CalloutUnavailable::Defer => "defer",
        }
    }
}

/// The default `callout_positive_ttl`: how long "this recipient exists" is believed.
pub const DEFAULT_POSITIVE_TTL: Duration = Duration::from_secs(3600);
/// The default `callout_negative_ttl`: how long "no such recipient" is believed.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(600);
/// The default `callout_timeout`: connect plus the whole probe dialogue.
pub const DEFAULT_CALLOUT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default `callout_cache_entries`.
pub const DEFAULT_CACHE_ENTRIES: usize = 10_000;

/// `[inbound]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSection {
    /// Accepted domains, lower case without a trailing dot: `corp.test` is that domain
    /// only, `*.corp.test` every sub-domain of it (not `corp.test` itself). Default none.
    pub domains: Vec<String>,
    /// How recipients of accepted domains are verified. Default `off`.
    pub verify_recipients: VerifyRecipients,
    /// The recipient list for `verify_recipients = "list"`: one address or `*@domain`
    /// per line, `#` comments. Re-read when it changes. Default none.
    pub recipients_file: Option<PathBuf>,
    /// How long a callout's "exists" answer is cached. Default 1 h.
    pub callout_positive_ttl: Duration,
    /// How long a callout's "unknown" answer is cached. Default 10 min.
    pub callout_negative_ttl: Duration,
    /// What to do when the internal server cannot be asked. Default `defer`.
    pub callout_unavailable: CalloutUnavailable,
    /// Time allowed for one callout, connect to `QUIT`. Default 30 s.
    pub callout_timeout: Duration,
    /// Most cached callout answers. Default 10,000.
    pub callout_cache_entries: usize,
}

impl Default for InboundSection {
    fn default() -> Self {
        InboundSection {
            domains: Vec::new(),
            verify_recipients: VerifyRecipients::Off,
            recipients_file: None,
            callout_positive_ttl: DEFAULT_POSITIVE_TTL,
            callout_negative_ttl: DEFAULT_NEGATIVE_TTL,
            callout_unavailable: CalloutUnavailable::Defer,
            callout_timeout: DEFAULT_CALLOUT_TIMEOUT,
            callout_cache_entries: DEFAULT_CACHE_ENTRIES,
        }
    }
}

impl InboundSection {
    /// Whether `domain` (any case, with or without one trailing dot) is accepted.
    pub fn is_accepted_domain(&self, domain: &str) -> bool {
        let d = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        if d.is_empty() || d.ends_with('.') {
            return false;
        }
        self.domains.iter().any(|p| match p.strip_prefix("*.") {
            Some(parent) => d
                .strip_suffix(parent)
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            None => *p == d,
        })
    }
}

/// `[inbound]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundToml {
    domains: Option<Vec<String>>,
    verify_recipients: Option<VerifyRecipients>,
    recipients_file: Option<PathBuf>,
    callout_positive_ttl: Option<String>,
    callout_negative_ttl: Option<String>,
    callout_unavailable: Option<CalloutUnavailable>,
    callout_timeout: Option<String>,
    callout_cache_entries: Option<usize>,
}

/// A refused `[inbound]` value: the key and why.
pub type KeyError = (&'static str, String);

fn duration(
    key: &'static str,
    v: &Option<String>,
    default: Duration,
) -> Result<Duration, KeyError> {
    let Some(s) = v else { return Ok(default) };
    let d = postern_queue::policy::parse_duration(s).map_err(|e| (key, e.to_string()))?;
    if d.is_zero() {
        return Err((key, "must be more than 0".to_owned()));
    }
    Ok(d)
}

/// One accepted-domain pattern, normalised; refused when it could mean "every domain"
/// (that would make the gateway an open relay) or is not a domain.
fn domain_pattern(p: &str) -> Result<String, String> {
    let p = p.trim().to_ascii_lowercase();
    let p = p.strip_suffix('.').unwrap_or(&p).to_owned();
    let bare = p.strip_prefix("*.").unwrap_or(&p);
    let bad = bare.is_empty()
        || bare.starts_with('.')
        || bare.ends_with('.')
        || bare.contains("..")
        || bare.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'));
    if bad {
        return Err(format!(
            "{p:?} is not a domain or *.domain (\"*\" alone is never accepted: that is an open relay)"
        ));
    }
    Ok(p)
}

/// Validates `[inbound]`; `data_dir` anchors nothing (paths are taken as written).
pub fn inbound_section(t: &InboundToml) -> Result<InboundSection, KeyError> {
    let mut domains = Vec::new();
    for d in t.domains.iter().flatten() {
        domains.push(domain_pattern(d).map_err(|why| ("domains", why))?);
    }
    let d = InboundSection::default();
    let s = InboundSection {
        domains,
        verify_recipients: t.verify_recipients.unwrap_or(d.verify_recipients),
        recipients_file: t.recipients_file.clone(),
        callout_positive_ttl: duration(
            "callout_positive_ttl",
            &t.callout_positive_ttl,
            d.callout_positive_ttl,
        )?,
        callout_negative_ttl: duration(
            "callout_negative_ttl",
            &t.callout_negative_ttl,
            d.callout_negative_ttl,
        )?,
        callout_unavailable: t.callout_unavailable.unwrap_or(d.callout_unavailable),
        callout_timeout: duration("callout_timeout", &t.callout_timeout, d.callout_timeout)?,
        callout_cache_entries: t.callout_cache_entries.unwrap_or(d.callout_cache_entries),
    };
    if s.verify_recipients == VerifyRecipients::List {
        let Some(path) = &s.recipients_file else {
            return Err((
                "recipients_file",
                "verify_recipients = \"list\" needs a recipients_file".to_owned(),
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            (
                "recipients_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        super::recipients::RecipientList::parse(&text)
            .map_err(|e| ("recipients_file", format!("{}: {e}", path.display())))?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(domains: &[&str]) -> InboundSection {
        let t = InboundToml {
            domains: Some(domains.iter().map(|s| s.to_string()).collect()),
            ..InboundToml::default()
        };
        inbound_section(&t).unwrap()
    }

    #[test]
    fn exact_and_subdomain_patterns() {
        let s = section(&["Corp.Test.", "*.branch.test"]);
        assert_eq!(s.domains, ["corp.test", "*.branch.test"]);
        assert!(s.is_accepted_domain("corp.test"));
        assert!(s.is_accepted_domain("CORP.TEST."));
        assert!(!s.is_accepted_domain("x.corp.test"), "exact means exact");
        assert!(!s.is_accepted_domain("corp.test.."));
        assert!(!s.is_accepted_domain("evilcorp.test"));
        assert!(s.is_accepted_domain("a.branch.test"));
        assert!(s.is_accepted_domain("a.b.Branch.Test"));
        assert!(!s.is_accepted_domain("branch.test"));
        assert!(!s.is_accepted_domain("xbranch.test"));
        assert!(!s.is_accepted_domain(".branch.test"));
        assert!(!s.is_accepted_domain(""));
    }

    #[test]
    fn catch_alls_and_junk_are_refused() {
        for bad in [
            "*",
            "*.",
            "",
            ".",
            "a..b",
            "a b",
            "a@b",
            "*.*.x",
            "[127.0.0.1]",
        ] {
            let t = InboundToml {
                domains: Some(vec![bad.to_owned()]),
                ..InboundToml::default()
            };
            assert_eq!(inbound_section(&t).unwrap_err().0, "domains", "{bad:?}");
        }
    }

    #[test]
    fn list_needs_a_readable_file() {
        let t = InboundToml {
            verify_recipients: Some(VerifyRecipients::List),
            ..InboundToml::default()
        };
        assert_eq!(inbound_section(&t).unwrap_err().0, "recipients_file");
        let t = InboundToml {
            verify_recipients: Some(VerifyRecipients::List),
            recipients_file: Some("/nonexistent/postern-recipients".into()),
            ..InboundToml::default()
        };
        assert_eq!(inbound_section(&t).unwrap_err().0, "recipients_file");
        let t = InboundToml {
            callout_negative_ttl: Some("0s".into()),
            ..InboundToml::default()
        };
        assert_eq!(inbound_section(&t).unwrap_err().0, "callout_negative_ttl");
    }
}
