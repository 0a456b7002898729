//! TLS set-up: the server acceptor for inbound STARTTLS, and the client connector for
//! outbound STARTTLS.
//!
//! Both use rustls with the *ring* provider, so the build needs no C toolchain beyond
//! ring's own.

use std::path::Path;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the acceptor for inbound STARTTLS from a PEM certificate chain and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1). Errors name the file at fault.
pub fn server_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate found", cert.display()));
    }
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| format!("{} with {}: {e}", cert.display(), key.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The connector for outbound STARTTLS to `tls = "verify"` domains: the server's
/// certificate must chain to one of the PEM roots in `roots` and be valid for the host
/// name connected to (RFC 6125 DNS-ID, or an IP address for an address literal), as
/// Postfix's `verify` level checks. Errors name the file.
pub fn verifying_connector(roots: &Path) -> Result<TlsConnector, String> {
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(roots)
        .map_err(|e| format!("{}: {e}", roots.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", roots.display()))?;
    // A system bundle can hold a certificate webpki cannot use as an anchor; skip those,
    // but a file with no usable root at all is a configuration error.
    let (added, _ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "{}: no usable PEM root certificate",
            roots.display()
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The connector for outbound STARTTLS: opportunistic encryption without certificate
/// verification.
///
/// This is what MTAs do between each other (Postfix `smtp_tls_security_level = may` or
/// `encrypt`, RFC 7435 "opportunistic security"): most MX hosts present certificates
/// that do not match their MX name, are self-signed or expired, and refusing them would
/// only push the mail back to plaintext. Encryption still defeats passive eavesdropping.
/// Domains that must authenticate their server say `tls = "verify"` and get
/// [`verifying_connector`]; DANE and MTA-STS are not implemented.
/// The handshake signatures are still verified, so the peer must hold the key of the
/// certificate it shows.
pub fn client_connector() -> TlsConnector {
    let provider = provider();
    let verifier = Arc::new(AnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // Only fails for a provider without TLS 1.2/1.3 suites; ring has both.
        .expect("the ring provider supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Accepts any server certificate, but checks the handshake signatures with the
/// provider's algorithms (see [`client_connector`] for why).
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn loads_fixture() {
        assert!(server_acceptor(&fixture("localhost.crt"), &fixture("localhost.key")).is_ok());
    }

    #[test]
    fn errors_name_the_file() {
        let missing = fixture("missing.crt");
        let e = server_acceptor(&missing, &fixture("localhost.key"))
            .err()
            .unwrap();
        assert!(e.contains("missing.crt"), "{e}");
        // A certificate given where the key belongs.
        let e = server_acceptor(&fixture("localhost.crt"), &fixture("localhost.crt"))
            .err()
            .unwrap();
        assert!(e.contains("localhost.crt"), "{e}");
    }

    #[test]
    fn connector_builds() {
        let _ = client_connector();
    }

    /// A handshake over an in-memory pipe: the server shows mx.crt (issued by
    /// test-ca.crt for `localhost` and 127.0.0.1); the client verifies against `roots`.
    async fn handshake(roots: &str, name: &str) -> Result<(), String> {
        let acceptor = server_acceptor(&fixture("mx.crt"), &fixture("mx.key")).unwrap();
        let connector = verifying_connector(&fixture(roots))?;
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(drop) });
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let client = connector.connect(name, client_io).await.map(drop);
        let _ = server.await;
        client.map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn verify_checks_the_root_and_the_name() {
        handshake("test-ca.crt", "localhost").await.unwrap();
        handshake("test-ca.crt", "127.0.0.1").await.unwrap();
        let e = handshake("test-ca.crt", "mx.other.test").await.unwrap_err();
        assert!(e.contains("not valid for name"), "{e}");
        let e = handshake("localhost.crt", "localhost").await.unwrap_err();
        assert!(e.contains("UnknownIssuer"), "{e}");
    }

    #[test]
    fn roots_without_certificates_are_refused() {
        let e = verifying_connector(&fixture("localhost.key"))
            .err()
            .unwrap();
        assert!(
            e.contains("localhost.key") && e.contains("no usable"),
            "{e}"
        );
        let e = verifying_connector(&fixture("missing.pem")).err().unwrap();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
