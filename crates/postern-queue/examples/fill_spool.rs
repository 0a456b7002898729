//! Fills a spool with a few messages and one failed attempt, to try `postern queue` on:
//!
//! ```text
//! cargo run -p postern-queue --example fill_spool -- /tmp/spool
//! cargo run -- queue list --spool /tmp/spool
//! ```

use postern_queue::{Envelope, FailureClass, Outcome, Queue, QueueConfig, Timestamp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "./postern-data/spool".into());
    let now = Timestamp::now();
    let (queue, recovered) = Queue::open(&dir, QueueConfig::default(), now)?;
    println!("recovered {} messages", recovered.messages.len());
    for i in 0..3 {
        let env = Envelope::new(
            format!("sender{i}@example.org"),
            ["alice@example.com", "bob@example.net", "carol@example.com"],
            now,
        );
        let id = queue.enqueue(
            &env,
            format!("Subject: test {i}\r\n\r\nhello\r\n").as_bytes(),
            now,
        )?;
        println!("queued {id}");
    }
    for d in queue.due(now, 100) {
        let outcomes: Vec<_> = d
            .recipients
            .iter()
            .map(|r| {
                let reply = "451 4.4.1 connection refused".to_string();
                (
                    r.index,
                    Outcome::Deferred {
                        class: FailureClass::Connection,
                        reply,
                    },
                )
            })
            .collect();
        queue.report(&d, &outcomes, now)?;
    }
    println!(
        "{} messages queued, next attempt at {:?}",
        queue.len(),
        queue.next_wakeup()
    );
    Ok(())
}
