//! Running reactor-chat as several nodes that share their rooms through Redis. Each node's
//! reactor owns its socket to Redis like any other socket.

pub mod redis;
