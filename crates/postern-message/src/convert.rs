//! Conversions over a parsed message: MIME to uuencode and back, charset translation, 8bit to 7bit (filled in by the codec work).
