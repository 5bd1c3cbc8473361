//! `--tls`: every bench connection inside TLS, driven sans-IO on the bench's own loop.
//!
//! A [`Link`] is a socket with an optional rustls `ClientConnection` in front of it, read and
//! written as clear bytes through `io::Read` and `io::Write`, so the driver, the file fan-out and
//! the handshake loop use it as they use a bare socket. It never blocks by itself: reads take the
//! socket's bytes (`read`), hand them to the session (`read_tls`, `process_new_packets`) and
//! return its plaintext (`reader`); writes give plaintext to the session (`writer`) and send its
//! records (`write_tls`) until the socket would block. On a non-blocking socket `WouldBlock`
//! comes back as it would from the socket; on a blocking one (the file fan-out's logins) the same
//! calls simply wait.
//!
//! Resumption is off: every connection pays a full handshake, as a new user does, and the
//! `handshakes` preset measures exactly that. `--spawn-server` with `--tls` makes a throw-away
//! self-signed ECDSA P-256 certificate ([`write_self_signed`]) and trusts only it.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// Ciphertext read from the socket per step: one full TLS record. The session keeps at most
/// 16 KiB of undelivered plaintext, and a record's plaintext is smaller than the record, so
/// feeding one chunk at a time after the last one's plaintext was taken never overfills it.
const CHUNK: usize = 16 * 1024;

/// The name the bench asks for (SNI) and checks the certificate against, by default.
pub const DEFAULT_NAME: &str = "localhost";

/// What every TLS connection of a run is made from: the trusted certificate and the name.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("name", &self.name)
            .finish()
    }
}

impl TlsClient {
    /// Trusts the certificates in the PEM file `ca` (and nothing else) for `name`.
    pub fn new(ca: &Path, name: &str) -> Result<TlsClient, String> {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("--ca {}: {e:?}", ca.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("--ca {}: {e:?}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("--ca {}: {e}", ca.display()))?;
        }
        if roots.is_empty() {
            return Err(format!("--ca {}: no certificate in it", ca.display()));
        }
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
        // A full handshake every time: no tickets or session ids are kept to resume with.
        config.resumption = Resumption::disabled();
        let name = ServerName::try_from(name.to_string())
            .map_err(|e| format!("--tls-name {name:?}: {e}"))?;
        Ok(TlsClient {
            config: Arc::new(config),
            name,
        })
    }

    /// A new session, its ClientHello ready to be written.
    pub fn session(&self) -> io::Result<ClientConnection> {
        ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| io::Error::other(format!("TLS: {e}")))
    }

    /// `socket` inside a new session.
    pub fn link<S: Read + Write>(&self, socket: S) -> io::Result<Link<S>> {
        Ok(Link {
            sock: socket,
            tls: Some(Box::new(self.session()?)),
            drained: false,
            backlog: Vec::new(),
        })
    }
}

/// A socket, clear or inside TLS, read and written as clear bytes.
#[derive(Debug)]
pub struct Link<S> {
    pub sock: S,
    /// Boxed: a session is about 1 KiB before its buffers, and clear links should stay small.
    tls: Option<Box<ClientConnection>>,
    /// The last socket read gave less than it was asked for (a TLS link's `drained`).
    drained: bool,
    /// Ciphertext read from the socket that the session could not take yet because the
    /// caller's buffer was full of plaintext (only readers with small buffers leave any).
    backlog: Vec<u8>,
}

impl<S: Read + Write> Link<S> {
    /// A clear-text link.
    pub fn clear(socket: S) -> Link<S> {
        Link {
            sock: socket,
            tls: None,
            drained: false,
            backlog: Vec::new(),
        }
    }

