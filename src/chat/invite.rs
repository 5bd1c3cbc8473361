//! Invitations: `/invite NICK [ROOM]`, `/accept-invite [NICK]`, `/decline-invite [NICK]`,
//! `/invites on|off`. An invitation lives for `--invite-ttl` on the core's timers.
//!
//! Users are remembered by session uid, so a rename does not lose an invitation; one inviter has
//! at most one invitation open to each user (a new one replaces it).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use super::context::Cx;
use super::event::{Event, InviteNotice, Refusal};
use super::room::{valid_room_name, MAX_ROOM_CHARS};
use super::{nick, Chat, ChatTimer, Now, Outbox};

#[derive(Debug, Clone)]
struct Invitation {
    id: u64,
    from_uid: u64,
    from_nick: Arc<str>,
    to_uid: u64,
    room: Arc<str>,
    expires: Instant,
}

/// Open invitations, and the users who refuse them all.
#[derive(Debug, Default)]
pub struct Invites {
    open: Vec<Invitation>,
    next_id: u64,
    /// Users (by session uid) who refuse all invitations.
    refused_by: HashSet<u64>,
}

impl Invites {
    /// Opens an invitation, replacing the inviter's earlier one to the same user; returns its id.
    fn add(&mut self, from: (u64, Arc<str>), to_uid: u64, room: Arc<str>, expires: Instant) -> u64 {
        let (from_uid, from_nick) = from;
        self.open
            .retain(|i| !(i.from_uid == from_uid && i.to_uid == to_uid));
        self.next_id += 1;
        let id = self.next_id;
        self.open.push(Invitation {
            id,
            from_uid,
            from_nick,
            to_uid,
            room,
            expires,
        });
        id
    }

    /// Takes the user's pending invitation from `from` (the newest one when `None`).
    fn take(&mut self, to_uid: u64, from: Option<&str>) -> Option<Invitation> {
        let from_key = from.map(nick::collision_key);
        let pos = self.open.iter().rposition(|i| {
            i.to_uid == to_uid
                && from_key
                    .as_ref()
                    .is_none_or(|k| *k == nick::collision_key(&i.from_nick))
        })?;
        Some(self.open.remove(pos))
    }

    /// Takes invitation `id` if its time is up at `now` (its timer fired).
    fn expire(&mut self, id: u64, now: Instant) -> Option<Invitation> {
        let pos = self
            .open
            .iter()
            .position(|i| i.id == id && i.expires <= now)?;
        Some(self.open.remove(pos))
    }

    fn set_refused(&mut self, uid: u64, refused: bool) {
        if refused {
            self.refused_by.insert(uid);
            self.open.retain(|i| i.to_uid != uid);
        } else {
            self.refused_by.remove(&uid);
        }
    }

    /// A session ended: its invitations, sent or received, go with it.
    pub fn forget(&mut self, uid: u64) {
        self.open.retain(|i| i.from_uid != uid && i.to_uid != uid);
        self.refused_by.remove(&uid);
    }
}

impl Chat {
    /// `/invite NICK [ROOM]`: the inviter's room by default.
    pub(super) fn invite(&mut self, cx: &mut Cx<'_>, nick: &str, room: Option<&str>) {
        let Some(target) = self
            .sessions
            .find(nick)
            .filter(|&t| self.sessions[t].is_connected())
        else {
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        };
        if target == cx.sid {
            return cx.refuse(Refusal::BadTarget);
        }
        let room: Arc<str> = match room {
            Some(name) if !valid_room_name(name) => {
                let max_chars = MAX_ROOM_CHARS;
                return cx.refuse(Refusal::BadRoom { max_chars });
            }
            // An existing room keeps its spelling.
            Some(name) => match self.rooms.find(name) {
                Some(id) => self.rooms[id].name().clone(),
                None => Arc::from(name),
            },
            None => self.rooms[self.sessions[cx.sid].room()].name().clone(),
        };
        let t = &self.sessions[target];
        let (to_uid, to_nick) = (t.uid(), t.nick().clone());
        if self.invites.refused_by.contains(&to_uid) {
            return cx.reply(Event::Invite(InviteNotice::Refuses { nick: to_nick }));
        }
        if self.rooms.find(&room).is_some_and(|r| t.is_in(r)) {
            let notice = InviteNotice::AlreadyThere {
                nick: to_nick,
                room,
            };
            return cx.reply(Event::Invite(notice));
        }
        let s = &self.sessions[cx.sid];
        let from = (s.uid(), s.nick().clone());
        let expires = cx.now.mono + self.settings.invite_ttl;
        let id = self
            .invites
            .add(from.clone(), to_uid, room.clone(), expires);
        self.timers.insert(expires, ChatTimer::InviteExpires { id });
        let invited = InviteNotice::Invited {
            from: from.1,
            room: room.clone(),
            secs: self.settings.invite_ttl.as_secs(),
        };
        let keep = self.keep_own();
        self.sessions[target].deliver(Event::Invite(invited), keep, cx.out);
        let sent = InviteNotice::Sent { to: to_nick, room };
        cx.reply(Event::Invite(sent));
    }

