//! Lines as earlier versions wrote them (byte for byte, from a log on disk) still parse to
//! the same events: the line format did not change when the parser moved to nom.

use postern_track::{Event, EventKind, ParseError, Timestamp, parse_line};

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s.as_bytes()).unwrap()
}

const RECEIVED: &str = "2026-11-23T10:00:00.250Z\t1012\treceived\t0A1B2C3D4E5F\t<1.2@mail.example.org>\tuser1@example.org\trcpt1@dest.example.net,\"a\\,b\"@x.example,\\e,\\-\t2042\tnormal\tReport\\tweekly, \u{e9}t\u{e9}\\x1B\t-\tclient.example.org\t192.0.2.10\t-\t-\t-\t-\t-\t-\t-";
const SENT: &str = "2026-11-23T10:00:01.000Z\t-\tsent\t0A1B2C3D4E5F\t-\t-\trcpt1@dest.example.net\t-\t-\t-\tinternet\tmx.dest.example.net\t2001:db8::25\tTLSv1.3\t3\t2.0.0\t250 2.0.0 Ok\\r\\nX\\\\\t2026-11-23T11:00:00.000Z\t\\xFF\\xC3\tQ2\tfuture-column";

#[test]
fn lines_written_before_read_the_same() {
    let received = Event::new(t("2026-11-23T10:00:00.250Z"), EventKind::Received)
        .queue_id("0A1B2C3D4E5F")
        .message_id("<1.2@mail.example.org>")
        .sender("user1@example.org")
        .recipient("rcpt1@dest.example.net")
        .recipient("\"a,b\"@x.example")
        .recipient("")
        .recipient("-")
        .size(2042)
        .priority("normal")
        .subject("Report\tweekly, \u{e9}t\u{e9}\x1b")
        .remote_host("client.example.org")
        .remote_ip("192.0.2.10".parse().unwrap());
    assert_eq!(parse_line(RECEIVED.as_bytes()), Ok(received.clone()));
    let mut again = Vec::new();
    postern_track::format_line(&received, &mut again);
    assert_eq!(
        again,
        format!("{RECEIVED}\n").into_bytes(),
        "format unchanged"
    );

    let mut sent = Event::new(t("2026-11-23T10:00:01Z"), EventKind::Sent)
        .queue_id("0A1B2C3D4E5F")
        .recipient("rcpt1@dest.example.net")
        .connector("internet")
        .remote_host("mx.dest.example.net")
        .remote_ip("2001:db8::25".parse().unwrap())
        .tls("TLSv1.3")
        .attempt(3)
        .dsn_status("2.0.0")
        .reply("250 2.0.0 Ok\r\nX\\")
        .reason(&b"\xff\xc3"[..]);
    sent.next_retry = Some(t("2026-11-23T11:00:00Z"));
    sent.related_queue_id = Some("Q2".into());
    assert_eq!(parse_line(SENT.as_bytes()), Ok(sent));
}

#[test]
fn malformed_lines_are_refused_as_before() {
    let bad_escape = RECEIVED.replace("\\x1B", "\\x1");
    assert_eq!(
        parse_line(bad_escape.as_bytes()),
        Err(ParseError::BadValue { column: "subject" })
    );
    let dangling = RECEIVED.replace(",\\-", ",\\");
    assert_eq!(
        parse_line(dangling.as_bytes()),
        Err(ParseError::BadValue {
            column: "recipients"
        })
    );
    let signed = RECEIVED.replace("\t2042\t", "\t+2042\t");
    assert_eq!(
        parse_line(signed.as_bytes()),
        Err(ParseError::BadValue { column: "size" })
    );
    let short = RECEIVED.rsplitn(3, '\t').nth(2).unwrap();
    assert_eq!(
        parse_line(short.as_bytes()),
        Err(ParseError::Columns {
            expected: 20,
            found: 18
        })
    );
}
