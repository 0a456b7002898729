//! The Pickup folder's file parser: any bytes give a submission or a refusal, never a
//! panic; a submission always has a recipient.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sub) = postern_gateway::pickup::parse(data) {
        assert!(!sub.recipients.is_empty());
        assert!(sub.body.len() <= data.len());
    }
});
