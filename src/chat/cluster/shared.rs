//! What every node of a cluster keeps the same: bans, room topic locks (with the topic as it was
//! when locked; topics themselves travel as rooms' events), and operator grants. A change made here is kept on this node's disk and shared ([`Output::Share`], see
//! `Chat::keep_and_share`); the cluster link publishes it to every node and writes it to Redis,
//! where a node that starts or comes back reads all of it. A change another node made comes in
//! through [`Chat::shared_from_elsewhere`]: applied and kept on this node's disk, never shared
//! again, so changes do not echo between nodes.

use super::super::kept::Kept;
use super::super::{Chat, Now, Outbox};

impl Chat {
    /// Changes to the bans, topics or grants that other nodes made (or that Redis holds, when
    /// the link comes up): applied, and kept across a restart of this node. Applying one twice
    /// changes nothing.
    pub fn shared_from_elsewhere(&mut self, changes: Vec<Kept>, now: Now, out: &mut Outbox) {
        for change in changes {
            match change {
                Kept::Ban(ban) => {
                    self.bans.add(&ban, now);
                    out.keep(Kept::Ban(ban), false);
                }
                Kept::Topic(topic) => {
                    for room in self.rooms.topic_from_elsewhere(topic.clone()) {
                        // Dropped from Redis's copy too (each node drops the same oldest).
                        out.keep(Kept::TopicForgotten { room }, true);
                    }
                    out.keep(Kept::Topic(topic), false);
                }
                Kept::Grant(grant) => {
                    for change in self.grants.grant(grant) {
                        out.keep(change, false);
                    }
                }
                Kept::GrantRevoked { nick_key } => {
                    if let Some(revoked) = self.grants.revoke(&nick_key) {
                        out.keep(revoked, false);
                    }
                }
                // Shared as a revocation and a grant (see `keep_and_share`); a topic dropped
                // past a node's cap is not told to the others (each drops its own oldest).
                Kept::GrantMoved { .. } | Kept::TopicForgotten { .. } => {}
            }
        }
    }
}
