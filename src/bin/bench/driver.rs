//! The load loop: one thread, one `mio::Poll`, every bench connection.
//!
//! # Phases
//! 1. **Connect**: open the clients (at `--connect-rate`, at most [`MAX_PENDING`] not yet logged
//!    in), send each its nickname at once (the server lets a client speak first), wait for the
//!    `-- Resume key:` line that ends the welcome, `/join` its room when there are several.
//! 2. **Warmup**: senders run; order is tracked but nothing is measured.
//! 3. **Measure**: deliveries are counted and their latency recorded for `--duration`. In a
//!    join storm the joiners connect now and the window ends when the last one is in.
//! 4. **Drain**: senders stop; the loop runs until every receiver present from the start has seen
//!    every message sent to its room, or [`DRAIN_MAX`] passes. Only then is loss counted, so a
//!    message still in flight at the end of the window is not mistaken for a lost one.
//!
//! # Pacing and acknowledgements
//! With `--rate R` each sender writes one message every `1/R` s, start times staggered across
//! senders so they do not all fire in the same turn. With `--rate 0` each sender keeps at most
//! `--inflight` messages unacknowledged. The server never echoes a message to its sender, so each
//! sender has a *designated receiver*, the next client in its room: when that client reads sequence
//! `n`, the sender's acknowledged count becomes `n + 1`. The server renders a message and queues it
//! for every recipient in one step before writing any of it, so "the designated receiver has it"
//! means "the server has taken it and queued it for all": the same meaning as a Redis `PUBLISH`
//! reply, which is what the issue compares against. Slower recipients are then bounded by the
//! server's own output-queue limits, which is part of what is measured. A sender whose window stays
//! full for [`ACK_TIMEOUT`] (its designated receiver is gone or lost a message) is released and the
//! stall is counted.
//!
//! # Cost per delivery
//! Reads go into one shared 64 KiB buffer; lines are found with `memchr` and parsed in place
//! ([`crate::wire::parse_delivery`]); one clock read per `read` call stamps every line in it; order
//! is one compare per line ([`crate::order`]); latency is one HDR histogram record. Nothing is
//! allocated per line.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::cli::{Protocol, Scenario};
use crate::client::{split_stream, Client, Piece, State};
use crate::filemix::{self, FileCounts, Incoming};
use crate::order::{PairTrack, Seen};
use crate::wire::{self, Stamp};

/// Size of the one read buffer every connection reads through.
const READ_BUF: usize = 64 * 1024;
/// Reads from one connection per turn before the others get theirs.
const READS_PER_TURN: usize = 4;
/// Events handled between two calls of the senders within one turn.
const FEED_EVERY: usize = 128;
/// Connections opened but not yet logged in, at most.
pub const MAX_PENDING: usize = 1000;
/// Connections opened per loop turn, at most.
const OPEN_BATCH: usize = 256;
/// Longest the poll sleeps: the loop also has progress lines and deadlines to keep.
const MAX_WAIT: Duration = Duration::from_millis(20);
/// Login time allowed on top of the connect-rate schedule: a server that does O(n) work per
/// login (presence notices to the whole room) needs tens of seconds for 10,000.
const LOGIN_SLACK: Duration = Duration::from_secs(90);
/// Longest the end-of-run drain waits for messages still in flight.
pub const DRAIN_MAX: Duration = Duration::from_secs(30);
/// The drain also ends once nothing has been delivered for this long: the server has nothing
/// left to send, so whatever is missing is lost.
const DRAIN_QUIET: Duration = Duration::from_secs(2);
/// An unpaced sender with a full window and no acknowledgement for this long is released.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// A paced sender more than this far behind its schedule skips ahead instead of bursting.
const PACING_SLACK: Duration = Duration::from_secs(1);
/// Messages a paced sender writes in one turn, at most.
const PACED_BURST: u32 = 64;
/// Unwritten output a paced sender may pile up before it skips sends.
const MAX_PENDING_OUTPUT: usize = 1 << 20;

/// What an event says about reading a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readable {
    No,
    /// Data arrived: a short read means the socket is drained (edge-triggered readiness reports
    /// later data again).
    Yes,
    /// Read until `WouldBlock` or the end: the server may have closed its side (its FIN came
    /// with the data, so no later event would tell), or the read budget was used up last turn.
    ToTheEnd,
}

