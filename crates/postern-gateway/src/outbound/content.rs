//! Per-domain content conversion before a message goes out, as the IMS did per e-mail
//! domain: uuencoded attachments for `content_format = "uuencode"`, text in the domain's
//! `charset`, and 8bit→7bit for a peer without 8BITMIME. postern-message does the work
//! and never alters signed or encrypted parts.

use std::borrow::Cow;

use postern_message::Message;
use postern_message::convert::{downgrade_to_7bit, mime_to_uuencode, translate_charset};
use postern_route::{ContentFormat, DomainSettings};
use postern_smtp::Body;

/// The message as the domain wants it: uuencoded attachments if so configured, then text
/// parts re-encoded in the domain's charset. A translation that would replace characters
/// the charset cannot represent is not applied: the text goes in its own charset
/// rather than with `?` in it (losing text silently is worse than a foreign charset).
pub fn for_domain<'a>(body: &'a [u8], settings: &DomainSettings) -> Cow<'a, [u8]> {
    blocking_if_large(body.len(), || convert_for_domain(body, settings))
}

fn convert_for_domain<'a>(body: &'a [u8], settings: &DomainSettings) -> Cow<'a, [u8]> {
    let mut out = Cow::Borrowed(body);
    if settings.content_format == ContentFormat::Uuencode {
        let c = mime_to_uuencode(&Message::parse(&out));
        if c.report.changed {
            out = Cow::Owned(c.message);
        }
    }
    if let Ok(c) = translate_charset(&Message::parse(&out), &settings.charset)
        && c.report.changed
        && c.report.unrepresentable == 0
    {
        out = Cow::Owned(c.message);
    }
    out
}

/// The body and its `BODY=` parameter for a peer that does (`peer_8bit`) or does not offer
/// 8BITMIME: 8-bit content goes as `8BITMIME` when offered, else is downgraded to 7 bit.
pub fn for_peer(body: &[u8], peer_8bit: bool) -> (Cow<'_, [u8]>, Option<Body>) {
    if body.is_ascii() {
        return (Cow::Borrowed(body), None);
    }
    if peer_8bit {
        return (Cow::Borrowed(body), Some(Body::EightBitMime));
    }
    let c = blocking_if_large(body.len(), || downgrade_to_7bit(&Message::parse(body)));
    // Parts inside signed content may have to stay 8-bit; say so honestly.
    let param = (!c.message.is_ascii()).then_some(Body::EightBitMime);
    (Cow::Owned(c.message), param)
}

/// Bodies from this size on are converted with the runtime told that the thread blocks:
/// parsing and re-encoding megabytes takes milliseconds, during which the sessions
/// sharing the worker thread would otherwise wait.
pub const INLINE_CONVERSION_MAX: usize = 256 * 1024;

/// Runs `f` in place, first moving the worker's other tasks to another thread
/// (`block_in_place`) when the body is large and the runtime has other threads.
fn blocking_if_large<R>(len: usize, f: impl FnOnce() -> R) -> R {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if len >= INLINE_CONVERSION_MAX && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_mail_goes_out_untouched() {
        // The default domain charset (iso-8859-1) must not re-encode or re-label ASCII
        // text: a relay that rewrites every message breaks signatures for nothing.
        let settings = DomainSettings::default();
        for raw in [
            "Subject: plain\r\n\r\nhello\r\n".to_owned(),
            "Content-Type: text/plain; charset=utf-8\r\n\r\nascii only\r\n".to_owned(),
            format!("Subject: big\r\n\r\n{}", "line of text\r\n".repeat(5000)),
        ] {
            assert!(
                matches!(for_domain(raw.as_bytes(), &settings), Cow::Borrowed(_)),
                "{raw:.40}"
            );
        }
        let latin = "Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\u{e9}\r\n";
        assert!(matches!(
            for_domain(latin.as_bytes(), &settings),
            Cow::Owned(_)
        ));
    }

    #[test]
    fn downgrade_makes_seven_bit() {
        let raw = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nnaïve café\r\n";
        let (b, p) = for_peer(raw.as_bytes(), false);
        assert!(b.is_ascii());
        assert_eq!(p, None);
        let (b, p) = for_peer(raw.as_bytes(), true);
        assert_eq!(&*b, raw.as_bytes());
        assert_eq!(p, Some(Body::EightBitMime));
    }

    #[test]
    fn unrepresentable_text_is_left_alone() {
        let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\n日本\r\n";
        let s = DomainSettings::default();
        assert_eq!(&*for_domain(raw.as_bytes(), &s), raw.as_bytes());
        let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\nnaïve\r\n";
        let out = for_domain(raw.as_bytes(), &s);
        assert!(String::from_utf8_lossy(&out).contains("iso-8859-1"));
    }

    #[test]
    fn large_bodies_convert_the_same_off_the_worker() {
        // Above INLINE_CONVERSION_MAX on a multi-thread runtime the conversion runs under
        // block_in_place; the result must not depend on where it ran.
        let body = format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            "naïve café\r\n".repeat(INLINE_CONVERSION_MAX / 10)
        )
        .into_bytes();
        assert!(body.len() > INLINE_CONVERSION_MAX);
        let settings = DomainSettings::default();
        let here = (
            for_domain(&body, &settings).into_owned(),
            for_peer(&body, false).0.into_owned(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let task = rt.spawn(async move {
            (
                for_domain(&body, &settings).into_owned(),
                for_peer(&body, false).0.into_owned(),
            )
        });
        let on_worker = rt.block_on(task).unwrap();
        assert!(here.1.is_ascii());
        assert_eq!(here, on_worker);
    }
}
