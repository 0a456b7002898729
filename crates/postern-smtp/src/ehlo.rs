//! The capabilities a server announces in its EHLO reply.

use crate::reply::Reply;

/// What an EHLO reply says the server supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The first word of the first line: the server's name.
    pub domain: String,
    /// `SIZE n`; `Some(0)` means "no fixed limit".
    pub size: Option<u64>,
    /// `AUTH` mechanisms, upper-case.
    pub auth: Vec<String>,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `DSN` (RFC 3461).
    pub dsn: bool,
    /// `CHUNKING` (RFC 3030).
    pub chunking: bool,
    /// `BINARYMIME` (RFC 3030).
    pub binary_mime: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhanced_status_codes: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// `MT-PRIORITY` (RFC 6710).
    pub mt_priority: bool,
    /// `ETRN` (RFC 1985).
    pub etrn: bool,
    /// Every keyword line after the first, upper-cased keyword with its parameters
    /// verbatim, in order; includes the ones above.
    pub keywords: Vec<(String, String)>,
}

impl Capabilities {
    /// Reads the capabilities from a 250 EHLO reply. Tolerates an empty last line (as
    /// Postfix's smtp-sink sends), unknown keywords and odd spacing.
    ///
    /// Keywords are upper-cased; `SIZE` without a value (or with one that is not a
    /// number) counts as `Some(0)`, no fixed limit. The obsolete `AUTH=LOGIN PLAIN` form
    /// is read as `AUTH LOGIN PLAIN`. A reply that is not positive (2xx) announces
    /// nothing, and gives an empty set.
    ///
    /// ```
    /// use postern_smtp::{Capabilities, Reply};
    /// let r = Reply::new(250, None, "mx.example.org Hello\nSIZE 10240000\nauth login plain\n8BITMIME");
    /// let caps = Capabilities::from_reply(&r);
    /// assert_eq!(caps.domain, "mx.example.org");
    /// assert_eq!(caps.size, Some(10_240_000));
    /// assert_eq!(caps.auth, ["LOGIN", "PLAIN"]);
    /// assert!(caps.eight_bit_mime && caps.has("8bitmime") && !caps.pipelining);
    /// ```
    pub fn from_reply(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        if !reply.is_positive() {
            return caps;
        }
        let mut lines = reply.lines.iter();
        if let Some(first) = lines.next() {
            caps.domain = first.split_whitespace().next().unwrap_or("").to_owned();
        }
        for line in lines {
            if let Some((keyword, params)) = split_keyword(line) {
                caps.add(keyword, params);
            }
        }
        caps
    }

    /// True when `keyword` (case-insensitive) was announced.
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }

    /// The parameters announced with `keyword` (case-insensitive), if it was announced.
    pub fn params(&self, keyword: &str) -> Option<&str> {
        self.keywords
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, p)| p.as_str())
    }

    /// Records one keyword line.
    fn add(&mut self, keyword: String, params: &str) {
        match keyword.as_str() {
            "SIZE" => {
                let limit = params
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok());
                self.size = Some(limit.unwrap_or(0));
            }
            "AUTH" => {
                for mech in params.split_whitespace() {
                    let mech = mech.to_ascii_uppercase();
                    if !self.auth.contains(&mech) {
                        self.auth.push(mech);
                    }
                }
            }
            "PIPELINING" => self.pipelining = true,
            "8BITMIME" => self.eight_bit_mime = true,
            "SMTPUTF8" => self.smtputf8 = true,
            "DSN" => self.dsn = true,
            "CHUNKING" => self.chunking = true,
            "BINARYMIME" => self.binary_mime = true,
            "STARTTLS" => self.starttls = true,
            "ENHANCEDSTATUSCODES" => self.enhanced_status_codes = true,
            "REQUIRETLS" => self.requiretls = true,
            "MT-PRIORITY" => self.mt_priority = true,
            "ETRN" => self.etrn = true,
            _ => {}
        }
        self.keywords.push((keyword, params.to_owned()));
    }
}

