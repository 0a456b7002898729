//! route bench (filled in by the route work).
fn main() {}
