//! A connection's first line: a new session, a resumed one, or a refusal that leaves the
//! connection at the nickname prompt.

use std::net::IpAddr;
use std::sync::Arc;

use log::info;

use super::{is_resume_key_shaped, Held, NewSession};
use crate::chat::cluster::MovedSession;
use crate::chat::event::{Bye, Departure, Event, Info, Refusal};
use crate::chat::nick::{self, cmp_nicks};
use crate::chat::{Chat, ConnId, Now, Outbox, Output, SessionId, LOBBY, WELCOME_NAMES_MAX};

/// A login's connection, name and key, and whether its protocol keeps several rooms.
struct Login<'a> {
    conn: ConnId,
    ip: IpAddr,
    name: &'a str,
    key: Option<&'a str>,
    keeps_rooms: bool,
}

impl Chat {
    pub(in crate::chat) fn login(
        &mut self,
        conn: ConnId,
        ip: IpAddr,
        line: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        // "alice <key>" reclaims a held name; any other line with a space is a (bad) nickname, so
        // "john smith" is refused rather than silently becoming "john".
        let (name, key) = match line.split_once(' ') {
            Some((name, key)) if is_resume_key_shaped(key) => (name, Some(key)),
            _ => (line, None),
        };
        let login = Login {
            conn,
            ip,
            name,
            key,
            keeps_rooms: false,
        };
        self.log_in(login, now, out);
    }

    /// A login by a protocol that names the nickname and the resume key apart (IRC's NICK and
    /// PASS) and whose sessions keep several rooms: refused, new (in no room) or resumed as a
    /// line login is.
    pub fn register(
        &mut self,
        conn: ConnId,
        name: &str,
        key: Option<&str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(entry) = self.sessions.entry(conn) else {
            return;
        };
        if entry.session.is_some() {
            return;
        }
        let key = key.filter(|k| is_resume_key_shaped(k));
        let login = Login {
            conn,
            ip: entry.ip,
            name,
            key,
            keeps_rooms: true,
        };
        self.log_in(login, now, out);
    }

    fn log_in(&mut self, login: Login<'_>, now: Now, out: &mut Outbox) {
        let Login {
            conn,
            ip,
            name,
            key,
            keeps_rooms,
        } = login;
        if self.claims.is_waiting(conn) {
            return; // its name is being claimed: the answer decides
        }
        if let Some(minutes_left) = self.bans.address_banned(ip, now.mono) {
            info!(ip:% = ip; "login refused: banned address");
            self.sessions.forget_conn(conn);
            let bye = Some(Bye::Banned { minutes_left });
            out.items.push(Output::Close { conn, bye });
            return;
        }
        if let Err(why) = nick::validate(name) {
            return self.refuse_login(conn, Refusal::NickInvalid(why), out);
        }
        let collision = nick::collision_key(name);
        // Before the session lookup: a reserved name can never be held, so refusing it first
        // also refuses "server <key>" without looking for a session that cannot exist.
        if self.settings.reserved_nicks.reserves(&collision) {
            info!(nick = name, ip:% = ip; "login refused: reserved nickname");
            self.stats.reserved_nicks += 1;
            let nick = Arc::from(name);
            return self.refuse_login(conn, Refusal::NickReserved { nick }, out);
        }
        if let Some(minutes_left) = self.bans.name_banned(&collision, now.mono) {
            let nick = Arc::from(name);
            return self.refuse_login(conn, Refusal::NickBanned { nick, minutes_left }, out);
        }
        let Some(sid) = self.sessions.by_key(&collision) else {
            let new = NewSession {
                conn,
                ip,
                nick: Arc::from(name),
                key: collision,
                resume_key: key,
                keeps_rooms,
                at: now.wall,
            };
            if self.settings.cluster {
                return self.claim_for_login(new, out);
            }
            return self.new_session(new, now, out);
        };
        let s = &self.sessions[sid];
        let key_ok = key.is_some_and(|k| k == &*s.resume_key);
        match (s.conn, s.held_secs_left(now.mono)) {
            (None, Some(secs_left)) => {
                if key_ok || s.ip == ip {
                    self.resume(conn, ip, sid, keeps_rooms, now, out);
                } else {
                    let refusal = Refusal::NickHeld {
                        nick: s.nick.clone(),
                        secs_left,
                        wrong_key: key.is_some(),
                    };
                    self.refuse_login(conn, refusal, out);
                }
            }
            (Some(old), _) if key_ok => {
                // The old connection is probably dead and not yet noticed: the key holder takes over.
                info!(nick:% = s.nick; "resumed from a new connection, closing the old one");
                self.sessions.detach_conn(old);
                out.items.push(Output::Close {
                    conn: old,
                    bye: Some(Bye::ResumedElsewhere),
                });
                self.resume(conn, ip, sid, keeps_rooms, now, out);
            }
            _ => {
                let lookalike = s.nick.to_lowercase() != name.to_lowercase();
                let refusal = Refusal::NickTaken {
                    nick: Arc::from(name),
                    lookalike,
                };
                self.refuse_login(conn, refusal, out);
            }
        }
    }

