//! Talking to people rather than rooms: `/me`, whispers, renames, away and `/whois`.

use std::sync::Arc;

use super::{nick, Chat, ConnId, Event, Info, Now, Outbox, Refusal, SessionId};

impl Chat {
    pub(super) fn me(&mut self, sid: SessionId, text: &str, now: Now, out: &mut Outbox) {
        let room = self.sessions[sid].room;
        let event = Event::Action {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name.clone(),
            from: self.sessions[sid].nick.clone(),
            text: Arc::from(text),
        };
        self.stats.messages += 1;
        self.broadcast(room, Some(sid), event, out);
    }

    pub(super) fn whisper(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        to: &str,
        text: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(target) = self.find_session(to) else {
            let nick = Arc::from(to);
            return out.send(conn, Event::Refused(Refusal::NoSuchUser { nick }));
        };
        if target == sid {
            return out.send(conn, Event::Refused(Refusal::BadTarget));
        }
        let text: Arc<str> = Arc::from(text);
        let to_nick = self.sessions[target].nick.clone();
        let event = Event::Whisper {
            id: self.ids.next(now.wall),
            at: now.wall,
            from: self.sessions[sid].nick.clone(),
            to: to_nick.clone(),
            text: text.clone(),
        };
        self.stats.whispers += 1;
        let held = self.sessions[target].conn.is_none();
        self.deliver_to_session(target, event, out);
        out.send(
            conn,
            Event::Info(Info::WhisperSent {
                to: to_nick.clone(),
                text,
            }),
        );
        if held {
            out.send(
                conn,
                Event::Info(Info::WhisperHeld {
                    nick: to_nick.clone(),
                }),
            );
        }
        if let Some(message) = self.sessions[target].away.clone() {
            out.send(
                conn,
                Event::Info(Info::TargetAway {
                    nick: to_nick,
                    message,
                }),
            );
        }
    }

    pub(super) fn rename(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        new: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        if let Err(why) = nick::validate(new) {
            return out.send(conn, Event::Refused(Refusal::NickInvalid(why)));
        }
        let key = nick::collision_key(new);
        if let Some(minutes_left) = self.bans.name_banned(&key, now.mono) {
            let nick = Arc::from(new);
            return out.send(
                conn,
                Event::Refused(Refusal::NickBanned { nick, minutes_left }),
            );
        }
        if let Some(&other) = self.nicks.get(&key) {
            if other != sid {
                let o = &self.sessions[other];
                let refusal = match &o.held {
                    Some(held) => Refusal::NickHeld {
                        nick: o.nick.clone(),
                        secs_left: held
                            .until
                            .saturating_duration_since(now.mono)
                            .as_secs()
                            .max(1),
                        wrong_key: false,
                    },
                    None => Refusal::NickTaken {
                        nick: Arc::from(new),
                        lookalike: o.nick.to_lowercase() != new.to_lowercase(),
                    },
                };
                return out.send(conn, Event::Refused(refusal));
            }
        }
        let new: Arc<str> = Arc::from(new);
        let s = &mut self.sessions[sid];
        let old = std::mem::replace(&mut s.nick, new.clone());
        let old_key = std::mem::replace(&mut s.key, key.clone());
        let room = s.room;
        self.nicks.remove(&old_key);
        self.nicks.insert(key, sid);
        log::info!("{old} is now known as {new}");
        out.send(conn, Event::Info(Info::NickChanged { nick: new.clone() }));
        let event = Event::Renamed {
            id: self.ids.next(now.wall),
            at: now.wall,
            room: self.rooms[room].name.clone(),
            old,
            new,
        };
        self.broadcast(room, Some(sid), event, out);
    }

    pub(super) fn away(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        message: Option<&str>,
        out: &mut Outbox,
    ) {
        let s = &mut self.sessions[sid];
        let reply = match (message, s.away.is_some()) {
            (None, true) => {
                s.away = None;
                Info::AwayCleared
            }
            (message, _) => {
                let message: Arc<str> = Arc::from(message.unwrap_or("away"));
                s.away = Some(message.clone());
                Info::AwaySet { message }
            }
        };
        out.send(conn, Event::Info(reply));
    }

    pub(super) fn whois(&mut self, conn: ConnId, nick: &str, now: Now, out: &mut Outbox) {
        let Some(target) = self.find_session(nick) else {
            let nick = Arc::from(nick);
            return out.send(conn, Event::Refused(Refusal::NoSuchUser { nick }));
        };
        let s = &self.sessions[target];
        let info = Info::Whois {
            nick: s.nick.clone(),
            room: self.rooms[s.room].name.clone(),
            idle_secs: now.mono.saturating_duration_since(s.last_active).as_secs(),
            away: s.away.clone(),
            op: s.op,
            reconnecting: s.conn.is_none(),
        };
        out.send(conn, Event::Info(info));
    }
}
