//! Closing: a connection's goodbye, the close that flushes it and lingers, marking connections
//! dead and reaping them at the end of the turn, and the shutdown a signal starts.
//!
//! Nothing is freed in the middle of work: a connection that must go is marked dead
//! ([`Reactor::mark_dead`]) and removed by [`Reactor::reap`] in its own step of the loop turn.

use std::io;
use std::time::Instant;

use log::{debug, info};

use super::conn::Phase;
use super::timers::ReactorTimer;
use super::web;
use super::Reactor;
use crate::chat::{Bye, ConnId, Event, LostReason, Now};
use crate::codec::websocket::close_code;

impl Reactor {
    /// The server ends a connection (a timeout, a flood): the chat core hears it is lost first,
    /// so the rooms are told (and a session is held for a reconnect), then the connection gets
    /// `bye` and closes after the linger.
    pub(super) fn goodbye(&mut self, key: usize, reason: LostReason, bye: Bye, now: Now) {
        self.chat
            .disconnect(ConnId(key), reason, now, &mut self.outbox);
        self.apply_outbox();
        self.queue_event(key, &Event::Bye(bye));
        self.begin_close(key, now.mono + self.cfg.linger());
    }

    /// Stops taking input and output for the connection: what is queued (its goodbye) is
    /// flushed, then it half-closes and lingers until `close_at` at the latest.
    pub(super) fn begin_close(&mut self, key: usize, close_at: Instant) {
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
        } else {
            self.pending_writes.add(key, &mut conn.write_listed);
        }
    }

    /// Marks a connection for removal at the end of the turn.
    pub(super) fn mark_dead(&mut self, key: usize, reason: LostReason) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.dead.is_none() {
                conn.dead = Some(reason);
                self.doomed.push(key);
            }
        }
    }

    /// Loop step 7: removes dead connections. The chat core hears of each (a no-op for those it
    /// already let go), and its notices may doom further connections, so this repeats until none
    /// are left.
    pub(super) fn reap(&mut self) {
        while let Some(key) = self.doomed.pop() {
            let Some(conn) = self.conns.get(key) else {
                continue;
            };
            let reason = conn.dead.unwrap_or(LostReason::Closed);
            *self.stats.disconnects.entry(reason.name()).or_insert(0) += 1;
            if conn.counted && self.chat.is_logged_in(ConnId(key)) {
                info!(peer:% = conn.peer, reason = reason.name(); "disconnected");
            } else {
                debug!(peer:% = conn.peer, reason = reason.name(); "closed");
            }
            let now = self.now();
            self.chat
                .disconnect(ConnId(key), reason, now, &mut self.outbox);
            self.apply_outbox();
            self.stop_waiting(key);
            self.uncount(key);
            let mut conn = self.conns.remove(key);
            self.forget_tls(&conn);
            if reason == LostReason::Closed && !conn.out.is_empty() {
                // The peer shut down only its sending side (`printf ... | nc -N`, a script that
                // half-closes): it still reads. Give it the replies to what it sent, as far as
                // its socket takes them now; everything up to its end of input was read, so the
                // close that follows is a clean one, not a reset.
                self.broadcast.seal();
                if let Ok((_, n)) = conn.write_out(usize::MAX, &mut self.output_bytes) {
                    self.stats.bytes_out += n as u64;
                }
            }
            self.output_bytes -= conn.out.own_len();
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }

    /// SIGINT or SIGTERM: stop accepting, say goodbye to everyone, and close every connection
    /// within `--shutdown-timeout`. SIGHUP alone reloads the configuration (`reload`).
    pub(super) fn on_signal(&mut self) {
        let signals: Vec<i32> = match &mut self.signals {
            Some(signals) => signals.pending().collect(),
            None => Vec::new(),
        };
        if signals.is_empty() || self.shutting_down {
            return;
        }
        if signals.iter().all(|&s| s == signal_hook::consts::SIGHUP) {
            return self.reload();
        }
        // The first signal other than SIGHUP (the one that asked for the shutdown), by name.
        let signal = signals
            .iter()
            .find(|&&s| s != signal_hook::consts::SIGHUP)
            .and_then(|&s| signal_hook::low_level::signal_name(s))
            .unwrap_or("?");
        info!(signal, connections = self.conns.len(); "shutting down");
        self.shut_down();
    }

    /// Stops accepting, says goodbye to everyone and closes their connections; the loop ends
    /// once they are closed (`finish_if_shut_down`).
    pub(super) fn shut_down(&mut self) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        for mut bound in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut bound.listener);
        }
        let close_at = self.clock.now() + self.cfg.shutdown_timeout();
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.queue_event(key, &Event::Bye(Bye::ShuttingDown));
            self.begin_close(key, close_at);
        }
    }

    /// Once a shutdown has closed the last connection, ends the storage thread (which commits
    /// what it holds) and says so: the loop is over.
    pub(super) fn finish_if_shut_down(&mut self) -> bool {
        if !(self.shutting_down && self.conns.is_empty()) {
            return false;
        }
        info!("all connections closed, exiting");
        self.stop_storage();
        true
    }
}

/// What an I/O error on a connection means for the chat core.
pub(super) fn lost_reason_for(e: &io::Error, otherwise: LostReason) -> LostReason {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => LostReason::Reset,
        io::ErrorKind::TimedOut => LostReason::PingTimeout,
        _ => otherwise,
    }
}
