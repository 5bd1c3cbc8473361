//! Reading: a connection's readiness, reads until a short read, `WouldBlock` or the per-turn
//! budget, the ready-to-read list of those that hit the budget, decoding the line protocol (and
//! file uploads) into what the chat core takes, and the greeting.

use std::io::{self, Read};

use bytes::Bytes;
use log::debug;

use super::close::lost_reason_for;
use super::conn::{Phase, Proto};
use super::net::Readiness;
use super::wire::Wire;
use super::Reactor;
use crate::chat::{ConnId, Event, Info, LostReason, Refusal};
use crate::codec::file::FileFrame;
use crate::codec::line::{LineFrame, TELNET_DO_BINARY};
use crate::codec::Decoded;

/// Bytes read from one connection per loop turn before others get their go (fairness).
const READ_BUDGET: usize = 64 * 1024;
/// Size of the shared read buffer: one `read` takes at most this much.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// How far a plain readable event is read: to a short read only where urgent data is reported
/// (`CONN_INTEREST`); elsewhere a short read may be an urgent mark, so to `WouldBlock`.
const SHORT_READ: ReadUntil = if cfg!(any(target_os = "linux", target_os = "android")) {
    ReadUntil::Short
} else {
    ReadUntil::WouldBlock
};

/// How far [`Reactor::on_readable`] reads a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadUntil {
    /// Until a read returns less than the buffer holds: the socket was then empty, and with
    /// edge-triggered readiness anything arriving later brings a new event. This spares the
    /// `read` that would only say `WouldBlock`: a fifth of the server's system calls in `saturate`.
    Short,
    /// Until `WouldBlock` or the end. For events that report the peer's FIN or an error (a FIN
    /// that came with the data brings no later event) or urgent data (a read stops at its mark),
    /// and for connections whose read budget ran out or whose flood-control pause ended (no event
    /// is coming for what already waits).
    WouldBlock,
}

impl Reactor {
    /// A connection's readiness event: read as far as the event calls for, and put it on the
    /// write list if it can take output.
    pub(super) fn on_readiness(&mut self, key: usize, event: &impl Readiness) {
        if event.is_read_closed() || event.is_error() || event.is_priority() {
            self.on_readable(key, ReadUntil::WouldBlock);
        } else if event.is_readable() {
            self.on_readable(key, SHORT_READ);
        }
        if event.is_writable() {
            self.want_write(key);
        }
    }

    pub(super) fn on_readable(&mut self, key: usize, until: ReadUntil) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut total = 0;
        while let Some(conn) = self.conns.get_mut(key) {
            if conn.dead.is_some() || conn.paused {
                break;
            }
            match conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.mark_dead(key, LostReason::Closed);
                    break;
                }
                Ok(n) => {
                    total += n;
                    self.stats.bytes_in += n as u64;
                    if conn.logged_in {
                        conn.timeout_from = self.clock.now();
                    }
                    let drained = n < scratch.len();
                    self.on_bytes(key, &scratch[..n]);
                    if drained && until == ReadUntil::Short {
                        if let Some(conn) = self.conns.get_mut(key).filter(|c| !c.paused) {
                            conn.throttled_since = None; // as at `WouldBlock` below
                        }
                        break;
                    }
                    if total >= READ_BUDGET {
                        self.read_again(key);
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Everything it sent has been taken in: it is no longer behind.
                    conn.throttled_since = None;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!(peer:% = conn.peer, error:% = e; "read failed");
                    self.mark_dead(key, lost_reason_for(&e, LostReason::ReadError));
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    /// Puts a connection on the ready-to-read list: it is read again in step 3, whether or not
    /// readiness reports it.
    pub(super) fn read_again(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            self.ready_reads.add(key, &mut conn.read_listed);
        }
    }

    /// Loop step 3: reads the connections the ready-to-read list holds.
    pub(super) fn leftover_reads(&mut self) {
        for key in self.ready_reads.take() {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.read_listed = false;
                self.on_readable(key, ReadUntil::WouldBlock);
            }
        }
    }

    /// Feeds bytes read from the socket to the connection, in the order PROTOCOL.md gives: a
    /// trusted proxy's PROXY header, then TLS (decided by the first byte), then the protocol
    /// of the clear bytes.
    pub(super) fn on_bytes(&mut self, key: usize, data: &[u8]) {
        let conn = &self.conns[key];
        if conn.phase != Phase::Open && conn.tls.is_none() {
            return; // closing: input is read only to be thrown away
        }
        if conn.proxy_header.is_some() {
            return self.on_proxy_bytes(key, data);
        }
        if conn.tls.is_some() {
            // Even while closing: close_notify and alerts must be read through the session.
            return self.on_tls_bytes(key, data);
        }
        let first = !conn.greeted && matches!(&conn.proto, Proto::Sniffing(b) if b.is_empty());
        if first && !data.is_empty() {
            if data[0] == super::tls::HANDSHAKE_RECORD {
                if let Some(config) = self.tls_config.clone() {
                    if self.start_tls(key, config) {
                        self.on_tls_bytes(key, data);
                    }
                    return;
                }
            }
            if self.clear_text_refused(key) && !super::web::may_be_http(data) {
                return self.refuse_clear_text(key);
            }
        }
        self.on_clear_bytes(key, data);
    }

    /// Feeds clear bytes (from the socket, or decrypted) to the connection's protocol.
    pub(super) fn on_clear_bytes(&mut self, key: usize, data: &[u8]) {
        if self.conns[key].phase != Phase::Open {
            return; // closing: input is read only to be thrown away
        }
        match self.conns[key].proto {
            Proto::Sniffing(_) => self.sniff(key, data),
            Proto::Line => self.feed_stream(key, data),
            Proto::Http(_) => self.on_http_bytes(key, data),
            Proto::WebSocket(_) => self.on_ws_bytes(key, data),
            Proto::Irc(_) => self.feed_stream(key, data),
        }
    }

