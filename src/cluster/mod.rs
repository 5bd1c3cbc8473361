//! Running reactor-chat as several nodes that share their rooms through Redis. Each node's
//! reactor owns its socket to Redis like any other socket.
//!
//! [`redis`] is the link (the URL, the RESP3 session, the socket on the reactor); [`claim`] takes
//! the node's id at start; [`node`] is what the node keeps in Redis and makes of what Redis
//! sends: room events, rooms' members, nickname claims, the heartbeat.

pub mod claim;
pub mod node;
pub mod redis;
