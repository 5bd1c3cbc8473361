//! Accepting: the bounded accept batch of each listening socket (`listen` binds them),
//! admission against the connection limits, and refusals (a connection refused still reads why
//! before it is closed).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::{Interest, Token};

use super::admission::Admission;
use super::conn::{Conn, Proto};
use super::net::Stream;
use super::timers::ReactorTimer;
use super::Reactor;
use crate::chat::{Bye, ConnId, Event, Peer};
use crate::config::ListenKind;

/// What a connection is registered for. Priority readiness reports TCP urgent data (telnet sends
/// Ctrl-C's IAC DM as urgent), which stops a `read` at its mark with more data behind it: such
/// events are read to the end, where other readable events may stop at a short read.
#[cfg(any(target_os = "linux", target_os = "android"))]
const CONN_INTEREST: Interest = Interest::READABLE
    .add(Interest::WRITABLE)
    .add(Interest::PRIORITY);
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CONN_INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// How long accepting pauses when the process is out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Refused connections linger to read their reason; beyond this many extra, they are just closed.
pub(super) const REFUSED_SLACK: usize = 256;

impl Reactor {
    /// Accepts up to `--accept-batch` connections from listening socket `index`.
    pub(super) fn accept_batch(&mut self, index: usize) {
        let Some(bound) = self.listeners.get_mut(index) else {
            return; // shutting down: the listeners are gone
        };
        bound.more = false;
        let kind = bound.kind;
        if self.accept_paused || self.shutting_down {
            return;
        }
        for _ in 0..self.cfg.accept_batch {
            let Some(bound) = self.listeners.get(index) else {
                return;
            };
            match bound.listener.accept() {
                // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d: every rule
                // (loopback, --trusted-proxy, bans) must see them as the IPv4 address they are.
                Ok((stream, addr)) => {
                    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
                    self.admit(stream, addr, kind);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_fds(&e) => {
                    // Retrying at once would spin: the pending connection stays in the backlog
                    // until descriptors free up.
                    warn!(error:% = e, ms = ACCEPT_PAUSE.as_millis() as u64; "accept failed: pausing accepts");
                    self.stats.accept_pauses += 1;
                    self.accept_paused = true;
                    self.timers.insert(
                        self.clock.now() + ACCEPT_PAUSE,
                        ReactorTimer::ResumeAccepting,
                    );
                    return;
                }
                Err(e) => debug!(error:% = e; "accept failed"), // e.g. the peer reset before we got to it
            }
        }
        // The batch ran out with connections possibly still waiting; edge-triggered readiness will
        // not report them again, so come back next turn.
        if let Some(bound) = self.listeners.get_mut(index) {
            bound.more = true;
            self.accept_more = true;
        }
    }

    /// Loop step 4: the batches that ran out last time go on.
    pub(super) fn leftover_accepts(&mut self) {
        if std::mem::take(&mut self.accept_more) {
            for index in 0..self.listeners.len() {
                if self.listeners[index].more {
                    self.accept_batch(index);
                }
            }
        }
    }

    /// Every listening socket accepts again (after the accept pause: any may have a backlog).
    pub(super) fn accept_on_all(&mut self) {
        for index in 0..self.listeners.len() {
            self.accept_batch(index);
        }
    }

    /// Registers an accepted connection, then either tells the chat core of it and greets it
    /// (now or after `--greet-delay-ms`), or queues its refusal and closes it. A metrics
    /// listener's connection is never a chat user: it is neither told to the chat core nor
    /// greeted, and its first bytes must be an HTTP request (`web`).
    fn admit(&mut self, mut stream: Stream, addr: SocketAddr, via: ListenKind) {
        let now = self.clock.now();
        let (refusal, displace) = match self.refusal_for(addr.ip(), now) {
            Ok(displace) => (None, displace),
            Err(bye) => (Some(bye), None),
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
            let _ = stream.set_tcp_keepalive(&keepalive);
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), CONN_INTEREST)
        {
            warn!(peer:% = addr, error:% = e; "cannot register a connection");
            return;
        }
        self.next_serial += 1;
        let serial = self.next_serial;
        entry.insert(Conn::new(
            stream,
            serial,
            addr,
            via,
            self.cfg.max_login_line,
            &self.flood,
            now,
        ));
        self.stats.accepted += 1;
        if let Some(bye) = refusal {
            info!(peer:% = addr, bye = bye.code(); "refused");
            self.conns[key].greeted = true;
            if via == ListenKind::Metrics {
                self.refuse_http(key, bye);
            } else {
                self.conns[key].set_proto(Proto::Line);
                self.queue_event(key, &Event::Bye(bye));
            }
            self.begin_close(key, now + self.cfg.linger());
            return;
        }
        if let Some(waiting) = displace {
            self.displace(waiting);
        }
        self.served += 1;
        *self.per_ip.entry(addr.ip()).or_insert(0) += 1;
        self.unregistered.add(addr.ip(), key);
        self.conns[key].counted = true;
        self.conns[key].waiting = true;
        if self.cfg.is_trusted_proxy(addr.ip()) {
            // Its first bytes may be a PROXY header naming the client (`proxy`).
            self.conns[key].proxy_header = Some(Box::default());
        }
        if via == ListenKind::Metrics {
            info!(peer:% = addr, clients = self.served; "metrics connection");
            return;
        }
        self.chat.connect(ConnId(key), Peer { ip: addr.ip() });
        info!(peer:% = addr, clients = self.served; "connection");
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

    /// Why a new connection from `ip` is refused, if it is (counted by reason); if it is let in,
    /// the waiting connection it displaces, if any (see `admission`).
    fn refusal_for(&mut self, ip: IpAddr, now: Instant) -> Result<Option<usize>, Bye> {
        if self.ip_is_limited(ip)
            && self.per_ip.get(&ip).copied().unwrap_or(0) >= self.cfg.max_per_ip
        {
            self.stats.refused_per_ip += 1;
            return Err(Bye::TooManyFromAddress {
                max: self.cfg.max_per_ip,
            });
        }
        if let Some(minutes_left) = self.chat.address_banned(ip, now) {
            self.stats.refused_banned += 1;
            return Err(Bye::Banned { minutes_left });
        }
        let mut admission = self.unregistered.admission(ip);
        if admission == Admission::RefuseAddress && self.cfg.is_trusted_proxy(ip) {
            // A proxy's share is its clients': theirs is checked when its header names them.
            admission = self.unregistered.admission_in_all();
        }
        if admission == Admission::RefuseAddress {
            self.stats.refused_unregistered += 1;
            return Err(Bye::TooManyWaitingFromAddress {
                max: self.cfg.max_unregistered_per_ip,
            });
        }
        if self.served >= self.max_clients {
            // Full: only a connection still waiting to log in, from an address holding more of
            // them than this one, makes way; logged-in users never do.
            if let Admission::Displace(waiting) = self.unregistered.displacement(ip) {
                return Ok(Some(waiting));
            }
            self.stats.refused_full += 1;
            return Err(Bye::ServerFull {
                max: self.max_clients,
            });
        }
        match admission {
            Admission::Admit | Admission::RefuseAddress => Ok(None),
            Admission::Displace(waiting) => Ok(Some(waiting)),
            Admission::RefuseFull => {
                self.stats.refused_unregistered += 1;
                Err(Bye::TooManyWaiting)
            }
        }
    }

    /// Closes a connection still waiting to log in to make room for a newcomer. It stops
    /// counting against the limits at once, as a refused connection does, while it reads why.
    fn displace(&mut self, key: usize) {
        self.stats.displaced_unregistered += 1;
        self.stop_waiting(key);
        self.uncount(key);
        info!(peer:% = self.conns[key].peer; "displaced while waiting to log in");
        self.queue_event(key, &Event::Bye(Bye::TooManyWaiting));
        self.begin_close(key, self.clock.now() + self.cfg.linger());
    }

    /// The connection no longer counts against the unregistered budget (it logged in, it is
    /// displaced or it is gone).
    pub(super) fn stop_waiting(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if std::mem::take(&mut conn.waiting) {
                self.unregistered.remove(conn.peer.ip(), key);
            }
        }
    }

    /// The connection no longer counts against --max-clients and --max-per-ip.
    pub(super) fn uncount(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !std::mem::take(&mut conn.counted) {
            return;
        }
        self.served -= 1;
        let ip = conn.peer.ip();
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// Whether the per-address rules apply to `ip`: not to loopback (unless --limit-loopback),
    /// nor to a trusted proxy, whose connections are judged by the client addresses they name.
    pub(super) fn ip_is_limited(&self, ip: IpAddr) -> bool {
        (self.cfg.limit_loopback || !ip.is_loopback()) && !self.cfg.is_trusted_proxy(ip)
    }
}

fn is_out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
