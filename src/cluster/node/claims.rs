//! Nickname claims in Redis: `rc:nick:KEY` (KEY the name's collision key) holds
//! `"N:INCARNATION:AT NICK"`, the node id, this process's incarnation (its claim secret's first
//! characters), when the claim was made (Unix milliseconds, the claiming node's clock) and the
//! name as spelled. A claim is made with `SET NX GET`, so of two claims for
//! one name, on any nodes, exactly one is granted; the other learns who holds it.
//!
//! The node keeps the claims it holds with their exact values, and only ever refreshes or
//! deletes a claim whose value is still one of them (a compare in a script), so a claim it
//! lost (Redis restarted, another node took the lapsed name) is never refreshed over someone
//! else's nor deleted from under them. A claim held by an earlier process with this node id
//! (killed before it let its names go) is taken over by compare-and-set; one held by this very
//! process belongs to another of its sessions, and is refused as any other node's is.
//!
//! Two users can end up with one name only after a partition: a node cut off from Redis longer
//! than its claims live keeps its users, and another node grants one of their names meanwhile.
//! The refresh finds it (the claim holds another value), and as IRC networks do on a nick
//! collision, the earlier claim keeps the name: the node with the earlier claim takes it back by
//! compare-and-set, and the other, finding at its next refresh that it lost, renames its user
//! ([`ToChat::NameLost`]).

use std::sync::Arc;

use redis_protocol::resp3::types::{BytesFrame, Resp3Frame};

use super::{moves, Node, Pending, ToChat, IGNORED};
use crate::chat::cluster::claims::ClaimAnswer;
use crate::chat::ConnId;

/// Refreshes claims (KEYS) whose values are still this node's (ARGV after the first, one a
/// key), taking again those that expired, and answers with the keys someone else holds now,
/// each followed by the value it holds. ARGV[1]: the claims' time to live.
const REFRESH_SCRIPT: &str = "\
local lost = {} \
for i, key in ipairs(KEYS) do \
  local held = redis.call('GET', key) \
  if held == ARGV[i + 1] then redis.call('PEXPIRE', key, ARGV[1]) \
  elseif not held then redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1]) \
  else table.insert(lost, key) table.insert(lost, held) end \
end \
return lost";

/// Deletes a claim if it still holds exactly ARGV[1].
const RELEASE_SCRIPT: &str = "\
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end \
return 0";

/// Replaces a claim holding exactly ARGV[1] with ARGV[2] (time to live ARGV[3]); 1 if it did.
pub(super) const TAKE_OVER_SCRIPT: &str = "\
if redis.call('GET', KEYS[1]) == ARGV[1] then \
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end \
return 0";

/// Claims refreshed by one script call: a node with many users sends several.
const REFRESH_BATCH: usize = 256;

/// The key of a nickname's claim, by its collision key.
pub fn nick_key(key: &str) -> String {
    format!("rc:nick:{key}")
}

/// A claim's value, read back: the node and incarnation that hold it, when it was made (`None`
/// for a value without the time, which counts as the latest), and the name.
pub(super) struct Holder<'a> {
    pub node: &'a str,
    pub incarnation: &'a str,
    pub at: Option<u64>,
    pub nick: &'a str,
}

pub(super) fn holder(value: &str) -> Holder<'_> {
    let (who, nick) = value.split_once(' ').unwrap_or(("", value));
    let (node, rest) = who.split_once(':').unwrap_or((who, ""));
    let (incarnation, at) = match rest.split_once(':') {
        Some((incarnation, at)) => (incarnation, at.parse().ok()),
        None => (rest, None),
    };
    Holder {
        node,
        incarnation,
        at,
        nick,
    }
}

/// Whether the claim `ours` was made before `theirs` (the earlier keeps a name two nodes
/// granted); at the same millisecond the lower node id does.
fn claimed_first(ours: &Holder<'_>, theirs: &Holder<'_>) -> bool {
    let when = |h: &Holder<'_>| (h.at.unwrap_or(u64::MAX), h.node.parse().unwrap_or(u16::MAX));
    when(ours) < when(theirs)
}

impl Node {
    fn claim_value(&self, nick: &str) -> String {
        let at = crate::clock::Now::system().wall;
        format!("{}:{}:{at} {nick}", self.id, self.incarnation())
    }

    /// This process among all that ever had this node id.
    fn incarnation(&self) -> &str {
        &self.secret[..self.secret.len().min(8)]
    }

    pub(super) fn claim_ttl_ms(&self) -> String {
        self.claim_ttl.as_millis().to_string()
    }

