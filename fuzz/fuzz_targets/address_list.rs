#![no_main]
//! Address lists: any bytes give a list; addresses never contain raw line breaks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let list = postern_message::address::parse_list(data);
    for m in list.mailboxes() {
        assert!(!m.address.contains('\n'));
        let _ = m.name.as_deref();
    }
});
