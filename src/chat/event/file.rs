//! What the chat core says about shared files.

use std::sync::Arc;

use bytes::Bytes;

use super::UnixMillis;

/// One entry of `/files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub id: u64,
    pub from: Arc<str>,
    pub name: Arc<str>,
    pub size: u64,
    pub secs_left: u64,
}

/// What the chat core says about shared files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNotice {
    /// To the room: `from` offers a file (and, with auto-accept, is sending it to everyone).
    Offered {
        at: UnixMillis,
        room: Arc<str>,
        from: Arc<str>,
        id: u64,
        name: Arc<str>,
        size: u64,
        pushed: bool,
        /// The offer's download key, for the link the offer line carries.
        key: Arc<str>,
    },
    /// The file itself: a header line, then exactly `payload.len()` raw bytes. The payload is
    /// the one shared buffer every recipient's queue points at.
    Data {
        id: u64,
        from: Arc<str>,
        name: Arc<str>,
        payload: Bytes,
    },
    /// To the sender: the upload arrived and is offered.
    OfferUp {
        id: u64,
        name: Arc<str>,
        size: u64,
        room: Arc<str>,
        ttl_secs: u64,
    },
    /// To the sender: `by` said no thanks.
    DeclinedBy {
        id: u64,
        name: Arc<str>,
        by: Arc<str>,
    },
    /// To a user who declined.
    Declined { id: u64 },
    /// To the sender: the offer's lifetime ended.
    Expired { id: u64, name: Arc<str> },
    /// To the sender: the offer was dropped to make room for newer files.
    Evicted { id: u64, name: Arc<str> },
    /// `/files`.
    List { entries: Vec<FileEntry> },
    /// Refused before its bytes are read: over `--max-file` (or the whole store). The declared
    /// bytes are skipped.
    TooLarge { name: Arc<str>, size: u64, max: u64 },
    /// Refused before its bytes are read: `max` uploads are already under way, from the sender's
    /// address (`per_address`, `--max-uploads-per-ip`) or in all (`--max-uploads`). The declared
    /// bytes are skipped.
    UploadsBusy {
        name: Arc<str>,
        max: usize,
        per_address: bool,
    },
    /// `/file` with a size that is not a positive number: nothing is skipped.
    BadSize { size: Arc<str> },
    /// A file name with nothing usable in it; the declared bytes are skipped.
    BadName,
    /// `/accept` or `/decline` of an id that is not open.
    NoSuchFile { id: Arc<str> },
    /// The offer belongs to another room.
    OtherRoom { id: u64, room: Arc<str> },
    /// Too many file bytes are still on their way to this connection.
    Busy { queued: u64 },
    /// Raw bytes (a WebSocket binary message) with no upload under way: ignored.
    UnexpectedBytes { len: u64 },
}
