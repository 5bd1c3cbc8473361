//! Several rooms at once: what a session that keeps rooms (IRC) asks about a room it names,
//! where a line-protocol user's commands act on its one current room.
//!
//! A join keeps the session's other rooms and a part leaves one (`Departure::Parted`); a message
//! names its room; a kick from a room removes its target from that room alone (a line-protocol
//! target, which must always be in a room, is moved to the lobby, or disconnected when kicked
//! from the lobby itself: PROTOCOL.md, "Kicks"). The lists (members, rooms, WHO, WHOIS) carry
//! addresses for the renderer to cloak or, for an operator, show.

use std::sync::Arc;

use super::context::Cx;
use super::event::{Bye, Departure, Event, Info, Member, Refusal};
use super::nick::cmp_nicks;
use super::room::{room_key, valid_room_name, MAX_ROOM_CHARS};
use super::{Chat, Output, RoomId, SessionId, LOBBY};

impl Chat {
    /// A room's member as lists with addresses show it.
    fn member(&self, sid: SessionId, room: Option<RoomId>) -> Member {
        let s = &self.sessions[sid];
        Member {
            nick: s.nick().clone(),
            ip: s.ip(),
            op: s.is_op(),
            room_op: room.is_some_and(|r| self.rooms[r].is_room_op(s.uid())),
            away: s.away().is_some(),
        }
    }

    /// The connected members of `room`, by name: the first `NAMES_MAX` of them.
    fn members_of(&self, room: RoomId) -> Vec<Member> {
        let mut members: Vec<Member> = self.rooms[room]
            .members()
            .iter()
            .filter(|&&m| self.sessions[m].is_connected())
            .map(|&m| self.member(m, Some(room)))
            .collect();
        if members.len() > NAMES_MAX {
            members.select_nth_unstable_by(NAMES_MAX, |a, b| cmp_nicks(&a.nick, &b.nick));
            members.truncate(NAMES_MAX);
        }
        members.sort_by(|a, b| cmp_nicks(&a.nick, &b.nick));
        members
    }

    /// What a session is told on coming into `room`: its topic and members.
    pub(super) fn entered(&self, room: RoomId) -> Info {
        let r = &self.rooms[room];
        Info::Entered {
            room: r.name().clone(),
            topic: r.topic().cloned(),
            topic_at: r.topic_changed(),
            members: self.members_of(room),
        }
    }

    /// The room a request names, which the asker must be in; refused otherwise.
    fn own_room(&self, cx: &mut Cx<'_>, name: &str) -> Option<RoomId> {
        let Some(room) = self.rooms.find(name) else {
            cx.refuse(Refusal::NoSuchRoom {
                room: Arc::from(name),
            });
            return None;
        };
        if !self.sessions[cx.sid].is_in(room) {
            let room = self.rooms[room].name().clone();
            cx.refuse(Refusal::NotInRoom { room });
            return None;
        }
        Some(room)
    }

    /// Whether the asker may act as an operator of `room`: a server operator, or one of the
    /// room's own.
    fn may_run(&self, sid: SessionId, room: RoomId) -> bool {
        let s = &self.sessions[sid];
        s.is_op() || self.rooms[room].is_room_op(s.uid())
    }

    /// Joins `name` keeping the other rooms; a room the session is already in is shown again
    /// (an IRC client rejoining after a reconnect expects its join echoed).
    pub(super) fn join_keeping(&mut self, cx: &mut Cx<'_>, name: &str) {
        if !valid_room_name(name) {
            return cx.refuse(Refusal::BadRoom {
                max_chars: MAX_ROOM_CHARS,
            });
        }
        let sid = cx.sid;
        if !self.sessions[sid].keeps_rooms() {
            // A line-protocol session is always in exactly one room: a join moves it.
            return self.join(cx, name);
        }
        if let Some(room) = self
            .rooms
            .find(name)
            .filter(|&r| self.sessions[sid].is_in(r))
        {
            // Already there: nothing to say (IRC servers ignore such a JOIN).
            self.sessions[sid].focus(room);
            return;
        }
        let max = self.settings.max_rooms_per_user;
        if self.sessions[sid].memberships().len() >= max {
            self.stats.rooms_per_user_refused += 1;
            return cx.refuse(Refusal::TooManyRooms { max });
        }
        let room = self.rooms.open(name);
        self.rooms.enter(room, sid, &mut self.sessions, cx.now.wall);
        self.sessions[sid].focus(room);
        cx.info(self.entered(room));
        self.ask_backlog(cx.conn, sid, cx.now, cx.out);
        let joined = Event::Joined {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: self.rooms[room].name().clone(),
            nick: self.sessions[sid].nick().clone(),
        };
        self.announce_presence(room, Some(sid), joined, cx.now, cx.out);
    }