/// Counters of one run. Everything is over the whole run except `window_*`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    pub opened: u64,
    pub ready: u64,
    pub joiners_ready: u64,
    /// Connections that never logged in (refused, timed out, connect error).
    pub failed: u64,
    /// Connections closed by the server after they logged in.
    pub closed_after_ready: u64,
    pub sent: u64,
    /// Distinct deliveries of bench messages, all receivers.
    pub delivered: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Deliveries inside the measured window.
    pub window_delivered: u64,
    /// Lines that were not bench messages (presence notices, welcomes of others, ...).
    pub other_lines: u64,
    pub ack_timeouts: u64,
    pub pacing_slips: u64,
    /// `--files`: uploads, accepts and deliveries.
    pub files: FileCounts,
    /// The first reason a connection failed or was closed, for the report.
    pub first_error: Option<String>,
    #[serde(skip)]
    initial_unique: u64,
    #[serde(skip)]
    last_ready_at: Option<Instant>,
    /// When (nanoseconds since the epoch) the last bench message arrived.
    #[serde(skip)]
    last_delivery_ns: u64,
}

/// What `run` measured.
pub struct Outcome {
    pub counts: Counts,
    pub lost: u64,
    /// Latency of deliveries to clients present from the start, in the window, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Time from the first connect to the last initial client logged in.
    pub connect_time: Duration,
    /// The measured window (joinstorm: first joiner connect to last joiner in).
    pub window: Duration,
    /// CPU samples at the window's edges.
    pub before: Sample,
    pub after: Sample,
    /// Join storm: whether every joiner got in before the window's deadline.
    pub storm_complete: bool,
}

/// CPU use at one moment, for rates over the window.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    pub own_cpu: Duration,
    pub server_cpu: Option<Duration>,
    pub server_memory: Option<crate::procstat::Memory>,
    /// The machine's CPU ticks (for its steal share), when `/proc/stat` is readable.
    pub host: Option<crate::procstat::HostTicks>,
}

impl Sample {
    pub fn take(server_pid: Option<u32>) -> Sample {
        Sample {
            at: Instant::now(),
            own_cpu: crate::procstat::own_cpu_time(),
            server_cpu: server_pid.and_then(|pid| crate::procstat::cpu_time(pid).ok()),
            server_memory: server_pid.and_then(|pid| crate::procstat::memory(pid).ok()),
            host: crate::procstat::host_ticks().ok(),
        }
    }
}

/// One sender's stream.
#[derive(Debug)]
struct Sender {
    /// Messages sent so far (the next sequence number).
    seq: u32,
    /// Messages its designated receiver has seen (unpaced mode).
    acked: u32,
    receiver: Option<usize>,
    next_due: Instant,
    full_since: Option<Instant>,
    /// Messages since its last file upload (`--files`).
    since_file: u64,
}

/// Clients still to open.
#[derive(Debug)]
struct Opening {
    first: usize,
    next: usize,
    end: usize,
    joiner: bool,
    started: Instant,
}

pub struct Driver {
    poll: Poll,
    events: Events,
    addr: SocketAddr,
    sc: Scenario,
    server_pid: Option<u32>,
    epoch: Instant,
    /// Nicknames are this tag plus the client index: unique per run, so a server still holding
    /// an earlier run's sessions never resumes one of them.
    tag: String,
    clients: Vec<Client>,
    senders: Vec<Sender>,
    buf: Vec<u8>,
    ready_reads: Vec<usize>,
    counts: Counts,
    latency: Histogram<u64>,
    recording: bool,
    sending: bool,
    opening: Option<Opening>,
    progress: Progress,
}

impl Driver {
    pub fn new(
        addr: SocketAddr,
        sc: Scenario,
        server_pid: Option<u32>,
        progress: bool,
    ) -> io::Result<Driver> {
        let latency = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let epoch = Instant::now();
        let tag = run_tag();
        Ok(Driver {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            addr,
            server_pid,
            epoch,
            tag,
            clients: Vec::with_capacity(sc.clients + sc.joiners),
            senders: Vec::new(),
            buf: vec![0; READ_BUF + crate::client::MAX_CARRY],
            ready_reads: Vec::new(),
            counts: Counts::default(),
            latency,
            recording: false,
            sending: false,
            opening: None,
            progress: Progress::new(progress),
            sc,
        })
    }

