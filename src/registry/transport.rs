//! HTTP agents: TLS verified against the system's CAs plus
//! `certs.d/<host>/*.crt`, or unverified for insecure registries.

use super::RegistryError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
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

/// Adds the certificates of the PEM file at `path` to `roots`: how many were added. A file
/// that cannot be read adds none; a section that is not valid PEM is logged and passed over
/// (the other sections of a bundle still count), as are sections that are not certificates.
fn add_pem(roots: &mut rustls::RootCertStore, path: &Path) -> usize {
    let Ok(bytes) = std::fs::read(path) else { return 0 };
    let mut n = 0;
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        match cert.map(|c| roots.add(c)) {
            Ok(Ok(())) => n += 1,
            Ok(Err(e)) => tracing::debug!(path = %path.display(), error = %e, "skipping a certificate"),
            Err(e) => tracing::debug!(path = %path.display(), error = %e, "skipping a PEM section"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Two self-signed P-256 CA certificates (CN rrun-test-a, rrun-test-b; valid until 2126).
    const TWO_CERTS: &str = "\
-----BEGIN CERTIFICATE-----
MIIBgzCCASmgAwIBAgIUXKnSOtimsA9P7BgvoLILfOu8paEwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcnJ1bi10ZXN0LWEwIBcNMjYxMjAyMTE1NjQwWhgPMjEyNjEx
MDgxMTU2NDBaMBYxFDASBgNVBAMMC3JydW4tdGVzdC1hMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEE+oupv3WRhr3Dszt/O40OXx98XTsANcWEbjIwMpF+lCwhWAI
zua/W0kM3FVduSjOM0d6rkb5Q4ZEag7ttGFUGqNTMFEwHQYDVR0OBBYEFCrucQKg
Lgycfer8+KMfVFYjmxQDMB8GA1UdIwQYMBaAFCrucQKgLgycfer8+KMfVFYjmxQD
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgcxr4QYXEh8mngqZk
uZkhv3LKR8WIikIEd/Vtkji2BM8CIQCgji75yAdlGnzKnnO7vfOCNFnso/AabF1C
q3uENXI/kw==
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
MIIBgjCCASmgAwIBAgIUcBCL/xntpGM3pnu1Zt6EUnjGtMgwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcnJ1bi10ZXN0LWIwIBcNMjYxMjAyMTE1NjQwWhgPMjEyNjEx
MDgxMTU2NDBaMBYxFDASBgNVBAMMC3JydW4tdGVzdC1iMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEMsXKLLgsH5PVeBTTNDckC/AafSaoyFohi9Luef2+wyevJY34
lmtTmmjhghgbRARHivbDNOAxCUZsW0j0vmyXzKNTMFEwHQYDVR0OBBYEFKeuG/Rd
PvZNz6OwPkmngDVJpgxRMB8GA1UdIwQYMBaAFKeuG/RdPvZNz6OwPkmngDVJpgxR
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgDD4g9RYXz+8kDV25
xZv0KSEd0rLFnfTR9pDR3JApZTgCIG8E9YlPYTTwmrDdTIfGsIHl6ucrGc7E7o5Y
6zT9KZQu
-----END CERTIFICATE-----
";

    fn count(bytes: &[u8]) -> usize {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, bytes).unwrap();
        add_pem(&mut rustls::RootCertStore::empty(), &path)
    }

    #[test]
    fn every_certificate_of_a_bundle_is_added() {
        assert_eq!(count(TWO_CERTS.as_bytes()), 2);
    }

    #[test]
    fn keys_comments_and_broken_sections_are_passed_over() {
        let bundle = format!(
            "a comment line\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
             -----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n{TWO_CERTS}"
        );
        assert_eq!(count(bundle.as_bytes()), 2);
        assert_eq!(count(b""), 0);
        assert_eq!(count(b"-----BEGIN CERTIFICATE-----\nMIIB\n"), 0, "a section without its end");
    }

    #[test]
    fn a_missing_file_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(add_pem(&mut rustls::RootCertStore::empty(), &dir.path().join("none.crt")), 0);
    }

    #[test]
    fn tls_config_reads_the_hosts_certs_d() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().join("registry.test:5000");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("ca.crt"), TWO_CERTS).unwrap();
        assert!(tls_config("registry.test:5000", true, &[dir.path().to_path_buf()]).is_ok());
        assert!(tls_config("registry.test:5000", false, &[]).is_ok());
    }

    proptest! {
        /// Whatever a certs.d file holds, reading it ends and never panics; mangled
        /// bundles (a certificate's lines cut or repeated) add at most what is whole.
        #[test]
        fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            prop_assert_eq!(count(&bytes), 0);
        }

        #[test]
        fn cut_bundles_never_panic(cut in 0..TWO_CERTS.len(), junk in "[-A-Za-z0-9+/= \n]{0,64}") {
            let mangled = format!("{}{junk}{}", &TWO_CERTS[..cut], &TWO_CERTS[cut..]);
            prop_assert!(count(mangled.as_bytes()) <= 2);
        }
    }
}
