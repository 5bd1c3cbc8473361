//! A room's recent lines: one copy of what the room was told lately, bounded in lines
//! (`--replay-max`) and bytes (`--recent-bytes`).
//!
//! Members held for a reconnect keep a position in it instead of a copy of every line, so a held
//! session costs a few words whatever the room says, and a room's memory grows with its own
//! recent traffic, not with its held members times that traffic. A position is the count of
//! lines the room had kept when the session was lost: what came after is the replay, as far as
//! the ring still holds it.
//!
//! The same ring answers the backlog shown on login and `/join`, and `/history N`, whenever it
//! can: when it holds at least N lines, or when it holds everything the room ever said
//! ([`Recent::is_complete`]: the room has no older history on disk, or the disk's newest lines
//! were loaded into it). Those answers are then in order with everything else the asker gets,
//! and never wait for the disk.

use std::collections::VecDeque;
use std::mem::size_of;

use crate::chat::event::{Event, PresenceSummary};

/// What the rings start from when history is on: rooms' newest lines read from the disk at
/// start (by room key, oldest first, and whether they are all the room has), and the keys of
/// every room with history, whose rings may miss older lines.
#[derive(Debug, Default)]
pub struct RecentRooms {
    pub loaded: Vec<(String, Vec<Event>, bool)>,
    pub on_disk: std::collections::HashSet<String>,
}

/// How much a room keeps.
#[derive(Debug, Clone, Copy)]
pub struct RecentLimits {
    pub lines: usize,
    pub bytes: usize,
}

/// One kept line and its place in the chat core's delivery order, which interleaves the lines of
/// several rooms and a session's own whispers in a replay.
#[derive(Debug)]
pub struct Kept {
    pub order: u64,
    pub event: Event,
    weight: usize,
}

/// A room's recent lines, oldest first.
#[derive(Debug, Default)]
pub struct Recent {
    lines: VecDeque<Kept>,
    bytes: usize,
    /// Lines ever kept: the position just past the newest.
    end: u64,
    /// Nothing the room said is missing from the front: no older line exists anywhere.
    complete: bool,
}

impl Recent {
    /// A ring for a room; `complete` when the room has no history older than what the ring
    /// will see (a new room, or history off).
    pub fn new(complete: bool) -> Self {
        Recent {
            complete,
            ..Recent::default()
        }
    }

    /// Whether the ring holds every line the room ever said (see the module's docs).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Loads a room's newest lines from the disk into an empty ring; `all` when they are every
    /// line the disk has for the room.
    pub fn seed(&mut self, events: Vec<Event>, all: bool, limits: RecentLimits) {
        debug_assert!(self.lines.is_empty() && self.end == 0);
        self.complete = all;
        // Order 0: before every line of this run, so a replay never interleaves them.
        for event in events {
            self.push(0, event, limits);
        }
    }

    /// The newest `n` lines, oldest first, if the ring can answer for them: it holds `n`, or it
    /// holds everything the room said.
    pub fn last(&self, n: usize) -> Option<Vec<Event>> {
        if self.lines.len() < n && !self.complete {
            return None;
        }
        let skip = self.lines.len().saturating_sub(n);
        Some(
            self.lines
                .iter()
                .skip(skip)
                .map(|k| k.event.clone())
                .collect(),
        )
    }

    /// The kept lines before position `before`, newest first (for a backlog, which picks from
    /// the end).
    pub fn newest_before(&self, before: u64) -> impl Iterator<Item = &Event> {
        let oldest = self.end - self.lines.len() as u64;
        let kept = usize::try_from(before.saturating_sub(oldest)).unwrap_or(usize::MAX);
        self.lines.iter().take(kept).rev().map(|k| &k.event)
    }

    /// Keeps a line the room was told, dropping the oldest beyond either limit.
    pub fn push(&mut self, order: u64, event: Event, limits: RecentLimits) {
        self.end += 1;
        if limits.lines == 0 {
            return;
        }
        let weight = weight(&event);
        while !self.lines.is_empty()
            && (self.lines.len() >= limits.lines || self.bytes + weight > limits.bytes)
        {
            self.pop_oldest();
        }
        self.bytes += weight;
        self.lines.push_back(Kept {
            order,
            event,
            weight,
        });
    }

    fn pop_oldest(&mut self) {
        if let Some(old) = self.lines.pop_front() {
            self.bytes -= old.weight;
            self.complete = false;
        }
    }