    pub(in crate::chat) fn refuse_login(
        &mut self,
        conn: ConnId,
        refusal: Refusal,
        out: &mut Outbox,
    ) {
        self.stats.refused_logins += 1;
        out.send(conn, Event::Refused(refusal));
        out.send(conn, Event::Info(Info::NickPrompt));
    }

    /// A session for a name nobody holds. The resume key the login gave is kept only when it is
    /// an operator's grant coming back (after a restart, or after its session ended), so that
    /// operator's client resumes as before and is operator again.
    pub(in crate::chat) fn new_session(
        &mut self,
        mut new: NewSession<'_>,
        now: Now,
        out: &mut Outbox,
    ) {
        let (conn, ip, nick) = (new.conn, new.ip, new.nick.clone());
        let keeps_rooms = new.keeps_rooms;
        new.resume_key = new.resume_key.filter(|k| self.granted_op(&new.key, k, out));
        let granted = new.resume_key.is_some();
        let first = !granted && self.first_user_op();
        let sid = self.sessions.insert(new, granted || first, now.mono);
        if granted {
            info!(nick:% = nick; "operator again (kept grant)");
        }
        if first {
            info!(nick:% = nick; "operator: the first user of an empty server (--first-user-op)");
            self.record_grant(sid, now, out);
        }
        self.stats.logins += 1;
        info!(nick:% = nick, ip:% = ip; "logged in");
        out.items.push(Output::LoggedIn { conn });
        if keeps_rooms {
            // In no room until it joins one, as IRC clients expect.
            out.send(conn, Event::Info(self.registered(sid, false)));
            return;
        }
        let room = self.rooms.open(LOBBY);
        self.rooms.enter(room, sid, &mut self.sessions, now.wall);
        out.send(conn, Event::Info(self.welcome(sid, false)));
        self.ask_backlog(conn, sid, now, out);
        let event = Event::Joined {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name().clone(),
            nick,
        };
        self.announce_presence(room, Some(sid), event, now, out);
    }

