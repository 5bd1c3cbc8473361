//! Operators' `/kick` and `/ban` of users of other nodes. A kick of a name nobody here holds
//! goes out ([`Output::KickElsewhere`]); the cluster link looks the name's claim up in Redis and
//! sends the kick to the node that holds it, which ends the session as its own kick would
//! ([`Chat::kick_from_elsewhere`]): the user gets the operator's goodbye, every room the user was
//! in sees the kick on every node, and a ban is shared with every node from there (the holder
//! knows the user's address). The operator is answered "no such user" if nobody holds the name
//! ([`Chat::kick_routed`]), and shown the kick if they share no room with its target.
//!
//! Nodes trust each other: the operator's node checked that they are one.

use std::sync::Arc;
use std::time::Duration;

use super::super::context::Cx;
use super::super::event::{Departure, Event, Refusal};
use super::super::nick::collision_key;
use super::super::{Chat, ConnId, Now, Outbox, Output};

/// An operator's kick (or ban) of a user of another node, as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteKick {
    /// The operator.
    pub by: Arc<str>,
    /// The target's name as the operator typed it.
    pub target: Arc<str>,
    pub reason: Option<Arc<str>>,
    /// A ban's length, in milliseconds; `None` for a kick.
    pub ban_ms: Option<u64>,
}

impl Chat {
    /// `/kick` or `/ban` of a name this node does not have (the operator checked).
    pub(in crate::chat) fn kick_elsewhere(
        &mut self,
        cx: &mut Cx<'_>,
        nick: &str,
        reason: Option<&str>,
        ban: Option<Duration>,
    ) {
        let kick = RemoteKick {
            by: self.sessions[cx.sid].nick().clone(),
            target: Arc::from(nick),
            reason: reason.map(Arc::from),
            ban_ms: ban.map(|b| u64::try_from(b.as_millis()).unwrap_or(u64::MAX)),
        };
        cx.out.items.push(Output::KickElsewhere {
            conn: cx.conn,
            key: collision_key(nick),
            kick,
        });
    }

    /// The link looked a kick's target up: `holder` is its name as its node spells it, or
    /// `None` when nobody in the cluster holds it, which the operator is told. (Once sent, the
    /// kick is the holder's to carry out and show.)
    pub fn kick_routed(
        &mut self,
        conn: ConnId,
        kick: RemoteKick,
        holder: Option<Arc<str>>,
        out: &mut Outbox,
    ) {
        let kicker = self.sessions.entry(conn).and_then(|e| e.session);
        if kicker.is_none_or(|sid| self.sessions[sid].nick() != &kick.by) {
            return; // the operator left, or renamed, meanwhile
        }
        if holder.is_none() {
            let refusal = Refusal::NoSuchUser { nick: kick.target };
            out.send(conn, Event::Refused(refusal));
        }
    }

    /// A kick an operator of node `node` sent here: the session holding the name ends as a kick
    /// here would end it (the operator is told "no such user" if none does any more). The operator, if in none of
    /// the target's rooms, is shown what the target's current room saw.
    pub fn kick_from_elsewhere(&mut self, node: u16, kick: RemoteKick, now: Now, out: &mut Outbox) {
        let Some(target) = self.sessions.by_key(&collision_key(&kick.target)) else {
            // It left a moment ago: as one node would answer.
            return self.gone_elsewhere(node, kick.by, &kick.target, out);
        };
        let kicker_key = collision_key(&kick.by);
        let shares_a_room = self.sessions[target]
            .memberships()
            .iter()
            .any(|m| self.rooms[m.room].has_remote(&kicker_key, node));
        let how = Departure::Kicked {
            by: kick.by.clone(),
            reason: kick.reason,
        };
        let seen = if shares_a_room {
            None
        } else {
            self.departure_as_seen(target, &how, now)
        };
        let ban = kick.ban_ms.map(Duration::from_millis);
        self.kick_session(target, how, ban, now, out);
        // After the ban's sharing: the operator's node has the ban when they see the kick.
        if let Some(event) = seen {
            out.items.push(Output::TellElsewhere {
                node,
                to: kick.by,
                event,
            });
        }
    }

    /// A room event another node's kick made, for a user here who is not in its room (the
    /// operator): delivered to the session holding the name, if any still does.
    pub fn told_from_elsewhere(&mut self, to: &str, event: Event, out: &mut Outbox) {
        let Some(sid) = self.sessions.by_key(&collision_key(to)) else {
            return;
        };
        let keep = self.keep_own();
        self.sessions[sid].deliver(event, keep, out);
    }
}
