//! The cluster's link to Redis: one non-blocking TCP connection, owned by the reactor thread like
//! every other socket, that carries commands and pub/sub traffic in RESP3.
//!
//! The layers are separate so each can be tested on its own: [`url`] reads where Redis is and how
//! to log in; [`session`] is the protocol with no socket (the handshake, commands matched to
//! their replies, pushes told apart from replies), fed bytes and tested at every split of a
//! recorded stream; [`link`] puts a session on a `mio` socket: connecting without blocking,
//! reading and writing until `WouldBlock`, reconnecting with back-off, bounding what waits to be
//! written. [`blocking`] runs a few commands on a plain blocking socket, for what a node does
//! once before its reactor starts.
//!
//! RESP3 itself (frames, their encoding and decoding) is `redis-protocol`'s; nothing here
//! parses RESP by hand.

pub mod blocking;
pub mod link;
pub mod session;
pub mod url;

#[cfg(test)]
mod test_server;

use std::time::Instant;

use bytes::Bytes;
use redis_protocol::resp3::types::BytesFrame;

pub use link::{Link, LinkLimits, LinkStats, SendError};
pub use session::{encode_command, Session};
pub use url::RedisUrl;

/// What the link reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// The handshake succeeded: commands may be sent.
    Up,
    /// The connection was lost or refused; the link retries at `retry_at`. Commands not yet
    /// answered are lost with it.
    Down { error: String, retry_at: Instant },
    /// The reply to the command queued with `tag`. An error reply is a frame too
    /// (`SimpleError`, `BlobError`).
    Reply { tag: u64, reply: BytesFrame },
    /// A pub/sub message on a channel: a `message`, `smessage` or `pmessage` push (for a pattern,
    /// the channel it was published on).
    Message { channel: Bytes, payload: Bytes },
    /// Any other push: subscribe and unsubscribe confirmations, the `sunsubscribe` a cluster
    /// sends when a slot moves, client-tracking invalidations.
    Push(BytesFrame),
}
