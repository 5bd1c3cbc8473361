//! A resume key works on any node. A login with a resume key for a name another node holds
//! asks that node for the session (the cluster link does, when Redis answers the claim with
//! the holder's node; see `cluster::node::moves`). The holder checks the key
//! ([`Chat::session_may_move`]), hands its claim over, and then lets the session go
//! ([`Chat::let_session_go`]: its connection, if it still has one, is told it resumed
//! elsewhere; its rooms here keep the user as a member of the asking node); the asking node
//! goes on with the session in the same rooms
//! (`Chat::moved_here`), announced as a reconnect. What the session missed is not replayed:
//! the lines were on the other node, and its user is told so.

use std::sync::Arc;

use super::super::event::Bye;
use super::super::kept::resume_key_hash;
use super::super::{Chat, Outbox, Output};

/// A session another node let go to this one: what it goes on with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedSession {
    /// The node that held it.
    pub node: u16,
    /// Its name, as spelled there.
    pub nick: Arc<str>,
    /// Its rooms, its current one first.
    pub rooms: Vec<Arc<str>>,
    pub op: bool,
    pub away: Option<Arc<str>>,
}

impl Chat {
    /// Whether the session with collision key `key` is here and `resume_hash` is its resume
    /// key's: another node asks for it, and its claim is handed over before it is let go.
    pub fn session_may_move(&self, key: &str, resume_hash: &str) -> bool {
        let Some(sid) = self.sessions.by_key(key) else {
            return false;
        };
        let s = &self.sessions[sid];
        let ok = resume_key_hash(s.resume_key()) == resume_hash;
        if !ok {
            log::warn!(nick:% = s.nick(); "a move to another node with a wrong resume key");
        }
        ok
    }

    /// Node `node` has the claim of the session with collision key `key` now (its login gave
    /// the resume key hashing to `resume_hash`): the session is let go and described for that
    /// node; `None` if it is no longer here (it ended meanwhile).
    pub fn let_session_go(
        &mut self,
        node: u16,
        key: &str,
        resume_hash: &str,
        out: &mut Outbox,
    ) -> Option<MovedSession> {
        if !self.session_may_move(key, resume_hash) {
            return None;
        }
        let sid = self.sessions.by_key(key)?;
        let s = &self.sessions[sid];
        let rooms: Vec<_> = s.memberships().iter().map(|m| m.room).collect();
        let moved = MovedSession {
            node: self.settings.node_id,
            nick: s.nick().clone(),
            rooms: rooms
                .iter()
                .map(|&r| self.rooms[r].name().clone())
                .collect(),
            op: s.is_op(),
            away: s.away().cloned(),
        };
        log::info!(nick:% = moved.nick, to = node; "session moved to another node");
        if let Some(conn) = s.conn() {
            self.sessions.close_conn(conn);
            out.items.push(Output::Close {
                conn,
                bye: Some(Bye::ResumedElsewhere),
            });
        }
        // Its rooms here go on seeing the user, now on the node it moved to, which announces
        // the reconnect to every node: nothing is said here meanwhile.
        for room in rooms {
            self.rooms.leave(room, sid, &mut self.sessions);
            self.rooms[room].add_remote(moved.nick.clone(), node);
            self.drop_room_if_empty(room, out);
        }
        let s = self.sessions.remove(sid);
        self.invites.forget(s.uid());
        self.stats.moved_away += 1;
        Some(moved)
    }
}
