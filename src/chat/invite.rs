//! Invitations: `/invite NICK [ROOM]`, `/accept-invite [NICK]`, `/decline-invite [NICK]`,
//! `/invites on|off`. An invitation lives for `--invite-ttl` on the core's timers.
//!
//! Users are remembered by session uid, so a rename does not lose an invitation; one inviter has
//! at most one invitation open to each user (a new one replaces it).
//!
//! In a cluster an invitation lives on the node of the invited user: one to a user of another
//! node goes there ([`Output::InviteElsewhere`]), is checked and kept there as one made there
//! would be, and what the inviter is told (sent, refused, accepted, declined, expired) is sent
//! back to them by name ([`Output::ReplyElsewhere`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use super::context::Cx;
use super::event::{Event, InviteNotice, Refusal};
use super::room::{valid_room_name, MAX_ROOM_CHARS};
use super::{nick, Chat, ChatTimer, ConnId, Now, Outbox, Output};

#[derive(Debug, Clone)]
struct Invitation {
    id: u64,
    from: Inviter,
    from_nick: Arc<str>,
    to_uid: u64,
    room: Arc<str>,
    expires: Instant,
}

/// Who sent an invitation: a session here, or a user of another node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inviter {
    Local(u64),
    Remote { node: u16, key: String },
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
    fn add(
        &mut self,
        from: (Inviter, Arc<str>),
        to_uid: u64,
        room: Arc<str>,
        expires: Instant,
    ) -> u64 {
        let (from, from_nick) = from;
        self.open
            .retain(|i| !(i.from == from && i.to_uid == to_uid));
        self.next_id += 1;
        let id = self.next_id;
        self.open.push(Invitation {
            id,
            from,
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
        self.open
            .retain(|i| i.from != Inviter::Local(uid) && i.to_uid != uid);
        self.refused_by.remove(&uid);
    }
}

impl Chat {
    /// `/invite NICK [ROOM]`: the inviter's room by default.
    pub(super) fn invite(&mut self, cx: &mut Cx<'_>, nick: &str, room: Option<&str>) {
        let found = self.sessions.find(nick);
        let target = found.filter(|&t| self.sessions[t].is_connected());
        // Perhaps a user of another node: the invitation goes there.
        let elsewhere = found.is_none() && self.settings.cluster && nick::validate(nick).is_ok();
        if target.is_none() && !elsewhere {
            let nick = Arc::from(nick);
            return cx.refuse(Refusal::NoSuchUser { nick });
        }
        if target == Some(cx.sid) {
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
        let Some(target) = target else {
            let from = self.sessions[cx.sid].nick().clone();
            cx.out.items.push(Output::InviteElsewhere {
                conn: cx.conn,
                key: nick::collision_key(nick),
                from,
                target: Arc::from(nick),
                room,
            });
            return;
        };
        let s = &self.sessions[cx.sid];
        let from = (Inviter::Local(s.uid()), s.nick().clone());
        let answer = self.invite_session(target, from, room, cx.now, cx.out);
        cx.reply(Event::Invite(answer));
    }

    /// Invites the session `target` to `room`; returns what the inviter is told.
    fn invite_session(
        &mut self,
        target: super::SessionId,
        from: (Inviter, Arc<str>),
        room: Arc<str>,
        now: Now,
        out: &mut Outbox,
    ) -> InviteNotice {
        let t = &self.sessions[target];
        let (to_uid, to_nick) = (t.uid(), t.nick().clone());
        if self.invites.refused_by.contains(&to_uid) {
            return InviteNotice::Refuses { nick: to_nick };
        }
        if self.rooms.find(&room).is_some_and(|r| t.is_in(r)) {
            return InviteNotice::AlreadyThere {
                nick: to_nick,
                room,
            };
        }
        let from_nick = from.1.clone();
        let expires = now.mono + self.settings.invite_ttl;
        let id = self.invites.add(from, to_uid, room.clone(), expires);
        self.timers.insert(expires, ChatTimer::InviteExpires { id });
        let invited = InviteNotice::Invited {
            from: from_nick,
            room: room.clone(),
            secs: self.settings.invite_ttl.as_secs(),
        };
        let keep = self.keep_own();
        self.sessions[target].deliver(Event::Invite(invited), keep, out);
        InviteNotice::Sent { to: to_nick, room }
    }

    /// An invitation from the user `from` of node `node` to a user of this node: made as one
    /// made here, the inviter told the outcome through their node ("no such user" if the name
    /// is no longer held here, or not by a connected session).
    pub fn invite_from_elsewhere(
        &mut self,
        node: u16,
        from: Arc<str>,
        target: &str,
        room: Arc<str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(sid) = self
            .sessions
            .by_key(&nick::collision_key(target))
            .filter(|&t| self.sessions[t].is_connected())
        else {
            // It left, or lost its connection, a moment ago: as one node would answer.
            return self.gone_elsewhere(node, from, target, out);
        };
        let inviter = Inviter::Remote {
            node,
            key: nick::collision_key(&from),
        };
        let answer = self.invite_session(sid, (inviter, from.clone()), room, now, out);
        out.items.push(Output::ReplyElsewhere {
            node,
            to: from,
            event: Event::Invite(answer),
        });
    }

    /// The link looked an invitation's target up: nobody in the cluster holds the name, which
    /// the inviter is told (else the target's node answers).
    pub fn invite_routed(
        &mut self,
        conn: ConnId,
        from: &str,
        target: Arc<str>,
        holder: Option<Arc<str>>,
        out: &mut Outbox,
    ) {
        let session = self.sessions.entry(conn).and_then(|e| e.session);
        if session.is_none_or(|sid| &**self.sessions[sid].nick() != from) || holder.is_some() {
            return;
        }
        out.send(conn, Event::Refused(Refusal::NoSuchUser { nick: target }));
    }

    /// Tells an invitation's sender, here or on another node.
    fn tell_inviter(&self, invitation: &Invitation, notice: InviteNotice, out: &mut Outbox) {
        match &invitation.from {
            Inviter::Local(uid) => self.sessions.tell_uid(*uid, Event::Invite(notice), out),
            Inviter::Remote { node, .. } => out.items.push(Output::ReplyElsewhere {
                node: *node,
                to: invitation.from_nick.clone(),
                event: Event::Invite(notice),
            }),
        }
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
            room: invitation.room.clone(),
        };
        self.tell_inviter(&invitation, accepted, cx.out);
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
        self.tell_inviter(&invitation, InviteNotice::Declined { by }, cx.out);
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
            room: invitation.room.clone(),
        };
        self.tell_inviter(&invitation, notice, out);
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
