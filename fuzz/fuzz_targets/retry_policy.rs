#![no_main]
//! The retry-policy string parser and the schedule it produces.
//!
//! Checks: no panic; a parsed policy prints to a string that parses back to the same policy;
//! the next attempt is always after `now` and never after the expiry.
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use postern_queue::policy::{GiveUpReason, RetryDecision, RetryInput, RetryPolicy};
use postern_queue::Timestamp;

fn num(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| a << 8 | u64::from(x))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let (nums, text) = data.split_at(24);
    let Ok(text) = std::str::from_utf8(text) else { return };
    let Ok(policy) = text.parse::<RetryPolicy>() else { return };
    let printed = policy.to_string();
    assert_eq!(printed.parse::<RetryPolicy>().as_ref(), Ok(&policy), "{printed}");
    let first = num(&nums[0..5]);
    let now = Timestamp(first + num(&nums[5..10]));
    let input = RetryInput {
        failures: 1 + (num(&nums[10..12]) as u32 % 100),
        first_failure: Timestamp(first),
        last_gap: Duration::from_millis(num(&nums[12..17])),
        expires: Timestamp(first + num(&nums[17..22])),
        seed: num(&nums[16..24]),
    };
    match policy.next_attempt(&input, now) {
        RetryDecision::RetryAt { at, .. } => assert!(at > now && at <= input.expires),
        RetryDecision::GiveUp(GiveUpReason::Expired) => assert!(now >= input.expires),
        RetryDecision::GiveUp(_) => {}
    }
});
