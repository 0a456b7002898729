#![no_main]
//! Address-space pattern parser and matcher: any bytes as a pattern of any type, matched
//! against any address. Must not panic; `*` must match everything; a literal SMTP address
//! pattern must match itself exactly.
use libfuzzer_sys::fuzz_target;
use postern_route::{AddressPattern, AddressType, Limits, MatchQuality};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (pattern, address) = text.split_once('\n').unwrap_or((&text, ""));
    let ty = match sel % 4 {
        0 => AddressType::Smtp,
        1 => AddressType::X400,
        2 => AddressType::Ms,
        _ => AddressType::parse("NOTES").unwrap(),
    };
    let limits = Limits::DEFAULT;
    let Ok(p) = AddressPattern::parse(&ty, pattern, &limits) else {
        return;
    };
    let q = p.matches(address, &limits);
    if p.is_type_only() {
        assert_eq!(q, Some(MatchQuality::TypeOnly));
    }
    if ty == AddressType::Smtp && !pattern.contains(['*', '%']) && pattern.contains('@') {
        // A literal address matches itself (modulo the trailing-dot and trim rules).
        assert!(p.matches(pattern.trim(), &limits).is_some(), "{pattern:?}");
    }
});
