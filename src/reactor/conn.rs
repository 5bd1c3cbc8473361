//! One connection's state as the reactor sees it: the socket, its decoder, its output queue and
//! where it is in its life.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::flood::{FloodLimits, TokenBucket};
use super::irc::IrcConn;
use super::net::Stream;
use super::outqueue::{Flush, OutQueue};
use super::tls::ConnTls;
use super::wire::Wire;
use crate::chat::LostReason;
use crate::codec::file::FileDecoder;
use crate::codec::http::HttpDecoder;
use crate::codec::line::LineDecoder;
use crate::codec::websocket::WsDecoder;
use crate::config::ListenKind;

/// Where a connection is in its life. Transitions only go down this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading and writing normally.
    Open,
    /// A goodbye is queued: input is discarded, output is flushed, then the write side is shut
    /// down. Closed at `close_at` whatever happens.
    Draining { close_at: Instant },
    /// Our side is shut down for writing; input is read and discarded until the peer closes or
    /// `close_at`, so the peer reads our last line instead of a reset.
    Lingering { close_at: Instant },
}

impl Phase {
    pub fn close_at(self) -> Option<Instant> {
        match self {
            Phase::Open => None,
            Phase::Draining { close_at } | Phase::Lingering { close_at } => Some(close_at),
        }
    }
}

/// Which protocol a connection speaks. Transitions: `Sniffing` becomes `Line` (greeted, or its
/// first bytes are not an HTTP method) or `Http` (they are); `Http` becomes `WebSocket` on an
/// upgrade. Nothing goes back.
#[derive(Debug)]
pub enum Proto {
    /// Nothing decided yet: holds the first few bytes until they show whether this is HTTP
    /// (`GET /path HTTP/1.1` cannot be a nickname).
    Sniffing(Vec<u8>),
    /// The line protocol (telnet, nc, the line client).
    Line,
    /// An HTTP request is being read; one response, then the connection closes.
    Http(HttpDecoder),
    /// WebSocket messages carry the line protocol (PROTOCOL.md, "WebSocket"). Boxed: every
    /// connection holds a `Proto`, few are browsers, and the decoder is the largest variant.
    WebSocket(Box<WsDecoder>),
    /// IRC (PROTOCOL.md, "IRC"): lines through the same line decoder, parsed as IRC messages.
    Irc(Box<IrcConn>),
}

impl Proto {
    /// The name used in logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Proto::Sniffing(_) => "new",
            Proto::Line => "line",
            Proto::Http(_) => "http",
            Proto::WebSocket(_) => "websocket",
            Proto::Irc(_) => "irc",
        }
    }

    /// How the chat output of a connection speaking it is framed: none for an HTTP request,
    /// whose one response is not chat output. A connection still undecided gets lines as they
    /// are (its greeting or refusal makes it a line connection).
    pub(super) fn wire(&self) -> Option<Wire> {
        match self {
            Proto::Sniffing(_) | Proto::Line => Some(Wire::Line),
            Proto::Http(_) => None,
            Proto::WebSocket(_) => Some(Wire::WebSocket),
            Proto::Irc(irc) => Some(Wire::Irc(irc.caps())),
        }
    }
}