    /// `link`, or `clear` without a TLS client.
    pub fn new(tls: Option<&TlsClient>, socket: S) -> io::Result<Link<S>> {
        match tls {
            Some(tls) => tls.link(socket),
            None => Ok(Link::clear(socket)),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Still in the handshake (never for a clear link).
    pub fn is_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    /// Records (handshake, data, close_notify) wait for the socket.
    pub fn pending(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// A TLS link whose last read found the socket empty and the session holding no plaintext:
    /// as a short read of a clear socket, anything later brings a new edge-triggered event.
    pub fn drained(&self) -> bool {
        self.drained && self.backlog.is_empty()
    }

    /// The same link over another socket type (a blocking std socket made a mio one).
    pub fn map_socket<T>(self, f: impl FnOnce(S) -> T) -> Link<T> {
        Link {
            sock: f(self.sock),
            tls: self.tls,
            drained: self.drained,
            backlog: self.backlog,
        }
    }

    /// Writes waiting records until none is left or the socket would block (not an error).
    pub fn push(&mut self) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while tls.wants_write() {
            match tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Queues close_notify and writes what it can: an orderly end, as a real client's.
    pub fn close_notify(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
            let _ = self.push();
        }
    }
}

impl<S: Read + Write> Read for Link<S> {
    /// Plaintext the session holds first; otherwise socket reads of up to [`CHUNK`] bytes, each
    /// fed to the session record by record with its plaintext taken into `buf` at once (the
    /// session refuses more ciphertext while it holds over 16 KiB), until some plaintext came
    /// out, the socket would block or it ended. Ciphertext left over when `buf` is full waits in
    /// `backlog` for the next call. `Ok(0)` is the end: close_notify, or the socket's end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return self.sock.read(buf);
        };
        match tls.reader().read(buf) {
            // Ok(0) with room in `buf` is close_notify. A full `buf` may have left plaintext
            // behind, which no socket event will announce: not drained.
            Ok(n) => {
                self.drained &= n < buf.len();
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let mut got = 0;
        let mut closed = false;
        let mut chunk = [0u8; CHUNK];
        loop {
            let held = std::mem::take(&mut self.backlog);
            let mut data: &[u8] = if held.is_empty() {
                match self.sock.read(&mut chunk) {
                    Ok(0) => return Ok(got),
                    Ok(n) => {
                        self.drained = n < chunk.len();
                        &chunk[..n]
                    }
                    Err(e) if got > 0 && e.kind() == io::ErrorKind::WouldBlock => return Ok(got),
                    Err(e) => return Err(e),
                }
            } else {
                &held
            };
            while !data.is_empty() {
                // From a slice read_tls cannot fail for I/O; it takes what its buffer holds and
                // the rest waits for the next step.
                if tls.read_tls(&mut data)? == 0 {
                    break;
                }
                let state = tls
                    .process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}")))?;
                closed |= state.peer_has_closed();
                if state.plaintext_bytes_to_read() > 0 && got < buf.len() {
                    match tls.reader().read(&mut buf[got..]) {
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                }
                if got == buf.len() && !data.is_empty() {
                    self.backlog = data.to_vec();
                    self.drained = false;
                    break;
                }
            }
            // A handshake reply (the client's Finished), or a key update.
            while tls.wants_write() {
                match tls.write_tls(&mut self.sock) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    // The rest goes when the socket is writable (`pending` says so).
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Records without plaintext (a handshake flight) read the socket again: a
            // non-blocking one says `WouldBlock` when it is empty, a blocking one waits.
            if got > 0 || closed {
                self.drained &= got < buf.len();
                return Ok(got);
            }
        }
    }
}

impl<S: Read + Write> Write for Link<S> {
    /// Gives the session what it takes (before the handshake ends it keeps the plaintext until
    /// there are keys) and writes its records; `WouldBlock` when it takes nothing.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.tls.is_none() {
            return self.sock.write(buf);
        }
        self.push()?;
        let taken = match self.tls.as_mut() {
            Some(tls) => tls.writer().write(buf)?,
            None => 0,
        };
        self.push()?;
        if taken == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.tls {
            Some(_) => self.push(),
            None => self.sock.flush(),
        }
    }
}

/// A throw-away self-signed certificate for `localhost` and 127.0.0.1 (rcgen's default key:
/// ECDSA P-256), written as `bench-cert.pem` and `bench-key.pem` in `dir`.
pub fn write_self_signed(dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let names = vec![DEFAULT_NAME.to_string(), "127.0.0.1".to_string()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| io::Error::other(format!("certificate: {e}")))?;
    let (cert, key) = (dir.join("bench-cert.pem"), dir.join("bench-key.pem"));
    std::fs::write(&cert, made.cert.pem())?;
    std::fs::write(&key, made.key_pair.serialize_pem())?;
    Ok((cert, key))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::{ServerConfig, ServerConnection};

    use super::*;

    /// Both ends in memory: the client's bytes go to `to_server`, the server's to `to_client`.
    #[derive(Default)]
    struct Pipe {
        input: Vec<u8>,
        pos: usize,
        output: Vec<u8>,
        /// Bytes a read may take at most (1 feeds the session a byte at a time).
        max_read: usize,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let rest = &self.input[self.pos..];
            if rest.is_empty() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = rest.len().min(buf.len()).min(self.max_read);
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn setup() -> (TlsClient, Arc<ServerConfig>, tempdir::Dir) {
        let dir = tempdir::Dir::new();
        let (cert, key) = write_self_signed(dir.path()).unwrap();
        let chain = vec![CertificateDer::from_pem_file(&cert).unwrap()];
        let key = PrivateKeyDer::from_pem_file(&key).unwrap();
        let server =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
        (
            TlsClient::new(&cert, DEFAULT_NAME).unwrap(),
            Arc::new(server),
            dir,
        )
    }

    /// Moves the server's records to the client's pipe and the client's to the server.
    fn exchange(link: &mut Link<Pipe>, server: &mut ServerConnection) {
        let from_client = std::mem::take(&mut link.sock.output);
        let mut data = &from_client[..];
        while !data.is_empty() {
            server.read_tls(&mut data).unwrap();
            server.process_new_packets().unwrap();
        }
        while server.wants_write() {
            server.write_tls(&mut link.sock.input).unwrap();
        }
    }

    /// Reads everything the link has into small reads. A `WouldBlock` while the pipe still
    /// holds bytes is read again, as a socket's next bytes bring a new event.
    fn read_all(link: &mut Link<Pipe>, out: &mut Vec<u8>) {
        let mut buf = [0u8; 7];
        loop {
            match link.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    // A full buffer may have left plaintext behind: never "drained" then.
                    assert!(n < buf.len() || !link.drained());
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if link.sock.pos == link.sock.input.len() {
                        return;
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn lines_go_both_ways_whatever_the_read_sizes() {
        for max_read in [1, 5, 300, CHUNK] {
            let (client, config, _dir) = setup();
            let mut server = ServerConnection::new(config).unwrap();
            let mut link = client
                .link(Pipe {
                    max_read,
                    ..Pipe::default()
                })
                .unwrap();
            // Written before the handshake: kept until there are keys.
            assert_eq!(link.write(b"alice\n").unwrap(), 6);
            let mut got = Vec::new();
            for _ in 0..10 {
                exchange(&mut link, &mut server);
                read_all(&mut link, &mut got);
                if !link.is_handshaking() && !server.is_handshaking() {
                    break;
                }
            }
            assert!(!link.is_handshaking(), "max_read {max_read}");
            exchange(&mut link, &mut server);
            let mut plain = vec![0u8; 64];
            let n = server.reader().read(&mut plain).unwrap();
            assert_eq!(&plain[..n], b"alice\n");
            let text: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            server.writer().write_all(&text).unwrap();
            server.send_close_notify();
            exchange(&mut link, &mut server);
            read_all(&mut link, &mut got);
            assert_eq!(got, text, "max_read {max_read}");
            assert!(!link.pending());
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempdir::Dir::new();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = TlsClient::new(&empty, DEFAULT_NAME).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }

    /// A directory of one's own under the system's temporary directory, removed on drop.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let n = N.fetch_add(1, Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("bench-tls-test-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
