//! Delivery status notifications (RFC 3464): a `multipart/report; report-type=delivery-status`
//! with a human-readable part, a `message/delivery-status` part, and the original message
//! or its header (RFC 3461 `RET=FULL|HDRS`).
//!
//! The builder takes plain strings (addresses, status codes, replies) so any MTA can use it;
//! it never reads a clock (the dates are arguments).
//!
//! ```
//! use chrono::DateTime;
//! use postern_message::dsn::{Action, DeliveryReport, RecipientStatus, ReturnContent};
//!
//! let date = DateTime::parse_from_rfc2822("Mon, 23 Nov 2026 10:00:00 +0000").unwrap();
//! let mut report = DeliveryReport::new("gw.example.org", ReturnContent::Headers);
//! report.recipients.push(
//!     RecipientStatus::new("jo@example.com", Action::Failed, "5.1.1")
//!         .remote_mta("mx.example.com")
//!         .diagnostic("smtp; 550 5.1.1 No such user"),
//! );
//! let original = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
//! let raw = report.build("a@example.org", date, "<dsn-1@gw.example.org>", original);
//! let msg = postern_message::Message::parse(&raw);
//! assert_eq!(msg.parts()[0].content_type().essence(), "multipart/report");
//! assert!(String::from_utf8_lossy(&raw).contains("Final-Recipient: rfc822; jo@example.com"));
//! ```

use chrono::{DateTime, FixedOffset};

use crate::builder::{MessageBuilder, PartSpec, write_message};

/// What happened to a recipient (RFC 3464 section 2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Could not be delivered; no further attempts.
    Failed,
    /// Not delivered yet; attempts go on.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed to a system that does not send notices.
    Relayed,
    /// Delivered, and forwarded to further recipients.
    Expanded,
}

impl Action {
    /// The keyword in the `Action:` field.
    pub fn keyword(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }
}

/// What to return of the original message (RFC 3461 `RET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnContent {
    /// Only its header (`text/rfc822-headers`).
    Headers,
    /// All of it (`message/rfc822`).
    Full,
}

/// One recipient's block in the `message/delivery-status` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientStatus {
    /// The recipient as the reporting MTA knew it (an address).
    pub final_recipient: String,
    /// The `ORCPT` parameter, `type;address` as given (e.g. `rfc822;jo@example.com`).
    pub original_recipient: Option<String>,
    /// What happened.
    pub action: Action,
    /// The enhanced status code (`5.1.1`).
    pub status: String,
    /// The remote MTA that answered, a host name.
    pub remote_mta: Option<String>,
    /// The diagnostic, `smtp; 550 5.1.1 …` (type; text).
    pub diagnostic: Option<String>,
    /// When the last attempt was made.
    pub last_attempt: Option<DateTime<FixedOffset>>,
    /// For delays: until when attempts go on.
    pub will_retry_until: Option<DateTime<FixedOffset>>,
}

impl RecipientStatus {
    /// A block for `recipient` with `action` and enhanced `status`.
    pub fn new(recipient: impl Into<String>, action: Action, status: impl Into<String>) -> Self {
        RecipientStatus {
            final_recipient: recipient.into(),
            original_recipient: None,
            action,
            status: status.into(),
            remote_mta: None,
            diagnostic: None,
            last_attempt: None,
            will_retry_until: None,
        }
    }

    /// Sets the `ORCPT` value.
    pub fn original_recipient(mut self, orcpt: impl Into<String>) -> Self {
        self.original_recipient = Some(orcpt.into());
        self
    }

    /// Sets the remote MTA.
    pub fn remote_mta(mut self, host: impl Into<String>) -> Self {
        self.remote_mta = Some(host.into());
        self
    }

    /// Sets the diagnostic (`smtp; 550 …`).
    pub fn diagnostic(mut self, text: impl Into<String>) -> Self {
        self.diagnostic = Some(text.into());
        self
    }

    /// Sets the last attempt date.
    pub fn last_attempt(mut self, at: DateTime<FixedOffset>) -> Self {
        self.last_attempt = Some(at);
        self
    }

    /// Sets the will-retry-until date.
    pub fn will_retry_until(mut self, at: DateTime<FixedOffset>) -> Self {
        self.will_retry_until = Some(at);
        self
    }
}

