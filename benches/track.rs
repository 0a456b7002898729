//! track bench (filled in by the track work).
fn main() {}
