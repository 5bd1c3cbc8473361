//! The reactor: one thread, one `mio::Poll`, every socket.
//!
//! # One loop turn, in order
//! 1. **Poll** with a timeout taken from the nearest deadline (zero when work is left over).
//! 2. **Dispatch** each event by token: the listener accepts (a bounded batch), the signal source
//!    starts a shutdown, a connection reads until a short read, `WouldBlock` or its per-turn
//!    budget, decoding lines and handing them to the chat core; writable readiness puts it on the
//!    write list.
//! 3. **Leftover reads**: connections that hit the read budget last turn read again (edge-triggered
//!    readiness will not wake them twice).
//! 4. **Timers**: the reactor's (greeting, close deadlines, accept pause) and the chat core's
//!    (reconnect grace), then the once-a-second sweep (login and idle timeouts, soft-queue limits).
//! 5. **Flush**: the open broadcast block is sealed, then every connection with queued output
//!    writes it with vectored writes, up to a budget.
//! 6. **Reap**: connections marked dead are told to the chat core (whose notices are queued for the
//!    next flush) and removed. Nothing is freed in the middle of the work above.
//! 7. **Storage**: the room events and queries the chat core produced this turn go to the storage
//!    thread as one batch (one channel send per turn, never a wait on the disk). Its answers come
//!    back through a `mio::Waker` (token `STORAGE`) and are handed to the chat core in step 2.
//!
//! Output from the chat core is applied as soon as the core returns: a broadcast is rendered once,
//! after the turn's earlier broadcasts in the open block ([`broadcast`]), and the same bytes are
//! queued for each recipient, lengthening its last queue entry when it already holds the line
//! before. Queue limits are checked as it is queued, against the time the turn began; a
//! connection over them is only *marked* dead and removed in step 6.

pub mod broadcast;
pub mod conn;
pub mod flood;
pub mod metrics;
pub mod outqueue;
mod web;

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::chat::game::words::WordBank;
use crate::chat::{
    Bye, Chat, ChatSettings, ConnId, Event, FileNotice, Info, LostReason, Now, Outbox, Output,
    Peer, Refusal,
};
use crate::codec::file::{FileDecoder, FileFrame};
use crate::codec::line::LineFrame;
use crate::codec::websocket::close_code;
use crate::codec::Decoded;
use crate::config::Config;
use crate::render::line::Renderer;
use crate::storage::store::Store;
use crate::storage::{Storage, StorageSettings};
use crate::timer::Timers;
use broadcast::BroadcastBuf;
use conn::{Conn, Phase, Proto};
use flood::FloodLimits;
use outqueue::{Flush, OutQueue, QueueLimits, QueueVerdict};

/// What a connection is registered for. Priority readiness reports TCP urgent data (telnet sends
/// Ctrl-C's IAC DM as urgent), which stops a `read` at its mark with more data behind it: such
/// events are read to the end, where other readable events may stop at a short read.
#[cfg(any(target_os = "linux", target_os = "android"))]
const CONN_INTEREST: Interest = Interest::READABLE
    .add(Interest::WRITABLE)
    .add(Interest::PRIORITY);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CONN_INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// How far a plain readable event is read: to a short read only where urgent data is reported
/// (above); elsewhere a short read may be an urgent mark, so to `WouldBlock`.
const SHORT_READ: ReadUntil = if cfg!(any(target_os = "linux", target_os = "android")) {
    ReadUntil::Short
} else {
    ReadUntil::WouldBlock
};

/// How far [`Reactor::on_readable`] reads a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadUntil {
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

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const STORAGE: Token = Token(usize::MAX - 3);

/// Bytes read from one connection per loop turn before others get their go (fairness).
const READ_BUDGET: usize = 64 * 1024;
/// Bytes written to one connection per loop turn (Redis writes at most 64 KiB per client per event).
const WRITE_BUDGET: usize = 64 * 1024;
/// Size of the shared read buffer: one `read` takes at most this much.
const READ_CHUNK: usize = 16 * 1024;
/// How long accepting pauses when the process is out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Refused connections linger to read their reason; beyond this many extra, they are just closed.
const REFUSED_SLACK: usize = 256;
/// How often idle and soft-queue limits are swept (Redis's clientsCron does the same).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Timers owned by the reactor. Connection timers carry the key and serial they were set for.
#[derive(Debug, Clone, Copy)]
enum ReactorTimer {
    Greet {
        key: usize,
        serial: u64,
    },
    CloseAt {
        key: usize,
        serial: u64,
    },
    /// Flood control's next token is due: resume reading.
    Unthrottle {
        key: usize,
        serial: u64,
    },
    ResumeAccepting,
}