    /// Runs every phase and returns what was measured. Every phase is bounded in time.
    pub fn run(mut self) -> io::Result<Outcome> {
        // 1. Connect.
        let t0 = Instant::now();
        self.progress.phase = "connect";
        self.start_opening(0, self.sc.clients, false);
        let deadline = t0 + schedule_time(self.sc.clients, self.sc.connect_rate) + LOGIN_SLACK;
        self.run_until(deadline, Driver::settled)?;
        self.abandon_unsettled();
        let connect_time = self
            .counts
            .last_ready_at
            .map_or(Duration::ZERO, |t| t.duration_since(t0));
        if self.counts.ready == 0 {
            return Err(io::Error::other(format!(
                "no client logged in ({})",
                self.counts
                    .first_error
                    .as_deref()
                    .unwrap_or("no reason given")
            )));
        }
        self.setup_senders();

        // 2. Warm up.
        if self.sc.senders > 0 && !self.sc.warmup.is_zero() {
            self.sending = true;
            self.progress.phase = "warmup";
            self.run_until(Instant::now() + self.sc.warmup, |_| false)?;
        }

        // 3. Measure.
        self.sending = self.sc.senders > 0;
        self.progress.phase = "measure";
        let before = Sample::take(self.server_pid);
        self.recording = true;
        let mut storm_complete = true;
        if self.sc.joiners > 0 {
            let first = self.clients.len();
            self.start_opening(first, first + self.sc.joiners, true);
            let deadline = before.at + self.sc.duration;
            self.run_until(deadline, Driver::settled)?;
            storm_complete = self.settled();
        } else {
            self.run_until(before.at + self.sc.duration, |_| false)?;
        }
        self.recording = false;
        let after = Sample::take(self.server_pid);
        let window = if self.sc.joiners > 0 {
            self.counts
                .last_ready_at
                .filter(|&t| t > before.at)
                .map_or(after.at - before.at, |t| t - before.at)
        } else {
            after.at - before.at
        };

        // 4. Drain.
        self.sending = false;
        if self.sc.senders > 0 {
            self.progress.phase = "drain";
            self.run_until(Instant::now() + DRAIN_MAX, Driver::drained)?;
        }
        self.progress.finish();
        Ok(Outcome {
            lost: self.lost(),
            counts: self.counts.clone(),
            latency: self.latency.clone(),
            connect_time,
            window,
            before,
            after,
            storm_complete,
        })
    }

    fn run_until(&mut self, deadline: Instant, done: fn(&Driver) -> bool) -> io::Result<()> {
        loop {
            let now = Instant::now();
            if now >= deadline || done(self) {
                return Ok(());
            }
            self.turn((deadline - now).min(MAX_WAIT))?;
        }
    }

    /// One loop turn: poll, dispatch, leftover reads, open more, feed senders, progress.
    fn turn(&mut self, max_wait: Duration) -> io::Result<()> {
        let timeout = if self.ready_reads.is_empty() {
            self.next_paced_due().map_or(max_wait, |due| {
                due.saturating_duration_since(Instant::now()).min(max_wait)
            })
        } else {
            Duration::ZERO
        };
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        for (n, event) in events.iter().enumerate() {
            let idx = event.token().0;
            let readable = if event.is_read_closed() || event.is_error() {
                Readable::ToTheEnd
            } else if event.is_readable() {
                Readable::Yes
            } else {
                Readable::No
            };
            self.dispatch(idx, readable, event.is_writable());
            // A turn with thousands of events takes milliseconds; senders must not wait for its
            // end, or their sends bunch up and the bench itself makes the latency it measures.
            if self.sending && n % FEED_EVERY == FEED_EVERY - 1 {
                self.feed_senders();
            }
        }
        self.events = events;
        for idx in std::mem::take(&mut self.ready_reads) {
            self.clients[idx].read_listed = false;
            self.on_readable(idx, Readable::ToTheEnd);
        }
        self.open_more();
        if self.sending {
            self.feed_senders();
        }
        let now = Instant::now();
        if self.progress.due(now) {
            self.progress
                .print(now, &self.counts, self.opening.is_some());
        }
        Ok(())
    }

    // ----- connecting ------------------------------------------------------------------------

