//! `--preset handshakes --tls`: full TLS 1.3 handshakes per second, and what each costs.
//!
//! `--inflight N` (64) connections are under way at once, each on the one mio loop: connect
//! from one of the driver's 128 loopback source addresses (in turn, so no address nears the
//! server's per-address cap on connections still logging in), write the ClientHello, read the
//! server's flight, write the Finished, then close_notify and close, and a new connection takes
//! its place. Resumption is off in the client, so every one is a full handshake (an ECDHE key
//! exchange and the server's certificate signature, which the client verifies). The nickname
//! prompt is not waited for: the server greets only after `--greet-delay-ms` (250 ms), which
//! would measure the timer, not the handshake.
//!
//! Handshakes are counted when the client has finished its side, inside the `--duration` window
//! after a `--warmup`; the server's CPU time over the window (from `/proc`) divided by them is its
//! cost per handshake, and so is the bench's own: on two shared cores the client, which verifies
//! a signature per handshake, may well be the limit, so the report says which process was busier.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::cli::Scenario;
use crate::driver::{connect_from, Sample};
use crate::procstat;
use crate::tls::{Link, TlsClient};
use crate::units::si;

/// A handshake not finished after this long is given up (the server's own deadline is 10 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the poll sleeps, so the window's end and the progress line are kept.
const MAX_WAIT: Duration = Duration::from_millis(20);

/// What one run measured.
#[derive(Debug, serde::Serialize)]
pub struct HandshakeReport {
    pub scenario: Scenario,
    pub server_addr: String,
    pub server_flags: Option<Vec<String>>,
    /// Handshakes under way at once.
    pub in_flight: usize,
    pub window_secs: f64,
    /// Handshakes the client finished inside the window.
    pub handshakes: u64,
    pub handshakes_per_sec: f64,
    /// Connections that failed (refused, reset, timed out, a TLS error), the whole run.
    pub failed: u64,
    pub first_error: Option<String>,
    /// Connect to the client's Finished, in microseconds.
    pub latency_us: Latency,
    pub server_cpu_pct: Option<f64>,
    /// Server CPU time (all threads) over the window per handshake, in microseconds.
    pub server_cpu_us_per_handshake: Option<f64>,
    /// Handshakes one core of server CPU would do at that cost: 1 s / the cost above.
    pub server_cpu_handshakes_per_sec: Option<f64>,
    pub bench_cpu_pct: f64,
    pub bench_cpu_us_per_handshake: f64,
    pub host_steal_pct: Option<f64>,
    /// The share of the machine's CPU time nobody used during the window (`/proc/stat`): with
    /// two cores, 0 means the server and the bench (and whatever else ran) took both.
    pub host_idle_pct: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl HandshakeReport {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("{k:<22}  {v}\n"));
        row(
            "scenario",
            format!(
                "handshakes (full TLS 1.3, {} under way, no resumption)",
                self.in_flight
            ),
        );
        row(
            "server",
            match &self.server_flags {
                Some(flags) => format!("reactor-chat {} {}", self.server_addr, flags.join(" ")),
                None => format!("reactor-chat {} (started elsewhere)", self.server_addr),
            },
        );
        row(
            "handshakes/s",
            format!(
                "{} ({} in {:.2} s), {} failed",
                si(self.handshakes_per_sec),
                self.handshakes,
                self.window_secs,
                self.failed
            ),
        );
        let l = &self.latency_us;
        row(
            "handshake time (us)",
            format!(
                "p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
                l.p50, l.p90, l.p99, l.max
            ),
        );
        row(
            "server cpu",
            match (
                self.server_cpu_pct,
                self.server_cpu_us_per_handshake,
                self.server_cpu_handshakes_per_sec,
            ) {
                (Some(pct), Some(us), Some(rate)) => format!(
                    "{pct:.0}% of one core, {us:.0} us per handshake ({}/s per core)",
                    si(rate)
                ),
                _ => "give --server-pid".to_string(),
            },
        );
        row(
            "bench cpu",
            format!(
                "{:.0}% of one core, {:.0} us per handshake",
                self.bench_cpu_pct, self.bench_cpu_us_per_handshake
            ),
        );
        if let Some(steal) = self.host_steal_pct {
            row(
                "host steal",
                format!("{steal:.1}% of the machine's CPU time went to other guests"),
            );
        }
        if let Some(idle) = self.host_idle_pct {
            row(
                "host idle",
                format!("{idle:.1}% of the machine's CPU time was unused during the window"),
            );
        }
        if let Some(e) = &self.first_error {
            row("first error", e.clone());
        }
        out
    }
}

