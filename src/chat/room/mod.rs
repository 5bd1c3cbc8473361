//! Rooms: their members, topics, and how a room event reaches everyone in it.
//!
//! Membership is a relation between sessions and rooms: a room lists its members, and each
//! session lists its rooms with its place in each member list, so joining and leaving are O(1)
//! and a session may be in several rooms at once. The line protocol keeps every user in exactly
//! one room (its first membership is where its plain lines go); other protocols may hold more.
//! [`commands`] holds what users type about rooms (`/join`, `/rooms`, `/users`, `/topic`).

mod commands;
pub mod recent;
mod topics;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use slab::Slab;

use super::cluster::{RemoteMember, RoomChange};
use super::event::Event;
use super::kept::{Kept, KeptTopic};
use super::nick::collision_key;
use super::session::{Membership, Sessions};
use super::{Chat, Outbox, Output, RoomId, SessionId, UnixMillis};
use recent::Recent;
use topics::KeptTopics;

pub use commands::{valid_room_name, MAX_ROOM_CHARS};

/// The case-insensitive key of a room name (rooms and their history are matched by it).
pub fn room_key(name: &str) -> String {
    name.to_lowercase()
}

/// One room.
#[derive(Debug)]
pub struct Room {
    name: Arc<str>,
    members: Vec<SessionId>,
    /// The topic and who set it.
    topic: Option<(Arc<str>, Arc<str>)>,
    topic_locked: bool,
    /// When the topic or its lock last changed (what `--max-kept-topics` drops by).
    topic_changed: UnixMillis,
    /// What the room was told lately: the one copy replays read.
    recent: Recent,
    /// The uids of the room's own operators: its first member, and whoever they make one.
    /// Server operators are operators of every room without being listed.
    room_ops: Vec<u64>,
    /// When its first member came in (IRC's channel creation time).
    opened_at: UnixMillis,
    /// Users of the cluster's other nodes in the room, by nickname key (see `chat::cluster`).
    remote: HashMap<String, RemoteMember>,
}

impl Room {
    /// The name as it was first spelled.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Every member, live or held for a reconnect.
    pub fn members(&self) -> &[SessionId] {
        &self.members
    }

    /// The topic and who set it.
    pub fn topic(&self) -> Option<&(Arc<str>, Arc<str>)> {
        self.topic.as_ref()
    }

    /// Sets the topic; returns the change to keep.
    pub fn set_topic(&mut self, topic: Arc<str>, by: Arc<str>, at: UnixMillis) -> Kept {
        self.topic = Some((topic, by));
        self.topic_changed = at;
        Kept::Topic(self.kept_topic())
    }

    pub fn topic_locked(&self) -> bool {
        self.topic_locked
    }

    /// Locks or unlocks the topic; returns the change to keep (unlocking a room without a
    /// topic leaves nothing to keep).
    pub fn lock_topic(&mut self, locked: bool, at: UnixMillis) -> Kept {
        self.topic_locked = locked;
        self.topic_changed = at;
        if self.has_topic() {
            Kept::Topic(self.kept_topic())
        } else {
            Kept::TopicForgotten {
                room: room_key(&self.name),
            }
        }
    }

    /// The topic and lock as kept across a restart.
    fn kept_topic(&self) -> KeptTopic {
        KeptTopic {
            room: room_key(&self.name),
            name: self.name.clone(),
            topic: self.topic.clone(),
            locked: self.topic_locked,
            changed: self.topic_changed,
        }
    }

    /// Whether there is a topic or lock to keep when the room closes.
    fn has_topic(&self) -> bool {
        self.topic.is_some() || self.topic_locked
    }

    /// Whether the session with `uid` is one of the room's own operators.
    pub fn is_room_op(&self, uid: u64) -> bool {
        self.room_ops.contains(&uid)
    }

    /// When the topic or its lock last changed.
    pub fn topic_changed(&self) -> UnixMillis {
        self.topic_changed
    }

    /// When its first member came in.
    pub fn opened_at(&self) -> UnixMillis {
        self.opened_at
    }

    /// What the room was told lately (see [`recent`]).
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    /// Members with a live connection (those `/users` lists), on this node and the cluster's
    /// others.
    pub fn connected(&self, sessions: &Sessions) -> usize {
        self.members
            .iter()
            .filter(|&&m| sessions[m].is_connected())
            .count()
            + self.remote.len()
    }

    /// Members here and on the cluster's other nodes, live or held: what makes a room big.
    pub fn size(&self) -> usize {
        self.members.len() + self.remote.len()
    }

    /// The users of other nodes in the room.
    pub fn remote(&self) -> impl Iterator<Item = &RemoteMember> {
        self.remote.values()
    }

