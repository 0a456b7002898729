//! The control protocol end to end: a "gateway" thread owns the queue (and its lock) and
//! polls `control/`; an administrator in another thread submits requests and waits for the
//! answers, while a read-only inspection sees the result.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postern_queue::control::{self, Command};
use postern_queue::{
    Envelope, Queue, QueueConfig, Spool, SpoolError, SpoolOptions, Target, Timestamp,
};

#[test]
fn running_gateway_applies_cli_requests() {
    let dir = std::env::temp_dir().join(format!("postern-control-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = Timestamp(1_000_000);
    let (queue, _) = Queue::open(&dir, QueueConfig::default(), now).unwrap();
    let a = queue
        .enqueue(&Envelope::new("s@x", ["r@one.example"], now), b"a", now)
        .unwrap();
    let b = queue
        .enqueue(&Envelope::new("s@x", ["r@two.example"], now), b"b", now)
        .unwrap();
    // While the gateway runs, nobody else can open the spool for writing.
    assert!(matches!(
        Queue::open(&dir, QueueConfig::default(), now),
        Err(SpoolError::Locked(_))
    ));

    let queue = Arc::new(queue);
    let stop = Arc::new(AtomicBool::new(false));
    let gateway = {
        let (queue, stop) = (Arc::clone(&queue), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                queue.poll_control(now).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let ask = |cmd: Command| {
        let req = control::submit(&dir, &cmd).unwrap();
        control::wait_answer(&req, Duration::from_secs(10)).expect("gateway answered")
    };
    assert!(ask(Command::Hold(Target::Destination("one.example".into()))).starts_with("ok: held"));
    assert!(ask(Command::Delete(Target::Message(b))).starts_with("ok: deleted"));
    assert!(ask(Command::Delete(Target::Message(b))).starts_with("error: no message"));
    stop.store(true, Ordering::Relaxed);
    gateway.join().unwrap();

    assert!(queue.due(now, 10).is_empty(), "one.example is held");
    let seen = Spool::inspect(&dir, &SpoolOptions::default()).unwrap();
    assert_eq!(
        seen.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![a]
    );
    assert!(control::pending_requests(&dir).unwrap().is_empty());
    drop(queue);
    std::fs::remove_dir_all(&dir).unwrap();
}
