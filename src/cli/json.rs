//! The one JSON helper the hand-written `--json` outputs share.

use std::fmt::Write as _;

/// Appends `s` as a JSON string literal: quotes, backslashes and control characters
/// (including DEL) escaped, everything else as is (JSON text is UTF-8).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_json_requires() {
        let mut out = String::new();
        super::write_str(&mut out, "a\"b\\c\nd\u{1}\u{7f}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001\u007fé""#);
    }
}
