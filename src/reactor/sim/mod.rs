//! A simulation of the operating system for the reactor's own logic: the real [`Reactor`],
//! unchanged, runs on simulated sockets and a simulated clock ([`kernel`]) with many simulated
//! clients of the line protocol, every choice drawn from one [`Entropy`] (a seed, or a fuzz
//! input), and is checked after every step. As FoundationDB and TigerBeetle test theirs: the
//! faults a kernel can produce, in orders real runs rarely show, with a failing run replayed
//! from its seed.
//!
//! # The seam
//! The reactor reaches the operating system only through [`super::net`]: its poller, listener,
//! streams and clock are enums whose second variant, compiled only for tests and the `sim`
//! feature, is this kernel. The server build has only the real variant, so its code is what it
//! was. The storage thread is left out (history off): it is a channel, not a socket.
//!
//! # One step
//! A few client actions, sometimes a clock jump (past login timeouts, flood pauses, soft-queue
//! grace, reconnect grace) or a burst of connects; then one loop turn ([`Reactor`]'s `turn`),
//! then the clients that read take some of what was written, then the checks. After the last
//! step, a quiet phase: no more faults or actions, every client reads, and turns run until
//! nothing is in flight anywhere; then the end-of-run checks.
//!
//! # Faults
//! From the kernel: bytes arriving in chunks of any size at any time (lines and the login split
//! anywhere, bytes arriving in the middle of a read loop), `WouldBlock` on any read or write,
//! short writes, send buffers from 64 bytes to 64 KiB, spurious events, stale events for a
//! deregistered token (reaching the next connection on its slab key), events in any order,
//! `EMFILE` from `accept`. From the clients: a FIN or a reset in the middle of a line, readers
//! that stop reading (and start again), connections abandoned without a close (then taken over
//! with the resume key), reconnects with and without the key, fresh sessions under new names,
//! bursts of lines over the flood limit, `/join`, `/quit`, `/users`, `/help`. From the
//! configuration, drawn per run: queue caps, flood limits, greeting delay, accept batch, limits
//! per address and in total (so some connections are refused).
//!
//! # Checks
//! After every step:
//! 1. Nothing is written to a connection the reactor let go: no write after its shutdown (the
//!    kernel's check), no byte after a client's `-- bye` line, no room output to a connection
//!    before its welcome (a line meant for an earlier connection on the same slab key).
//! 2. Every connection's output queue is within `--max-queue`.
//! 3. Per sender, every client hears chat lines in the order sent and never twice; while nothing
//!    came between them (news of the sender, a room change, a new connection) none is missing;
//!    no client hears its own line, or a line from a user it was told is not in the room.
//!    Lines sent on a connection its client reset or abandoned are excused from "none is
//!    missing": what the server had not handled yet goes with it, and when a login with the
//!    resume key takes the session over first, no notice says so (PROTOCOL.md, "Reconnecting").
//! 4. Every departure is announced once: each notice about a user fits what the client was told
//!    before (`lost the connection` only for a present user, `reconnected` or `left (did not
//!    reconnect ...)` only after it, ...).
//! 5. The chat core's invariants ([`crate::chat::Chat::check_invariants`]), and the reactor's
//!    own books: the connections counted against `--max-clients` and per address.
//!
//! At the end, once quiet: every line a sender sent while a reader heard it continuously has
//! arrived (none is stuck), what each client was told of its room matches the chat core's
//! rooms (a departure nobody was told of shows here), and the reactor holds no connection whose
//! client closed or reset it.

mod client;
pub mod entropy;
pub mod kernel;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use super::net::{Clock, Events, Listener, Poller, Stream};
use super::{Parts, Reactor};
use crate::chat::game::words::WordBank;
use crate::config::{Config, ListenAddr, ListenKind};
use client::{chat_text, excused, Client, Excused, Presence, State};
use entropy::Entropy;
use kernel::{Faults, Kernel, SimHandle};