    fn start_opening(&mut self, first: usize, end: usize, joiner: bool) {
        self.opening = Some(Opening {
            first,
            next: first,
            end,
            joiner,
            started: Instant::now(),
        });
    }

    /// Opened connections neither logged in nor failed.
    fn pending(&self) -> u64 {
        self.counts.opened - self.counts.ready - self.counts.failed
    }

    /// Everything asked for is opened and has logged in or failed.
    fn settled(&self) -> bool {
        self.opening.is_none() && self.pending() == 0
    }

    fn open_more(&mut self) {
        let Some(op) = &self.opening else {
            return;
        };
        let allowed = if self.sc.connect_rate > 0.0 {
            let elapsed = op.started.elapsed().as_secs_f64();
            op.first + (elapsed * self.sc.connect_rate) as usize + 1
        } else {
            usize::MAX
        };
        let (mut next, end, joiner) = (op.next, op.end, op.joiner);
        let mut opened = 0;
        while next < end
            && next < allowed
            && opened < OPEN_BATCH
            && self.pending() < MAX_PENDING as u64
        {
            if let Err(e) = self.open(next, joiner) {
                // A connect that fails at once (out of descriptors or ports) will fail again:
                // give up on the rest rather than spin.
                self.note_error(format!("connect: {e}"));
                self.counts.failed += (end - next) as u64;
                self.counts.opened += (end - next) as u64;
                next = end;
                break;
            }
            next += 1;
            opened += 1;
        }
        if next >= end {
            self.opening = None;
        } else if let Some(op) = &mut self.opening {
            op.next = next;
        }
    }

    fn open(&mut self, idx: usize, joiner: bool) -> io::Result<()> {
        debug_assert_eq!(idx, self.clients.len());
        let mut stream = TcpStream::connect(self.addr)?;
        // Without it Nagle holds a sender's next write until the previous one is acknowledged,
        // and every latency figure becomes a delayed-ACK timer.
        stream.set_nodelay(true)?;
        self.poll.registry().register(
            &mut stream,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let mut client = Client::new(stream, idx % self.sc.rooms, joiner);
        client.tracks = vec![
            if joiner {
                PairTrack::from_first_seen()
            } else {
                PairTrack::from_start()
            };
            self.sc.senders
        ];
        self.clients.push(client);
        self.counts.opened += 1;
        Ok(())
    }

    /// The connect phase is over: whoever has not logged in by now has failed.
    fn abandon_unsettled(&mut self) {
        self.opening = None;
        for idx in 0..self.clients.len() {
            if !matches!(self.clients[idx].state, State::Ready | State::Closed) {
                self.fail(idx, "login timed out".into());
            }
        }
    }

    fn dispatch(&mut self, idx: usize, readable: Readable, writable: bool) {
        let Some(client) = self.clients.get_mut(idx) else {
            return;
        };
        match client.state {
            State::Closed => {}
            State::Connecting => self.on_connect_event(idx),
            _ => {
                if writable && client.has_output() {
                    if let Err(e) = client.flush() {
                        return self.fail(idx, format!("write: {e}"));
                    }
                }
                if readable != Readable::No {
                    self.on_readable(idx, readable);
                }
            }
        }
    }

    fn on_connect_event(&mut self, idx: usize) {
        let client = &mut self.clients[idx];
        match client.stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return self.fail(idx, format!("connect: {e}")),
        }
        match client.stream.peer_addr() {
            Ok(_) => {}
            // Not connected yet: a spurious wake-up.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return,
            Err(e) => return self.fail(idx, format!("connect: {e}")),
        }
        client.state = State::LoggingIn;
        match self.sc.protocol {
            Protocol::ReactorChat => {
                client.out.extend_from_slice(self.tag.as_bytes());
                client.out.extend_from_slice(idx.to_string().as_bytes());
                client.out.push(b'\n');
            }
            // RESP3, so that a subscribed connection may still PUBLISH.
            Protocol::Redis => {
                let subscribe = format!("HELLO 3\r\nSUBSCRIBE r{}\r\n", client.room);
                client.out.extend_from_slice(subscribe.as_bytes());
            }
        }
        if let Err(e) = client.flush() {
            return self.fail(idx, format!("write: {e}"));
        }
        // The welcome may already be waiting, and edge-triggered readiness will not say so twice.
        self.on_readable(idx, Readable::ToTheEnd);
    }