    pub(in crate::chat) fn add_remote(&mut self, nick: Arc<str>, node: u16) {
        let member = RemoteMember {
            nick,
            node,
            away: false,
        };
        self.remote.insert(collision_key(&member.nick), member);
    }

    /// A user of another node renamed: the away mark follows.
    pub(in crate::chat) fn rename_remote(&mut self, old: &str, new: Arc<str>, node: u16) {
        let away = self
            .remote
            .remove(&collision_key(old))
            .is_some_and(|m| m.away);
        let member = RemoteMember {
            nick: new,
            node,
            away,
        };
        self.remote.insert(collision_key(&member.nick), member);
    }

    pub(in crate::chat) fn set_remote_away(&mut self, nick: &str, away: bool) {
        if let Some(member) = self.remote.get_mut(&collision_key(nick)) {
            member.away = away;
        }
    }

    pub(in crate::chat) fn remove_remote(&mut self, nick: &str) {
        self.remote.remove(&collision_key(nick));
    }

    /// Removes the users of `nodes`; returns their names, sorted.
    pub(in crate::chat) fn remove_remote_of(&mut self, nodes: &[u16]) -> Vec<Arc<str>> {
        let mut gone = Vec::new();
        self.remote.retain(|_, m| {
            let keep = !nodes.contains(&m.node);
            if !keep {
                gone.push(m.nick.clone());
            }
            keep
        });
        gone.sort_by(|a, b| crate::chat::nick::cmp_nicks(a, b));
        gone
    }

    /// Whether the user with collision key `key` of node `node` is in the room.
    pub(in crate::chat) fn has_remote(&self, key: &str, node: u16) -> bool {
        self.remote.get(key).is_some_and(|m| m.node == node)
    }

    pub(in crate::chat) fn clear_remote(&mut self) {
        self.remote.clear();
    }
}

/// Every room, by id and by name, and the recent lines of rooms nobody is in.
#[derive(Debug, Default)]
pub struct Rooms {
    slab: Slab<Room>,
    by_key: HashMap<String, RoomId>,
    /// The recent lines of rooms that closed (or were loaded at start), by key, the most recently
    /// used last; at most `idle_max` (`--recent-rooms`). A room opened again takes its ring back.
    idle: VecDeque<(String, Recent)>,
    idle_max: usize,
    /// Keys of rooms that may have lines on disk older than any ring holds (history is on and
    /// the room has spoken before): their rings start incomplete.
    on_disk: HashSet<String>,
    history_enabled: bool,
    /// Topics of closed rooms, for their return (`--max-kept-topics`).
    topics: KeptTopics,
    /// In a cluster, rooms opened and closed since the cluster link last asked (see
    /// `chat::cluster`); nothing is recorded otherwise.
    track_changes: bool,
    changes: Vec<RoomChange>,
}

crate::chat::index_by_id!(Rooms, RoomId, Room);

impl Rooms {
    pub fn new(history_enabled: bool, idle_max: usize, max_topics: usize) -> Self {
        Rooms {
            history_enabled,
            idle_max,
            topics: KeptTopics::new(max_topics),
            ..Rooms::default()
        }
    }

    /// Records rooms opening and closing for the cluster link.
    pub fn track_changes(&mut self) {
        self.track_changes = true;
    }

    /// The rooms opened and closed since the last call, in order.
    pub fn take_changes(&mut self, into: &mut Vec<RoomChange>) {
        into.append(&mut self.changes);
    }

    /// The topics kept from before a restart: every room is closed then, so each waits for its
    /// room to open. (The store loads at most `--max-kept-topics`, newest first.)
    pub fn load_topics(&mut self, kept: Vec<KeptTopic>) {
        for topic in kept.into_iter().filter(|t| t.topic.is_some() || t.locked) {
            self.topics.keep(topic);
        }
    }

    /// A topic lock another node of the cluster set or lifted (shared with the topic as it
    /// was there): the room's now if it is open here, kept for its opening otherwise. The lock
    /// is taken as it comes; the topic only if it is newer than the room's own (topics travel
    /// as the rooms' events). Returns the closed rooms whose topics were dropped to make room
    /// (`--max-kept-topics`).
    pub fn topic_from_elsewhere(&mut self, kept: KeptTopic) -> Vec<String> {
        if let Some(id) = self.find(&kept.name) {
            let room = &mut self.slab[id];
            room.topic_locked = kept.locked;
            if kept.changed >= room.topic_changed {
                room.topic = kept.topic;
                room.topic_changed = kept.changed;
            }
            Vec::new()
        } else if kept.topic.is_some() || kept.locked {
            self.topics.keep(kept)
        } else {
            self.topics.take(&kept.room);
            Vec::new()
        }
    }

