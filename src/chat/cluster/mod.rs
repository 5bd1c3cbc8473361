//! The cluster's other nodes, as the chat core sees them: their room events, and who of their
//! users is in each room this node has members in.
//!
//! A room event that happens here is published once ([`Output::Publish`], beside
//! [`Output::Store`]); the reactor's cluster link sends it to the nodes that have members in the
//! room, and hands what they publish to [`Chat::remote_event`]. A remote event is delivered to
//! this node's members as if it had happened here, but it is neither stored nor published again:
//! the node where it happened does both.
//!
//! Each room keeps its remote members (nickname and node) so `/users` and the counts of `/rooms`
//! show the whole cluster. They are learned from the room's membership in Redis when this node
//! opens the room ([`Chat::remote_members`]) and kept up to date by the joins, departures and
//! renames that follow. A room exists here only while it has local members, so rooms nobody here
//! is in cost nothing.

pub mod claims;
mod collisions;
mod kicks;
mod moves;
mod shared;
mod whispers;

pub use kicks::RemoteKick;
pub use moves::MovedSession;

use std::sync::Arc;

use super::event::{Departure, Event, Info, LostReason};
use super::nick::collision_key;
use super::{Chat, ConnId, Now, Outbox, RoomId};

/// A user of another node in one of this node's rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMember {
    pub nick: Arc<str>,
    pub node: u16,
    /// Away, as the user's node last said (`/users` marks it).
    pub away: bool,
}

/// A room that opened here (its first local member came in) or closed (its last one left):
/// the cluster link subscribes to its events or stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomChange {
    /// The room's name as first spelled here.
    pub room: Arc<str>,
    pub open: bool,
}

impl Chat {
    /// A room event published by node `node`: members of its room on this node are told, and the
    /// room's remote members follow its joins, departures and renames. Events of rooms nobody
    /// here is in (a subscription not yet ended) are dropped.
    pub fn remote_event(&mut self, node: u16, event: Event, now: Now, out: &mut Outbox) {
        let Some(room) = event.room().and_then(|name| self.rooms.find(name)) else {
            return;
        };
        let r = &mut self.rooms[room];
        match &event {
            Event::Joined { nick, .. } | Event::Reconnected { nick, .. } => {
                r.add_remote(nick.clone(), node);
            }
            Event::Left { nick, .. } => r.remove_remote(nick),
            Event::Renamed { old, new, .. } => r.rename_remote(old, new.clone(), node),
            Event::AwayChanged { nick, message, .. } => {
                r.set_remote_away(nick, message.is_some());
                // Shown only to clients that show away changes (IRC's away-notify).
                return self.tell_away_in(room, None, event, out);
            }
            Event::TopicSet { by, topic, at, .. } => {
                // The topic is the room's, wherever it was set; the node that set it keeps it
                // across a restart.
                r.set_topic(topic.clone(), by.clone(), *at);
            }
            _ => {}
        }
        match event {
            // Operator actions are announced on their own even in a big room, as here.
            Event::Left {
                how: Departure::Kicked { .. },
                ..
            } => self.deliver(room, None, event, out),
            Event::Joined { .. } | Event::Reconnected { .. } | Event::Left { .. } => {
                self.announce_presence_from(room, None, event, now, out, false)
            }
            _ => self.deliver(room, None, event, out),
        }
    }

    /// The users other nodes have in `room`, as Redis lists them when this node opens the room
    /// (or after the cluster link comes back): they replace what the room knew of other nodes.
    /// Names this node itself holds are skipped (a listing may still name a user who moved
    /// here).
    pub fn remote_members(
        &mut self,
        room: &str,
        members: impl IntoIterator<Item = (Arc<str>, u16)>,
        this_node: u16,
    ) {
        let Some(room) = self.rooms.find(room) else {
            return;
        };
        let local: std::collections::HashSet<String> = self.rooms[room]
            .members()
            .iter()
            .map(|&m| collision_key(self.sessions[m].nick()))
            .collect();
        let r = &mut self.rooms[room];
        r.clear_remote();
        for (nick, node) in members {
            if node != this_node && !local.contains(&collision_key(&nick)) {
                r.add_remote(nick, node);
            }
        }
    }

    /// Nodes that stopped answering: their users leave every room here as having lost the
    /// connection. Returns, by room, the names removed (for the cluster link to take them out
    /// of the room's members in Redis).
    pub fn remote_nodes_gone(
        &mut self,
        nodes: &[u16],
        now: Now,
        out: &mut Outbox,
    ) -> Vec<(Arc<str>, Vec<Arc<str>>)> {
        let mut removed = Vec::new();
        let rooms: Vec<RoomId> = self.rooms.iter().map(|(id, _)| id).collect();
        for room in rooms {
            let gone = self.rooms[room].remove_remote_of(nodes);
            if gone.is_empty() {
                continue;
            }
            let name = self.rooms[room].name().clone();
            for nick in &gone {
                let event = Event::Left {
                    id: self.ids.next(now.wall),
                    at: now.wall,
                    room: name.clone(),
                    nick: nick.clone(),
                    how: Departure::Lost {
                        reason: LostReason::NodeDown,
                    },
                };
                self.announce_presence_from(room, None, event, now, out, false);
            }
            removed.push((name, gone));
        }
        removed
    }

