//! Whispers to users of other nodes. A whisper to a name nobody here holds goes out
//! ([`Output::WhisperElsewhere`]); the cluster link looks the name's claim up in Redis and
//! sends the whisper to the node that holds it, which delivers it as its own
//! ([`Chat::whisper_from_elsewhere`]). The sender is answered when the link knows whether the
//! name is held ([`Chat::whisper_routed`]): its copy of the whisper, or "no such user".

use std::sync::Arc;

use super::super::context::Cx;
use super::super::event::{Event, Info, Refusal};
use super::super::nick::collision_key;
use super::super::{Chat, ConnId, Outbox, Output};

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

    /// A whisper another node routed here: delivered to the session that holds its target's
    /// name (kept for its return if it is held for a reconnect), or dropped if none does any
    /// more (it left a moment ago).
    pub fn whisper_from_elsewhere(&mut self, whisper: Event, out: &mut Outbox) {
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
        let keep = self.keep_own();
        self.sessions[target].deliver(event, keep, out);
    }
}
