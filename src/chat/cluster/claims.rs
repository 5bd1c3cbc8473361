//! Nicknames unique across the cluster: a login or a rename that passes every check of this node
//! still waits for Redis to grant the name ([`Output::ClaimNick`]), since a user of another node
//! may hold it. The claim is keyed by the name's collision key, so case and look-alike variants
//! are one name cluster-wide as on one node. The answer comes back through
//! [`Chat::nick_claim_answered`]; meanwhile the connection's further login lines are ignored (a
//! claim takes a round trip to Redis). A session's claim is let go when the session ends or
//! moves to another name ([`Output::ReleaseNick`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::super::event::{Event, Refusal};
use super::super::kept::resume_key_hash;
use super::super::session::NewSession;
use super::super::{Chat, ConnId, Now, Outbox, Output, SessionId};
use super::MovedSession;

/// Redis's answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimAnswer {
    Granted,
    /// Another session of the cluster holds the name (as it spells it).
    Taken {
        holder: Arc<str>,
    },
    /// The link to Redis is down: the name cannot be checked.
    Unavailable,
    /// Another node held the name, for a session whose resume key this login gave: that node
    /// let the session go to this one, with the name's claim.
    Moved(MovedSession),
}

/// A login or rename waiting for its claim.
#[derive(Debug)]
pub(in crate::chat) enum Waiting {
    Login {
        ip: IpAddr,
        nick: Arc<str>,
        key: String,
        resume_key: Option<String>,
        keeps_rooms: bool,
    },
    Rename {
        sid: SessionId,
        nick: Arc<str>,
        key: String,
    },
    /// A new name for a session that lost its own to an earlier claim (see `collisions`).
    Collision {
        sid: SessionId,
        nick: Arc<str>,
        key: String,
        tries: u8,
    },
}

/// The claims under way, by connection, each with its serial: a connection's slot may be
/// reused while an answer for its former owner is on its way.
#[derive(Debug, Default)]
pub(in crate::chat) struct Claims {
    waiting: HashMap<ConnId, (u64, Waiting)>,
    next: u64,
}

impl Claims {
    pub fn is_waiting(&self, conn: ConnId) -> bool {
        self.waiting.contains_key(&conn)
    }

    /// The connection closed: an answer to its claim finds nobody (and a granted claim is let
    /// go).
    pub fn forget(&mut self, conn: ConnId) {
        self.waiting.remove(&conn);
    }

    fn wait(&mut self, conn: ConnId, waiting: Waiting) -> u64 {
        self.next += 1;
        self.waiting.insert(conn, (self.next, waiting));
        self.next
    }

    fn take(&mut self, conn: ConnId, claim: u64) -> Option<Waiting> {
        match self.waiting.get(&conn) {
            Some((serial, _)) if *serial == claim => self.waiting.remove(&conn).map(|(_, w)| w),
            _ => None,
        }
    }
}

impl Chat {
    /// A new session on a cluster node: its name is claimed first.
    pub(in crate::chat) fn claim_for_login(&mut self, new: NewSession<'_>, out: &mut Outbox) {
        let (conn, key, nick) = (new.conn, new.key.clone(), new.nick.clone());
        // A resume key may be for a session another node holds: the link asks for it.
        let resume = new.resume_key.map(resume_key_hash);
        let waiting = Waiting::Login {
            ip: new.ip,
            nick: new.nick,
            key: new.key,
            resume_key: new.resume_key.map(str::to_string),
            keeps_rooms: new.keeps_rooms,
        };
        self.wait_for_claim(conn, waiting, key, nick, resume, out);
    }

    /// Keeps `waiting` until Redis answers the claim of `nick` (collision key `key`) for
    /// `conn`, and asks the link for it.
    pub(in crate::chat) fn wait_for_claim(
        &mut self,
        conn: ConnId,
        waiting: Waiting,
        key: String,
        nick: Arc<str>,
        resume: Option<String>,
        out: &mut Outbox,
    ) {
        let claim = self.claims.wait(conn, waiting);
        out.items.push(Output::ClaimNick {
            conn,
            claim,
            key,
            nick,
            resume,
        });
    }

