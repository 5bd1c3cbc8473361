//! A session moving between nodes (see `chat::cluster::moves`). A login with a resume key
//! whose name's claim another node holds asks that node, on its direct channel, for the
//! session (`MOVE_ASKED`, with the hash of the key and the claim value this node would hold).
//! The holder, if the key is its own, first replaces its claim with the asker's value by
//! compare-and-set (so the name is never free in between for a third login to take), then lets
//! the session go, removes its fields from the session's rooms' members, and answers
//! (`MOVE_ANSWERED`) with what the session goes on with; if anything fails on the way the
//! session stays where it was. The asker then holds the claim, as if Redis had granted it.
//!
//! A holder that does not answer within a quarter of `--cluster-timeout` (it died, or its link
//! is down) leaves the login refused as for any name in use; a session let go after that is
//! answered for nobody, and its claim let go here, so the name is free again.

use std::sync::Arc;
use std::time::Instant;

use redis_protocol::resp3::types::BytesFrame;

use super::claims::{nick_key, TAKE_OVER_SCRIPT};
use super::{direct_channel, Node, Pending, ToChat, IGNORED};
use crate::chat::cluster::claims::ClaimAnswer;
use crate::chat::cluster::MovedSession;
use crate::chat::room_key;
use crate::chat::ConnId;
use crate::render::cluster as wire;

/// Asks given up on (their logins refused) whose answer may still come, the newest kept.
pub(super) const MAX_GIVEN_UP: usize = 64;

/// A login waiting for another node to let its session go.
#[derive(Debug)]
pub(super) struct Moving {
    pub conn: ConnId,
    pub claim: u64,
    pub key: String,
    /// The claim this node holds once the session is here.
    pub value: String,
    /// The name as its holder spells it, for a refusal.
    pub holder: Arc<str>,
    /// The node asked.
    pub holder_node: u16,
}

impl Node {
    /// Asks node `node` for the session a login names (its resume key hashing to `resume`).
    pub(super) fn ask_move(
        &mut self,
        node: u16,
        waiting: Moving,
        resume: &str,
        to_chat: &mut Vec<ToChat>,
    ) {
        if self.gone.contains(&node) {
            // Its node is gone: its names lapse with the grace, as one lost connection's.
            return to_chat.push(refused(waiting));
        }
        // Started from a hash of the secret, it may wrap: serials need only differ.
        self.next_move = self.next_move.wrapping_add(1);
        let serial = self.next_move;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        wire::encode_move_asked(
            self.id,
            serial,
            &waiting.key,
            resume,
            &waiting.value,
            &mut buf,
        );
        let channel = direct_channel(node);
        let sent = self
            .link
            .send_control(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED);
        self.buf = buf;
        if sent.is_err() {
            return to_chat.push(refused(waiting));
        }
        let deadline = Instant::now() + self.timeout / 4;
        self.moving.insert(serial, (deadline, waiting));
    }

    /// Node `from`'s answer to the ask `serial`: the session is this node's now, or the login
    /// is refused. An answer that is not for the ask (another node's, another name's) is
    /// ignored.
    pub(super) fn move_answered(
        &mut self,
        from: u16,
        serial: u64,
        session: Option<MovedSession>,
        to_chat: &mut Vec<ToChat>,
    ) {
        let is_for = |w: &Moving| {
            w.holder_node == from
                && session
                    .as_ref()
                    .is_none_or(|s| crate::chat::nick::collision_key(&s.nick) == w.key)
        };
        if self.moving.get(&serial).is_some_and(|(_, w)| !is_for(w)) {
            log::warn!(node = from; "an answer to a session's move that is not for this ask");
            return;
        }
        let Some((_, waiting)) = self.moving.remove(&serial) else {
            let given_up = self.moves_given_up.iter().position(|(s, ..)| *s == serial);
            if let (Some(session), Some(at)) = (session, given_up) {
                // Answered too late: the login was refused meanwhile, and nobody here uses
                // the claim handed over: the name is let go.
                log::warn!(nick:% = session.nick, from = session.node; "a session moved here after its login gave up");
                if let Some((_, key, value)) = self.moves_given_up.remove(at) {
                    self.send_release(&key, &value);
                }
            }
            return;
        };
        let Some(session) = session else {
            return to_chat.push(refused(waiting));
        };
        let Moving {
            conn,
            claim,
            key,
            value,
            ..
        } = waiting;
        self.held.insert(key.clone(), value);
        to_chat.push(ToChat::Claimed {
            conn,
            claim,
            key,
            answer: ClaimAnswer::Moved(session),
        });
    }

    /// Asks that timed out are refused.
    pub(super) fn moves_due(&mut self, now: Instant, to_chat: &mut Vec<ToChat>) {
        let due: Vec<u64> = self
            .moving
            .iter()
            .filter(|(_, (deadline, _))| *deadline <= now)
            .map(|(&serial, _)| serial)
            .collect();
        for serial in due {
            if let Some((_, waiting)) = self.moving.remove(&serial) {
                log::info!(key:% = waiting.key; "the node holding a session did not answer in time");
                self.give_up(serial, &waiting);
                to_chat.push(refused(waiting));
            }
        }
    }

