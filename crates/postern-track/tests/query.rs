//! Query filters, the index and its staleness rules, and trace.

mod common;

use common::{TempDir, names, ts};
use postern_track::{
    Event, EventKind, Filter, IndexMode, ManualClock, Reader, Writer, WriterConfig,
};

const MODES: [IndexMode; 2] = [IndexMode::Off, IndexMode::Auto];

/// Two days of traffic: a message to two recipients (one bounces, with an NDR whose own
/// delivery is traced), an unrelated message, and a refused command.
fn sample(dir: &std::path::Path) {
    let mut cfg = WriterConfig::new(dir);
    cfg.retention.max_age_days = None;
    cfg.retention.max_total_bytes = None;
    let w = Writer::with_clock(cfg, ManualClock::new(ts("2026-11-23T00:00:00Z"))).unwrap();
    let m = |t: &str, k| {
        Event::new(ts(t), k)
            .queue_id("Q1")
            .message_id("<m1@example.org>")
            .sender("Alice@Example.org")
    };
    let evs = vec![
        m("2026-11-23T23:59:00Z", EventKind::Received)
            .recipient("bob@example.net")
            .recipient("carol@example.com"),
        Event::new(ts("2026-11-23T23:59:01Z"), EventKind::CommandRejected)
            .sender("spam@bad.example")
            .recipient("x@example.org"),
        m("2026-11-23T23:59:02Z", EventKind::Queued)
            .recipient("bob@example.net")
            .recipient("carol@example.com"),
        m("2026-11-24T00:00:05Z", EventKind::Sent)
            .recipient("bob@example.net")
            .remote_host("mx.example.net"),
        m("2026-11-24T00:00:06Z", EventKind::Failed)
            .recipient("carol@example.com")
            .dsn_status("5.1.1"),
        // The NDR, a new message with its own queue id, pointing back at Q1.
        Event::new(ts("2026-11-24T00:00:07Z"), EventKind::DsnGenerated)
            .queue_id("Q2")
            .message_id("<ndr1@gw>")
            .sender("")
            .recipient("alice@example.org")
            .related_queue_id("Q1"),
        Event::new(ts("2026-11-24T00:00:08Z"), EventKind::Delivered)
            .queue_id("Q2")
            .message_id("<ndr1@gw>")
            .recipient("alice@example.org"),
        Event::new(ts("2026-11-24T01:00:00Z"), EventKind::Received)
            .queue_id("Q3")
            .message_id("<other@x>")
            .sender("dave@x")
            .recipient("BOB@EXAMPLE.NET"),
    ];
    for e in evs {
        w.record(e).unwrap();
    }
    w.shutdown().unwrap();
}

fn kinds(evs: &[Event]) -> Vec<EventKind> {
    evs.iter().map(|e| e.kind).collect()
}

#[test]
fn filters() {
    let dir = TempDir::new("filters");
    sample(dir.path());
    for mode in MODES {
        let r = Reader::new(dir.path()).index_mode(mode);
        let s = |f: Filter| r.search(&f).unwrap().events;
        use EventKind::*;
        assert_eq!(
            kinds(&s(Filter::new().message_id("<m1@example.org>"))),
            [Received, Queued, Sent, Failed]
        );
        assert_eq!(
            s(Filter::new().message_id("m1@example.org")).len(),
            4,
            "brackets optional"
        );
        assert!(
            s(Filter::new().message_id("M1@example.org")).is_empty(),
            "message-ids are exact"
        );
        assert_eq!(
            kinds(&s(Filter::new().queue_id("Q2"))),
            [DsnGenerated, Delivered]
        );
        assert_eq!(
            s(Filter::new().sender("alice@EXAMPLE.org")).len(),
            4,
            "sender is case-insensitive"
        );
        assert_eq!(
            kinds(&s(Filter::new().sender(""))),
            [DsnGenerated],
            "the null sender"
        );
        assert_eq!(
            kinds(&s(Filter::new().recipient("bob@example.net"))),
            [Received, Queued, Sent, Received]
        );
        assert_eq!(
            kinds(&s(Filter::new().kind(Failed).kind(CommandRejected))),
            [CommandRejected, Failed]
        );
        assert_eq!(
            s(Filter::new()
                .since(ts("2026-11-24T00:00:06Z"))
                .until(ts("2026-11-24T00:00:08Z")))
            .len(),
            2
        );
        assert_eq!(
            kinds(&s(Filter::new()
                .message_id("m1@example.org")
                .since(ts("2026-11-24T00:00:00Z")))),
            [Sent, Failed]
        );
        assert_eq!(
            kinds(&s(Filter::new()
                .recipient("carol@example.com")
                .kind(Failed))),
            [Failed]
        );
        assert!(s(Filter::new().queue_id("Q9")).is_empty());
        assert_eq!(s(Filter::new()).len(), 8);
    }
}

