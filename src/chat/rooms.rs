//! Rooms: joining and leaving, listing, topics.

use std::sync::Arc;

use super::{
    cmp_nicks, room_key, Chat, ConnId, Departure, Event, Info, Now, Outbox, Refusal, SessionId,
    UserEntry,
};

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
    /// `/join ROOM` (and `/part`, which is `/join lobby`).
    pub(super) fn join(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        name: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        if !valid_room_name(name) {
            let refusal = Refusal::BadRoom {
                max_chars: MAX_ROOM_CHARS,
            };
            return out.send(conn, Event::Refused(refusal));
        }
        let old = self.sessions[sid].room;
        if room_key(&self.rooms[old].name) == room_key(name) {
            let room = self.rooms[old].name.clone();
            return out.send(conn, Event::Refused(Refusal::AlreadyThere { room }));
        }
        let new = self.room_for(name);
        let new_name = self.rooms[new].name.clone();
        let nick = self.sessions[sid].nick.clone();
        self.remove_member(old, self.sessions[sid].room_slot);
        let left = Event::Left {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[old].name.clone(),
            nick: nick.clone(),
            how: Departure::Moved {
                to: new_name.clone(),
            },
        };
        self.announce_presence(old, None, left, now, out);
        self.drop_room_if_empty(old);
        self.add_member(new, sid);
        self.ask_backlog(conn, sid, out);
        let joined = Event::Joined {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: new_name.clone(),
            nick,
        };
        self.announce_presence(new, Some(sid), joined, now, out);
        out.send(conn, Event::Info(Info::NowInRoom { room: new_name }));
        if let Some((topic, _)) = &self.rooms[new].topic {
            let topic = topic.clone();
            out.send(conn, Event::Info(Info::TopicOnJoin { topic }));
        }
        let members = self.rooms[new].members.len();
        if members > self.settings.presence_max_room {
            // Listing a big room to every arrival would cost O(members) per /join.
            let room = self.rooms[new].name.clone();
            let members = self.connected_members(new);
            out.send(conn, Event::Info(Info::UserCount { room, members }));
        } else {
            self.list_users(conn, sid, out);
        }
    }

    pub(super) fn list_rooms(&mut self, conn: ConnId, out: &mut Outbox) {
        let mut rooms: Vec<(Arc<str>, usize)> = self
            .rooms
            .iter()
            .map(|(_, r)| (r.name.clone(), r.members.len()))
            .collect();
        rooms.sort_by(|a, b| cmp_nicks(&a.0, &b.0));
        out.send(conn, Event::Info(Info::Rooms { rooms }));
    }

    /// `/users`: the live members of the caller's room; users held for a reconnect are not shown.
    pub(super) fn list_users(&mut self, conn: ConnId, sid: SessionId, out: &mut Outbox) {
        let room = self.sessions[sid].room;
        let mut users: Vec<UserEntry> = self.rooms[room]
            .members
            .iter()
            .map(|&m| &self.sessions[m])
            .filter(|s| s.conn.is_some())
            .map(|s| UserEntry {
                nick: s.nick.clone(),
                op: s.op,
                away: s.away.is_some(),
            })
            .collect();
        users.sort_by(|a, b| cmp_nicks(&a.nick, &b.nick));
        let room = self.rooms[room].name.clone();
        out.send(conn, Event::Info(Info::Users { room, users }));
    }

    pub(super) fn show_topic(&mut self, conn: ConnId, sid: SessionId, out: &mut Outbox) {
        let room = &self.rooms[self.sessions[sid].room];
        let info = Info::Topic {
            room: room.name.clone(),
            topic: room.topic.clone(),
        };
        out.send(conn, Event::Info(info));
    }

    pub(super) fn set_topic(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        text: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        let s = &self.sessions[sid];
        let room_id = s.room;
        let room = &mut self.rooms[room_id];
        if room.topic_locked && !s.op {
            let room = room.name.clone();
            return out.send(conn, Event::Refused(Refusal::TopicLocked { room }));
        }
        let topic: Arc<str> = Arc::from(text);
        room.topic = Some((topic.clone(), s.nick.clone()));
        let event = Event::TopicSet {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: room.name.clone(),
            by: s.nick.clone(),
            topic,
        };
        self.broadcast(room_id, None, event, out);
    }

    pub(super) fn lock_topic(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        locked: bool,
        out: &mut Outbox,
    ) {
        let s = &self.sessions[sid];
        if !s.op {
            return out.send(conn, Event::Refused(Refusal::NotOperator));
        }
        let room = &mut self.rooms[s.room];
        room.topic_locked = locked;
        let info = Info::TopicLock {
            room: room.name.clone(),
            locked,
        };
        out.send(conn, Event::Info(info));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        for ok in ["games", "한국어방", "a", "dev-ops.2", "x_y"] {
            assert!(valid_room_name(ok), "{ok}");
        }
        let long = "r".repeat(MAX_ROOM_CHARS + 1);
        for bad in ["", "a/b", "two words", "#chan", "a\u{200b}b", long.as_str()] {
            assert!(!valid_room_name(bad), "{bad}");
        }
    }
}