/// Counters for the activity log (and, later, metrics).
#[derive(Debug, Default, Clone)]
pub struct ReactorStats {
    pub accepted: u64,
    pub refused_full: u64,
    pub refused_per_ip: u64,
    pub refused_dropped: u64,
    pub refused_banned: u64,
    pub login_timeouts: u64,
    pub idle_timeouts: u64,
    pub queue_hard_drops: u64,
    pub queue_soft_drops: u64,
    pub lines_too_long: u64,
    pub invalid_utf8: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub loop_turns: u64,
    pub accept_pauses: u64,
    pub flood_throttles: u64,
    pub flood_kicks: u64,
    pub files_in: u64,
    pub files_out: u64,
    pub files_busy: u64,
    pub http_requests: u64,
    pub ws_upgrades: u64,
    /// Events queued to connections (one per recipient of a broadcast).
    pub deliveries: u64,
    /// Time spent working (not waiting in poll), for time per loop iteration.
    pub busy: Duration,
    /// Connections removed, by the reason they ended.
    pub disconnects: std::collections::BTreeMap<&'static str, u64>,
}

/// The server: a listener, its connections and the chat core, driven by one poll loop.
pub struct Reactor {
    cfg: Config,
    poll: Poll,
    listener: Option<TcpListener>,
    signals: Signals,
    conns: Slab<Conn>,
    chat: Chat,
    /// The storage thread, unless history is off.
    storage: Option<Storage>,
    outbox: Outbox,
    renderer: Renderer,
    render_buf: BytesMut,
    /// Broadcast lines, rendered back to back so a recipient's run of them is one slice.
    broadcast: BroadcastBuf,
    scratch: Vec<u8>,
    limits: QueueLimits,
    /// Most file payload bytes queued to one connection before further files are refused.
    file_backlog: usize,
    flood: FloodLimits,
    /// `--clock-offset` in milliseconds, applied to the wall clock the chat core sees.
    clock_offset_ms: i64,
    timers: Timers<ReactorTimer>,
    per_ip: HashMap<IpAddr, usize>,
    /// Connections counted against --max-clients.
    served: usize,
    /// When the current loop turn began: the time output caps are checked against, so queueing a
    /// line reads no clock per recipient.
    turn_began: Instant,
    pending_writes: Vec<usize>,
    ready_reads: Vec<usize>,
    doomed: Vec<usize>,
    accept_more: bool,
    accept_paused: bool,
    next_sweep: Instant,
    shutting_down: bool,
    next_serial: u64,
    pub stats: ReactorStats,
}

impl Reactor {
    /// Binds the listening socket (SO_REUSEADDR, the configured backlog) and sets up the loop,
    /// without history (see `bind_with_store`).
    pub fn bind(cfg: Config) -> io::Result<Reactor> {
        Reactor::bind_with_store(cfg, None)
    }

    /// As `bind`, and starts the storage thread on `store` (history is off when it is `None`).
    pub fn bind_with_store(cfg: Config, store: Option<Store>) -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let mut listener = bind_listener(cfg.bind, cfg.backlog)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let limits = QueueLimits {
            hard: cfg.max_queue,
            soft: cfg.soft_queue,
            soft_for: cfg.soft_queue_time(),
        };
        let flood = FloodLimits {
            rate: cfg.rate.max(0.0),
            burst: f64::from(cfg.burst),
            kick_after: cfg.flood_kick(),
        };
        let storage = match store {
            Some(store) => {
                let settings = StorageSettings {
                    flush: cfg.flush_interval(),
                    retention: cfg.history_retention(),
                };
                let waker = mio::Waker::new(poll.registry(), STORAGE)?;
                Some(Storage::start(store, settings, waker)?)
            }
            None => None,
        };
        let mut chat_settings = ChatSettings::from_config(&cfg);
        chat_settings.history_enabled = storage.is_some();
        chat_settings.words = std::sync::Arc::new(
            WordBank::load(cfg.words.as_deref())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        );
        Ok(Reactor {
            chat: Chat::new(chat_settings),
            storage,
            flood,
            clock_offset_ms: cfg.clock_offset.saturating_mul(1000),
            renderer: Renderer::new(cfg.lang, cfg.utc),
            poll,
            listener: Some(listener),
            signals,
            conns: Slab::new(),
            outbox: Outbox::default(),
            render_buf: BytesMut::new(),
            broadcast: BroadcastBuf::new(),
            turn_began: Instant::now(),
            scratch: vec![0; READ_CHUNK],
            limits,
            // Four of the largest files: room for a few at once, bounded whatever a client does.
            file_backlog: usize::try_from(cfg.max_file.saturating_mul(4)).unwrap_or(usize::MAX),
            timers: Timers::new(),
            per_ip: HashMap::new(),
            served: 0,
            pending_writes: Vec::new(),
            ready_reads: Vec::new(),
            doomed: Vec::new(),
            accept_more: false,
            accept_paused: false,
            next_sweep: Instant::now() + SWEEP_EVERY,
            shutting_down: false,
            next_serial: 0,
            stats: ReactorStats::default(),
            cfg,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.listener {
            Some(l) => l.local_addr(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Runs until a shutdown signal has been handled and every connection is flushed or timed out.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            self.stats.loop_turns += 1;
            let turn_started = Instant::now();
            self.turn_began = turn_started;
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_batch(),
                    SIGNALS => self.on_signal(),
                    STORAGE => self.on_storage_answers(),
                    Token(key) => {
                        if event.is_read_closed() || event.is_error() || event.is_priority() {
                            self.on_readable(key, ReadUntil::WouldBlock);
                        } else if event.is_readable() {
                            self.on_readable(key, SHORT_READ);
                        }
                        if event.is_writable() {
                            self.want_write(key);
                        }
                    }
                }
            }
            self.leftover_reads();
            if self.accept_more {
                self.accept_batch();
            }
            self.run_timers();
            self.flush_pending();
            self.reap();
            if let Some(storage) = &mut self.storage {
                storage.send_if_due(Instant::now());
            }
            self.stats.busy += turn_started.elapsed();
            if self.shutting_down && self.conns.is_empty() {
                info!("all connections closed; exiting");
                if let Some(mut storage) = self.storage.take() {
                    storage.finish();
                }
                return Ok(());
            }
        }
    }

