//! How sessions end: a lost connection holds the session for the grace period, `/quit`, the end of
//! the grace and an operator's kick end it for good.

use std::sync::Arc;

use log::info;

use crate::chat::context::Cx;
use crate::chat::event::{Bye, Departure, Event, LostReason, UnixMillis};
use crate::chat::id::MsgId;
use crate::chat::{Chat, ChatTimer, ConnId, Now, Outbox, Output, SessionId};

impl Chat {
    /// The connection is gone (or being dropped) without `/quit`. A logged-in user's session is
    /// held for the grace period and its rooms are told. Calling it for an unknown or already
    /// detached connection does nothing.
    pub fn disconnect(&mut self, conn: ConnId, reason: LostReason, now: Now, out: &mut Outbox) {
        // A half-uploaded file is never offered.
        self.files.upload_ended(conn);
        self.claims.forget(conn);
        let Some(sid) = self.sessions.forget_conn(conn).and_then(|e| e.session) else {
            return;
        };
        let until = now.mono + self.settings.grace;
        let generation = self.sessions.hold(sid, until);
        let nick = self.sessions[sid].nick.clone();
        info!(nick:% = nick, reason = reason.name(); "lost the connection");
        self.announce_in_rooms(sid, now, out, |id, at, room| Event::Left {
            id,
            at,
            room,
            nick: nick.clone(),
            how: Departure::Lost { reason },
        });
        // The replay starts after the loss was announced: its owner knows it left.
        let since = self.sessions[sid]
            .memberships()
            .iter()
            .map(|m| (m.room, self.rooms[m.room].recent().end()))
            .collect();
        self.sessions.start_replay_at(sid, since);
        self.timers.insert(
            until,
            ChatTimer::GraceEnds {
                session: sid,
                generation,
            },
        );
        let ip = self.sessions[sid].ip();
        self.end_held_over_caps(ip, now, out);
    }

    /// Ends held sessions while `--max-held-per-ip` (for `ip`) or `--max-held` is passed, the
    /// oldest first, announced as if their grace had run out: a client that reconnects in a loop
    /// under fresh names holds no more than the caps.
    fn end_held_over_caps(&mut self, ip: std::net::IpAddr, now: Now, out: &mut Outbox) {
        let (per_ip, total) = (self.settings.max_held_per_ip, self.settings.max_held);
        while let Some(oldest) = self.sessions.over_held_caps(ip, per_ip, total) {
            self.stats.held_dropped += 1;
            info!(
                nick:% = self.sessions[oldest].nick;
                "no longer held: too many held sessions"
            );
            let how = Departure::GraceExpired {
                grace_secs: self.settings.grace.as_secs(),
            };
            self.end_session(oldest, how, now, out);
        }
    }

    /// Announces an arrival or a loss of `sid` in every room it is in (to everyone but itself),
    /// the event built by `make` from each room's id, time and name.
    pub(super) fn announce_in_rooms(
        &mut self,
        sid: SessionId,
        now: Now,
        out: &mut Outbox,
        make: impl Fn(MsgId, UnixMillis, Arc<str>) -> Event,
    ) {
        for m in self.sessions[sid].rooms.clone() {
            let name = self.rooms[m.room].name().clone();
            let event = make(self.ids.next(now.wall), now.wall, name);
            self.announce_presence(m.room, Some(sid), event, now, out);
        }
    }

    /// `/quit [message]`.
    pub(in crate::chat) fn quit(&mut self, cx: &mut Cx<'_>, message: Option<&str>) {
        let nick = self.sessions[cx.sid].nick.clone();
        info!(nick:% = nick, message = message.unwrap_or(""); "quit");
        self.sessions.close_conn(cx.conn);
        cx.out.items.push(Output::Close {
            conn: cx.conn,
            bye: Some(Bye::Quit { nick }),
        });
        let how = Departure::Quit {
            message: message.map(Into::into),
        };
        self.end_session(cx.sid, how, cx.now, cx.out);
    }

    /// A held session's grace timer fired: unless it came back since, it ends.
    pub(in crate::chat) fn grace_ends(
        &mut self,
        sid: SessionId,
        generation: u64,
        now: Now,
        out: &mut Outbox,
    ) {
        if !self.sessions.grace_is_current(sid, generation) {
            return; // resumed, or the slot was reused: a stale timer
        }
        self.stats.grace_expired += 1;
        info!(nick:% = self.sessions[sid].nick; "did not reconnect in time");
        let how = Departure::GraceExpired {
            grace_secs: self.settings.grace.as_secs(),
        };
        self.end_session(sid, how, now, out);
    }

    /// Removes a session for good: frees its name, tells its rooms, drops a room left empty.
    pub(in crate::chat) fn end_session(
        &mut self,
        sid: SessionId,
        how: Departure,
        now: Now,
        out: &mut Outbox,
    ) {
        let rooms = self.sessions[sid].rooms.clone();
        for room in &rooms {
            self.rooms.leave(room.room, sid, &mut self.sessions);
        }
        let s = self.sessions.remove(sid);
        if self.settings.cluster {
            out.items.push(Output::ReleaseNick { key: s.key.clone() });
        }
        self.departed.push((s.nick.clone(), s.ip));
        self.invites.forget(s.uid);
        // Operator actions are announced on their own even in a big room.
        let kicked = matches!(how, Departure::Kicked { .. });
        for room in rooms {
            let event = Event::Left {
                id: self.ids.next(now.wall),
                at: now.wall,
                room: self.rooms[room.room].name().clone(),
                nick: s.nick.clone(),
                how: how.clone(),
            };
            if kicked {
                self.broadcast(room.room, None, event, out);
            } else {
                self.announce_presence(room.room, None, event, now, out);
            }
            self.drop_room_if_empty(room.room, out);
        }
    }
}
