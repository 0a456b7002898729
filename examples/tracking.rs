//! Message tracking with postern-track: record the events of a message's life, then ask
//! the log what happened — by recipient, by kind, and as one message's whole trace.
//!
//! ```text
//! cargo run --example tracking
//! ```
//!
//! A [`Writer`] takes events without blocking the caller (a background thread batches
//! them to disk), into one plain-text file per UTC day (`YYYYMMDD.log`, tab-separated,
//! as Exchange 5.5 named its tracking logs). A [`Reader`] searches those files with a
//! [`Filter`], and [`Reader::trace`] follows one message through every queue id it had,
//! including the non-delivery report it caused.
//!
//! The writer reads time from a [`Clock`](postern_track::Clock); this program uses a
//! [`ManualClock`] that starts two minutes before midnight, so the story spans two daily
//! files and runs in an instant. The log is written to a temporary directory, printed,
//! and removed. The program exits 0 when every query finds what was written.

use postern_track::{
    Event, EventKind, Filter, ManualClock, Reader, Timestamp, Writer, WriterConfig,
};

const MINUTE: i64 = 60_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("postern-track-example-{}", std::process::id()));
    let result = story(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes a message's life: received for two recipients, one delivered at once, the
/// other deferred, retried after midnight and refused, and the bounce sent back.
fn write_events(
    dir: &std::path::Path,
    clock: &ManualClock,
) -> Result<(), Box<dyn std::error::Error>> {
    let writer = Writer::with_clock(WriterConfig::new(dir), clock.clone())?;
    let mid = "<report-7@example.org>";
    // Each event: a kind, the time (from the writer's clock), and the fields that apply.
    let ev = |kind| {
        Event::new(writer.now(), kind)
            .queue_id("Q1")
            .message_id(mid)
            .sender("jo@example.org")
    };
    writer.record(
        ev(EventKind::Received)
            .recipient("ann@example.com")
            .recipient("bo@slow.example")
            .size(5120)
            .remote_ip([192, 0, 2, 7].into()),
    )?;
    writer.record(
        ev(EventKind::Delivered)
            .recipient("ann@example.com")
            .connector("local"),
    )?;
    let retry = Timestamp::from_unix_ms(writer.now().unix_ms() + 5 * MINUTE).ok_or("time")?;
    writer.record(
        ev(EventKind::Deferred)
            .recipient("bo@slow.example")
            .connector("internet")
            .reply("451 4.3.0 try again later")
            .attempt(1)
            .next_retry(retry),
    )?;

    clock.advance_ms(5 * MINUTE); // Past midnight: the next events go to tomorrow's file.
    writer.record(
        ev(EventKind::Failed)
            .recipient("bo@slow.example")
            .connector("internet")
            .reply("550 5.1.1 no such user")
            .dsn_status("5.1.1")
            .attempt(2),
    )?;
    // The bounce is a message of its own (queue id Q2) that points back at Q1.
    writer.record(
        Event::new(writer.now(), EventKind::DsnGenerated)
            .queue_id("Q2")
            .related_queue_id("Q1")
            .message_id("<ndr-Q1@gateway.example>")
            .recipient("jo@example.org"),
    )?;
    // Events are queued for the writer thread; shutdown writes and closes everything.
    let stats = writer.shutdown()?;
    println!("wrote {stats:?}");
    Ok(())
}

fn story(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    // 2026-12-01 23:58:00 UTC.
    let start = Timestamp::from_unix_ms(1_796_169_480_000).ok_or("time")?;
    let clock = ManualClock::new(start);
    write_events(dir, &clock)?;

    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".log"))
        .collect();
    files.sort();
    println!("daily files: {files:?}");
    assert_eq!(files, ["20261201.log", "20261202.log"]);
    println!("{}", std::fs::read_to_string(dir.join(&files[0]))?);

    let reader = Reader::new(dir);
    // Everything about one recipient.
    let bo = reader.search(&Filter::new().recipient("bo@slow.example"))?;
    println!("bo@slow.example:");
    for e in &bo.events {
        println!(
            "  {} {} {}",
            e.time,
            e.kind,
            e.reply
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    assert_eq!(bo.events.len(), 3); // received, deferred, failed

    // Every failure, whichever message.
    let failed = reader.search(&Filter::new().kind(EventKind::Failed))?;
    assert_eq!(failed.events.len(), 1);

    // The whole life of the message, the bounce it caused included.
    let trace = reader.trace("report-7@example.org")?;
    println!(
        "trace of <report-7@example.org>, queue ids {:?}:",
        trace.queue_ids
    );
    for e in &trace.events {
        let qid = e
            .queue_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!("  {} {qid} {}", e.time, e.kind);
    }
    let kinds: Vec<_> = trace.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Received,
            EventKind::Delivered,
            EventKind::Deferred,
            EventKind::Failed,
            EventKind::DsnGenerated,
        ]
    );
    Ok(())
}