    /// The position just past the newest line: where a member lost now starts its replay.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The lines from position `from` on that are still kept, oldest first.
    pub fn since(&self, from: u64) -> impl Iterator<Item = &Kept> {
        let oldest = self.end - self.lines.len() as u64;
        let skip = from.saturating_sub(oldest);
        self.lines
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
    }

    /// Lines kept now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// What the kept lines weigh (see [`weight`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The ring's own consistency, for `Chat::check_invariants`.
    pub fn check(&self, limits: RecentLimits) -> Result<(), String> {
        if self.lines.len() > limits.lines {
            return Err(format!("{} recent lines kept", self.lines.len()));
        }
        let sum: usize = self.lines.iter().map(|k| k.weight).sum();
        if sum != self.bytes {
            return Err(format!(
                "recent lines weigh {sum} bytes but the ring says {}",
                self.bytes
            ));
        }
        // One line over the byte limit is kept alone: a line longer than the limit still reaches
        // a held member.
        if self.bytes > limits.bytes && self.lines.len() > 1 {
            return Err(format!("recent lines weigh {} bytes", self.bytes));
        }
        if self.lines.len() as u64 > self.end {
            return Err("more recent lines than were ever kept".into());
        }
        Ok(())
    }
}

/// About what keeping an event costs in memory: its slot, and the text it alone holds (the room
/// name and the sender's nickname are shared with the room and the session).
pub fn weight(event: &Event) -> usize {
    let own = match event {
        Event::Message { text, .. }
        | Event::Action { text, .. }
        | Event::Scheduled { text, .. }
        | Event::Whisper { text, .. }
        | Event::TopicSet { topic: text, .. } => text.len() + ARC_HEADER,
        Event::Presence(PresenceSummary { joined, left, .. }) => {
            (joined.len() + left.len()) * size_of::<std::sync::Arc<str>>()
        }
        _ => 0,
    };
    size_of::<Kept>() + own
}

/// The reference counts in front of an `Arc<str>`'s bytes.
const ARC_HEADER: usize = 2 * size_of::<usize>();

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::chat::id::MsgId;

    fn line(n: u64, text: &str) -> Event {
        Event::Message {
            id: MsgId(n),
            at: n,
            room: Arc::from("lobby"),
            from: Arc::from("alice"),
            text: Arc::from(text),
        }
    }

    fn texts<'a>(kept: impl Iterator<Item = &'a Kept>) -> Vec<String> {
        kept.map(|k| match &k.event {
            Event::Message { text, .. } => text.to_string(),
            other => panic!("{other:?}"),
        })
        .collect()
    }

    const ROOMY: RecentLimits = RecentLimits {
        lines: 3,
        bytes: usize::MAX,
    };

    #[test]
    fn keeps_the_newest_lines_and_counts_every_one() {
        let mut r = Recent::default();
        for n in 0..5 {
            r.push(n, line(n, &format!("l{n}")), ROOMY);
        }
        assert_eq!(r.end(), 5);
        assert_eq!(texts(r.since(0)), ["l2", "l3", "l4"]);
        assert_eq!(texts(r.since(3)), ["l3", "l4"]);
        assert_eq!(texts(r.since(5)), Vec::<String>::new());
        r.check(ROOMY).unwrap();
    }

    #[test]
    fn the_byte_limit_drops_the_oldest_but_keeps_one_long_line() {
        let one = weight(&line(0, "aaaa"));
        let limits = RecentLimits {
            lines: 100,
            bytes: one * 2,
        };
        let mut r = Recent::default();
        for n in 0..4 {
            r.push(n, line(n, "aaaa"), limits);
        }
        assert_eq!(r.len(), 2);
        assert_eq!(r.bytes(), one * 2);
        r.push(4, line(4, &"x".repeat(10_000)), limits);
        assert_eq!(r.len(), 1, "a line over the limit is kept alone");
        r.check(limits).unwrap();
    }

    #[test]
    fn no_lines_kept_when_the_limit_is_zero_but_positions_still_advance() {
        let limits = RecentLimits {
            lines: 0,
            bytes: usize::MAX,
        };
        let mut r = Recent::default();
        r.push(0, line(0, "a"), limits);
        assert_eq!((r.len(), r.end()), (0, 1));
        assert_eq!(r.since(0).count(), 0);
    }
}
