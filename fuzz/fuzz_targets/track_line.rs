#![no_main]
//! Placeholder: replaced by the work that implements this target.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
