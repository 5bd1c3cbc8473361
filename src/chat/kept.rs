//! What the chat core keeps across a restart, as plain data: bans, room topics (with their
//! locks) and operator grants. The core says what changed with [`Output::Keep`](super::Output)
//! (the reactor hands it to the storage thread, which writes it in its next transaction) and is
//! given everything kept at start ([`Chat::load_kept`](super::Chat::load_kept)), read from the
//! disk before the storage thread starts.
//!
//! Wall-clock times (Unix milliseconds) are what is kept: an `Instant` means nothing to the next
//! process. A grant keeps a hash of its session's resume key, never the key: what the database
//! holds does not let anyone resume as an operator.

use std::net::IpAddr;
use std::sync::Arc;

use sha1::{Digest, Sha1};

use super::UnixMillis;

/// A ban as kept: by name key and by address, until a wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptBan {
    pub name_key: String,
    pub ip: IpAddr,
    pub until: UnixMillis,
    /// The operator who banned, and why.
    pub by: Arc<str>,
    pub reason: Option<Arc<str>>,
}

/// A room's topic and lock as kept (by the room's key; `name` is its spelling when set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptTopic {
    pub room: String,
    pub name: Arc<str>,
    /// The topic and who set it; `None` for a room that is only locked.
    pub topic: Option<(Arc<str>, Arc<str>)>,
    pub locked: bool,
    /// When the topic or its lock last changed: the oldest is dropped first.
    pub changed: UnixMillis,
}

/// An operator grant: the session named `nick_key` whose resume key hashes to `key_hash` is an
/// operator when it logs in again, as long as the admin key's fingerprint is still `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptGrant {
    pub nick_key: String,
    pub key_hash: String,
    pub fingerprint: String,
    pub granted: UnixMillis,
}

/// One change to what is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Ban(KeptBan),
    /// A topic or lock set (replaces what the room had).
    Topic(KeptTopic),
    /// A closed room's topic dropped past `--max-kept-topics`.
    TopicForgotten {
        room: String,
    },
    Grant(KeptGrant),
    /// The grant of this name key is void (kicked, banned, the admin key changed, dropped past
    /// `--max-op-grants`).
    GrantRevoked {
        nick_key: String,
    },
    /// An operator renamed: the grant follows the name.
    GrantMoved {
        from: String,
        to: String,
    },
}

impl Kept {
    /// What kind of change it is, for the log.
    pub fn kind(&self) -> &'static str {
        match self {
            Kept::Ban(_) => "ban",
            Kept::Topic(_) => "topic",
            Kept::TopicForgotten { .. } => "topic_forgotten",
            Kept::Grant(_) => "grant",
            Kept::GrantRevoked { .. } => "grant_revoked",
            Kept::GrantMoved { .. } => "grant_moved",
        }
    }
}

/// Everything kept, as loaded at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeptState {
    pub bans: Vec<KeptBan>,
    pub topics: Vec<KeptTopic>,
    pub grants: Vec<KeptGrant>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a grant keeps of a resume key. SHA-1 is the hash the server already carries (for the
/// WebSocket handshake); against a random 60-bit key only its preimage resistance matters,
/// which still stands.
pub fn resume_key_hash(resume_key: &str) -> String {
    let mut h = Sha1::new();
    h.update(b"reactor-chat resume key\0");
    h.update(resume_key.as_bytes());
    hex(&h.finalize())
}

/// What grants remember of how operators were made: a short fingerprint of the admin key (32
/// bits: enough to notice that the key changed, too few to test guesses of a weak key against
/// the database), or `first-user-op` without a key.
pub fn fingerprint(admin_key: Option<&str>) -> String {
    match admin_key {
        None => "first-user-op".to_string(),
        Some(key) => {
            let mut h = Sha1::new();
            h.update(b"reactor-chat admin key\0");
            h.update(key.as_bytes());
            format!("key:{}", hex(&h.finalize()[..4]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_differ_by_key_and_never_hold_it() {
        let a = resume_key_hash("ABCDEFGHJKMN");
        assert_eq!(a.len(), 40);
        assert_ne!(a, resume_key_hash("ABCDEFGHJKMP"));
        assert!(!a.contains("ABCDEFGHJKMN"));
        assert_eq!(fingerprint(None), "first-user-op");
        assert_ne!(fingerprint(Some("a")), fingerprint(Some("b")));
        assert_eq!(fingerprint(Some("a")), fingerprint(Some("a")));
        assert_eq!(fingerprint(Some("a")).len(), "key:".len() + 8);
    }
}
