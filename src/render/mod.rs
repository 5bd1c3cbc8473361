//! Wire formats: each turns the chat core's events into the bytes of one protocol, beside the
//! others, from the same sentences.
//!
//! - [`texts`]: every sentence in every language, as data, with no protocol framing. A wire
//!   format chooses which sentence an event says; the table says it in the user's language.
//! - [`line`](mod@line): the line protocol that telnet, nc, the line client and (inside
//!   WebSocket text frames) the browser speak.
//! - [`irc`]: IRC, a sibling of `line`: room events as IRC commands, replies as numerics, and
//!   the same texts as notices where IRC has nothing of its own.
//! - [`cluster`]: what a node publishes for the cluster's other nodes (room events as the
//!   history's records, in postcard).
//! - [`stamp`] and [`human`]: times, durations and sizes as people read them, shared by all.

pub mod cluster;
pub mod human;
pub mod irc;
pub mod line;
pub mod stamp;
pub mod texts;
