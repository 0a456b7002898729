//! [`Event`]: one tracked happening at one hop.

use std::net::IpAddr;

use crate::{EventKind, Text, Timestamp};

/// One tracking event. Build one with [`Event::new`] and the chained setters:
///
/// ```
/// use postern_track::{Event, EventKind, Timestamp};
///
/// let t = Timestamp::parse(b"2026-11-23T10:00:00Z").unwrap();
/// let ev = Event::new(t, EventKind::Sent)
///     .queue_id("Q1A2B3")
///     .message_id("<abc@example.org>")
///     .sender("alice@example.org")
///     .recipient("bob@example.net")
///     .remote_host("mx.example.net")
///     .remote_ip("192.0.2.25".parse().unwrap())
///     .dsn_status("2.0.0")
///     .reply("250 2.0.0 queued as 12345");
/// assert_eq!(ev.kind.exchange_number(), Some(1011));
/// ```
///
/// Absent fields are `None` (or an empty recipient list) and appear as `-` in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it happened (UTC, millisecond precision).
    pub time: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// The gateway's queue id for the message (none for refused connections and commands).
    pub queue_id: Option<Text>,
    /// The message's `Message-ID`, as found in the header (usually with angle brackets).
    pub message_id: Option<Text>,
    /// The envelope sender (`MAIL FROM`); an empty value is the null sender `<>`.
    pub sender: Option<Text>,
    /// The envelope recipients this event concerns.
    pub recipients: Vec<Text>,
    /// The message size in bytes.
    pub size: Option<u64>,
    /// The priority (e.g. `normal`, `urgent`, or an MT-PRIORITY value).
    pub priority: Option<Text>,
    /// The subject, when subject logging is on.
    pub subject: Option<Text>,
    /// The connector (route, address space) involved.
    pub connector: Option<Text>,
    /// The remote host name (client for inbound events, next hop for outbound ones).
    pub remote_host: Option<Text>,
    /// The remote IP address.
    pub remote_ip: Option<IpAddr>,
    /// The TLS protocol and cipher, when the session was encrypted.
    pub tls: Option<Text>,
    /// The delivery attempt number (1 for the first).
    pub attempt: Option<u32>,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`.
    pub dsn_status: Option<Text>,
    /// The SMTP reply text, ours or the remote's.
    pub reply: Option<Text>,
    /// When the next delivery attempt is scheduled.
    pub next_retry: Option<Timestamp>,
    /// A free-text reason (policy rule, admin note, routing explanation).
    pub reason: Option<Text>,
    /// A related queue id: an NDR points at the message it reports on; a rerouted copy at
    /// its original.
    pub related_queue_id: Option<Text>,
}

impl Event {
    /// An event of `kind` at `time` with every other field absent.
    pub fn new(time: Timestamp, kind: EventKind) -> Event {
        Event {
            time,
            kind,
            queue_id: None,
            message_id: None,
            sender: None,
            recipients: Vec::new(),
            size: None,
            priority: None,
            subject: None,
            connector: None,
            remote_host: None,
            remote_ip: None,
            tls: None,
            attempt: None,
            dsn_status: None,
            reply: None,
            next_retry: None,
            reason: None,
            related_queue_id: None,
        }
    }

    /// Sets the queue id.
    pub fn queue_id(mut self, v: impl Into<Text>) -> Event {
        self.queue_id = Some(v.into());
        self
    }
    /// Sets the message id.
    pub fn message_id(mut self, v: impl Into<Text>) -> Event {
        self.message_id = Some(v.into());
        self
    }
    /// Sets the envelope sender.
    pub fn sender(mut self, v: impl Into<Text>) -> Event {
        self.sender = Some(v.into());
        self
    }
    /// Adds a recipient.
    pub fn recipient(mut self, v: impl Into<Text>) -> Event {
        self.recipients.push(v.into());
        self
    }
    /// Sets the size in bytes.
    pub fn size(mut self, v: u64) -> Event {
        self.size = Some(v);
        self
    }
    /// Sets the priority.
    pub fn priority(mut self, v: impl Into<Text>) -> Event {
        self.priority = Some(v.into());
        self
    }
    /// Sets the subject.
    pub fn subject(mut self, v: impl Into<Text>) -> Event {
        self.subject = Some(v.into());
        self
    }
    /// Sets the connector.
    pub fn connector(mut self, v: impl Into<Text>) -> Event {
        self.connector = Some(v.into());
        self
    }
    /// Sets the remote host name.
    pub fn remote_host(mut self, v: impl Into<Text>) -> Event {
        self.remote_host = Some(v.into());
        self
    }
    /// Sets the remote IP address.
    pub fn remote_ip(mut self, v: IpAddr) -> Event {
        self.remote_ip = Some(v);
        self
    }
    /// Sets the TLS description.
    pub fn tls(mut self, v: impl Into<Text>) -> Event {
        self.tls = Some(v.into());
        self
    }
    /// Sets the attempt number.
    pub fn attempt(mut self, v: u32) -> Event {
        self.attempt = Some(v);
        self
    }
    /// Sets the enhanced status code.
    pub fn dsn_status(mut self, v: impl Into<Text>) -> Event {
        self.dsn_status = Some(v.into());
        self
    }
    /// Sets the reply text.
    pub fn reply(mut self, v: impl Into<Text>) -> Event {
        self.reply = Some(v.into());
        self
    }
    /// Sets the next retry time.
    pub fn next_retry(mut self, v: Timestamp) -> Event {
        self.next_retry = Some(v);
        self
    }
    /// Sets the reason.
    pub fn reason(mut self, v: impl Into<Text>) -> Event {
        self.reason = Some(v.into());
        self
    }
    /// Sets the related queue id.
    pub fn related_queue_id(mut self, v: impl Into<Text>) -> Event {
        self.related_queue_id = Some(v.into());
        self
    }

    /// Cuts every text value to `max_value_len` bytes and the recipient list to
    /// `max_recipients` entries, so a written line stays bounded. Returns whether anything
    /// was cut.
    pub fn truncate(&mut self, max_value_len: usize, max_recipients: usize) -> bool {
        let mut cut = self.recipients.len() > max_recipients;
        self.recipients.truncate(max_recipients);
        let texts = [
            &mut self.queue_id,
            &mut self.message_id,
            &mut self.sender,
            &mut self.priority,
            &mut self.subject,
            &mut self.connector,
            &mut self.remote_host,
            &mut self.tls,
            &mut self.dsn_status,
            &mut self.reply,
            &mut self.reason,
            &mut self.related_queue_id,
        ];
        for t in texts
            .into_iter()
            .flatten()
            .chain(self.recipients.iter_mut())
        {
            cut |= t.len() > max_value_len;
            t.truncate(max_value_len);
        }
        cut
    }
}