    /// Feeds bytes of the line protocol (from the socket, or from WebSocket messages) through
    /// the upload or line decoder.
    pub(super) fn feed_stream(&mut self, key: usize, mut data: &[u8]) {
        if self.conns[key].paused {
            // Flood control holds this connection: keep what arrives for later, in order.
            self.conns[key].held_input.extend_from_slice(data);
            return;
        }
        while !data.is_empty() {
            let conn = &mut self.conns[key];
            if !conn.accepts_output() {
                return; // e.g. it quit earlier in this same read
            }
            if let Some(upload) = conn.upload.as_mut() {
                // File bytes are not lines: no flood control, no line cap.
                match upload.decode(data) {
                    Ok(Decoded::Incomplete) => break,
                    Ok(Decoded::Frame { frame, consumed }) => {
                        data = &data[consumed..];
                        conn.upload = None;
                        self.on_file(key, frame);
                        continue;
                    }
                    Err(e) => {
                        debug!(peer:% = conn.peer, error:% = e; "bad input");
                        self.mark_dead(key, LostReason::ReadError);
                        return;
                    }
                }
            }
            if self.flood.enabled() {
                let now = self.clock.now();
                if let Err(wait) = conn.bucket.ready(&self.flood, now) {
                    self.throttle(key, data, now + wait);
                    return;
                }
            }
            match conn.decoder.decode(data) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Frame { frame, consumed }) => {
                    data = &data[consumed..];
                    if self.flood.enabled() {
                        conn.bucket.spend();
                    }
                    if !conn.telnet_checked {
                        self.ask_telnet_binary(key);
                    }
                    self.on_frame(key, frame);
                }
                Err(e) => {
                    debug!(peer:% = conn.peer, error:% = e; "bad input");
                    self.mark_dead(key, LostReason::ReadError);
                    return;
                }
            }
        }
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.decoder.buffered() == 0 {
                conn.decoder.shrink();
            }
        }
    }

    fn on_frame(&mut self, key: usize, frame: LineFrame) {
        let conn = &self.conns[key];
        let irc = matches!(conn.proto, Proto::Irc(_));
        if !irc && !conn.logged_in && matches!(conn.proto, Proto::Line) {
            if let LineFrame::Line(line) = &frame {
                if super::irc::is_irc(line.as_bytes()) {
                    // Greeted as a line client, but it speaks IRC: it does from now on.
                    self.start_irc(key);
                    return self.on_irc_line(key, line);
                }
            }
        }
        if irc {
            return match frame {
                LineFrame::Line(line) => self.on_irc_line(key, &line),
                LineFrame::TooLong => {
                    self.stats.lines_too_long += 1;
                    let max = self.cfg.max_line;
                    self.refuse_irc_line(key, Refusal::LineTooLong { max });
                }
                LineFrame::InvalidUtf8 { command } => {
                    self.stats.invalid_utf8 += 1;
                    self.refuse_irc_invalid_utf8(key, command.as_deref());
                }
            };
        }
        match frame {
            LineFrame::Line(line) => {
                let now = self.now();
                self.chat.line(ConnId(key), &line, now, &mut self.outbox);
                self.apply_outbox();
            }
            LineFrame::TooLong => {
                self.stats.lines_too_long += 1;
                let max = if self.conns[key].logged_in {
                    self.cfg.max_line
                } else {
                    self.cfg.max_login_line
                };
                self.refuse_line(key, Refusal::LineTooLong { max });
            }
            LineFrame::InvalidUtf8 { .. } => {
                self.stats.invalid_utf8 += 1;
                self.refuse_line(key, Refusal::InvalidUtf8);
            }
        }
    }

    /// After a connection's first line: a telnet (its line ended with `\r`, as telnets end
    /// lines, where `nc` and the line client send a bare `\n`) is asked for BINARY, so UTF-8 it
    /// sends is not taken for its escape character; the request goes out before the line's
    /// replies. Other clients never see a telnet byte. A WebSocket's text is fed through the
    /// same decoder but is not a telnet.
    fn ask_telnet_binary(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.telnet_checked = true;
        if conn.decoder.after_cr() && conn.wire() == Some(Wire::Line) {
            self.stats.telnet_binary += 1;
            self.queue_raw(key, Bytes::from_static(TELNET_DO_BINARY));
        }
    }

    /// An upload's declared bytes have all arrived (or been skipped, if it was refused).
    fn on_file(&mut self, key: usize, frame: FileFrame) {
        match frame {
            FileFrame::Complete(payload) => {
                self.stats.files_in += 1;
                let now = self.now();
                self.chat
                    .file_received(ConnId(key), payload, now, &mut self.outbox);
                self.apply_outbox();
            }
            FileFrame::Discarded { size } => {
                debug!(peer:% = self.conns[key].peer, size; "skipped a refused upload");
            }
        }
    }

    /// A bad line costs the client that line only: an error, and the prompt again before login.
    fn refuse_line(&mut self, key: usize, refusal: Refusal) {
        self.queue_event(key, &Event::Refused(refusal));
        if !self.conns[key].logged_in {
            self.queue_event(key, &Event::Info(Info::NickPrompt));
        }
    }

    /// Sends the nickname prompt. A connection still undecided is from now on a line connection.
    pub(super) fn greet(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.greeted = true;
        if matches!(conn.proto, Proto::Sniffing(_)) {
            conn.set_proto(Proto::Line);
        }
        self.queue_event(key, &Event::Info(Info::Greeting));
    }
}
