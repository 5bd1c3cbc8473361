//! The chat core's internal consistency, checked by the unit tests and the connection-level
//! fuzz target after every step. Cheap enough to run often; not called on the serving path.

use std::collections::HashSet;

use super::{room_key, Chat, ConnId, Output};

impl Chat {
    /// Checks every invariant of the core's state; returns the first one broken.
    ///
    /// - Every member of a room's list is a session whose room and slot point back at it, and
    ///   every session is in exactly one room's list.
    /// - A session is either connected (and its connection points back at it) or held for a
    ///   reconnect, never both, never neither.
    /// - Nicknames are unique by collision key, and the name index matches the sessions.
    /// - No room is empty, and the room index matches the rooms; a pending presence summary
    ///   lists no more names than it counts.
    /// - The count of live sessions is right.
    ///
    /// # Errors
    ///
    /// A description of the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for (rid, room) in self.rooms.iter() {
            if room.members.is_empty() {
                return Err(format!("room {} is empty but exists", room.name));
            }
            if room.presence.as_ref().is_some_and(|b| !b.is_consistent()) {
                return Err(format!(
                    "room {}'s presence summary lists too many",
                    room.name
                ));
            }
            if self.room_by_key.get(&room_key(&room.name)) != Some(&rid) {
                return Err(format!("room {} is missing from the index", room.name));
            }
            for (slot, &sid) in room.members.iter().enumerate() {
                let Some(s) = self.sessions.get(sid) else {
                    return Err(format!("room {} lists a missing session {sid}", room.name));
                };
                if s.room != rid || s.room_slot != slot {
                    return Err(format!(
                        "{} is listed in {} at the wrong place",
                        s.nick, room.name
                    ));
                }
                if !seen.insert(sid) {
                    return Err(format!("{} is listed twice", s.nick));
                }
            }
        }
        if self.room_by_key.len() != self.rooms.len() {
            return Err("the room index has stale entries".into());
        }
        let mut keys = HashSet::new();
        let mut live = 0;
        for (sid, s) in self.sessions.iter() {
            if !seen.contains(&sid) {
                return Err(format!("{} is in no room", s.nick));
            }
            match (s.conn, &s.held) {
                (Some(conn), None) => {
                    live += 1;
                    let back = self.conns.get(conn.0).copied().flatten();
                    if back.and_then(|e| e.session) != Some(sid) {
                        return Err(format!("{}'s connection does not point back at it", s.nick));
                    }
                }
                (None, Some(held)) => {
                    if held.missed.len() > self.settings.replay_max {
                        return Err(format!("{}'s replay passed --replay-max", s.nick));
                    }
                }
                _ => return Err(format!("{} is both or neither connected and held", s.nick)),
            }
            if !keys.insert(s.key.clone()) {
                return Err(format!("two sessions share the name key of {}", s.nick));
            }
            if self.nicks.get(&s.key) != Some(&sid) {
                return Err(format!("{} is missing from the name index", s.nick));
            }
        }
        if self.nicks.len() != self.sessions.len() {
            return Err("the name index has stale entries".into());
        }
        if live != self.live_sessions {
            return Err(format!(
                "{live} sessions are connected but the count says {}",
                self.live_sessions
            ));
        }
        for (i, entry) in self.conns.iter().enumerate() {
            if let Some(sid) = entry.and_then(|e| e.session) {
                if self.sessions.get(sid).and_then(|s| s.conn) != Some(ConnId(i)) {
                    return Err(format!(
                        "connection {i} points at a session that is not its own"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether `conn` is a connection the core knows (connected and not yet gone). Outputs for
    /// any other connection would go to a closed socket: the fuzz target checks none do.
    pub fn knows_conn(&self, conn: ConnId) -> bool {
        self.conns.get(conn.0).copied().flatten().is_some()
    }

    /// The connections an outbox delivers events to.
    pub fn recipients(out: &super::Outbox) -> Vec<ConnId> {
        let mut all = Vec::new();
        for item in &out.items {
            match item {
                Output::ToConn { conn, .. } => all.push(*conn),
                Output::ToMany { start, end, .. } => {
                    all.extend_from_slice(&out.recipients[*start..*end])
                }
                _ => {}
            }
        }
        all
    }
}
