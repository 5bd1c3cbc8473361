//! Talking: messages and `/me` to the room, whispers to one user, renames, away and `/whois`.

use std::sync::Arc;

use super::context::Cx;
use super::event::{Event, Info, Refusal, UnixMillis};
use super::id::MsgId;
use super::{nick, Chat, ConnId, Now, Outbox, RoomId, SessionId};

/// Builds a room event from its id, time, room, sender and text.
type MakeTalk = fn(MsgId, UnixMillis, Arc<str>, Arc<str>, Arc<str>) -> Event;

impl Chat {
    /// A line that is not a command: a message to the user's room (and maybe a game guess).
    pub(super) fn say(&mut self, cx: &mut Cx<'_>, text: &str) {
        let room = self.tell_room(cx, text, |id, at, room, from, text| Event::Message {
            id,
            at,
            room,
            from,
            text,
        });
        self.check_guess(cx.sid, room, text, cx.now, cx.out);
    }

    /// `/me action`.
    pub(super) fn me(&mut self, cx: &mut Cx<'_>, text: &str) {
        self.tell_room(cx, text, |id, at, room, from, text| Event::Action {
            id,
            at,
            room,
            from,
            text,
        });
    }

    /// What the user wrote, as the event `make` builds, to everyone else in the user's room;
    /// returns the room.
    fn tell_room(&mut self, cx: &mut Cx<'_>, text: &str, make: MakeTalk) -> RoomId {
        let s = &self.sessions[cx.sid];
        let room = s.room();
        let event = make(
            self.ids.next(cx.now.wall),
            cx.now.wall,
            self.rooms[room].name().clone(),
            s.nick().clone(),
            Arc::from(text),
        );
        self.stats.messages += 1;
        self.broadcast(room, Some(cx.sid), event, cx.out);
        room
    }