/// Splits a keyword line into the upper-cased keyword and its parameters (trimmed, inner
/// spacing kept). `None` for a blank line. `AUTH=X Y` becomes `("AUTH", "X Y")`.
fn split_keyword(line: &str) -> Option<(String, &str)> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    let (mut keyword, mut params) = (&line[..end], line[end..].trim_start());
    if let Some(eq) = keyword
        .find('=')
        .filter(|_| keyword.len() > 5 && keyword.as_bytes()[..5].eq_ignore_ascii_case(b"AUTH="))
    {
        // The pre-RFC 4954 form: the first mechanism is glued on with `=`.
        params = &line[eq + 1..];
        keyword = &line[..eq];
    }
    Some((keyword.to_ascii_uppercase(), params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use crate::reply::ReplyParser;

    /// Parses a wire EHLO reply as a client would.
    fn caps(wire: &str) -> Capabilities {
        let mut p = ReplyParser::new(&Limits::default());
        p.feed(wire.as_bytes());
        let reply = p.next_reply().expect("a reply").expect("well-formed");
        assert!(p.next_reply().is_none());
        Capabilities::from_reply(&reply)
    }

    #[test]
    fn postfix() {
        let c = caps(
            "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n\
             250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
             250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        assert_eq!(c.domain, "mail.example.com");
        assert_eq!(c.size, Some(10_240_000));
        assert!(c.pipelining && c.etrn && c.starttls && c.enhanced_status_codes);
        assert!(c.eight_bit_mime && c.dsn && c.smtputf8 && c.chunking);
        assert!(!c.binary_mime && !c.requiretls && !c.mt_priority);
        assert!(c.auth.is_empty());
        assert!(c.has("vrfy") && c.has("VRFY") && !c.has("AUTH"));
        assert_eq!(c.keywords.len(), 10);
        assert_eq!(c.keywords[1], ("SIZE".to_owned(), "10240000".to_owned()));
    }

    #[test]
    fn exim() {
        let c = caps(
            "250-mx.example.net Hello client.example.org [192.0.2.1]\r\n\
             250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n\
             250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n250 HELP\r\n",
        );
        assert_eq!(c.domain, "mx.example.net");
        assert_eq!(c.size, Some(52_428_800));
        assert_eq!(c.auth, ["PLAIN", "LOGIN"]);
        assert!(c.has("prdr") && c.has("pipe_connect") && c.has("HELP"));
        assert_eq!(c.params("auth"), Some("PLAIN LOGIN"));
    }

    #[test]
    fn gmail_style() {
        let c = caps(
            "250-smtp.gmail.com at your service, [192.0.2.1]\r\n250-SIZE 35882577\r\n\
             250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n\
             250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
        );
        assert_eq!(c.domain, "smtp.gmail.com");
        assert_eq!(c.size, Some(35_882_577));
        assert_eq!(
            c.auth,
            [
                "LOGIN",
                "PLAIN",
                "XOAUTH2",
                "PLAIN-CLIENTTOKEN",
                "OAUTHBEARER",
                "XOAUTH"
            ]
        );
        assert!(c.smtputf8 && c.chunking && c.pipelining);
    }

    #[test]
    fn smtp_sink_empty_last_line() {
        let c = caps(
            "250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n\
             250-AUTH=PLAIN LOGIN\r\n250-XCLIENT NAME HELO\r\n250-ENHANCEDSTATUSCODES\r\n\
             250-SIZE\r\n250-DSN\r\n250 \r\n",
        );
        assert_eq!(c.domain, "sink.example");
        assert_eq!(c.size, Some(0));
        assert_eq!(c.auth, ["PLAIN", "LOGIN"]);
        assert!(c.dsn && c.enhanced_status_codes);
        assert!(c.keywords.iter().all(|(k, _)| !k.is_empty()));
        assert_eq!(c.keywords.len(), 8);
        assert_eq!(c.keywords[3], ("AUTH".to_owned(), "PLAIN LOGIN".to_owned()));
    }

    #[test]
    fn old_auth_form_lower_case_and_odd_spacing() {
        let c = caps(
            "250-host.example  greets you\r\n250-auth=LOGIN\r\n250-  size   0  \r\n\
             250-starttls\r\n250 x-custom  a  b\r\n",
        );
        assert_eq!(c.domain, "host.example");
        assert_eq!(c.auth, ["LOGIN"]);
        assert_eq!(c.size, Some(0));
        assert!(c.starttls && c.has("StartTLS") && c.has("X-CUSTOM"));
        assert_eq!(c.params("x-custom"), Some("a  b"));
        assert_eq!(c.keywords[1], ("SIZE".to_owned(), "0".to_owned()));
    }

    #[test]
    fn single_line_and_negative_replies() {
        let c = caps("250 mx.example.org\r\n");
        assert_eq!(c.domain, "mx.example.org");
        assert!(c.keywords.is_empty() && c.size.is_none());
        let c = caps("502-5.5.1 EHLO not\r\n502 5.5.1 SIZE 10\r\n");
        assert_eq!(c, Capabilities::default());
    }
}