    /// Claims a nickname for `conn` (`key` its collision key); the answer comes as
    /// [`ToChat::Claimed`].
    /// `resume`: the hash of the resume key a login gave (see `moves`).
    pub fn claim(
        &mut self,
        conn: ConnId,
        claim: u64,
        key: String,
        nick: &str,
        resume: Option<String>,
    ) {
        if !self.link.is_up() {
            return self.answer_now(conn, claim, key, ClaimAnswer::Unavailable);
        }
        let redis_key = nick_key(&key);
        let value = self.claim_value(nick);
        let ttl = self.claim_ttl_ms();
        let command: [&[u8]; 7] = [
            b"SET",
            redis_key.as_bytes(),
            value.as_bytes(),
            b"NX",
            b"GET",
            b"PX",
            ttl.as_bytes(),
        ];
        let tag = self.tag(Pending::Claim {
            conn,
            claim,
            key,
            value: value.clone(),
            resume,
        });
        if self.link.send_control(&command, tag).is_err() {
            if let Some(Pending::Claim {
                conn, claim, key, ..
            }) = self.pending.remove(&tag)
            {
                self.answer_now(conn, claim, key, ClaimAnswer::Unavailable);
            }
        }
    }

    fn answer_now(&mut self, conn: ConnId, claim: u64, key: String, answer: ClaimAnswer) {
        self.answered.push(ToChat::Claimed {
            conn,
            claim,
            key,
            answer,
        });
    }

    /// Lets a name go (its session ended, or moved to another name): deleted only if the
    /// claim still holds this node's value.
    pub fn release(&mut self, key: &str) {
        let Some(value) = self.held.remove(key) else {
            return;
        };
        if !self.send_release(key, &value) {
            // The link is down: let it go once it is back (Redis may have kept it).
            self.unreleased.insert(key.to_string(), value);
        }
    }

    /// Releases whose link was down, sent again when it is back.
    pub(super) fn release_leftovers(&mut self) {
        for (key, value) in std::mem::take(&mut self.unreleased) {
            if !self.send_release(&key, &value) {
                self.unreleased.insert(key, value);
            }
        }
    }

    pub(super) fn send_release(&mut self, key: &str, value: &str) -> bool {
        let redis_key = nick_key(key);
        self.link
            .send_control(
                &[
                    b"EVAL",
                    RELEASE_SCRIPT.as_bytes(),
                    b"1",
                    redis_key.as_bytes(),
                    value.as_bytes(),
                ],
                IGNORED,
            )
            .is_ok()
    }

    /// Keeps this node's claims alive (with the heartbeat).
    pub(super) fn refresh_claims(&mut self) {
        let ttl = self.claim_ttl_ms();
        let held: Vec<(String, String)> = self
            .held
            .iter()
            .map(|(k, v)| (nick_key(k), v.clone()))
            .collect();
        for batch in held.chunks(REFRESH_BATCH) {
            let count = batch.len().to_string();
            let mut args: Vec<&[u8]> = vec![b"EVAL", REFRESH_SCRIPT.as_bytes(), count.as_bytes()];
            args.extend(batch.iter().map(|(k, _)| k.as_bytes()));
            args.push(ttl.as_bytes());
            args.extend(batch.iter().map(|(_, v)| v.as_bytes()));
            let tag = self.tag(Pending::Refresh);
            if self.link.send_control(&args, tag).is_err() {
                self.pending.remove(&tag);
            }
        }
    }

