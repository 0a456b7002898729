#![no_main]
//! The `postern queue` control request line (`hold destination example.com`, …) and the
//! target it names.
//!
//! Checks: no panic; a parsed request prints to a line that parses back to the same
//! request, so what the command line writes is what the gateway reads.
use libfuzzer_sys::fuzz_target;
use postern_queue::Command;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cmd) = text.parse::<Command>() else { return };
    let printed = cmd.to_string();
    assert_eq!(printed.parse::<Command>().as_ref(), Ok(&cmd), "{printed:?}");
});
