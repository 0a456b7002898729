//! queue bench (filled in by the queue work).
fn main() {}