/// One connection under way.
struct Slot {
    link: Link<TcpStream>,
    started: Instant,
    connected: bool,
}

/// What happened to a slot on an event.
enum Step {
    Waiting,
    Done,
    Failed(String),
}

struct Loop<'a> {
    poll: Poll,
    addr: SocketAddr,
    tls: &'a TlsClient,
    slots: Vec<Option<Slot>>,
    /// Slots emptied during a batch of events, refilled after it: an event still in the batch
    /// for the old socket must not reach the new one.
    free: Vec<usize>,
    /// Connections opened so far: picks each one's source address.
    opened: usize,
    /// Handshakes finished inside the window, and over the whole run (the progress line).
    done: u64,
    finished: u64,
    failed: u64,
    first_error: Option<String>,
    latency: Histogram<u64>,
    recording: bool,
    buf: Vec<u8>,
}

pub fn run(
    addr: SocketAddr,
    server_pid: Option<u32>,
    sc: &Scenario,
    tls: &TlsClient,
    progress: bool,
) -> io::Result<HandshakeReport> {
    let in_flight = sc.clients;
    let mut lp = Loop {
        poll: Poll::new()?,
        addr,
        tls,
        slots: (0..in_flight).map(|_| None).collect(),
        free: (0..in_flight).collect(),
        opened: 0,
        done: 0,
        finished: 0,
        failed: 0,
        first_error: None,
        latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .map_err(|e| io::Error::other(e.to_string()))?,
        recording: false,
        buf: vec![0; 16 * 1024],
    };
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let mut next_progress = start + Duration::from_secs(1);
    let mut last = (start, 0u64);
    let warm_end = start + sc.warmup;
    let end = warm_end + sc.duration;
    let mut before = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if before.is_none() && now >= warm_end {
            lp.recording = true;
            before = Some(Sample::take(server_pid.as_slice(), None));
        }
        lp.refill();
        lp.poll.poll(&mut events, Some(MAX_WAIT))?;
        for event in events.iter() {
            lp.on_event(event.token().0);
        }
        lp.expire();
        let now = Instant::now();
        if progress && now >= next_progress {
            let total = lp.finished;
            let rate = (total - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            eprintln!(
                "[{:>6.1}s {}] handshakes {} ({}/s), failed {}",
                now.duration_since(start).as_secs_f64(),
                if lp.recording { "measure" } else { "warmup " },
                total,
                si(rate),
                lp.failed
            );
            last = (now, total);
            next_progress = now + Duration::from_secs(1);
        }
    }
    let after = Sample::take(server_pid.as_slice(), None);
    let before = before.unwrap_or_else(|| after.clone());
    let wall = after.at - before.at;
    let secs = wall.as_secs_f64();
    let n = lp.done;
    let server_cpu = match (before.server_cpu, after.server_cpu) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let own_cpu = after.own_cpu.saturating_sub(before.own_cpu);
    let per = |cpu: Duration| cpu.as_secs_f64() * 1e6 / n.max(1) as f64;
    let h = &lp.latency;
    let q = |quantile: f64| {
        if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(quantile) as f64 / 1000.0
        }
    };
    Ok(HandshakeReport {
        scenario: sc.clone(),
        server_addr: addr.to_string(),
        server_flags: None,
        in_flight,
        window_secs: secs,
        handshakes: n,
        handshakes_per_sec: if secs > 0.0 { n as f64 / secs } else { 0.0 },
        failed: lp.failed,
        first_error: lp.first_error.clone(),
        latency_us: Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: if h.is_empty() {
                0.0
            } else {
                h.max() as f64 / 1000.0
            },
        },
        server_cpu_pct: server_cpu.map(|c| procstat::percent(c, wall)),
        server_cpu_us_per_handshake: server_cpu.map(per),
        server_cpu_handshakes_per_sec: server_cpu
            .filter(|c| !c.is_zero())
            .map(|c| n as f64 / c.as_secs_f64()),
        bench_cpu_pct: procstat::percent(own_cpu, wall),
        bench_cpu_us_per_handshake: per(own_cpu),
        host_steal_pct: match (before.host, after.host) {
            (Some(a), Some(b)) => Some(procstat::steal_percent(a, b)),
            _ => None,
        },
        host_idle_pct: match (before.host, after.host) {
            (Some(a), Some(b)) => Some(procstat::idle_percent(a, b)),
            _ => None,
        },
    })
}