    // ----- reading ---------------------------------------------------------------------------

    fn on_readable(&mut self, idx: usize, how: Readable) {
        for _ in 0..READS_PER_TURN {
            let client = &mut self.clients[idx];
            if client.state == State::Closed {
                return;
            }
            let read = match client.read_into(&mut self.buf) {
                Ok(read) if read.eof => {
                    return self.closed(idx, "the server closed the connection".into())
                }
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return self.closed(idx, format!("read: {e}")),
            };
            let now_ns = self.epoch.elapsed().as_nanos() as u64;
            let mut ctx = LineCtx {
                idx,
                sc: &self.sc,
                senders: &mut self.senders,
                counts: &mut self.counts,
                latency: &mut self.latency,
                recording: self.recording,
                now_ns,
                failure: None,
            };
            let client = &mut self.clients[idx];
            let mut incoming = client.incoming.take();
            let tail = split_stream(&self.buf[..read.len], &mut incoming, |piece, incoming| {
                ctx.on_piece(client, piece, incoming)
            });
            client.incoming = incoming;
            client.keep_tail(tail);
            if let Some(why) = ctx.failure.take() {
                return self.fail(idx, why);
            }
            if client.has_output() {
                if let Err(e) = client.flush() {
                    return self.fail(idx, format!("write: {e}"));
                }
            }
            if read.drained && how == Readable::Yes {
                return; // half the read calls of a loaded run, spared
            }
        }
        // Budget used with data possibly left: read again next turn.
        let client = &mut self.clients[idx];
        if !client.read_listed {
            client.read_listed = true;
            self.ready_reads.push(idx);
        }
    }

    // ----- sending ---------------------------------------------------------------------------

    /// Senders are the first `--senders` clients; each gets its designated receiver.
    fn setup_senders(&mut self) {
        let start = Instant::now();
        let (clients, rooms) = (self.sc.clients, self.sc.rooms);
        let interval = self.interval();
        self.senders = (0..self.sc.senders)
            .map(|s| {
                let mut receiver = s + rooms;
                if receiver >= clients {
                    receiver = s % rooms;
                }
                Sender {
                    seq: 0,
                    acked: 0,
                    receiver: (receiver != s).then_some(receiver),
                    // Staggered so paced senders do not all fire in the same turn.
                    next_due: start + interval.mul_f64(s as f64 / self.sc.senders as f64),
                    full_since: None,
                    since_file: 0,
                }
            })
            .collect();
    }

    fn interval(&self) -> Duration {
        if self.sc.paced() {
            Duration::from_secs_f64(1.0 / self.sc.rate)
        } else {
            Duration::ZERO
        }
    }

    fn next_paced_due(&self) -> Option<Instant> {
        if !self.sending || !self.sc.paced() {
            return None;
        }
        self.senders.iter().map(|s| s.next_due).min()
    }

    fn feed_senders(&mut self) {
        let now = Instant::now();
        let now_ns = now.duration_since(self.epoch).as_nanos() as u64;
        let interval = self.interval();
        for sid in 0..self.senders.len() {
            let sender = &mut self.senders[sid];
            let client = &mut self.clients[sid];
            if client.state != State::Ready {
                continue;
            }
            let mut n = 0;
            if self.sc.paced() {
                if now.saturating_duration_since(sender.next_due) > PACING_SLACK {
                    sender.next_due = now;
                    self.counts.pacing_slips += 1;
                }
                while sender.next_due <= now && n < PACED_BURST {
                    sender.next_due += interval;
                    n += 1;
                }
                if client.out.len() > MAX_PENDING_OUTPUT {
                    n = 0;
                }
            } else {
                if client.has_output() {
                    continue;
                }
                let in_flight = sender.seq - sender.acked;
                if in_flight >= self.sc.inflight {
                    let since = *sender.full_since.get_or_insert(now);
                    if now.duration_since(since) >= ACK_TIMEOUT {
                        sender.acked = sender.seq;
                        sender.full_since = None;
                        self.counts.ack_timeouts += 1;
                    }
                    continue;
                }
                sender.full_since = None;
                n = self.sc.inflight - in_flight;
            }
            if n == 0 {
                continue;
            }
            for _ in 0..n {
                let stamp = Stamp {
                    sender: sid as u32,
                    seq: sender.seq,
                    sent_ns: now_ns,
                };
                match self.sc.protocol {
                    Protocol::ReactorChat => wire::encode(&mut client.out, stamp, self.sc.size),
                    Protocol::Redis => {
                        wire::encode_publish(&mut client.out, client.room, stamp, self.sc.size)
                    }
                }
                sender.seq += 1;
                sender.since_file += 1;
                if self.sc.files > 0 && sender.since_file >= self.sc.files {
                    sender.since_file = 0;
                    let n = self.counts.files.uploads;
                    filemix::encode_upload(&mut client.out, sid, n, self.sc.file_size);
                    self.counts.files.uploads += 1;
                }
            }
            self.counts.sent += u64::from(n);
            if let Err(e) = client.flush() {
                self.closed(sid, format!("write: {e}"));
            }
        }
    }