    fn give_up(&mut self, serial: u64, waiting: &Moving) {
        if self.moves_given_up.len() >= MAX_GIVEN_UP {
            self.moves_given_up.pop_front();
        }
        let (key, value) = (waiting.key.clone(), waiting.value.clone());
        self.moves_given_up.push_back((serial, key, value));
    }

    /// When the next ask times out.
    pub(super) fn moves_deadline(&self) -> Option<Instant> {
        self.moving.values().map(|(deadline, _)| *deadline).min()
    }

    /// The link went down: the asks waiting are answered as for a name that cannot be checked.
    pub(super) fn moves_lost(&mut self, to_chat: &mut Vec<ToChat>) {
        for (serial, (_, waiting)) in std::mem::take(&mut self.moving) {
            // An answer may still come on the new connection: its claim is then let go.
            self.give_up(serial, &waiting);
            to_chat.push(ToChat::Claimed {
                conn: waiting.conn,
                claim: waiting.claim,
                key: waiting.key,
                answer: ClaimAnswer::Unavailable,
            });
        }
    }

    /// Node `to` asks (`serial`) for the session with collision key `key`; `may`: the chat
    /// core has it, and the resume key is its own. The name's claim is handed over first, by
    /// compare-and-set from this node's value to `value` (the asker's); the session is let go
    /// only once Redis has done it (`handed_over`).
    pub fn hand_over(
        &mut self,
        to: u16,
        serial: u64,
        key: String,
        value: String,
        resume_hash: String,
        may: bool,
    ) {
        let held = self.held.get(&key).cloned().filter(|_| may);
        let Some(held) = held else {
            return self.send_move_answer(to, serial, None);
        };
        let redis_key = nick_key(&key);
        let ttl = self.claim_ttl_ms();
        let new_value = value.clone();
        let tag = self.tag(Pending::HandOver {
            to,
            serial,
            key,
            value,
            resume_hash,
        });
        let command: [&[u8]; 7] = [
            b"EVAL",
            TAKE_OVER_SCRIPT.as_bytes(),
            b"1",
            redis_key.as_bytes(),
            held.as_bytes(),
            new_value.as_bytes(),
            ttl.as_bytes(),
        ];
        if self.link.send_control(&command, tag).is_err() {
            self.pending.remove(&tag);
            self.send_move_answer(to, serial, None);
        }
    }

    /// Redis answered the claim's hand-over: the session is let go if the claim is the
    /// asker's now; the asker is refused if not.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handed_over(
        &mut self,
        to: u16,
        serial: u64,
        key: String,
        value: String,
        resume_hash: String,
        reply: &BytesFrame,
        to_chat: &mut Vec<ToChat>,
    ) {
        if !matches!(reply, BytesFrame::Number { data: 1, .. }) {
            log::warn!(key:% = key; "a moving session's claim was no longer this node's");
            return self.send_move_answer(to, serial, None);
        }
        self.held.remove(&key);
        to_chat.push(ToChat::HandedOver {
            node: to,
            serial,
            key,
            value,
            resume_hash,
        });
    }

    /// The chat core let the session go (`Some`) after its claim became the asker's (`value`),
    /// or no longer had it (it ended meanwhile): the asker is answered, and a claim nobody
    /// uses let go.
    pub fn answer_move(
        &mut self,
        to: u16,
        serial: u64,
        key: &str,
        value: &str,
        session: Option<MovedSession>,
    ) {
        match &session {
            // This node's fields in the session's rooms' members go; the asker writes its own
            // when it announces the reconnect.
            Some(session) => {
                for room in &session.rooms {
                    let members = format!("rc:{{{}}}:members", room_key(room));
                    let _ = self.link.send_control(
                        &[b"HDEL", members.as_bytes(), session.nick.as_bytes()],
                        IGNORED,
                    );
                }
            }
            None => {
                self.send_release(key, value);
            }
        }
        self.send_move_answer(to, serial, session.as_ref());
    }

    fn send_move_answer(&mut self, to: u16, serial: u64, session: Option<&MovedSession>) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        wire::encode_move_answered(self.id, serial, session, &mut buf);
        let channel = direct_channel(to);
        let _ = self
            .link
            .send_control(&[b"SPUBLISH", channel.as_bytes(), &buf], IGNORED);
        self.buf = buf;
    }
}

/// A login whose session could not be moved here: refused as for a name in use.
fn refused(waiting: Moving) -> ToChat {
    ToChat::Claimed {
        conn: waiting.conn,
        claim: waiting.claim,
        key: waiting.key,
        answer: ClaimAnswer::Taken {
            holder: waiting.holder,
        },
    }
}
