//! `auto_replies = "drop"`: automatic replies (out-of-office and the like) do not leave
//! for the domain, as the IMS Advanced options "disable out of office responses / automatic
//! replies to the Internet" allowed. Such a message is dropped for the domain's
//! recipients with a `dropped` tracking event whose reason names the marker; it is
//! neither bounced nor lost without a trace.
//!
//! Markers: RFC 3834 `Auto-Submitted: auto-replied`, and the legacy ones clients still
//! write: `Precedence: auto_reply`, `X-Auto-Response-Suppress` naming `All`, `OOF` or
//! `AutoReply` (what Exchange puts on its own automatic replies), `X-Autoreply: yes` and
//! `X-Autorespond`.

use postern_message::Message;
use postern_queue::Outcome;
use postern_track::EventKind;

use super::options::AutoReplies;
use super::{SmtpJob, SmtpResult, all};
use crate::context::Context;

/// The reply recorded for a dropped recipient.
pub const DROPPED_REPLY: &str =
    "250 2.0.0 automatic reply not sent to this domain (auto_replies = \"drop\")";

/// The marker that makes the message an automatic reply, or `None`.
pub fn marker(body: &[u8]) -> Option<&'static str> {
    let msg = Message::parse(body);
    let value = |name: &str| {
        msg.root()
            .header_value(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = value("Auto-Submitted")
        && v.split(';')
            .next()
            .is_some_and(|t| t.trim() == "auto-replied")
    {
        return Some("Auto-Submitted: auto-replied");
    }
    if value("Precedence").is_some_and(|v| v == "auto_reply") {
        return Some("Precedence: auto_reply");
    }
    if let Some(v) = value("X-Auto-Response-Suppress")
        && v.split([',', ' ', '\t'])
            .any(|t| matches!(t, "all" | "oof" | "autoreply"))
    {
        return Some("X-Auto-Response-Suppress");
    }
    if value("X-Autoreply").is_some_and(|v| v == "yes") {
        return Some("X-Autoreply: yes");
    }
    if msg.header("X-Autorespond").is_some() {
        return Some("X-Autorespond");
    }
    None
}

/// The hook `deliver` calls: `Some` (the recipients dropped) when the domain's
/// `auto_replies = "drop"` and the message is an automatic reply.
pub fn check(ctx: &Context, job: &SmtpJob<'_>) -> Option<SmtpResult> {
    let opts = job.live.config.domain_options.lookup(job.destination);
    if opts.auto_replies != AutoReplies::Drop {
        return None;
    }
    marker(job.body).map(|m| drop_job(ctx, job, m))
}

/// Drops the job's recipients: a `dropped` event each (reason `auto-reply: MARKER`),
/// and a final outcome that is no failure (so no report goes back to the sender).
pub fn drop_job(ctx: &Context, job: &SmtpJob<'_>, marker: &str) -> SmtpResult {
    let reason = format!("auto-reply: {marker}");
    for r in job.recipients {
        ctx.track(EventKind::Dropped, |e| {
            e.queue_id(job.ids.0)
                .message_id(job.ids.1)
                .sender(job.sender)
                .recipient(r.address.as_str())
                .connector(job.connector.name.as_str())
                .reason(reason.as_str())
                .reply(DROPPED_REPLY)
        });
    }
    SmtpResult::Done(all(job.recipients, |_| {
        Outcome::Delivered(DROPPED_REPLY.to_owned())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let m = |h: &str| marker(format!("{h}\r\nSubject: x\r\n\r\nbody\r\n").as_bytes());
        assert_eq!(
            m("Auto-Submitted: Auto-Replied; owner=x"),
            Some("Auto-Submitted: auto-replied")
        );
        assert_eq!(m("Auto-Submitted: no"), None);
        assert_eq!(m("Auto-Submitted: auto-generated"), None);
        assert_eq!(m("Precedence: Auto_Reply"), Some("Precedence: auto_reply"));
        assert_eq!(m("Precedence: bulk"), None);
        assert_eq!(
            m("X-Auto-Response-Suppress: All"),
            Some("X-Auto-Response-Suppress")
        );
        assert_eq!(m("X-Auto-Response-Suppress: RN, NRN"), None);
        assert_eq!(m("X-Autoreply: yes"), Some("X-Autoreply: yes"));
        assert_eq!(m("From: a@b.example"), None);
    }
}
