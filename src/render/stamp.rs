//! The `[HH:MM]` stamps of room lines, in local time or UTC.

use std::cell::Cell;

use chrono::{Local, TimeZone, Timelike, Utc};

use crate::clock::UnixMillis;

/// Formats `[HH:MM]` stamps, caching the text for the current minute: local time lookups cost a
/// time-zone computation, and thousands of lines a second share one minute.
#[derive(Debug)]
pub struct Stamper {
    pub utc: bool,
    cache: Cell<(u64, [u8; 7])>,
}

impl Stamper {
    pub fn new(utc: bool) -> Self {
        Stamper {
            utc,
            cache: Cell::new((u64::MAX, *b"[00:00]")),
        }
    }

    /// The `[HH:MM]` text for a wall-clock time.
    pub fn stamp(&self, at: UnixMillis) -> [u8; 7] {
        let minute = at / 60_000;
        let (cached_minute, text) = self.cache.get();
        if cached_minute == minute {
            return text;
        }
        let secs = (at / 1000) as i64;
        let (h, m) = if self.utc {
            let t = Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
            (t.hour(), t.minute())
        } else {
            match Local.timestamp_opt(secs, 0).single() {
                Some(t) => (t.hour(), t.minute()),
                None => (0, 0),
            }
        };
        let text = [
            b'[',
            b'0' + (h / 10) as u8,
            b'0' + (h % 10) as u8,
            b':',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b']',
        ];
        self.cache.set((minute, text));
        text
    }

    /// `HH:MM` of a wall-clock time, as the stamps show it.
    pub fn hhmm(&self, at: UnixMillis) -> String {
        let stamp = self.stamp(at);
        String::from_utf8_lossy(&stamp[1..6]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_minutes() {
        let s = Stamper::new(true);
        // 2024-01-01T12:34:56Z
        assert_eq!(&s.stamp(1_704_112_496_000), b"[12:34]");
        assert_eq!(&s.stamp(1_704_112_496_000 + 60_000), b"[12:35]");
        assert_eq!(s.hhmm(1_704_112_496_000), "12:34");
    }
}
