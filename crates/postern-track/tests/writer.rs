//! Writer behaviour: round trips through files, rotation, retention, torn lines, overflow.

mod common;

use common::{TempDir, names, ts};
use postern_track::{
    Durability, Event, EventKind, Filter, IndexMode, ManualClock, Overflow, Reader, Retention,
    Writer, WriterConfig,
};

/// A retention rule (the struct is `#[non_exhaustive]`: built from its default).
fn retention(max_age_days: Option<u32>, max_total_bytes: Option<u64>) -> Retention {
    let mut r = Retention::default();
    r.max_age_days = max_age_days;
    r.max_total_bytes = max_total_bytes;
    r
}

fn hostile(kind: EventKind, i: usize) -> Event {
    let long = "x".repeat(3000);
    Event::new(ts("2026-11-23T10:00:00Z").saturating_add_ms(i as i64), kind)
        .queue_id(format!("Q{i}\t-"))
        .message_id(format!("<m{i}\n@ex\r.org>"))
        .sender(&b"\xff\xfeev\\il@x"[..])
        .recipient("a,b@x")
        .recipient("")
        .recipient("-")
        .recipient("grüße@例え.jp")
        .size(u64::MAX)
        .priority("urgent")
        .subject("Subject\twith\ttabs\nand a\r\nnew line \x1b[31mred")
        .connector("smarthost")
        .remote_host(long.as_str())
        .remote_ip("2001:db8::25".parse().unwrap())
        .tls("TLSv1.3 TLS_AES_256_GCM_SHA384")
        .attempt(u32::MAX)
        .dsn_status("5.1.1")
        .reply("550-5.1.1 first line\r\n550 5.1.1 second line")
        .next_retry(postern_track::Timestamp::MAX)
        .reason("")
        .related_queue_id("-")
}

#[test]
fn every_kind_round_trips_through_a_file_with_hostile_values() {
    let dir = TempDir::new("roundtrip");
    let clock = ManualClock::new(ts("2026-11-23T10:00:00Z"));
    let w = Writer::with_clock(WriterConfig::new(dir.path()), clock).unwrap();
    let events: Vec<Event> = EventKind::ALL
        .iter()
        .enumerate()
        .map(|(i, &k)| hostile(k, i))
        .collect();
    for e in &events {
        w.record(e.clone()).unwrap();
    }
    let stats = w.shutdown().unwrap();
    assert_eq!(
        (stats.written, stats.dropped, stats.truncated),
        (EventKind::ALL.len() as u64, 0, 0)
    );

    let text = std::fs::read(dir.path().join("20261123.log")).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        4 + EventKind::ALL.len(),
        "4 directive lines and one line per event"
    );
    assert!(lines[3].starts_with(b"#Fields: date-time\tevent-id\tevent\t"));
    assert!(std::str::from_utf8(&text).is_ok(), "non-UTF-8 is escaped");
    for l in &lines[4..] {
        assert_eq!(l.iter().filter(|&&b| b == b'\t').count(), 19);
    }

    let found = Reader::new(dir.path())
        .index_mode(IndexMode::Off)
        .search(&Filter::new())
        .unwrap();
    assert_eq!(found.events, events);
}

#[test]
fn values_are_cut_to_the_configured_limits() {
    let dir = TempDir::new("truncate");
    let mut cfg = WriterConfig::new(dir.path());
    cfg.max_value_len = 10;
    cfg.max_recipients = 2;
    let w = Writer::with_clock(cfg, ManualClock::new(ts("2026-11-23T10:00:00Z"))).unwrap();
    let ev = Event::new(ts("2026-11-23T10:00:00Z"), EventKind::Received)
        .reply("0123456789abcdef")
        .recipient("a")
        .recipient("b")
        .recipient("c");
    w.record(ev).unwrap();
    assert_eq!(w.shutdown().unwrap().truncated, 1);
    let got = Reader::new(dir.path())
        .search(&Filter::new())
        .unwrap()
        .events;
    assert_eq!(got[0].reply.as_ref().unwrap(), "0123456789");
    assert_eq!(got[0].recipients.len(), 2);
}