    // ----- accounting ------------------------------------------------------------------------

    /// Nothing more is coming: every receiver present from the start has every message sent to
    /// its room (and, with joiners, whose baselines are their own, deliveries have stopped for a
    /// moment), or nothing at all has arrived for [`DRAIN_QUIET`].
    fn drained(&self) -> bool {
        let quiet_for = Duration::from_nanos(
            (self.epoch.elapsed().as_nanos() as u64).saturating_sub(self.counts.last_delivery_ns),
        );
        let settled = self.sc.joiners == 0 || quiet_for >= Duration::from_millis(500);
        (settled && self.caught_up()) || quiet_for >= DRAIN_QUIET
    }

    /// Every receiver present from the start has every message sent to its room.
    fn caught_up(&self) -> bool {
        let mut per_room = vec![0u64; self.sc.rooms];
        for c in &self.clients[..self.sc.clients.min(self.clients.len())] {
            if c.was_ready {
                per_room[c.room] += 1;
            }
        }
        let expected: u64 = self
            .senders
            .iter()
            .enumerate()
            .map(|(sid, s)| u64::from(s.seq) * per_room[sid % self.sc.rooms].saturating_sub(1))
            .sum();
        self.counts.initial_unique >= expected
    }

    /// Messages owed to a receiver (sent in its room while it was there) that it never got.
    fn lost(&self) -> u64 {
        let mut lost = 0;
        for (idx, c) in self.clients.iter().enumerate() {
            if !c.was_ready {
                continue;
            }
            for (sid, s) in self.senders.iter().enumerate() {
                if sid != idx && self.clients[sid].room == c.room {
                    lost += c.tracks[sid].lost(s.seq);
                }
            }
        }
        lost
    }

    fn note_error(&mut self, why: String) {
        if self.counts.first_error.is_none() {
            self.counts.first_error = Some(why);
        }
    }

    /// The connection failed before it logged in (or is being given up on).
    fn fail(&mut self, idx: usize, why: String) {
        if self.clients[idx].was_ready {
            return self.closed(idx, why);
        }
        if self.clients[idx].state == State::Closed {
            return;
        }
        self.counts.failed += 1;
        self.note_error(why);
        self.shut(idx);
    }

    /// The connection ended after it logged in.
    fn closed(&mut self, idx: usize, why: String) {
        let client = &self.clients[idx];
        if client.state == State::Closed {
            return;
        }
        if !client.was_ready {
            return self.fail(idx, why);
        }
        self.counts.closed_after_ready += 1;
        self.note_error(why);
        self.shut(idx);
    }

    fn shut(&mut self, idx: usize) {
        let client = &mut self.clients[idx];
        client.state = State::Closed;
        client.carry = Vec::new();
        client.out = Vec::new();
        client.out_pos = 0;
        let _ = self.poll.registry().deregister(&mut client.stream);
        let _ = client.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// What a line handler may touch: everything but the connection list and the read buffer, which
/// are borrowed elsewhere while lines are handled.
struct LineCtx<'a> {
    idx: usize,
    sc: &'a Scenario,
    senders: &'a mut Vec<Sender>,
    counts: &'a mut Counts,
    latency: &'a mut Histogram<u64>,
    recording: bool,
    now_ns: u64,
    /// Set when the line ends the connection's chances (a refused login).
    failure: Option<String>,
}

impl LineCtx<'_> {
    fn on_piece(&mut self, client: &mut Client, piece: Piece<'_>, incoming: &mut Option<Incoming>) {
        match piece {
            Piece::Line(line) => self.on_line(client, line, incoming),
            Piece::File(file) => {
                let files = &mut self.counts.files;
                files.delivered += 1;
                files.bytes += file.size as u64;
                files.corrupted += u64::from(!file.intact);
            }
        }
    }