    /// Leaves one room. A line-protocol session, which is always in one, goes to the lobby as
    /// `/part` takes it.
    pub(super) fn part_one(&mut self, cx: &mut Cx<'_>, name: &str, message: Option<&str>) {
        let Some(room) = self.own_room(cx, name) else {
            return;
        };
        if !self.sessions[cx.sid].keeps_rooms() {
            return self.join(cx, LOBBY);
        }
        let name = self.rooms[room].name().clone();
        let message: Option<Arc<str>> = message.map(Arc::from);
        self.rooms.leave(room, cx.sid, &mut self.sessions);
        cx.info(Info::Parted {
            room: name.clone(),
            message: message.clone(),
        });
        let left = Event::Left {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: name,
            nick: self.sessions[cx.sid].nick().clone(),
            how: Departure::Parted { message },
        };
        self.announce_presence(room, None, left, cx.now, cx.out);
        self.drop_room_if_empty(room, cx.out);
    }

    /// A message (or `/me`) to a room the asker names; `echo`: the asker gets its own copy, as
    /// IRC's echo-message asks.
    pub(super) fn say_in(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        text: &str,
        action: bool,
        echo: bool,
    ) {
        let Some(room) = self.own_room(cx, name) else {
            return;
        };
        self.sessions[cx.sid].focus(room);
        let s = &self.sessions[cx.sid];
        let (id, at) = (self.ids.next(cx.now.wall), cx.now.wall);
        let (room_name, from, text) = (
            self.rooms[room].name().clone(),
            s.nick().clone(),
            Arc::from(text),
        );
        let event = if action {
            Event::Action {
                id,
                at,
                room: room_name,
                from,
                text,
            }
        } else {
            Event::Message {
                id,
                at,
                room: room_name,
                from,
                text,
            }
        };
        self.stats.messages += 1;
        let except = (!echo).then_some(cx.sid);
        let guess = (!action).then(|| event.clone());
        self.broadcast(room, except, event, cx.out);
        if let Some(Event::Message { text, .. }) = guess {
            self.check_guess(cx.sid, room, &text, cx.now, cx.out);
        }
    }

    /// A room's members.
    pub(super) fn names(&mut self, cx: &mut Cx<'_>, name: &str) {
        let Some(room) = self.rooms.find(name) else {
            // IRC answers an unknown channel with an empty list, not an error.
            let room = Arc::from(name);
            return cx.info(Info::Members {
                room,
                members: Vec::new(),
            });
        };
        let info = Info::Members {
            room: self.rooms[room].name().clone(),
            members: self.members_of(room),
        };
        cx.info(info);
    }

    /// Every room, its count of connected members and its topic.
    pub(super) fn list_all(&mut self, cx: &mut Cx<'_>) {
        let mut rooms: Vec<(Arc<str>, usize, Option<Arc<str>>)> = self
            .rooms
            .iter()
            .map(|(_, r)| {
                let topic = r.topic().map(|(t, _)| t.clone());
                (r.name().clone(), r.connected(&self.sessions), topic)
            })
            .collect();
        rooms.sort_by(|a, b| cmp_nicks(&a.0, &b.0));
        cx.info(Info::RoomList { rooms });
    }

