//! Time: the reactor's timers, the chat core's, and the once-a-second sweep over all
//! connections (login and idle timeouts, soft output caps, giving freed memory back).

use std::time::Duration;

use log::info;

use super::conn::{Phase, Proto};
use super::outqueue::QueueVerdict;
use super::tls::{refuses_clear_text, TlsOverdue};
use super::Reactor;
use crate::chat::{Bye, LostReason, Now};

/// How often idle and soft-queue limits are swept (Redis's clientsCron does the same).
pub(super) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Timers owned by the reactor. Connection timers carry the key and serial they were set for.
#[derive(Debug, Clone, Copy)]
pub(super) enum ReactorTimer {
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

impl Reactor {
    /// Loop step 5: the reactor's due timers, the chat core's, then the sweep when it is due.
    pub(super) fn run_timers(&mut self) {
        self.cluster_timers();
        let now = self.now();
        while let Some(timer) = self.timers.pop_due(now.mono) {
            match timer {
                ReactorTimer::Greet { key, serial } => {
                    // A connection whose first bytes may yet be an HTTP method is left to decide.
                    if self.is_current(key, serial)
                        && !self.conns[key].greeted
                        && matches!(&self.conns[key].proto, Proto::Sniffing(b) if b.is_empty())
                        && self.greet_due(&self.conns[key], now.mono)
                        && !self.conns[key].via.is_irc_only()
                    {
                        // Where only TLS is served, a silent connection may be a TLS client that
                        // is slow to say so: it is refused at the handshake's deadline instead
                        // (`silent_overdue`), never greeted.
                        if !(self.clear_text_refused(key) && self.conns[key].tls.is_none()) {
                            self.greet(key);
                        }
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
                    self.accept_on_all();
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

    /// Whether `key` still holds the live connection `serial` was given to (slab keys are
    /// reused; a timer or an answer for a connection that is gone is dropped).
    pub(super) fn is_current(&self, key: usize, serial: u64) -> bool {
        self.conns
            .get(key)
            .is_some_and(|c| c.serial == serial && c.dead.is_none())
    }

    /// The once-a-second pass over all connections: login and idle timeouts, soft output caps.
    /// A login timeout thus ends up to a second after `--login-timeout`.
    fn sweep(&mut self, now: Now) {
        debug_assert_eq!(
            self.conns
                .iter()
                .map(|(_, c)| c.out.own_len())
                .sum::<usize>(),
            self.output_bytes,
            "the count of queued output bytes drifted"
        );
        let idle = self.cfg.idle_timeout();
        let login = self.cfg.login_timeout();
        let mut login_keys = Vec::new();
        let mut idle_keys = Vec::new();
        let mut over_soft = Vec::new();
        let tls_deadline = self.cfg.tls_handshake_timeout();
        let mut tls_keys = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            if conn.dead.is_some() || conn.phase != Phase::Open {
                continue;
            }
            let waited = now.mono.duration_since(conn.timeout_from);
            // Before the login timeout, which is longer: a handshake has its own deadline.
            if waited >= tls_deadline {
                let clear_refused = refuses_clear_text(&self.cfg, conn.via);
                if let Some(what) = Reactor::tls_overdue(conn, clear_refused) {
                    tls_keys.push((key, what));
                    continue;
                }
            }
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
        for (key, what) in tls_keys {
            match what {
                TlsOverdue::Silent => self.refuse_clear_text(key),
                TlsOverdue::Handshake => {
                    info!(peer:% = self.conns[key].peer, secs = self.cfg.tls_handshake_timeout; "TLS handshake timeout");
                    self.stats.tls_refused += 1;
                    self.mark_dead(key, LostReason::PingTimeout);
                }
            }
        }
        give_back_freed_memory();
        for key in idle_keys {
            self.stats.idle_timeouts += 1;
            info!(peer:% = self.conns[key].peer, secs = self.cfg.idle_timeout; "idle timeout");
            let bye = Bye::PingTimeout {
                secs: self.cfg.idle_timeout,
            };
            self.goodbye(key, LostReason::PingTimeout, bye, now);
        }
    }

    fn login_timeout(&mut self, key: usize, now: Now) {
        if self.conns[key].phase != Phase::Open {
            return;
        }
        self.stats.login_timeouts += 1;
        info!(peer:% = self.conns[key].peer, secs = self.cfg.login_timeout; "login timeout");
        let bye = Bye::LoginTimeout {
            secs: self.cfg.login_timeout,
        };
        self.goodbye(key, LostReason::PingTimeout, bye, now);
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
