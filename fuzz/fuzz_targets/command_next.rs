#![no_main]
//! Arbitrary bytes as a receive buffer for `Command::parse_next`, with the default limits
//! and with tiny ones. Command by command, it must give exactly what a line reader (the
//! first LF ends a line, one CR before it is dropped) followed by `Command::parse` gives,
//! use up exactly that line, and leave only a rest without an LF.
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

fn check(data: &[u8], limits: &Limits) {
    let mut rest = data;
    while let Some((result, used)) = Command::parse_next(rest, limits) {
        let lf = rest.iter().position(|&c| c == b'\n').expect("a line has its LF");
        assert_eq!(used, lf + 1);
        let line = &rest[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert_eq!(result, Command::parse(line, limits), "{:?}", String::from_utf8_lossy(line));
        rest = &rest[used..];
    }
    assert!(!rest.contains(&b'\n'));
}

fuzz_target!(|data: &[u8]| {
    check(data, &Limits::default());
    check(data, &tiny());
});