    /// Loads a room's newest lines from the disk at start (`all`: they are all it has); the room
    /// opens with them. `on_disk` names every room with history, loaded or not.
    pub fn seed(&mut self, from_disk: recent::RecentRooms, limits: recent::RecentLimits) {
        self.on_disk = from_disk.on_disk;
        for (key, events, all) in from_disk.loaded.into_iter().take(self.idle_max) {
            let mut ring = Recent::new(false);
            ring.seed(events, all, limits);
            self.idle.push_back((key, ring));
        }
    }

    /// A new room's ring: its own from before, if kept; else an empty one, complete unless the
    /// disk may hold older lines.
    fn ring_for(&mut self, key: &str) -> Recent {
        match self.idle.iter().position(|(k, _)| k == key) {
            Some(at) => self
                .idle
                .remove(at)
                .map(|(_, ring)| ring)
                .unwrap_or_default(),
            None => Recent::new(!(self.history_enabled && self.on_disk.contains(key))),
        }
    }

    /// A closed room's ring is kept for its return, the least recently used dropped first.
    fn keep_ring(&mut self, key: String, ring: Recent) {
        if self.history_enabled && ring.end() > 0 {
            self.on_disk.insert(key.clone());
        }
        if self.idle_max == 0 {
            return;
        }
        if self.idle.len() >= self.idle_max {
            self.idle.pop_front();
        }
        self.idle.push_back((key, ring));
    }

    pub fn get(&self, id: RoomId) -> Option<&Room> {
        self.slab.get(id)
    }

    /// Rooms that exist now (a room exists while it has members).
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (RoomId, &Room)> {
        self.slab.iter()
    }

    /// The room with this name, compared case-insensitively.
    pub fn find(&self, name: &str) -> Option<RoomId> {
        self.by_key.get(&room_key(name)).copied()
    }

    /// The room with this name, made (empty) if there is none.
    pub fn open(&mut self, name: &str) -> RoomId {
        let key = room_key(name);
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let recent = self.ring_for(&key);
        let kept = self.topics.take(&key);
        let id = self.slab.insert(Room {
            name: Arc::from(name),
            members: Vec::new(),
            topic: kept.as_ref().and_then(|k| k.topic.clone()),
            topic_locked: kept.as_ref().is_some_and(|k| k.locked),
            topic_changed: kept.as_ref().map_or(0, |k| k.changed),
            recent,
            room_ops: Vec::new(),
            opened_at: 0,
            remote: HashMap::new(),
        });
        self.by_key.insert(key, id);
        if self.track_changes {
            self.changes.push(RoomChange {
                room: self.slab[id].name.clone(),
                open: true,
            });
        }
        id
    }

    /// Adds a session to a room's members; the room becomes its current one if it has none.
    /// The first member of a room that had none is its operator (IRC clients and bots expect
    /// that of a channel they made), and the room counts as opened `at`.
    pub fn enter(&mut self, room: RoomId, sid: SessionId, sessions: &mut Sessions, at: UnixMillis) {
        let r = &mut self.slab[room];
        if r.members.is_empty() {
            // The lobby is everyone's first room: being first into it makes nobody its
            // operator (only the server's operators run it).
            if room_key(&r.name) != room_key(super::LOBBY) {
                r.room_ops = vec![sessions[sid].uid()];
            }
            r.opened_at = at;
        }
        let members = &mut self.slab[room].members;
        let slot = members.len();
        members.push(sid);
        sessions[sid]
            .memberships_mut()
            .push(Membership { room, slot });
    }

    /// Removes a session from a room's members (the room stays, even empty: see
    /// [`Chat::drop_room_if_empty`]).
    pub fn leave(&mut self, room: RoomId, sid: SessionId, sessions: &mut Sessions) {
        let memberships = sessions[sid].memberships_mut();
        let Some(at) = memberships.iter().position(|m| m.room == room) else {
            return;
        };
        let slot = memberships.remove(at).slot;
        let uid = sessions[sid].uid();
        self.slab[room].room_ops.retain(|&op| op != uid);
        let members = &mut self.slab[room].members;
        members.swap_remove(slot);
        if let Some(&moved) = members.get(slot) {
            let m = sessions[moved].memberships_mut();
            if let Some(entry) = m.iter_mut().find(|m| m.room == room) {
                entry.slot = slot;
            }
        }
    }

    /// Removes a room that has no members left, keeping its topic for its return; returns
    /// whether it did, and the rooms whose kept topics were dropped to make room.
    fn close_if_empty(&mut self, room: RoomId) -> Option<Vec<String>> {
        if !self.slab[room].members.is_empty() {
            return None;
        }
        let room = self.slab.remove(room);
        let key = room_key(&room.name);
        self.by_key.remove(&key);
        if self.track_changes {
            self.changes.push(RoomChange {
                room: room.name.clone(),
                open: false,
            });
        }
        let forgotten = if room.has_topic() {
            self.topics.keep(room.kept_topic())
        } else {
            Vec::new()
        };
        self.keep_ring(key, room.recent);
        Some(forgotten)
    }

