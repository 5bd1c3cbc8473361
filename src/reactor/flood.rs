//! Per-connection flood control: a token bucket over input lines, and the pauses it causes.
//!
//! A connection that runs out of tokens is not dropped and loses nothing: the reactor stops
//! reading its socket until a token is due (backpressure, like IRC servers' "fakelag"), so a
//! flooder only slows itself down and everybody else sees no added delay. One held back for
//! longer than `--flood-kick-secs` is disconnected.

use std::time::{Duration, Instant};

use log::{debug, info};

use super::timers::ReactorTimer;
use super::Reactor;
use crate::chat::{Bye, Event, LostReason, Now, Refusal};

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

/// Flood-control settings shared by every connection.
#[derive(Debug, Clone, Copy)]
pub struct FloodLimits {
    /// Lines per second; 0 disables flood control.
    pub rate: f64,
    pub burst: f64,
    /// How long a client may stay held back before it is disconnected.
    pub kick_after: Duration,
}

impl FloodLimits {
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }
}

impl TokenBucket {
    /// A full bucket: a new connection may paste `burst` lines at once.
    pub fn new(limits: &FloodLimits, now: Instant) -> Self {
        TokenBucket {
            tokens: limits.burst.max(1.0),
            last: now,
        }
    }

    /// Refills, then says whether a token is available; if not, how long until one is. Nothing is
    /// taken: only a complete line costs a token (`spend`), so keystrokes trickling in from a
    /// character-mode telnet cost nothing.
    pub fn ready(&mut self, limits: &FloodLimits, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limits.rate).min(limits.burst.max(1.0));
        self.last = now;
        if self.tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / limits.rate))
        }
    }

    /// Pays for one complete line.
    pub fn spend(&mut self) {
        self.tokens -= 1.0;
    }

    /// `ready` then `spend`, for callers that know a line is complete.
    pub fn take(&mut self, limits: &FloodLimits, now: Instant) -> Result<(), Duration> {
        self.ready(limits, now)?;
        self.spend();
        Ok(())
    }
}

impl Reactor {
    /// Keeps the undecoded rest of the input and stops reading until `resume_at`.
    pub(super) fn throttle(&mut self, key: usize, rest: &[u8], resume_at: Instant) {
        let conn = &mut self.conns[key];
        conn.held_input.extend_from_slice(rest);
        conn.paused = true;
        let serial = conn.serial;
        if conn.throttled_since.is_none() {
            conn.throttled_since = Some(Instant::now());
            self.stats.flood_throttles += 1;
            debug!("{}: flood control engaged", conn.peer);
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
            info!("{}: excess flood", conn.peer);
            conn.held_input = Vec::new();
            self.goodbye(key, LostReason::ExcessFlood, Bye::ExcessFlood, now);
            return;
        }
        let held = std::mem::take(&mut conn.held_input);
        self.feed_stream(key, &held);
        if self.conns.get(key).is_some_and(|c| !c.paused) {
            self.read_again(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: f64, burst: f64) -> FloodLimits {
        FloodLimits {
            rate,
            burst,
            kick_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_burst_then_the_rate() {
        let l = limits(10.0, 5.0);
        let t0 = Instant::now();
        let mut b = TokenBucket::new(&l, t0);
        for _ in 0..5 {
            assert_eq!(b.take(&l, t0), Ok(()));
        }
        let wait = b.take(&l, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(90) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert_eq!(b.take(&l, t0 + Duration::from_millis(100)), Ok(()));
        assert!(b.take(&l, t0 + Duration::from_millis(150)).is_err());
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let l = limits(100.0, 3.0);
        let t0 = Instant::now();
        let mut b = TokenBucket::new(&l, t0);
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(b.take(&l, later), Ok(()));
        }
        assert!(b.take(&l, later).is_err());
    }
}