    /// A room's settings.
    pub(super) fn room_modes(&mut self, cx: &mut Cx<'_>, name: &str) {
        let Some(room) = self.rooms.find(name) else {
            let room = Arc::from(name);
            return cx.refuse(Refusal::NoSuchRoom { room });
        };
        let r = &self.rooms[room];
        let info = Info::RoomModes {
            room: r.name().clone(),
            topic_locked: r.topic_locked(),
            opened_at: r.opened_at(),
        };
        cx.info(info);
    }

    /// Shows or sets the topic of a room the asker names (locked topics are for the room's
    /// operators and the server's).
    pub(super) fn topic_in(&mut self, cx: &mut Cx<'_>, name: &str, text: Option<&str>) {
        let Some(room) = self.own_room(cx, name) else {
            return;
        };
        let Some(text) = text else {
            let r = &self.rooms[room];
            let info = Info::Topic {
                room: r.name().clone(),
                topic: r.topic().cloned(),
                at: r.topic_changed(),
            };
            return cx.info(info);
        };
        if self.rooms[room].topic_locked() && !self.may_run(cx.sid, room) {
            let room = self.rooms[room].name().clone();
            return cx.refuse(Refusal::TopicLocked { room });
        }
        self.sessions[cx.sid].focus(room);
        self.set_topic(cx, text);
    }

    /// Locks or unlocks a room's topic (IRC's `MODE #room +t`), for its operators.
    pub(super) fn lock_topic_in(&mut self, cx: &mut Cx<'_>, name: &str, locked: bool) {
        let Some(room) = self.own_room(cx, name) else {
            return;
        };
        if !self.may_run(cx.sid, room) {
            let room = self.rooms[room].name().clone();
            return cx.refuse(Refusal::NotRoomOperator { room });
        }
        let kept = self.rooms[room].lock_topic(locked, cx.now.wall);
        cx.out.keep(kept, self.settings.cluster);
        self.room_modes(cx, &self.rooms[room].name().clone());
    }

