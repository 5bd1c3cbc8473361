//! Reconnect delays: exponential back-off with jitter.
//!
//! Each failed attempt doubles the ceiling (1 s, 2 s, 4 s, ... up to 30 s) and the delay is drawn
//! from the upper half of it ("equal jitter"), so a restarted server is not hit by every client at
//! the same instant, and no client waits less than half the ceiling. A successful login resets it.

use std::time::Duration;

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// The delay before the next attempt, given a random number in 0..=u32::MAX.
    pub fn next_with(&mut self, random: u32) -> Duration {
        let ceiling = FIRST.saturating_mul(1u32 << self.attempts.min(16)).min(MAX);
        self.attempts = self.attempts.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(f64::from(random) / f64::from(u32::MAX))
    }

    /// The delay before the next attempt, jittered from the OS's random source.
    pub fn next_delay(&mut self) -> Duration {
        let mut bytes = [0u8; 4];
        // Without randomness the delay is still bounded; it just is not spread.
        let _ = getrandom::getrandom(&mut bytes);
        self.next_with(u32::from_le_bytes(bytes))
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_within_the_upper_half() {
        let mut b = Backoff::default();
        let lows: Vec<_> = (0..8).map(|_| b.next_with(0)).collect();
        let secs: Vec<f64> = lows.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]);
        let mut b = Backoff::default();
        assert_eq!(b.next_with(u32::MAX), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(b.next_with(u32::MAX) <= MAX);
        }
        assert_eq!(b.attempts(), 101);
        b.reset();
        assert_eq!(b.next_with(0), Duration::from_millis(500));
    }
}
