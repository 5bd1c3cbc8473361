//! One connection's TLS session, without I/O: ciphertext in, plaintext out, and back.
//!
//! The reactor reads the socket into its own buffer and hands the bytes to [`TlsSession::receive`],
//! which decrypts what it can and appends the plaintext for the connection's decoders (line,
//! HTTP, WebSocket) exactly as clear text would have arrived. Output goes the other way: the
//! plaintext the connection queued is given to [`TlsSession::send`] (which takes only what
//! fits under the session's buffer limit, so a slow reader's backlog stays in the connection's
//! own capped queue), and [`TlsSession::write_to`] writes the records to the socket.
//! A protocol error is returned once, with the alert rustls queued for the peer: the reactor
//! writes it and closes.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::{ServerConfig, ServerConnection};

/// Most bytes a session buffers for the socket before [`TlsSession::send`] takes no more: one
/// full record, so a connection that stops reading keeps its backlog in the reactor's queue,
/// where the per-connection and global output caps apply (what the session holds is outside
/// them: at most this much per connection).
pub const SEND_BUFFER: usize = 16 * 1024;

/// What one [`TlsSession::receive`] call found besides plaintext.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The peer sent close_notify: no more plaintext will come.
    pub peer_closed: bool,
    /// The handshake finished during this call.
    pub handshake_done: bool,
}

/// The TLS state of one connection.
pub struct TlsSession {
    conn: ServerConnection,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("sni", &self.conn.server_name())
            .finish()
    }
}

impl TlsSession {
    /// A session that will answer a ClientHello with `config`.
    pub fn new(config: Arc<ServerConfig>) -> Result<TlsSession, rustls::Error> {
        let mut conn = ServerConnection::new(config)?;
        conn.set_buffer_limit(Some(SEND_BUFFER));
        Ok(TlsSession { conn })
    }

    /// Decrypts `ciphertext` (any amount, split anywhere) and appends its plaintext to `plain`.
    /// On an error the session is finished: what [`TlsSession::write_to`] still writes is the
    /// alert that tells the peer why.
    pub fn receive(
        &mut self,
        mut ciphertext: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<Received, rustls::Error> {
        let was_handshaking = self.conn.is_handshaking();
        let mut received = Received::default();
        while !ciphertext.is_empty() {
            // Reading from a slice cannot fail, and rustls takes at most one buffer's worth at
            // a time: the loop hands it the rest after each processing step.
            match self.conn.read_tls(&mut ciphertext) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(rustls::Error::General(e.to_string())),
            }
            let state = self.conn.process_new_packets()?;
            received.peer_closed |= state.peer_has_closed();
            self.drain_plaintext(plain);
        }
        received.handshake_done = was_handshaking && !self.conn.is_handshaking();
        Ok(received)
    }

    fn drain_plaintext(&mut self, plain: &mut Vec<u8>) {
        let mut reader = self.conn.reader();
        let mut chunk = [0u8; 4096];
        loop {
            match reader.read(&mut chunk) {
                Ok(0) => return, // close_notify: `peer_has_closed` tells it
                Ok(n) => plain.extend_from_slice(&chunk[..n]),
                // WouldBlock: nothing more until more ciphertext; UnexpectedEof: the peer
                // closed without close_notify, which the socket's end reports anyway.
                Err(_) => return,
            }
        }
    }

    /// Encrypts as much of `plain` as the send buffer takes; returns how many bytes it took.
    /// Before the handshake finishes the bytes wait inside the session (up to the same limit).
    pub fn send(&mut self, plain: &[u8]) -> usize {
        self.conn.writer().write(plain).unwrap_or(0)
    }