    fn on_line(&mut self, client: &mut Client, line: &[u8], incoming: &mut Option<Incoming>) {
        if self.sc.protocol == Protocol::Redis {
            return self.on_redis_line(client, line);
        }
        match client.state {
            State::Ready if client.in_replay => {
                client.in_replay = !line.starts_with(b"-- End of ");
                self.counts.other_lines += 1;
            }
            State::Ready => match wire::parse_delivery(line) {
                Some(stamp) => self.on_delivery(client, stamp),
                None if self.sc.files > 0 && self.on_file_line(client, line, incoming) => {}
                None => {
                    if line.starts_with(b"-- bye ") {
                        self.failure = Some(String::from_utf8_lossy(line).into_owned());
                    }
                    client.in_replay = is_history_frame(line);
                    self.counts.other_lines += 1;
                }
            },
            State::LoggingIn => {
                if line.starts_with(b"-- Resume key:") {
                    if self.sc.rooms > 1 {
                        client
                            .out
                            .extend_from_slice(format!("/join r{}\n", client.room).as_bytes());
                        client.state = State::Joining;
                    } else {
                        self.ready(client);
                    }
                } else {
                    self.check_refusal(line);
                }
            }
            State::Joining => {
                if line.starts_with(b"-- You are now in room") {
                    self.ready(client);
                } else {
                    self.check_refusal(line);
                }
            }
            State::Connecting | State::Closed => {}
        }
    }

    /// `--redis`: every RESP element is a line of its own, so a pub/sub message's payload is a
    /// line that starts with the stamp; the framing lines around it are skipped. The client is
    /// ready once its SUBSCRIBE is confirmed (the `subscribe` push, then the count).
    fn on_redis_line(&mut self, client: &mut Client, line: &[u8]) {
        if line.starts_with(b"-") {
            // A RESP error: maxclients, or a refused command.
            self.failure = Some(String::from_utf8_lossy(line).into_owned());
            return;
        }
        match client.state {
            State::Ready => match wire::parse_stamp(line) {
                // Redis delivers a publisher's message to itself too; reactor-chat does not.
                Some(stamp) if stamp.sender as usize == self.idx => self.counts.other_lines += 1,
                Some(stamp) => self.on_delivery(client, stamp),
                None => {}
            },
            State::LoggingIn if line == b"subscribe" => client.state = State::Joining,
            State::Joining if line.starts_with(b":") => self.ready(client),
            _ => {}
        }
    }

    /// `--files`: accepts every offer, starts reading every delivery, counts refusals. False
    /// for lines that are none of these.
    fn on_file_line(
        &mut self,
        client: &mut Client,
        line: &[u8],
        incoming: &mut Option<Incoming>,
    ) -> bool {
        if let Some(id) = filemix::parse_offer(line) {
            client
                .out
                .extend_from_slice(format!("/accept {id}\n").as_bytes());
            self.counts.files.accepts += 1;
        } else if let Some(size) = filemix::parse_header(line) {
            *incoming = Some(Incoming::new(size));
        } else if line.starts_with(b"! file-busy") || line.starts_with(b"! no-such-file") {
            self.counts.files.refused += 1;
        } else {
            return false;
        }
        self.counts.other_lines += 1;
        true
    }

    fn check_refusal(&mut self, line: &[u8]) {
        if line.starts_with(b"! ") || line.starts_with(b"-- bye ") {
            self.failure = Some(String::from_utf8_lossy(line).into_owned());
        }
    }

    fn ready(&mut self, client: &mut Client) {
        client.state = State::Ready;
        client.was_ready = true;
        self.counts.ready += 1;
        if client.joiner {
            self.counts.joiners_ready += 1;
        }
        self.counts.last_ready_at = Some(Instant::now());
    }

