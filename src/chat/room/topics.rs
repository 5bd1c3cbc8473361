//! The topics (and topic locks) of rooms nobody is in, kept for the room's return: a room closes
//! when its last member leaves, and after a restart every room is closed at first. Anyone can
//! make rooms, so at most `max` are kept (`--max-kept-topics`), the one changed longest ago
//! dropped first.

use std::collections::{BTreeMap, HashMap};

use crate::chat::kept::KeptTopic;
use crate::chat::UnixMillis;

/// Closed rooms' topics by room key, with their order of age.
#[derive(Debug, Default)]
pub struct KeptTopics {
    by_room: HashMap<String, (KeptTopic, u64)>,
    /// Room keys by (when the topic changed, arrival): the first is dropped first.
    by_age: BTreeMap<(UnixMillis, u64), String>,
    next: u64,
    max: usize,
}

impl KeptTopics {
    pub fn new(max: usize) -> Self {
        KeptTopics {
            max,
            ..KeptTopics::default()
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_room.len()
    }

    /// Keeps a closed room's topic; returns the rooms whose topics were dropped to make room
    /// (the new one itself when nothing may be kept).
    pub fn keep(&mut self, topic: KeptTopic) -> Vec<String> {
        if self.max == 0 {
            return vec![topic.room];
        }
        self.take(&topic.room);
        let mut dropped = Vec::new();
        while self.by_room.len() >= self.max {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_room.remove(&oldest);
            dropped.push(oldest);
        }
        self.next += 1;
        self.by_age
            .insert((topic.changed, self.next), topic.room.clone());
        self.by_room.insert(topic.room.clone(), (topic, self.next));
        dropped
    }

    /// The topic of a room that opens again.
    pub fn take(&mut self, room: &str) -> Option<KeptTopic> {
        let (topic, serial) = self.by_room.remove(room)?;
        self.by_age.remove(&(topic.changed, serial));
        Some(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(room: &str, changed: UnixMillis) -> KeptTopic {
        KeptTopic {
            room: room.into(),
            name: room.into(),
            topic: Some(("t".into(), "alice".into())),
            locked: false,
            changed,
        }
    }

    #[test]
    fn the_topic_changed_longest_ago_is_dropped_first() {
        let mut kept = KeptTopics::new(2);
        assert!(kept.keep(topic("b", 20)).is_empty());
        assert!(kept.keep(topic("a", 10)).is_empty());
        assert_eq!(kept.keep(topic("c", 30)), ["a"]);
        assert_eq!(kept.len(), 2);
        assert!(kept.take("a").is_none());
        assert_eq!(kept.take("b").map(|t| t.changed), Some(20));
        assert!(kept.keep(topic("d", 5)).is_empty());
        assert_eq!(kept.keep(topic("e", 40)), ["d"]);
    }

    #[test]
    fn with_no_room_nothing_is_kept() {
        let mut kept = KeptTopics::new(0);
        assert_eq!(kept.keep(topic("a", 1)), ["a"]);
        assert_eq!(kept.len(), 0);
    }
}
