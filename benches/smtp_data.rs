//! DATA decoder bench (filled in by the DATA-framing work).
fn main() {}
