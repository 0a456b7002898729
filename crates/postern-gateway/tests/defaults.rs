//! The documented retry defaults add up (issue 24 item 4): the IMS schedule (60 min,
//! then 150 % each time, 8 retries; seed 004 "8 retries over 72 hours") against the
//! per-priority message time-outs (1, 2 and 3 days). Whichever ends first wins; a
//! retry that would fall after the time-out is made at the time-out instead, so a
//! message always gets a last try when it expires. `examples/postern.toml` states the
//! figures this test computes from the effective defaults.

use postern_gateway::Config;
use postern_queue::{Priority, RetryDecision, RetryInput, Timestamp};

/// The retry times (hours after the first attempt) and how the schedule ended.
fn schedule(priority: Priority) -> (Vec<f64>, String) {
    let c = Config::embedded();
    let q = &c.retry.queue;
    let arrival = Timestamp(0);
    let expires = q.lifetimes.expires(arrival, priority, false);
    let (mut now, mut failures, mut last_gap) = (arrival, 1, std::time::Duration::ZERO);
    let mut retries = Vec::new();
    loop {
        let input = RetryInput {
            failures,
            first_failure: arrival,
            last_gap,
            expires,
            seed: 7,
        };
        match q.retry.next_attempt(&input, now) {
            RetryDecision::RetryAt { at, gap } => {
                retries.push(at.0 as f64 / 3_600_000.0);
                (now, last_gap) = (at, gap);
                failures += 1;
            }
            RetryDecision::GiveUp(why) => return (retries, format!("{why:?}")),
        }
    }
}

fn rounded(v: &[f64]) -> Vec<f64> {
    v.iter().map(|h| (h * 100.0).round() / 100.0).collect()
}

#[test]
fn normal_mail_gets_seven_retries_and_a_last_one_at_two_days() {
    let (r, end) = schedule(Priority::Normal);
    assert_eq!(
        rounded(&r),
        [1.0, 2.5, 4.75, 8.13, 13.19, 20.78, 32.17, 48.0],
        "the 8th retry (49.26 h) is brought forward to the 48 h time-out"
    );
    assert_eq!(end, "Expired");
}

#[test]
fn non_urgent_mail_gets_all_eight_retries_before_three_days() {
    let (r, end) = schedule(Priority::NonUrgent);
    assert_eq!(
        rounded(&r),
        [1.0, 2.5, 4.75, 8.13, 13.19, 20.78, 32.17, 49.26]
    );
    assert_eq!(end, "RetriesExhausted", "fails at 49.26 h, before 72 h");
}

#[test]
fn urgent_mail_gets_six_retries_and_a_last_one_at_one_day() {
    let (r, end) = schedule(Priority::Urgent);
    assert_eq!(rounded(&r), [1.0, 2.5, 4.75, 8.13, 13.19, 20.78, 24.0]);
    assert_eq!(end, "Expired");
}

/// `examples/postern.toml` states every `[inbound]` key at its default: reading it
/// gives the defaults the code has, and leaves the connectors marked as written.
#[test]
fn example_file_states_the_inbound_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/postern.toml");
    let c = Config::load(std::path::Path::new(path)).expect("the example is valid");
    assert_eq!(
        c.inbound,
        postern_gateway::policy::InboundSection::default()
    );
    assert!(c.routing.connectors.iter().all(|k| !k.inbound));
    assert!(c.archive.recipients.is_empty());
}

/// A bad `[inbound]` value is refused by `config check`, naming the key and its line.
#[test]
fn inbound_errors_name_key_and_line() {
    let e =
        Config::from_toml_str("[server]\nhostname = \"mx.test\"\n[inbound]\ndomains = [\"*\"]\n")
            .unwrap_err()
            .to_string();
    assert!(e.starts_with("inbound.domains (line 4)"), "{e}");
    assert!(e.contains("open relay"), "{e}");
    let e = Config::from_toml_str("[inbound]\nverify_recipients = \"list\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("inbound.recipients_file"), "{e}");
    let e = Config::from_toml_str("[inbound]\nverify_recipients = \"maybe\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2"), "{e}");
}
