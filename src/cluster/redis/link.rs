//! The cluster's Redis link on the reactor: one non-blocking socket to Redis, its reconnections,
//! and the bound on what waits to be written to it.
//!
//! The reactor owns the link like any connection and drives it through four calls:
//! [`Link::on_ready`] when poll reports its token, [`Link::flush`] once a loop turn after the chat
//! core has sent, and [`Link::on_timer`] when [`Link::deadline`] has passed. [`Link::send`] only
//! queues: a slow Redis never delays a local broadcast, and what waits for it is bounded by
//! [`LinkLimits::max_queued_bytes`], past which commands are refused rather than buffered.
//!
//! A link goes through phases: waiting for its next attempt, connecting (a non-blocking
//! `connect`), the handshake (`HELLO 3`, `AUTH`, `SELECT`, see [`Session`]), and up. Connecting and
//! the handshake together must finish within [`LinkLimits::connect_timeout`]. Any error, end of
//! stream or timeout closes the socket and reports [`LinkEvent::Down`] once for that connection,
//! with the time of the next attempt: exponential back-off from `backoff_min` to `backoff_max`,
//! with jitter so that nodes which lost Redis together do not all come back in the same
//! millisecond, and back to `backoff_min` once a connection has come up.
//!
//! Commands sent and not yet answered when the connection drops are lost, and so are pub/sub
//! messages published while the link is down: pub/sub through the link is at-most-once, and
//! whoever needs more sends its commands again on `Up`.
//!
//! Readiness is edge-triggered: each call reads until `WouldBlock` and writes until `WouldBlock`,
//! since no new event comes for bytes already waiting. Reading is capped per call
//! ([`READ_BUDGET`]) so a flood of pushes cannot keep the reactor from its other sockets. A link
//! whose budget ran out has no event coming for the rest, so its [`Link::deadline`] becomes the
//! moment the budget ran out: the reactor's next look at its timers finds it due and calls
//! [`Link::on_timer`], which reads on, and the reactor's poll does not sleep meanwhile.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::session::Session;
use super::url::RedisUrl;
use super::LinkEvent;

/// Most bytes one `on_ready` (or the `on_timer` that resumes it) reads: thousands of chat-sized
/// pushes, after which the reactor's other sockets get their turn.
pub const READ_BUDGET: usize = 1024 * 1024;
/// What one `read` takes at most.
const READ_CHUNK: usize = 64 * 1024;
/// The largest reply the link holds while it is incomplete. The link carries chat traffic and
/// small cluster records; a reply this large is a mistake (a `KEYS *` on a big database), and
/// holding more would take memory the chat's connections need. Redis's own bulk limit is 512 MiB.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// The link's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLimits {
    /// `send` refuses commands with [`SendError::Full`] while this many bytes wait to be written:
    /// a Redis that stops reading costs this much memory at most, not all the reactor has.
    /// 8 MiB holds tens of thousands of chat-sized commands: room for a Redis that pauses (a
    /// fork for a snapshot, a slow command), not for one that has stopped.
    pub max_queued_bytes: usize,
    /// The first delay before reconnecting, and the delay after a connection that came up.
    pub backoff_min: Duration,
    /// The longest delay between attempts: a Redis that comes back is found within this.
    pub backoff_max: Duration,
    /// How long connecting and the handshake may take together before the attempt counts as
    /// failed: a Redis that accepts but never answers must not hold the link forever.
    pub connect_timeout: Duration,
}

impl Default for LinkLimits {
    fn default() -> LinkLimits {
        LinkLimits {
            max_queued_bytes: 8 * 1024 * 1024,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Why [`Link::send`] refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The link is not up (connecting, in its handshake, or waiting to retry).
    Down,
    /// `max_queued_bytes` or more wait to be written: Redis is not keeping up.
    Full,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::Down => "the Redis link is down",
            SendError::Full => "the Redis link has too much waiting to be written",
        })
    }
}

impl std::error::Error for SendError {}

/// The link's counters, for `/metrics` and logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkStats {
    /// Connection attempts after the first.
    pub reconnects: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// Bytes waiting to be written now.
    pub queued_bytes: usize,
    /// Commands refused with [`SendError::Full`].
    pub refused_full: u64,
    /// Commands refused with [`SendError::Down`].
    pub refused_down: u64,
}

