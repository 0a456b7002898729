//! Inputs the `convert` fuzz target found, kept as regression tests: each made the 7bit
//! downgrade leave 8-bit octets in its output (8-bit junk in a base64 body, an 8-bit
//! address, an 8-bit parameter name, 8-bit fields of a multipart, an 8-bit line the parser
//! skips in the header block, also in a leaf that needs no other change). All conversions must also run on them without panicking.

use postern_message::Message;
use postern_message::convert::{
    downgrade_to_7bit, mime_to_uuencode, translate_charset, uuencode_to_mime,
};

const FOUND: &[(&str, &[u8])] = &[
    (
        "8bit in base64",
        include_bytes!("fuzz/convert-regression_8bit_in_base64"),
    ),
    (
        "8bit address",
        include_bytes!("fuzz/convert-regression_8bit_address"),
    ),
    (
        "8bit parameter name",
        include_bytes!("fuzz/convert-regression_8bit_param_name"),
    ),
    (
        "8bit container fields",
        include_bytes!("fuzz/convert-regression_8bit_container_fields"),
    ),
    (
        "8bit skipped line",
        include_bytes!("fuzz/convert-regression_8bit_skipped_from_line"),
    ),
    (
        "8bit skipped line in an unchanged leaf",
        include_bytes!("fuzz/convert-regression_8bit_skipped_line_in_leaf"),
    ),
];

#[test]
fn seven_bit_output_is_ascii() {
    for (what, raw) in FOUND {
        let msg = Message::parse(raw);
        let out = downgrade_to_7bit(&msg);
        assert!(out.message.is_ascii(), "{what}");
        assert!(out.report.changed, "{what}");
        // And it still parses to the same number of leaves.
        let back = Message::parse(&out.message);
        assert_eq!(back.leaves().count(), msg.leaves().count(), "{what}");
    }
}

#[test]
fn every_conversion_runs() {
    for (_, raw) in FOUND {
        let msg = Message::parse(raw);
        let _ = mime_to_uuencode(&msg);
        let _ = uuencode_to_mime(&msg);
        let _ = translate_charset(&msg, "iso-8859-1").unwrap();
    }
}