/// A connection owned by the reactor's slab.
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    /// Unique for the server's lifetime: slab keys are reused, serials are not, so a timer for a
    /// connection that is gone never fires on its successor.
    pub serial: u64,
    pub peer: SocketAddr,
    /// The kind of listener it came in on: what it may ask for.
    pub via: ListenKind,
    /// A trusted proxy's PROXY header has said who the client is (its address, or that the
    /// connection is the proxy's own): `peer` is then the client's, even when it is the proxy's.
    pub client_named: bool,
    pub decoder: LineDecoder,
    pub out: OutQueue,
    pub phase: Phase,
    /// Whether it counts against --max-clients and --max-per-ip (refused connections do not).
    pub counted: bool,
    /// Whether it counts against --max-unregistered (counted and not yet logged in).
    pub waiting: bool,
    /// A trusted proxy's connection whose PROXY header has not come yet: the bytes so far
    /// (boxed: most connections never have one).
    pub proxy_header: Option<Box<Vec<u8>>>,
    pub greeted: bool,
    pub logged_in: bool,
    /// What the connection's timeout counts from: its accept until it has logged in
    /// (`--login-timeout`, not reset by input, so a client that dribbles bytes still times out),
    /// then its last input (`--idle-timeout`). One field for both keeps per-connection timer
    /// state off the timer heap: the once-a-second sweep checks both.
    pub timeout_from: Instant,
    /// Already on the reactor's pending-write list.
    pub write_listed: bool,
    /// Already on the reactor's ready-to-read list (it hit the per-turn read budget).
    pub read_listed: bool,
    /// Set when the connection must go; it is removed at the end of the loop turn.
    pub dead: Option<LostReason>,
    /// Flood control's allowance.
    pub bucket: TokenBucket,
    /// Reading is paused until flood control's next token (the socket is left unread).
    pub paused: bool,
    /// Since when flood control has been holding this client back (cleared once it catches up).
    pub throttled_since: Option<Instant>,
    /// Bytes already read but not yet decoded when flood control paused the connection.
    /// At most one read's worth, because reading stops while paused.
    pub held_input: Vec<u8>,
    /// A file upload under way: its bytes go to this decoder instead of the line decoder until
    /// the declared size has arrived.
    pub upload: Option<Box<FileDecoder>>,
    /// Changed only through [`Conn::set_proto`], which keeps `wire` in step.
    pub proto: Proto,
    /// `proto.wire()`, kept beside it: asked once per recipient of every broadcast, and a byte is
    /// cheaper to read than `Proto`'s tag, which lives in the niche of `Sniffing`'s vector.
    wire: Option<Wire>,
    /// A WebSocket close frame has been queued: no second one, and nothing after it.
    pub ws_close_sent: bool,
    /// The telnet BINARY request has been decided: sent, or not needed (see
    /// `Reactor::ask_telnet_binary`).
    pub telnet_checked: bool,
    /// Inside TLS: the session its bytes go through (boxed: most connections are clear).
    pub tls: Option<Box<ConnTls>>,
}

impl Conn {
    pub fn new(
        stream: Stream,
        serial: u64,
        peer: SocketAddr,
        via: ListenKind,
        max_line: usize,
        flood: &FloodLimits,
        now: Instant,
    ) -> Self {
        let proto = Proto::Sniffing(Vec::new());
        Conn {
            stream,
            serial,
            peer,
            via,
            client_named: false,
            decoder: LineDecoder::new(max_line),
            out: OutQueue::new(),
            phase: Phase::Open,
            counted: false,
            waiting: false,
            proxy_header: None,
            greeted: false,
            logged_in: false,
            timeout_from: now,
            write_listed: false,
            read_listed: false,
            dead: None,
            bucket: TokenBucket::new(flood, now),
            paused: false,
            throttled_since: None,
            held_input: Vec::new(),
            upload: None,
            wire: proto.wire(),
            proto,
            ws_close_sent: false,
            telnet_checked: false,
            tls: None,
        }
    }

    /// Switches the protocol the connection speaks (see `Proto` for the transitions).
    pub fn set_proto(&mut self, proto: Proto) {
        self.wire = proto.wire();
        self.proto = proto;
    }

    /// Its wire after something that changes it besides the protocol (IRC capabilities).
    pub(super) fn set_wire(&mut self, wire: Wire) {
        self.wire = Some(wire);
    }

    /// How chat output for this connection is framed; `None` for an HTTP request.
    #[inline]
    pub(super) fn wire(&self) -> Option<Wire> {
        self.wire
    }

    pub fn is_websocket(&self) -> bool {
        matches!(self.proto, Proto::WebSocket(_))
    }

    /// Writes queued output (see `OutQueue::write_to`), taking what was written off `total`, the
    /// reactor's count of queued bytes across connections.
    pub fn write_out(&mut self, budget: usize, total: &mut usize) -> io::Result<(Flush, usize)> {
        let before = self.out.own_len();
        let result = match self.tls.as_deref_mut() {
            None => self.out.write_to(&mut self.stream, budget),
            Some(tls) => super::tls::write_out(&mut self.out, tls, &mut self.stream, budget),
        };
        *total -= before - self.out.own_len();
        result
    }

    /// Whether anything waits to be written: queued output, or TLS records (a handshake reply).
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.tls.as_ref().is_some_and(|t| t.session.wants_write())
    }

    /// Drops everything queued, taking it off `total`.
    pub fn clear_out(&mut self, total: &mut usize) {
        *total -= self.out.own_len();
        self.out.clear();
    }

    /// Whether new output may still be queued to it.
    pub fn accepts_output(&self) -> bool {
        self.phase == Phase::Open && self.dead.is_none()
    }
}
