//! HTTP agents: TLS verified against the system's CAs plus
//! `certs.d/<host>/*.crt`, or unverified for insecure registries.

use super::RegistryError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const SYSTEM_BUNDLES: [&str; 2] = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/// Directories holding per-registry CA certificates, as podman and docker use them.
pub fn default_cert_dirs() -> Vec<PathBuf> {
    vec!["/etc/containers/certs.d".into(), "/etc/docker/certs.d".into()]
}

fn add_pem(roots: &mut rustls::RootCertStore, path: &Path) -> usize {
    let Ok(bytes) = std::fs::read(path) else { return 0 };
    let mut n = 0;
    for cert in rustls_pemfile::certs(&mut &bytes[..]).flatten() {
        if roots.add(cert).is_ok() {
            n += 1;
        }
    }
    n
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS configuration for `host`: system roots plus the host's own CAs, or no verification.
pub fn tls_config(host: &str, verify: bool, cert_dirs: &[PathBuf]) -> Result<Arc<rustls::ClientConfig>, RegistryError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Tls { host: host.into(), reason: e.to_string() })?;
    let config = if verify {
        let mut roots = rustls::RootCertStore::empty();
        for b in SYSTEM_BUNDLES {
            add_pem(&mut roots, Path::new(b));
        }
        for dir in cert_dirs {
            let Ok(rd) = std::fs::read_dir(dir.join(host)) else { continue };
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "crt") {
                    let n = add_pem(&mut roots, &e.path());
                    tracing::debug!(host, path = %e.path().display(), certs = n, "registry CA");
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider()))).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

pub fn agent(tls: Arc<rustls::ClientConfig>) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .tls_config(tls)
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(60))
        .redirects(5)
        .user_agent(concat!("rrun/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Accepts any certificate: only for registries configured insecure or `--tls-verify=false`.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