#[test]
fn only_files_in_range_are_read() {
    let dir = TempDir::new("range");
    sample(dir.path());
    let r = Reader::new(dir.path()).index_mode(IndexMode::Off);
    let res = r
        .search(&Filter::new().until(ts("2026-11-24T00:00:00Z")))
        .unwrap();
    assert_eq!((res.events.len(), res.stats.files), (3, 1));
    let res = r
        .search(
            &Filter::new()
                .since(ts("2026-11-24T00:00:00Z"))
                .message_id("<m1@example.org>"),
        )
        .unwrap();
    assert_eq!((res.events.len(), res.stats.files), (2, 1));
}

#[test]
fn trace_follows_queue_ids_and_notifications() {
    let dir = TempDir::new("trace");
    sample(dir.path());
    for mode in MODES {
        let tr = Reader::new(dir.path())
            .index_mode(mode)
            .trace("<m1@example.org>")
            .unwrap();
        use EventKind::*;
        assert_eq!(
            kinds(&tr.events),
            [Received, Queued, Sent, Failed, DsnGenerated, Delivered],
            "{mode:?}"
        );
        assert!(tr.events.windows(2).all(|w| w[0].time <= w[1].time));
        assert_eq!(tr.queue_ids, ["Q1", "Q2"]);
        assert_eq!(tr.message_ids, ["m1@example.org", "ndr1@gw"]);
        assert!(!tr.truncated);
        // From the NDR's side, the trace reaches the original too.
        let back = Reader::new(dir.path())
            .index_mode(mode)
            .trace("ndr1@gw")
            .unwrap();
        assert_eq!(back.events.len(), 6);
    }
}

#[test]
fn index_is_built_and_used() {
    let dir = TempDir::new("index");
    sample(dir.path());
    let r = Reader::new(dir.path());
    let res = r
        .search(&Filter::new().message_id("m1@example.org"))
        .unwrap();
    assert_eq!((res.events.len(), res.stats.indexed_files), (4, 2));
    assert_eq!(
        names(dir.path()),
        [
            "20261123.idx",
            "20261123.log",
            "20261124.idx",
            "20261124.log"
        ]
    );
    // The second time, nothing is scanned: the answer comes from the index.
    let again = r
        .search(&Filter::new().message_id("m1@example.org"))
        .unwrap();
    assert_eq!(again.events, res.events);
    assert_eq!(again.stats.bytes_scanned, 0);
}

#[test]
fn grown_log_uses_index_prefix_and_scans_the_tail() {
    let dir = TempDir::new("grown");
    sample(dir.path());
    let r = Reader::new(dir.path());
    r.build_indexes().unwrap();
    let idx_before = std::fs::read(dir.path().join("20261124.idx")).unwrap();
    let mut cfg = WriterConfig::new(dir.path());
    cfg.retention.max_age_days = None;
    let w = Writer::with_clock(cfg, ManualClock::new(ts("2026-11-24T02:00:00Z"))).unwrap();
    w.record(
        Event::new(w.now(), EventKind::Archived)
            .queue_id("Q1")
            .message_id("<m1@example.org>"),
    )
    .unwrap();
    w.shutdown().unwrap();
    let res = r
        .search(&Filter::new().message_id("m1@example.org"))
        .unwrap();
    assert_eq!(res.events.last().unwrap().kind, EventKind::Archived);
    assert_eq!(res.events.len(), 5);
    assert!(
        res.stats.bytes_scanned > 0 && res.stats.bytes_scanned < 400,
        "only the tail: {}",
        res.stats.bytes_scanned
    );
    assert_eq!(
        std::fs::read(dir.path().join("20261124.idx")).unwrap(),
        idx_before,
        "small tail: no rebuild"
    );
}

