//! Per-domain content conversion before a message goes out, as the IMS did per e-mail
//! domain: uuencoded attachments for `content_format = "uuencode"` with the text in the
//! domain's `non_mime_charset`, MIME text in the domain's `charset`, and 8bit→7bit for
//! a peer without 8BITMIME. Characters a charset cannot hold follow the domain's
//! `unrepresentable` rule and are never mislabelled. postern-message does the work and
//! never alters signed or encrypted parts.

use std::borrow::Cow;

use postern_message::Message;
use postern_message::convert::{
    self, UuencodeOptions, downgrade_to_7bit, downgrade_to_7bit_for_non_mime,
    mime_to_uuencode_types, translate_charset_borrowed,
};
use postern_message::mime_types::MimeTypes;

use bytes::Bytes;

use super::SmtpJob;
use super::options::{DomainOptions, RichText};
use postern_message::encode::WireCheck;
use postern_route::{ContentFormat, DomainSettings, Unrepresentable};
use postern_smtp::Body;

/// The message as the domain wants it: uuencoded attachments with the text in the
/// domain's non-MIME charset if so configured, else text parts re-encoded in the
/// domain's (MIME) charset. Characters a charset cannot hold follow the domain's
/// `unrepresentable` rule: kept (the part stays in a charset that holds it, correctly
/// labelled), replaced by `?`, or transliterated. A uuencode body with 8-bit text goes
/// as 8BITMIME where the next hop takes it; [`for_peer`] otherwise transliterates its
/// text, never touching the uuencoded blocks.
pub fn for_domain<'a>(body: &'a [u8], settings: &DomainSettings) -> Cow<'a, [u8]> {
    for_domain_with(body, settings, &MimeTypes::builtin())
}

/// [`for_domain`] with the gateway's MIME types table (`[[mime_types]]`), which names
/// the files of parts without a file name when they are uuencoded.
pub fn for_domain_with<'a>(
    body: &'a [u8],
    settings: &DomainSettings,
    types: &MimeTypes,
) -> Cow<'a, [u8]> {
    blocking_if_large(body.len(), || convert_for_domain(body, settings, types))
}

/// The message as the job's domain wants it: first its `[[domain_options]]` (TNEF
/// expanded for `rich_text = "never"`, display names left out for
/// `send_display_names = false`), then [`for_domain_with`].
pub fn for_job<'a>(job: &SmtpJob<'a>) -> Cow<'a, [u8]> {
    let config = &job.live.config;
    let opts = config.domain_options.lookup(job.destination);
    prepare(&job.body[..], &opts, job.settings, &config.mime_types)
}

/// [`for_job`] as shared bytes: a slice of the spooled buffer when nothing changed (no
/// copy). A large body on a single-thread runtime is converted on the blocking pool, so
/// that the thread's other sessions go on meanwhile ([`INLINE_CONVERSION_MAX`]).
pub async fn for_job_shared(job: &SmtpJob<'_>) -> Bytes {
    if !converts_off_thread(job.body.len()) {
        return shared(job.body, for_job(job));
    }
    let config = &job.live.config;
    let opts = config.domain_options.lookup(job.destination);
    let (body, settings) = (job.body.clone(), job.settings.clone());
    let types = config.mime_types.clone();
    off_thread(move || shared(&body, prepare(&body, &opts, &settings, &types))).await
}

/// [`for_peer`] as shared bytes, a large body converted as [`for_job_shared`] says.
pub async fn for_peer_shared(
    body: &Bytes,
    peer_8bit: bool,
    format: ContentFormat,
) -> (Bytes, Option<Body>) {
    if !converts_off_thread(body.len()) {
        let (out, param) = for_peer(body, peer_8bit, format);
        return (shared(body, out), param);
    }
    let body = body.clone();
    off_thread(move || {
        let (out, param) = for_peer(&body, peer_8bit, format);
        (shared(&body, out), param)
    })
    .await
}

/// `converted` as [`Bytes`]: a slice of `spooled` when it is a part of it (no copy), the
/// converted copy otherwise.
fn shared(spooled: &Bytes, converted: Cow<'_, [u8]>) -> Bytes {
    match converted {
        Cow::Borrowed(part) => {
            let (whole, p) = (spooled.as_ptr_range(), part.as_ptr_range());
            if whole.start <= p.start && p.end <= whole.end {
                spooled.slice_ref(part)
            } else {
                Bytes::copy_from_slice(part)
            }
        }
        Cow::Owned(v) => Bytes::from(v),
    }
}

fn prepare<'a>(
    body: &'a [u8],
    opts: &DomainOptions,
    settings: &DomainSettings,
    types: &MimeTypes,
) -> Cow<'a, [u8]> {
    let mut body = Cow::Borrowed(body);
    if opts.rich_text == RichText::Never
        && let Some(b) =
            blocking_if_large(body.len(), || super::rich_text::without_tnef(&body, types))
    {
        body = Cow::Owned(b);
    }
    if !opts.send_display_names
        && let Some(b) = super::display_names::without_display_names(&body)
    {
        body = Cow::Owned(b);
    }
    match body {
        Cow::Borrowed(b) => for_domain_with(b, settings, types),
        Cow::Owned(b) => Cow::Owned(for_domain_with(&b, settings, types).into_owned()),
    }
}

