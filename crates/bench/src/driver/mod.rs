//! The load loop: one thread, one `mio::Poll`, every bench connection.
//!
//! # Phases
//! 1. **Connect**: open the clients (at `--connect-rate`, at most `--max-pending`, by default
//!    [`MAX_PENDING`], not yet logged in), send each its nickname at once (the server lets a
//!    client speak first), wait for the `-- Resume key:` line that ends the welcome, `/join` its
//!    room when there are several. Over IRC: `NICK` and `USER`, `001`, then `JOIN` and `366`
//!    ([`crate::irc`]).
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
use crate::filemix::{self, Incoming};
use crate::order::{PairTrack, Seen};
use crate::targets::Targets;
use crate::tls::{Link, TlsClient};
use crate::wire::{self, Stamp};
pub(crate) use connect::connect_from;
pub use outcome::{Counts, Outcome, ProcessSample, Sample};
use progress::Progress;

mod connect;
mod outcome;
mod progress;
mod receive;
mod send;

/// Size of the one read buffer every connection reads through.
const READ_BUF: usize = 64 * 1024;
/// Reads from one connection per turn before the others get theirs.
const READS_PER_TURN: usize = 4;
/// Events handled between two calls of the senders within one turn.
const FEED_EVERY: usize = 128;
/// Connections opened but not yet logged in, at most.
pub const MAX_PENDING: usize = 1000;
/// The same with `--tls`: each is a handshake under way until it logs in, and the server
/// refuses a ClientHello past its `--max-tls-handshakes` (256 by default).
pub const MAX_PENDING_TLS: usize = 256;
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
    /// Where each client connects, and the server processes measured.
    targets: Targets,
    sc: Scenario,
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
    /// The idle flood's connections (`--idle-flood`): held open, never read or written.
    idle: Vec<std::net::TcpStream>,
    /// `--tls`: every client connection goes through a session made from it.
    tls: Option<TlsClient>,
}

impl Driver {
    pub fn new(
        targets: Targets,
        sc: Scenario,
        progress: bool,
        tls: Option<TlsClient>,
    ) -> io::Result<Driver> {
        let latency = Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let epoch = Instant::now();
        let tag = run_tag(sc.protocol);
        Ok(Driver {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            targets,
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
            idle: Vec::new(),
            tls,
            sc,
        })
    }

    /// Where the server's `/metrics` is: a reactor-chat server answers HTTP on its chat port.
    /// With several addresses, the first's alone: they may be one server reached several ways,
    /// whose counters added up would count every line twice.
    fn metrics_addr(&self) -> Option<SocketAddr> {
        (self.sc.protocol == Protocol::ReactorChat).then_some(self.targets.first())
    }

    /// Clients that logged in, per address, in `--addr`'s order.
    fn logged_in_per_address(&self) -> Vec<u64> {
        let ready = self.clients.iter().enumerate().filter(|(_, c)| c.was_ready);
        self.targets.per_address(ready.map(|(idx, _)| idx))
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
        self.open_idle_flood();

        // 2. Warm up.
        if self.sc.senders > 0 && !self.sc.warmup.is_zero() {
            self.sending = true;
            self.progress.phase = "warmup";
            self.run_until(Instant::now() + self.sc.warmup, |_| false)?;
        }

        // 3. Measure.
        self.sending = self.sc.senders > 0;
        self.progress.phase = "measure";
        let before = Sample::take(&self.targets.pids, self.metrics_addr());
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
        let after = Sample::take(&self.targets.pids, self.metrics_addr());
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
            logged_in_per_address: self.logged_in_per_address(),
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
        let _ = self.poll.registry().deregister(&mut client.stream.sock);
        let _ = client.stream.sock.shutdown(std::net::Shutdown::Both);
    }
}

/// Time a connect schedule takes at `rate` per second (0: unpaced).
fn schedule_time(count: usize, rate: f64) -> Duration {
    if rate > 0.0 {
        Duration::from_secs_f64(count as f64 / rate)
    } else {
        Duration::ZERO
    }
}

/// A short tag that differs between runs: `b` and four base-36 digits of the clock and pid,
/// then `_`. Over IRC, `b` and two digits: servers cap nicks at 9 bytes unless configured
/// otherwise (RFC 2812), and the tag, fixed in width, plus up to five digits of client index
/// make at most 8.
fn run_tag(protocol: Protocol) -> String {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
        ^ u64::from(std::process::id()) << 20;
    let (digits, end) = match protocol {
        Protocol::Irc => (2, ""),
        Protocol::ReactorChat | Protocol::Redis => (4, "_"),
    };
    let mut tag = String::from("b");
    let mut v = seed;
    for _ in 0..digits {
        tag.push(char::from_digit((v % 36) as u32, 36).unwrap_or('0'));
        v /= 36;
    }
    tag.push_str(end);
    tag
}

#[cfg(test)]
mod tests {
    use super::receive::is_history_frame;
    use super::*;

    #[test]
    fn run_tags_make_valid_short_nicks() {
        let tag = run_tag(Protocol::ReactorChat);
        let nick = format!("{tag}{}", 18_999);
        assert!(nick.len() <= 24);
        assert!(nick.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        // IRC: at most 9 bytes, a letter first, then letters and digits only.
        let tag = run_tag(Protocol::Irc);
        assert_eq!(tag.len(), 3);
        let nick = format!("{tag}{}", crate::cli::MAX_CONNECTIONS);
        assert!(nick.len() <= 9, "{nick}");
        assert!(nick.starts_with('b'));
        assert!(nick.chars().all(|c| c.is_ascii_alphanumeric()), "{nick}");
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
