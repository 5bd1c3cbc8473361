//! TLS on the chat port: deciding from a connection's first byte, decrypting what it reads,
//! encrypting what it writes, the handshake's own deadline and budget, close_notify.
//!
//! A connection whose first byte (after a trusted proxy's PROXY header) is 0x16, a TLS
//! handshake record, gets a [`TlsSession`] and everything after goes through it: the plaintext
//! is handed to the same protocol sniffing, line, HTTP and WebSocket decoders clear text goes
//! to, so inside TLS everything works as in clear. Output stays plaintext in the connection's
//! queue (shared broadcast slices, the same caps) and is encrypted as it is written, up to the
//! session's small send buffer: a slow reader's backlog never grows inside rustls.

use std::io::{self, IoSlice, Write};
use std::sync::Arc;
use std::time::Instant;

use log::{debug, info};
use rustls::ServerConfig;

use super::conn::{Conn, Proto};
use super::net::Stream;
use super::outqueue::{Flush, OutQueue};
use super::timers::ReactorTimer;
use super::Reactor;
use crate::chat::{Bye, Event, LostReason};
use crate::tls::session::{TlsSession, SEND_BUFFER};

/// The first byte of a TLS record carrying a handshake message: a ClientHello starts with it.
pub(super) const HANDSHAKE_RECORD: u8 = 0x16;

/// Whether connections from a listener of kind `via` must be TLS: `--tls-only`, or a `tls`
/// listener.
pub(super) fn refuses_clear_text(
    cfg: &crate::config::Config,
    via: crate::config::ListenKind,
) -> bool {
    cfg.tls_only || via.is_tls_only()
}

/// What the sweep does with a connection past `--tls-handshake-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsOverdue {
    /// Its handshake did not finish in time: closed.
    Handshake,
    /// It said nothing where only TLS is served: told to use TLS.
    Silent,
}

/// A connection's TLS: the session and where its handshake is.
#[derive(Debug)]
pub struct ConnTls {
    pub session: TlsSession,
    /// When the handshake finished (the greeting waits `--greet-delay-ms` from here, as a clear
    /// connection's does from its accept).
    pub established: Option<Instant>,
    /// close_notify has been queued.
    pub closed: bool,
}

/// Hands the queue's slices to the session, as much as its send buffer takes: a "write" of the
/// queue that encrypts instead of sending. A full buffer is `WouldBlock`, as a full socket is.
struct Encrypt<'a>(&'a mut TlsSession);

impl Write for Encrypt<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.send(buf) {
            0 if !buf.is_empty() => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut taken = 0;
        for buf in bufs {
            let n = self.0.send(buf);
            taken += n;
            if n < buf.len() {
                break;
            }
        }
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a TLS connection's output: records the session holds first, then more of the queue
/// encrypted, until the queue is empty, the socket would block or `budget` bytes went out.
/// Returns what [`OutQueue::write_to`] would, counting the bytes the socket took.
pub(super) fn write_out(
    out: &mut OutQueue,
    tls: &mut ConnTls,
    stream: &mut Stream,
    budget: usize,
) -> io::Result<(Flush, usize)> {
    let mut written = 0;
    loop {
        written += tls.session.write_to(stream)?;
        if tls.session.wants_write() {
            return Ok((Flush::Blocked, written));
        }
        if out.is_empty() {
            // Resets the queue's memory as a drained clear-text queue does.
            let (flush, _) = out.write_to(&mut Encrypt(&mut tls.session), 0)?;
            return Ok((flush, written));
        }
        if written >= budget {
            return Ok((Flush::Budget, written));
        }
        if tls.session.is_handshaking() {
            // Plaintext waits in the queue until there are keys to encrypt it with.
            return Ok((Flush::Blocked, written));
        }
        out.write_to(&mut Encrypt(&mut tls.session), SEND_BUFFER)?;
    }
}

impl Reactor {
    /// A connection's first bytes start a TLS handshake: it gets a session, if there is room for
    /// one more handshake. Returns whether the bytes should go on through the session.
    pub(super) fn start_tls(&mut self, key: usize, config: Arc<ServerConfig>) -> bool {
        if self.tls_handshakes >= self.cfg.max_tls_handshakes {
            info!(
                peer:% = self.conns[key].peer,
                max = self.cfg.max_tls_handshakes;
                "TLS handshake refused: too many under way (--max-tls-handshakes)"
            );
            self.stats.tls_refused += 1;
            self.mark_dead(key, LostReason::Closed);
            return false;
        }
        match TlsSession::new(config) {
            Ok(session) => {
                self.tls_handshakes += 1;
                self.conns[key].tls = Some(Box::new(ConnTls {
                    session,
                    established: None,
                    closed: false,
                }));
                true
            }
            Err(e) => {
                info!(peer:% = self.conns[key].peer, error:% = e; "TLS session refused");
                self.mark_dead(key, LostReason::Closed);
                false
            }
        }
    }

