//! The simulated kernel: sockets as byte pipes, edge-triggered readiness, the listener's
//! backlog and the clock, with faults drawn from the run's [`Entropy`].
//!
//! # Sockets
//! Each accepted connection is two pipes. Client to server: bytes the client sent are *in
//! flight* until they *arrive* (in chunks of any size, at a poll or in the middle of the
//! reactor's reads), then wait in the receive buffer; a FIN arrives after the last byte. Server
//! to client: the send buffer has a capacity of its own per socket; writes take what fits (a
//! short write, or `WouldBlock` when full) and the client frees room as it reads. A reset loses
//! what was in flight; reads then fail with `ConnectionReset` (after the bytes already received,
//! or at once) and writes with `BrokenPipe` or `ConnectionReset`.
//!
//! # Readiness
//! As Linux's edge-triggered epoll, which is what `mio` uses there: each readiness kind
//! (readable, writable, read-closed, error) is a state of the socket, and an event is queued
//! only when a registered socket's state goes from not ready to ready, carrying every kind
//! that is ready then; events for one token waiting for the same poll are merged. A reader that
//! stops while bytes remain gets no event for bytes arriving later; one that emptied the buffer
//! (a short read) does. A `WouldBlock` is a readiness the reactor saw lost: it comes back (with
//! an event) when the state is next looked at, as when bytes arrive just after the call.
//! Spurious events (readiness that is not there when the reactor acts) and events still queued
//! for a token after its socket was deregistered are injected too, as `mio` allows both.
//!
//! # Time
//! The clock only moves when the simulation moves it: a poll that finds no event sleeps for its
//! timeout, up to the run's idle step, and a poll that finds events takes up to a millisecond;
//! the driver adds jumps of seconds.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::Token;

use super::entropy::Entropy;
use crate::clock::UnixMillis;
use crate::reactor::net::Readiness;

/// The kernel, shared by the reactor's sockets, poller and clock and by the simulation driver.
pub type SimHandle = Rc<RefCell<Kernel>>;

/// How often each fault happens, per thousand chances.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// A read or write says `WouldBlock` although it could have made progress.
    pub would_block: u32,
    /// A write takes only part of what fits.
    pub short_write: u32,
    /// More bytes arrive in the middle of the reactor's read loop.
    pub arrive_mid_read: u32,
    /// A poll reports a spurious event for a registered socket.
    pub spurious: u32,
    /// Events queued for a socket survive its deregistration (and may reach its successor).
    pub stale: u32,
    /// `accept` fails with `EMFILE`.
    pub emfile: u32,
    /// A reset keeps the received bytes readable before the error (otherwise they are lost).
    pub reset_keeps_data: u32,
    /// A poll with nothing to report returns before its timeout (at any millisecond of it).
    pub early_wakeup: u32,
}

impl Faults {
    /// No faults: the quiet phase at the end of a run.
    pub const NONE: Faults = Faults {
        would_block: 0,
        short_write: 0,
        arrive_mid_read: 0,
        spurious: 0,
        stale: 0,
        emfile: 0,
        reset_keeps_data: 0,
        early_wakeup: 0,
    };
}

/// A readiness event as the simulated poll returns it.
#[derive(Debug, Clone, Copy)]
pub struct SimEvent {
    token: Token,
    readable: bool,
    writable: bool,
    read_closed: bool,
    error: bool,
}

impl Readiness for SimEvent {
    fn token(&self) -> Token {
        self.token
    }
    fn is_readable(&self) -> bool {
        self.readable
    }
    fn is_writable(&self) -> bool {
        self.writable
    }
    fn is_read_closed(&self) -> bool {
        self.read_closed
    }
    fn is_error(&self) -> bool {
        self.error
    }
    fn is_priority(&self) -> bool {
        false
    }
}

/// The readiness kinds of one socket, as last looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ready {
    readable: bool,
    writable: bool,
    read_closed: bool,
    error: bool,
}

/// One connection, both ends.
#[derive(Debug, Default)]
pub struct Socket {
    pub peer: Option<SocketAddr>,
    token: Option<Token>,
    in_flight: VecDeque<u8>,
    rx: VecDeque<u8>,
    fin_sent: bool,
    fin_arrived: bool,
    reset: bool,
    tx: VecDeque<u8>,
    tx_cap: usize,
    /// The reactor shut down its writing side.
    pub server_shut: bool,
    /// The reactor closed (dropped) the socket.
    pub server_closed: bool,
    ready: Ready,
    /// Bytes the reactor wrote in all.
    pub written: u64,
}