/// A delivery status notification to be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The host name of the MTA writing the report.
    pub reporting_mta: String,
    /// The `ENVID` of the original transaction.
    pub envelope_id: Option<String>,
    /// The MTA the original came from (`HELO` name).
    pub received_from_mta: Option<String>,
    /// When the original arrived.
    pub arrival_date: Option<DateTime<FixedOffset>>,
    /// What to return of the original.
    pub return_content: ReturnContent,
    /// The recipients reported on (at least one).
    pub recipients: Vec<RecipientStatus>,
    /// Most octets of the original returned whole under [`ReturnContent::Full`]; a
    /// larger original is returned as its header only. Default 1 MiB.
    pub max_returned: usize,
}

/// A value safe in a header line or a DSN field: control characters (which could break
/// the line) become spaces, and non-ASCII characters are written `\x{HHHH}` (the
/// escape of RFC 6533) so the report stays 7-bit.
fn field_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\x{{{:X}}}", c as u32)),
        }
    }
    out
}

/// The header block of `original` (up to and including the blank line, or all of it).
fn header_block(original: &[u8]) -> &[u8] {
    let crlf = memchr::memmem::find(original, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(original, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => &original[..a.min(b)],
        (Some(a), None) | (None, Some(a)) => &original[..a],
        (None, None) => original,
    }
}

impl DeliveryReport {
    /// A report from `reporting_mta` returning `return_content`, with no recipients yet.
    pub fn new(reporting_mta: impl Into<String>, return_content: ReturnContent) -> Self {
        DeliveryReport {
            reporting_mta: reporting_mta.into(),
            envelope_id: None,
            received_from_mta: None,
            arrival_date: None,
            return_content,
            recipients: Vec::new(),
            max_returned: 1 << 20,
        }
    }

    /// The `Subject:` for this report.
    pub fn subject(&self) -> &'static str {
        let all = |a: Action| self.recipients.iter().all(|r| r.action == a);
        if all(Action::Delivered) || all(Action::Relayed) || all(Action::Expanded) {
            "Delivery Status Notification (Success)"
        } else if all(Action::Delayed) {
            "Delivery Status Notification (Delay)"
        } else {
            "Undeliverable: Delivery Status Notification (Failure)"
        }
    }

    /// The human-readable part: what happened to each recipient and what to do about it.
    pub fn human_text(&self) -> String {
        let mut t = format!(
            "This is the mail system at {}.\r\n\r\n",
            field_safe(&self.reporting_mta)
        );
        let (mut failed, mut delayed, mut ok) = (Vec::new(), Vec::new(), Vec::new());
        for r in &self.recipients {
            match r.action {
                Action::Failed => failed.push(r),
                Action::Delayed => delayed.push(r),
                _ => ok.push(r),
            }
        }
        let describe = |t: &mut String, r: &RecipientStatus| {
            t.push_str(&format!("    <{}>", field_safe(&r.final_recipient)));
            if let Some(m) = &r.remote_mta {
                t.push_str(&format!(" (at {})", field_safe(m)));
            }
            t.push_str("\r\n");
            if let Some(d) = &r.diagnostic {
                t.push_str(&format!("        {}\r\n", field_safe(d)));
            }
        };
        if !failed.is_empty() {
            t.push_str("Your message could not be delivered to these recipients:\r\n\r\n");
            failed.iter().for_each(|r| describe(&mut t, r));
            t.push_str(
                "\r\nCheck the addresses and send the message again. If the problem goes on, \
                 forward this notice to your mail administrator.\r\n\r\n",
            );
        }
        if !delayed.is_empty() {
            t.push_str("Your message has not been delivered yet to these recipients:\r\n\r\n");
            delayed.iter().for_each(|r| describe(&mut t, r));
            t.push_str(
                "\r\nThe mail system will keep trying. You do not need to send the message \
                 again; you will be told if it finally fails.\r\n\r\n",
            );
        }
        if !ok.is_empty() {
            t.push_str("Your message was delivered to these recipients:\r\n\r\n");
            ok.iter().for_each(|r| describe(&mut t, r));
            t.push_str("\r\n");
        }
        t
    }

    /// The `message/delivery-status` content: the per-message fields, then one block per
    /// recipient.
    pub fn status_fields(&self) -> String {
        let mut s = format!(
            "Reporting-MTA: dns; {}\r\n",
            field_safe(&self.reporting_mta)
        );
        if let Some(id) = &self.envelope_id {
            s.push_str(&format!("Original-Envelope-Id: {}\r\n", field_safe(id)));
        }
        if let Some(m) = &self.received_from_mta {
            s.push_str(&format!("Received-From-MTA: dns; {}\r\n", field_safe(m)));
        }
        if let Some(d) = &self.arrival_date {
            s.push_str(&format!("Arrival-Date: {}\r\n", d.to_rfc2822()));
        }
        for r in &self.recipients {
            s.push_str("\r\n");
            if let Some(o) = &r.original_recipient {
                let o = field_safe(o);
                let o = if o.contains(';') {
                    o
                } else {
                    format!("rfc822; {o}")
                };
                s.push_str(&format!("Original-Recipient: {o}\r\n"));
            }
            s.push_str(&format!(
                "Final-Recipient: rfc822; {}\r\n",
                field_safe(&r.final_recipient)
            ));
            s.push_str(&format!("Action: {}\r\n", r.action.keyword()));
            s.push_str(&format!("Status: {}\r\n", field_safe(&r.status)));
            if let Some(m) = &r.remote_mta {
                s.push_str(&format!("Remote-MTA: dns; {}\r\n", field_safe(m)));
            }
            if let Some(d) = &r.diagnostic {
                s.push_str(&format!("Diagnostic-Code: {}\r\n", field_safe(d)));
            }
            if let Some(d) = &r.last_attempt {
                s.push_str(&format!("Last-Attempt-Date: {}\r\n", d.to_rfc2822()));
            }
            if let Some(d) = &r.will_retry_until {
                s.push_str(&format!("Will-Retry-Until: {}\r\n", d.to_rfc2822()));
            }
        }
        s
    }

    /// Builds the whole notice to `to` (the original's sender), dated `date`, with
    /// `message_id`, returning `original` as [`DeliveryReport::return_content`] says.
    /// Sent with the null reverse-path, it carries `Auto-Submitted: auto-replied` so no
    /// mail system answers it.
    pub fn build(
        &self,
        to: &str,
        date: DateTime<FixedOffset>,
        message_id: &str,
        original: &[u8],
    ) -> Vec<u8> {
        let from = format!(
            "Mail Delivery System <MAILER-DAEMON@{}>",
            field_safe(&self.reporting_mta)
        );
        let returned = match self.return_content {
            ReturnContent::Full if original.len() <= self.max_returned => {
                PartSpec::message(original.to_vec())
            }
            _ => PartSpec::leaf("text/rfc822-headers", header_block(original).to_vec()),
        };
        let mut status =
            PartSpec::leaf("message/delivery-status", self.status_fields().into_bytes());
        status
            .headers
            .push(("Content-Description".into(), "Delivery report".into()));
        let mut human = PartSpec::text("plain", &self.human_text());
        human
            .headers
            .push(("Content-Description".into(), "Notification".into()));
        let mut report = PartSpec::multipart("report", vec![human, status, returned]);
        report
            .params
            .push(("report-type".into(), "delivery-status".into()));
        let builder = MessageBuilder::new()
            .subject(self.subject())
            .date(date)
            .message_id(message_id)
            .header("Auto-Submitted", "auto-replied");
        let mut headers = vec![
            ("From".to_owned(), from),
            ("To".to_owned(), format!("<{}>", field_safe(to))),
        ];
        headers.extend(builder.header_fields());
        let mut out = Vec::new();
        write_message(&headers, &report, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn date() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc2822("Mon, 23 Nov 2026 10:00:00 +0000").unwrap()
    }

    fn report(ret: ReturnContent) -> DeliveryReport {
        let mut r = DeliveryReport::new("gw.example.org", ret);
        r.envelope_id = Some("ENV-1".into());
        r.received_from_mta = Some("client.example.org".into());
        r.arrival_date = Some(date());
        r.recipients.push(
            RecipientStatus::new("jo@example.com", Action::Failed, "5.1.1")
                .original_recipient("rfc822;Jo@Example.com")
                .remote_mta("mx.example.com")
                .diagnostic("smtp; 550 5.1.1 No such\r\nuser")
                .last_attempt(date()),
        );
        r.recipients.push(
            RecipientStatus::new("al@example.net", Action::Delayed, "4.4.1")
                .will_retry_until(date()),
        );
        r
    }

    const ORIGINAL: &[u8] =
        b"From: a@example.org\r\nSubject: hi\r\nMessage-ID: <o@x>\r\n\r\nbody line\r\n";

    #[test]
    fn structure_is_a_delivery_status_report() {
        let raw = report(ReturnContent::Headers).build("a@example.org", date(), "<d@gw>", ORIGINAL);
        let msg = Message::parse(&raw);
        assert_eq!(msg.parts()[0].content_type().essence(), "multipart/report");
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.contains("report-type=delivery-status"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(text.contains("From: Mail Delivery System <MAILER-DAEMON@gw.example.org>\r\n"));
        assert!(text.contains("Original-Envelope-Id: ENV-1\r\n"));
        assert!(text.contains("Original-Recipient: rfc822;Jo@Example.com\r\n"));
        assert!(
            text.contains("Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.example.com\r\n")
        );
        // A CR LF inside a reply must not start a new field.
        assert!(
            text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such  user\r\n"),
            "{text}"
        );
        assert!(text.contains("Action: delayed\r\nStatus: 4.4.1\r\nWill-Retry-Until: "));
        assert!(text.contains("Content-Type: text/rfc822-headers"));
        assert!(text.contains("Subject: hi\r\n") && !text.contains("body line"));
        let kinds: Vec<String> = msg
            .parts()
            .iter()
            .map(|p| p.content_type().essence())
            .collect();
        assert_eq!(
            kinds,
            [
                "multipart/report",
                "text/plain",
                "message/delivery-status",
                "text/rfc822-headers"
            ]
        );
    }

    #[test]
    fn non_ascii_is_escaped() {
        assert_eq!(field_safe("j\u{f6}rg\r\n"), "j\\x{F6}rg  ");
    }

    #[test]
    fn full_return_includes_the_body_unless_too_large() {
        let mut r = report(ReturnContent::Full);
        let raw = r.build("a@example.org", date(), "<d@gw>", ORIGINAL);
        assert!(String::from_utf8_lossy(&raw).contains("body line"));
        assert!(String::from_utf8_lossy(&raw).contains("Content-Type: message/rfc822"));
        r.max_returned = 10;
        let raw = r.build("a@example.org", date(), "<d@gw>", ORIGINAL);
        assert!(!String::from_utf8_lossy(&raw).contains("body line"));
    }

    proptest::proptest! {
        /// Whatever the strings (CR, LF, control characters included), the report keeps
        /// its structure: one block per recipient, no field broken or injected.
        #[test]
        fn structure_survives_any_text(
            rcpts in proptest::collection::vec(("\\PC{0,40}", "[\\PC\r\n]{0,80}"), 1..5),
            envid in "[\\PC\r\n]{0,30}",
        ) {
            let mut r = DeliveryReport::new("gw.example.org", ReturnContent::Full);
            r.envelope_id = Some(envid);
            for (addr, diag) in &rcpts {
                r.recipients.push(RecipientStatus::new(addr.clone(), Action::Failed, "5.0.0").diagnostic(diag.clone()));
            }
            let raw = r.build("a@example.org", date(), "<d@gw>", ORIGINAL);
            let msg = Message::parse(&raw);
            proptest::prop_assert_eq!(msg.parts().len(), 5);
            proptest::prop_assert_eq!(msg.parts()[2].content_type().essence(), "message/delivery-status");
            proptest::prop_assert!(raw.is_ascii(), "the report is 7-bit");
            let status = String::from_utf8_lossy(msg.parts()[2].raw_body()).into_owned();
            proptest::prop_assert_eq!(status.matches("\r\nFinal-Recipient: ").count(), rcpts.len());
            proptest::prop_assert_eq!(status.matches("\r\nAction: failed\r\n").count(), rcpts.len());
            for line in status.split("\r\n").filter(|l| !l.is_empty()) {
                let known = ["Reporting-MTA:", "Original-Envelope-Id:", "Final-Recipient:", "Action:", "Status:", "Diagnostic-Code:"];
                proptest::prop_assert!(known.iter().any(|k| line.starts_with(k)), "stray line {:?}", line);
            }
        }
    }

    #[test]
    fn subjects_and_human_text() {
        let r = report(ReturnContent::Headers);
        assert!(r.subject().starts_with("Undeliverable"));
        let h = r.human_text();
        assert!(
            h.contains("could not be delivered")
                && h.contains("<jo@example.com> (at mx.example.com)")
        );
        assert!(h.contains("has not been delivered yet") && h.contains("will keep trying"));
        let mut ok = DeliveryReport::new("gw", ReturnContent::Headers);
        ok.recipients
            .push(RecipientStatus::new("x@y", Action::Delivered, "2.0.0"));
        assert_eq!(ok.subject(), "Delivery Status Notification (Success)");
        let mut d = DeliveryReport::new("gw", ReturnContent::Headers);
        d.recipients
            .push(RecipientStatus::new("x@y", Action::Delayed, "4.0.0"));
        assert_eq!(d.subject(), "Delivery Status Notification (Delay)");
    }
}