    /// A session another node let go to this one (its user logged in here with its resume
    /// key; see `cluster::moves`): it goes on here in the rooms it was in, a line user in its
    /// current one, and every node sees it reconnect. What it missed is not replayed, which
    /// its user is told.
    pub(in crate::chat) fn moved_here(
        &mut self,
        new: NewSession<'_>,
        moved: MovedSession,
        now: Now,
        out: &mut Outbox,
    ) {
        let (conn, ip, keeps_rooms) = (new.conn, new.ip, new.keeps_rooms);
        let nick = new.nick.clone();
        let sid = self.sessions.insert(new, moved.op, now.mono);
        self.sessions[sid].set_away(moved.away);
        self.stats.moved_in += 1;
        info!(nick:% = nick, ip:% = ip, from = moved.node; "resumed a session another node let go");
        out.items.push(Output::LoggedIn { conn });
        let mut rooms = moved.rooms.into_iter();
        let kept: Vec<Arc<str>> = if keeps_rooms {
            rooms.by_ref().collect()
        } else {
            rooms.next().into_iter().collect()
        };
        for name in &kept {
            let room = self.rooms.open(name);
            // A room open here knew the user as the other node's member.
            self.rooms[room].remove_remote(&nick);
            self.rooms.enter(room, sid, &mut self.sessions, now.wall);
        }
        // A line user back in one of several rooms leaves the others, everywhere.
        for room in rooms {
            out.items.push(Output::Publish(Event::Left {
                id: self.ids.next(now.wall),
                at: now.wall,
                room,
                nick: nick.clone(),
                how: Departure::Parted { message: None },
            }));
        }
        if keeps_rooms {
            self.registered_again(conn, sid, out);
        } else {
            if self.sessions[sid].current_room().is_none() {
                let lobby = self.rooms.open(LOBBY);
                self.rooms.enter(lobby, sid, &mut self.sessions, now.wall);
            }
            out.send(conn, Event::Info(self.welcome(sid, true)));
            self.ask_backlog(conn, sid, now, out);
        }
        out.send(conn, Event::Info(Info::ReplayUnavailable));
        self.announce_in_rooms(sid, now, out, |id, at, room| Event::Reconnected {
            id,
            at,
            room,
            nick: nick.clone(),
        });
    }

    fn resume(
        &mut self,
        conn: ConnId,
        ip: IpAddr,
        sid: SessionId,
        keeps_rooms: bool,
        now: Now,
        out: &mut Outbox,
    ) {
        let mut held = self.sessions.attach(conn, sid, ip);
        self.stats.resumes += 1;
        let nick = self.sessions[sid].nick.clone();
        info!(nick:% = nick, ip:% = ip; "reconnected");
        out.items.push(Output::LoggedIn { conn });
        self.sessions[sid].set_keeps_rooms(keeps_rooms);
        if keeps_rooms {
            // Its client learns the rooms it is still in as joins, then what it missed.
            self.registered_again(conn, sid, out);
        } else {
            if self.sessions[sid].current_room().is_none() {
                // Back by the line protocol from a session that was in no room: the lobby.
                let lobby = self.rooms.open(LOBBY);
                self.rooms.enter(lobby, sid, &mut self.sessions, now.wall);
            }
            // A line user is in exactly one room: back from one that was in several, it keeps
            // its current one and leaves the others.
            let current = self.sessions[sid].room();
            let others: Vec<_> = self.sessions[sid].memberships()[1..]
                .iter()
                .map(|m| m.room)
                .collect();
            if let Some(h) = held.as_mut() {
                h.since.retain(|&mut (r, _)| r == current);
            }
            for room in others {
                self.rooms.leave(room, sid, &mut self.sessions);
                let left = Event::Left {
                    id: self.ids.next(now.wall),
                    at: now.wall,
                    room: self.rooms[room].name().clone(),
                    nick: nick.clone(),
                    how: Departure::Parted { message: None },
                };
                self.announce_presence(room, None, left, now, out);
                self.drop_room_if_empty(room, out);
            }
            out.send(conn, Event::Info(self.welcome(sid, true)));
            // A returning page or client shows the room as a fresh login does: its recent lines
            // up to where this session left off, then what it missed since.
            let room = self.sessions[sid].room();
            let left_off = held
                .as_ref()
                .and_then(|h| h.since.iter().find(|&&(r, _)| r == room))
                .map_or_else(|| self.rooms[room].recent().end(), |&(_, at)| at);
            self.backlog_before(conn, sid, room, left_off, now, out);
        }
        // A takeover of a live session has nothing to replay and nothing to announce.
        let Some(held) = held else {
            return;
        };
        let (missed, total) = self.replay(&held);
        out.send(
            conn,
            Event::Info(Info::MissedHeader {
                shown: missed.len(),
                total,
            }),
        );
        if total > 0 {
            for event in missed {
                out.send(conn, event);
            }
            out.send(conn, Event::Info(Info::MissedEnd));
        }
        self.announce_in_rooms(sid, now, out, |id, at, room| Event::Reconnected {
            id,
            at,
            room,
            nick: nick.clone(),
        });
    }

