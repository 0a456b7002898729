//! Delivery status notifications from the gateway: what to send, to whom, and when not to.
//!
//! Built on [`postern_message::dsn`]. A notice goes to the original sender with the null
//! reverse-path; a message whose own sender is null (a notice itself) never gets one — it
//! is absorbed (Exchange event 1018) so two gateways can never bounce notices at each
//! other forever. The administrator's mailbox gets copies as `[notifications]` says.

use chrono::{DateTime, FixedOffset, Utc};
use postern_message::dsn::{Action, DeliveryReport, RecipientStatus, ReturnContent};

use crate::config::Config;

/// One recipient to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The recipient address.
    pub address: String,
    /// The `ORCPT` it came with, if any.
    pub orcpt: Option<String>,
    /// What happened.
    pub action: Action,
    /// The last reply (`550 5.1.1 …`) or a description.
    pub reply: String,
    /// The remote host that answered, if one did.
    pub remote_host: Option<String>,
}

/// What the gateway knows of the original message.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    /// The envelope sender (empty: a notice itself).
    pub sender: &'a str,
    /// The `ENVID`, if given.
    pub envid: Option<&'a str>,
    /// `RET=FULL` (`Some(true)`), `RET=HDRS` (`Some(false)`), or not given.
    pub ret_full: Option<bool>,
    /// Arrival, milliseconds since the Unix epoch.
    pub arrival_ms: u64,
    /// The message octets.
    pub body: &'a [u8],
}

/// A notice ready to be queued: to `recipients`, from the null sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Envelope recipients: the original sender, and the administrator when copied.
    pub recipients: Vec<String>,
    /// The message.
    pub body: Vec<u8>,
    /// Its Message-ID.
    pub message_id: String,
}

/// What to do about a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Queue this notice.
    Send(Notice),
    /// The original was itself a notice: nothing is sent (track as absorbed).
    Absorbed,
    /// Notices of this kind are turned off and no administrator copy is due.
    Off,
}

fn date(ms: u64) -> DateTime<FixedOffset> {
    DateTime::<Utc>::from_timestamp_millis(ms as i64)
        .unwrap_or_default()
        .fixed_offset()
}

/// The enhanced status code in a reply (`550 5.1.1 …` → `5.1.1`), or one made from the
/// action when the reply has none.
fn status_of(reply: &str, action: Action) -> String {
    let code = reply.split_ascii_whitespace().nth(1).filter(|c| {
        let parts: Vec<&str> = c.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match (code, action) {
        (Some(c), _) => c.to_owned(),
        (None, Action::Failed) => "5.0.0".to_owned(),
        (None, Action::Delayed) => "4.0.0".to_owned(),
        (None, _) => "2.0.0".to_owned(),
    }
}

/// Decides and builds the notice about `reported` recipients of `original`.
/// `now_ms` dates it; `seq` makes its Message-ID unique.
pub fn notice(
    config: &Config,
    original: &Original<'_>,
    reported: &[Reported],
    now_ms: u64,
    seq: u64,
) -> Decision {
    if original.sender.is_empty() {
        return Decision::Absorbed;
    }
    let n = &config.notifications;
    let delay = reported.iter().all(|r| r.action == Action::Delayed);
    let success = reported
        .iter()
        .all(|r| matches!(r.action, Action::Delivered | Action::Relayed));
    let (to_sender, to_admin) = if success {
        (true, false)
    } else if delay {
        (n.delays, n.copy_delays_to_administrator)
    } else {
        (n.failures, n.copy_failures_to_administrator)
    };
    let mut recipients = Vec::new();
    if to_sender {
        recipients.push(original.sender.to_owned());
    }
    if to_admin
        && !config
            .administrator
            .mailbox
            .eq_ignore_ascii_case(original.sender)
    {
        recipients.push(config.administrator.mailbox.clone());
    }
    if recipients.is_empty() || reported.is_empty() {
        return Decision::Off;
    }
    let full = original.ret_full.unwrap_or(n.return_full_by_default);
    let mut report = DeliveryReport::new(
        config.server.hostname.clone(),
        if full {
            ReturnContent::Full
        } else {
            ReturnContent::Headers
        },
    );
    report.max_returned = n.max_returned_size;
    report.envelope_id = original.envid.map(str::to_owned);
    report.arrival_date = Some(date(original.arrival_ms));
    for r in reported {
        let mut s =
            RecipientStatus::new(r.address.clone(), r.action, status_of(&r.reply, r.action))
                .diagnostic(format!("smtp; {}", r.reply))
                .last_attempt(date(now_ms));
        if let Some(o) = &r.orcpt {
            s = s.original_recipient(o.clone());
        }
        if let Some(h) = &r.remote_host {
            s = s.remote_mta(h.clone());
        }
        report.recipients.push(s);
    }
    let message_id = format!("<{now_ms:x}.{seq:x}.dsn@{}>", config.server.hostname);
    let body = report.build(original.sender, date(now_ms), &message_id, original.body);
    Decision::Send(Notice {
        recipients,
        body,
        message_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(sender: &str) -> Original<'_> {
        Original {
            sender,
            envid: Some("E1"),
            ret_full: None,
            arrival_ms: 1_795_000_000_000,
            body: b"From: a@example.org\r\nSubject: hi\r\n\r\nsecret body\r\n",
        }
    }

    fn failed() -> Vec<Reported> {
        vec![Reported {
            address: "jo@example.com".into(),
            orcpt: Some("rfc822;Jo@example.com".into()),
            action: Action::Failed,
            reply: "550 5.1.1 No such user".into(),
            remote_host: Some("mx.example.com".into()),
        }]
    }

    #[test]
    fn failure_goes_to_sender_and_administrator() {
        let c = Config::embedded();
        let Decision::Send(n) = notice(
            &c,
            &original("a@example.org"),
            &failed(),
            1_795_000_100_000,
            7,
        ) else {
            panic!("expected a notice");
        };
        assert_eq!(n.recipients, ["a@example.org", "postmaster@localhost"]);
        let text = String::from_utf8(n.body).unwrap();
        assert!(
            text.contains("Status: 5.1.1\r\n") && text.contains("Original-Envelope-Id: E1\r\n")
        );
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n"));
        assert!(!text.contains("secret body"), "RET defaults to headers");
        assert!(n.message_id.ends_with(".dsn@localhost>"));
    }

    #[test]
    fn notices_about_notices_are_absorbed() {
        assert_eq!(
            notice(&Config::embedded(), &original(""), &failed(), 0, 0),
            Decision::Absorbed
        );
    }

    #[test]
    fn settings_and_ret() {
        let mut c = Config::embedded();
        c.notifications.failures = false;
        c.notifications.copy_failures_to_administrator = false;
        assert_eq!(
            notice(&c, &original("a@example.org"), &failed(), 0, 0),
            Decision::Off
        );
        let c = Config::embedded();
        let mut o = original("a@example.org");
        o.ret_full = Some(true);
        let Decision::Send(n) = notice(&c, &o, &failed(), 0, 0) else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&n.body).contains("secret body"));
        let mut delayed = failed();
        delayed[0].action = Action::Delayed;
        delayed[0].reply = "451 busy".into();
        let Decision::Send(n) = notice(&c, &o, &delayed, 0, 0) else {
            panic!()
        };
        assert_eq!(
            n.recipients,
            ["a@example.org"],
            "delay copies are off by default"
        );
        assert!(String::from_utf8_lossy(&n.body).contains("Status: 4.0.0"));
    }
}
