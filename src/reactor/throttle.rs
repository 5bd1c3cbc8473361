//! Flood control's pauses: a connection out of tokens is left unread until its next token is
//! due, with what it already sent held back in order; one still behind after
//! `--flood-kick-secs` is disconnected.

use std::time::Instant;

use log::{debug, info};

use super::timers::ReactorTimer;
use super::Reactor;
use crate::chat::{Bye, Event, LostReason, Now, Refusal};

impl Reactor {
    /// Keeps the undecoded rest of the input and stops reading until `resume_at`.
    pub(super) fn throttle(&mut self, key: usize, rest: &[u8], resume_at: Instant) {
        let conn = &mut self.conns[key];
        conn.held_input.extend_from_slice(rest);
        conn.paused = true;
        let serial = conn.serial;
        if conn.throttled_since.is_none() {
            conn.throttled_since = Some(self.clock.now());
            self.stats.flood_throttles += 1;
            debug!(peer:% = conn.peer; "flood control engaged");
            self.queue_event(key, &Event::Refused(Refusal::Flood));
        }
        self.timers
            .insert(resume_at, ReactorTimer::Unthrottle { key, serial });
    }

    /// The next token is due: decode what was held back, then read the socket again
    /// (edge-triggered readiness will not report data that arrived while paused). A client still
    /// behind after `--flood-kick-secs` is disconnected instead.
    pub(super) fn unthrottle(&mut self, key: usize, now: Now) {
        let conn = &mut self.conns[key];
        conn.paused = false;
        if conn
            .throttled_since
            .is_some_and(|since| now.mono.duration_since(since) >= self.flood.kick_after)
        {
            self.stats.flood_kicks += 1;
            info!(peer:% = conn.peer; "excess flood");
            conn.held_input = Vec::new();
            self.goodbye(key, LostReason::ExcessFlood, Bye::ExcessFlood, now);
            // Closing reads (and throws away) its input until the peer's end: what arrived
            // during the pause, an end included, brings no new event.
            self.read_again(key);
            return;
        }
        let held = std::mem::take(&mut conn.held_input);
        self.feed_stream(key, &held);
        if self.conns.get(key).is_some_and(|c| !c.paused) {
            self.read_again(key);
        }
    }
}