    fn on_delivery(&mut self, client: &mut Client, stamp: Stamp) {
        let sid = stamp.sender as usize;
        let Some(track) = client.tracks.get_mut(sid) else {
            // Not one of this run's senders.
            self.counts.other_lines += 1;
            return;
        };
        match track.observe(stamp.seq) {
            Seen::InOrder | Seen::Ahead(_) => {}
            Seen::Late => self.counts.out_of_order += 1,
            Seen::Duplicate => {
                self.counts.duplicated += 1;
                return;
            }
        }
        self.counts.delivered += 1;
        self.counts.last_delivery_ns = self.now_ns;
        if !client.joiner {
            self.counts.initial_unique += 1;
        }
        if self.recording {
            self.counts.window_delivered += 1;
            if !client.joiner {
                let ns = self.now_ns.saturating_sub(stamp.sent_ns).max(1);
                self.latency.saturating_record(ns);
            }
        }
        let sender = &mut self.senders[sid];
        if sender.receiver == Some(self.idx) && stamp.seq >= sender.acked {
            sender.acked = stamp.seq + 1;
        }
    }
}

/// The header of a history reply (PROTOCOL.md, "History"): the login backlog, `/history`,
/// `/search`. Their lines look like live ones and must not be counted as deliveries.
fn is_history_frame(line: &[u8]) -> bool {
    [
        &b"-- Recent lines in "[..],
        b"-- History of ",
        b"-- Search of ",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

/// Time a connect schedule takes at `rate` per second (0: unpaced).
fn schedule_time(count: usize, rate: f64) -> Duration {
    if rate > 0.0 {
        Duration::from_secs_f64(count as f64 / rate)
    } else {
        Duration::ZERO
    }
}

/// A short tag that differs between runs: `b` and four base-36 digits of the clock and pid.
fn run_tag() -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
        ^ u64::from(std::process::id()) << 20;
    let mut tag = String::from("b");
    let mut v = seed;
    for _ in 0..4 {
        tag.push(char::from_digit((v % 36) as u32, 36).unwrap_or('0'));
        v /= 36;
    }
    tag.push('_');
    tag
}

/// The live progress line on stderr.
struct Progress {
    enabled: bool,
    tty: bool,
    phase: &'static str,
    started: Instant,
    next: Instant,
    last_delivered: u64,
    last_at: Instant,
    printed: bool,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        use std::io::IsTerminal;
        let now = Instant::now();
        Progress {
            enabled,
            tty: io::stderr().is_terminal(),
            phase: "start",
            started: now,
            next: now + Duration::from_secs(1),
            last_delivered: 0,
            last_at: now,
            printed: false,
        }
    }

    fn due(&self, now: Instant) -> bool {
        self.enabled && now >= self.next
    }

    fn print(&mut self, now: Instant, c: &Counts, connecting: bool) {
        self.next = now + Duration::from_secs(1);
        let secs = now.duration_since(self.last_at).as_secs_f64().max(1e-9);
        let rate = (c.delivered - self.last_delivered) as f64 / secs;
        self.last_delivered = c.delivered;
        self.last_at = now;
        let line = format!(
            "[{:>6.1}s {:<7}] conns {}/{}{} sent {} delivered {} ({}/s)",
            now.duration_since(self.started).as_secs_f64(),
            self.phase,
            c.ready,
            c.opened,
            if connecting { "+" } else { "" },
            c.sent,
            c.delivered,
            crate::report::si(rate),
        );
        if self.tty {
            eprint!("\r{line:<100}");
        } else {
            eprintln!("{line}");
        }
        self.printed = true;
    }

    fn finish(&mut self) {
        if self.enabled && self.tty && self.printed {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tags_make_valid_short_nicks() {
        let tag = run_tag();
        let nick = format!("{tag}{}", 18_999);
        assert!(nick.len() <= 24);
        assert!(nick.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    }

    #[test]
    fn history_frames_are_recognised() {
        assert!(is_history_frame(b"-- Recent lines in lobby (10 lines):"));
        assert!(is_history_frame(b"-- History of lobby (20 lines):"));
        assert!(is_history_frame(
            b"-- Search of lobby for \"x\" (3 lines, newest first):"
        ));
        assert!(!is_history_frame(b"-- You are now in room r1."));
        assert!(!is_history_frame(b"[12:34] alice: -- History of lies"));
    }

    #[test]
    fn connect_schedules() {
        assert_eq!(schedule_time(5000, 1000.0), Duration::from_secs(5));
        assert_eq!(schedule_time(5000, 0.0), Duration::ZERO);
    }
}