    fn now(&self) -> Now {
        let mut now = Now::system();
        now.wall = now.wall.saturating_add_signed(self.clock_offset_ms);
        now
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.pending_writes.is_empty() || !self.ready_reads.is_empty() || self.accept_more {
            return Some(Duration::ZERO);
        }
        let mut next = self.next_sweep;
        let storage = self.storage.as_ref().and_then(|h| h.next_send());
        for deadline in [
            self.timers.next_deadline(),
            self.chat.next_deadline(),
            storage,
        ]
        .into_iter()
        .flatten()
        {
            next = next.min(deadline);
        }
        Some(next.saturating_duration_since(Instant::now()))
    }

    // ----- accepting -------------------------------------------------------------------------

    fn accept_batch(&mut self) {
        self.accept_more = false;
        if self.accept_paused || self.shutting_down {
            return;
        }
        for _ in 0..self.cfg.accept_batch {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, addr)) => self.admit(stream, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_fds(&e) => {
                    // Retrying at once would spin: the pending connection stays in the backlog
                    // until descriptors free up.
                    warn!("accept: {e}; pausing accepts for {ACCEPT_PAUSE:?}");
                    self.stats.accept_pauses += 1;
                    self.accept_paused = true;
                    self.timers
                        .insert(Instant::now() + ACCEPT_PAUSE, ReactorTimer::ResumeAccepting);
                    return;
                }
                Err(e) => debug!("accept: {e}"), // e.g. the peer reset before we got to it
            }
        }
        // The batch ran out with connections possibly still waiting; edge-triggered readiness will
        // not report them again, so come back next turn.
        self.accept_more = true;
    }

    fn admit(&mut self, mut stream: TcpStream, addr: SocketAddr) {
        let now = Instant::now();
        let refusal = if self.served >= self.cfg.max_clients {
            self.stats.refused_full += 1;
            Some(Bye::ServerFull {
                max: self.cfg.max_clients,
            })
        } else if self.ip_is_limited(addr.ip())
            && self.per_ip.get(&addr.ip()).copied().unwrap_or(0) >= self.cfg.max_per_ip
        {
            self.stats.refused_per_ip += 1;
            Some(Bye::TooManyFromAddress {
                max: self.cfg.max_per_ip,
            })
        } else if let Some(minutes_left) = self.chat.address_banned(addr.ip(), now) {
            self.stats.refused_banned += 1;
            Some(Bye::Banned { minutes_left })
        } else {
            None
        };
        if refusal.is_some() && self.conns.len() >= self.served + REFUSED_SLACK {
            // Under a connection flood, refusals must not pile up descriptors either.
            self.stats.refused_dropped += 1;
            return;
        }
        let _ = stream.set_nodelay(true);
        if self.cfg.keepalive > 0 {
            let keepalive = socket2::TcpKeepalive::new()
                .with_time(Duration::from_secs(self.cfg.keepalive))
                .with_interval(Duration::from_secs(10))
                .with_retries(3);
            let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), CONN_INTEREST)
        {
            warn!("register {addr}: {e}");
            return;
        }
        self.next_serial += 1;
        let serial = self.next_serial;
        entry.insert(Conn::new(
            stream,
            serial,
            addr,
            self.cfg.max_login_line,
            &self.flood,
            now,
        ));
        self.stats.accepted += 1;
        if let Some(bye) = refusal {
            info!("refused {addr}: {bye:?}");
            self.conns[key].greeted = true;
            self.conns[key].proto = Proto::Line;
            self.queue_event(key, &Event::Bye(bye));
            self.begin_close(key, now + self.cfg.linger());
            return;
        }
        self.served += 1;
        *self.per_ip.entry(addr.ip()).or_insert(0) += 1;
        self.conns[key].counted = true;
        self.chat.connect(ConnId(key), Peer { ip: addr.ip() });
        info!("connection from {addr} ({} clients)", self.served);
        if self.cfg.greet_delay_ms == 0 {
            self.greet(key);
        } else {
            self.timers.insert(
                now + self.cfg.greet_delay(),
                ReactorTimer::Greet { key, serial },
            );
        }
        // The login deadline is checked by the sweep (`Conn::timeout_from`), not a timer: a
        // timer per connection stayed on the heap long after most had logged in, about 80 bytes
        // per idle connection in `idle10k`.
    }

    fn ip_is_limited(&self, ip: IpAddr) -> bool {
        self.cfg.limit_loopback || !ip.is_loopback()
    }

    // ----- reading ---------------------------------------------------------------------------

    fn on_readable(&mut self, key: usize, until: ReadUntil) {
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
                        conn.timeout_from = Instant::now();
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
                        if let Some(conn) = self.conns.get_mut(key) {
                            if !conn.read_listed {
                                conn.read_listed = true;
                                self.ready_reads.push(key);
                            }
                        }
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
                    debug!("read from {}: {e}", conn.peer);
                    self.mark_dead(key, lost_reason_for(&e, LostReason::ReadError));
                    break;
                }
            }
        }
        self.scratch = scratch;
    }

    fn leftover_reads(&mut self) {
        for key in std::mem::take(&mut self.ready_reads) {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.read_listed = false;
                self.on_readable(key, ReadUntil::WouldBlock);
            }
        }
    }

    /// Feeds freshly read bytes to the connection's protocol.
    fn on_bytes(&mut self, key: usize, data: &[u8]) {
        if self.conns[key].phase != Phase::Open {
            return; // closing: input is read only to be thrown away
        }
        match self.conns[key].proto {
            Proto::Sniffing(_) => self.sniff(key, data),
            Proto::Line => self.feed_stream(key, data),
            Proto::Http(_) => self.on_http_bytes(key, data),
            Proto::WebSocket(_) => self.on_ws_bytes(key, data),
        }
    }

    /// Feeds bytes of the line protocol (from the socket, or from WebSocket messages) through
    /// the upload or line decoder.
    fn feed_stream(&mut self, key: usize, mut data: &[u8]) {
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
                        debug!("{}: {e}", conn.peer);
                        self.mark_dead(key, LostReason::ReadError);
                        return;
                    }
                }
            }
            if self.flood.enabled() {
                let now = Instant::now();
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
                    self.on_frame(key, frame);
                }
                Err(e) => {
                    debug!("{}: {e}", conn.peer);
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
            LineFrame::InvalidUtf8 => {
                self.stats.invalid_utf8 += 1;
                self.refuse_line(key, Refusal::InvalidUtf8);
            }
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
                debug!(
                    "{}: skipped {size} bytes of a refused upload",
                    self.conns[key].peer
                );
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

    /// Flood control: keeps the undecoded rest of the input and stops reading until `resume_at`.
    fn throttle(&mut self, key: usize, rest: &[u8], resume_at: Instant) {
        let conn = &mut self.conns[key];
        conn.held_input.extend_from_slice(rest);
        conn.paused = true;
        let serial = conn.serial;
        if conn.throttled_since.is_none() {
            conn.throttled_since = Some(Instant::now());
            self.stats.flood_throttles += 1;
            debug!("{}: flood control engaged", conn.peer);
            self.queue_event(key, &Event::Refused(Refusal::Flood));
        }
        self.timers
            .insert(resume_at, ReactorTimer::Unthrottle { key, serial });
    }

    /// Flood control's token is due: decode what was held back, then read the socket again
    /// (edge-triggered readiness will not report data that arrived while paused). A client still
    /// behind after `--flood-kick-secs` is disconnected instead.
    fn unthrottle(&mut self, key: usize, now: Now) {
        let conn = &mut self.conns[key];
        conn.paused = false;
        if conn
            .throttled_since
            .is_some_and(|since| now.mono.duration_since(since) >= self.flood.kick_after)
        {
            self.stats.flood_kicks += 1;
            info!("{}: excess flood", conn.peer);
            conn.held_input = Vec::new();
            self.chat
                .disconnect(ConnId(key), LostReason::ExcessFlood, now, &mut self.outbox);
            self.apply_outbox();
            self.queue_event(key, &Event::Bye(Bye::ExcessFlood));
            self.begin_close(key, now.mono + self.cfg.linger());
            return;
        }
        let held = std::mem::take(&mut conn.held_input);
        self.feed_stream(key, &held);
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.paused && !conn.read_listed {
                conn.read_listed = true;
                self.ready_reads.push(key);
            }
        }
    }

    /// Sends the nickname prompt. A connection still undecided is from now on a line connection.
    fn greet(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        conn.greeted = true;
        if matches!(conn.proto, Proto::Sniffing(_)) {
            conn.proto = Proto::Line;
        }
        self.queue_event(key, &Event::Info(Info::Greeting));
    }

    // ----- chat output -----------------------------------------------------------------------

    /// Applies what the chat core asked for, then empties the outbox.
    fn apply_outbox(&mut self) {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.items.drain(..) {
            match output {
                Output::ToConn { conn, event } => self.queue_event(conn.0, &event),
                Output::ToMany { start, end, event } => {
                    self.stats.deliveries += (end - start) as u64;
                    let recipients = &outbox.recipients[start..end];
                    match file_payload(&event) {
                        Some(payload) => {
                            let header = self.render(&event);
                            for conn in recipients {
                                self.queue_file(conn.0, &header, payload);
                            }
                        }
                        None => self.queue_broadcast(recipients, &event),
                    }
                }
                Output::ReceiveFile { conn, size, keep } => {
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        let after_cr = c.decoder.after_cr();
                        c.upload = Some(Box::new(FileDecoder::new(size, keep, after_cr)));
                    }
                }
                Output::LoggedIn { conn } => {
                    if let Some(c) = self.conns.get_mut(conn.0) {
                        c.logged_in = true;
                        c.timeout_from = Instant::now(); // from now on, the idle timeout's
                        c.decoder.set_max_line(self.cfg.max_line);
                    }
                }
                Output::Close { conn, bye } => {
                    if self.conns.contains(conn.0) {
                        if let Some(bye) = bye {
                            self.queue_event(conn.0, &Event::Bye(bye));
                        }
                        self.begin_close(conn.0, Instant::now() + self.cfg.linger());
                    }
                }
                // Once shutting down, no input is read any more: what the chat core still says
                // is the departures the shutdown itself causes, which are not room history.
                Output::Store(event) => {
                    if let Some(storage) = self.storage.as_mut().filter(|_| !self.shutting_down) {
                        storage.store(event);
                    }
                }
                Output::Query { conn, query } => {
                    if let (Some(storage), Some(c)) = (&mut self.storage, self.conns.get(conn.0)) {
                        storage.query(conn.0, c.serial, query);
                    }
                }
            }
        }
        outbox.clear();
        self.outbox = outbox;
    }

    /// Renders output for one connection (or a file's header line) into a block shared with the
    /// other recent lines: one allocation serves many lines, each `Bytes` keeps only its block
    /// alive. Blocks are sized as broadcast blocks are, for the same reason.
    fn render(&mut self, event: &Event) -> Bytes {
        if self.render_buf.capacity() - self.render_buf.len() < broadcast::MIN_ROOM {
            self.render_buf.reserve(broadcast::BLOCK_SIZE);
        }
        self.renderer.render(event, &mut self.render_buf);
        self.render_buf.split().freeze()
    }

    /// Renders a broadcast once, into the open block; line clients take a non-atomic reference to
    /// it, WebSocket clients share one framed copy made on first need.
    fn queue_broadcast(&mut self, recipients: &[ConnId], event: &Event) {
        let renderer = &self.renderer;
        let line = self.broadcast.write(|buf| renderer.render(event, buf));
        let mut framed: Option<Bytes> = None;
        for conn in recipients {
            if self.conns.get(conn.0).is_some_and(Conn::is_websocket) {
                let frame = framed
                    .get_or_insert_with(|| web::text_frame(self.broadcast.bytes_of(&line)))
                    .clone();
                self.queue_raw(conn.0, frame);
            } else {
                self.queue_with(conn.0, |q| q.push_shared(&line));
            }
        }
    }

    fn queue_event(&mut self, key: usize, event: &Event) {
        if self.conns.get(key).is_some_and(Conn::accepts_output) {
            self.stats.deliveries += 1;
            let bytes = self.render(event);
            match file_payload(event) {
                Some(payload) => self.queue_file(key, &bytes, payload),
                None => self.queue_bytes(key, bytes),
            }
        }
    }

    /// Queues a file's header line and then its payload, the one buffer every recipient shares.
    /// A connection that still has `file_backlog` bytes of files on their way gets a refusal
    /// instead, so a client that takes files and never reads them cannot pin payload after
    /// payload in memory.
    fn queue_file(&mut self, key: usize, header: &Bytes, payload: &Bytes) {
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        let queued = conn.out.file_len();
        if queued > 0 && queued + payload.len() > self.file_backlog {
            self.stats.files_busy += 1;
            let busy = FileNotice::Busy {
                queued: queued as u64,
            };
            self.queue_event(key, &Event::File(busy));
            return;
        }
        self.queue_bytes(key, header.clone());
        if self.conns.get(key).is_some_and(Conn::is_websocket) {
            // The payload travels as one binary message; only its frame head is new bytes.
            self.queue_raw(key, web::binary_head(payload.len()));
        }
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.accepts_output() {
                conn.out.push_file(payload.clone());
                self.stats.files_out += 1;
            }
        }
    }

    /// Queues rendered protocol lines in the connection's wire format: as they are for line
    /// clients, as a WebSocket text message for browsers, and not at all for an HTTP request
    /// (chat lines never go into an HTTP response).
    fn queue_bytes(&mut self, key: usize, lines: Bytes) {
        match self.conns.get(key).map(|c| &c.proto) {
            Some(Proto::WebSocket(_)) => self.queue_raw(key, web::text_frame(&lines)),
            Some(Proto::Http(_)) | None => {}
            Some(_) => self.queue_raw(key, lines),
        }
    }

    /// Queues wire bytes for a connection and enforces the output limits.
    fn queue_raw(&mut self, key: usize, bytes: Bytes) {
        self.queue_with(key, |q| q.push(bytes));
    }

    /// Queues output for a connection through `push`, then applies the caps.
    fn queue_with(&mut self, key: usize, push: impl FnOnce(&mut OutQueue)) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.accepts_output() {
            return;
        }
        push(&mut conn.out);
        // Goodbye lines of closing connections are queued before the phase changes, so they
        // always fit; everything else obeys the caps.
        let mut verdict = conn.out.check(&self.limits, self.turn_began);
        if verdict == QueueVerdict::OverHard {
            // Within one loop turn many senders may queue lines for this connection before the
            // flush step runs. Before calling it a slow reader, let its socket take what it can:
            // a client that reads keeps up through its kernel buffer; one that does not stays
            // over the cap and is dropped.
            self.broadcast.seal();
            match conn.out.write_to(&mut conn.stream, usize::MAX) {
                Ok((_, n)) => self.stats.bytes_out += n as u64,
                Err(e) => {
                    debug!("write to {}: {e}", conn.peer);
                    self.mark_dead(key, lost_reason_for(&e, LostReason::WriteError));
                    return;
                }
            }
            verdict = conn.out.check(&self.limits, Instant::now());
        }
        if verdict != QueueVerdict::Ok {
            self.drop_for_queue(key, verdict);
            return;
        }
        if !conn.write_listed {
            conn.write_listed = true;
            self.pending_writes.push(key);
        }
    }

    fn drop_for_queue(&mut self, key: usize, verdict: QueueVerdict) {
        let conn = &mut self.conns[key];
        match verdict {
            QueueVerdict::OverHard => self.stats.queue_hard_drops += 1,
            QueueVerdict::OverSoftTooLong => self.stats.queue_soft_drops += 1,
            QueueVerdict::Ok => return,
        }
        info!(
            "dropping {}: output queue {} bytes ({:?})",
            conn.peer,
            conn.out.len(),
            verdict
        );
        conn.out.clear();
        self.mark_dead(key, LostReason::SendQueueExceeded);
    }

    // ----- writing ---------------------------------------------------------------------------

    fn want_write(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.out.is_empty() && !conn.write_listed && conn.dead.is_none() {
                conn.write_listed = true;
                self.pending_writes.push(key);
            }
        }
    }

    fn flush_pending(&mut self) {
        self.broadcast.seal();
        for key in std::mem::take(&mut self.pending_writes) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.write_listed = false;
            if conn.dead.is_some() {
                continue;
            }
            match conn.out.write_to(&mut conn.stream, WRITE_BUDGET) {
                Ok((flush, n)) => {
                    self.stats.bytes_out += n as u64;
                    match flush {
                        Flush::Drained => self.drained(key),
                        Flush::Blocked => {} // writable readiness will bring it back
                        Flush::Budget => {
                            conn.write_listed = true;
                            self.pending_writes.push(key);
                        }
                    }
                }
                Err(e) => {
                    debug!("write to {}: {e}", conn.peer);
                    self.mark_dead(key, lost_reason_for(&e, LostReason::WriteError));
                }
            }
        }
    }

    /// The queue is empty: a draining connection now half-closes and lingers.
    fn drained(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if let Phase::Draining { close_at } = conn.phase {
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            let close_at = close_at.min(Instant::now() + self.cfg.linger());
            conn.phase = Phase::Lingering { close_at };
            let serial = conn.serial;
            self.timers
                .insert(close_at, ReactorTimer::CloseAt { key, serial });
        }
    }

    // ----- closing ---------------------------------------------------------------------------

    /// Stops taking input and output for the connection: what is queued (its goodbye) is
    /// flushed, then it half-closes and lingers until `close_at` at the latest.
    fn begin_close(&mut self, key: usize, close_at: Instant) {
        let conn = &self.conns[key];
        if conn.is_websocket() && conn.accepts_output() && !conn.ws_close_sent {
            // A browser learns the socket is ending from a close frame, after the goodbye text.
            self.queue_raw(key, web::close_frame(close_code::NORMAL, ""));
            self.conns[key].ws_close_sent = true;
        }
        let conn = &mut self.conns[key];
        if conn.phase != Phase::Open || conn.dead.is_some() {
            return;
        }
        conn.phase = Phase::Draining { close_at };
        let serial = conn.serial;
        self.timers
            .insert(close_at, ReactorTimer::CloseAt { key, serial });
        if conn.out.is_empty() {
            self.drained(key);
        } else if !conn.write_listed {
            conn.write_listed = true;
            self.pending_writes.push(key);
        }
    }

    /// Marks a connection for removal at the end of the turn.
    fn mark_dead(&mut self, key: usize, reason: LostReason) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.dead.is_none() {
                conn.dead = Some(reason);
                self.doomed.push(key);
            }
        }
    }

    /// Removes dead connections. The chat core hears of each (a no-op for those it already
    /// let go), and its notices may doom further connections, so this repeats until none are left.
    fn reap(&mut self) {
        while let Some(key) = self.doomed.pop() {
            let Some(conn) = self.conns.get(key) else {
                continue;
            };
            let reason = conn.dead.unwrap_or(LostReason::Closed);
            *self.stats.disconnects.entry(reason.name()).or_insert(0) += 1;
            if conn.counted && self.chat.is_logged_in(ConnId(key)) {
                info!("{} disconnected: {reason:?}", conn.peer);
            } else {
                debug!("{} closed: {reason:?}", conn.peer);
            }
            let now = self.now();
            self.chat
                .disconnect(ConnId(key), reason, now, &mut self.outbox);
            self.apply_outbox();
            let mut conn = self.conns.remove(key);
            if reason == LostReason::Closed && !conn.out.is_empty() {
                // The peer shut down only its sending side (`printf ... | nc -N`, a script that
                // half-closes): it still reads. Give it the replies to what it sent, as far as
                // its socket takes them now; everything up to its end of input was read, so the
                // close that follows is a clean one, not a reset.
                self.broadcast.seal();
                if let Ok((_, n)) = conn.out.write_to(&mut conn.stream, usize::MAX) {
                    self.stats.bytes_out += n as u64;
                }
            }
            let _ = self.poll.registry().deregister(&mut conn.stream);
            if conn.counted {
                self.served -= 1;
                let ip = conn.peer.ip();
                if let Some(n) = self.per_ip.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        self.per_ip.remove(&ip);
                    }
                }
            }
        }
    }

    // ----- time ------------------------------------------------------------------------------

    fn run_timers(&mut self) {
        let now = self.now();
        while let Some(timer) = self.timers.pop_due(now.mono) {
            match timer {
                ReactorTimer::Greet { key, serial } => {
                    // A connection whose first bytes may yet be an HTTP method is left to decide.
                    if self.is_current(key, serial)
                        && !self.conns[key].greeted
                        && matches!(&self.conns[key].proto, Proto::Sniffing(b) if b.is_empty())
                    {
                        self.greet(key);
                    }
                }
                ReactorTimer::CloseAt { key, serial } => {
                    if self.is_current(key, serial)
                        && self.conns[key]
                            .phase
                            .close_at()
                            .is_some_and(|at| at <= now.mono)
                    {
                        self.mark_dead(key, LostReason::Closed);
                    }
                }
                ReactorTimer::Unthrottle { key, serial } => {
                    if self.is_current(key, serial) && self.conns[key].paused {
                        self.unthrottle(key, now);
                    }
                }
                ReactorTimer::ResumeAccepting => {
                    self.accept_paused = false;
                    self.accept_batch();
                }
            }
        }
        self.chat.on_timer(now, &mut self.outbox);
        self.apply_outbox();
        if now.mono >= self.next_sweep {
            self.next_sweep = now.mono + SWEEP_EVERY;
            self.sweep(now);
        }
    }

    fn is_current(&self, key: usize, serial: u64) -> bool {
        self.conns
            .get(key)
            .is_some_and(|c| c.serial == serial && c.dead.is_none())
    }

    fn login_timeout(&mut self, key: usize, now: Now) {
        if self.conns[key].phase != Phase::Open {
            return;
        }
        self.stats.login_timeouts += 1;
        info!("{}: login timeout", self.conns[key].peer);
        self.chat
            .disconnect(ConnId(key), LostReason::PingTimeout, now, &mut self.outbox);
        self.apply_outbox();
        let bye = Bye::LoginTimeout {
            secs: self.cfg.login_timeout,
        };
        self.queue_event(key, &Event::Bye(bye));
        self.begin_close(key, now.mono + self.cfg.linger());
    }

    /// The once-a-second pass over all connections: login and idle timeouts, soft output caps.
    /// A login timeout thus ends up to a second after `--login-timeout`.
    fn sweep(&mut self, now: Now) {
        let idle = self.cfg.idle_timeout();
        let login = self.cfg.login_timeout();
        let mut login_keys = Vec::new();
        let mut idle_keys = Vec::new();
        let mut over_soft = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            if conn.dead.is_some() || conn.phase != Phase::Open {
                continue;
            }
            let waited = now.mono.duration_since(conn.timeout_from);
            if !conn.logged_in && waited >= login {
                login_keys.push(key);
                continue;
            }
            if let Some(idle) = idle {
                if conn.logged_in && waited >= idle {
                    idle_keys.push(key);
                    continue;
                }
            }
            if !conn.out.is_empty() {
                let verdict = conn.out.check(&self.limits, now.mono);
                if verdict != QueueVerdict::Ok {
                    over_soft.push((key, verdict));
                }
            }
        }
        for (key, verdict) in over_soft {
            self.drop_for_queue(key, verdict);
        }
        for key in login_keys {
            self.login_timeout(key, now);
        }
        give_back_freed_memory();
        for key in idle_keys {
            self.stats.idle_timeouts += 1;
            info!("{}: idle timeout", self.conns[key].peer);
            let bye = Bye::PingTimeout {
                secs: self.cfg.idle_timeout,
            };
            // Tell the room first (the session is held for a reconnect), then say goodbye.
            self.chat
                .disconnect(ConnId(key), LostReason::PingTimeout, now, &mut self.outbox);
            self.apply_outbox();
            self.queue_event(key, &Event::Bye(bye));
            self.begin_close(key, now.mono + self.cfg.linger());
        }
    }

    // ----- storage ---------------------------------------------------------------------------

    /// The storage thread has answers: each goes to the chat core for its connection, unless that
    /// connection has gone (or its slab key now belongs to another connection).
    fn on_storage_answers(&mut self) {
        let Some(storage) = &self.storage else {
            return;
        };
        let now = self.now();
        for answer in storage.answers() {
            if self.is_current(answer.conn, answer.serial) {
                self.chat
                    .history_answer(ConnId(answer.conn), answer.answer, now, &mut self.outbox);
                self.apply_outbox();
            }
        }
    }

    // ----- shutdown --------------------------------------------------------------------------

    fn on_signal(&mut self) {
        let signals: Vec<i32> = self.signals.pending().collect();
        if signals.is_empty() || self.shutting_down {
            return;
        }
        info!(
            "signal {:?}: shutting down ({} connections)",
            signals,
            self.conns.len()
        );
        self.shutting_down = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        let close_at = Instant::now() + self.cfg.shutdown_timeout();
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.queue_event(key, &Event::Bye(Bye::ShuttingDown));
            self.begin_close(key, close_at);
        }
    }
}

/// Binds with SO_REUSEADDR (restarts must not wait for TIME_WAIT) and an explicit backlog.
fn bind_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The payload of a file delivery, which is queued after its rendered header.
fn file_payload(event: &Event) -> Option<&Bytes> {
    match event {
        Event::File(FileNotice::Data { payload, .. }) => Some(payload),
        _ => None,
    }
}

/// Returns the allocator's free pages to the system. glibc keeps freed memory inside its heap
/// (only the top of the heap is ever trimmed by itself), so after a burst (thousands of logins,
/// a notice flood) the process would stay at its peak size for ever. `malloc_trim` releases
/// the free pages anywhere in the heap; once a second it costs microseconds.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only inspects and releases the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn lost_reason_for(e: &io::Error, otherwise: LostReason) -> LostReason {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => LostReason::Reset,
        io::ErrorKind::TimedOut => LostReason::PingTimeout,
        _ => otherwise,
    }
}
