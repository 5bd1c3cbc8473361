//! Wire formats: each turns the chat core's events into the bytes of one protocol, beside the
//! others. [`line`] is the line protocol that telnet, nc, the line client and (inside WebSocket
//! text frames) the browser speak.

pub mod line;