    /// The rooms' state against the invariants (for `Chat::check_invariants`): every member
    /// points back at its place, no session is listed twice in one room, no room is empty, and
    /// the name index matches.
    pub fn check(&self, sessions: &Sessions, limits: recent::RecentLimits) -> Result<(), String> {
        for (rid, room) in self.slab.iter() {
            if room.members.is_empty() {
                return Err(format!("room {} is empty but exists", room.name));
            }
            if self.by_key.get(&room_key(&room.name)) != Some(&rid) {
                return Err(format!("room {} is missing from the index", room.name));
            }
            for (slot, &sid) in room.members.iter().enumerate() {
                let Some(s) = sessions.get(sid) else {
                    return Err(format!("room {} lists a missing session {sid}", room.name));
                };
                let back = Membership { room: rid, slot };
                if s.memberships().iter().filter(|&&m| m == back).count() != 1 {
                    return Err(format!(
                        "{} is listed in {} at the wrong place",
                        s.nick(),
                        room.name
                    ));
                }
            }
        }
        for (sid, s) in sessions.iter() {
            if s.memberships().is_empty() && !s.keeps_rooms() {
                return Err(format!("{} is in no room", s.nick()));
            }
            if s.memberships().len() > 1 && !s.keeps_rooms() {
                return Err(format!("{} is a line user in several rooms", s.nick()));
            }
            let mut rooms: Vec<RoomId> = s.memberships().iter().map(|m| m.room).collect();
            rooms.sort_unstable();
            if rooms.windows(2).any(|w| w[0] == w[1]) {
                return Err(format!("{} is in a room twice", s.nick()));
            }
            for m in s.memberships() {
                let listed = self.slab.get(m.room).and_then(|r| r.members.get(m.slot));
                if listed != Some(&sid) {
                    return Err(format!(
                        "{} thinks it is in a room that does not list it",
                        s.nick()
                    ));
                }
            }
        }
        if self.by_key.len() != self.slab.len() {
            return Err("the room index has stale entries".into());
        }
        for (_, room) in self.slab.iter() {
            room.recent
                .check(limits)
                .map_err(|e| format!("room {}: {e}", room.name))?;
        }
        Ok(())
    }
}

impl Chat {
    /// Sends a room event to every live member of `room` but `except`, keeps it in the room's
    /// recent lines (which members held for a reconnect replay) and stores it in the room's
    /// history.
    pub(super) fn broadcast(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        out: &mut Outbox,
    ) {
        // Every broadcast is a room event that happened here.
        self.originated(&event, out);
        self.deliver(room, except, event, out);
    }

    /// A room event that happened on this node: the room's history keeps it, and the cluster's
    /// other nodes are sent it (the node where an event happens is the one that stores and
    /// publishes it).
    pub(super) fn originated(&self, event: &Event, out: &mut Outbox) {
        if self.settings.history_enabled {
            out.items.push(Output::Store(event.clone()));
        }
        if self.settings.cluster {
            out.items.push(Output::Publish(event.clone()));
        }
    }

    /// [`Chat::broadcast`] without storing: for lines that only summarise stored events.
    pub(super) fn deliver(
        &mut self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        out: &mut Outbox,
    ) {
        let start = out.recipients.len();
        let sessions = &self.sessions;
        out.recipients.extend(
            self.rooms[room]
                .members()
                .iter()
                .filter(|&&member| Some(member) != except)
                .filter_map(|&member| sessions[member].conn()),
        );
        let end = out.recipients.len();
        let order = self.next_order();
        let limits = self.settings.recent_limits();
        if end > start {
            self.rooms[room].recent.push(order, event.clone(), limits);
            out.items.push(Output::ToMany { start, end, event });
        } else {
            self.rooms[room].recent.push(order, event, limits);
        }
    }

    /// A room with nobody left goes away, and with it its round of the game and its pending
    /// presence summary.
    pub(in crate::chat) fn drop_room_if_empty(&mut self, room: RoomId, out: &mut Outbox) {
        if let Some(forgotten) = self.rooms.close_if_empty(room) {
            self.games.room_closed(room);
            self.presence.room_closed(room);
            for room in forgotten {
                log::info!(room:% = room; "topic forgotten (--max-kept-topics)");
                self.stats.topics_dropped += 1;
                out.keep(Kept::TopicForgotten { room }, self.settings.cluster);
            }
        }
    }
}