/// The postern-message rule for a domain's setting.
fn rule(r: Unrepresentable) -> convert::Unrepresentable {
    match r {
        Unrepresentable::Replace => convert::Unrepresentable::Replace,
        Unrepresentable::Transliterate => convert::Unrepresentable::Transliterate,
        _ => convert::Unrepresentable::Keep,
    }
}

fn convert_for_domain<'a>(
    body: &'a [u8],
    settings: &DomainSettings,
    types: &MimeTypes,
) -> Cow<'a, [u8]> {
    let rule = rule(settings.unrepresentable);
    if settings.content_format == ContentFormat::Uuencode {
        let opts = UuencodeOptions {
            charset: settings.non_mime_charset.clone(),
            unrepresentable: rule,
        };
        // Charsets are checked when the configuration is read; an unknown one here
        // leaves the message as MIME rather than guessing.
        if let Ok(c) = mime_to_uuencode_types(&Message::parse(body), &opts, types)
            && c.report.changed
        {
            return Cow::Owned(c.message);
        }
    }
    match translate_charset_borrowed(&Message::parse(body), &settings.charset, rule) {
        Ok((message, report)) if report.changed => message,
        _ => Cow::Borrowed(body),
    }
}

/// The body and its `BODY=` parameter for a peer that does (`peer_8bit`) or does not offer
/// 8BITMIME: 8-bit content goes as `8BITMIME` when offered, else is downgraded to 7 bit.
/// Content that is not even 8bit-clean (NUL octets, bare CRs, lines over 998 octets: a
/// UTF-16 text part sent "8bit", say) is downgraded for every peer, ASCII or not: SMTP
/// could not carry it as it is, and the downgrade re-encodes exactly those parts (base64
/// where their octets must be kept). For a `uuencode` domain (`format`), whose reader
/// does not decode MIME, 8-bit text is transliterated instead of made quoted-printable.
pub fn for_peer(
    body: &[u8],
    peer_8bit: bool,
    format: ContentFormat,
) -> (Cow<'_, [u8]>, Option<Body>) {
    let check = blocking_if_large(body.len(), || WireCheck::of(body));
    if check.is_seven_bit() {
        return (Cow::Borrowed(body), None);
    }
    if peer_8bit && check.is_eight_bit_clean() {
        return (Cow::Borrowed(body), Some(Body::EightBitMime));
    }
    let c = blocking_if_large(body.len(), || {
        let msg = Message::parse(body);
        match format {
            ContentFormat::Uuencode => downgrade_to_7bit_for_non_mime(&msg),
            _ => downgrade_to_7bit(&msg),
        }
    });
    // Parts inside signed content may have to stay 8-bit; say so honestly.
    let param = (!c.message.is_ascii()).then_some(Body::EightBitMime);
    (Cow::Owned(c.message), param)
}

/// Bodies from this size on are converted where the thread's other tasks need not wait:
/// parsing and re-encoding megabytes takes milliseconds. On a multi-thread runtime the
/// conversion runs in place with the worker's other tasks handed to another thread
/// (`block_in_place`); on a single-thread one (`scheduler = "per_thread"`) the async
/// entry points ([`for_job_shared`], [`for_peer_shared`]) run it on the blocking pool.
pub const INLINE_CONVERSION_MAX: usize = 256 * 1024;

/// The current runtime's flavour, if there is one.
fn flavor() -> Option<tokio::runtime::RuntimeFlavor> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.runtime_flavor())
}

