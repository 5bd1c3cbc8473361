//! A name two users hold after a partition (see `cluster::node::claims`): the node whose claim
//! was the later one renames its user, as IRC networks do on a nick collision. The new name is
//! the old one with a random suffix, claimed as a rename is; the user is told why.

use std::sync::Arc;

use super::super::event::{Departure, Event, Info};
use super::super::id::random_key;
use super::super::nick::{collision_key, MAX_NICK_CHARS};
use super::super::{Chat, ConnId, Now, Outbox, SessionId};
use super::claims::Waiting;

/// Names tried before the session keeps its name until the next conflict is found.
const COLLISION_TRIES: u8 = 3;

impl Chat {
    /// The session with the name of collision key `key` lost it to another node's user who
    /// claimed it earlier: it is renamed; one held for a reconnect ends as if its grace had run
    /// out (it has nobody to tell).
    pub fn name_lost(&mut self, key: &str, now: Now, out: &mut Outbox) {
        let Some(sid) = self.sessions.by_key(key) else {
            return;
        };
        let Some(conn) = self.sessions[sid].conn() else {
            let grace_secs = self.settings.grace.as_secs();
            return self.end_session(sid, Departure::GraceExpired { grace_secs }, now, out);
        };
        self.claim_collision_name(conn, sid, 0, out);
    }

    /// Claims a new name for the session `sid`: its own with a random suffix.
    fn claim_collision_name(&mut self, conn: ConnId, sid: SessionId, tries: u8, out: &mut Outbox) {
        let base: String = self.sessions[sid]
            .nick()
            .chars()
            .take(MAX_NICK_CHARS - 5)
            .collect();
        let nick: Arc<str> = Arc::from(format!("{base}-{}", random_key(4)));
        let key = collision_key(&nick);
        let waiting = Waiting::Collision {
            sid,
            nick: nick.clone(),
            key: key.clone(),
            tries,
        };
        self.wait_for_claim(conn, waiting, key, nick, None, out);
    }

    /// Redis answered the claim of a collision's new name: granted, the session is renamed
    /// (and told why); taken, another is tried. Returns whether the name is in use here.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::chat) fn collision_name_answered(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        nick: Arc<str>,
        key: String,
        tries: u8,
        granted: bool,
        now: Now,
        out: &mut Outbox,
    ) -> bool {
        let current = self.sessions.get(sid).filter(|s| s.conn() == Some(conn));
        if current.is_none() {
            return false;
        }
        let free_here = self.sessions.by_key(&key).is_none();
        if !granted || !free_here {
            if tries + 1 < COLLISION_TRIES {
                self.claim_collision_name(conn, sid, tries + 1, out);
            }
            return false;
        }
        let old = self.sessions[sid].nick().clone();
        let told = Info::NickCollided {
            old,
            new: nick.clone(),
        };
        out.send(conn, Event::Info(told));
        self.finish_rename(conn, sid, nick, key, now, out);
        true
    }
}
