#![no_main]
//! `WireCheck::of` answers what `ContentStats::of` says about the same octets: its block
//! proof of short lines and its pair folds never disagree with the line-by-line scan.
use libfuzzer_sys::fuzz_target;
use postern_message::encode::{ContentStats, MAX_LINE, WireCheck};

fuzz_target!(|data: &[u8]| {
    let stats = ContentStats::of(data);
    let check = WireCheck::of(data);
    assert_eq!(check.eight_bit, stats.eight_bit > 0);
    assert_eq!(check.nul, stats.nul > 0);
    assert_eq!(check.bare_cr, stats.bare_cr > 0);
    assert_eq!(check.bare_lf, stats.bare_lf > 0);
    assert_eq!(check.long_line, stats.longest_line > MAX_LINE);
    assert_eq!(check.is_seven_bit(), stats.is_seven_bit());
});
