//! The IMS "Advanced" and "MIME Types" options, per e-mail domain: `[[domain_options]]`
//! (rich text, display names, automatic replies) and `[[mime_types]]`.
//!
//! They live in sections of their own rather than in `[[domain]]`, which postern-route
//! reads (and checks strictly); the `pattern` matches as there: an exact domain,
//! `*.suffix` (its subdomains, not itself), or `*`. The most specific pattern wins
//! (exact, then the longest suffix, then `*`); a domain no pattern matches gets the
//! defaults.

use serde::Deserialize;

use postern_message::mime_types::MimeTypes;

/// `rich_text`: what happens to TNEF (`application/ms-tnef`, `winmail.dat`) parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RichText {
    /// Send them as they are (default: the IMS default was "per user", and the user's
    /// client already chose to send rich text).
    #[default]
    Always,
    /// Turn them into ordinary MIME attachments (and body text where the message has
    /// none).
    Never,
}

/// `auto_replies`: whether automatic replies may leave for the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoReplies {
    /// Send them (default, as the IMS did until the box was ticked).
    #[default]
    Send,
    /// Drop them, with a `dropped` tracking event (never a bounce).
    Drop,
}

/// The options for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DomainOptions {
    /// `rich_text`. Default `always`.
    pub rich_text: RichText,
    /// `send_display_names`: `false` sends `From`/`Sender`/`Reply-To` as bare addresses.
    /// Default `true`.
    pub send_display_names: bool,
    /// `auto_replies`. Default `send`.
    pub auto_replies: AutoReplies,
}

impl Default for DomainOptions {
    fn default() -> Self {
        DomainOptions {
            rich_text: RichText::Always,
            send_display_names: true,
            auto_replies: AutoReplies::Send,
        }
    }
}

/// One `[[domain_options]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DomainOptionsToml {
    pattern: String,
    rich_text: Option<RichText>,
    send_display_names: Option<bool>,
    auto_replies: Option<AutoReplies>,
}

/// One `[[mime_types]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MimeTypeToml {
    #[serde(rename = "type")]
    content_type: String,
    extension: String,
}

/// Every `[[domain_options]]`, looked up by domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainOptionsTable {
    entries: Vec<(String, DomainOptions)>,
}

impl DomainOptionsTable {
    /// The options for `domain` (the most specific pattern's, else the defaults).
    pub fn lookup(&self, domain: &str) -> DomainOptions {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.entries
            .iter()
            .filter_map(|(p, o)| specificity(p, &domain).map(|s| (s, o)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, o)| o.clone())
            .unwrap_or_default()
    }

    /// The patterns and their options, as configured (for `config check`).
    pub fn entries(&self) -> &[(String, DomainOptions)] {
        &self.entries
    }
}

/// How specifically `pattern` matches `domain`: `None` when it does not; an exact match
/// beats any suffix, a longer suffix a shorter, and `*` matches everything last.
fn specificity(pattern: &str, domain: &str) -> Option<usize> {
    if pattern == "*" {
        return Some(0);
    }
    if let Some(suffix) = pattern.strip_prefix("*.") {
        let under = domain
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'));
        return under.then_some(1 + suffix.len());
    }
    (pattern == domain).then_some(usize::MAX)
}

/// Checks and collects `[[domain_options]]`: a pattern is `*`, `*.suffix` or a domain,
/// and appears once. `Err((key, why))`.
pub(crate) fn domain_options(
    tables: &[DomainOptionsToml],
) -> Result<DomainOptionsTable, (&'static str, String)> {
    let mut entries: Vec<(String, DomainOptions)> = Vec::new();
    for t in tables {
        let p = t.pattern.trim().trim_end_matches('.').to_ascii_lowercase();
        let body = p.strip_prefix("*.").unwrap_or(&p);
        let valid = p == "*"
            || (!body.is_empty()
                && body.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                }));
        if !valid {
            return Err((
                "pattern",
                format!("{:?} is not `*`, `*.domain` or a domain", t.pattern),
            ));
        }
        if entries.iter().any(|(q, _)| *q == p) {
            return Err(("pattern", format!("{p:?} is given twice")));
        }
        let d = DomainOptions::default();
        entries.push((
            p,
            DomainOptions {
                rich_text: t.rich_text.unwrap_or(d.rich_text),
                send_display_names: t.send_display_names.unwrap_or(d.send_display_names),
                auto_replies: t.auto_replies.unwrap_or(d.auto_replies),
            },
        ));
    }
    Ok(DomainOptionsTable { entries })
}

/// The MIME types table: the built-in one with the `[[mime_types]]` entries over it.
/// `Err((key, why))` for a type that is not `type/subtype` or an extension with a dot,
/// a slash or blanks inside.
pub(crate) fn mime_types(tables: &[MimeTypeToml]) -> Result<MimeTypes, (&'static str, String)> {
    for t in tables {
        let ct = t.content_type.trim();
        let ok = ct.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && !b.contains('/')
                && ct.is_ascii()
                && !ct.contains(char::is_whitespace)
        });
        if !ok {
            return Err((
                "type",
                format!("{:?} is not a content type (type/subtype)", t.content_type),
            ));
        }
        let ext = t.extension.trim().trim_start_matches('.');
        if ext.is_empty() || ext.contains(['.', '/', '\\']) || ext.contains(char::is_whitespace) {
            return Err((
                "extension",
                format!("{:?} is not a file extension", t.extension),
            ));
        }
    }
    if tables.len() > postern_message::mime_types::MAX_ENTRIES {
        return Err((
            "type",
            format!(
                "more than {} entries",
                postern_message::mime_types::MAX_ENTRIES
            ),
        ));
    }
    Ok(MimeTypes::builtin().with(
        tables
            .iter()
            .map(|t| (t.content_type.as_str(), t.extension.as_str())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_pattern_wins() {
        let t = DomainOptionsTable {
            entries: vec![
                (
                    "*".into(),
                    DomainOptions {
                        send_display_names: false,
                        ..DomainOptions::default()
                    },
                ),
                (
                    "*.example".into(),
                    DomainOptions {
                        rich_text: RichText::Never,
                        ..DomainOptions::default()
                    },
                ),
                (
                    "a.example".into(),
                    DomainOptions {
                        auto_replies: AutoReplies::Drop,
                        ..DomainOptions::default()
                    },
                ),
            ],
        };
        assert_eq!(t.lookup("A.Example.").auto_replies, AutoReplies::Drop);
        assert_eq!(t.lookup("a.example").rich_text, RichText::Always);
        assert_eq!(t.lookup("b.a.example").rich_text, RichText::Never);
        assert_eq!(t.lookup("example").rich_text, RichText::Always);
        assert_eq!(t.lookup("xexample").rich_text, RichText::Always);
        assert!(!t.lookup("other.test").send_display_names);
        assert!(DomainOptionsTable::default().lookup("x").send_display_names);
    }
}
