//! Per-connection flood control: a token bucket over input lines (the pauses it causes are
//! `throttle.rs`'s).
//!
//! A connection that runs out of tokens is not dropped and loses nothing: the reactor stops
//! reading its socket until a token is due (backpressure, like IRC servers' "fakelag"), so a
//! flooder only slows itself down and everybody else sees no added delay. One held back for
//! longer than `--flood-kick-secs` is disconnected.

use std::time::{Duration, Instant};

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
            // Rounded up, and a nanosecond more: waiting it out must give a whole token. A wait
            // rounded down (to 0 ns, after a refill that lands just under one token) made the
            // pause the reactor re-arms at `now + wait` due again at once, within the same turn.
            let secs = (1.0 - self.tokens) / limits.rate;
            Err(Duration::from_nanos((secs * 1e9).ceil() as u64 + 1))
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
            wait > Duration::from_millis(90) && wait <= Duration::from_micros(100_001),
            "{wait:?}"
        );
        assert_eq!(b.take(&l, t0 + Duration::from_millis(100)), Ok(()));
        assert!(b.take(&l, t0 + Duration::from_millis(150)).is_err());
    }

    /// The reactor re-arms its pause at `now + wait`, without the clock moving in between: a
    /// wait that rounds to zero would make the pause due again at once, for ever.
    #[test]
    fn a_wait_is_never_zero_and_waiting_it_out_is_enough() {
        for rate in [3.0, 5.0, 7.0, 20.0, 33.0] {
            let l = limits(rate, 4.0);
            let mut now = Instant::now();
            let mut b = TokenBucket::new(&l, now);
            for step in 0..2000u64 {
                match b.ready(&l, now) {
                    Ok(()) => b.spend(),
                    Err(wait) => {
                        assert!(wait > Duration::ZERO, "rate {rate}, step {step}");
                        now += wait;
                        assert_eq!(b.ready(&l, now), Ok(()), "rate {rate}, step {step}");
                    }
                }
                now += Duration::from_micros(step % 7 * 1000 + step % 3);
            }
        }
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