    /// `/msg NICK text`: to the target's connection, or kept for its return if it is held.
    pub(super) fn whisper(&mut self, cx: &mut Cx<'_>, to: &str, text: &str) {
        let Some(target) = self.sessions.find(to) else {
            if self.settings.cluster && nick::validate(to).is_ok() {
                // Perhaps a user of another node: the cluster link finds out.
                return self.whisper_elsewhere(cx, to, text);
            }
            let nick = Arc::from(to);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        if target == cx.sid {
            return cx.refuse(Refusal::BadTarget);
        }
        let text: Arc<str> = Arc::from(text);
        let to_nick = self.sessions[target].nick().clone();
        let (id, at) = (self.ids.next(cx.now.wall), cx.now.wall);
        let event = Event::Whisper {
            id,
            at,
            from: self.sessions[cx.sid].nick().clone(),
            to: to_nick.clone(),
            text: text.clone(),
        };
        self.stats.whispers += 1;
        let keep = self.keep_own();
        let t = &mut self.sessions[target];
        let held = !t.is_connected();
        t.deliver(event, keep, cx.out);
        let away = t.away().cloned();
        cx.info(Info::WhisperSent {
            to: to_nick.clone(),
            text,
            id,
            at,
        });
        if held {
            cx.info(Info::WhisperHeld {
                nick: to_nick.clone(),
            });
        }
        if let Some(message) = away {
            cx.info(Info::TargetAway {
                nick: to_nick,
                message,
            });
        }
    }

    /// `/nick NEW`: refused for a name reserved for the server, and while another session (live
    /// or held) or a ban holds the name. A refusal keeps the old name.
    pub(super) fn rename(&mut self, cx: &mut Cx<'_>, new: &str) {
        if let Err(why) = nick::validate(new) {
            return cx.refuse(Refusal::NickInvalid(why));
        }
        let key = nick::collision_key(new);
        if self.settings.reserved_nicks.reserves(&key) {
            log::info!(
                nick:% = self.sessions[cx.sid].nick(),
                new;
                "refused a reserved nickname"
            );
            self.stats.reserved_nicks += 1;
            let nick = Arc::from(new);
            return cx.refuse(Refusal::NickReserved { nick });
        }
        if let Some(minutes_left) = self.bans.name_banned(&key, cx.now.mono) {
            let nick = Arc::from(new);
            return cx.refuse(Refusal::NickBanned { nick, minutes_left });
        }
        if let Some(other) = self.sessions.by_key(&key).filter(|&o| o != cx.sid) {
            let o = &self.sessions[other];
            let refusal = match o.held_secs_left(cx.now.mono) {
                Some(secs_left) => Refusal::NickHeld {
                    nick: o.nick().clone(),
                    secs_left,
                    wrong_key: false,
                },
                None => Refusal::NickTaken {
                    nick: Arc::from(new),
                    lookalike: o.nick().to_lowercase() != new.to_lowercase(),
                },
            };
            return cx.refuse(refusal);
        }
        let new: Arc<str> = Arc::from(new);
        if self.settings.cluster && key != self.sessions[cx.sid].key() {
            // Another node's user may hold the name: the cluster decides.
            return self.claim_for_rename(cx.conn, cx.sid, new, key, cx.out);
        }
        self.finish_rename(cx.conn, cx.sid, new, key, cx.now, cx.out);
    }

    /// A rename every check allowed: the name changes, the operator grant follows, and every
    /// room the user is in is told.
    pub(super) fn finish_rename(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        new: Arc<str>,
        key: String,
        now: Now,
        out: &mut Outbox,
    ) {
        let old_key = self.sessions[sid].key().to_string();
        if self.sessions[sid].is_op() {
            self.grant_follows_rename(&old_key, &key, out);
        }
        let old = self.sessions.rename(sid, new.clone(), key);
        log::info!(old:% = old, new:% = new; "renamed");
        out.send(conn, Event::Info(Info::NickChanged { nick: new.clone() }));
        // A session that keeps rooms may be in several.
        for m in self.sessions[sid].memberships().to_vec() {
            let event = Event::Renamed {
                id: self.ids.next(now.wall),
                at: now.wall,
                room: self.rooms[m.room].name().clone(),
                old: old.clone(),
                new: new.clone(),
            };
            self.broadcast(m.room, Some(sid), event, out);
        }
    }

    /// `/away [message]`: sets the away message, or clears it when given without one. The
    /// user's rooms are told (for the IRC clients there that asked: away-notify).
    pub(super) fn away(&mut self, cx: &mut Cx<'_>, message: Option<&str>) {
        let before = self.sessions[cx.sid].away().cloned();
        self.set_away(cx, message);
        if self.sessions[cx.sid].away().cloned() != before {
            self.tell_away(cx);
        }
    }

    fn set_away(&mut self, cx: &mut Cx<'_>, message: Option<&str>) {
        let s = &mut self.sessions[cx.sid];
        let reply = match (message, s.away().is_some()) {
            (None, true) => {
                s.set_away(None);
                Info::AwayCleared
            }
            (message, _) => {
                let message: Arc<str> = Arc::from(message.unwrap_or("away"));
                s.set_away(Some(message.clone()));
                Info::AwaySet { message }
            }
        };
        cx.info(reply);
    }

    /// `/whois NICK`.
    pub(super) fn whois(&mut self, cx: &mut Cx<'_>, nick: &str) {
        let Some(target) = self.sessions.find(nick) else {
            if self.settings.cluster && nick::validate(nick).is_ok() {
                // Perhaps a user of another node: the node holding the name answers.
                return self.whois_elsewhere(cx, nick);
            }
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        let info = self.whois_info(target, cx.now);
        cx.info(info);
    }

    /// What `/whois` tells of the session `target`.
    pub(super) fn whois_info(&self, target: SessionId, now: Now) -> Info {
        let s = &self.sessions[target];
        Info::Whois {
            nick: s.nick().clone(),
            room: s
                .current_room()
                .map_or_else(|| Arc::from(""), |r| self.rooms[r].name().clone()),
            idle_secs: now
                .mono
                .saturating_duration_since(s.last_active())
                .as_secs(),
            away: s.away().cloned(),
            op: s.is_op(),
            reconnecting: !s.is_connected(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Messages, control characters, whispers and renames.

    use crate::chat::testing::*;
    use crate::chat::*;

    #[test]
    fn a_message_reaches_everyone_else_in_the_room_once() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        h.login(3, "carol");
        h.line(1, "hello");
        assert!(h.delivered_to(1).is_empty());
        for conn in [2, 3] {
            let got = h.delivered_to(conn);
            assert_eq!(got.len(), 1);
            assert!(is_message(&got[0], "hello"));
        }
        // One shared delivery, not one per recipient.
        assert_eq!(h.out.items.len(), 1);
    }

    #[test]
    fn control_characters_never_reach_the_room() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        h.line(1, "\u{1b}[31mred\u{1b}[0m\u{7}");
        assert!(is_message(&h.delivered_to(2)[0], "red"));
        assert!(h.line(1, "\u{1b}[2J").is_empty());
    }

    #[test]
    fn whispers_reach_only_the_target_and_wait_for_a_held_one() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        h.login(3, "carol");
        h.line(1, "/w BOB psst");
        assert!(
            matches!(&h.delivered_to(2)[..], [Event::Whisper { text, .. }] if &**text == "psst")
        );
        assert!(h.delivered_to(3).is_empty());
        assert!(matches!(
            &h.delivered_to(1)[..],
            [Event::Info(Info::WhisperSent { .. })]
        ));
        let outs = h.line(1, "/msg nobody hi");
        assert!(matches!(
            refusal_of(&outs),
            Some(Refusal::NoSuchUser { .. })
        ));
        h.disconnect(2);
        h.line(1, "/msg bob are you back?");
        assert!(matches!(
            &h.delivered_to(1)[..],
            [
                Event::Info(Info::WhisperSent { .. }),
                Event::Info(Info::WhisperHeld { .. })
            ]
        ));
        h.connect(9, ip(2));
        h.line(9, "bob");
        assert!(h
            .delivered_to(9)
            .iter()
            .any(|e| matches!(e, Event::Whisper { text, .. } if &**text == "are you back?")));
    }

    #[test]
    fn renaming_frees_the_old_name_at_once() {
        let mut h = Harness::new();
        h.login(1, "alice");
        h.login(2, "bob");
        let outs = h.line(1, "/nick bob");
        assert!(matches!(refusal_of(&outs), Some(Refusal::NickTaken { .. })));
        h.line(1, "/nick alice2");
        assert!(matches!(
            &h.delivered_to(2)[..],
            [Event::Renamed { old, new, .. }] if &**old == "alice" && &**new == "alice2"
        ));
        h.connect(3, ip(3));
        assert!(h
            .line(3, "alice")
            .contains(&Output::LoggedIn { conn: ConnId(3) }));
    }

    #[test]
    fn renaming_to_a_reserved_name_is_refused_and_keeps_the_old_name() {
        let mut h = Harness::new();
        // alice is the first user of an empty server, so an operator: operators get no exemption.
        h.login(1, "alice");
        h.login(2, "bob");
        for name in ["server", "Admin", "ROOT", "root_2", "운영자"] {
            let outs = h.line(1, &format!("/nick {name}"));
            assert_eq!(
                refusal_of(&outs),
                Some(Refusal::NickReserved {
                    nick: Arc::from(name)
                }),
                "{name}"
            );
            assert!(h.delivered_to(2).is_empty(), "{name}");
        }
        assert_eq!(h.chat.stats.reserved_nicks, 5);
        let alice = h.chat.sessions.find("alice").expect("alice keeps her name");
        assert!(h.chat.sessions[alice].is_op());
        h.line(1, "/nick serverless");
        assert!(matches!(
            &h.delivered_to(2)[..],
            [Event::Renamed { new, .. }] if &**new == "serverless"
        ));
    }
}