impl Socket {
    /// Whether the client has nothing more to send and everything it sent was read by the
    /// reactor (or it reset).
    pub fn input_consumed(&self) -> bool {
        self.reset || (self.in_flight.is_empty() && self.rx.is_empty())
    }

    /// Whether the client closed or reset its end.
    pub fn client_gone(&self) -> bool {
        self.reset || self.fin_sent
    }

    fn state(&self) -> Ready {
        if self.server_closed {
            return Ready::default();
        }
        Ready {
            readable: !self.rx.is_empty() || self.fin_arrived || self.reset,
            writable: self.reset || (!self.server_shut && self.tx.len() < self.tx_cap),
            read_closed: self.fin_arrived || self.reset,
            error: self.reset,
        }
    }
}

pub struct Kernel {
    now: Instant,
    wall: UnixMillis,
    pub entropy: Entropy,
    pub faults: Faults,
    /// Longest sleep of a poll without events.
    pub idle_step: Duration,
    pub sockets: Vec<Socket>,
    backlog: VecDeque<usize>,
    listener: Option<Token>,
    listener_ready: bool,
    pending: Vec<SimEvent>,
    /// What the reactor did that it must not: checked by the driver after every turn.
    pub violations: Vec<String>,
}

impl Kernel {
    pub fn new(entropy: Entropy, faults: Faults) -> SimHandle {
        Rc::new(RefCell::new(Kernel {
            now: Instant::now(),
            // 2024-01-01 12:34:56 UTC: any fixed day keeps runs alike.
            wall: 1_704_112_496_000,
            entropy,
            faults,
            idle_step: Duration::from_millis(300),
            sockets: Vec::new(),
            backlog: VecDeque::new(),
            listener: None,
            listener_ready: false,
            pending: Vec::new(),
            violations: Vec::new(),
        }))
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn wall(&self) -> UnixMillis {
        self.wall
    }

    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 254)), 7000)
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.wall += by.as_millis() as u64;
    }

    pub fn register_listener(&mut self, token: Token) {
        self.listener = Some(token);
        self.listener_ready = false;
        self.look_at_listener();
    }

    pub fn deregister_listener(&mut self) {
        self.listener = None;
    }

    // ---- the client's side, used by the driver ----

    /// A client connects from `peer`: the connection waits in the backlog. Returns its socket.
    pub fn connect(&mut self, peer: SocketAddr) -> usize {
        let id = self.sockets.len();
        let tx_cap = *self.entropy.pick(&[64, 512, 4096, 65536]);
        self.sockets.push(Socket {
            peer: Some(peer),
            tx_cap,
            ..Socket::default()
        });
        self.backlog.push_back(id);
        self.look_at_listener();
        id
    }

    /// The client sends bytes (they arrive later). Nothing is sent after a FIN or a reset.
    pub fn send(&mut self, id: usize, bytes: &[u8]) {
        let s = &mut self.sockets[id];
        if !s.fin_sent && !s.reset {
            s.in_flight.extend(bytes);
        }
    }

    /// The client shuts down its sending side: a FIN after what is in flight.
    pub fn fin(&mut self, id: usize) {
        self.sockets[id].fin_sent = true;
    }

    /// The client resets the connection: what is in flight is lost.
    pub fn reset(&mut self, id: usize) {
        let keep = self.entropy.chance(self.faults.reset_keeps_data);
        let s = &mut self.sockets[id];
        if s.server_closed || s.reset {
            return;
        }
        s.reset = true;
        s.in_flight.clear();
        if !keep {
            s.rx.clear();
        }
        s.tx.clear();
        self.look_at(id);
    }

    /// The client reads up to `max` bytes of what the reactor wrote.
    pub fn client_read(&mut self, id: usize, max: usize) -> Vec<u8> {
        let s = &mut self.sockets[id];
        let n = max.min(s.tx.len());
        let bytes: Vec<u8> = s.tx.drain(..n).collect();
        self.look_at(id);
        bytes
    }

    /// Whether the reactor's side has ended and the client has read all it wrote.
    pub fn client_sees_end(&self, id: usize) -> bool {
        let s = &self.sockets[id];
        s.tx.is_empty() && (s.server_shut || s.server_closed)
    }

    /// Whether events wait for the next poll.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.backlog.is_empty()
    }

    pub fn unread(&self, id: usize) -> usize {
        self.sockets[id].tx.len()
    }

    // ---- the reactor's side ----

    fn accept(&mut self) -> io::Result<(usize, SocketAddr)> {
        if self.entropy.chance(self.faults.emfile) {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        match self.backlog.pop_front() {
            Some(id) => Ok((id, self.sockets[id].peer.expect("a connected socket"))),
            None => {
                self.listener_ready = false;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    fn register(&mut self, id: usize, token: Token) {
        self.sockets[id].token = Some(token);
        // Registering reports what is ready already, as epoll does for a new descriptor.
        self.sockets[id].ready = Ready::default();
        self.look_at(id);
    }

    fn deregister(&mut self, id: usize) {
        if let Some(token) = self.sockets[id].token.take() {
            if !self.entropy.chance(self.faults.stale) {
                self.pending.retain(|e| e.token != token);
            }
        }
    }

    fn close(&mut self, id: usize) {
        self.deregister(id);
        let s = &mut self.sockets[id];
        s.server_closed = true;
        s.rx.clear();
        s.in_flight.clear();
    }

    fn read(&mut self, id: usize, buf: &mut [u8]) -> io::Result<usize> {
        let fault = self.entropy.chance(self.faults.would_block);
        let s = &mut self.sockets[id];
        let result = if s.rx.is_empty() && s.reset {
            Err(io::ErrorKind::ConnectionReset.into())
        } else if s.rx.is_empty() && s.fin_arrived {
            Ok(0)
        } else if s.rx.is_empty() || fault {
            s.ready.readable = false;
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            let n = buf.len().min(s.rx.len());
            for (slot, b) in buf.iter_mut().zip(s.rx.drain(..n)) {
                *slot = b;
            }
            if s.rx.is_empty() && !s.fin_arrived && !s.reset {
                s.ready.readable = false;
            }
            Ok(n)
        };
        if self.entropy.chance(self.faults.arrive_mid_read) {
            self.arrive(id);
        }
        result
    }

    fn write(&mut self, id: usize, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let fault = self.entropy.chance(self.faults.would_block);
        let short = self.entropy.chance(self.faults.short_write);
        let s = &mut self.sockets[id];
        if s.server_shut {
            self.violations.push(format!(
                "socket {id}: written after the reactor shut it down"
            ));
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        if s.reset {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = s.tx_cap.saturating_sub(s.tx.len());
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        if room == 0 || fault {
            s.ready.writable = false;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = room.min(total);
        if short {
            n = 1 + self.entropy.below(n);
        }
        let s = &mut self.sockets[id];
        let mut left = n;
        for b in bufs {
            let take = left.min(b.len());
            s.tx.extend(&b[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        s.written += n as u64;
        if s.tx.len() >= s.tx_cap {
            s.ready.writable = false;
        }
        Ok(n)
    }

    fn shutdown(&mut self, id: usize, how: Shutdown) -> io::Result<()> {
        let s = &mut self.sockets[id];
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            s.server_shut = true;
        }
        Ok(())
    }

    /// Moves a chunk of what is in flight into the receive buffer (and the FIN after the last
    /// byte), then looks at the socket's readiness.
    fn arrive(&mut self, id: usize) {
        let len = self.sockets[id].in_flight.len();
        if len > 0 {
            let n = self.entropy.size(len);
            let s = &mut self.sockets[id];
            let chunk: Vec<u8> = s.in_flight.drain(..n).collect();
            s.rx.extend(chunk);
        }
        let s = &mut self.sockets[id];
        if s.in_flight.is_empty() && s.fin_sent && !s.fin_arrived && !s.reset {
            s.fin_arrived = true;
        }
        self.look_at(id);
    }

    /// Queues an event for every readiness kind that became ready since last looked at.
    fn look_at(&mut self, id: usize) {
        let s = &mut self.sockets[id];
        let now = s.state();
        let was = s.ready;
        s.ready = now;
        let Some(token) = s.token else {
            return;
        };
        let rose = (now.readable && !was.readable)
            || (now.writable && !was.writable)
            || (now.read_closed && !was.read_closed)
            || (now.error && !was.error);
        if rose {
            self.queue(SimEvent {
                token,
                readable: now.readable,
                writable: now.writable,
                read_closed: now.read_closed,
                error: now.error,
            });
        }
    }

    fn look_at_listener(&mut self) {
        let Some(token) = self.listener else {
            return;
        };
        let ready = !self.backlog.is_empty();
        if ready && !self.listener_ready {
            self.queue(SimEvent {
                token,
                readable: true,
                writable: false,
                read_closed: false,
                error: false,
            });
        }
        self.listener_ready = ready;
    }

    fn queue(&mut self, event: SimEvent) {
        match self.pending.iter_mut().find(|e| e.token == event.token) {
            Some(e) => {
                e.readable |= event.readable;
                e.writable |= event.writable;
                e.read_closed |= event.read_closed;
                e.error |= event.error;
            }
            None => self.pending.push(event),
        }
    }

    /// One poll: bytes arrive, readiness is looked at, and the events are handed over; with
    /// none, the clock moves by the timeout (at most `idle_step`).
    pub fn poll(&mut self, events: &mut Vec<SimEvent>, timeout: Option<Duration>) {
        events.clear();
        for id in 0..self.sockets.len() {
            if self.sockets[id].server_closed {
                continue;
            }
            if !self.sockets[id].in_flight.is_empty() || self.sockets[id].fin_sent {
                // Three polls in four; a used-up fuzz input (every choice 0) always delivers.
                if self.entropy.below(4) != 3 {
                    self.arrive(id);
                }
            } else {
                self.look_at(id);
            }
        }
        self.look_at_listener();
        if self.entropy.chance(self.faults.spurious) {
            let live: Vec<Token> = self.sockets.iter().filter_map(|s| s.token).collect();
            if !live.is_empty() {
                let token = *self.entropy.pick(&live);
                let (readable, writable) = (self.entropy.below(2) == 0, self.entropy.below(2) == 0);
                self.queue(SimEvent {
                    token,
                    readable,
                    writable,
                    read_closed: false,
                    error: false,
                });
            }
        }
        if self.pending.is_empty() {
            // epoll's timeout is in whole milliseconds, rounded up (mio rounds so too).
            let timeout = timeout.unwrap_or(self.idle_step).min(self.idle_step);
            if !timeout.is_zero() {
                let ms = timeout.as_millis().max(1) as usize;
                // Without the fault a poll sleeps its whole timeout, as epoll does: a run's quiet
                // phase must reach every deadline (a flooder's held lines drain at the rate).
                let slept = if self.entropy.chance(self.faults.early_wakeup) {
                    1 + self.entropy.below(ms)
                } else {
                    ms
                };
                self.advance(Duration::from_millis(slept as u64));
            }
            return;
        }
        // mio gives no order among one poll's events.
        while !self.pending.is_empty() && events.len() < events.capacity().max(1) {
            let at = self.entropy.below(self.pending.len());
            events.push(self.pending.swap_remove(at));
        }
        let took = self.entropy.below(2);
        self.advance(Duration::from_millis(took as u64));
    }
}

/// The reactor's end of one simulated connection; dropping it closes the socket.
#[derive(Debug)]
pub struct SimStream {
    kernel: SimHandle,
    id: usize,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("sockets", &self.sockets.len())
            .finish()
    }
}

impl SimStream {
    pub fn local_addr(&self) -> SocketAddr {
        self.kernel.borrow().local_addr()
    }

    pub fn accept(kernel: &SimHandle) -> io::Result<(SimStream, SocketAddr)> {
        let (id, peer) = kernel.borrow_mut().accept()?;
        let stream = SimStream {
            kernel: Rc::clone(kernel),
            id,
        };
        Ok((stream, peer))
    }

    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.kernel.borrow_mut().read(self.id, buf)
    }

    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.kernel.borrow_mut().write(self.id, bufs)
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.kernel.borrow_mut().shutdown(self.id, how)
    }

    pub fn register(&mut self, token: Token) {
        self.kernel.borrow_mut().register(self.id, token);
    }

    pub fn deregister(&mut self) {
        self.kernel.borrow_mut().deregister(self.id);
    }

    /// The kernel's socket number.
    pub fn id(&self) -> usize {
        self.id
    }
}

impl Drop for SimStream {
    fn drop(&mut self) {
        self.kernel.borrow_mut().close(self.id);
    }
}