/// Where a link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No socket; the next attempt is due at `retry_at`.
    Waiting { retry_at: Instant },
    /// A non-blocking connect, started at `since`, is in flight.
    Connecting { since: Instant },
    /// Connected; the handshake's replies are awaited. `since` is when the attempt started.
    Handshake { since: Instant },
    /// The handshake succeeded: commands may be sent.
    Up,
}

/// The cluster's connection to Redis, driven by the reactor.
pub struct Link {
    url: RedisUrl,
    limits: LinkLimits,
    token: Token,
    phase: Phase,
    /// The socket, from `connect` to the loss of the connection.
    stream: Option<TcpStream>,
    /// The protocol state, from `connect` to the loss of the connection.
    session: Option<Session>,
    /// Encoded commands waiting to be written.
    out: BytesMut,
    /// Bytes read and not yet decoded: at most one partial frame between reads.
    input: BytesMut,
    /// Where each `read` lands before it joins `input`; kept for the life of the link.
    scratch: Vec<u8>,
    /// The bound of the next back-off delay.
    backoff: Duration,
    /// When the read budget ran out with bytes possibly still waiting in the socket.
    read_again_since: Option<Instant>,
    /// The last write said `WouldBlock`: writing waits for the next readiness event.
    write_blocked: bool,
    /// A `Full` refusal has been logged since the buffer last had room.
    full_logged: bool,
    /// Failed attempts since the link was last up (only the first is logged as a warning).
    failures: u32,
    /// Connection attempts made, the first included.
    attempts: u64,
    /// [`READ_BUDGET`], smaller in tests.
    read_budget: usize,
    /// Redis's address, looked up at the first attempt (before the node serves anyone) and
    /// kept: a lookup blocks, and must not block the reactor while users are served.
    resolved: Option<SocketAddr>,
    stats: LinkStats,
}

impl Link {
    /// A link that is down, with its first attempt due at once.
    pub fn new(url: RedisUrl, limits: LinkLimits, token: Token) -> Link {
        Link {
            url,
            limits,
            token,
            phase: Phase::Waiting {
                retry_at: Instant::now(),
            },
            stream: None,
            session: None,
            out: BytesMut::new(),
            input: BytesMut::new(),
            scratch: vec![0; READ_CHUNK],
            backoff: limits.backoff_min,
            read_again_since: None,
            write_blocked: false,
            full_logged: false,
            failures: 0,
            attempts: 0,
            read_budget: READ_BUDGET,
            resolved: None,
            stats: LinkStats::default(),
        }
    }

    /// Whether commands may be sent.
    pub fn is_up(&self) -> bool {
        self.phase == Phase::Up
    }

    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// Queues one command; its reply comes back as `LinkEvent::Reply { tag }`. Never writes:
    /// the reactor's `flush` does, once a loop turn.
    pub fn send(&mut self, args: &[&[u8]], tag: u64) -> Result<(), SendError> {
        self.send_checked(args, tag, true)
    }

    /// As [`send`](Self::send), but never refused for the queue's size: for the few small
    /// commands that keep the cluster's state right (the heartbeat, claims, rooms' members),
    /// which must not be lost to a burst of room events. Refused only while the link is down.
    pub fn send_control(&mut self, args: &[&[u8]], tag: u64) -> Result<(), SendError> {
        self.send_checked(args, tag, false)
    }

    fn send_checked(&mut self, args: &[&[u8]], tag: u64, bounded: bool) -> Result<(), SendError> {
        let session = match (self.phase, self.session.as_mut()) {
            (Phase::Up, Some(session)) => session,
            _ => {
                self.stats.refused_down += 1;
                return Err(SendError::Down);
            }
        };
        if bounded && self.out.len() >= self.limits.max_queued_bytes {
            self.stats.refused_full += 1;
            if !self.full_logged {
                self.full_logged = true;
                warn!(redis:% = self.url, queued = self.out.len();
                    "Redis is not keeping up: commands are refused until what waits is written");
            }
            return Err(SendError::Full);
        }
        self.full_logged = false;
        session.command(&mut self.out, args, tag);
        Ok(())
    }