impl Loop<'_> {
    /// Opens a connection in every free slot.
    fn refill(&mut self) {
        while let Some(idx) = self.free.pop() {
            if let Err(e) = self.open(idx) {
                self.fail(format!("connect: {e}"));
                // Out of ports or descriptors: try again next turn rather than spin.
                self.free.push(idx);
                return;
            }
        }
    }

    fn open(&mut self, idx: usize) -> io::Result<()> {
        let mut socket = connect_from(self.addr, self.opened)?;
        self.opened += 1;
        socket.set_nodelay(true)?;
        self.poll.registry().register(
            &mut socket,
            Token(idx),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        self.slots[idx] = Some(Slot {
            link: self.tls.link(socket)?,
            started: Instant::now(),
            connected: false,
        });
        Ok(())
    }

    fn on_event(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        match step(slot, &mut self.buf) {
            Step::Waiting => {}
            Step::Done => {
                let slot = self.close(idx);
                self.finished += 1;
                if self.recording {
                    self.done += 1;
                    let ns = slot.started.elapsed().as_nanos() as u64;
                    self.latency.saturating_record(ns.max(1));
                }
            }
            Step::Failed(why) => {
                self.close(idx);
                self.fail(why);
            }
        }
    }

    /// Handshakes past [`HANDSHAKE_TIMEOUT`] fail.
    fn expire(&mut self) {
        for idx in 0..self.slots.len() {
            if self.slots[idx]
                .as_ref()
                .is_some_and(|s| s.started.elapsed() >= HANDSHAKE_TIMEOUT)
            {
                self.close(idx);
                self.fail("handshake timed out".into());
            }
        }
    }

    /// Ends the slot's connection (close_notify first when its handshake finished) and frees it.
    fn close(&mut self, idx: usize) -> Slot {
        let mut slot = self.slots[idx].take().expect("an open slot");
        if !slot.link.is_handshaking() {
            slot.link.close_notify();
        }
        let _ = self.poll.registry().deregister(&mut slot.link.sock);
        self.free.push(idx);
        slot
    }

    fn fail(&mut self, why: String) {
        self.failed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why);
        }
    }
}

/// Moves one connection on after an event: connected, records written, the server's read.
fn step(slot: &mut Slot, buf: &mut [u8]) -> Step {
    if !slot.connected {
        match slot.link.sock.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return Step::Failed(format!("connect: {e}")),
        }
        match slot.link.sock.peer_addr() {
            Ok(_) => slot.connected = true,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Waiting,
            Err(e) => return Step::Failed(format!("connect: {e}")),
        }
    }
    if let Err(e) = slot.link.push() {
        return Step::Failed(format!("write: {e}"));
    }
    loop {
        match slot.link.read(buf) {
            Ok(0) => return Step::Failed("the server closed during the handshake".into()),
            // Plaintext before the greeting's delay: nothing the handshake needs.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Failed(format!("read: {e}")),
        }
    }
    if slot.link.is_handshaking() {
        Step::Waiting
    } else {
        // The Finished was written by the read that finished the handshake, if the socket
        // took it; a loopback socket this fresh always does.
        Step::Done
    }
}