    /// What a returning session missed, oldest first: its rooms' recent lines since it was lost
    /// and its own lines, merged in delivery order, the newest `--replay-max` of them; and how
    /// many it missed in all.
    fn replay(&self, held: &Held) -> (Vec<Event>, usize) {
        let mut total = held.own_total;
        let mut lines: Vec<(u64, &Event)> = held.own.iter().map(|(o, e)| (*o, e)).collect();
        for &(room, from) in &held.since {
            let recent = self.rooms[room].recent();
            total += usize::try_from(recent.end() - from).unwrap_or(usize::MAX);
            lines.extend(recent.since(from).map(|k| (k.order, &k.event)));
        }
        lines.sort_unstable_by_key(|&(order, _)| order);
        let newest = lines.len().saturating_sub(self.settings.replay_max);
        let missed = lines[newest..].iter().map(|&(_, e)| e.clone()).collect();
        (missed, total)
    }

    /// A resumed session that keeps rooms (IRC) is registered again, then told each of its
    /// rooms as joined.
    fn registered_again(&self, conn: ConnId, sid: SessionId, out: &mut Outbox) {
        out.send(conn, Event::Info(self.registered(sid, true)));
        for m in self.sessions[sid].memberships() {
            out.send(conn, Event::Info(self.entered(m.room)));
        }
    }

    /// What a session that keeps rooms is told when it logs in or resumes.
    fn registered(&self, sid: SessionId, resumed: bool) -> Info {
        let s = &self.sessions[sid];
        Info::Registered {
            nick: s.nick.clone(),
            rules: self.settings.rules.clone(),
            resumed,
            online_total: self.who_is_online(0).0,
            rooms_total: self.rooms.len(),
            // Counted on small servers only: a crowd registering must not cost O(users²).
            operators: if self.sessions.live() > self.settings.presence_max_room {
                0
            } else {
                self.sessions
                    .iter()
                    .filter(|(_, s)| s.op && s.is_connected())
                    .count()
            },
            op: s.op && !resumed,
            resume_key: s.resume_key.clone(),
            grace_secs: self.settings.grace.as_secs(),
        }
    }

    fn welcome(&self, sid: SessionId, resumed: bool) -> Info {
        let s = &self.sessions[sid];
        // On a big server the welcome gives the count alone: collecting names would cost every
        // login O(users), so a crowd arriving would cost O(users²).
        let (online_total, mut online) = self.who_is_online(self.settings.presence_max_room);
        let room = &self.rooms[s.room()];
        // Only the first names alphabetically are listed: select them in O(n), then sort those few.
        if online.len() > WELCOME_NAMES_MAX {
            online.select_nth_unstable_by(WELCOME_NAMES_MAX, |a, b| cmp_nicks(a, b));
            online.truncate(WELCOME_NAMES_MAX);
        }
        online.sort_by(|a, b| cmp_nicks(a, b));
        Info::Welcome {
            nick: s.nick.clone(),
            room: room.name().clone(),
            rules: self.settings.rules.clone(),
            resumed,
            topic: room.topic().map(|(t, _)| t.clone()),
            online,
            online_total,
            op: s.op && !resumed,
            resume_key: s.resume_key.clone(),
            grace_secs: self.settings.grace.as_secs(),
        }
    }
}