#[test]
fn rotation_at_midnight_utc() {
    let dir = TempDir::new("rotate");
    let clock = ManualClock::new(ts("2026-11-23T23:59:59.998Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.retention.max_age_days = None;
    let w = Writer::with_clock(cfg, clock.clone()).unwrap();
    w.record(Event::new(w.now(), EventKind::Received).queue_id("A"))
        .unwrap();
    clock.advance_ms(1);
    w.record(Event::new(w.now(), EventKind::Queued).queue_id("A"))
        .unwrap();
    clock.advance_ms(1);
    assert_eq!(w.now(), ts("2026-11-24T00:00:00.000Z"));
    w.record(Event::new(w.now(), EventKind::Sent).queue_id("A"))
        .unwrap();
    // A year boundary too.
    clock.set(ts("2026-12-31T23:59:59.999Z"));
    w.record(Event::new(w.now(), EventKind::Deferred).queue_id("B"))
        .unwrap();
    clock.advance_ms(1);
    w.record(Event::new(w.now(), EventKind::Sent).queue_id("B"))
        .unwrap();
    w.shutdown().unwrap();

    let mut logs = names(dir.path());
    logs.retain(|n| n.ends_with(".log"));
    assert_eq!(
        logs,
        [
            "20261123.log",
            "20261124.log",
            "20261231.log",
            "20270101.log"
        ]
    );
    let day1 = std::fs::read_to_string(dir.path().join("20261123.log")).unwrap();
    assert!(
        day1.contains("\treceived\t") && day1.contains("\tqueued\t") && !day1.contains("\tsent\t")
    );
    let day2 = std::fs::read_to_string(dir.path().join("20261124.log")).unwrap();
    assert!(day2.starts_with("#Software: postern-track"));
    assert!(day2.contains("2026-11-24T00:00:00.000Z\t1011\tsent\tA\t"));

    // A time-range query opens only the files in range.
    let r = Reader::new(dir.path())
        .search(
            &Filter::new()
                .since(ts("2026-11-24T00:00:00Z"))
                .until(ts("2026-11-25")),
        )
        .unwrap();
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.stats.files, 1);
}

#[test]
fn retention_by_age_and_size() {
    let dir = TempDir::new("retention");
    // Ten days of files, written with the clock moving along.
    let clock = ManualClock::new(ts("2026-11-01T12:00:00Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.retention.max_age_days = None;
    cfg.retention.max_total_bytes = None;
    let w = Writer::with_clock(cfg, clock.clone()).unwrap();
    for _ in 0..10 {
        w.record(Event::new(w.now(), EventKind::Received).reason("y".repeat(1000)))
            .unwrap();
        clock.advance_ms(86_400_000);
    }
    w.shutdown().unwrap();
    assert_eq!(names(dir.path()).len(), 10);

    // Reopening on 2026-11-10 with a 3-day age limit keeps the 8th, 9th and 10th.
    let clock = ManualClock::new(ts("2026-11-10T01:00:00Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.retention.max_age_days = Some(3);
    cfg.retention.max_total_bytes = None;
    Writer::with_clock(cfg, clock).unwrap().shutdown().unwrap();
    assert_eq!(
        names(dir.path()),
        ["20261108.log", "20261109.log", "20261110.log"]
    );

    // A size cap removes the oldest first and never today's file.
    let one = std::fs::metadata(dir.path().join("20261110.log"))
        .unwrap()
        .len();
    let report = postern_track::retention::apply(
        dir.path(),
        &retention(None, Some(one + 10)),
        postern_track::Day::from_ymd(2026, 11, 10).unwrap(),
    )
    .unwrap();
    assert_eq!(report.removed.len(), 2);
    assert_eq!(names(dir.path()), ["20261110.log"]);
    let report = postern_track::retention::apply(
        dir.path(),
        &retention(Some(1), Some(0)),
        postern_track::Day::from_ymd(2026, 11, 10).unwrap(),
    )
    .unwrap();
    assert!(report.removed.is_empty());
}

#[test]
fn retention_runs_when_the_day_turns() {
    let dir = TempDir::new("retention-rotate");
    let clock = ManualClock::new(ts("2026-11-01T12:00:00Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.retention.max_age_days = Some(2);
    cfg.retention.max_total_bytes = None;
    let w = Writer::with_clock(cfg, clock.clone()).unwrap();
    for _ in 0..4 {
        w.record(Event::new(w.now(), EventKind::Received)).unwrap();
        w.flush().unwrap();
        clock.advance_ms(86_400_000);
    }
    w.shutdown().unwrap();
    assert_eq!(names(dir.path()), ["20261103.log", "20261104.log"]);
}

#[test]
fn torn_last_line_is_skipped_and_the_next_write_starts_a_new_line() {
    let dir = TempDir::new("torn");
    let clock = ManualClock::new(ts("2026-11-23T10:00:00Z"));
    let w = Writer::with_clock(WriterConfig::new(dir.path()), clock.clone()).unwrap();
    w.record(
        Event::new(w.now(), EventKind::Received)
            .queue_id("A")
            .message_id("<a@x>"),
    )
    .unwrap();
    w.shutdown().unwrap();
    // Simulate a crash in the middle of a write.
    let path = dir.path().join("20261123.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(
        &mut f,
        b"2026-11-23T10:00:01.000Z\t1011\tsent\tA\t<a@x>\tbo",
    )
    .unwrap();
    drop(f);

    for mode in [IndexMode::Off, IndexMode::Auto] {
        let r = Reader::new(dir.path()).index_mode(mode);
        let all = r.search(&Filter::new()).unwrap();
        assert_eq!(all.events.len(), 1);
        assert_eq!(all.stats.torn_lines, 1);
        let by_id = r.search(&Filter::new().message_id("<a@x>")).unwrap();
        assert_eq!(by_id.events.len(), 1, "{mode:?}");
    }

    // After restart the writer ends the torn line first; the fragment stays one bad line.
    let w = Writer::with_clock(WriterConfig::new(dir.path()), clock).unwrap();
    w.record(
        Event::new(w.now(), EventKind::Sent)
            .queue_id("A")
            .message_id("<a@x>"),
    )
    .unwrap();
    w.shutdown().unwrap();
    for mode in [IndexMode::Off, IndexMode::Auto] {
        let r = Reader::new(dir.path()).index_mode(mode);
        let all = r.search(&Filter::new()).unwrap();
        assert_eq!(
            all.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::Received, EventKind::Sent]
        );
        assert_eq!(all.stats.malformed_lines, 1);
        assert_eq!(all.stats.torn_lines, 0);
        let by_id = r.search(&Filter::new().message_id("a@x")).unwrap();
        assert_eq!(by_id.events.len(), 2, "{mode:?}");
    }
}

#[test]
fn many_writers_in_one_process() {
    let dir = TempDir::new("threads");
    let clock = ManualClock::new(ts("2026-11-23T10:00:00Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.overflow = Overflow::Block;
    cfg.queue_capacity = 8;
    cfg.durability = Durability::SyncInterval(std::time::Duration::from_millis(5));
    let w = Writer::with_clock(cfg, clock).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    w.record(Event::new(w.now(), EventKind::Queued).queue_id(format!("T{t}-{i}")))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = w.shutdown().unwrap();
    assert_eq!((stats.written, stats.dropped), (4000, 0));
    let r = Reader::new(dir.path()).search(&Filter::new()).unwrap();
    assert_eq!(r.events.len(), 4000);
    assert_eq!(r.stats.malformed_lines, 0);
    assert!(
        w.record(Event::new(w.now(), EventKind::Queued)).is_err(),
        "closed after shutdown"
    );
}

#[test]
fn a_full_queue_drops_and_marks_the_gap() {
    let dir = TempDir::new("overflow");
    let mut cfg = WriterConfig::new(dir.path());
    cfg.queue_capacity = 1;
    cfg.durability = Durability::SyncEveryBatch;
    let w = Writer::with_clock(cfg, ManualClock::new(ts("2026-11-23T10:00:00Z"))).unwrap();
    let n = 5000;
    let mut refused = 0;
    for i in 0..n {
        if w.record(Event::new(w.now(), EventKind::Queued).queue_id(format!("Q{i}")))
            .is_err()
        {
            refused += 1;
        }
    }
    let stats = w.shutdown().unwrap();
    assert_eq!(stats.dropped, refused);
    assert_eq!(stats.written + stats.dropped, n);
    let text = std::fs::read_to_string(dir.path().join("20261123.log")).unwrap();
    let marked: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("#Dropped: "))
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(marked, refused, "every drop is marked in the log");
}

#[test]
fn dropping_the_last_handle_writes_everything() {
    let dir = TempDir::new("drop");
    {
        let w = Writer::with_clock(
            WriterConfig::new(dir.path()),
            ManualClock::new(ts("2026-11-23T10:00:00Z")),
        )
        .unwrap();
        for _ in 0..100 {
            w.record(Event::new(w.now(), EventKind::Received)).unwrap();
        }
    }
    assert_eq!(
        Reader::new(dir.path())
            .search(&Filter::new())
            .unwrap()
            .events
            .len(),
        100
    );
}

/// With a linger, an event still reaches the file on its own (no flush asked) soon after
/// the linger, and a flush asked meanwhile is answered with it written.
#[test]
fn lingering_events_reach_the_file_without_a_flush() {
    let dir = TempDir::new("linger");
    let clock = ManualClock::new(ts("2026-11-23T10:00:00Z"));
    let mut cfg = WriterConfig::new(dir.path());
    cfg.linger = std::time::Duration::from_millis(50);
    let w = Writer::with_clock(cfg, clock).unwrap();
    w.record(Event::new(w.now(), EventKind::Queued).queue_id("L1"))
        .unwrap();
    let search = || {
        Reader::new(dir.path())
            .search(&Filter::new())
            .unwrap()
            .events
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while search().is_empty() {
        assert!(std::time::Instant::now() < until, "never written");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(w.stats().written, 1);
    w.record(Event::new(w.now(), EventKind::Queued).queue_id("L2"))
        .unwrap();
    w.flush().unwrap();
    assert_eq!(search().len(), 2, "a flush waits out the linger");
    w.shutdown().unwrap();
}