    /// Readiness on the link's token: reads until `WouldBlock` (or the read budget), decodes,
    /// then writes what it can.
    pub fn on_ready(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        self.write_blocked = false;
        match self.phase {
            // A stale event for a connection already closed.
            Phase::Waiting { .. } => return,
            Phase::Connecting { since } => match self.connected() {
                Ok(false) => return,
                Ok(true) => {
                    if let Some(Err(e)) = self.stream.as_ref().map(|s| s.set_nodelay(true)) {
                        let error = format!("setting TCP_NODELAY failed: {e}");
                        return self.lose(registry, now, error, events);
                    }
                    self.phase = Phase::Handshake { since };
                }
                Err(e) => {
                    let error = format!("connecting to {} failed: {e}", self.url.addr_string());
                    return self.lose(registry, now, error, events);
                }
            },
            Phase::Handshake { .. } | Phase::Up => {}
        }
        self.read(registry, now, events);
        self.write(registry, now, events);
    }

    /// Writes what is queued, as far as the socket takes it.
    pub fn flush(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        if !self.write_blocked {
            self.write(registry, now, events);
        }
    }

    /// When [`on_timer`](Self::on_timer) is next needed: the next attempt, the end of a connect
    /// or handshake that takes too long, or, when the read budget ran out, a moment already
    /// past, so the reactor calls it at once and the rest is read.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(since) = self.read_again_since {
            return Some(since);
        }
        match self.phase {
            Phase::Waiting { retry_at } => Some(retry_at),
            Phase::Connecting { since } | Phase::Handshake { since } => {
                Some(since + self.limits.connect_timeout)
            }
            Phase::Up => None,
        }
    }

    /// Does what [`deadline`](Self::deadline) asked for: connects, fails an attempt that took too
    /// long, or reads on.
    pub fn on_timer(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        let timeout = self.limits.connect_timeout;
        match self.phase {
            Phase::Waiting { retry_at } if now >= retry_at => self.connect(registry, now, events),
            Phase::Connecting { since } if now >= since + timeout => {
                let addr = self.url.addr_string();
                let error = format!("connecting to {addr} timed out after {timeout:?}");
                self.lose(registry, now, error, events);
            }
            Phase::Handshake { since } if now >= since + timeout => {
                let addr = self.url.addr_string();
                let error =
                    format!("Redis at {addr} did not finish the handshake within {timeout:?}");
                self.lose(registry, now, error, events);
            }
            _ => {}
        }
        if self.read_again_since.is_some() {
            self.read(registry, now, events);
            self.write(registry, now, events);
        }
    }

    /// Drops the connection (Redis stopped answering while the socket stays open: a half-open
    /// connection, a stopped process); the link reconnects with back-off as after any loss.
    pub fn drop_connection(
        &mut self,
        registry: &Registry,
        now: Instant,
        error: String,
        events: &mut Vec<LinkEvent>,
    ) {
        self.lose(registry, now, error, events);
    }

    pub fn stats(&self) -> LinkStats {
        LinkStats {
            queued_bytes: self.out.len(),
            ..self.stats
        }
    }

    fn connect(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        if self.attempts > 0 {
            self.stats.reconnects += 1;
        }
        self.attempts += 1;
        self.phase = Phase::Connecting { since: now };
        let addr = match self.resolved.map_or_else(|| resolve(&self.url), Ok) {
            Ok(addr) => addr,
            Err(error) => return self.lose(registry, now, error, events),
        };
        self.resolved = Some(addr);
        let mut stream = match TcpStream::connect(addr) {
            Ok(stream) => stream,
            Err(e) => {
                let error = format!("connecting to {addr} failed: {e}");
                return self.lose(registry, now, error, events);
            }
        };
        // Once per connection: both directions, edge-triggered, for the connection's life.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = registry.register(&mut stream, self.token, interest) {
            let error = format!("registering the socket to {addr} failed: {e}");
            return self.lose(registry, now, error, events);
        }
        debug!(redis:% = self.url, addr:% = addr; "connecting to Redis");
        self.stream = Some(stream);
        self.session = Some(Session::new(&self.url, &mut self.out));
        self.write_blocked = false;
    }

    /// Whether the connect in flight has finished, as `mio` says to find out: a pending socket
    /// error means it failed; a peer address, that it succeeded.
    fn connected(&self) -> io::Result<bool> {
        let Some(stream) = &self.stream else {
            return Ok(false);
        };
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn read(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        self.read_again_since = None;
        let mut budget = self.read_budget;
        while let Some(stream) = self.stream.as_mut() {
            match stream.read(&mut self.scratch) {
                Ok(0) => {
                    let error = "Redis closed the connection".to_string();
                    return self.lose(registry, now, error, events);
                }
                Ok(n) => {
                    self.stats.bytes_in += n as u64;
                    self.input.extend_from_slice(&self.scratch[..n]);
                    if let Err(error) = self.decode(events) {
                        return self.lose(registry, now, error, events);
                    }
                    if n >= budget {
                        // Edge-triggered: no event comes for what may still wait in the socket.
                        self.read_again_since = Some(now);
                        return;
                    }
                    budget -= n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let error = format!("reading from Redis failed: {e}");
                    return self.lose(registry, now, error, events);
                }
            }
        }
    }

    /// Turns what was read into events; notices the end of the handshake.
    fn decode(&mut self, events: &mut Vec<LinkEvent>) -> Result<(), String> {
        let Some(session) = self.session.as_mut() else {
            return Ok(());
        };
        session.receive(&mut self.input, events)?;
        if matches!(self.phase, Phase::Handshake { .. }) && session.is_ready() {
            self.phase = Phase::Up;
            // The next loss is retried after the shortest delay again.
            self.backoff = self.limits.backoff_min;
            self.failures = 0;
            info!(redis:% = self.url; "Redis link up");
        }
        if self.input.len() > MAX_REPLY_BYTES {
            return Err(format!(
                "Redis sent a reply larger than {MAX_REPLY_BYTES} bytes, more than the link holds"
            ));
        }
        Ok(())
    }

    fn write(&mut self, registry: &Registry, now: Instant, events: &mut Vec<LinkEvent>) {
        if !matches!(self.phase, Phase::Handshake { .. } | Phase::Up) {
            return;
        }
        while !self.out.is_empty() {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            match stream.write(&self.out) {
                Ok(0) => {
                    let error = "Redis took no bytes".to_string();
                    return self.lose(registry, now, error, events);
                }
                Ok(n) => {
                    self.stats.bytes_out += n as u64;
                    self.out.advance(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let error = format!("writing to Redis failed: {e}");
                    return self.lose(registry, now, error, events);
                }
            }
        }
    }

    /// Ends the connection or attempt: closes the socket, drops what was queued and awaited,
    /// reports `Down` and sets the next attempt. Once per connection: a link already waiting
    /// has nothing to lose.
    fn lose(
        &mut self,
        registry: &Registry,
        now: Instant,
        error: String,
        events: &mut Vec<LinkEvent>,
    ) {
        if matches!(self.phase, Phase::Waiting { .. }) {
            return;
        }
        if let Some(mut stream) = self.stream.take() {
            let _ = registry.deregister(&mut stream);
        }
        let was_up = self.phase == Phase::Up;
        let unanswered = self.session.take().map_or(0, |s| s.pending());
        self.out = BytesMut::new();
        self.input = BytesMut::new();
        self.read_again_since = None;
        self.write_blocked = false;
        self.full_logged = false;
        let delay = jittered(self.backoff);
        self.backoff = (self.backoff * 2).min(self.limits.backoff_max);
        let retry_at = now + delay;
        self.phase = Phase::Waiting { retry_at };
        if was_up || self.failures == 0 {
            warn!(redis:% = self.url, error:% = error, unanswered = unanswered,
                retry_in_ms = delay.as_millis() as u64; "Redis link down");
        } else {
            debug!(redis:% = self.url, error:% = error,
                retry_in_ms = delay.as_millis() as u64; "Redis link still down");
        }
        self.failures = self.failures.saturating_add(1);
        events.push(LinkEvent::Down { error, retry_at });
    }
}

/// The address to connect to. An IP address is used as it is; a name is resolved with the
/// system resolver, which blocks while it works (std has no asynchronous lookup). That is
/// acceptable only because it happens once, at the first attempt, which the node makes before
/// it serves anyone (`reactor::cluster`'s join); reconnects reuse the address (a Redis that
/// moves to another address needs the nodes restarted). The first address is used.
fn resolve(url: &RedisUrl) -> Result<SocketAddr, String> {
    if let Ok(ip) = url.host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, url.port));
    }
    let mut addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("looking up {} failed: {e}", url.host))?;
    addrs
        .next()
        .ok_or_else(|| format!("{} has no address", url.host))
}