    /// Redis answered a claim's `SET NX GET`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn claim_replied(
        &mut self,
        conn: ConnId,
        claim: u64,
        key: String,
        value: String,
        resume: Option<String>,
        reply: &BytesFrame,
        to_chat: &mut Vec<ToChat>,
    ) {
        let answer = match reply {
            BytesFrame::Null => {
                self.held.insert(key.clone(), value);
                ClaimAnswer::Granted
            }
            BytesFrame::BlobString { data, .. } => {
                let old = String::from_utf8_lossy(data).into_owned();
                let h = holder(&old);
                let own_node = h.node == self.id.to_string();
                if own_node && h.incarnation != self.incarnation() {
                    // An earlier process with this id never let the name go.
                    let ttl = self.claim_ttl_ms();
                    let redis_key = nick_key(&key);
                    let tag = self.tag(Pending::TakeOver {
                        conn,
                        claim,
                        key,
                        value: value.clone(),
                        holder: Arc::from(h.nick),
                    });
                    let sent = self.link.send_control(
                        &[
                            b"EVAL",
                            TAKE_OVER_SCRIPT.as_bytes(),
                            b"1",
                            redis_key.as_bytes(),
                            old.as_bytes(),
                            value.as_bytes(),
                            ttl.as_bytes(),
                        ],
                        tag,
                    );
                    if sent.is_err() {
                        if let Some(Pending::TakeOver { key, .. }) = self.pending.remove(&tag) {
                            self.answer_now(conn, claim, key, ClaimAnswer::Unavailable);
                        }
                    }
                    return;
                }
                let holder_node = h.node.parse::<u16>().ok().filter(|&n| n != self.id);
                if let (Some(node), Some(resume)) = (holder_node, resume) {
                    // A resume key for a session another node holds: that node is asked.
                    let holder = Arc::from(h.nick);
                    let waiting = moves::Moving {
                        conn,
                        claim,
                        key,
                        value,
                        holder,
                        holder_node: node,
                    };
                    return self.ask_move(node, waiting, &resume, to_chat);
                }
                ClaimAnswer::Taken {
                    holder: Arc::from(h.nick),
                }
            }
            other => {
                log::warn!(reply:? = other; "Redis refused a nickname claim");
                ClaimAnswer::Unavailable
            }
        };
        to_chat.push(ToChat::Claimed {
            conn,
            claim,
            key,
            answer,
        });
    }

    /// Redis answered the take-over of an earlier process's claim.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn take_over_replied(
        &mut self,
        conn: ConnId,
        claim: u64,
        key: String,
        value: String,
        holder: Arc<str>,
        reply: &BytesFrame,
        to_chat: &mut Vec<ToChat>,
    ) {
        let answer = match reply {
            BytesFrame::Number { data: 1, .. } => {
                self.held.insert(key.clone(), value);
                ClaimAnswer::Granted
            }
            // Changed in between: somebody holds it now.
            BytesFrame::Number { .. } => ClaimAnswer::Taken { holder },
            _ => ClaimAnswer::Unavailable,
        };
        to_chat.push(ToChat::Claimed {
            conn,
            claim,
            key,
            answer,
        });
    }

    /// The refresh's answer: names of this node's sessions that another node holds now (its
    /// claims lapsed while it was cut off longer than they live, and another node granted the
    /// name). The earlier claim keeps the name: this node takes it back if its claim is the
    /// earlier, and its session is renamed if not.
    pub(super) fn refresh_replied(&mut self, reply: &BytesFrame, to_chat: &mut Vec<ToChat>) {
        let BytesFrame::Array { data, .. } = reply else {
            return;
        };
        let ttl = self.claim_ttl_ms();
        for pair in data.chunks_exact(2) {
            let (Some(redis_key), Some(theirs)) = (pair[0].as_str(), pair[1].as_str()) else {
                continue;
            };
            let Some(key) = redis_key.strip_prefix("rc:nick:") else {
                continue;
            };
            let Some(ours) = self.held.get(key).cloned() else {
                continue; // let go meanwhile
            };
            self.stats.claim_conflicts += 1;
            if claimed_first(&holder(&ours), &holder(theirs)) {
                log::warn!(key:% = key; "a name held here was granted elsewhere: taking it back (the earlier claim)");
                let _ = self.link.send_control(
                    &[
                        b"EVAL",
                        TAKE_OVER_SCRIPT.as_bytes(),
                        b"1",
                        redis_key.as_bytes(),
                        theirs.as_bytes(),
                        ours.as_bytes(),
                        ttl.as_bytes(),
                    ],
                    IGNORED,
                );
            } else {
                log::warn!(key:% = key; "a name held here was claimed earlier elsewhere: its session is renamed");
                self.held.remove(key);
                to_chat.push(ToChat::NameLost {
                    key: key.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{claimed_first, holder};

    #[test]
    fn a_claims_value_names_its_node_incarnation_time_and_name() {
        let h = holder("12:ab3defgh:1800000000123 민지");
        assert_eq!(
            (h.node, h.incarnation, h.at, h.nick),
            ("12", "ab3defgh", Some(1_800_000_000_123), "민지")
        );
        // A value without the time (an older node's): counts as the latest claim.
        let h = holder("12:ab3defgh 민지");
        assert_eq!((h.node, h.incarnation, h.at), ("12", "ab3defgh", None));
        // A value from before incarnations, or damaged: never this node's.
        let h = holder("12 bob");
        assert_eq!((h.node, h.incarnation, h.nick), ("12", "", "bob"));
    }

    #[test]
    fn the_earlier_claim_keeps_a_name_and_at_one_instant_the_lower_node() {
        let (a, b) = (holder("3:x:100 alice"), holder("1:y:200 alice"));
        assert!(claimed_first(&a, &b) && !claimed_first(&b, &a));
        let (a, b) = (holder("3:x:100 alice"), holder("1:y:100 alice"));
        assert!(claimed_first(&b, &a) && !claimed_first(&a, &b));
        let (timed, untimed) = (holder("3:x:100 alice"), holder("1:y alice"));
        assert!(claimed_first(&timed, &untimed));
    }
}
