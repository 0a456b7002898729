//! SMTP benches (filled in by the command-parser and DATA-decoder work).
fn main() {}
