//! The gateway's configuration loader: any text gives a config or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = postern_gateway::Config::from_toml_str(text) {
            let _ = postern_gateway::effective::effective_settings(&c);
        }
    }
});
