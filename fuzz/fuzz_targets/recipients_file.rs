//! The `[inbound] recipients_file` parser: any text gives a list or an error naming a
//! line of the text, never a panic; every address the list says it holds is found
//! again however its case is written.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postern_gateway::policy::recipients::RecipientList;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RecipientList::parse(text) {
        Ok(list) => {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (local, domain) = line.rsplit_once('@').expect("accepted lines have @");
                assert!(list.contains(local, domain), "{line:?} parsed but not found");
                let upper = (local.to_uppercase(), domain.to_uppercase());
                if local.to_lowercase() == upper.0.to_lowercase()
                    && domain.to_lowercase() == upper.1.to_lowercase()
                {
                    assert!(list.contains(&upper.0, &upper.1), "{line:?} in upper case");
                }
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.lines().count(), "{e}"),
    }
});