/// Rooms the clients move between.
const ROOMS: [&str; 3] = ["lobby", "den", "attic"];
/// Turns the quiet phase may take before the run counts as stuck.
const QUIET_TURNS: usize = 3000;
/// Trace lines kept for a failure's report.
const TRACE: usize = 80;

thread_local! {
    /// The game's built-in words, loaded once: loading them is most of a reactor's start.
    static BUILT_IN_WORDS: Arc<WordBank> =
        Arc::new(WordBank::load(None).expect("the built-in words load"));
}

impl Reactor {
    /// A reactor on the simulated kernel, without history (the storage thread is a channel,
    /// not a socket). `words` saves loading the game's words again for every run.
    pub fn simulated(
        cfg: Config,
        kernel: &SimHandle,
        words: Option<Arc<WordBank>>,
    ) -> io::Result<Reactor> {
        let parts = Parts {
            poll: Poller::Sim(kernel.clone()),
            listeners: vec![(
                ListenKind::Chat,
                ListenAddr::Ip(kernel.borrow().local_addr()),
                Listener::Sim(kernel.clone()),
            )],
            signals: None,
            clock: Clock::Sim(kernel.clone()),
            storage: None,
            words,
            from_disk: crate::chat::RecentRooms::default(),
            kept: crate::chat::kept::KeptState::default(),
            // The simulated kernel has no Redis.
            cluster: None,
        };
        Reactor::assemble(cfg, parts)
    }
}