    /// `/accept-invite [NICK]`: go to the invitation's room.
    pub(super) fn accept_invite(&mut self, cx: &mut Cx<'_>, from: Option<&str>) {
        let uid = self.sessions[cx.sid].uid();
        let Some(invitation) = self.invites.take(uid, from) else {
            let nick = from.map(Arc::from);
            return cx.reply(Event::Invite(InviteNotice::NoneFrom { nick }));
        };
        let s = &self.sessions[cx.sid];
        let by = s.nick().clone();
        if !self
            .rooms
            .find(&invitation.room)
            .is_some_and(|r| s.is_in(r))
        {
            self.join(cx, &invitation.room);
        }
        let accepted = InviteNotice::Accepted {
            by,
            room: invitation.room,
        };
        self.sessions
            .tell_uid(invitation.from_uid, Event::Invite(accepted), cx.out);
    }

    /// `/decline-invite [NICK]`.
    pub(super) fn decline_invite(&mut self, cx: &mut Cx<'_>, from: Option<&str>) {
        let s = &self.sessions[cx.sid];
        let (uid, by) = (s.uid(), s.nick().clone());
        let Some(invitation) = self.invites.take(uid, from) else {
            let nick = from.map(Arc::from);
            return cx.reply(Event::Invite(InviteNotice::NoneFrom { nick }));
        };
        let notice = InviteNotice::YouDeclined {
            from: invitation.from_nick.clone(),
        };
        cx.reply(Event::Invite(notice));
        let declined = Event::Invite(InviteNotice::Declined { by });
        self.sessions
            .tell_uid(invitation.from_uid, declined, cx.out);
    }

    /// `/invites on|off`.
    pub(super) fn set_invites(&mut self, cx: &mut Cx<'_>, on: bool) {
        let uid = self.sessions[cx.sid].uid();
        self.invites.set_refused(uid, !on);
        cx.reply(Event::Invite(InviteNotice::Setting { on }));
    }

    /// An invitation's timer fired: if still pending, it ends and the inviter is told.
    pub(super) fn invite_expires(&mut self, id: u64, now: Now, out: &mut Outbox) {
        let Some(invitation) = self.invites.expire(id, now.mono) else {
            return;
        };
        let to = self
            .sessions
            .by_uid(invitation.to_uid)
            .map_or_else(|| Arc::from("?"), |s| s.nick().clone());
        let notice = InviteNotice::Expired {
            to,
            room: invitation.room,
        };
        self.sessions
            .tell_uid(invitation.from_uid, Event::Invite(notice), out);
    }
}

#[cfg(test)]
mod tests {
    //! Invitations, accepted, declined, refused and expired.

    use crate::chat::testing::*;
    use crate::chat::*;

    fn invite_notices(h: &Harness, conn: usize) -> Vec<InviteNotice> {
        h.delivered_to(conn)
            .into_iter()
            .filter_map(|e| match e {
                Event::Invite(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn invitations_are_accepted_declined_refused_and_expire() {
        let mut h = Harness::with(ChatSettings {
            invite_ttl: Duration::from_secs(60),
            ..settings()
        });
        h.login(1, "alice");
        h.login(2, "bob");
        h.line(1, "/join games");
        h.line(1, "/invite bob");
        assert!(matches!(
            &invite_notices(&h, 2)[..],
            [InviteNotice::Invited { from, room, secs: 60 }] if &**from == "alice" && &**room == "games"
        ));
        h.line(2, "/accept-invite");
        assert!(h
            .delivered_to(2)
            .iter()
            .any(|e| matches!(e, Event::Info(Info::NowInRoom { room }) if &**room == "games")));
        assert!(matches!(
            &invite_notices(&h, 1)[..],
            [InviteNotice::Accepted { .. }]
        ));
        // Already there.
        h.line(1, "/invite bob");
        assert!(matches!(
            &invite_notices(&h, 1)[..],
            [InviteNotice::AlreadyThere { .. }]
        ));
        // Declined.
        h.line(1, "/invite bob lobby");
        h.line(2, "/decline-invite alice");
        assert!(
            matches!(&invite_notices(&h, 1)[..], [InviteNotice::Declined { by }] if &**by == "bob")
        );
        h.line(2, "/accept-invite");
        assert!(matches!(
            &invite_notices(&h, 2)[..],
            [InviteNotice::NoneFrom { nick: None }]
        ));
        // Expired.
        h.line(1, "/invite bob lobby");
        h.advance(60);
        assert!(matches!(
            &invite_notices(&h, 1)[..],
            [InviteNotice::Expired { .. }]
        ));
        h.line(2, "/accept-invite");
        assert!(matches!(
            &invite_notices(&h, 2)[..],
            [InviteNotice::NoneFrom { .. }]
        ));
        // Refused by setting, and unknown users.
        h.line(2, "/invites off");
        h.line(1, "/invite bob lobby");
        assert!(matches!(
            &invite_notices(&h, 1)[..],
            [InviteNotice::Refuses { .. }]
        ));
        h.line(1, "/invite nobody");
        assert!(matches!(
            &h.delivered_to(1)[..],
            [Event::Refused(Refusal::NoSuchUser { .. })]
        ));
    }
}