    /// Whether records (handshake, data, alerts) wait to be written.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes waiting records to `socket` until it would block or nothing is left; returns the
    /// bytes written. `WouldBlock` from the socket is not an error here.
    pub fn write_to(&mut self, socket: &mut dyn Write) -> io::Result<usize> {
        let mut written = 0;
        while self.conn.wants_write() {
            match self.conn.write_tls(socket) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// Queues close_notify, sent on every orderly close (then [`TlsSession::write_to`]).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The host name the client asked for (SNI), if any.
    pub fn sni(&self) -> Option<&str> {
        self.conn.server_name()
    }

    /// The ALPN protocol agreed on, if the client offered one.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The cipher suite agreed on, for the log (`TLS13_AES_128_GCM_SHA256`).
    pub fn suite(&self) -> Option<rustls::CipherSuite> {
        self.conn.negotiated_cipher_suite().map(|s| s.suite())
    }

    /// The protocol version agreed on, for the log (`TLSv1_3`).
    pub fn version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore};

    use super::{Received, TlsSession, SEND_BUFFER};
    use crate::tls::testing::write_self_signed;

    /// A server session and a client configuration that trusts its certificate.
    fn pair(alpn: &[&[u8]]) -> (TlsSession, Arc<ClientConfig>) {
        let (server, client) = configs(alpn);
        (TlsSession::new(server).unwrap(), client)
    }

    fn configs(alpn: &[&[u8]]) -> (Arc<rustls::ServerConfig>, Arc<ClientConfig>) {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_self_signed(dir.path(), &["localhost"]);
        let server = crate::tls::load(&cert, &key).unwrap();
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&cert).unwrap())
            .unwrap();
        let mut client =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        (server, Arc::new(client))
    }

    fn client(config: &Arc<ClientConfig>) -> ClientConnection {
        ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
    }

    fn client_flight(client: &mut ClientConnection) -> Vec<u8> {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).unwrap();
        }
        out
    }

    /// Runs the handshake, each of the client's flights handed to the server in two pieces cut
    /// at `cut`.
    fn handshake(server: &mut TlsSession, client: &mut ClientConnection, cut: usize) {
        for _ in 0..10 {
            let flight = client_flight(client);
            let cut = cut.min(flight.len());
            let mut plain = Vec::new();
            for part in [&flight[..cut], &flight[cut..]] {
                server.receive(part, &mut plain).unwrap();
            }
            assert!(plain.is_empty());
            let mut back = Vec::new();
            server.write_to(&mut back).unwrap();
            client.read_tls(&mut &back[..]).unwrap();
            client.process_new_packets().unwrap();
            if !server.is_handshaking() && !client.is_handshaking() {
                return;
            }
        }
        panic!("the handshake did not finish");
    }

    #[test]
    fn a_handshake_split_anywhere_completes_and_carries_data_both_ways() {
        let (server_config, config) = configs(&[]);
        let hello_len = client_flight(&mut client(&config)).len();
        for cut in 0..=hello_len {
            let mut server = TlsSession::new(server_config.clone()).unwrap();
            let mut c = client(&config);
            handshake(&mut server, &mut c, cut);
            assert_eq!(server.sni(), Some("localhost"));
            assert_eq!(server.alpn(), None);
            // Client to server, one byte at a time.
            c.writer().write_all("alice\n안녕\n".as_bytes()).unwrap();
            let data = client_flight(&mut c);
            let mut plain = Vec::new();
            for byte in data.chunks(1) {
                server.receive(byte, &mut plain).unwrap();
            }
            assert_eq!(plain, "alice\n안녕\n".as_bytes());
            // Server to client.
            assert_eq!(server.send(b"-- Welcome\n"), 11);
            let mut back = Vec::new();
            server.write_to(&mut back).unwrap();
            c.read_tls(&mut &back[..]).unwrap();
            c.process_new_packets().unwrap();
            let mut got = [0u8; 64];
            let n = c.reader().read(&mut got).unwrap();
            assert_eq!(&got[..n], b"-- Welcome\n");
        }
    }

    #[test]
    fn alpn_agrees_on_http_1_1_and_close_notify_goes_both_ways() {
        let (mut server, config) = pair(&[b"h2", b"http/1.1"]);
        let mut c = client(&config);
        handshake(&mut server, &mut c, usize::MAX);
        assert_eq!(server.alpn(), Some(&b"http/1.1"[..]));
        // The server's order wins over rustls's client, which puts AES-256 first.
        assert_eq!(
            server.suite(),
            Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
        );
        c.send_close_notify();
        let mut plain = Vec::new();
        let got = server.receive(&client_flight(&mut c), &mut plain).unwrap();
        assert_eq!(
            got,
            Received {
                peer_closed: true,
                handshake_done: false
            }
        );
        server.close();
        assert!(server.wants_write());
        let mut back = Vec::new();
        server.write_to(&mut back).unwrap();
        c.read_tls(&mut &back[..]).unwrap();
        assert!(c.process_new_packets().unwrap().peer_has_closed());
    }

    #[test]
    fn garbage_is_an_error_with_an_alert_for_the_peer_never_a_panic() {
        // A handshake record whose ClientHello is one byte of nonsense: decode_error.
        let (mut server, _) = pair(&[]);
        let mut plain = Vec::new();
        let bad_hello = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0xff];
        assert!(server.receive(&bad_hello, &mut plain).is_err());
        let mut alert = Vec::new();
        server.write_to(&mut alert).unwrap();
        assert_eq!(alert.first(), Some(&0x15), "an alert record: {alert:?}");
        // A handshake message claiming 16 MiB is refused before anything is buffered.
        let (mut server, _) = pair(&[]);
        let huge = [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0xff];
        assert!(server.receive(&huge, &mut plain).is_err());
        assert!(plain.is_empty());
    }

    #[test]
    fn send_takes_no_more_than_the_buffer_while_the_peer_does_not_read() {
        let (mut server, config) = pair(&[]);
        let mut c = client(&config);
        handshake(&mut server, &mut c, usize::MAX);
        let big = vec![b'x'; 4 * SEND_BUFFER];
        let taken = server.send(&big);
        assert!(taken <= SEND_BUFFER, "{taken}");
        assert_eq!(server.send(&big[taken..]), 0);
        let mut back = Vec::new();
        server.write_to(&mut back).unwrap();
        assert!(server.send(&big[taken..]) > 0, "room again once written");
    }
}
