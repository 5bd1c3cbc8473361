//! TLS: certificates (`--tls-cert`, `--tls-key`) and the sans-IO session that sits between a
//! connection's socket and its decoders ([`session::TlsSession`]).
//!
//! rustls does the protocol; the reactor does every read and write. The configuration is an
//! `Arc<ServerConfig>`: a reload builds a new one and new handshakes take it, while sessions
//! already under way keep the one they started with, so nobody is dropped.

pub mod session;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// The ALPN protocol offered to clients that ask: the chat port speaks HTTP/1.1 (the web client,
/// WebSocket); a client offering no ALPN at all (telnet-style clients, IRC) is served too.
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// Why the certificate files could not be used, naming the file.
#[derive(Debug)]
pub enum CertError {
    /// A file could not be read or is not PEM.
    Read { file: PathBuf, why: String },
    /// The certificate file holds no certificate.
    NoCertificate { file: PathBuf },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key).
    Refused {
        cert: PathBuf,
        key: PathBuf,
        why: rustls::Error,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::Read { file, why } => write!(f, "{}: {why}", file.display()),
            CertError::NoCertificate { file } => {
                write!(f, "{}: no PEM certificate in it", file.display())
            }
            CertError::Refused { cert, key, why } => write!(
                f,
                "{} with {}: cannot be used: {why}",
                cert.display(),
                key.display()
            ),
        }
    }
}

impl std::error::Error for CertError {}

/// The crypto provider every configuration is built on (see Cargo.toml for why ring), with
/// AES-128-GCM first: the server encrypts every delivery once per recipient, and AES-128 costs
/// about a third less than AES-256 per byte for the same standing (TLS 1.3's mandatory suite,
/// first in Mozilla's recommended order). ChaCha20 stays for clients without AES.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::cipher_suite as suite;
    Arc::new(rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::ring::default_provider()
    })
}

/// Reads a PEM certificate chain (the server's certificate first) and its private key (PKCS#8,
/// PKCS#1 RSA or SEC1 EC, as `openssl` and certbot write them; Ed25519 in PKCS#8) into a server
/// configuration offering `http/1.1` by ALPN.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, CertError> {
    let read = |file: &Path, why: rustls::pki_types::pem::Error| CertError::Read {
        file: file.to_path_buf(),
        why: pem_error(why),
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read(cert, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| read(cert, e))?;
    if chain.is_empty() {
        return Err(CertError::NoCertificate {
            file: cert.to_path_buf(),
        });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| read(key, e))?;
    let refused = |why| CertError::Refused {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        why,
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(refused)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    // The server's order, not the client's: rustls clients put AES-256 first.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// pki-types' PEM errors, as a person reads them.
fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(e) => e.to_string(),
        Error::NoItemsFound => "no PEM private key in it".to_string(),
        other => format!("not a PEM file ({other:?})"),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Certificates made on the fly for tests: a self-signed one for `localhost`, written as PEM.

    use std::path::{Path, PathBuf};

    /// A certificate for `names` and its key, as PEM text.
    pub fn self_signed(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = rcgen::generate_simple_self_signed(names).expect("a test certificate");
        (cert.cert.pem(), cert.key_pair.serialize_pem())
    }

    /// `self_signed` written into `dir` as `cert.pem` and `key.pem`.
    pub fn write_self_signed(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf) {
        let (cert, key) = self_signed(names);
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{self_signed, write_self_signed};
    use super::{load, CertError};

    #[test]
    fn a_matching_pair_loads_and_offers_http_1_1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_self_signed(dir.path(), &["localhost"]);
        let config = load(&cert, &key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(config.ignore_client_order);
    }

    #[test]
    fn each_bad_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_self_signed(dir.path(), &["localhost"]);
        let missing = dir.path().join("missing.pem");
        let e = load(&missing, &key).unwrap_err();
        assert!(matches!(e, CertError::Read { .. }), "{e}");
        assert!(
            e.to_string().starts_with(&missing.display().to_string()),
            "{e}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not pem at all\n").unwrap();
        let e = load(&garbage, &key).unwrap_err();
        assert!(matches!(e, CertError::NoCertificate { .. }), "{e}");
        let e = load(&cert, &garbage).unwrap_err();
        assert!(
            e.to_string().contains("garbage.pem: no PEM private key"),
            "{e}"
        );

        // A key that belongs to another certificate.
        let (_, other_key) = self_signed(&["localhost"]);
        let other = dir.path().join("other-key.pem");
        std::fs::write(&other, other_key).unwrap();
        let e = load(&cert, &other).unwrap_err();
        assert!(matches!(e, CertError::Refused { .. }), "{e}");
    }
}
