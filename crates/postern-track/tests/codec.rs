//! The line codec: parse(format(event)) == event for any event, and total on any input.

use std::net::IpAddr;

use postern_track::{Event, EventKind, Text, Timestamp, format_line, parse_line};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Text::from),
        "[ -~]{0,20}".prop_map(Text::from),
        Just(Text::from("-")),
        Just(Text::from("")),
        "\\PC{0,10}".prop_map(Text::from),
    ]
}

fn time() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.unix_ms()..=Timestamp::MAX.unix_ms())
        .prop_map(|ms| Timestamp::from_unix_ms(ms).unwrap())
}

prop_compose! {
    fn event()(
        t in time(), k in proptest::sample::select(EventKind::ALL.to_vec()),
        texts in proptest::collection::vec(proptest::option::of(text()), 12),
        r in proptest::collection::vec(text(), 0..4),
        nums in (proptest::option::of(any::<u64>()), proptest::option::of(any::<u32>())),
        ip in proptest::option::of(any::<IpAddr>()), next in proptest::option::of(time()),
    ) -> Event {
        let mut e = Event::new(t, k);
        let mut it = texts.into_iter();
        let mut n = || it.next().flatten();
        e.queue_id = n(); e.message_id = n(); e.sender = n(); e.priority = n(); e.subject = n();
        e.connector = n(); e.remote_host = n(); e.tls = n(); e.dsn_status = n(); e.reply = n();
        e.reason = n(); e.related_queue_id = n();
        e.recipients = r; e.size = nums.0; e.attempt = nums.1; e.remote_ip = ip; e.next_retry = next;
        e
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_format_round_trip(ev in event()) {
        let mut line = Vec::new();
        format_line(&ev, &mut line);
        prop_assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        prop_assert!(!body.contains(&b'\n') && !body.contains(&b'\r'));
        prop_assert_eq!(body.iter().filter(|&&b| b == b'\t').count(), 19);
        prop_assert!(std::str::from_utf8(body).is_ok());
        prop_assert_eq!(parse_line(body).unwrap(), ev);
    }

    #[test]
    fn parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(ev) = parse_line(&bytes) {
            let mut line = Vec::new();
            format_line(&ev, &mut line);
            prop_assert_eq!(parse_line(&line[..line.len() - 1]).unwrap(), ev);
        }
    }
}

#[test]
fn very_long_values_round_trip() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 256) as u8).collect();
    let ev = Event::new(Timestamp::from_unix_ms(0).unwrap(), EventKind::Failed)
        .reply(big.clone())
        .subject(big.clone())
        .recipient(big);
    let mut line = Vec::new();
    format_line(&ev, &mut line);
    assert_eq!(parse_line(&line[..line.len() - 1]).unwrap(), ev);
}