    /// Users whose name matches `mask` (a room's members for `#room`; `*` and `?` wildcards).
    pub(super) fn who(&mut self, cx: &mut Cx<'_>, mask: &str) {
        let reveal = self.sessions[cx.sid].is_op();
        let users = match self
            .rooms
            .find(mask.trim_start_matches('#'))
            .filter(|_| mask.starts_with('#'))
        {
            Some(room) => {
                let name = self.rooms[room].name().clone();
                self.members_of(room)
                    .into_iter()
                    .map(|m| (m, Some(name.clone())))
                    .collect()
            }
            None if mask.starts_with('#') => Vec::new(),
            None => {
                let mut users: Vec<(Member, Option<Arc<str>>)> = self
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.is_connected() && wildcard_match(mask, s.nick()))
                    .map(|(sid, s)| {
                        let room = s.current_room();
                        let name = room.map(|r| self.rooms[r].name().clone());
                        (self.member(sid, room), name)
                    })
                    .take(WHO_MAX)
                    .collect();
                users.sort_by(|a, b| cmp_nicks(&a.0.nick, &b.0.nick));
                users
            }
        };
        let mask = Arc::from(mask);
        cx.info(Info::Who {
            mask,
            users,
            reveal,
        });
    }

    /// One user: its address, every room it is in, idle time and away message.
    pub(super) fn whois_user(&mut self, cx: &mut Cx<'_>, nick: &str) {
        let Some(target) = self.sessions.find(nick) else {
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        let s = &self.sessions[target];
        let rooms = s
            .memberships()
            .iter()
            .map(|m| {
                let r = &self.rooms[m.room];
                (r.name().clone(), r.is_room_op(s.uid()))
            })
            .collect();
        let info = Info::WhoisUser {
            member: self.member(target, None),
            rooms,
            idle_secs: cx
                .now
                .mono
                .saturating_duration_since(s.last_active())
                .as_secs(),
            signon: s.since(),
            away: s.away().cloned(),
            reconnecting: !s.is_connected(),
            reveal: self.sessions[cx.sid].is_op(),
        };
        cx.info(info);
    }

    /// Which of `nicks` are online.
    pub(super) fn online_of(&mut self, cx: &mut Cx<'_>, nicks: &[&str]) {
        let nicks = nicks
            .iter()
            .filter_map(|n| self.sessions.find(n))
            .filter(|&sid| self.sessions[sid].is_connected())
            .map(|sid| self.sessions[sid].nick().clone())
            .collect();
        cx.info(Info::Online { nicks });
    }

    /// `nicks` with their addresses.
    pub(super) fn userhosts(&mut self, cx: &mut Cx<'_>, nicks: &[&str]) {
        let users = nicks
            .iter()
            .filter_map(|n| self.sessions.find(n))
            .map(|sid| self.member(sid, None))
            .collect();
        cx.info(Info::Userhosts { users });
    }

    /// Tells the asker's rooms that its away message changed (IRC's away-notify): to their
    /// members' connections only, never kept or stored.
    pub(super) fn tell_away(&mut self, cx: &mut Cx<'_>) {
        let s = &self.sessions[cx.sid];
        let (nick, message) = (s.nick().clone(), s.away().cloned());
        for m in s.memberships().to_vec() {
            let event = Event::AwayChanged {
                room: self.rooms[m.room].name().clone(),
                nick: nick.clone(),
                message: message.clone(),
            };
            if self.settings.cluster {
                // The other nodes mark it in their `/users` and tell their IRC clients.
                cx.out.items.push(Output::Publish(event.clone()));
            }
            self.tell_away_in(m.room, Some(cx.sid), event, cx.out);
        }
    }

    /// An away change (`event`) for the members of `room` but `except` whose clients show such
    /// changes: IRC's; line users are not sent an empty line.
    pub(super) fn tell_away_in(
        &self,
        room: RoomId,
        except: Option<SessionId>,
        event: Event,
        out: &mut super::Outbox,
    ) {
        let start = out.recipients.len();
        let sessions = &self.sessions;
        out.recipients.extend(
            self.rooms[room]
                .members()
                .iter()
                .filter(|&&member| Some(member) != except)
                .filter(|&&member| sessions[member].keeps_rooms())
                .filter_map(|&member| sessions[member].conn()),
        );
        let end = out.recipients.len();
        if end > start {
            out.items.push(Output::ToMany { start, end, event });
        }
    }

    /// Removes `nick` from one room, for the room's operators (and the server's). The room sees
    /// the kick, its target included; a line-protocol target goes to the lobby, or is
    /// disconnected when kicked from the lobby (it must always be in a room).
    pub(super) fn kick_from_room(
        &mut self,
        cx: &mut Cx<'_>,
        name: &str,
        nick: &str,
        reason: Option<&str>,
    ) {
        let Some(room) = self.own_room(cx, name) else {
            return;
        };
        if !self.may_run(cx.sid, room) {
            let room = self.rooms[room].name().clone();
            return cx.refuse(Refusal::NotRoomOperator { room });
        }
        let room_name = self.rooms[room].name().clone();
        let Some(target) = self
            .sessions
            .find(nick)
            .filter(|&t| self.sessions[t].is_in(room))
        else {
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::TargetNotInRoom {
                nick,
                room: room_name,
            });
        };
        let by = self.sessions[cx.sid].nick().clone();
        let reason: Option<Arc<str>> = reason.map(Arc::from);
        let t = &self.sessions[target];
        let (target_nick, keeps_rooms) = (t.nick().clone(), t.keeps_rooms());
        log::info!(
            nick:% = target_nick,
            by:% = by,
            room:% = room_name;
            "kicked from a room"
        );
        self.stats.kicks += 1;
        let how = Departure::Kicked {
            by: by.clone(),
            reason: reason.clone(),
        };
        let in_lobby = room_key(&room_name) == room_key(LOBBY);
        let held = !self.sessions[target].is_connected();
        if !keeps_rooms && (in_lobby || held) {
            // A line-protocol user kicked from the lobby has nowhere to go, and one away for a
            // reconnect would come back in no room: a server kick.
            if let Some(conn) = self.sessions[target].conn() {
                self.sessions.close_conn(conn);
                let bye = Some(Bye::Kicked { by, reason });
                cx.out.items.push(Output::Close { conn, bye });
            }
            return self.end_session(target, how, cx.now, cx.out);
        }
        let kicked = Event::Left {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: room_name,
            nick: target_nick,
            how,
        };
        self.broadcast(room, None, kicked, cx.out);
        self.rooms.leave(room, target, &mut self.sessions);
        // A held IRC user's replay no longer reads the room.
        self.sessions.forget_replay_of(target, room);
        self.drop_room_if_empty(room, cx.out);
        if !keeps_rooms {
            if let Some(conn) = self.sessions[target].conn() {
                let mut target_cx = Cx {
                    conn,
                    sid: target,
                    now: cx.now,
                    out: cx.out,
                };
                self.enter_lobby(&mut target_cx);
            }
        }
    }

    /// Puts a line-protocol session that lost its room into the lobby, as a `/join lobby`.
    fn enter_lobby(&mut self, cx: &mut Cx<'_>) {
        let room = self.rooms.open(LOBBY);
        self.rooms
            .enter(room, cx.sid, &mut self.sessions, cx.now.wall);
        let joined = Event::Joined {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            room: self.rooms[room].name().clone(),
            nick: self.sessions[cx.sid].nick().clone(),
        };
        self.announce_presence(room, Some(cx.sid), joined, cx.now, cx.out);
        let room = self.rooms[room].name().clone();
        cx.info(Info::NowInRoom { room });
    }
}

