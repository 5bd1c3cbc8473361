//! `--tls`: the connection to the server inside TLS, verified against the system's certificate
//! store or `--ca FILE`.
//!
//! The reader and writer threads share one rustls `ClientConnection` behind a mutex, each with
//! its own clone of the socket: the reader waits on the socket without the lock and takes it only
//! to decrypt what arrived; the writer takes it to encrypt a chunk and write its records, so
//! records reach the socket in the order they were made. The handshake runs before the threads
//! start, so a certificate the client cannot trust is reported as the reason it cannot connect,
//! in words a person can act on.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};

/// How long the handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every TLS connection of the session is verified with.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
}

impl Tls {
    /// Trusts the certificates in `ca` (PEM), or without it the system's store.
    pub fn new(ca: Option<&Path>) -> Result<Tls, String> {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(file) => {
                let certs = CertificateDer::pem_file_iter(file)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("--ca {}: {e}", file.display()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("--ca {}: no certificate in it", file.display()));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err("no trusted certificates found on this system \
                                (install ca-certificates, or give --ca FILE)"
                        .to_string());
                }
            }
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
        })
    }

    /// Runs the handshake with the server at `address` (HOST:PORT) over `socket` and returns the
    /// reading and writing halves, or why the server cannot be trusted.
    pub fn connect(&self, address: &str, socket: &TcpStream) -> io::Result<(TlsReader, TlsWriter)> {
        let host = host_of(address);
        let name = server_name(host)?;
        let mut conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let mut sock = socket.try_clone()?;
        sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        while conn.is_handshaking() {
            if let Err(e) = conn.complete_io(&mut sock) {
                return Err(explain(e, host));
            }
        }
        sock.set_read_timeout(None)?;
        let shared = Arc::new(Mutex::new(conn));
        Ok((
            TlsReader {
                sock: socket.try_clone()?,
                tls: shared.clone(),
                ciphertext: vec![0; 16 * 1024],
            },
            TlsWriter {
                sock: socket.try_clone()?,
                tls: shared,
            },
        ))
    }
}

/// `host` of `host:port`, without the brackets of an IPv6 address.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn server_name(host: &str) -> io::Result<ServerName<'static>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_string())
        .map_err(|_| io::Error::other(format!("{host} is not a host name TLS can verify")))
}

/// A failed handshake in words a person can act on.
fn explain(e: io::Error, host: &str) -> io::Error {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                io::Error::other("the TLS handshake timed out (is this a TLS port?)")
            }
            io::ErrorKind::UnexpectedEof => io::Error::other(
                "the server closed the connection during the TLS handshake (is this a TLS port?)",
            ),
            _ => e,
        };
    };
    let why = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check this machine's clock)".to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the server's certificate is not for {host}")
            }
            CertificateError::UnknownIssuer => "the server's certificate is not signed by an \
                                                authority this machine trusts (for a private \
                                                one, give --ca FILE)"
                .to_string(),
            CertificateError::BadSignature => {
                "the server's certificate does not verify against the authority that should \
                 have signed it (a wrong --ca, or a forged certificate)"
                    .to_string()
            }
            CertificateError::Revoked => "the server's certificate was revoked".to_string(),
            other => format!("the server's certificate was refused ({other:?})"),
        },
        // Clear text where a TLS record should be: "-- Welcome ..." read as a record header.
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server did not answer in TLS: it may be a clear-text port (try without --tls)"
                .to_string()
        }
        other => format!("TLS: {other}"),
    };
    io::Error::other(why)
}

/// The reading half: plaintext from the server.
pub struct TlsReader {
    sock: TcpStream,
    tls: Arc<Mutex<ClientConnection>>,
    /// What the socket gave, before decryption.
    ciphertext: Vec<u8>,
}

impl Read for TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut tls = self.tls.lock().unwrap_or_else(|e| e.into_inner());
                match tls.reader().read(buf) {
                    Ok(n) => return Ok(n), // 0: close_notify
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            // Wait for the socket without the lock, so the writer can go on meanwhile.
            let n = self.sock.read(&mut self.ciphertext)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without ending TLS",
                ));
            }
            let mut tls = self.tls.lock().unwrap_or_else(|e| e.into_inner());
            let mut fed = &self.ciphertext[..n];
            while !fed.is_empty() {
                tls.read_tls(&mut fed)?;
                tls.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            // Records the session itself wants to send (a reply to a key update).
            while tls.wants_write() {
                tls.write_tls(&mut self.sock)?;
            }
        }
    }
}

/// The writing half: plaintext to the server.
pub struct TlsWriter {
    sock: TcpStream,
    tls: Arc<Mutex<ClientConnection>>,
}

impl Write for TlsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut tls = self.tls.lock().unwrap_or_else(|e| e.into_inner());
        let n = tls.writer().write(buf)?;
        while tls.wants_write() {
            tls.write_tls(&mut self.sock)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsWriter {
    /// Another handle on the same session (for closing it from the session's thread).
    pub fn handle(&self) -> io::Result<TlsWriter> {
        Ok(TlsWriter {
            sock: self.sock.try_clone()?,
            tls: self.tls.clone(),
        })
    }

    /// Sends close_notify: how a TLS connection ends in good order.
    pub fn close(&mut self) {
        let mut tls = self.tls.lock().unwrap_or_else(|e| e.into_inner());
        tls.send_close_notify();
        while tls.wants_write() {
            if tls.write_tls(&mut self.sock).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_is_what_comes_before_the_port() {
        assert_eq!(host_of("chat.example.org:8080"), "chat.example.org");
        assert_eq!(host_of("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(host_of("[::1]:8443"), "::1");
    }
}