#[test]
fn stale_or_corrupt_index_is_rebuilt() {
    let dir = TempDir::new("stale");
    sample(dir.path());
    let r = Reader::new(dir.path());
    r.build_indexes().unwrap();
    // Replace a day's log with a different, shorter one: the index no longer fits.
    let log = dir.path().join("20261124.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.contains("<m1@example.org>"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&log, kept).unwrap();
    let res = r
        .search(&Filter::new().message_id("m1@example.org"))
        .unwrap();
    assert_eq!(kinds(&res.events), [EventKind::Received, EventKind::Queued]);
    assert!(res.stats.bytes_scanned > 0, "rebuilt by scanning");
    // Garbage in an index file: rebuilt, answers stay right.
    std::fs::write(dir.path().join("20261123.idx"), b"PTIDX001garbage").unwrap();
    let res = r.search(&Filter::new().queue_id("Q1")).unwrap();
    assert_eq!(res.events.len(), 2);
    let res = r.search(&Filter::new().queue_id("Q3")).unwrap();
    assert_eq!(res.events.len(), 1);
}

#[test]
fn malformed_lines_are_skipped_not_fatal() {
    let dir = TempDir::new("malformed");
    sample(dir.path());
    let log = dir.path().join("20261124.log");
    let mut text = std::fs::read(&log).unwrap();
    text.extend_from_slice(
        b"not a line\n\xff\xfe\t\t\n2026-11-24T03:00:00.000Z\t-\tsent\tQ1\t<m1@example.org>\n",
    );
    text.extend_from_slice(&vec![b'z'; 100_000]);
    text.push(b'\n');
    std::fs::write(&log, text).unwrap();
    for mode in MODES {
        let mut limits = postern_track::ReadLimits::default();
        limits.max_line_len = 50_000;
        let r = Reader::new(dir.path()).index_mode(mode).limits(limits);
        let res = r.search(&Filter::new()).unwrap();
        assert_eq!(res.events.len(), 8);
        assert_eq!(res.stats.malformed_lines, 4, "{mode:?}");
        let res = r
            .search(&Filter::new().message_id("m1@example.org"))
            .unwrap();
        assert_eq!(res.events.len(), 4);
    }
}

#[test]
fn max_results_truncates() {
    let dir = TempDir::new("max");
    sample(dir.path());
    let mut limits = postern_track::ReadLimits::default();
    limits.max_results = 3;
    let r = Reader::new(dir.path()).limits(limits);
    let res = r.search(&Filter::new()).unwrap();
    assert!(res.truncated);
    assert_eq!(res.events.len(), 3);
}

#[test]
fn a_replaced_longer_log_is_not_mistaken_for_a_grown_one() {
    let dir = TempDir::new("replaced");
    sample(dir.path());
    let r = Reader::new(dir.path());
    r.build_indexes().unwrap();
    // Another file of the same day, longer, different from the first byte on.
    let log = dir.path().join("20261124.log");
    let old = std::fs::read_to_string(&log).unwrap();
    let mut new = String::from("# another header line that shifts every offset\n");
    new.push_str(&old);
    new.push_str(&old.replace("<m1@example.org>", "<m2@example.org>"));
    std::fs::write(&log, new).unwrap();
    let res = r
        .search(&Filter::new().message_id("m1@example.org"))
        .unwrap();
    assert_eq!(
        kinds(&res.events),
        [
            EventKind::Received,
            EventKind::Queued,
            EventKind::Sent,
            EventKind::Failed
        ]
    );
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(
        res.stats.bytes_scanned >= len,
        "the whole new log was read to rebuild its index"
    );
}
