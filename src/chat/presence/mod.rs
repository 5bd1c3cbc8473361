//! Presence notices in big rooms.
//!
//! In a room of up to `--presence-max-room` members every join, reconnect and departure is a line
//! of its own. Above that, a line per arrival costs every member a line: 5,000 people arriving
//! would be 12.5 million deliveries, which stalls the loop and buries the conversation. So a big
//! room gathers them and gets one summary line every `--presence-summary-secs`:
//! `* 37 joined (alice, bob, ... and 32 more); 3 left (...); 5012 here`. That is O(n) work per
//! summary instead of O(n) per arrival. The history still keeps every event as it happened.
//!
//! A small room gets the same summaries while its presence lines come faster than a person reads
//! them (`--presence-rate` a minute, a sixth of them at once): a client that logs in under fresh
//! names and drops the connection in a loop would otherwise bury the conversation in arrivals
//! and losses.
//!
//! Operator actions (kicks, bans) are always announced on their own: they are rare and people
//! need to see them.

#[cfg(test)]
mod tests;

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::time::Instant;

use super::event::{Event, PresenceSummary};
use super::{Chat, ChatTimer, Now, Outbox, RoomId, SessionId};

/// The big rooms' presence events waiting for their summaries.
#[derive(Debug, Default)]
pub struct Presence {
    batches: HashMap<RoomId, PresenceBatch>,
    /// Each room's allowance of presence lines shown one by one.
    allowances: HashMap<RoomId, Allowance>,
    next_serial: u64,
}

/// A token bucket of presence lines: `per_minute` a minute, a sixth of that at once.
#[derive(Debug)]
struct Allowance {
    lines: f64,
    at: Instant,
}

impl Presence {
    /// Whether the room may be shown one more presence line on its own now (taking it).
    fn allow_line(&mut self, room: RoomId, now: Instant, per_minute: u32) -> bool {
        let burst = (f64::from(per_minute) / 6.0).max(1.0);
        let a = self.allowances.entry(room).or_insert(Allowance {
            lines: burst,
            at: now,
        });
        let refilled =
            now.saturating_duration_since(a.at).as_secs_f64() * f64::from(per_minute) / 60.0;
        a.lines = (a.lines + refilled).min(burst);
        a.at = now;
        if a.lines >= 1.0 {
            a.lines -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether a summary is pending for the room.
    fn pending(&self, room: RoomId) -> bool {
        self.batches.contains_key(&room)
    }

    /// The room's batch, opened if none is pending; with the serial its timer must carry when it
    /// was just opened.
    fn batch(&mut self, room: RoomId) -> (&mut PresenceBatch, Option<u64>) {
        match self.batches.entry(room) {
            Entry::Occupied(pending) => (pending.into_mut(), None),
            Entry::Vacant(slot) => {
                self.next_serial += 1;
                let serial = self.next_serial;
                let batch = slot.insert(PresenceBatch {
                    serial,
                    joined: Names::default(),
                    left: Names::default(),
                });
                (batch, Some(serial))
            }
        }
    }

    /// Takes the room's batch if it is the one the timer with `serial` was set for.
    fn take(&mut self, room: RoomId, serial: u64) -> Option<PresenceBatch> {
        if self.batches.get(&room)?.serial != serial {
            return None; // a later room in the same slot
        }
        self.batches.remove(&room)
    }

    /// The room is gone: so is its pending summary.
    pub fn room_closed(&mut self, room: RoomId) {
        self.batches.remove(&room);
        self.allowances.remove(&room);
    }

    /// The batches' own consistency, for `Chat::check_invariants`: every batch is for a room that
    /// exists and lists no more names than it counts.
    pub fn check(&self, rooms: &super::room::Rooms) -> Result<(), String> {
        for (&room, batch) in &self.batches {
            let Some(r) = rooms.get(room) else {
                return Err(format!(
                    "a presence summary is pending for a missing room {room}"
                ));
            };
            if !(batch.joined.is_consistent() && batch.left.is_consistent()) {
                return Err(format!(
                    "room {}'s presence summary lists too many",
                    r.name()
                ));
            }
        }
        Ok(())
    }
}

/// One room's presence events since its last summary.
#[derive(Debug)]
struct PresenceBatch {
    /// Which timer sends it (room ids are reused, batch serials are not).
    serial: u64,
    joined: Names,
    left: Names,
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
    /// room's next summary in a big one or one whose presence lines come too fast (or while a
    /// summary is pending, so the order of what a member sees stays the order things happened).
    /// Stored in the history either way.
    pub(super) fn announce_presence(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        now: Now,
        out: &mut Outbox,
    ) {
        self.announce_presence_from(room, except, event, now, out, true);
    }

    /// [`Chat::announce_presence`] of an event that happened here (`here`: stored and published)
    /// or on another node of the cluster (only shown).
    pub(super) fn announce_presence_from(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        now: Now,
        out: &mut Outbox,
        here: bool,
    ) {
        let at_once = |chat: &mut Chat, event: Event, out: &mut Outbox| {
            if here {
                chat.broadcast(room, except, event, out);
            } else {
                chat.deliver(room, except, event, out);
            }
        };
        let (nick, arrived) = match &event {
            Event::Joined { nick, .. } | Event::Reconnected { nick, .. } => (nick.clone(), true),
            Event::Left { nick, .. } => (nick.clone(), false),
            _ => return at_once(self, event, out),
        };
        if !self.presence.pending(room)
            && self.rooms[room].size() <= self.settings.presence_max_room
            && self
                .presence
                .allow_line(room, now.mono, self.settings.presence_rate)
        {
            return at_once(self, event, out);
        }
        let (batch, opened) = self.presence.batch(room);
        if arrived {
            batch.joined.add(&nick);
        } else {
            batch.left.add(&nick);
        }
        if let Some(serial) = opened {
            self.timers.insert(
                now.mono + self.settings.presence_every,
                ChatTimer::PresenceDue { room, serial },
            );
        }
        if here {
            self.originated(&event, out);
        }
    }

    /// A room's summary is due: send it to the room (it is not stored; its events are).
    pub(super) fn presence_due(&mut self, room: RoomId, serial: u64, now: Now, out: &mut Outbox) {
        let Some(batch) = self.presence.take(room, serial) else {
            return; // the room emptied and went away, or a later room took its slot
        };
        let r = &self.rooms[room];
        let summary = PresenceSummary {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: r.name().clone(),
            joined: batch.joined.shown,
            joined_total: batch.joined.total,
            left: batch.left.shown,
            left_total: batch.left.total,
            members: r.connected(&self.sessions),
        };
        self.deliver(room, None, Event::Presence(summary), out);
    }
}
