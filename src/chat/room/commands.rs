//! What users type about rooms: `/join ROOM`, `/part`, `/rooms`, `/users`, `/topic [text]`,
//! `/topiclock on|off`.

use std::sync::Arc;

use super::room_key;
use crate::chat::context::Cx;
use crate::chat::event::{Departure, Event, Info, Refusal, UserEntry};
use crate::chat::nick::cmp_nicks;
use crate::chat::{Chat, Output};

/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 32;

/// Room names follow the nickname alphabet: letters and digits of any script, `_`, `-`, `.`.
pub fn valid_room_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_ROOM_CHARS).contains(&count)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Chat {
    /// `/join ROOM` (and `/part`, which is `/join lobby`): the user leaves the current room for
    /// `name`, which is made if new.
    pub(in crate::chat) fn join(&mut self, cx: &mut Cx<'_>, name: &str) {
        if self.sessions[cx.sid].keeps_rooms() {
            // Its other rooms stay (IRC): the room is added.
            return self.join_keeping(cx, name);
        }
        if !valid_room_name(name) {
            return cx.refuse(Refusal::BadRoom {
                max_chars: MAX_ROOM_CHARS,
            });
        }
        let (sid, now) = (cx.sid, cx.now);
        let old = self.sessions[sid].room();
        if room_key(self.rooms[old].name()) == room_key(name) {
            let room = self.rooms[old].name().clone();
            return cx.refuse(Refusal::AlreadyThere { room });
        }
        let new = self.rooms.open(name);
        let new_name = self.rooms[new].name().clone();
        let nick = self.sessions[sid].nick().clone();
        self.rooms.leave(old, sid, &mut self.sessions);
        let left = Event::Left {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[old].name().clone(),
            nick: nick.clone(),
            how: Departure::Moved {
                to: new_name.clone(),
            },
        };
        self.announce_presence(old, None, left, now, cx.out);
        self.drop_room_if_empty(old, cx.out);
        self.rooms.enter(new, sid, &mut self.sessions, now.wall);
        self.ask_backlog(cx.conn, sid, cx.now, cx.out);
        let joined = Event::Joined {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: new_name.clone(),
            nick,
        };
        self.announce_presence(new, Some(sid), joined, now, cx.out);
        cx.info(Info::NowInRoom { room: new_name });
        let room = &self.rooms[new];
        if let Some((topic, _)) = room.topic() {
            let topic = topic.clone();
            cx.info(Info::TopicOnJoin { topic });
        }
        if room.size() > self.settings.presence_max_room {
            // Listing a big room to every arrival would cost O(members) per /join.
            let members = room.connected(&self.sessions);
            let room = room.name().clone();
            cx.info(Info::UserCount { room, members });
        } else {
            self.list_users(cx);
        }
    }

    /// `/rooms`: every room with the count of its connected members, by name: the users
    /// `/users` would list there, so the two never disagree (users held for a reconnect keep a
    /// room in the list but are not counted).
    pub(in crate::chat) fn list_rooms(&mut self, cx: &mut Cx<'_>) {
        if self.settings.cluster {
            // The other nodes' rooms are read from Redis first (`Chat::rooms_listed`).
            cx.out
                .items
                .push(Output::ListRoomsElsewhere { conn: cx.conn });
            return;
        }
        let rooms = self.rooms_with(Vec::new());
        cx.info(Info::Rooms { rooms });
    }

    /// Every room here with its users (the cluster's, for a room this node has members in),
    /// and the rooms of `elsewhere` that are not, sorted by name.
    pub(in crate::chat) fn rooms_with(
        &self,
        elsewhere: Vec<(Arc<str>, usize)>,
    ) -> Vec<(Arc<str>, usize)> {
        let mut rooms: Vec<(Arc<str>, usize)> = self
            .rooms
            .iter()
            .map(|(_, r)| (r.name().clone(), r.connected(&self.sessions)))
            .collect();
        rooms.extend(
            elsewhere
                .into_iter()
                .filter(|(name, _)| self.rooms.find(name).is_none()),
        );
        rooms.sort_by(|a, b| cmp_nicks(&a.0, &b.0));
        rooms
    }

    /// `/users`: the live members of the caller's room; users held for a reconnect are not shown.
    pub(in crate::chat) fn list_users(&mut self, cx: &mut Cx<'_>) {
        let room = &self.rooms[self.sessions[cx.sid].room()];
        let mut users: Vec<UserEntry> = room
            .members()
            .iter()
            .map(|&m| &self.sessions[m])
            .filter(|s| s.is_connected())
            .map(|s| UserEntry {
                nick: s.nick().clone(),
                op: s.is_op(),
                away: s.away().is_some(),
            })
            .collect();
        // The cluster's other nodes' users in the room (their operator marks stay on their
        // nodes; `/whois` shows them).
        users.extend(room.remote().map(|m| UserEntry {
            nick: m.nick.clone(),
            op: false,
            away: m.away,
        }));
        users.sort_by(|a, b| cmp_nicks(&a.nick, &b.nick));
        let room = room.name().clone();
        cx.info(Info::Users { room, users });
    }

    /// `/topic` without text.
    pub(in crate::chat) fn show_topic(&mut self, cx: &mut Cx<'_>) {
        let room = &self.rooms[self.sessions[cx.sid].room()];
        let info = Info::Topic {
            room: room.name().clone(),
            topic: room.topic().cloned(),
            at: room.topic_changed(),
        };
        cx.info(info);
    }

    /// `/topic text`: anyone may, unless an operator locked the topic.
    pub(in crate::chat) fn set_topic(&mut self, cx: &mut Cx<'_>, text: &str) {
        let s = &self.sessions[cx.sid];
        let room_id = s.room();
        let room = &mut self.rooms[room_id];
        if room.topic_locked() && !s.is_op() {
            let room = room.name().clone();
            return cx.refuse(Refusal::TopicLocked { room });
        }
        let topic: Arc<str> = Arc::from(text);
        let kept = room.set_topic(topic.clone(), s.nick().clone(), cx.now.wall);
        // Not shared: the topic travels to the other nodes as the room's TopicSet event. (A
        // shared copy would carry this node's lock as well, undoing a lock set elsewhere that
        // has not arrived yet.)
        cx.out.keep(kept, false);
        let event = Event::TopicSet {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: room.name().clone(),
            by: s.nick().clone(),
            topic,
        };
        self.broadcast(room_id, None, event, cx.out);
    }

    /// `/topiclock on|off`, for operators.
    pub(in crate::chat) fn lock_topic(&mut self, cx: &mut Cx<'_>, locked: bool) {
        let s = &self.sessions[cx.sid];
        if !s.is_op() {
            return cx.refuse(Refusal::NotOperator);
        }
        let room = &mut self.rooms[s.room()];
        let kept = room.lock_topic(locked, cx.now.wall);
        cx.out.keep(kept, self.settings.cluster);
        let info = Info::TopicLock {
            room: room.name().clone(),
            locked,
        };
        cx.info(info);
    }
}
