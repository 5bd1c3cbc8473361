//! What the chat core answers: outputs for the reactor to carry out, appended to an outbox the
//! caller owns and reuses.

use std::sync::Arc;

use super::cluster::RemoteKick;
use super::event::{Bye, Event, HistoryQuery};
use super::kept::Kept;
use super::ConnId;
use crate::codec::file::Keep;

/// One thing for the reactor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver `event` to one connection.
    ToConn { conn: ConnId, event: Event },
    /// Deliver `event` to the connections `recipients[start..end]` of the outbox: render it once,
    /// share the bytes.
    ToMany {
        start: usize,
        end: usize,
        event: Event,
    },
    /// The connection completed login: it gets the logged-in line limit.
    LoggedIn { conn: ConnId },
    /// Close the connection after what is queued (and the goodbye, if any) is written.
    Close { conn: ConnId, bye: Option<Bye> },
    /// The next `size` bytes from the connection are a file upload, not lines: collect them and
    /// hand them to `Chat::file_received`, or (when refused) read and drop them.
    ReceiveFile { conn: ConnId, size: u64, keep: Keep },
    /// Keep this room event in the history (only emitted when history is on).
    Store(Event),
    /// Send this room event, which happened on this node, to the cluster's other nodes (only
    /// emitted in a cluster): it is what `Store` stores, whether or not history is on.
    Publish(Event),
    /// Keep this change to the bans, topics or operators across a restart (emitted whether or
    /// not history is on; dropped when nothing is kept on disk).
    Keep(Kept),
    /// Tell the cluster's other nodes of this change to the bans, topics or operators, made
    /// here (only emitted in a cluster, beside its `Keep`): every node keeps out the same users,
    /// shows the same topics and locks and knows the same operators.
    Share(Kept),
    /// Claim a nickname for the cluster (by its collision key) before a login or rename goes
    /// on; the answer comes back through `Chat::nick_claim_answered` with `claim`. `resume`:
    /// the hash of the resume key a login gave, with which the node holding the name may let
    /// its session go to this one.
    ClaimNick {
        conn: ConnId,
        claim: u64,
        key: String,
        nick: Arc<str>,
        resume: Option<String>,
    },
    /// This node no longer uses the nickname with this collision key: its claim is let go.
    ReleaseNick { key: String },
    /// A whisper (`event`) from `conn` to a user this node does not have: the cluster link
    /// sends it to the node that holds the name with collision key `key`, and says through
    /// `Chat::whisper_routed` whether there was one.
    WhisperElsewhere {
        conn: ConnId,
        key: String,
        event: Event,
    },
    /// An operator's `/kick` or `/ban` from `conn` of a user this node does not have: the
    /// cluster link sends it to the node that holds the name with collision key `key`, and says
    /// through `Chat::kick_routed` whether there was one.
    KickElsewhere {
        conn: ConnId,
        key: String,
        kick: RemoteKick,
    },
    /// `/whois` from `conn` (the user `asker`) of a user this node does not have: the cluster
    /// link asks the node holding the name with collision key `key`, and says through
    /// `Chat::whois_routed` whether there was one.
    WhoisElsewhere {
        conn: ConnId,
        key: String,
        asker: Arc<str>,
        target: Arc<str>,
    },
    /// Show `event` (an answer: a `/whois`, a whisper's target away or reconnecting, what
    /// became of an invitation) to the user named `to` of cluster node `node`.
    ReplyElsewhere {
        node: u16,
        to: Arc<str>,
        event: Event,
    },
    /// `/invite` from `conn` (the user `from`) of a user this node does not have: the cluster
    /// link sends it to the node holding the name with collision key `key`, and says through
    /// `Chat::invite_routed` whether there was one.
    InviteElsewhere {
        conn: ConnId,
        key: String,
        from: Arc<str>,
        target: Arc<str>,
        room: Arc<str>,
    },
    /// Show `event` (a room event) to the user named `to` of cluster node `node`.
    TellElsewhere {
        node: u16,
        to: Arc<str>,
        event: Event,
    },
    /// `/rooms` from `conn` in a cluster: the link reads the rooms the other nodes have
    /// members in, and hands them to `Chat::rooms_listed`.
    ListRoomsElsewhere { conn: ConnId },
    /// Ask the history for lines; the answer comes back through `Chat::history_answer`.
    Query { conn: ConnId, query: HistoryQuery },
}

/// Where the core puts its outputs; owned by the caller and reused, so steady-state chat allocates
/// no vectors.
#[derive(Debug, Default)]
pub struct Outbox {
    pub items: Vec<Output>,
    pub recipients: Vec<ConnId>,
}

impl Outbox {
    pub fn clear(&mut self) {
        self.items.clear();
        self.recipients.clear();
    }

    /// Delivers `event` to one connection.
    pub fn send(&mut self, conn: ConnId, event: Event) {
        self.items.push(Output::ToConn { conn, event });
    }

    /// Keeps a change across a restart and, when `share` (in a cluster, for a change made
    /// here), tells the other nodes of it.
    pub fn keep(&mut self, change: Kept, share: bool) {
        if share {
            self.items.push(Output::Share(change.clone()));
        }
        self.items.push(Output::Keep(change));
    }
}
