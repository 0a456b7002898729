//! Transfer and header encoders: base64, quoted-printable, RFC 2047, RFC 2231 (filled in by the codec work).
