//! (being written)
/// stub
pub async fn run(_ctx: std::sync::Arc<crate::Context>) {}
