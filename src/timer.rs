//! A deadline heap shared by the reactor and the chat core.
//!
//! Timers are never cancelled in place: each entry carries whatever identity its owner needs
//! (a connection key plus serial, a session generation) and the owner drops entries that no longer
//! match when they pop. That keeps insert and expiry at O(log n) with no bookkeeping on cancel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A min-heap of `(deadline, item)`; items with equal deadlines pop in insertion order.
/// Heaps up to this many entries keep their memory when they empty (it is reused at once).
const SHRINK_ABOVE: usize = 1024;

#[derive(Debug)]
pub struct Timers<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
}

#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Timers<T> {
    pub fn new() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Schedules `item` to fire at `at`.
    pub fn insert(&mut self, at: Instant, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            item,
        }));
    }

    /// The earliest deadline, if any (it may belong to a stale entry; popping it is harmless).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns the earliest item whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        if self.heap.peek()?.0.at <= now {
            let item = self.heap.pop().map(|Reverse(e)| e.item);
            // A burst (10,000 logins, each with its login timeout) leaves a big, mostly empty
            // heap behind: give most of it back once it is three-quarters empty.
            let capacity = self.heap.capacity();
            if capacity > SHRINK_ABOVE && self.heap.len() < capacity / 4 {
                self.heap.shrink_to(capacity / 2);
            }
            item
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_gives_its_memory_back_as_it_expires() {
        let mut timers = Timers::new();
        let t0 = Instant::now();
        for i in 0..10_000u64 {
            timers.insert(t0 + Duration::from_millis(i), i);
        }
        let full = timers.heap.capacity();
        let mut popped = 0;
        while timers.pop_due(t0 + Duration::from_millis(9_900)).is_some() {
            popped += 1;
        }
        assert_eq!((popped, timers.len()), (9_901, 99));
        assert!(
            timers.heap.capacity() <= full / 8,
            "{}",
            timers.heap.capacity()
        );
        // The rest still come out in order.
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(60)), Some(9_901));
    }

    #[test]
    fn pops_in_deadline_order_then_insertion_order() {
        let t0 = Instant::now();
        let mut timers = Timers::new();
        timers.insert(t0 + Duration::from_secs(3), "c");
        timers.insert(t0 + Duration::from_secs(1), "a");
        timers.insert(t0 + Duration::from_secs(1), "b");
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(timers.pop_due(t0), None);
        let now = t0 + Duration::from_secs(2);
        assert_eq!(timers.pop_due(now), Some("a"));
        assert_eq!(timers.pop_due(now), Some("b"));
        assert_eq!(timers.pop_due(now), None);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.pop_due(t0 + Duration::from_secs(3)), Some("c"));
        assert!(timers.is_empty());
    }
}