/// Runs `f` in place, first moving the worker's other tasks to another thread
/// (`block_in_place`) when the body is large and the runtime has other threads.
fn blocking_if_large<R>(len: usize, f: impl FnOnce() -> R) -> R {
    if len >= INLINE_CONVERSION_MAX && flavor() == Some(tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// Whether a body of `len` octets is converted on the blocking pool: a large one, on a
/// single-thread runtime.
fn converts_off_thread(len: usize) -> bool {
    len >= INLINE_CONVERSION_MAX && flavor() == Some(tokio::runtime::RuntimeFlavor::CurrentThread)
}

/// Runs `f` on the blocking pool and waits for it; a panic in `f` goes on in the caller,
/// as it would have inline.
async fn off_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
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
        let (b, p) = for_peer(raw.as_bytes(), false, ContentFormat::Mime);
        assert!(b.is_ascii());
        assert_eq!(p, None);
        let (b, p) = for_peer(raw.as_bytes(), true, ContentFormat::Mime);
        assert_eq!(&*b, raw.as_bytes());
        assert_eq!(p, Some(Body::EightBitMime));
    }

    #[test]
    fn nul_octets_are_downgraded_even_when_ascii() {
        // UTF-16 of ASCII text is ASCII octets with NULs: not 7bit (nor 8bit) data.
        let mut raw = b"Content-Type: text/plain; charset=utf-16le\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
        let utf16: Vec<u8> = "e\nf\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        raw.extend_from_slice(&utf16);
        for peer_8bit in [false, true] {
            let (b, p) = for_peer(&raw, peer_8bit, ContentFormat::Mime);
            assert_eq!(p, None);
            assert!(!b.contains(&0));
            let msg = Message::parse(&b);
            assert_eq!(&msg.root().decoded_body()[..], &utf16[..]);
        }
    }

    #[test]
    fn unrepresentable_text_follows_the_rule() {
        let raw = "Content-Type: text/plain; charset=utf-8\r\n\r\nCaf\u{e9} 5 \u{20ac}\r\n";
        let mut s = DomainSettings {
            charset: "us-ascii".into(),
            ..DomainSettings::default()
        };
        // keep: left as it was, still (correctly) UTF-8.
        assert_eq!(&*for_domain(raw.as_bytes(), &s), raw.as_bytes());
        s.unrepresentable = Unrepresentable::Replace;
        let out = for_domain(raw.as_bytes(), &s);
        assert!(
            out.ends_with(b"Caf? 5 ?\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(String::from_utf8_lossy(&out).contains("charset=us-ascii"));
        s.unrepresentable = Unrepresentable::Transliterate;
        let out = for_domain(raw.as_bytes(), &s);
        assert!(out.ends_with(b"Cafe 5 EUR\r\n"));
    }

    #[test]
    fn uuencode_text_in_the_non_mime_charset() {
        let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
                   Content-Type: text/plain; charset=utf-8\r\n\r\nGr\u{fc}\u{df}e\r\n--b\r\n\
                   Content-Type: application/octet-stream; name=a.bin\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\nAQID\r\n--b--\r\n";
        let mut s = DomainSettings {
            content_format: ContentFormat::Uuencode,
            non_mime_charset: "iso-8859-1".into(),
            ..DomainSettings::default()
        };
        let out = for_domain(raw.as_bytes(), &s);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("charset=iso-8859-1"), "{text}");
        assert!(out.windows(7).any(|w| w == b"Gr\xfc\xdfe\r\n"));
        assert!(text.contains("begin 644 a.bin\r\n#`0(#\r\n`\r\nend\r\n"));
        // A 7-bit peer: the blocks are copied, the text transliterated, no QP.
        let (seven, param) = for_peer(&out, false, ContentFormat::Uuencode);
        assert_eq!(param, None);
        let seven = String::from_utf8(seven.into_owned()).unwrap();
        assert!(seven.contains("\r\n\r\nGrusse\r\n"), "{seven}");
        assert!(seven.contains("begin 644 a.bin\r\n#`0(#\r\n`\r\nend\r\n"));
        assert!(!seven.contains("quoted-printable"));
        // The default non-MIME charset is US-ASCII, as in the IMS.
        s.non_mime_charset = DomainSettings::default().non_mime_charset;
        s.unrepresentable = Unrepresentable::Transliterate;
        let out = for_domain(raw.as_bytes(), &s);
        assert!(out.is_ascii());
        assert!(String::from_utf8_lossy(&out).contains("Grusse\r\n"));
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
            for_peer(&body, false, ContentFormat::Mime).0.into_owned(),
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let task = rt.spawn(async move {
            (
                for_domain(&body, &settings).into_owned(),
                for_peer(&body, false, ContentFormat::Mime).0.into_owned(),
            )
        });
        let on_worker = rt.block_on(task).unwrap();
        assert!(here.1.is_ascii());
        assert_eq!(here, on_worker);
    }

    #[test]
    fn large_bodies_leave_a_single_thread_runtime_free() {
        // scheduler = "per_thread": the thread's other tasks run while a large body is
        // converted, and the result is the one converted in place.
        let body = Bytes::from(format!(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
            "naïve café\r\n".repeat(INLINE_CONVERSION_MAX / 10)
        ));
        let here = for_peer(&body, false, ContentFormat::Mime).0.into_owned();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (ticks, out) = rt.block_on(async {
            let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let counter = ticks.clone();
            tokio::spawn(async move {
                loop {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            });
            let (out, param) = for_peer_shared(&body, false, ContentFormat::Mime).await;
            assert_eq!(param, None);
            (ticks.load(std::sync::atomic::Ordering::Relaxed), out)
        });
        assert!(ticks > 0, "the other task never ran during the conversion");
        assert_eq!(&out[..], &here[..]);
        // Small bodies stay inline, and unchanged ones are the spooled buffer itself.
        let small = Bytes::from_static(b"Subject: x\r\n\r\nhi\r\n");
        let (same, _) = rt.block_on(for_peer_shared(&small, false, ContentFormat::Mime));
        assert_eq!(same.as_ptr(), small.as_ptr());
    }
}
