//! The live progress line on stderr: the phase, and deliveries per second once a second.

use super::*;

/// The progress line's state.
pub(super) struct Progress {
    enabled: bool,
    tty: bool,
    /// The phase being run, as the line names it.
    pub phase: &'static str,
    started: Instant,
    next: Instant,
    last_delivered: u64,
    last_at: Instant,
    printed: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        use std::io::IsTerminal;
        let now = Instant::now();
        Progress {
            enabled,
            tty: io::stderr().is_terminal(),
            phase: "start",
            started: now,
            next: now + Duration::from_secs(1),
            last_delivered: 0,
            last_at: now,
            printed: false,
        }
    }

    pub fn due(&self, now: Instant) -> bool {
        self.enabled && now >= self.next
    }

    pub fn print(&mut self, now: Instant, c: &Counts, connecting: bool) {
        self.next = now + Duration::from_secs(1);
        let secs = now.duration_since(self.last_at).as_secs_f64().max(1e-9);
        let rate = (c.delivered - self.last_delivered) as f64 / secs;
        self.last_delivered = c.delivered;
        self.last_at = now;
        let line = format!(
            "[{:>6.1}s {:<7}] conns {}/{}{} sent {} delivered {} ({}/s)",
            now.duration_since(self.started).as_secs_f64(),
            self.phase,
            c.ready,
            c.opened,
            if connecting { "+" } else { "" },
            c.sent,
            c.delivered,
            crate::units::si(rate),
        );
        if self.tty {
            eprint!("\r{line:<100}");
        } else {
            eprintln!("{line}");
        }
        self.printed = true;
    }

    pub fn finish(&mut self) {
        if self.enabled && self.tty && self.printed {
            eprintln!();
        }
    }
}
