//! Every node's rooms, for `/rooms`. Each node keeps the set `rc:{nodes}:rooms:N` of the rooms
//! it has members in: added to as rooms open here, taken from as they close, written again
//! whole when the link comes up, and kept alive with the heartbeat, so that a node that dies
//! takes its rooms with it within `--cluster-timeout`. `/rooms` reads the sets of the live
//! nodes, then counts the members (`HLEN` of `rc:{ROOM}:members`) of the rooms not open here;
//! a room open here has its count already.

use std::collections::BTreeMap;
use std::sync::Arc;

use redis_protocol::resp3::types::{BytesFrame, Resp3Frame};

use super::{Node, Pending, RoomKeys, ToChat, IGNORED};
use crate::chat::room_key;
use crate::chat::ConnId;

/// The set of node `node`'s rooms.
pub(super) fn rooms_key(node: u16) -> String {
    format!("rc:{{nodes}}:rooms:{node}")
}

/// A `/rooms` being read from Redis.
#[derive(Debug)]
pub(super) struct Listing {
    conn: ConnId,
    /// Replies still awaited in the current phase.
    left: usize,
    /// The rooms found, by room key, with their names and counts.
    rooms: BTreeMap<String, (Arc<str>, usize)>,
    /// Counting: the sets are read.
    counting: bool,
}

impl Node {
    /// Records that a room opened (`open`) or closed here.
    pub(super) fn room_listed(&mut self, room: &str, open: bool) {
        let key = rooms_key(self.id);
        let command: &[u8] = if open { b"SADD" } else { b"SREM" };
        let _ = self
            .link
            .send_control(&[command, key.as_bytes(), room.as_bytes()], IGNORED);
    }

    /// After the link came up: this node's set is written again, whole.
    pub(super) fn relist_rooms(&mut self, rooms: &[Arc<str>]) {
        let key = rooms_key(self.id);
        let _ = self.link.send_control(&[b"DEL", key.as_bytes()], IGNORED);
        for room in rooms {
            self.room_listed(room, true);
        }
        self.keep_rooms_alive();
    }

    /// With the heartbeat: the set lives as long as the node's claim.
    pub(super) fn keep_rooms_alive(&mut self) {
        let key = rooms_key(self.id);
        let ttl = self.timeout.as_millis().to_string();
        let _ = self
            .link
            .send_control(&[b"PEXPIRE", key.as_bytes(), ttl.as_bytes()], IGNORED);
    }

    /// `/rooms` from `conn`: the live nodes' sets are read. Answered at once, with no room
    /// from elsewhere, when the link is down or no other node is live.
    pub fn list_rooms(&mut self, conn: ConnId) {
        let nodes: Vec<u16> = self.live.iter().copied().collect();
        if !self.link.is_up() || nodes.is_empty() {
            self.answered.push(ToChat::RoomsListed {
                conn,
                rooms: Vec::new(),
            });
            return;
        }
        self.next_listing += 1;
        let listing = self.next_listing;
        let mut sent = 0;
        for node in nodes {
            let key = rooms_key(node);
            let tag = self.tag(Pending::RoomsOf { listing });
            if self.link.send(&[b"SMEMBERS", key.as_bytes()], tag).is_ok() {
                sent += 1;
            } else {
                self.pending.remove(&tag);
            }
        }
        let state = Listing {
            conn,
            left: sent,
            rooms: BTreeMap::new(),
            counting: false,
        };
        self.listings.insert(listing, state);
        if sent == 0 {
            let mut answer = Vec::new();
            self.listing_step(listing, &mut answer);
            self.answered.append(&mut answer);
        }
    }

    /// A node's set of rooms, for the listing `listing`.
    pub(super) fn rooms_of_replied(
        &mut self,
        listing: u64,
        reply: &BytesFrame,
        to_chat: &mut Vec<ToChat>,
    ) {
        let local: Vec<String> = self.rooms.keys().cloned().collect();
        let Some(state) = self.listings.get_mut(&listing) else {
            return;
        };
        state.left = state.left.saturating_sub(1);
        let names = match reply {
            BytesFrame::Set { data, .. } => data.iter().collect::<Vec<_>>(),
            BytesFrame::Array { data, .. } => data.iter().collect(),
            _ => Vec::new(),
        };
        for name in names.into_iter().filter_map(|f| f.as_str()) {
            let key = room_key(name);
            if !local.contains(&key) {
                state.rooms.entry(key).or_insert((Arc::from(name), 0));
            }
        }
        if state.left == 0 {
            self.listing_step(listing, to_chat);
        }
    }

    /// A room's count of members, for the listing `listing`.
    pub(super) fn room_count_replied(
        &mut self,
        listing: u64,
        room: &str,
        reply: &BytesFrame,
        to_chat: &mut Vec<ToChat>,
    ) {
        let Some(state) = self.listings.get_mut(&listing) else {
            return;
        };
        state.left = state.left.saturating_sub(1);
        if let (Some(entry), BytesFrame::Number { data, .. }) = (state.rooms.get_mut(room), reply) {
            entry.1 = usize::try_from(*data).unwrap_or(0);
        }
        if state.left == 0 {
            self.listing_step(listing, to_chat);
        }
    }

    /// The sets are read: the rooms found are counted; the counts are in: the chat core is
    /// answered.
    fn listing_step(&mut self, listing: u64, to_chat: &mut Vec<ToChat>) {
        let Some(mut state) = self.listings.remove(&listing) else {
            return;
        };
        if !state.counting && !state.rooms.is_empty() {
            state.counting = true;
            let keys: Vec<(String, Arc<str>)> = state
                .rooms
                .iter()
                .map(|(key, (name, _))| (key.clone(), name.clone()))
                .collect();
            for (key, name) in keys {
                let members = RoomKeys::of(&name).members;
                let tag = self.tag(Pending::RoomCount { listing, room: key });
                if self.link.send(&[b"HLEN", &members], tag).is_ok() {
                    state.left += 1;
                } else {
                    self.pending.remove(&tag);
                }
            }
            if state.left > 0 {
                self.listings.insert(listing, state);
                return;
            }
        }
        // Rooms whose last members left meanwhile are not listed.
        let rooms = state
            .rooms
            .into_values()
            .filter(|(_, count)| *count > 0)
            .collect();
        to_chat.push(ToChat::RoomsListed {
            conn: state.conn,
            rooms,
        });
    }

    /// The link went down: listings under way are answered with what they found.
    pub(super) fn listings_lost(&mut self, to_chat: &mut Vec<ToChat>) {
        for (_, state) in self.listings.drain() {
            to_chat.push(ToChat::RoomsListed {
                conn: state.conn,
                rooms: Vec::new(),
            });
        }
    }
}
