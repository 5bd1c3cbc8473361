//! Writing: the write list of connections with output to flush, the flush itself (vectored
//! writes up to a budget per connection), and what happens once a queue is drained.

use log::debug;

use super::close::lost_reason_for;
use super::conn::Phase;
use super::outqueue::Flush;
use super::timers::ReactorTimer;
use super::Reactor;
use crate::chat::LostReason;

/// Bytes written to one connection per loop turn (Redis writes at most 64 KiB per client per event).
const WRITE_BUDGET: usize = 64 * 1024;

impl Reactor {
    /// Writable readiness: a connection with output waiting goes on the write list.
    pub(super) fn want_write(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.has_output() && conn.dead.is_none() {
                self.pending_writes.add(key, &mut conn.write_listed);
            }
        }
    }

    /// Loop step 6: seals the open broadcast block, then writes every listed connection's queue.
    pub(super) fn flush_pending(&mut self) {
        self.broadcast.seal();
        for key in self.pending_writes.take() {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            conn.write_listed = false;
            if conn.dead.is_some() {
                continue;
            }
            match conn.write_out(WRITE_BUDGET, &mut self.output_bytes) {
                Ok((flush, n)) => {
                    self.stats.bytes_out += n as u64;
                    match flush {
                        Flush::Drained => self.drained(key),
                        Flush::Blocked => {} // writable readiness will bring it back
                        Flush::Budget => self.pending_writes.add(key, &mut conn.write_listed),
                    }
                }
                Err(e) => {
                    debug!(peer:% = conn.peer, error:% = e; "write failed");
                    self.mark_dead(key, lost_reason_for(&e, LostReason::WriteError));
                }
            }
        }
        if self.output_bytes > self.cfg.max_output_memory {
            self.shed_output();
        }
    }

    /// The queue is empty: a draining connection now half-closes and lingers.
    pub(super) fn drained(&mut self, key: usize) {
        let conn = &mut self.conns[key];
        if let Phase::Draining { close_at } = conn.phase {
            self.close_notify(key);
            let conn = &mut self.conns[key];
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            let close_at = close_at.min(self.clock.now() + self.cfg.linger());
            conn.phase = Phase::Lingering { close_at };
            let serial = conn.serial;
            self.timers
                .insert(close_at, ReactorTimer::CloseAt { key, serial });
        }
    }
}
