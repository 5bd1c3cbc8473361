//! The cluster link's place in the loop (with `--cluster`): the Redis socket is one more source
//! of the poll, with its own token.
//!
//! A room event that happens here goes out to local members in the same turn as without a
//! cluster; its copy for the other nodes is queued on the link as the outbox is applied
//! ([`Reactor::publish`]) and written in loop step 9 ([`Reactor::flush_cluster`]), with the
//! subscriptions of rooms opened and closed in the turn. What the link reads (other nodes'
//! events, rooms' members, the link going down and coming back) is handed to the chat core in
//! step 2, like the storage thread's answers, and its outbox applied at once.

use std::sync::Arc;

use mio::Token;

use super::net::Poller;
use super::Reactor;
use crate::chat::cluster::claims::ClaimAnswer;
use crate::chat::cluster::RemoteKick;
use crate::chat::event::Event;
use crate::chat::kept::Kept;
use crate::chat::ConnId;
use crate::cluster::node::{Node, ToChat};
use crate::config::Config;

/// The Redis link's token, beside the signals' and the storage thread's.
pub(super) const CLUSTER: Token = Token(usize::MAX - 4);

/// How long a node waits at start for its link to Redis, which it reached a moment before to
/// claim its id.
const JOIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The node of `--cluster`, with the id claimed at start (`cluster::claim`).
pub(super) fn node(cfg: &Config) -> std::io::Result<Option<Box<Node>>> {
    let Some(url) = &cfg.cluster else {
        return Ok(None);
    };
    let url = url
        .parse()
        .map_err(|e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let (Some(id), Some(secret)) = (cfg.node_id, cfg.cluster_claim.clone()) else {
        return Err(std::io::Error::other(
            "--cluster: the node id must be claimed before the reactor starts",
        ));
    };
    Ok(Some(Box::new(Node::new(
        url,
        id,
        secret,
        cfg.cluster_timeout(),
        cfg.grace(),
        cfg.cluster_max_queued,
        CLUSTER,
    ))))
}

/// What a step of the link gives the chat core, the rooms' live local members it may ask for,
/// and the registry the link's socket is registered with.
macro_rules! with_node {
    ($self:ident, |$node:ident, $registry:ident, $now:ident, $local:ident, $to_chat:ident| $body:expr) => {{
        let (Some($node), Poller::Mio(poll)) = ($self.cluster.as_deref_mut(), &$self.poll) else {
            return;
        };
        let $registry = poll.registry();
        let $now = $self.clock.now();
        let $local = &$self.chat;
        let mut $to_chat = Vec::new();
        $body;
        $self.give_chat($to_chat);
    }};
}

impl crate::cluster::node::Local for crate::chat::Chat {
    fn rooms(&self) -> Vec<(Arc<str>, Vec<Arc<str>>)> {
        self.local_rooms()
    }

    fn online(&self) -> usize {
        crate::chat::Chat::online(self)
    }
}

impl Reactor {
    /// A room event that happened here, for the other nodes.
    pub(super) fn publish(&mut self, event: &Event) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.publish(event);
        }
    }

    /// A login or rename waits for its name's claim.
    pub(super) fn claim_nick(
        &mut self,
        conn: ConnId,
        claim: u64,
        key: String,
        nick: &str,
        resume: Option<String>,
    ) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.claim(conn, claim, key, nick, resume);
        }
    }

    /// A whisper to a user of another node.
    pub(super) fn whisper_elsewhere(&mut self, conn: ConnId, key: &str, whisper: Event) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.whisper(conn, key, whisper);
        }
    }

    /// An operator's kick of a user of another node.
    pub(super) fn kick_elsewhere(&mut self, conn: ConnId, key: &str, kick: RemoteKick) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.kick(conn, key, kick);
        }
    }

    /// A `/whois` of a user of another node.
    pub(super) fn whois_elsewhere(
        &mut self,
        conn: ConnId,
        key: &str,
        asker: Arc<str>,
        target: Arc<str>,
    ) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.whois(conn, key, asker, target);
        }
    }

    /// An answer for a user of another node.
    pub(super) fn reply_elsewhere(&mut self, to_node: u16, to: &str, event: &Event) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.reply_to(to_node, to, event);
        }
    }

    /// An invitation to a user of another node.
    pub(super) fn invite_elsewhere(
        &mut self,
        conn: ConnId,
        key: &str,
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    ) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.invite(conn, key, from, target, room);
        }
    }

    /// `/rooms` in a cluster: the other nodes' rooms are read.
    pub(super) fn list_rooms_elsewhere(&mut self, conn: ConnId) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.list_rooms(conn);
        }
    }

    /// A room event for a user of another node.
    pub(super) fn tell_elsewhere(&mut self, to_node: u16, to: &str, event: &Event) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.tell(to_node, to, event);
        }
    }

    /// A change to what every node keeps, made here.
    pub(super) fn share(&mut self, change: Kept) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.share(change);
        }
    }

    /// A session no longer uses a name.
    pub(super) fn release_nick(&mut self, key: &str) {
        if let Some(node) = self.cluster.as_deref_mut() {
            node.release(key);
        }
    }

    /// Readiness on the link's socket.
    pub(super) fn on_cluster_ready(&mut self) {
        let wall = self.now().wall;
        with_node!(self, |node, registry, now, local, to_chat| node.on_ready(
            registry,
            now,
            wall,
            local,
            &mut to_chat
        ));
    }

    /// The link's reconnect attempts and heartbeat (from loop step 5).
    pub(super) fn cluster_timers(&mut self) {
        let wall = self.now().wall;
        let due = self
            .cluster
            .as_deref()
            .and_then(Node::deadline)
            .is_some_and(|at| at <= self.clock.now());
        if !due {
            return;
        }
        with_node!(self, |node, registry, now, local, to_chat| node.on_timer(
            registry,
            now,
            wall,
            local,
            &mut to_chat
        ));
    }

    /// Loop step 9: rooms opened and closed this turn are subscribed and let go, and what was
    /// queued for Redis is written.
    pub(super) fn flush_cluster(&mut self) {
        let Some(node) = self.cluster.as_deref_mut() else {
            return;
        };
        let mut changes = std::mem::take(&mut self.room_changes);
        self.chat.take_room_changes(&mut changes);
        node.rooms_changed(&changes);
        changes.clear();
        self.room_changes = changes;
        let wall = self.now().wall;
        with_node!(self, |node, registry, now, local, to_chat| node.flush(
            registry,
            now,
            wall,
            local,
            &mut to_chat
        ));
    }

    /// `/healthz`'s body. A node whose cluster link is down still serves its own users, so it
    /// stays 200; the body says it is degraded and why, for a load balancer that can choose.
    pub(super) fn health(&self) -> String {
        match self.cluster.as_deref() {
            Some(node) if !node.is_up() => format!(
                "degraded: the cluster link to Redis at {} is down; users of this node chat among \
                 themselves only\n",
                node.link().url()
            ),
            _ => "ok\n".to_string(),
        }
    }

    /// Before the first turn: waits until the cluster link is up, so that the first user's join
    /// reaches the other nodes (a room event published while the link is still connecting would
    /// be dropped, as during an outage). Only the link's socket is served meanwhile; since
    /// readiness is edge-triggered, whatever else became ready (a listener's first connections,
    /// a signal) is looked at once the wait ends.
    pub(super) fn join_cluster(&mut self) -> std::io::Result<()> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let deadline = self.clock.now() + JOIN_WITHIN;
        let mut events = self.poll.events(16);
        while !self.cluster.as_deref().is_some_and(Node::is_up) {
            let now = self.clock.now();
            if now >= deadline {
                let url = self.cluster.as_deref().map(|n| n.link().url().to_string());
                return Err(std::io::Error::other(format!(
                    "cannot join the cluster: Redis at {} did not answer within {} s",
                    url.unwrap_or_default(),
                    JOIN_WITHIN.as_secs()
                )));
            }
            self.cluster_timers();
            let wake = self.cluster_deadline().unwrap_or(deadline).min(deadline);
            match self
                .poll
                .poll(&mut events, Some(wake.saturating_duration_since(now)))
            {
                Ok(()) => {}
                // A signal arrived: it is looked at once the wait is over.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let link_ready = match &events {
                super::net::Events::Mio(ready) => ready.iter().any(|e| e.token() == CLUSTER),
                // The simulated kernel has no Redis (and no cluster).
                #[cfg(any(test, feature = "sim"))]
                super::net::Events::Sim(_) => false,
            };
            if link_ready {
                self.on_cluster_ready();
            }
        }
        self.flush_cluster();
        self.on_signal();
        self.accept_on_all();
        Ok(())
    }

    /// When the link next needs its timer step.
    pub(super) fn cluster_deadline(&self) -> Option<std::time::Instant> {
        self.cluster.as_deref().and_then(Node::deadline)
    }

    /// Hands what the link read to the chat core and applies its outbox.
    fn give_chat(&mut self, items: Vec<ToChat>) {
        if items.is_empty() {
            return;
        }
        let now = self.now();
        let this_node = self.cluster.as_deref().map_or(0, Node::id);
        for item in items {
            match item {
                ToChat::Event { node, event } => {
                    self.chat.remote_event(node, event, now, &mut self.outbox);
                }
                ToChat::Members { room, members } => {
                    self.chat.remote_members(&room, members, this_node);
                }
                ToChat::Relist { room, ours } => {
                    let here = self.chat.local_nicks(&room);
                    let stale: Vec<Arc<str>> =
                        ours.into_iter().filter(|n| !here.contains(n)).collect();
                    if let Some(node) = self.cluster.as_deref_mut() {
                        node.relist(&room, &stale);
                    }
                }
                ToChat::Claimed {
                    conn,
                    claim,
                    key,
                    answer,
                } => {
                    // A moved session's claim was handed to this node: held here as granted.
                    let granted = matches!(answer, ClaimAnswer::Granted | ClaimAnswer::Moved(_));
                    let kept =
                        self.chat
                            .nick_claim_answered(conn, claim, answer, now, &mut self.outbox);
                    if granted && !kept {
                        self.release_nick(&key);
                    }
                }
                ToChat::WhisperRouted {
                    conn,
                    whisper,
                    holder,
                } => self
                    .chat
                    .whisper_routed(conn, whisper, holder, &mut self.outbox),
                ToChat::Whisper { node, event } => {
                    self.chat
                        .whisper_from_elsewhere(node, event, &mut self.outbox);
                }
                ToChat::WhoisRouted {
                    conn,
                    asker,
                    target,
                    holder,
                } => self
                    .chat
                    .whois_routed(conn, &asker, target, holder, &mut self.outbox),
                ToChat::WhoisAsked {
                    node,
                    asker,
                    target,
                } => {
                    self.chat
                        .whois_from_elsewhere(node, asker, &target, now, &mut self.outbox);
                }
                ToChat::Replied { to, event } => {
                    self.chat.reply_from_elsewhere(&to, event, &mut self.outbox);
                }
                ToChat::InviteRouted {
                    conn,
                    from,
                    target,
                    holder,
                } => self
                    .chat
                    .invite_routed(conn, &from, target, holder, &mut self.outbox),
                ToChat::Invited {
                    node,
                    from,
                    target,
                    room,
                } => self.chat.invite_from_elsewhere(
                    node,
                    from,
                    &target,
                    room,
                    now,
                    &mut self.outbox,
                ),
                ToChat::KickRouted { conn, kick, holder } => {
                    self.chat.kick_routed(conn, kick, holder, &mut self.outbox);
                }
                ToChat::Kick { node, kick } => {
                    self.chat
                        .kick_from_elsewhere(node, kick, now, &mut self.outbox);
                }
                ToChat::Told { to, event } => {
                    self.chat.told_from_elsewhere(&to, event, &mut self.outbox);
                }
                ToChat::Shared(changes) => {
                    self.chat
                        .shared_from_elsewhere(changes, now, &mut self.outbox);
                }
                ToChat::MoveAsked {
                    node: to,
                    serial,
                    key,
                    resume_hash,
                    value,
                } => {
                    // The claim moves first (`Node::hand_over`); the session is let go once
                    // it has (`ToChat::HandedOver`), so a failure on the way loses nothing.
                    let may = self.chat.session_may_move(&key, &resume_hash);
                    if let Some(node) = self.cluster.as_deref_mut() {
                        node.hand_over(to, serial, key, value, resume_hash, may);
                    }
                }
                ToChat::HandedOver {
                    node: to,
                    serial,
                    key,
                    value,
                    resume_hash,
                } => {
                    let session =
                        self.chat
                            .let_session_go(to, &key, &resume_hash, &mut self.outbox);
                    if let Some(node) = self.cluster.as_deref_mut() {
                        node.answer_move(to, serial, &key, &value, session);
                    }
                }
                ToChat::LinkChanged { up } => {
                    self.chat.cluster_link_changed(up, &mut self.outbox);
                }
                ToChat::NodesGone(nodes) => {
                    let removed = self.chat.remote_nodes_gone(&nodes, now, &mut self.outbox);
                    if let Some(node) = self.cluster.as_deref_mut() {
                        for (room, nicks) in removed {
                            node.forget_members(&room, &nicks);
                        }
                    }
                }
                ToChat::OnlineElsewhere(users) => self.chat.set_online_elsewhere(users),
                ToChat::NameLost { key } => self.chat.name_lost(&key, now, &mut self.outbox),
                ToChat::RoomsListed { conn, rooms } => {
                    self.chat.rooms_listed(conn, rooms, &mut self.outbox);
                }
                ToChat::IdLost => {
                    log::error!(
                        "another node of the cluster claimed this node's id: stopping, since \
                         message ids would no longer be unique"
                    );
                    self.shut_down();
                }
            }
        }
        self.apply_outbox();
    }
}
