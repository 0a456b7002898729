//! `postern queue list/show` tell the real next attempt of each recipient — the later of
//! its retry schedule and its destination's backoff — and which one it waits for (#21).
//! The backoff is what a running gateway publishes in the spool; here the queue is driven
//! directly and its table published the same way, then the real binary reads the spool.

use std::process::Command;

use postern::queue::wait;
use postern::queue::{Envelope, FailureClass, Outcome, Queue, QueueConfig, Timestamp};

fn postern(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_postern"))
        .args(args)
        .output()
        .expect("run postern");
    assert!(
        out.status.success(),
        "postern {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn deferred(class: FailureClass, reply: &str) -> Outcome {
    Outcome::Deferred {
        class,
        reply: reply.into(),
    }
}

#[test]
fn list_and_show_say_what_each_recipient_waits_for() {
    let dir = std::env::temp_dir().join(format!("postern-queue-waits-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = Timestamp::now();
    let (q, _) = Queue::open(&dir, QueueConfig::default(), now).unwrap();
    let down = q
        .enqueue(
            &Envelope::new("s@src.test", ["a@down.test"], now),
            b"1",
            now,
        )
        .unwrap();
    let grey = q
        .enqueue(
            &Envelope::new("s@src.test", ["b@grey.test"], now),
            b"2",
            now,
        )
        .unwrap();
    for d in q.due(now, 10) {
        let outcome = if d.id == down {
            deferred(FailureClass::Connection, "451 4.4.1 connect refused")
        } else {
            deferred(FailureClass::Recipient, "451 4.7.1 greylisted")
        };
        q.report(&d, &[(0, outcome)], now).unwrap();
    }
    // A message that came in while down.test is backed off: never tried, waits too.
    let new = q
        .enqueue(
            &Envelope::new("s@src.test", ["c@down.test"], now),
            b"3",
            now,
        )
        .unwrap();
    // The gateway's notes: one destination's connector is down.
    let idle = q
        .enqueue(
            &Envelope::new("s@src.test", ["d@idle.test"], now),
            b"4",
            now,
        )
        .unwrap();
    let published = wait::Published {
        backoff: q.backoff_entries(now),
        notes: vec![wait::Note {
            destination: Some("idle.test".into()),
            kind: "connector-down".into(),
            text: "connector relay down".into(),
        }],
    };
    let text = wait::published_text(&published);
    wait::write_published(q.spool().dir(), &text).unwrap();
    drop(q);

    let spool = dir.to_str().unwrap();
    let list = postern(&["queue", "list", "--spool", spool]);
    let line = |addr: &str| {
        list.lines()
            .find(|l| l.contains(addr))
            .unwrap_or_else(|| panic!("{addr} in {list}"))
            .to_owned()
    };
    assert!(
        line("a@down.test").contains("(destination backoff after 1 failure(s))"),
        "{list}"
    );
    assert!(line("a@down.test").contains("0 attempts"), "{list}");
    assert!(
        line("c@down.test").contains("pending, next ")
            && line("c@down.test").contains("(destination backoff after 1 failure(s))"),
        "{list}"
    );
    assert!(
        line("b@grey.test").contains("1 attempts, next ")
            && line("b@grey.test").contains("(retry schedule)"),
        "{list}"
    );

    assert!(
        line("d@idle.test").contains("waits: connector relay down"),
        "{list}"
    );
    assert!(
        list.contains("-- backoff: down.test after 1 failure(s)"),
        "{list}"
    );
    assert!(
        list.contains("-- waits: idle.test: connector relay down"),
        "{list}"
    );
    let summary = postern(&["queue", "summary", "--spool", spool]);
    assert!(summary.contains("-- backoff: down.test"), "{summary}");
    let idle_id = idle.to_string();
    let show = postern(&["queue", "show", &idle_id, "--spool", spool, "--json"]);
    assert!(show.contains(r#""waits_for":"connector-down""#), "{show}");
    // An administrator's hold comes first.
    let held = postern(&["queue", "hold", &idle_id, "--spool", spool]);
    assert!(held.contains("held"), "{held}");
    let show = postern(&["queue", "show", &idle_id, "--spool", spool]);
    assert!(show.contains("waits: held by an administrator"), "{show}");

    let show = postern(&[
        "queue",
        "show",
        &new.to_string(),
        "--spool",
        spool,
        "--json",
    ]);
    assert!(
        show.contains(r#""state":"pending""#)
            && show.contains(r#""waits_for":"destination-backoff""#),
        "{show}"
    );
    let show = postern(&[
        "queue",
        "show",
        &grey.to_string(),
        "--spool",
        spool,
        "--json",
    ]);
    assert!(show.contains(r#""waits_for":"schedule""#), "{show}");
    let show = postern(&["queue", "show", &grey.to_string(), "--spool", spool]);
    assert!(show.contains("(retry schedule)"), "{show}");

    // Without a published table (no gateway), the schedule is all there is.
    std::fs::remove_file(dir.join(wait::PUBLISHED_FILE)).unwrap();
    let list = postern(&["queue", "list", "--spool", spool]);
    assert!(!list.contains("destination backoff"), "{list}");
    std::fs::remove_dir_all(&dir).unwrap();
}
