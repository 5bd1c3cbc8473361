//! Invitations: `/invite NICK [ROOM]`, `/accept-invite [NICK]`, `/decline-invite [NICK]`,
//! `/invites on|off`. An invitation lives for `--invite-ttl` on the core's timers.
//!
//! Users are remembered by session uid, so a rename does not lose an invitation; one inviter has
//! at most one invitation open to each user (a new one replaces it).

use std::sync::Arc;
use std::time::Instant;

use super::event::InviteNotice;
use super::rooms::valid_room_name;
use super::{room_key, Chat, ChatTimer, ConnId, Event, Now, Outbox, Refusal, SessionId};

#[derive(Debug, Clone)]
pub(super) struct Invitation {
    id: u64,
    from_uid: u64,
    from_nick: Arc<str>,
    to_uid: u64,
    room: Arc<str>,
    expires: Instant,
}

impl Chat {
    /// `/invite NICK [ROOM]`: the inviter's room by default.
    pub(super) fn invite(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        nick: &str,
        room: Option<&str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(target) = self
            .find_session(nick)
            .filter(|&t| self.sessions[t].conn.is_some())
        else {
            let nick = Arc::from(nick);
            return out.send(conn, Event::Refused(Refusal::NoSuchUser { nick }));
        };
        if target == sid {
            return out.send(conn, Event::Refused(Refusal::BadTarget));
        }
        let room: Arc<str> = match room {
            Some(name) if !valid_room_name(name) => {
                let max_chars = super::rooms::MAX_ROOM_CHARS;
                return out.send(conn, Event::Refused(Refusal::BadRoom { max_chars }));
            }
            // An existing room keeps its spelling.
            Some(name) => match self.room_by_key.get(&room_key(name)) {
                Some(&id) => self.rooms[id].name.clone(),
                None => Arc::from(name),
            },
            None => self.rooms[self.sessions[sid].room].name.clone(),
        };
        let (to_uid, to_nick) = (
            self.sessions[target].uid,
            self.sessions[target].nick.clone(),
        );
        if self.invites_off.contains(&to_uid) {
            return out.send(conn, Event::Invite(InviteNotice::Refuses { nick: to_nick }));
        }
        if room_key(&self.rooms[self.sessions[target].room].name) == room_key(&room) {
            let notice = InviteNotice::AlreadyThere {
                nick: to_nick,
                room,
            };
            return out.send(conn, Event::Invite(notice));
        }
        let from_uid = self.sessions[sid].uid;
        self.invitations
            .retain(|i| !(i.from_uid == from_uid && i.to_uid == to_uid));
        self.next_invite_id += 1;
        let id = self.next_invite_id;
        let expires = now.mono + self.settings.invite_ttl;
        let from_nick = self.sessions[sid].nick.clone();
        self.invitations.push(Invitation {
            id,
            from_uid,
            from_nick: from_nick.clone(),
            to_uid,
            room: room.clone(),
            expires,
        });
        self.timers.insert(expires, ChatTimer::InviteExpires { id });
        let invited = InviteNotice::Invited {
            from: from_nick,
            room: room.clone(),
            secs: self.settings.invite_ttl.as_secs(),
        };
        self.deliver_to_session(target, Event::Invite(invited), out);
        let sent = InviteNotice::Sent { to: to_nick, room };
        out.send(conn, Event::Invite(sent));
    }

    /// Finds the user's pending invitation from `from` (the newest one when `None`).
    fn take_invitation(&mut self, sid: SessionId, from: Option<&str>) -> Option<Invitation> {
        let uid = self.sessions[sid].uid;
        let from_key = from.map(super::nick::collision_key);
        let pos = self.invitations.iter().rposition(|i| {
            i.to_uid == uid
                && from_key
                    .as_ref()
                    .is_none_or(|k| *k == super::nick::collision_key(&i.from_nick))
        })?;
        Some(self.invitations.remove(pos))
    }

    /// `/accept-invite [NICK]`: go to the invitation's room.
    pub(super) fn accept_invite(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        from: Option<&str>,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(invitation) = self.take_invitation(sid, from) else {
            let nick = from.map(Arc::from);
            return out.send(conn, Event::Invite(InviteNotice::NoneFrom { nick }));
        };
        let by = self.sessions[sid].nick.clone();
        let here = self.rooms[self.sessions[sid].room].name.clone();
        if room_key(&here) != room_key(&invitation.room) {
            self.join(conn, sid, &invitation.room, now, out);
        }
        let accepted = InviteNotice::Accepted {
            by,
            room: invitation.room,
        };
        self.tell_uid(invitation.from_uid, Event::Invite(accepted), out);
    }

    /// `/decline-invite [NICK]`.
    pub(super) fn decline_invite(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        from: Option<&str>,
        out: &mut Outbox,
    ) {
        let Some(invitation) = self.take_invitation(sid, from) else {
            let nick = from.map(Arc::from);
            return out.send(conn, Event::Invite(InviteNotice::NoneFrom { nick }));
        };
        let by = self.sessions[sid].nick.clone();
        let notice = InviteNotice::YouDeclined {
            from: invitation.from_nick.clone(),
        };
        out.send(conn, Event::Invite(notice));
        self.tell_uid(
            invitation.from_uid,
            Event::Invite(InviteNotice::Declined { by }),
            out,
        );
    }

    /// `/invites on|off`.
    pub(super) fn set_invites(&mut self, conn: ConnId, sid: SessionId, on: bool, out: &mut Outbox) {
        let uid = self.sessions[sid].uid;
        if on {
            self.invites_off.remove(&uid);
        } else {
            self.invites_off.insert(uid);
            self.invitations.retain(|i| i.to_uid != uid);
        }
        out.send(conn, Event::Invite(InviteNotice::Setting { on }));
    }

    /// An invitation's timer fired: if still pending, it ends and the inviter is told.
    pub(super) fn invite_expires(&mut self, id: u64, now: Now, out: &mut Outbox) {
        let Some(pos) = self
            .invitations
            .iter()
            .position(|i| i.id == id && i.expires <= now.mono)
        else {
            return;
        };
        let invitation = self.invitations.remove(pos);
        let to = self
            .sessions
            .iter()
            .find(|(_, s)| s.uid == invitation.to_uid)
            .map_or_else(|| Arc::from("?"), |(_, s)| s.nick.clone());
        let notice = InviteNotice::Expired {
            to,
            room: invitation.room,
        };
        self.tell_uid(invitation.from_uid, Event::Invite(notice), out);
    }

    /// A session ended: its invitations, sent or received, go with it.
    pub(super) fn forget_invitations_of(&mut self, uid: u64) {
        self.invitations
            .retain(|i| i.from_uid != uid && i.to_uid != uid);
        self.invites_off.remove(&uid);
    }
}