/// At most this many users answer one WHO by name: a `WHO *` on a big server must not cost
/// O(users) of output to every asker.
const WHO_MAX: usize = 200;

/// At most this many members are listed for one room (a join's NAMES, NAMES, WHO #room): with
/// their hosts (userhost-in-names) about 50 KB, within the output queue's caps, where a
/// 5,000-member lobby listed whole would get its asker dropped as a slow reader.
const NAMES_MAX: usize = 1000;

/// IRC's mask match: `*` any run of characters, `?` one; case-insensitive.
fn wildcard_match(mask: &str, name: &str) -> bool {
    let mask: Vec<char> = mask.to_lowercase().chars().collect();
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let (mut m, mut n, mut star, mut mark) = (0, 0, None, 0);
    while n < name.len() {
        if m < mask.len() && (mask[m] == '?' || mask[m] == name[n]) {
            m += 1;
            n += 1;
        } else if m < mask.len() && mask[m] == '*' {
            star = Some(m);
            mark = n;
            m += 1;
        } else if let Some(s) = star {
            m = s + 1;
            mark += 1;
            n = mark;
        } else {
            return false;
        }
    }
    mask[m..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;
    use crate::chat::testing::*;
    use crate::chat::*;

    fn say<'a>(room: &'a str, text: &'a str) -> Request<'a> {
        Request::Say {
            room,
            text,
            action: false,
            echo: false,
        }
    }

    #[test]
    fn a_session_that_keeps_rooms_starts_in_none_and_joins_several() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.register(2, "bob");
        assert!(matches!(
            h.delivered_to(2)[..],
            [Event::Info(Info::Registered { .. })]
        ));
        h.request(2, Request::Join { room: "lobby" });
        h.request(2, Request::Join { room: "side" });
        assert!(h.delivered_to(2).iter().any(|e| matches!(e,
            Event::Info(Info::Entered { room, members, .. }) if &**room == "side"
                && members.len() == 1 && members[0].room_op)));
        h.request(2, say("lobby", "to the lobby"));
        assert!(h
            .delivered_to(1)
            .iter()
            .any(|e| is_message(e, "to the lobby")));
        h.request(2, say("side", "to the side"));
        assert!(h.delivered_to(1).is_empty());
        // A line command runs in the room it names.
        h.request(
            2,
            Request::Command {
                room: Some("side"),
                line: "/users",
            },
        );
        assert!(h.delivered_to(2).iter().any(|e| matches!(e,
            Event::Info(Info::Users { room, .. }) if &**room == "side")));
        h.request(
            2,
            Request::Part {
                room: "side",
                message: None,
            },
        );
        h.request(
            2,
            Request::Part {
                room: "lobby",
                message: Some("bye"),
            },
        );
        // In no room: commands that need one are refused, the others run.
        assert_eq!(
            refusal_of(&h.request(
                2,
                Request::Command {
                    room: None,
                    line: "/history"
                }
            )),
            Some(Refusal::NoRoomYet)
        );
        h.request(
            2,
            Request::Command {
                room: None,
                line: "/help",
            },
        );
        assert!(matches!(h.delivered_to(2)[..], [Event::Info(Info::Help)]));
        h.line(1, "/whois bob");
        h.request(2, Request::Nick("robert"));
        h.request(2, Request::Away(Some("out")));
        h.line(1, "/invite robert lobby");
        h.request(
            2,
            Request::Command {
                room: None,
                line: "/accept-invite",
            },
        );
        h.request(2, say("lobby", "back via the invitation"));
        assert!(h
            .delivered_to(1)
            .iter()
            .any(|e| is_message(e, "back via the invitation")));
    }

    #[test]
    fn a_held_session_in_no_room_comes_back_by_either_protocol() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.register(2, "bob");
        h.disconnect(2);
        // Back by the line protocol: a line user is always in a room, the lobby.
        h.connect(3, ip(2));
        h.line(3, "bob");
        assert!(h
            .delivered_to(3)
            .iter()
            .any(|e| matches!(e, Event::Info(Info::Welcome { .. }))));
        h.line(3, "now a line user");
        assert!(h
            .delivered_to(1)
            .iter()
            .any(|e| is_message(e, "now a line user")));
        // And by IRC again, keeping that room.
        h.disconnect(3);
        h.connect(4, ip(2));
        h.out.clear();
        h.chat.register(ConnId(4), "bob", None, h.now, &mut h.out);
        h.chat.check_invariants().unwrap();
        assert!(h.delivered_to(4).iter().any(|e| matches!(e,
            Event::Info(Info::Entered { room, .. }) if &**room == "lobby")));
    }

    #[test]
    fn a_room_kick_moves_a_line_user_and_only_room_operators_may() {
        let mut h = Harness::new();
        h.login(1, "op"); // a server operator (first user)
        h.register(2, "bob");
        h.request(2, Request::Join { room: "den" }); // bob: the den's operator
        h.login(3, "carol");
        h.line(3, "/join den");
        h.register(4, "dave");
        h.request(4, Request::Join { room: "den" });
        let kick = |nick| Request::Kick {
            room: "den",
            nick,
            reason: None,
        };
        assert_eq!(
            refusal_of(&h.request(4, kick("carol"))),
            Some(Refusal::NotRoomOperator { room: "den".into() })
        );
        h.request(2, kick("carol"));
        assert!(h
            .delivered_to(3)
            .iter()
            .any(|e| matches!(e, Event::Info(Info::NowInRoom { room }) if &**room == "lobby")));
        h.request(2, kick("dave"));
        // dave keeps the session, in no room now.
        h.request(4, Request::Join { room: "den" });
        // Kicked from the lobby (by a server operator: nobody else runs it), a line user has
        // nowhere to go: disconnected.
        h.register(5, "eve");
        h.request(5, Request::Join { room: "lobby" });
        h.line(1, "/join lobby");
        h.request(5, Request::BecomeOperator);
        let out = h.request(
            5,
            Request::Kick {
                room: "lobby",
                nick: "carol",
                reason: None,
            },
        );
        assert!(out
            .iter()
            .any(|o| matches!(o, Output::Close { conn, .. } if conn.0 == 3)));
    }

    #[test]
    fn masks_match_as_irc_servers_match_them() {
        assert!(wildcard_match("*", "alice"));
        assert!(wildcard_match("al*", "Alice"));
        assert!(wildcard_match("?lice", "alice"));
        assert!(wildcard_match("*i*e", "alice"));
        assert!(!wildcard_match("bob", "alice"));
        assert!(!wildcard_match("al?", "alice"));
        assert!(wildcard_match("민*", "민수"));
    }

    #[test]
    fn commands_of_the_current_room_are_refused_in_none() {
        let mut h = Harness::new();
        h.register(1, "bob");
        for line in [
            "/files",
            "/score",
            "/decline 1",
            "/history",
            "/topic",
            "/users",
        ] {
            let out = h.request(1, Request::Command { room: None, line });
            assert_eq!(refusal_of(&out), Some(Refusal::NoRoomYet), "{line}");
        }
        // A plain line from such a session (no protocol sends one) is refused the same way.
        assert_eq!(refusal_of(&h.line(1, "hello")), Some(Refusal::NoRoomYet));
    }

    #[test]
    fn a_held_user_kicked_from_a_room_that_then_closes_comes_back_whole() {
        let mut h = Harness::new();
        h.register(1, "op");
        h.request(1, Request::Join { room: "den" });
        h.register(2, "bob");
        h.request(2, Request::Join { room: "den" });
        h.disconnect(2);
        h.request(
            1,
            Request::Kick {
                room: "den",
                nick: "bob",
                reason: None,
            },
        );
        h.request(
            1,
            Request::Part {
                room: "den",
                message: None,
            },
        );
        h.connect(3, ip(2));
        h.out.clear();
        h.chat.register(ConnId(3), "bob", None, h.now, &mut h.out);
        h.chat.check_invariants().unwrap();
        // A held line user kicked from a room would come back in none: its session ends.
        h.login(4, "carol");
        h.line(4, "/join side");
        h.request(1, Request::Join { room: "side" });
        h.disconnect(4);
        h.request(1, Request::BecomeOperator);
        h.request(
            1,
            Request::Kick {
                room: "side",
                nick: "carol",
                reason: None,
            },
        );
        assert!(h.chat.sessions.find("carol").is_none());
    }

    #[test]
    fn an_irc_session_back_by_the_line_protocol_keeps_one_room() {
        let mut h = Harness::new();
        h.login(9, "alice");
        h.register(2, "bob");
        h.request(2, Request::Join { room: "a" });
        h.request(2, Request::Join { room: "b" });
        h.disconnect(2);
        h.connect(3, ip(2));
        h.line(3, "bob");
        let bob = h.chat.sessions.find("bob").unwrap();
        assert_eq!(h.chat.sessions[bob].memberships().len(), 1);
        h.line(3, "/join a");
        h.line(3, "/quit");
    }

    #[test]
    fn nobody_runs_the_lobby_by_being_first_and_rooms_per_user_are_capped() {
        let mut h = Harness::with(ChatSettings {
            max_rooms_per_user: 2,
            first_user_op: false,
            ..settings()
        });
        h.register(1, "eve");
        h.request(1, Request::Join { room: "lobby" });
        h.login(2, "carol");
        let out = h.request(
            1,
            Request::Kick {
                room: "lobby",
                nick: "carol",
                reason: None,
            },
        );
        assert_eq!(
            refusal_of(&out),
            Some(Refusal::NotRoomOperator {
                room: "lobby".into()
            })
        );
        h.request(1, Request::Join { room: "two" });
        let out = h.request(1, Request::Join { room: "three" });
        assert_eq!(refusal_of(&out), Some(Refusal::TooManyRooms { max: 2 }));
        // Away changes go to IRC members only.
        h.login(3, "dave");
        h.line(2, "/away lunch");
        assert_eq!(h.out.recipients, vec![ConnId(1)], "{:?}", h.out.items);
    }

    #[test]
    fn a_big_rooms_list_is_bounded() {
        let mut h = Harness::with(ChatSettings {
            presence_max_room: 10_000,
            ..settings()
        });
        for i in 0..1200 {
            h.connect(10 + i, ip((i % 200) as u8));
            h.line(10 + i, &format!("u{i}"));
        }
        h.register(1, "bob");
        h.request(1, Request::Join { room: "lobby" });
        let listed = h.delivered_to(1).iter().find_map(|e| match e {
            Event::Info(Info::Entered { members, .. }) => Some(members.len()),
            _ => None,
        });
        assert_eq!(listed, Some(super::NAMES_MAX));
    }
}
