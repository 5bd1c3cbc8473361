//! Presence notices in big rooms.
//!
//! In a room of up to `--presence-max-room` members every join, reconnect and departure is a line
//! of its own. Above that, a line per arrival costs every member a line: 5,000 people arriving
//! would be 12.5 million deliveries, which stalls the loop and buries the conversation. So a big
//! room gathers them and gets one summary line every `--presence-summary-secs`:
//! `* 37 joined (alice, bob, ... and 32 more); 3 left (...); 5012 here`. That is O(n) work per
//! summary instead of O(n) per arrival. The history still keeps every event as it happened.
//!
//! Operator actions (kicks, bans) are always announced on their own: they are rare and people
//! need to see them.

use std::sync::Arc;

use super::event::PresenceSummary;
use super::{Chat, ChatTimer, Event, Now, Outbox, Output, RoomId, SessionId};

/// The room's presence events since its last summary.
#[derive(Debug)]
pub(super) struct PresenceBatch {
    /// Which timer sends it (room ids are reused, batch serials are not).
    serial: u64,
    joined: Names,
    left: Names,
}

impl PresenceBatch {
    /// The batch's own consistency, for `Chat::check_invariants`.
    pub(super) fn is_consistent(&self) -> bool {
        self.joined.is_consistent() && self.left.is_consistent()
    }
}

/// The first names in arrival order and how many there were in all.
#[derive(Debug, Default)]
struct Names {
    shown: Vec<Arc<str>>,
    total: usize,
}

impl Names {
    fn add(&mut self, nick: &Arc<str>) {
        self.total += 1;
        if self.shown.len() < PresenceSummary::NAMES_SHOWN {
            self.shown.push(nick.clone());
        }
    }

    fn is_consistent(&self) -> bool {
        self.shown.len() <= PresenceSummary::NAMES_SHOWN && self.shown.len() <= self.total
    }
}

impl Chat {
    /// Announces a join, reconnect or departure to its room: at once in a small room, in the
    /// room's next summary in a big one (or while a summary is pending, so the order of what a
    /// member sees stays the order things happened). Stored in the history either way.
    pub(super) fn announce_presence(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        now: Now,
        out: &mut Outbox,
    ) {
        let (nick, arrived) = match &event {
            Event::Joined { nick, .. } | Event::Reconnected { nick, .. } => (nick.clone(), true),
            Event::Left { nick, .. } => (nick.clone(), false),
            _ => return self.broadcast(room, except, event, out),
        };
        let r = &self.rooms[room];
        if r.presence.is_none() && r.members.len() <= self.settings.presence_max_room {
            return self.broadcast(room, except, event, out);
        }
        if self.rooms[room].presence.is_none() {
            self.next_presence_serial += 1;
            let serial = self.next_presence_serial;
            self.rooms[room].presence = Some(PresenceBatch {
                serial,
                joined: Names::default(),
                left: Names::default(),
            });
            self.timers.insert(
                now.mono + self.settings.presence_every,
                ChatTimer::PresenceDue { room, serial },
            );
        }
        let batch = self.rooms[room].presence.as_mut().expect("just made");
        if arrived {
            batch.joined.add(&nick);
        } else {
            batch.left.add(&nick);
        }
        if self.settings.history_enabled {
            out.items.push(Output::Store(event));
        }
    }

    /// A room's summary is due: send it to the room (it is not stored; its events are).
    pub(super) fn presence_due(&mut self, room: RoomId, serial: u64, now: Now, out: &mut Outbox) {
        let Some(r) = self.rooms.get_mut(room) else {
            return; // the room emptied and went away
        };
        if r.presence.as_ref().is_none_or(|b| b.serial != serial) {
            return; // a later room in the same slot
        }
        let batch = r.presence.take().expect("checked");
        let summary = PresenceSummary {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: r.name.clone(),
            joined: batch.joined.shown,
            joined_total: batch.joined.total,
            left: batch.left.shown,
            left_total: batch.left.total,
            members: self.connected_members(room),
        };
        self.deliver(room, None, Event::Presence(summary), out);
    }

    /// Members of `room` with a live connection (those `/users` lists).
    pub(super) fn connected_members(&self, room: RoomId) -> usize {
        self.rooms[room]
            .members
            .iter()
            .filter(|&&m| self.sessions[m].conn.is_some())
            .count()
    }
}
