#![no_main]
//! The tracking log line parser: total on any bytes, and whatever it accepts formats back
//! to a line that parses to the same event.
use libfuzzer_sys::fuzz_target;
use postern_track::{LineView, format_line, parse_line};

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = LineView::split(data) {
        let _ = view.time();
        let _ = view.kind();
        let _ = view.any_recipient(|r| r.is_empty());
        for i in 0..postern_track::FIELDS.len() {
            let _ = view.text(i);
        }
    }
    if let Ok(ev) = parse_line(data) {
        let mut line = Vec::new();
        format_line(&ev, &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        let body = &line[..line.len() - 1];
        assert!(!body.contains(&b'\n'));
        assert_eq!(parse_line(body).as_ref(), Ok(&ev));
    }
});