    /// A rename on a cluster node to a name of another collision key: claimed first.
    pub(in crate::chat) fn claim_for_rename(
        &mut self,
        conn: ConnId,
        sid: SessionId,
        nick: Arc<str>,
        key: String,
        out: &mut Outbox,
    ) {
        let waiting = Waiting::Rename {
            sid,
            nick: nick.clone(),
            key: key.clone(),
        };
        self.wait_for_claim(conn, waiting, key, nick, None, out);
    }

    /// Redis answered claim `claim`, made for `conn`. Returns whether the name is in use here
    /// now: when not (the connection went away meanwhile, or the name was refused), a granted
    /// claim must be let go.
    pub fn nick_claim_answered(
        &mut self,
        conn: ConnId,
        claim: u64,
        answer: ClaimAnswer,
        now: Now,
        out: &mut Outbox,
    ) -> bool {
        let Some(waiting) = self.claims.take(conn, claim) else {
            return false;
        };
        let refusal = |nick: &Arc<str>, answer: &ClaimAnswer| match answer {
            ClaimAnswer::Granted | ClaimAnswer::Moved(_) => None,
            ClaimAnswer::Taken { holder } => Some(Refusal::NickTaken {
                nick: nick.clone(),
                lookalike: holder.to_lowercase() != nick.to_lowercase(),
            }),
            ClaimAnswer::Unavailable => Some(Refusal::ClusterDown),
        };
        match waiting {
            Waiting::Login {
                ip,
                nick,
                key,
                resume_key,
                keeps_rooms,
            } => {
                if self.sessions.entry(conn).is_none() {
                    return false;
                }
                if let Some(refusal) = refusal(&nick, &answer) {
                    self.refuse_login(conn, refusal, out);
                    return false;
                }
                // The name may have been taken here meanwhile (a login on this node granted
                // first would have been refused by Redis, so only a race with a resume of a
                // held session is left): the local check decides again.
                if self.sessions.by_key(&key).is_some() {
                    let refusal = Refusal::NickTaken {
                        nick,
                        lookalike: false,
                    };
                    self.refuse_login(conn, refusal, out);
                    // The name's claim is the session's that holds it here: it stays.
                    return true;
                }
                let new = NewSession {
                    conn,
                    ip,
                    nick,
                    key,
                    resume_key: resume_key.as_deref(),
                    keeps_rooms,
                    at: now.wall,
                };
                match answer {
                    ClaimAnswer::Moved(moved) => {
                        let new = NewSession {
                            nick: moved.nick.clone(),
                            ..new
                        };
                        self.moved_here(new, moved, now, out);
                    }
                    _ => self.new_session(new, now, out),
                }
                true
            }
            Waiting::Rename { sid, nick, key } => {
                let current = self.sessions.get(sid).filter(|s| s.conn() == Some(conn));
                if current.is_none() {
                    return false;
                }
                if let Some(refusal) = refusal(&nick, &answer) {
                    out.send(conn, Event::Refused(refusal));
                    return false;
                }
                // Another session here took the name meanwhile (it logged in under it): the
                // local index must never hold one name twice.
                if self.sessions.by_key(&key).is_some_and(|other| other != sid) {
                    let refusal = Refusal::NickTaken {
                        nick,
                        lookalike: false,
                    };
                    out.send(conn, Event::Refused(refusal));
                    return false;
                }
                let old_key = self.sessions[sid].key().to_string();
                self.finish_rename(conn, sid, nick, key, now, out);
                out.items.push(Output::ReleaseNick { key: old_key });
                true
            }
            Waiting::Collision {
                sid,
                nick,
                key,
                tries,
            } => {
                let granted = answer == ClaimAnswer::Granted;
                self.collision_name_answered(conn, sid, nick, key, tries, granted, now, out)
            }
        }
    }

    /// The collision keys of every session here, live or held: the claims this node keeps
    /// alive in Redis.
    pub fn claimed_keys(&self) -> Vec<(String, Arc<str>)> {
        self.sessions
            .iter()
            .map(|(_, s)| (s.key().to_string(), s.nick().clone()))
            .collect()
    }
}
