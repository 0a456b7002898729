#![no_main]
//! X.400 O/R address parser: never panics; the canonical form re-parses to itself; an
//! address used as its own pattern matches it.
use libfuzzer_sys::fuzz_target;
use postern_route::{Limits, OrAddress, X400Pattern};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let limits = Limits::DEFAULT;
    let Ok(addr) = OrAddress::parse(&text, &limits) else {
        return;
    };
    assert!(addr.len() <= limits.max_x400_attributes);
    let canon = addr.canonical();
    if canon.len() <= limits.max_address_len {
        let again = OrAddress::parse(&canon, &limits).expect("canonical form parses");
        assert_eq!(again.canonical(), canon);
    }
    let pattern = X400Pattern::parse(&text, &limits).expect("an address is a pattern");
    assert!(pattern.matches(&addr).is_some(), "self-match");
});
