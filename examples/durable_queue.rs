//! A mail queue with postern-queue: a retry policy of your own, deliveries that fail and
//! are retried, and a queue that picks up where it was after the process stops.
//!
//! ```text
//! cargo run --example durable_queue
//! ```
//!
//! The [`Queue`] keeps every message in a spool directory: [`Queue::enqueue`] and
//! [`Queue::report`] are durable (fsynced) before they return, so an SMTP server may
//! answer `250` once `enqueue` has, and a crash loses nothing it acknowledged. They block
//! on the disk: async code runs them with `tokio::task::spawn_blocking`.
//!
//! The queue never reads a clock. Every call takes `now`, so this program walks through
//! an hour in a few milliseconds — and so can your tests. A real delivery loop passes
//! `Timestamp::now()` and sleeps until [`Queue::next_wakeup`].
//!
//! The story: a message for two domains; `example.com` takes it at once, `slow.example`
//! answers `451` twice and accepts on the third try; the process "stops" (the queue is
//! dropped) and starts again (the spool is reopened) between attempts. The program exits
//! 0 when the queue ends empty with both recipients delivered at the expected times.

use std::time::Duration;

use postern_queue::{
    Envelope, FailureClass, Outcome, Queue, QueueConfig, RecipientState, RetryPolicy,
    RetrySchedule, Timestamp,
};

const MINUTE: u64 = 60_000;

/// Retry after 5 minutes, then 10, 20, …, at most 6 retries (the Exchange IMS default is
/// 60 minutes × 1.5, 8 retries; interval lists and Exim-style rules exist too).
fn config() -> QueueConfig {
    // Time-outs, delay notices, destination backoff and spool settings as documented.
    let mut config = QueueConfig::default();
    config.retry = RetryPolicy::default();
    config.retry.schedule = RetrySchedule::Geometric {
        first: Duration::from_secs(5 * 60),
        factor: 2.0,
        max_retries: 6,
    };
    config.retry.jitter_percent = 0;
    config
}

/// One round of the delivery loop: every attempt due at `now`, answered by a pretend
/// network where `slow.example` defers while `slow_defers` is true.
fn deliver_due(queue: &Queue, now: Timestamp, slow_defers: bool) -> std::io::Result<()> {
    for delivery in queue.due(now, 100) {
        let outcome = if delivery.destination == "slow.example" && slow_defers {
            // A 4xx from the server: the recipient follows its retry schedule.
            Outcome::Deferred {
                class: FailureClass::Recipient,
                reply: "451 4.3.0 try again later".into(),
            }
        } else {
            Outcome::Delivered("250 2.0.0 Ok: queued".into())
        };
        println!(
            "  +{:>2} min  {} for {}: {outcome:?}",
            (now.0 - START.0) / MINUTE,
            delivery.id,
            delivery.destination
        );
        let outcomes: Vec<_> = delivery
            .recipients
            .iter()
            .map(|r| (r.index, outcome.clone()))
            .collect();
        let result = queue
            .report(&delivery, &outcomes, now)
            .map_err(std::io::Error::other)?;
        if result.completed {
            println!("           every recipient is final: the message leaves the spool");
        }
    }
    Ok(())
}

/// A fixed start, so the output is the same every run.
const START: Timestamp = Timestamp(1_800_000_000_000);

fn at(minutes: u64) -> Timestamp {
    Timestamp(START.0 + minutes * MINUTE)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("postern-queue-example-{}", std::process::id()));
    let result = story(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn story(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    // First run: accept a message, try it once.
    let (queue, _) = Queue::open(dir, config(), at(0))?;
    let envelope = Envelope::new(
        "jo@sender.example",
        ["ann@example.com", "bo@slow.example"],
        at(0),
    );
    let id = queue.enqueue(&envelope, b"Subject: hi\r\n\r\nHello.\r\n", at(0))?;
    println!("enqueued {id}");
    deliver_due(&queue, at(0), true)?;
    assert_eq!(queue.next_wakeup(), Some(at(5)));
    drop(queue);
    println!("-- the process stops");

    // Second run, 3 minutes later: the spool is recovered, nothing is due yet.
    let (queue, recovered) = Queue::open(dir, config(), at(3))?;
    println!(
        "-- restarted: {} message(s) recovered",
        recovered.messages.len()
    );
    let state = &recovered.messages[0].state.recipients;
    assert!(matches!(state[0], RecipientState::Delivered { .. }));
    assert!(matches!(
        state[1],
        RecipientState::Deferred { attempts: 1, next_attempt, .. } if next_attempt == at(5)
    ));
    assert!(queue.due(at(3), 100).is_empty());
    deliver_due(&queue, at(5), true)?; // Second failure: next retry 10 minutes later.
    assert_eq!(queue.next_wakeup(), Some(at(15)));
    drop(queue);
    println!("-- the process stops again");

    // Third run: the retry is due, and this time the server takes it.
    let (queue, _) = Queue::open(dir, config(), at(15))?;
    deliver_due(&queue, at(15), false)?;
    assert!(queue.is_empty());
    drop(queue);

    let (_, recovered) = Queue::open(dir, config(), at(16))?;
    assert!(recovered.messages.is_empty(), "nothing left after delivery");
    println!("-- restarted: the spool is empty");
    Ok(())
}
