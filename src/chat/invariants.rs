//! The chat core's internal consistency, checked by the unit tests and the connection-level
//! fuzz target after every step. Cheap enough to run often; not called on the serving path.

use super::{Chat, ConnId, Outbox, Output};

impl Chat {
    /// Checks every invariant of the core's state; returns the first one broken.
    ///
    /// - Every member of a room's list is a session whose membership points back at that place,
    ///   and every session is in at least one room, listed where its memberships say.
    /// - A session is either connected (and its connection points back at it) or held for a
    ///   reconnect, never both, never neither; a held session's own lines are within
    ///   `--replay-max` and `--held-own-bytes`, its replay positions are its rooms', and the held
    ///   counts (per address and in all) are right and within `--max-held-per-ip`, `--max-held`.
    /// - Each room's recent lines are within `--replay-max` and `--recent-bytes`.
    /// - Nicknames are unique by collision key, and the name index matches the sessions.
    /// - No room is empty, and the room index matches the rooms; a pending presence summary is for
    ///   a room that exists and lists no more names than it counts.
    /// - The count of live sessions is right.
    ///
    /// # Errors
    ///
    /// A description of the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.rooms
            .check(&self.sessions, self.settings.recent_limits())?;
        self.sessions.check(&self.settings)?;
        self.presence.check(&self.rooms)
    }

    /// Whether `conn` is a connection the core knows (connected and not yet gone). Outputs for
    /// any other connection would go to a closed socket: the fuzz target checks none do.
    pub fn knows_conn(&self, conn: ConnId) -> bool {
        self.sessions.entry(conn).is_some()
    }

    /// The connections an outbox delivers events to.
    pub fn recipients(out: &Outbox) -> Vec<ConnId> {
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