/// A random delay in `[bound / 2, bound]` ("equal jitter"): spreads the attempts of nodes that
/// lost Redis at the same moment while keeping each at least half its back-off. Without the OS's
/// random source, the bound itself.
fn jittered(bound: Duration) -> Duration {
    let mut random = [0u8; 8];
    if getrandom::getrandom(&mut random).is_err() {
        return bound;
    }
    let half = bound / 2;
    let span = (bound - half).as_nanos() as u64;
    half + Duration::from_nanos(u64::from_le_bytes(random) % (span + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::redis::test_server::{free_port, TestRedis};
    use bytes::Bytes;
    use mio::{Events, Poll};
    use redis_protocol::resp3::types::BytesFrame;
    use std::collections::VecDeque;

    const TOKEN: Token = Token(7);
    /// How long a test waits for what it expects before it fails: a bound, never a measure.
    const PATIENCE: Duration = Duration::from_secs(10);
    /// The longest one poll sleeps, so a test notices it ran out of patience.
    const MAX_POLL: Duration = Duration::from_millis(100);

    /// A reactor with nothing but the link: poll with the link's deadline as the timeout,
    /// dispatch readiness, run the timer when due, flush.
    struct Driver {
        poll: Poll,
        events: Events,
        link: Link,
        /// Turns on which the link asked to be called again at once (its read budget ran out).
        read_again_turns: usize,
        /// Events of the last turn after the one `until` waited for.
        unread: VecDeque<LinkEvent>,
    }

    impl Driver {
        fn new(url: &str, limits: LinkLimits) -> Driver {
            Driver {
                poll: Poll::new().unwrap(),
                events: Events::with_capacity(16),
                link: Link::new(url.parse().unwrap(), limits, TOKEN),
                read_again_turns: 0,
                unread: VecDeque::new(),
            }
        }

        /// One loop turn; the events it brought, and the `now` they were produced at.
        fn turn(&mut self) -> (Instant, Vec<LinkEvent>) {
            let now = Instant::now();
            let timeout = self.link.deadline().map_or(MAX_POLL, |at| {
                at.saturating_duration_since(now).min(MAX_POLL)
            });
            self.poll.poll(&mut self.events, Some(timeout)).unwrap();
            let now = Instant::now();
            let registry = self.poll.registry();
            let mut out = Vec::new();
            for event in self.events.iter() {
                if event.token() == TOKEN {
                    self.link.on_ready(registry, now, &mut out);
                }
            }
            if self.link.deadline().is_some_and(|at| at <= now) {
                if self.link.read_again_since.is_some() {
                    self.read_again_turns += 1;
                }
                self.link.on_timer(registry, now, &mut out);
            }
            self.link.flush(registry, now, &mut out);
            (now, out)
        }

        /// Turns until an event satisfies `done`; every event up to it (those after it, from the
        /// same turn, are kept for the next call). Fails after `PATIENCE`.
        fn until(
            &mut self,
            what: &str,
            mut done: impl FnMut(&LinkEvent) -> bool,
        ) -> Vec<LinkEvent> {
            let give_up = Instant::now() + PATIENCE;
            let mut seen = Vec::new();
            loop {
                while let Some(event) = self.unread.pop_front() {
                    let finished = done(&event);
                    seen.push(event);
                    if finished {
                        return seen;
                    }
                }
                if Instant::now() >= give_up {
                    panic!("no {what} within {PATIENCE:?}; events: {seen:?}");
                }
                let (_, events) = self.turn();
                self.unread.extend(events);
            }
        }

        fn up(&mut self) {
            let events = self.until("Up", |e| *e == LinkEvent::Up);
            assert_eq!(events, [LinkEvent::Up]);
        }

        fn down(&mut self) -> String {
            match self
                .until("Down", |e| matches!(e, LinkEvent::Down { .. }))
                .pop()
            {
                Some(LinkEvent::Down { error, .. }) => error,
                _ => unreachable!(),
            }
        }

        /// Sends one command and waits for its reply.
        fn call(&mut self, line: &str, tag: u64) -> BytesFrame {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            self.link.send(&args, tag).unwrap();
            match self
                .until(
                    "reply",
                    |e| matches!(e, LinkEvent::Reply { tag: t, .. } if *t == tag),
                )
                .pop()
            {
                Some(LinkEvent::Reply { reply, .. }) => reply,
                _ => unreachable!(),
            }
        }
    }

    fn blob(frame: &BytesFrame) -> &[u8] {
        match frame {
            BytesFrame::BlobString { data, .. } | BytesFrame::SimpleString { data, .. } => data,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn comes_up_and_answers_by_tag_even_a_burst_of_ten_thousand() {
        let redis = TestRedis::start(&[]);
        let mut driver = Driver::new(&redis.url("", 0), LinkLimits::default());
        assert!(!driver.link.is_up());
        assert_eq!(driver.link.send(&[b"PING"], 0), Err(SendError::Down));
        driver.up();
        assert!(driver.link.is_up());
        assert!(
            driver.link.stream.as_ref().unwrap().nodelay().unwrap(),
            "TCP_NODELAY is off"
        );
        assert_eq!(blob(&driver.call("SET greeting hello", 1)), b"OK");
        assert_eq!(blob(&driver.call("GET greeting", 2)), b"hello");

        for tag in 1000..11_000 {
            driver.link.send(&[b"INCR", b"counter"], tag).unwrap();
        }
        let mut next = 1000;
        driver.until("the burst's last reply", |event| match event {
            LinkEvent::Reply { tag, reply } => {
                assert_eq!(*tag, next, "replies out of order");
                assert_eq!(
                    *reply,
                    BytesFrame::Number {
                        data: *tag as i64 - 999,
                        attributes: None
                    }
                );
                next += 1;
                *tag == 10_999
            }
            other => panic!("unexpected {other:?}"),
        });
        let stats = driver.link.stats();
        assert_eq!(stats.queued_bytes, 0);
        assert!(
            stats.bytes_out > 10_000 * 20 && stats.bytes_in > 10_000 * 3,
            "{stats:?}"
        );
        assert_eq!(
            (stats.refused_down, stats.refused_full, stats.reconnects),
            (1, 0, 0)
        );
    }

    #[test]
    fn a_shard_channel_message_comes_back_whole_even_a_mebibyte() {
        let redis = TestRedis::start(&[]);
        let mut driver = Driver::new(&redis.url("", 0), LinkLimits::default());
        driver.up();
        driver
            .link
            .send(&[b"SSUBSCRIBE", b"room:lobby"], 1)
            .unwrap();
        driver
            .link
            .send(&[b"SPUBLISH", b"room:lobby", b"hello"], 2)
            .unwrap();
        let events = driver.until("the SPUBLISH reply", |e| {
            matches!(e, LinkEvent::Reply { tag: 2, .. })
        });
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(
            matches!(&events[0], LinkEvent::Push(BytesFrame::Push { data, .. })
            if blob(&data[0]) == b"ssubscribe" && blob(&data[1]) == b"room:lobby")
        );
        assert!(matches!(&events[1], LinkEvent::Reply { tag: 1, .. }));
        assert_eq!(
            events[2],
            LinkEvent::Message {
                channel: Bytes::from_static(b"room:lobby"),
                payload: Bytes::from_static(b"hello")
            }
        );
        assert!(matches!(
            events[3],
            LinkEvent::Reply {
                reply: BytesFrame::Number { data: 1, .. },
                ..
            }
        ));

        let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        driver
            .link
            .send(&[b"SPUBLISH", b"room:lobby", &big], 3)
            .unwrap();
        let events = driver.until("the big message", |e| {
            matches!(e, LinkEvent::Message { .. })
        });
        assert!(
            matches!(events.last(), Some(LinkEvent::Message { payload, .. }) if payload[..] == big[..])
        );
        driver.until("the SPUBLISH reply", |e| {
            matches!(e, LinkEvent::Reply { tag: 3, .. })
        });
    }

    #[test]
    fn a_read_budget_that_runs_out_brings_the_reactor_back() {
        let redis = TestRedis::start(&[]);
        let mut driver = Driver::new(&redis.url("", 0), LinkLimits::default());
        // Far less than what comes: a link that relied on a new readiness event would stall.
        driver.link.read_budget = 16 * 1024;
        driver.up();
        driver.link.send(&[b"SSUBSCRIBE", b"flood"], 1).unwrap();
        let big = vec![b'x'; 1024 * 1024];
        for tag in 2..6 {
            driver
                .link
                .send(&[b"SPUBLISH", b"flood", &big], tag)
                .unwrap();
        }
        let mut messages = 0;
        driver.until("the last SPUBLISH reply", |e| {
            if let LinkEvent::Message { payload, .. } = e {
                assert_eq!(payload.len(), big.len());
                messages += 1;
            }
            matches!(e, LinkEvent::Reply { tag: 5, .. })
        });
        assert_eq!(messages, 4);
        assert!(driver.read_again_turns > 0, "the budget never ran out");
    }

    #[test]
    fn logs_in_with_a_password_or_an_acl_user() {
        let redis = TestRedis::start(&[
            "--requirepass",
            "secret",
            "--user",
            "alice",
            "on",
            ">p@ss",
            "~*",
            "&*",
            "+@all",
        ]);
        let error = Driver::new(&redis.url("", 0), LinkLimits::default()).down();
        assert!(error.contains("NOAUTH"), "{error}");
        let error = Driver::new(&redis.url(":wrong@", 0), LinkLimits::default()).down();
        assert!(error.contains("WRONGPASS"), "{error}");
        for (userinfo, whoami) in [
            (":secret@", "default"),
            ("default:secret@", "default"),
            ("alice:p%40ss@", "alice"),
        ] {
            let mut driver = Driver::new(&redis.url(userinfo, 0), LinkLimits::default());
            driver.up();
            assert_eq!(blob(&driver.call("ACL WHOAMI", 1)), whoami.as_bytes());
        }
    }

    #[test]
    fn selects_the_urls_database() {
        let redis = TestRedis::start(&[]);
        let mut db3 = Driver::new(&redis.url("", 3), LinkLimits::default());
        let mut db0 = Driver::new(&redis.url("", 0), LinkLimits::default());
        db3.up();
        db0.up();
        assert_eq!(blob(&db3.call("SET where three", 1)), b"OK");
        assert_eq!(db0.call("GET where", 1), BytesFrame::Null);
        assert_eq!(blob(&db3.call("GET where", 2)), b"three");
        let error = Driver::new(&redis.url("", 99), LinkLimits::default()).down();
        assert_eq!(
            error,
            "Redis refused SELECT 99: ERR DB index is out of range"
        );
    }

    #[test]
    fn a_lost_server_is_reported_once_retried_with_back_off_and_found_again() {
        let mut redis = TestRedis::start(&[]);
        let limits = LinkLimits {
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_millis(160),
            ..LinkLimits::default()
        };
        let mut driver = Driver::new(&redis.url("", 0), limits);
        driver.up();
        // A command Redis holds unanswered, and one still queued when the server dies.
        driver.link.send(&[b"BLPOP", b"never", b"0"], 1).unwrap();
        driver
            .link
            .flush(driver.poll.registry(), Instant::now(), &mut Vec::new());
        redis.kill();
        driver.link.send(&[b"PING"], 2).unwrap();

        // Each Down with the attempt count at that moment: the loss, then one per failed attempt.
        let attempts_before = driver.link.stats().reconnects;
        let mut downs = Vec::new();
        let give_up = Instant::now() + PATIENCE;
        while downs.len() < 6 && Instant::now() < give_up {
            let (now, events) = driver.turn();
            for event in events {
                match event {
                    LinkEvent::Down { error, retry_at } => {
                        let stats = driver.link.stats();
                        assert_eq!(stats.queued_bytes, 0, "the output is dropped with the link");
                        downs.push((stats.reconnects - attempts_before, retry_at - now, error));
                    }
                    other => panic!("unexpected {other:?} while the server is dead"),
                }
            }
        }
        assert_eq!(downs.len(), 6, "{downs:?}");
        // A FIN, or a reset when the kernel closed the dead server's socket with bytes unread.
        let lost = &downs[0].2;
        assert!(
            lost == "Redis closed the connection" || lost.starts_with("reading from Redis failed"),
            "{lost}"
        );
        let bounds = [20, 40, 80, 160, 160, 160].map(Duration::from_millis);
        for (i, (attempts, delay, error)) in downs.iter().enumerate() {
            assert_eq!(*attempts, i as u64, "one Down per connection: {downs:?}");
            assert!(
                *delay >= bounds[i] / 2 && *delay <= bounds[i],
                "delay {i} is {delay:?}, outside [{:?}, {:?}]",
                bounds[i] / 2,
                bounds[i]
            );
            if i > 0 {
                assert!(error.contains("Connection refused"), "{error}");
            }
        }
        assert!(
            downs.windows(2).take(3).all(|w| w[0].1 <= w[1].1),
            "{downs:?}"
        );
        assert_eq!(driver.link.send(&[b"PING"], 3), Err(SendError::Down));

        redis.restart();
        let events = driver.until("Up again", |e| *e == LinkEvent::Up);
        assert!(
            events
                .iter()
                .all(|e| matches!(e, LinkEvent::Down { .. } | LinkEvent::Up)),
            "{events:?}"
        );
        // Tags 1 and 2 were lost with their connection: never answered late, or by another reply.
        driver.link.send(&[b"PING"], 4).unwrap();
        let events = driver.until("the PING reply", |e| matches!(e, LinkEvent::Reply { .. }));
        assert!(
            matches!(&events[..], [LinkEvent::Reply { tag: 4, reply }] if blob(reply) == b"PONG"),
            "{events:?}"
        );

        // Having come up, the link starts its back-off from the beginning again.
        redis.kill();
        let events = driver.until("Down again", |e| matches!(e, LinkEvent::Down { .. }));
        let Some(LinkEvent::Down { retry_at, .. }) = events.last() else {
            unreachable!()
        };
        let delay = retry_at.saturating_duration_since(Instant::now());
        assert!(delay <= bounds[0], "{delay:?}");
    }

    #[test]
    fn refuses_when_full_and_accepts_again_once_drained() {
        let redis = TestRedis::start(&[]);
        let limits = LinkLimits {
            max_queued_bytes: 64,
            ..LinkLimits::default()
        };
        let mut driver = Driver::new(&redis.url("", 0), limits);
        driver.up();
        // Nothing is written before `flush`, so the buffer fills after a few commands.
        let accepted = (0..100)
            .take_while(|&tag| driver.link.send(&[b"SET", b"k", b"value"], tag).is_ok())
            .count() as u64;
        assert!((2..100).contains(&accepted), "{accepted}");
        assert_eq!(
            driver.link.send(&[b"SET", b"k", b"value"], 99),
            Err(SendError::Full)
        );
        let stats = driver.link.stats();
        assert_eq!(stats.refused_full, 2);
        assert!(stats.queued_bytes >= 64, "{stats:?}");
        driver.until(
            "the last reply",
            |e| matches!(e, LinkEvent::Reply { tag, .. } if *tag == accepted - 1),
        );
        assert_eq!(driver.link.stats().queued_bytes, 0);
        assert_eq!(blob(&driver.call("GET k", 100)), b"value");
    }

    #[test]
    fn nothing_listening_is_a_clear_down() {
        let port = free_port();
        let mut driver = Driver::new(&format!("redis://127.0.0.1:{port}"), LinkLimits::default());
        let error = driver.down();
        assert!(
            error.starts_with(&format!("connecting to 127.0.0.1:{port} failed: "))
                && error.contains("refused"),
            "{error}"
        );
        assert!(!driver.link.is_up());
        assert!(matches!(driver.link.phase, Phase::Waiting { .. }));
        assert!(driver.link.deadline().is_some(), "no retry planned");
    }

    #[test]
    fn a_server_that_never_answers_the_handshake_times_out() {
        // The kernel completes the connection into the backlog; nothing reads or answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let limits = LinkLimits {
            connect_timeout: Duration::from_millis(200),
            ..LinkLimits::default()
        };
        let mut driver = Driver::new(&format!("redis://127.0.0.1:{port}"), limits);
        assert_eq!(
            driver.down(),
            format!("Redis at 127.0.0.1:{port} did not finish the handshake within 200ms")
        );
    }

    #[test]
    fn a_connect_that_never_completes_times_out() {
        // A listener with a full backlog: the kernel drops further SYNs, so a connect hangs.
        let listener =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        listener
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        while fillers.len() < 8 {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => break,
            }
        }
        assert!(fillers.len() < 8, "the backlog never filled");
        let limits = LinkLimits {
            connect_timeout: Duration::from_millis(200),
            ..LinkLimits::default()
        };
        let mut driver = Driver::new(&format!("redis://{addr}"), limits);
        assert_eq!(
            driver.down(),
            format!("connecting to {addr} timed out after 200ms")
        );
    }
}