/// A run that broke a check.
#[derive(Debug)]
pub struct Failure {
    pub step: usize,
    pub what: Vec<String>,
    /// The run's last actions and turns.
    pub trace: Vec<String>,
    /// Each client's state and the last lines it received.
    pub clients: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "at step {}:", self.step)?;
        for what in &self.what {
            writeln!(f, "  {what}")?;
        }
        writeln!(f, "last steps:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        writeln!(f, "clients:")?;
        for line in &self.clients {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// What a run did, for the tests to see that runs reach the paths they mean to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub turns: u64,
    pub accepted: u64,
    pub chat_lines_heard: u64,
    pub logins: u64,
    pub queue_drops: u64,
    pub flood_throttles: u64,
    pub resets: u64,
}

/// Runs the simulation of `seed` for `steps` steps.
pub fn run_seed(seed: u64, steps: usize) -> Result<Summary, Failure> {
    Sim::new(Entropy::seeded(seed))?.run(steps)
}

/// Runs the simulation a fuzz input steers, until the input is used up (at most `max_steps`).
pub fn run_input(data: &[u8], max_steps: usize) -> Result<Summary, Failure> {
    Sim::new(Entropy::bytes(data))?.run(max_steps)
}

struct Sim {
    kernel: SimHandle,
    reactor: Reactor,
    events: Events,
    clients: Vec<Client>,
    step: usize,
    trace: VecDeque<String>,
    errors: Vec<String>,
    excused: Excused,
    max_queue: usize,
    summary: Summary,
}

/// The configuration of one run, drawn from its entropy.
fn config(e: &mut Entropy) -> Config {
    let max_queue = *e.pick(&[8192usize, 16384, 65536]);
    let rate = *e.pick(&["0", "5", "20"]);
    let flags = [
        "reactor-chat".to_string(),
        "--no-history".into(),
        "--bind=10.0.0.254:7000".into(),
        format!("--max-clients={}", e.pick(&[5, 100])),
        format!("--max-per-ip={}", e.pick(&[2, 16])),
        "--login-timeout=5".into(),
        "--grace=20".into(),
        "--replay-max=50".into(),
        format!("--max-queue={max_queue}"),
        format!("--soft-queue={}", max_queue / 4),
        "--soft-queue-secs=3".into(),
        format!("--greet-delay-ms={}", e.pick(&[0, 250])),
        "--linger-ms=1000".into(),
        format!("--accept-batch={}", e.pick(&[1, 2, 256])),
        format!("--rate={rate}"),
        format!("--burst={}", e.pick(&[4, 40])),
        "--flood-kick-secs=8".into(),
        format!("--idle-timeout={}", e.pick(&[0, 0, 30])),
        // Every presence line on its own: the checks follow each one (summaries of fast or big
        // rooms are not modelled).
        "--presence-rate=1000000".into(),
        format!("--max-unregistered={}", e.pick(&[2, 1024])),
        format!("--max-unregistered-per-ip={}", e.pick(&[1, 16])),
        format!("--max-held-per-ip={}", e.pick(&[1, 32])),
        format!("--max-held={}", e.pick(&[2, 10_000])),
    ];
    Config::parse_from(flags)
}

fn faults(e: &mut Entropy) -> Faults {
    Faults {
        would_block: *e.pick(&[0, 20, 100]),
        short_write: *e.pick(&[0, 100, 500]),
        arrive_mid_read: *e.pick(&[0, 100]),
        spurious: *e.pick(&[0, 50]),
        stale: *e.pick(&[0, 300]),
        emfile: *e.pick(&[0, 0, 50]),
        reset_keeps_data: 500,
        early_wakeup: *e.pick(&[0, 300, 1000]),
    }
}

impl Sim {
    fn new(mut entropy: Entropy) -> Result<Sim, Failure> {
        let cfg = config(&mut entropy);
        let max_queue = cfg.max_queue;
        let faults = faults(&mut entropy);
        let clients = (0..4 + entropy.below(6))
            .map(|cid| Client::new(cid, 1 + (cid % 3) as u8))
            .collect();
        let kernel = Kernel::new(entropy, faults);
        let words = BUILT_IN_WORDS.with(Arc::clone);
        let reactor = Reactor::simulated(cfg, &kernel, Some(words)).map_err(|e| Failure {
            step: 0,
            what: vec![format!("the reactor did not start: {e}")],
            trace: Vec::new(),
            clients: Vec::new(),
        })?;
        let events = reactor.poll.events(256);
        Ok(Sim {
            kernel,
            reactor,
            events,
            clients,
            step: 0,
            trace: VecDeque::new(),
            errors: Vec::new(),
            excused: Excused::new(),
            max_queue,
            summary: Summary::default(),
        })
    }

    fn run(mut self, steps: usize) -> Result<Summary, Failure> {
        while self.step < steps && !self.kernel.borrow().entropy.exhausted() {
            self.step += 1;
            self.act();
            self.turn(false)?;
        }
        self.quiet()?;
        let stats = &self.reactor.stats;
        self.summary.turns = stats.loop_turns;
        self.summary.accepted = stats.accepted;
        self.summary.queue_drops = stats.queue_hard_drops + stats.queue_soft_drops;
        self.summary.flood_throttles = stats.flood_throttles;
        Ok(self.summary)
    }

    fn e(&self) -> std::cell::RefMut<'_, Entropy> {
        std::cell::RefMut::map(self.kernel.borrow_mut(), |k| &mut k.entropy)
    }

    fn note(&mut self, what: String) {
        if self.trace.len() == TRACE {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("{:>4} {what}", self.step));
    }

    /// The clients' actions of one step, and the clock's.
    fn act(&mut self) {
        let actions = 1 + self.e().below(3);
        for _ in 0..actions {
            let cid = self.e().below(self.clients.len());
            self.client_acts(cid);
        }
        if self.e().chance(25) {
            let secs = *self.e().pick(&[1u64, 2, 4, 6, 9, 21, 31]);
            self.note(format!("clock +{secs}s"));
            self.kernel.borrow_mut().advance(Duration::from_secs(secs));
        }
        if self.e().chance(20) {
            self.note("connect burst".into());
            for cid in 0..self.clients.len() {
                if self.clients[cid].state == State::Off {
                    self.connect(cid);
                }
            }
        }
    }

    fn connect(&mut self, cid: usize) {
        let c = &self.clients[cid];
        let peer = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, c.ip)),
            40000 + cid as u16,
        );
        let sock = self.kernel.borrow_mut().connect(peer);
        self.clients[cid].connected(sock);
        self.note(format!("client {cid} connects (socket {sock})"));
    }

    fn send(&mut self, cid: usize, text: &str) {
        if let Some(sock) = self.clients[cid].sock {
            self.kernel.borrow_mut().send(sock, text.as_bytes());
            self.note(format!("client {cid} sends {text:?}"));
        }
    }

    fn client_acts(&mut self, cid: usize) {
        match self.clients[cid].state {
            State::Off => {
                if self.e().chance(400) {
                    self.connect(cid);
                }
            }
            State::Greeting => {
                if self.e().chance(600) {
                    self.log_in(cid);
                }
            }
            State::LoggingIn | State::Leaving => {}
            State::In => self.logged_in_acts(cid),
        }
    }

    /// Sends a login line: the session's name, with its resume key most of the time, or now
    /// and then a fresh name.
    fn log_in(&mut self, cid: usize) {
        if self.e().chance(100) {
            let n = self.e().below(1000);
            self.clients[cid].nick = format!("c{cid}n{n}");
            self.clients[cid].key = None;
        }
        let c = &self.clients[cid];
        let line = match &c.key {
            Some(key) if self.e().chance(700) => format!("{} {key}\n", c.nick),
            _ => format!("{}\n", c.nick),
        };
        self.clients[cid].state = State::LoggingIn;
        self.send(cid, &line);
    }

    fn logged_in_acts(&mut self, cid: usize) {
        let roll = self.e().below(100);
        match roll {
            0..=49 => {
                let line = self.chat_line(cid);
                self.send(cid, &line);
            }
            50..=54 => {
                let lines: String = (0..6).map(|_| self.chat_line(cid)).collect();
                self.send(cid, &lines);
            }
            55..=60 => {
                let room = *self.e().pick(&ROOMS);
                self.send(cid, &format!("/join {room}\n"));
            }
            61..=62 => self.send(cid, "/users\n"),
            63 => self.send(cid, "/help\n"),
            64..=66 => {
                self.send(cid, "/quit see you\n");
                self.clients[cid].state = State::Leaving;
            }
            67..=69 => {
                // Its end closes in the middle of a line, which is never a chat line.
                self.send(cid, "half a li");
                let sock = self.clients[cid].sock.expect("logged in");
                self.kernel.borrow_mut().fin(sock);
                self.note(format!("client {cid} closes its end"));
                self.clients[cid].state = State::Leaving;
            }
            70..=72 => {
                self.send(cid, "#cut");
                let sock = self.clients[cid].sock.expect("logged in");
                self.kernel.borrow_mut().reset(sock);
                self.note(format!("client {cid} resets"));
                self.summary.resets += 1;
                self.excuse_this_connection(cid);
                self.clients[cid].disconnected();
            }
            73..=77 => {
                let reads = !self.clients[cid].reads;
                self.clients[cid].reads = reads;
                self.note(format!("client {cid} reads: {reads}"));
            }
            78..=79 => {
                // Gone without a word (a pulled cable): the socket stays open and unread.
                self.note(format!("client {cid} abandons its connection"));
                self.excuse_this_connection(cid);
                self.clients[cid].disconnected();
            }
            _ => {}
        }
    }

    /// The client's connection ends without a close (a reset, or abandoned): the lines sent on
    /// it that the server had not handled yet (still in its socket, or held by flood control)
    /// are lost with it. Usually the room hears it lost the connection; not when a login with
    /// the resume key takes the session over before the server noticed (as documented).
    fn excuse_this_connection(&mut self, cid: usize) {
        let c = &self.clients[cid];
        if c.first_seq_here <= c.seq {
            let range = (c.first_seq_here, c.seq);
            self.excused.entry(cid).or_default().push(range);
        }
    }

    fn chat_line(&mut self, cid: usize) -> String {
        let c = &mut self.clients[cid];
        c.seq += 1;
        format!("{}\n", chat_text(cid, c.seq))
    }

    /// One loop turn, the clients' reads, then the checks.
    fn turn(&mut self, quiet: bool) -> Result<(), Failure> {
        let events = match &self.events {
            Events::Sim(events) => events.len(),
            Events::Mio(_) => 0,
        };
        match self.reactor.turn(&mut self.events) {
            Ok(_) => {}
            Err(e) => self.errors.push(format!("the loop turn failed: {e}")),
        }
        if !quiet {
            self.note(format!("turn ({events} events last time)"));
        }
        self.read(quiet);
        self.check()
    }

    /// Clients that read take some of what was written to them (all of it when `all`).
    fn read(&mut self, all: bool) {
        for cid in 0..self.clients.len() {
            let Some(sock) = self.clients[cid].sock else {
                continue;
            };
            let reads_now = all || self.clients[cid].reads && self.e().chance(700);
            if !reads_now {
                continue;
            }
            let max = if all { usize::MAX } else { self.e().size(8192) };
            let bytes = self.kernel.borrow_mut().client_read(sock, max);
            let c = &mut self.clients[cid];
            let before = (c.welcomed, c.heard.values().map(|h| h.seq).sum::<u64>());
            c.receive(&bytes, &self.excused, &mut self.errors);
            if c.welcomed && !before.0 {
                self.summary.logins += 1;
            }
            self.summary.chat_lines_heard +=
                u64::from(before.1 != c.heard.values().map(|h| h.seq).sum::<u64>());
            if self.kernel.borrow().client_sees_end(sock) {
                self.clients[cid].disconnected();
            }
        }
    }

    fn check(&mut self) -> Result<(), Failure> {
        self.errors.append(&mut self.kernel.borrow_mut().violations);
        let r = &self.reactor;
        let mut counted = 0;
        let mut per_ip = std::collections::HashMap::new();
        for (key, conn) in r.conns.iter() {
            let own = conn.out.len() - conn.out.file_len();
            if own > self.max_queue {
                self.errors.push(format!(
                    "connection {key}: {own} bytes queued, over --max-queue {}",
                    self.max_queue
                ));
            }
            if conn.counted {
                counted += 1;
                *per_ip.entry(conn.peer.ip()).or_insert(0usize) += 1;
            }
        }
        if counted != r.served || per_ip != r.per_ip {
            self.errors.push(format!(
                "connection books: {} served and {:?} per address, but {counted} and {per_ip:?} counted",
                r.served, r.per_ip
            ));
        }
        if let Err(broken) = r.chat.check_invariants() {
            self.errors.push(format!("chat core: {broken}"));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.failure())
        }
    }

    fn failure(&mut self) -> Failure {
        let clients = self
            .clients
            .iter()
            .map(|c| {
                format!(
                    "{} {} {:?} socket {:?} room {} reads {} sent {}; last lines: {:?}",
                    c.cid, c.nick, c.state, c.sock, c.room, c.reads, c.seq, c.recent
                )
            })
            .collect();
        Failure {
            step: self.step,
            what: std::mem::take(&mut self.errors),
            trace: self.trace.iter().cloned().collect(),
            clients,
        }
    }

    /// The quiet phase, then the end-of-run checks.
    fn quiet(&mut self) -> Result<(), Failure> {
        self.note("quiet phase".into());
        self.kernel.borrow_mut().faults = Faults::NONE;
        let mut calm = 0;
        for _ in 0..QUIET_TURNS {
            self.turn(true)?;
            calm = if self.is_calm() { calm + 1 } else { 0 };
            if calm == 3 {
                return self.final_checks();
            }
        }
        let busy = self.what_is_busy();
        self.errors.push(format!(
            "still busy after {QUIET_TURNS} quiet turns: {busy}"
        ));
        Err(self.failure())
    }

    /// Nothing in flight anywhere: no event waiting, every client's bytes read by the reactor
    /// and the reactor's read by the client, no work listed, nobody held back by flood control.
    /// Why the run is not calm, for the failure message.
    fn what_is_busy(&self) -> String {
        let k = self.kernel.borrow();
        let r = &self.reactor;
        let unread: Vec<String> = self
            .clients
            .iter()
            .filter_map(|c| {
                let sock = c.sock?;
                let s = &k.sockets[sock];
                (!s.input_consumed() || k.unread(sock) > 0).then(|| {
                    format!(
                        "{} (input consumed {}, unread {})",
                        c.cid,
                        s.input_consumed(),
                        k.unread(sock)
                    )
                })
            })
            .collect();
        let paused: Vec<String> = r
            .conns
            .iter()
            .filter(|(_, c)| c.paused)
            .map(|(key, c)| {
                format!(
                    "{key} ({:?}, logged in {}, held {} bytes, next timer {:?})",
                    c.phase,
                    c.logged_in,
                    c.held_input.len(),
                    r.timers
                        .next_deadline()
                        .map(|d| d.saturating_duration_since(r.clock.now()))
                )
            })
            .collect();
        format!(
            "clients with bytes in flight {unread:?}; writes pending {}, reads pending {}, accepting {}, paused {paused:?}, kernel pending {}",
            !r.pending_writes.is_empty(),
            !r.ready_reads.is_empty(),
            r.accept_more,
            k.has_pending()
        )
    }

    fn is_calm(&self) -> bool {
        let k = self.kernel.borrow();
        let r = &self.reactor;
        let clients_done = self.clients.iter().all(|c| match c.sock {
            Some(sock) => k.sockets[sock].input_consumed() && k.unread(sock) == 0,
            None => true,
        });
        let reactor_done = r.pending_writes.is_empty()
            && r.ready_reads.is_empty()
            && !r.accept_more
            && r.conns.iter().all(|(_, c)| !c.paused);
        clients_done && reactor_done && !k.has_pending()
    }

    fn final_checks(&mut self) -> Result<(), Failure> {
        let k = self.kernel.borrow();
        for (key, conn) in self.reactor.conns.iter() {
            let Stream::Sim(stream) = &conn.stream else {
                continue;
            };
            let s = &k.sockets[stream.id()];
            if s.client_gone() && s.input_consumed() && conn.dead.is_none() {
                self.errors.push(format!(
                    "connection {key} (socket {}): its client closed or reset it, and the reactor still holds it ({:?})",
                    stream.id(),
                    conn.phase
                ));
            }
        }
        drop(k);
        let status = self.reactor.chat.status();
        for r in &self.clients {
            if r.state != State::In || r.sock.is_none() {
                continue;
            }
            let Some(room) = status.rooms.iter().find(|room| room.name == r.room) else {
                self.errors.push(format!(
                    "client {}: its room {} does not exist",
                    r.cid, r.room
                ));
                continue;
            };
            if !room.users.iter().any(|u| u.nick == r.nick && u.connected) {
                self.errors.push(format!(
                    "client {} ({}): not among the members of {} it was told it is in",
                    r.cid, r.nick, r.room
                ));
            }
            for (nick, told) in &r.view {
                let truth = room.users.iter().find(|u| &u.nick == nick);
                let actual = match truth {
                    Some(u) if u.connected => Presence::Present,
                    Some(_) => Presence::Held,
                    None => Presence::Absent,
                };
                if actual != *told {
                    self.errors.push(format!(
                        "client {} ({}): told {nick} is {told:?} in {}, but the user is {actual:?}",
                        r.cid, r.nick, r.room
                    ));
                }
            }
            for ((cid, nick), heard) in &r.heard {
                let s = &self.clients[*cid];
                let same_session = s.state == State::In && &s.nick == nick;
                if heard.continuous
                    && same_session
                    && s.room == r.room
                    && !excused(&self.excused, *cid, heard.seq + 1, s.seq)
                {
                    self.errors.push(format!(
                        "client {} ({}): heard {} ({}) up to line {}, but it sent up to {}",
                        r.cid, r.nick, cid, nick, heard.seq, s.seq
                    ));
                }
            }
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.failure())
        }
    }
}
