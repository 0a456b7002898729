//! Message parsing bench (filled in by the message-parser work).
fn main() {}