    /// Ciphertext read from a TLS connection: decrypted and handed on as clear bytes would be.
    pub(super) fn on_tls_bytes(&mut self, key: usize, data: &[u8]) {
        let mut plain = std::mem::take(&mut self.tls_plain);
        plain.clear();
        let Some(tls) = self.conns[key].tls.as_mut() else {
            return;
        };
        let result = tls.session.receive(data, &mut plain);
        let wants_write = tls.session.wants_write();
        match result {
            Err(e) => {
                // The alert rustls queued goes out now; the connection ends.
                info!(peer:% = self.conns[key].peer, error:% = e; "TLS error");
                self.stats.tls_errors += 1;
                let conn = &mut self.conns[key];
                if let Some(tls) = conn.tls.as_mut() {
                    let _ = tls.session.write_to(&mut conn.stream);
                }
                self.mark_dead(key, LostReason::ReadError);
            }
            Ok(received) => {
                if received.handshake_done {
                    self.tls_established(key);
                }
                // A handshake reply, or output queued while the handshake ran.
                if wants_write || received.handshake_done {
                    self.want_write_tls(key);
                }
                if !plain.is_empty() {
                    self.on_clear_bytes(key, &plain);
                }
                if received.peer_closed {
                    // close_notify: the client is done; what it sent has been handled, and it
                    // gets one back before the socket closes (RFC 8446 §6.1).
                    self.close_notify(key);
                    self.mark_dead(key, LostReason::Closed);
                }
            }
        }
        self.tls_plain = plain;
    }

    /// The handshake finished: it is logged with what the client asked for, and the greeting
    /// waits from now, for a browser's request to arrive first.
    fn tls_established(&mut self, key: usize) {
        self.tls_handshakes = self.tls_handshakes.saturating_sub(1);
        self.stats.tls_handshakes += 1;
        let now = self.clock.now();
        let conn = &mut self.conns[key];
        let Some(tls) = conn.tls.as_mut() else {
            return;
        };
        tls.established = Some(now);
        info!(
            peer:% = conn.peer,
            sni = tls.session.sni().unwrap_or(""),
            alpn = tls.session.alpn().map(String::from_utf8_lossy).unwrap_or_default().as_ref(),
            version = tls.session.version().map(|v| format!("{v:?}")).unwrap_or_default().as_str(),
            suite = tls.session.suite().map(|s| format!("{s:?}")).unwrap_or_default().as_str();
            "TLS established"
        );
        let serial = conn.serial;
        if !conn.greeted && matches!(&conn.proto, Proto::Sniffing(b) if b.is_empty()) {
            self.timers.insert(
                now + self.cfg.greet_delay(),
                ReactorTimer::Greet { key, serial },
            );
        }
    }

    /// Records wait in the session (a handshake reply): the connection goes on the write list.
    fn want_write_tls(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.dead.is_none() && conn.has_output() {
                self.pending_writes.add(key, &mut conn.write_listed);
            }
        }
    }

    /// Whether the greeting timer may greet this connection now: a TLS connection only once its
    /// handshake is `--greet-delay-ms` old (its own timer comes then).
    pub(super) fn greet_due(&self, conn: &Conn, now: Instant) -> bool {
        match &conn.tls {
            None => true,
            Some(tls) => tls
                .established
                .is_some_and(|at| now >= at + self.cfg.greet_delay()),
        }
    }

    /// The once-a-second sweep's part, for a connection `--tls-handshake-timeout` old: a
    /// handshake not yet established ends; where only TLS is served (`clear_refused`), a
    /// connection that said nothing (a telnet waiting for a prompt it cannot have) is told to
    /// use TLS.
    pub(super) fn tls_overdue(conn: &Conn, clear_refused: bool) -> Option<TlsOverdue> {
        match &conn.tls {
            Some(tls) if tls.established.is_none() => Some(TlsOverdue::Handshake),
            None if clear_refused
                && !conn.greeted
                && matches!(&conn.proto, Proto::Sniffing(b) if b.is_empty()) =>
            {
                Some(TlsOverdue::Silent)
            }
            _ => None,
        }
    }

    /// A connection that is going away: one whose handshake was never established gives its
    /// place back. Asked of `established`, not of rustls: a Finished followed by a bad record in
    /// one read ends the handshake inside rustls and fails the read, so neither
    /// `tls_established` ran nor is the session still handshaking.
    pub(super) fn forget_tls(&mut self, conn: &Conn) {
        if conn.tls.as_ref().is_some_and(|t| t.established.is_none()) {
            self.tls_handshakes = self.tls_handshakes.saturating_sub(1);
        }
    }

    /// An orderly close of a TLS connection: close_notify goes out before the socket is shut.
    pub(super) fn close_notify(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if let Some(tls) = conn.tls.as_mut() {
            if !tls.closed && !tls.session.is_handshaking() {
                tls.closed = true;
                tls.session.close();
                let _ = tls.session.write_to(&mut conn.stream);
            }
        }
    }

    /// Whether clear text is refused on this connection (see [`refuses_clear_text`]).
    pub(super) fn clear_text_refused(&self, key: usize) -> bool {
        refuses_clear_text(&self.cfg, self.conns[key].via)
    }

    /// `--tls-only`: a clear-text line connection is told to use TLS and let go (an HTTP
    /// request is redirected to https:// when it has been read, see `web`).
    pub(super) fn refuse_clear_text(&mut self, key: usize) {
        self.stats.tls_clear_refused += 1;
        debug!(peer:% = self.conns[key].peer; "clear text refused (--tls-only)");
        if self.conns[key].via.is_irc_only() {
            // An IRC client reads the goodbye as IRC's ERROR.
            self.start_irc(key);
        } else {
            self.conns[key].greeted = true;
            self.conns[key].set_proto(Proto::Line);
        }
        self.queue_event(key, &Event::Bye(Bye::TlsOnly));
        let close_at = self.clock.now() + self.cfg.linger();
        self.begin_close(key, close_at);
    }
}
