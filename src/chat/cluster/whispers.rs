//! Whispers to users of other nodes. A whisper to a name nobody here holds goes out
//! ([`Output::WhisperElsewhere`]); the cluster link looks the name's claim up in Redis and
//! sends the whisper to the node that holds it, which delivers it as its own
//! ([`Chat::whisper_from_elsewhere`]). The sender is answered when the link knows whether the
//! name is held ([`Chat::whisper_routed`]): its copy of the whisper, or "no such user"; and,
//! from the target's node, whether the target is away or reconnecting, as on one node.
//!
//! `/whois` of a user of another node goes the same way ([`Output::WhoisElsewhere`]); the
//! holder's node answers with what its own `/whois` would say ([`Chat::whois_from_elsewhere`]).

use std::sync::Arc;

use super::super::context::Cx;
use super::super::event::{Event, Info, Refusal};
use super::super::nick::collision_key;
use super::super::{Chat, ConnId, Now, Outbox, Output};

impl Chat {
    /// `/msg NICK text` to a name this node does not have.
    pub(in crate::chat) fn whisper_elsewhere(&mut self, cx: &mut Cx<'_>, to: &str, text: &str) {
        let event = Event::Whisper {
            id: self.ids.next(cx.now.wall),
            at: cx.now.wall,
            from: self.sessions[cx.sid].nick().clone(),
            to: Arc::from(to),
            text: Arc::from(text),
        };
        cx.out.items.push(Output::WhisperElsewhere {
            conn: cx.conn,
            key: collision_key(to),
            event,
        });
    }

    /// The link looked a whisper's target up: `holder` is the name as its node spells it, or
    /// `None` when nobody in the cluster holds it. The sender (if still connected as the
    /// whisper's sender) is answered as for a whisper on one node.
    pub fn whisper_routed(
        &mut self,
        conn: ConnId,
        whisper: Event,
        holder: Option<Arc<str>>,
        out: &mut Outbox,
    ) {
        let Event::Whisper {
            id,
            at,
            from,
            to,
            text,
            ..
        } = whisper
        else {
            return;
        };
        let sender = self.sessions.entry(conn).and_then(|e| e.session);
        if sender.is_none_or(|sid| self.sessions[sid].nick() != &from) {
            return; // the sender left, or renamed, meanwhile
        }
        match holder {
            Some(nick) => {
                self.stats.whispers += 1;
                let sent = Info::WhisperSent {
                    to: nick,
                    text,
                    id,
                    at,
                };
                out.send(conn, Event::Info(sent));
            }
            None => out.send(conn, Event::Refused(Refusal::NoSuchUser { nick: to })),
        }
    }

    /// A whisper a user of node `node` sent here: delivered to the session that holds its
    /// target's name (kept for its return if it is held for a reconnect), or dropped if none
    /// does any more (it left a moment ago). The sender is told, as on one node, that the
    /// target is away or reconnecting.
    pub fn whisper_from_elsewhere(&mut self, node: u16, whisper: Event, out: &mut Outbox) {
        let Event::Whisper { to, .. } = &whisper else {
            return;
        };
        let Some(target) = self.sessions.by_key(&collision_key(to)) else {
            return;
        };
        let event = match whisper {
            Event::Whisper {
                id, at, from, text, ..
            } => Event::Whisper {
                id,
                at,
                from,
                // As the target spells it.
                to: self.sessions[target].nick().clone(),
                text,
            },
            other => other,
        };
        let sender = match &event {
            Event::Whisper { from, .. } => from.clone(),
            _ => return,
        };
        let keep = self.keep_own();
        let t = &mut self.sessions[target];
        let (nick, held, away) = (t.nick().clone(), !t.is_connected(), t.away().cloned());
        t.deliver(event, keep, out);
        if held {
            let info = Info::WhisperHeld { nick: nick.clone() };
            out.items.push(Output::ReplyElsewhere {
                node,
                to: sender.clone(),
                event: Event::Info(info),
            });
        }
        if let Some(message) = away {
            let info = Info::TargetAway { nick, message };
            out.items.push(Output::ReplyElsewhere {
                node,
                to: sender,
                event: Event::Info(info),
            });
        }
    }

    /// `/whois NICK` of a name this node does not have.
    pub(in crate::chat) fn whois_elsewhere(&mut self, cx: &mut Cx<'_>, nick: &str) {
        cx.out.items.push(Output::WhoisElsewhere {
            conn: cx.conn,
            key: collision_key(nick),
            asker: self.sessions[cx.sid].nick().clone(),
            target: Arc::from(nick),
        });
    }

    /// The link looked a `/whois` target up: nobody in the cluster holds the name (`holder`
    /// `None`), which the asker is told; else the holder's node answers.
    pub fn whois_routed(
        &mut self,
        conn: ConnId,
        asker: &str,
        target: Arc<str>,
        holder: Option<Arc<str>>,
        out: &mut Outbox,
    ) {
        let session = self.sessions.entry(conn).and_then(|e| e.session);
        if session.is_none_or(|sid| &**self.sessions[sid].nick() != asker) || holder.is_some() {
            return;
        }
        out.send(conn, Event::Refused(Refusal::NoSuchUser { nick: target }));
    }

    /// `/whois` from the user `asker` of node `node`, of a user of this node.
    pub fn whois_from_elsewhere(
        &mut self,
        node: u16,
        asker: Arc<str>,
        target: &str,
        now: Now,
        out: &mut Outbox,
    ) {
        let Some(target) = self.sessions.by_key(&collision_key(target)) else {
            // It left a moment ago: as one node would answer.
            return self.gone_elsewhere(node, asker, target, out);
        };
        let info = self.whois_info(target, now);
        out.items.push(Output::ReplyElsewhere {
            node,
            to: asker,
            event: Event::Info(info),
        });
    }

    /// Tells the user `to` of node `node` that `nick`, whom a command of theirs routed here,
    /// is no longer here.
    pub(in crate::chat) fn gone_elsewhere(
        &self,
        node: u16,
        to: Arc<str>,
        nick: &str,
        out: &mut Outbox,
    ) {
        let refusal = Refusal::NoSuchUser {
            nick: Arc::from(nick),
        };
        out.items.push(Output::ReplyElsewhere {
            node,
            to,
            event: Event::Refused(refusal),
        });
    }

    /// An answer another node sent a user of this one (a `/whois`, a whisper's target away or
    /// reconnecting, what became of an invitation): shown if the user is connected.
    pub fn reply_from_elsewhere(&mut self, to: &str, event: Event, out: &mut Outbox) {
        let conn = self
            .sessions
            .by_key(&collision_key(to))
            .and_then(|sid| self.sessions[sid].conn());
        if let Some(conn) = conn {
            out.send(conn, event);
        }
    }
}
