//! Per-sender order checking at one receiver: every message once, in order.
//!
//! TCP and a single-threaded server should deliver each sender's messages in sequence, so the
//! common case is "the next number": one compare and an increment. A jump forward leaves a gap
//! (lost, until proven late); a number below the next expected one is either a late arrival that
//! fills a gap or a duplicate. A 64-bit window of recently seen numbers tells the two apart without
//! keeping any history per message, so memory is fixed per (receiver, sender) pair.
//!
//! Loss is counted at the end, from what the sender sent: `sent - base - unique`, where `base` is the
//! first sequence number this receiver was expected to see (0 for receivers present from the start,
//! the first one seen for receivers that arrive mid-stream).

/// What one observed sequence number was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The next one expected.
    InOrder,
    /// Ahead of the next expected one by this many (a gap opened).
    Ahead(u32),
    /// Below the next expected one and not seen before: it fills a gap, out of order.
    Late,
    /// Seen before.
    Duplicate,
}

/// Order state of one sender's stream at one receiver.
#[derive(Debug, Clone, Copy)]
pub struct PairTrack {
    /// The first sequence number this receiver counts.
    base: u32,
    /// The next sequence number expected.
    next: u32,
    /// Bit `i` set: `next - 1 - i` was seen.
    window: u64,
    /// Distinct sequence numbers seen.
    unique: u32,
    /// False until the first message, for receivers that start mid-stream.
    started: bool,
}

impl PairTrack {
    /// A receiver present before the sender's first message: it expects sequence 0 first.
    pub fn from_start() -> Self {
        PairTrack {
            base: 0,
            next: 0,
            window: 0,
            unique: 0,
            started: true,
        }
    }

    /// A receiver that joins mid-stream: it counts from the first message it sees.
    pub fn from_first_seen() -> Self {
        PairTrack {
            started: false,
            ..Self::from_start()
        }
    }

    /// Records one received sequence number.
    pub fn observe(&mut self, seq: u32) -> Seen {
        if !self.started {
            self.started = true;
            self.base = seq;
            self.next = seq;
        }
        if seq >= self.next {
            let gap = seq - self.next;
            // Shift in the gap's zeros and this number's one; a gap of 64 or more clears the window.
            self.window = if gap >= 63 {
                1
            } else {
                (self.window << (gap + 1)) | 1
            };
            self.next = seq.wrapping_add(1);
            self.unique += 1;
            return if gap == 0 {
                Seen::InOrder
            } else {
                Seen::Ahead(gap)
            };
        }
        if seq < self.base {
            // Older than anything this receiver counts (a late joiner's pre-history).
            return Seen::Late;
        }
        let back = self.next - 1 - seq;
        if back >= 64 {
            // Too far back to tell; real TCP never gets here. Count it as filling a gap.
            self.unique += 1;
            return Seen::Late;
        }
        let bit = 1u64 << back;
        if self.window & bit != 0 {
            Seen::Duplicate
        } else {
            self.window |= bit;
            self.unique += 1;
            Seen::Late
        }
    }

    /// Messages of the `sent` the sender sent that this receiver should have and never got.
    pub fn lost(&self, sent: u32) -> u64 {
        if !self.started {
            // A late joiner that saw nothing has no baseline, and is not charged.
            return 0;
        }
        u64::from(sent.saturating_sub(self.base).saturating_sub(self.unique))
    }

    /// Distinct messages received.
    #[cfg(test)]
    pub fn unique(&self) -> u32 {
        self.unique
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream() {
        let mut t = PairTrack::from_start();
        for seq in 0..1000 {
            assert_eq!(t.observe(seq), Seen::InOrder);
        }
        assert_eq!(t.lost(1000), 0);
        assert_eq!(t.lost(1005), 5, "the tail that never came is lost");
    }

    #[test]
    fn a_gap_is_lost_until_filled() {
        let mut t = PairTrack::from_start();
        assert_eq!(t.observe(0), Seen::InOrder);
        assert_eq!(t.observe(3), Seen::Ahead(2));
        assert_eq!(t.lost(4), 2);
        assert_eq!(t.observe(1), Seen::Late);
        assert_eq!(t.lost(4), 1);
        assert_eq!(t.observe(2), Seen::Late);
        assert_eq!(t.lost(4), 0);
        assert_eq!(t.observe(4), Seen::InOrder);
    }

    #[test]
    fn duplicates_are_told_from_late_arrivals() {
        let mut t = PairTrack::from_start();
        t.observe(0);
        t.observe(1);
        assert_eq!(t.observe(1), Seen::Duplicate);
        assert_eq!(t.observe(0), Seen::Duplicate);
        t.observe(5);
        assert_eq!(t.observe(3), Seen::Late);
        assert_eq!(t.observe(3), Seen::Duplicate);
        assert_eq!(t.observe(5), Seen::Duplicate);
        assert_eq!(t.unique(), 4);
    }

    #[test]
    fn window_edges() {
        let mut t = PairTrack::from_start();
        t.observe(0);
        // A gap of 62 leaves 0 in the window's top bit (63 back).
        assert_eq!(t.observe(63), Seen::Ahead(62));
        assert_eq!(
            t.observe(0),
            Seen::Duplicate,
            "63 back is still in the window"
        );
        let mut t = PairTrack::from_start();
        t.observe(0);
        assert_eq!(t.observe(64), Seen::Ahead(63));
        assert_eq!(t.observe(0), Seen::Late, "64 back is beyond the window");
    }

    #[test]
    fn a_late_joiner_counts_from_its_first_message() {
        let mut t = PairTrack::from_first_seen();
        assert_eq!(t.lost(50), 0, "no baseline yet, nothing charged");
        assert_eq!(t.observe(40), Seen::InOrder);
        assert_eq!(t.observe(41), Seen::InOrder);
        assert_eq!(t.lost(42), 0);
        assert_eq!(t.lost(45), 3);
        assert_eq!(
            t.observe(12),
            Seen::Late,
            "before its baseline: not counted"
        );
        assert_eq!(t.unique(), 2);
    }

    #[test]
    fn a_from_start_receiver_that_saw_nothing_lost_everything() {
        let t = PairTrack::from_start();
        assert_eq!(t.lost(10), 10);
    }
}
