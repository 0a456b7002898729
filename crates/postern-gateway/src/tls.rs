//! (being written)
use std::path::Path;
/// stub
pub fn server_acceptor(_cert: &Path, _key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    todo!()
}
/// stub
pub fn client_connector() -> tokio_rustls::TlsConnector {
    todo!()
}