    /// The rooms opened and closed here since the last call, in order.
    pub fn take_room_changes(&mut self, into: &mut Vec<RoomChange>) {
        self.rooms.take_changes(into);
    }

    /// Every room with local members and the names of its live local members: what this node
    /// tells Redis again after the link comes back.
    pub fn local_rooms(&self) -> Vec<(Arc<str>, Vec<Arc<str>>)> {
        self.rooms
            .iter()
            .map(|(id, r)| (r.name().clone(), self.live_local(id)))
            .collect()
    }

    /// Users connected to the other nodes: the welcome's count of who is online is the
    /// cluster's.
    pub fn set_online_elsewhere(&mut self, users: usize) {
        self.online_elsewhere = users;
    }

    /// `/rooms` in a cluster: the rooms other nodes have members in (with the cluster's count
    /// of their users), as Redis lists them, with this node's.
    pub fn rooms_listed(
        &mut self,
        conn: ConnId,
        elsewhere: Vec<(Arc<str>, usize)>,
        out: &mut Outbox,
    ) {
        if !self.is_logged_in(conn) {
            return;
        }
        let rooms = self.rooms_with(elsewhere);
        out.send(conn, Event::Info(Info::Rooms { rooms }));
    }

    /// Who is online, for the welcome: the count is the cluster's; the names are this node's
    /// users and the other nodes' users in this node's rooms (the others are counted only).
    pub(in crate::chat) fn who_is_online(&self, names_max: usize) -> (usize, Vec<Arc<str>>) {
        let total = self.sessions.live() + self.online_elsewhere;
        if total > names_max {
            return (total, Vec::new());
        }
        let mut names: Vec<Arc<str>> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.is_connected())
            .map(|(_, s)| s.nick().clone())
            .collect();
        if self.settings.cluster {
            let mut seen: std::collections::HashSet<String> =
                names.iter().map(|n| collision_key(n)).collect();
            for (_, room) in self.rooms.iter() {
                for member in room.remote() {
                    if seen.insert(collision_key(&member.nick)) {
                        names.push(member.nick.clone());
                    }
                }
            }
        }
        // Counts come with heartbeats and rooms' members with events: one may be ahead.
        (total.max(names.len()), names)
    }

    /// The names of `room`'s live local members (none if nobody here is in it).
    pub fn local_nicks(&self, room: &str) -> Vec<Arc<str>> {
        self.rooms
            .find(room)
            .map(|id| self.live_local(id))
            .unwrap_or_default()
    }

    fn live_local(&self, room: RoomId) -> Vec<Arc<str>> {
        self.rooms[room]
            .members()
            .iter()
            .map(|&m| &self.sessions[m])
            .filter(|s| s.is_connected())
            .map(|s| s.nick().clone())
            .collect()
    }

    /// The cluster link went down or came back: every user here is told once, since what they
    /// see of other nodes stops or resumes (local chat goes on either way).
    pub fn cluster_link_changed(&mut self, up: bool, out: &mut Outbox) {
        if !up {
            // The other nodes' users are out of reach, and their count unknown until back.
            self.online_elsewhere = 0;
        }
        let conns: Vec<_> = self
            .sessions
            .iter()
            .filter_map(|(_, s)| s.conn().filter(|_| s.is_connected()))
            .collect();
        for conn in conns {
            out.send(conn, Event::Info(Info::ClusterLink { up }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::claims::ClaimAnswer;
    use super::MovedSession;
    use crate::chat::testing::*;
    use crate::chat::*;

    fn node(id: u16) -> Harness {
        Harness::with(ChatSettings {
            cluster: true,
            node_id: id,
            ..settings()
        })
    }

    /// Logs `conn` in on a cluster node: the name is claimed, and Redis grants it.
    fn login(h: &mut Harness, conn: usize, nick: &str) {
        h.connect(conn, ip(conn as u8));
        h.line(conn, nick);
        answer(h, conn, ClaimAnswer::Granted);
        assert!(h
            .out
            .items
            .contains(&Output::LoggedIn { conn: ConnId(conn) }));
    }

    /// Answers the claim the last call made for `conn`; `h.out` is then what the answer did.
    fn answer(h: &mut Harness, conn: usize, answer: ClaimAnswer) -> bool {
        let claim = h
            .out
            .items
            .iter()
            .find_map(|o| match o {
                Output::ClaimNick { conn: c, claim, .. } if c.0 == conn => Some(*claim),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no claim in {:?}", h.out.items));
        let (now, mut out) = (h.now, Outbox::default());
        let kept = h
            .chat
            .nick_claim_answered(ConnId(conn), claim, answer, now, &mut out);
        h.chat.check_invariants().unwrap();
        h.out = out;
        kept
    }

    /// What the last call published, in order.
    fn published(h: &Harness) -> Vec<Event> {
        h.out
            .items
            .iter()
            .filter_map(|o| match o {
                Output::Publish(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Hands what `from` published in its last call to `to`, as the cluster link would; returns
    /// what `to` delivered.
    fn relay(from: &Harness, from_node: u16, to: &mut Harness) {
        to.out.clear();
        for event in published(from) {
            to.chat.remote_event(from_node, event, to.now, &mut to.out);
        }
        to.chat.check_invariants().unwrap();
    }

    fn users(h: &mut Harness, conn: usize) -> Vec<String> {
        h.line(conn, "/users");
        h.delivered_to(conn)
            .into_iter()
            .find_map(|e| match e {
                Event::Info(Info::Users { users, .. }) => {
                    Some(users.iter().map(|u| u.nick.to_string()).collect())
                }
                _ => None,
            })
            .expect("a /users answer")
    }

    /// What the last call shared, in order.
    fn shared(h: &Harness) -> Vec<kept::Kept> {
        h.out
            .items
            .iter()
            .filter_map(|o| match o {
                Output::Share(change) => Some(change.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ban_travels_to_the_node_holding_its_target_and_every_node_keeps_it_once() {
        let (mut a, mut b) = (node(1), node(2));
        login(&mut a, 0, "alice"); // the first user of an empty node: an operator
        login(&mut b, 0, "bob");
        a.line(0, "/ban BOB 5");
        let (key, kick) = a
            .out
            .items
            .iter()
            .find_map(|o| match o {
                Output::KickElsewhere { key, kick, .. } => Some((key.clone(), kick.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no kick went out: {:?}", a.out.items));
        assert_eq!((key.as_str(), kick.ban_ms), ("bob", Some(5 * 60_000)));

        // Node b carries it out: bob's goodbye, the ban shared, and alice (in none of bob's
        // rooms as b knows them) shown the kick.
        b.out.clear();
        let now = b.now;
        b.chat.kick_from_elsewhere(1, kick.clone(), now, &mut b.out);
        b.chat.check_invariants().unwrap();
        assert!(b.out.items.iter().any(|o| matches!(
            o,
            Output::Close {
                conn: ConnId(0),
                bye: Some(Bye::Kicked { .. })
            }
        )));
        let changes = shared(&b);
        // (bob, the first user of node b, was an operator: his grant goes too.)
        assert!(
            matches!(&changes[..], [
                kept::Kept::Ban(ban),
                kept::Kept::GrantRevoked { nick_key },
            ] if ban.name_key == "bob" && nick_key == "bob"),
            "{changes:?}"
        );
        assert!(b.out.items.iter().any(|o| matches!(
            o,
            Output::TellElsewhere { node: 1, to, event: Event::Left { .. } } if &**to == "alice"
        )));
        // Sent again, it finds nobody: the operator is told so, as on one node.
        b.out.clear();
        b.chat.kick_from_elsewhere(1, kick, now, &mut b.out);
        assert!(
            matches!(
                &b.out.items[..],
                [Output::ReplyElsewhere {
                    node: 1,
                    event: Event::Refused(Refusal::NoSuchUser { .. }),
                    ..
                }]
            ),
            "{:?}",
            b.out.items
        );

        // Node a applies the ban, keeps it, and does not share it back; twice is as once.
        for _ in 0..2 {
            a.out.clear();
            let now = a.now;
            a.chat
                .shared_from_elsewhere(changes.clone(), now, &mut a.out);
            assert!(shared(&a).is_empty(), "{:?}", a.out.items);
            assert!(a
                .out
                .items
                .iter()
                .any(|o| matches!(o, Output::Keep(kept::Kept::Ban(_)))));
        }
        assert_eq!(a.chat.address_banned(ip(0), a.now.mono), Some(5));
        a.connect(5, ip(50));
        a.line(5, "Bob");
        assert!(matches!(
            refusal_of(&a.out.items),
            Some(Refusal::NickBanned { .. })
        ));
    }

    #[test]
    fn a_kick_of_a_name_nobody_holds_is_answered_no_such_user() {
        let mut a = node(1);
        login(&mut a, 0, "alice");
        a.line(0, "/kick ghost");
        let kick = a
            .out
            .items
            .iter()
            .find_map(|o| match o {
                Output::KickElsewhere { kick, .. } => Some(kick.clone()),
                _ => None,
            })
            .expect("the kick went out");
        let mut out = Outbox::default();
        a.chat.kick_routed(ConnId(0), kick, None, &mut out);
        assert_eq!(
            refusal_of(&out.items),
            Some(Refusal::NoSuchUser {
                nick: "ghost".into()
            })
        );
        // Not an operator: refused here, nothing goes out.
        login(&mut a, 1, "bob");
        a.line(1, "/kick ghost");
        assert_eq!(refusal_of(&a.out.items), Some(Refusal::NotOperator));
    }

    #[test]
    fn grants_and_topic_locks_made_here_are_shared_and_a_rename_moves_the_grant() {
        let mut a = node(1);
        login(&mut a, 0, "alice");
        a.line(0, "/topiclock on");
        assert!(matches!(&shared(&a)[..], [kept::Kept::Topic(t)] if t.locked));
        a.line(0, "/nick alicia");
        answer(&mut a, 0, ClaimAnswer::Granted);
        let changes = shared(&a);
        assert!(
            matches!(&changes[..], [
                kept::Kept::GrantRevoked { nick_key: from },
                kept::Kept::Grant(g),
            ] if from == "alice" && g.nick_key == "alicia"),
            "{changes:?}"
        );
        // Another node takes the lock in its open room (the grant's return through another
        // node is tests/it/cluster.rs's).
        let mut b = node(2);
        login(&mut b, 0, "bob");
        let now = b.now;
        let lock = kept::Kept::Topic(kept::KeptTopic {
            room: "lobby".into(),
            name: "lobby".into(),
            topic: None,
            locked: true,
            changed: now.wall,
        });
        b.chat.shared_from_elsewhere(vec![lock], now, &mut b.out);
        login(&mut b, 1, "carol"); // not an operator
        b.line(1, "/topic mine now");
        assert!(matches!(
            refusal_of(&b.out.items),
            Some(Refusal::TopicLocked { .. })
        ));
    }

    #[test]
    fn another_nodes_grant_under_another_admin_key_is_not_honoured_nor_revoked_here() {
        let mut b = node(2);
        b.chat.settings.admin_key = Some("this node's".into());
        b.chat.settings.first_user_op = false;
        let now = b.now;
        let grant = kept::Kept::Grant(kept::KeptGrant {
            nick_key: "dave".into(),
            key_hash: kept::resume_key_hash("daveskey0000"),
            fingerprint: kept::fingerprint(Some("another node's")),
            granted: now.wall,
        });
        b.chat.shared_from_elsewhere(vec![grant], now, &mut b.out);
        b.connect(0, ip(1));
        b.line(0, "dave daveskey0000");
        answer(&mut b, 0, ClaimAnswer::Granted);
        assert!(b.out.items.iter().any(|o| matches!(
            o,
            Output::ToConn {
                event: Event::Info(Info::Welcome { op: false, .. }),
                ..
            }
        )));
        assert!(
            !b.out.items.iter().any(|o| matches!(
                o,
                Output::Keep(kept::Kept::GrantRevoked { .. }) | Output::Share(_)
            )),
            "{:?}",
            b.out.items
        );
    }

    #[test]
    fn a_session_let_go_to_another_node_leaves_silently_and_goes_on_there_as_a_reconnect() {
        let (mut a, mut b) = (node(1), node(2));
        login(&mut a, 0, "alice");
        login(&mut a, 1, "bob");
        let key = a
            .chat
            .sessions
            .iter()
            .find_map(|(_, s)| (&**s.nick() == "alice").then(|| s.resume_key().to_string()));
        let key = key.expect("alice's session");
        // A wrong key lets nothing go.
        let mut out = Outbox::default();
        let wrong = kept::resume_key_hash("0123456789ab");
        assert_eq!(a.chat.let_session_go(2, "alice", &wrong, &mut out), None);
        assert!(out.items.is_empty());
        // The right one: the connection is told, the session goes without a word to the room
        // (node 2 announces the reconnect), and its name stays claimed (handed over).
        let hash = kept::resume_key_hash(&key);
        let moved = a
            .chat
            .let_session_go(2, "alice", &hash, &mut out)
            .expect("let go");
        a.chat.check_invariants().unwrap();
        assert_eq!(
            (moved.node, &*moved.nick, &moved.rooms[..]),
            (1, "alice", &[Arc::from("lobby")][..])
        );
        assert!(
            matches!(
                &out.items[..],
                [Output::Close {
                    conn: ConnId(0),
                    bye: Some(Bye::ResumedElsewhere)
                }]
            ),
            "{:?}",
            out.items
        );
        assert_eq!(users(&mut a, 1), ["alice", "bob"], "alice, on node 2 now");

        // Node 2: the login that asked goes on with the session, the same key, as a reconnect
        // everywhere, told that what it missed is not here.
        b.connect(5, ip(9));
        b.line(5, &format!("ALICE {key}"));
        let claim = b.out.items.iter().find_map(|o| match o {
            Output::ClaimNick { claim, resume, .. } => {
                assert_eq!(resume.as_deref(), Some(hash.as_str()));
                Some(*claim)
            }
            _ => None,
        });
        let mut out = Outbox::default();
        let (now, claim) = (b.now, claim.expect("a claim"));
        let answer = ClaimAnswer::Moved(moved);
        assert!(b
            .chat
            .nick_claim_answered(ConnId(5), claim, answer, now, &mut out));
        b.chat.check_invariants().unwrap();
        let told = |what: &dyn Fn(&Event) -> bool| {
            out.items.iter().any(|o| match o {
                Output::ToConn {
                    conn: ConnId(5),
                    event,
                } => what(event),
                _ => false,
            })
        };
        assert!(told(&|e| matches!(
            e,
            Event::Info(Info::Welcome { resumed: true, nick, resume_key, .. })
                if &**nick == "alice" && **resume_key == *key
        )));
        assert!(told(&|e| matches!(e, Event::Info(Info::ReplayUnavailable))));
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::Publish(Event::Reconnected { nick, .. }) if &**nick == "alice"
        )));
        assert_eq!(b.chat.stats.moved_in, 1);
        assert_eq!(a.chat.stats.moved_away, 1);
    }

    #[test]
    fn whois_and_a_whispers_answers_go_back_to_the_asking_node() {
        let mut b = node(2);
        login(&mut b, 0, "bob");
        b.line(0, "/away lunch");
        // /whois from alice of node 1: answered to her, by name, through her node.
        let (now, mut out) = (b.now, Outbox::default());
        b.chat
            .whois_from_elsewhere(1, "alice".into(), "BOB", now, &mut out);
        assert!(
            matches!(&out.items[..], [Output::ReplyElsewhere {
                node: 1,
                to,
                event: Event::Info(Info::Whois { nick, away: Some(away), .. }),
            }] if &**to == "alice" && &**nick == "bob" && &**away == "lunch"),
            "{:?}",
            out.items
        );
        // A whisper from alice: delivered, and she is told bob is away.
        let whisper = Event::Whisper {
            id: crate::chat::id::MsgId(1),
            at: now.wall,
            from: "alice".into(),
            to: "bob".into(),
            text: "psst".into(),
        };
        let mut out = Outbox::default();
        b.chat.whisper_from_elsewhere(1, whisper, &mut out);
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::ToConn {
                conn: ConnId(0),
                event: Event::Whisper { .. }
            }
        )));
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::ReplyElsewhere {
                node: 1,
                event: Event::Info(Info::TargetAway { .. }),
                ..
            }
        )));
        // Nobody by that name here any more: "no such user", as on one node.
        let mut out = Outbox::default();
        b.chat
            .whois_from_elsewhere(1, "alice".into(), "carol", now, &mut out);
        assert!(matches!(
            &out.items[..],
            [Output::ReplyElsewhere {
                event: Event::Refused(Refusal::NoSuchUser { .. }),
                ..
            }]
        ));
        out.clear();
        // The answer reaches the asker, if connected.
        let held = Info::WhisperHeld {
            nick: "carol".into(),
        };
        b.chat
            .reply_from_elsewhere("BOB", Event::Info(held), &mut out);
        assert!(matches!(
            &out.items[..],
            [Output::ToConn {
                conn: ConnId(0),
                event: Event::Info(Info::WhisperHeld { .. })
            }]
        ));
    }

    #[test]
    fn the_welcome_counts_the_clusters_users_and_names_those_in_rooms_here() {
        let mut b = node(2);
        login(&mut b, 0, "bob");
        b.chat
            .remote_members("lobby", [(Arc::from("alice"), 1), (Arc::from("bob"), 2)], 2);
        b.chat.set_online_elsewhere(3); // alice, and two in rooms nobody here is in
        b.connect(1, ip(1));
        b.line(1, "carol");
        answer(&mut b, 1, ClaimAnswer::Granted);
        let welcome = b.out.items.iter().find_map(|o| match o {
            Output::ToConn {
                event:
                    Event::Info(Info::Welcome {
                        online,
                        online_total,
                        ..
                    }),
                ..
            } => Some((online.clone(), *online_total)),
            _ => None,
        });
        let (online, total) = welcome.expect("a welcome");
        let names: Vec<&str> = online.iter().map(|n| &**n).collect();
        assert_eq!((names, total), (vec!["alice", "bob", "carol"], 5));
    }

    #[test]
    fn a_session_moved_here_is_not_also_the_other_nodes_member_of_a_room_open_here() {
        let mut b = node(2);
        login(&mut b, 0, "bob");
        b.chat.remote_members("lobby", [(Arc::from("alice"), 1)], 2);
        b.connect(5, ip(9));
        b.line(5, "alice 0123456789ab");
        let claim = b.out.items.iter().find_map(|o| match o {
            Output::ClaimNick { claim, .. } => Some(*claim),
            _ => None,
        });
        let moved = MovedSession {
            node: 1,
            nick: "alice".into(),
            rooms: vec!["lobby".into()],
            op: false,
            away: None,
        };
        let (now, mut out) = (b.now, Outbox::default());
        let answer = ClaimAnswer::Moved(moved);
        b.chat
            .nick_claim_answered(ConnId(5), claim.expect("a claim"), answer, now, &mut out);
        b.chat.check_invariants().unwrap();
        assert_eq!(users(&mut b, 0), ["alice", "bob"], "once");
    }

    #[test]
    fn first_user_op_waits_for_the_whole_cluster_to_be_empty() {
        let mut b = node(2);
        b.chat.set_online_elsewhere(1);
        b.connect(0, ip(1));
        b.line(0, "bob");
        answer(&mut b, 0, ClaimAnswer::Granted);
        assert!(b.out.items.iter().any(|o| matches!(
            o,
            Output::ToConn {
                event: Event::Info(Info::Welcome { op: false, .. }),
                ..
            }
        )));
    }

    #[test]
    fn a_name_lost_to_an_earlier_claim_is_renamed_with_a_notice_or_ends_if_held() {
        let mut b = node(2);
        login(&mut b, 0, "alice");
        login(&mut b, 1, "bob");
        let (now, mut out) = (b.now, Outbox::default());
        b.chat.name_lost("alice", now, &mut out);
        let (claim, new) = out
            .items
            .iter()
            .find_map(|o| match o {
                Output::ClaimNick {
                    conn: ConnId(0),
                    claim,
                    nick,
                    ..
                } => Some((*claim, nick.clone())),
                _ => None,
            })
            .expect("a new name claimed");
        assert!(
            new.starts_with("alice-") && new.chars().count() == 10,
            "{new}"
        );
        // Taken (by chance): another is tried.
        let mut out = Outbox::default();
        let taken = ClaimAnswer::Taken {
            holder: new.clone(),
        };
        assert!(!b
            .chat
            .nick_claim_answered(ConnId(0), claim, taken, now, &mut out));
        let claim = out.items.iter().find_map(|o| match o {
            Output::ClaimNick { claim, .. } => Some(*claim),
            _ => None,
        });
        let mut out = Outbox::default();
        let granted = ClaimAnswer::Granted;
        assert!(b.chat.nick_claim_answered(
            ConnId(0),
            claim.expect("tried again"),
            granted,
            now,
            &mut out
        ));
        b.chat.check_invariants().unwrap();
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::ToConn {
                conn: ConnId(0),
                event: Event::Info(Info::NickCollided { old, .. })
            } if &**old == "alice"
        )));
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::Publish(Event::Renamed { old, .. }) if &**old == "alice"
        )));
        // A session held for a reconnect has nobody to tell: it ends.
        b.disconnect(1);
        let mut out = Outbox::default();
        b.chat.name_lost("bob", now, &mut out);
        b.chat.check_invariants().unwrap();
        assert!(out.items.iter().any(|o| matches!(
            o,
            Output::Publish(Event::Left { nick, .. }) if &**nick == "bob"
        )));
    }

    #[test]
    fn a_lock_from_elsewhere_holds_though_a_topic_was_set_here_after_it() {
        let mut b = node(2);
        login(&mut b, 0, "bob"); // an operator (the first user)
        login(&mut b, 1, "carol");
        // carol sets the topic here before the lock made elsewhere a moment earlier arrives.
        b.advance(1);
        b.line(1, "/topic mine");
        assert!(shared(&b).is_empty(), "a topic travels as its room's event");
        let now = b.now;
        let lock = kept::Kept::Topic(kept::KeptTopic {
            room: "lobby".into(),
            name: "lobby".into(),
            topic: None,
            locked: true,
            changed: now.wall - 1_000,
        });
        b.chat.shared_from_elsewhere(vec![lock], now, &mut b.out);
        b.line(1, "/topic mine again");
        assert!(matches!(
            refusal_of(&b.out.items),
            Some(Refusal::TopicLocked { .. })
        ));
        // The room keeps its newer topic.
        b.line(1, "/topic");
        assert!(b.delivered_to(1).iter().any(|e| matches!(
            e,
            Event::Info(Info::Topic { topic: Some((t, _)), .. }) if &**t == "mine"
        )));
    }

    #[test]
    fn what_happens_here_is_published_once_and_what_is_for_one_user_never() {
        let mut a = node(1);
        login(&mut a, 0, "alice");
        assert!(matches!(&published(&a)[..], [Event::Joined { nick, .. }] if &**nick == "alice"));
        a.line(0, "hello");
        assert!(matches!(&published(&a)[..], [e] if is_message(e, "hello")));
        login(&mut a, 1, "bob");
        a.line(0, "/msg bob psst");
        assert!(published(&a).is_empty(), "{:?}", a.out.items);
        // Without --cluster nothing is published.
        let mut lone = Harness::new();
        lone.login(0, "carol");
        lone.line(0, "hi");
        assert!(published(&lone).is_empty());
    }

    #[test]
    fn a_remote_event_reaches_local_members_and_is_neither_stored_nor_published() {
        let (mut a, mut b) = (
            node(1),
            Harness::with(ChatSettings {
                cluster: true,
                node_id: 2,
                history_enabled: true,
                ..settings()
            }),
        );
        login(&mut b, 0, "bob");
        login(&mut a, 0, "alice");
        relay(&a, 1, &mut b);
        assert!(b
            .delivered_to(0)
            .iter()
            .any(|e| matches!(e, Event::Joined { nick, .. } if &**nick == "alice")));
        a.line(0, "hello from a");
        relay(&a, 1, &mut b);
        assert!(b
            .delivered_to(0)
            .iter()
            .any(|e| is_message(e, "hello from a")));
        assert!(
            !b.out
                .items
                .iter()
                .any(|o| matches!(o, Output::Store(_) | Output::Publish(_))),
            "{:?}",
            b.out.items
        );
        assert_eq!(users(&mut b, 0), ["alice", "bob"]);
    }

    #[test]
    fn remote_members_follow_joins_departures_renames_and_the_listing() {
        let (mut a, mut b) = (node(1), node(2));
        login(&mut b, 0, "bob");
        // The listing when b opened the lobby: alice and carol on node 1, and bob himself,
        // whose field is b's (skipped).
        b.chat.remote_members(
            "lobby",
            [
                (Arc::from("alice"), 1),
                (Arc::from("carol"), 1),
                (Arc::from("bob"), 2),
            ],
            2,
        );
        assert_eq!(users(&mut b, 0), ["alice", "bob", "carol"]);
        login(&mut a, 0, "alice");
        a.line(0, "/nick alicia");
        answer(&mut a, 0, ClaimAnswer::Granted);
        relay(&a, 1, &mut b);
        assert_eq!(users(&mut b, 0), ["alicia", "bob", "carol"]);
        a.line(0, "/quit");
        relay(&a, 1, &mut b);
        assert_eq!(users(&mut b, 0), ["bob", "carol"]);
        // `/rooms` counts them too, with the rooms of other nodes the link lists.
        b.line(0, "/rooms");
        assert_eq!(
            b.out.items,
            [Output::ListRoomsElsewhere { conn: ConnId(0) }]
        );
        let elsewhere = vec![(Arc::from("den"), 3), (Arc::from("LOBBY"), 9)];
        let mut out = Outbox::default();
        b.chat.rooms_listed(ConnId(0), elsewhere, &mut out);
        let listed = out.items.iter().find_map(|o| match o {
            Output::ToConn {
                event: Event::Info(Info::Rooms { rooms }),
                ..
            } => Some(rooms.clone()),
            _ => None,
        });
        // The lobby is open here: its own count (bob and carol), not the listing's.
        assert_eq!(
            listed,
            Some(vec![(Arc::from("den"), 3), (Arc::from("lobby"), 2)])
        );
    }

    #[test]
    fn a_topic_set_on_another_node_is_the_rooms() {
        let (mut a, mut b) = (node(1), node(2));
        login(&mut a, 0, "alice");
        login(&mut b, 0, "bob");
        a.line(0, "/topic cluster day");
        relay(&a, 1, &mut b);
        b.line(0, "/topic");
        assert!(b.delivered_to(0).iter().any(|e| matches!(
            e,
            Event::Info(Info::Topic { topic: Some((t, by)), .. }) if &**t == "cluster day" && &**by == "alice"
        )));
    }

    #[test]
    fn events_of_rooms_nobody_here_is_in_are_dropped() {
        let (mut a, mut b) = (node(1), node(2));
        login(&mut a, 0, "alice");
        a.line(0, "/join games");
        a.line(0, "only games");
        login(&mut b, 0, "bob");
        relay(&a, 1, &mut b);
        assert!(b.out.items.is_empty(), "{:?}", b.out.items);
        assert!(b.chat.rooms.find("games").is_none());
    }

    #[test]
    fn rooms_opening_and_closing_are_told_in_order_in_a_cluster_only() {
        let mut a = node(1);
        login(&mut a, 0, "alice");
        a.line(0, "/join games");
        a.line(0, "/join lobby");
        let mut changes = Vec::new();
        a.chat.take_room_changes(&mut changes);
        let seen: Vec<(String, bool)> = changes
            .iter()
            .map(|c| (c.room.to_string(), c.open))
            .collect();
        assert_eq!(
            seen,
            [
                ("lobby".to_string(), true),
                ("games".to_string(), true),
                ("lobby".to_string(), false),
                ("lobby".to_string(), true),
                ("games".to_string(), false),
            ]
        );
        changes.clear();
        a.chat.take_room_changes(&mut changes);
        assert!(changes.is_empty());
        let mut lone = Harness::new();
        lone.login(0, "bob");
        lone.chat.take_room_changes(&mut changes);
        assert!(changes.is_empty());
    }

    #[test]
    fn remote_arrivals_in_a_big_room_are_summarised_like_local_ones() {
        let settings = |id| ChatSettings {
            cluster: true,
            node_id: id,
            presence_max_room: 2,
            presence_every: Duration::from_secs(5),
            ..settings()
        };
        let (mut a, mut b) = (Harness::with(settings(1)), Harness::with(settings(2)));
        login(&mut b, 0, "bob");
        login(&mut b, 1, "bea");
        for (conn, nick) in ["ann", "amy", "abe"].into_iter().enumerate() {
            login(&mut a, conn, nick);
            relay(&a, 1, &mut b);
        }
        // The room is past --presence-max-room: no line each, one summary when it is due.
        assert!(!b
            .delivered_to(0)
            .iter()
            .any(|e| matches!(e, Event::Joined { .. })));
        b.advance(5);
        assert!(b
            .delivered_to(0)
            .iter()
            .any(|e| matches!(e, Event::Presence(_))));
        assert!(!b.out.items.iter().any(|o| matches!(o, Output::Publish(_))));
    }

    #[test]
    fn everyone_is_told_once_when_the_link_goes_and_comes_back() {
        let mut b = node(2);
        login(&mut b, 0, "bob");
        login(&mut b, 1, "bea");
        b.out.clear();
        b.chat.cluster_link_changed(false, &mut b.out);
        for conn in [0, 1] {
            assert_eq!(
                b.delivered_to(conn),
                [Event::Info(Info::ClusterLink { up: false })]
            );
        }
    }

    #[test]
    fn a_name_another_node_holds_is_refused_at_login_and_rename() {
        let mut a = node(1);
        a.connect(0, ip(1));
        a.line(0, "Alice");
        assert!(!answer(
            &mut a,
            0,
            ClaimAnswer::Taken {
                holder: Arc::from("alice")
            }
        ));
        assert_eq!(
            refusal_of(&a.out.items),
            Some(Refusal::NickTaken {
                nick: Arc::from("Alice"),
                lookalike: false
            })
        );
        // The connection is at the prompt again and may try another name.
        login_again(&mut a, 0, "bob");
        a.line(0, "/nick alice");
        assert!(!answer(
            &mut a,
            0,
            ClaimAnswer::Taken {
                holder: Arc::from("alice")
            }
        ));
        assert!(matches!(
            refusal_of(&a.out.items),
            Some(Refusal::NickTaken { .. })
        ));
        // Only a granted rename releases the old name.
        a.line(0, "/nick robert");
        assert!(answer(&mut a, 0, ClaimAnswer::Granted));
        assert!(a
            .out
            .items
            .contains(&Output::ReleaseNick { key: "bob".into() }));
    }

    fn login_again(h: &mut Harness, conn: usize, nick: &str) {
        h.line(conn, nick);
        answer(h, conn, ClaimAnswer::Granted);
        assert!(h
            .out
            .items
            .contains(&Output::LoggedIn { conn: ConnId(conn) }));
    }

    #[test]
    fn without_the_link_a_login_is_refused_and_may_try_again() {
        let mut a = node(1);
        a.connect(0, ip(1));
        let claimed = a.line(0, "alice");
        // Lines while the claim is out are not a second login.
        assert!(a.line(0, "alice").is_empty());
        a.out.items = claimed;
        answer(&mut a, 0, ClaimAnswer::Unavailable);
        assert_eq!(refusal_of(&a.out.items), Some(Refusal::ClusterDown));
        login_again(&mut a, 0, "alice");
    }

    #[test]
    fn an_answer_for_a_connection_gone_meanwhile_is_let_go() {
        let mut a = node(1);
        a.connect(0, ip(1));
        a.line(0, "alice");
        let claim = a.out.items.iter().find_map(|o| match o {
            Output::ClaimNick { claim, .. } => Some(*claim),
            _ => None,
        });
        a.disconnect(0);
        // A new connection in the same slot, claiming another name.
        a.connect(0, ip(2));
        a.line(0, "bob");
        let (now, mut out) = (a.now, Outbox::default());
        assert!(!a.chat.nick_claim_answered(
            ConnId(0),
            claim.unwrap(),
            ClaimAnswer::Granted,
            now,
            &mut out
        ));
        assert!(out.items.is_empty(), "{:?}", out.items);
        // bob's own answer still logs bob in.
        assert!(answer(&mut a, 0, ClaimAnswer::Granted));
    }

    #[test]
    fn an_ended_session_lets_its_name_go() {
        let mut a = node(1);
        login(&mut a, 0, "alice");
        a.line(0, "/quit");
        assert!(a.out.items.contains(&Output::ReleaseNick {
            key: "alice".into()
        }));
        assert_eq!(a.chat.claimed_keys(), []);
    }
}
