//! (being written)
/// stub
pub async fn serve_listener(_ctx: std::sync::Arc<crate::Context>, _l: tokio::net::TcpListener) {}
