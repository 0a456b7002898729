#![no_main]
//! Parses arbitrary bytes as a command line, with the default limits and with tiny ones.
//! Whatever parses must format to a line that parses back to the same command.
use libfuzzer_sys::fuzz_target;
use postern_smtp::{Command, Limits};

fn tiny() -> Limits {
    let mut l = Limits::default();
    l.max_command_line = 24;
    l.max_local_part = 4;
    l.max_domain = 8;
    l.max_path = 12;
    l.max_auth_line = 30;
    l
}

/// Limits wide enough that only syntax decides: the canonical form may be longer than
/// the input (an IPv6 literal written out, for one).
fn wide() -> Limits {
    let mut l = Limits::default();
    l.max_command_line = usize::MAX;
    l.max_local_part = usize::MAX;
    l.max_domain = usize::MAX;
    l.max_path = usize::MAX;
    l
}

fn check(data: &[u8], limits: &Limits) {
    let Ok(cmd) = Command::parse(data, limits) else {
        return;
    };
    let mut out = Vec::new();
    cmd.write_to(&mut out);
    let line = out.strip_suffix(b"\r\n").expect("ends in CRLF");
    assert!(!line.contains(&b'\n') && !line.contains(&b'\r'));
    let again = Command::parse(line, &wide());
    assert_eq!(again.as_ref(), Ok(&cmd), "{:?}", String::from_utf8_lossy(line));
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(data, &tiny());
});
